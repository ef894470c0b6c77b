//! The end of a frame that read a shared buffer (a sync point: an EGL fence, which holds its EGL
//! display, and on real hardware the GBM device and DRM fd behind it) lives no longer than the
//! window or the GPU it belongs to.
//!
//! Observed from outside Tandem: the strong count of the EGL display that the software GPUs
//! share. smithay hands every EGLDisplay of one device the same handle, so the count is
//! process-wide: the tests of this file run one at a time, in their own test binary.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use smithay::backend::egl::display::EGLDisplayHandle;
use tandem::{PathKind, Quirks};

const SIZE: (i32, i32) = (64, 48);
const OUT: (i32, i32) = (96, 64);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn display_handle(server: &mut Server, gpu: tandem::GpuId) -> Arc<EGLDisplayHandle> {
    server
        .state
        .gpus
        .gpu(gpu)
        .expect("gpu")
        .renderer()
        .egl_context()
        .display()
        .get_display_handle()
}

/// GPU 1 and GPU 2 each drive an output (one empty frame drawn); GPU 1 may not import GPU 0's
/// buffers, so GPU 0's dmabuf windows reach it through shadow slots.
fn three_gpus() -> (Server, TestClient, Vec<Output>) {
    let (mut server, client) = setup(3);
    let gpu1 = server.gpu(1);
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    let mut outputs = Vec::new();
    for index in [1, 2] {
        let gpu = server.gpu(index);
        let mut out = server.output(gpu, OUT);
        server.render(&mut out, &[], 0).expect("empty frame");
        outputs.push(out);
    }
    (server, client, outputs)
}

/// Shows a dmabuf window of GPU 0 on `out` (GPU 1) for a few frames, through a shadow slot.
fn show_shadowed(
    server: &mut Server,
    client: &mut TestClient,
    out: &mut Output,
) -> (
    Window,
    smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
) {
    let mut window = client.dmabuf_window(SIZE, 0);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(server, client);
    let surface = server.state.surfaces.last().expect("surface").clone();
    for frame in 0..3 {
        window.pixels().fill((frame, 0, 1, 1), GREEN);
        window.commit(Some((frame, 0, 1, 1)));
        roundtrip(server, client);
        server.render(out, &[(&surface, (0, 0))], 0).expect("frame");
    }
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    assert_eq!(texture.paths(), vec![(out.render, PathKind::Shadow)]);
    (window, surface)
}

#[test]
fn a_destroyed_window_keeps_no_sync_point_of_the_gpu_that_drew_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (mut server, mut client, mut outputs) = three_gpus();
    let gpu1 = server.gpu(1);
    let display = display_handle(&mut server, gpu1);
    server.state.gpus.cleanup().expect("cleanup");
    let before = Arc::strong_count(&display);

    let (window, _surface) = show_shadowed(&mut server, &mut client, &mut outputs[0]);
    window.destroy();
    roundtrip(&mut server, &mut client);
    server.state.gpus.cleanup().expect("cleanup");
    // The compositor still holds the surface's handle (the fixture keeps every WlSurface).
    assert_eq!(
        Arc::strong_count(&display),
        before,
        "references to GPU 1's EGL display outlive the window it drew"
    );
}

#[test]
fn a_removed_gpu_leaves_no_sync_point_in_the_windows_it_drew() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (mut server, mut client, mut outputs) = three_gpus();
    let (gpu1, gpu2) = (server.gpu(1), server.gpu(2));
    let display = display_handle(&mut server, gpu1);
    server.state.gpus.cleanup().expect("cleanup");
    // What removing a GPU that drew an output but no window takes away from the display.
    let with_gpu2 = Arc::strong_count(&display);
    server.state.gpus.remove_gpu(gpu2).expect("remove GPU 2");
    let before_window = Arc::strong_count(&display);
    let per_gpu = with_gpu2 - before_window;

    let (_window, _surface) = show_shadowed(&mut server, &mut client, &mut outputs[0]);
    server.state.gpus.remove_gpu(gpu1).expect("remove GPU 1");
    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(
        Arc::strong_count(&display),
        before_window - per_gpu,
        "a window that GPU 1 drew still holds references to its EGL display after the GPU \
         was removed (an idle GPU takes {per_gpu} with it)"
    );
}

/// A frame that samples a client's dmabuf in place is known to the buffer's texture until taken
/// (`take_client_buffer_reads`, which a compositor calls when the buffer is replaced, so as to
/// release it once that frame is over); a shadow slot's frames are not (the copy from the client's
/// buffer is over when its import returns); and a destroyed window keeps none of them.
#[test]
fn frames_that_sample_a_client_buffer_in_place_are_known_until_taken() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (mut server, mut client, mut outputs) = three_gpus();
    let gpu2 = server.gpu(2);
    let display = display_handle(&mut server, gpu2);
    server.state.gpus.cleanup().expect("cleanup");
    let before = Arc::strong_count(&display);

    let mut window = client.dmabuf_window(SIZE, 2);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces.last().expect("surface").clone();
    for _ in 0..2 {
        server
            .render(&mut outputs[1], &[(&surface, (0, 0))], 0)
            .expect("frame");
    }
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    assert_eq!(texture.paths(), vec![(gpu2, PathKind::Native)]);
    let reads = texture.take_client_buffer_reads();
    assert_eq!(reads.frames(), 1, "GPU 2's last frame sampled the buffer");
    assert_eq!(
        texture.take_client_buffer_reads().frames(),
        0,
        "taken: nothing left until the next frame"
    );
    drop(reads);
    server
        .render(&mut outputs[1], &[(&surface, (0, 0))], 0)
        .expect("frame");

    let (shadowed_window, shadowed_surface) =
        show_shadowed(&mut server, &mut client, &mut outputs[0]);
    let shadowed = tandem::SurfaceTracker::texture(&shadowed_surface).expect("registered");
    assert_eq!(
        shadowed.take_client_buffer_reads().frames(),
        0,
        "frames that sample a shadow slot do not read the client's buffer"
    );

    window.destroy();
    shadowed_window.destroy();
    roundtrip(&mut server, &mut client);
    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(
        Arc::strong_count(&display),
        before,
        "the end of a frame that sampled a destroyed window's buffer still holds the GPUs' EGL display"
    );
}
