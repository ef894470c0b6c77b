//! shm windows shown on outputs of two GPUs: one texture per GPU, and nothing left once the
//! window is gone, whether or not the compositor keeps WlSurface handles or renders again.

mod common;

use common::*;
use tandem::{MemoryKind, PathKind};

const SIZE: (i32, i32) = (64, 48);

#[test]
fn shm_window_on_two_gpus_is_released_on_destroy() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (128, 96));
    let mut out1 = server.output(gpu1, (128, 96));
    server.render(&mut out0, &[], 0).expect("empty frame");
    server.render(&mut out1, &[], 0).expect("empty frame");
    let baseline = gl_names(&mut server);

    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1 / 2), RED);
    window
        .pixels()
        .fill((0, SIZE.1 / 2, SIZE.0, SIZE.1 / 2), BLUE);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();

    let pixels0 = server
        .render(&mut out0, &[(&surface, (10, 20))], 0)
        .expect("render gpu0");
    let pixels1 = server
        .render(&mut out1, &[(&surface, (10, 20))], 0)
        .expect("render gpu1");
    for pixels in [&pixels0, &pixels1] {
        assert_eq!(pixel(pixels, 128, 12, 22), rgba(RED), "top half");
        assert_eq!(
            pixel(pixels, 128, 12, 20 + SIZE.1 - 2),
            rgba(BLUE),
            "bottom half"
        );
        assert_eq!(pixel(pixels, 128, 100, 90), [0, 0, 0, 255], "background");
    }

    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered surface");
    let mut paths = texture.paths();
    paths.sort_by_key(|(gpu, _)| gpu.to_string());
    assert_eq!(
        paths,
        vec![(gpu0, PathKind::Native), (gpu1, PathKind::Native)]
    );
    let snapshot = server.state.gpus.ledger().snapshot();
    let window_bytes = (SIZE.0 * SIZE.1 * 4) as u64;
    for gpu in [gpu0, gpu1] {
        let native = snapshot.gpu(gpu).kind(MemoryKind::NativeTexture);
        assert_eq!((native.bytes, native.objects), (window_bytes, 1), "{gpu}");
    }
    let id = smithay_id(&surface);
    assert_eq!(snapshot.surface(&id).bytes(), 2 * window_bytes);
    for gpu in [gpu0, gpu1] {
        assert_eq!(snapshot.surface_on(&id, gpu).bytes(), window_bytes, "{gpu}");
    }
    assert_eq!(snapshot.clients.len(), 1);
    assert!(gl_names(&mut server)
        .iter()
        .zip(&baseline)
        .all(|(now, base)| now.1 == base.1 + 1));

    window.destroy();
    roundtrip(&mut server, &mut client);
    server
        .render(&mut out0, &[], 0)
        .expect("frame after destroy");
    server
        .render(&mut out1, &[], 0)
        .expect("frame after destroy");
    assert_released(&mut server, &baseline);
}

#[test]
fn retained_handles_after_disconnect_hold_nothing() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (64, 64));
    let mut out1 = server.output(gpu1, (64, 64));
    server.render(&mut out0, &[], 0).expect("empty frame");
    server.render(&mut out1, &[], 0).expect("empty frame");
    let baseline = gl_names(&mut server);

    let mut windows: Vec<Window> = (0..3).map(|_| client.shm_window(SIZE)).collect();
    for window in &mut windows {
        window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
        window.commit(None);
    }
    roundtrip(&mut server, &mut client);
    let surfaces = server.state.surfaces.clone();
    for surface in &surfaces {
        server
            .render(&mut out0, &[(surface, (0, 0))], 0)
            .expect("render");
        let pixels = server
            .render(&mut out1, &[(surface, (0, 0))], 0)
            .expect("render");
        assert_eq!(pixel(&pixels, 64, 5, 5), rgba(GREEN));
    }
    assert_eq!(server.state.gpus.ledger().snapshot().total.objects(), 6);

    // The client goes away without destroying anything; the compositor keeps its handles.
    drop(windows);
    drop(client);
    server.dispatch();
    assert!(surfaces
        .iter()
        .all(|s| !smithay::reexports::wayland_server::Resource::is_alive(s)));
    assert_eq!(server.state.surfaces.len(), 3, "handles are retained");
    assert_released(&mut server, &baseline);
}

#[test]
fn destroyed_window_is_freed_by_cleanup_without_a_frame() {
    let (mut server, mut client) = setup(2);
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, (64, 64));
    server.render(&mut out, &[], 0).expect("empty frame");
    let baseline = gl_names(&mut server);

    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), WHITE);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_ne!(gl_names(&mut server), baseline);

    window.destroy();
    roundtrip(&mut server, &mut client);
    // No frame is rendered from here on: cleanup alone must free the texture.
    let touched = server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(
        touched,
        vec![gpu1],
        "only the GPU that held the texture is touched"
    );
    assert_released(&mut server, &baseline);
}

fn smithay_id(
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
) -> smithay::reexports::wayland_server::backend::ObjectId {
    smithay::reexports::wayland_server::Resource::id(surface)
}

#[test]
fn removing_a_gpu_releases_what_it_held_and_adding_one_works() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (64, 64));
    let mut out1 = server.output(gpu1, (64, 64));
    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("render");
    server
        .render(&mut out1, &[(&surface, (0, 0))], 0)
        .expect("render");
    drop(out1);

    server.state.gpus.remove_gpu(gpu1).expect("remove");
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(snapshot.gpu(gpu1).objects(), 0, "{snapshot}");
    assert_eq!(snapshot.gpu(gpu0).objects(), 1, "{snapshot}");
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    assert_eq!(texture.paths(), vec![(gpu0, PathKind::Native)]);
    assert_eq!(server.state.gpus.gpu_ids(), vec![gpu0]);
    let pixels = server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("gpu0 still draws");
    assert_eq!(pixel(&pixels, 64, 4, 4), rgba(GREEN));

    let added = server
        .state
        .gpus
        .add_software_gpu(Default::default())
        .expect("add");
    assert_ne!(added, gpu1, "a new GPU gets a new identity");
    let mut out2 = server.output(added, (64, 64));
    // A new commit reaches the new GPU like any other.
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let pixels = server
        .render(&mut out2, &[(&surface, (0, 0))], 0)
        .expect("new gpu draws");
    assert_eq!(pixel(&pixels, 64, 4, 4), rgba(GREEN));
    window.destroy();
    roundtrip(&mut server, &mut client);
    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(server.state.gpus.ledger().snapshot().total.objects(), 0);
}

/// An shm buffer whose rows are padded is repacked for the upload: only the damaged rows after
/// the first commit, and the pixels come out right.
#[test]
fn a_padded_shm_buffer_repacks_only_its_damaged_rows() {
    let (mut server, mut client) = setup(1);
    let gpu0 = server.gpu(0);
    let mut out = server.output(gpu0, (128, 96));
    let mut window = client.padded_shm_window(SIZE, 64);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_eq!(pixel(&pixels, 128, SIZE.0 - 1, SIZE.1 - 1), rgba(RED));
    let first = server.state.gpus.stats().shm_copied_bytes;
    assert_eq!(
        first,
        SIZE.0 as u64 * 4 * SIZE.1 as u64,
        "the first commit repacks it all"
    );

    window.pixels().fill((8, 10, 16, 16), BLUE);
    window.commit(Some((8, 10, 16, 16)));
    roundtrip(&mut server, &mut client);
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_eq!(
        pixel(&pixels, 128, 10, 12),
        rgba(BLUE),
        "the damaged square"
    );
    assert_eq!(pixel(&pixels, 128, 30, 30), rgba(RED), "the rest");
    let second = server.state.gpus.stats().shm_copied_bytes - first;
    assert_eq!(
        second,
        16 * SIZE.0 as u64 * 4,
        "a 16-row damage repacks 16 rows, not the whole buffer"
    );
}

/// A client over its GPU-memory budget gets no new texture (an error for that import); what it
/// holds stays, the ledger does not move, and another client is served.
#[test]
fn a_client_over_its_budget_is_refused_new_memory_and_others_are_served() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (128, 96));
    let mut out1 = server.output(gpu1, (128, 96));
    let texture_bytes = SIZE.0 as u64 * SIZE.1 as u64 * 4;
    // Room for the window's texture on one GPU, not on both.
    server
        .state
        .gpus
        .set_client_budget(Some(texture_bytes + texture_bytes / 2));
    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("within the budget");
    assert_eq!(pixel(&pixels, 128, 5, 5), rgba(RED));
    let held = server.state.gpus.ledger().snapshot().total.bytes();
    let refused = server.render(&mut out1, &[(&surface, (0, 0))], 0);
    assert!(
        matches!(refused, Err(tandem::TandemError::OverBudget { .. })),
        "over the budget: {refused:?}"
    );
    assert_eq!(server.state.gpus.ledger().snapshot().total.bytes(), held);

    let (mut other, _stream) = {
        let (server_end, client_end) = std::os::unix::net::UnixStream::pair().expect("pair");
        server.insert_client(server_end);
        let mut other = TestClient::new(client_end);
        roundtrip(&mut server, &mut other);
        (other, ())
    };
    let mut small = other.shm_window((8, 8));
    small.pixels().fill((0, 0, 8, 8), GREEN);
    small.commit(None);
    roundtrip(&mut server, &mut other);
    let small_surface = server.state.surfaces[1].clone();
    let pixels = server
        .render(&mut out1, &[(&small_surface, (0, 0))], 0)
        .expect("another client is served");
    assert_eq!(pixel(&pixels, 128, 3, 3), rgba(GREEN));
}

/// Reallocations are counted where memory is made anew: none for a window that keeps its size,
/// one per GPU and resize for one that does not.
#[test]
fn reallocations_are_counted_only_when_a_window_needs_new_memory() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (128, 96));
    let mut out1 = server.output(gpu1, (128, 96));
    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let mut draw = |server: &mut Server| {
        for out in [&mut out0, &mut out1] {
            server.render(out, &[(&surface, (0, 0))], 0).expect("frame");
        }
    };
    draw(&mut server);
    let first = server.state.gpus.stats().reallocations;
    for frame in 0..20 {
        window.pixels().fill((frame, 0, 4, 4), GREEN);
        window.commit(Some((frame, 0, 4, 4)));
        roundtrip(&mut server, &mut client);
        draw(&mut server);
    }
    assert_eq!(
        server.state.gpus.stats().reallocations,
        first,
        "steady frames"
    );
    for grow in 1..=5 {
        let client_ref = &client;
        window.set_buffer(client_ref, (SIZE.0 + grow, SIZE.1));
        window.pixels().fill((0, 0, SIZE.0 + grow, SIZE.1), BLUE);
        window.commit(None);
        roundtrip(&mut server, &mut client);
        draw(&mut server);
    }
    assert_eq!(
        server.state.gpus.stats().reallocations - first,
        10,
        "five resizes on two GPUs"
    );
}
