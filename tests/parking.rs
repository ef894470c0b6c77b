//! Idle GPU parking in the library: a GPU that holds something is not parked; an idle one gives
//! up its context and is woken by the next buffer that needs it, which it then draws.

mod common;

use common::*;
use tandem::Quirks;

const SIZE: (i32, i32) = (96, 64);
const OUT: (i32, i32) = (128, 96);

#[test]
fn a_gpu_is_parked_only_when_it_holds_nothing_and_wakes_for_the_next_buffer_of_its_client() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    // GPU 0 shows GPU 1's buffers through a shadow slot that GPU 1 draws.
    server
        .state
        .gpus
        .gpu(gpu0)
        .expect("gpu0")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    let mut out = server.output(gpu0, OUT);

    let mut window = client.dmabuf_window(SIZE, 1);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_eq!(pixel(&pixels, OUT.0, 5, 5), rgba(RED));
    let refused = server
        .state
        .gpus
        .park(gpu1)
        .expect_err("GPU 1 holds the shadow slot");
    assert!(
        refused.to_string().contains("bytes live on it"),
        "{refused}"
    );

    window.destroy();
    roundtrip(&mut server, &mut client);
    server.render(&mut out, &[], 0).expect("empty frame");
    server.state.gpus.cleanup().expect("cleanup");
    server.state.gpus.park(gpu1).expect("an idle GPU parks");
    assert!(server.state.gpus.is_parked(gpu1));
    assert_eq!(server.state.gpus.gpu_ids(), vec![gpu0]);
    assert_eq!(server.state.gpus.parked_gpu_ids(), vec![gpu1]);

    let mut window = client.dmabuf_window(SIZE, 1);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[1].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_eq!(
        pixel(&pixels, OUT.0, 5, 5),
        rgba(GREEN),
        "drawn by the woken GPU"
    );
    assert!(!server.state.gpus.is_parked(gpu1));
    assert_eq!(
        server.state.gpus.gpu_ids(),
        vec![gpu0, gpu1],
        "a woken GPU takes its old place"
    );
    let stats = server.state.gpus.parking_stats();
    assert_eq!((stats.parks, stats.wakes), (1, 1));
    assert!(server.state.gpus.last_wake(gpu1).is_some());
    let shadow = server.state.gpus.ledger().snapshot().gpu(gpu1).bytes();
    assert!(
        shadow > 0,
        "the woken GPU holds the new window's shadow slot"
    );
}

/// A renderer on one GPU imports a buffer whose GPU is parked: the woken GPU takes its old place
/// in the manager, before the renderer's GPU, and the renderer still draws on its own GPU.
#[test]
fn waking_a_gpu_in_the_middle_of_a_frame_leaves_the_renderer_on_its_own_gpu() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out = server.output(gpu1, OUT);
    server.render(&mut out, &[], 0).expect("empty frame");
    server.state.gpus.cleanup().expect("cleanup");
    server.state.gpus.park(gpu0).expect("an idle GPU parks");
    assert_eq!(server.state.gpus.gpu_ids(), vec![gpu1]);

    let mut window = client.dmabuf_window(SIZE, 0);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    // Checking the new buffer woke GPU 0; it goes back to sleep before the frame.
    server.state.gpus.cleanup().expect("cleanup");
    if !server.state.gpus.is_parked(gpu0) {
        server
            .state
            .gpus
            .park(gpu0)
            .expect("GPU 0 holds nothing yet");
    }
    assert_eq!(server.state.gpus.gpu_ids(), vec![gpu1]);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("render");
    assert_eq!(server.state.gpus.gpu_ids(), vec![gpu0, gpu1], "GPU 0 woke");
    assert_eq!(
        pixel(&pixels, OUT.0, 5, 5),
        rgba(GREEN),
        "GPU 1 draws the window of the woken GPU"
    );
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    let shown_on: Vec<_> = texture.paths().into_iter().map(|(gpu, _)| gpu).collect();
    assert_eq!(shown_on, vec![gpu1], "the texture is on the renderer's GPU");
}
