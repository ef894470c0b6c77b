//! A GPU whose EGL context is lost does not stop cleanup on the others: it is marked lost and
//! never touched by GL again, and the GPUs after it still free what their windows left. A
//! second later the manager opens it again, and it draws.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use smithay::backend::egl::ffi::egl;
use tandem::gpu::ManualClock;

const SIZE: (i32, i32) = (64, 48);
const OUT: (i32, i32) = (128, 96);

#[test]
fn cleanup_goes_on_past_a_gpu_whose_context_is_lost() {
    let (mut server, mut client) = setup(3);
    let clock = Arc::new(ManualClock::new());
    server.state.gpus.set_clock(clock.clone());
    let (gpu0, gpu1, gpu2) = (server.gpu(0), server.gpu(1), server.gpu(2));
    let mut out1 = server.output(gpu1, OUT);
    let mut out2 = server.output(gpu2, OUT);
    server.render(&mut out1, &[], 0).expect("empty frame");
    server.render(&mut out2, &[], 0).expect("empty frame");
    let baseline = server
        .state
        .gpus
        .live_texture_names(gpu2)
        .expect("names on gpu2");

    // A window shown on GPUs 1 and 2, then closed: both have textures to free.
    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    for out in [&mut out1, &mut out2] {
        let pixels = server
            .render(out, &[(&surface, (0, 0))], 0)
            .expect("render");
        assert_eq!(pixel(&pixels, OUT.0, 5, 5), rgba(RED));
    }
    window.destroy();
    roundtrip(&mut server, &mut client);

    // GPU 1's context goes away under it, as on a GPU reset: destroyed while another is current.
    let gpus = &mut server.state.gpus;
    gpus.gpu(gpu0)
        .expect("gpu0")
        .renderer()
        .with_context(|_| ())
        .expect("gpu0 current");
    let context = gpus.gpu(gpu1).expect("gpu1").renderer().egl_context();
    let (display, handle) = (
        context.display().get_display_handle(),
        context.get_context_handle(),
    );
    // SAFETY: both handles are live; the context is not current on any thread.
    let destroyed = unsafe { egl::DestroyContext(display.handle, handle) };
    assert_eq!(destroyed, egl::TRUE, "the context was destroyed");

    gpus.cleanup().expect("cleanup goes on past a lost GPU");
    assert!(
        gpus.gpu(gpu1).expect("gpu1").lost().is_some(),
        "GPU 1 is marked lost"
    );
    assert_eq!(
        gpus.live_texture_names(gpu2).expect("names on gpu2"),
        baseline,
        "GPU 2, after the lost one, freed the closed window's texture"
    );
    gpus.cleanup().expect("a lost GPU is not touched again");
    let Err(refused) = gpus.renderer(gpu1) else {
        panic!("nothing is drawn through a lost GPU");
    };
    assert!(refused.to_string().contains("is lost"), "{refused}");
    let pixels = server.render(&mut out2, &[], 0).expect("GPU 2 still draws");
    assert_eq!(pixel(&pixels, OUT.0, 5, 5), [0, 0, 0, 255]);

    // A second after the loss was seen, the GPU is opened again and draws a new window.
    clock.advance(Duration::from_secs(1));
    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(server.state.gpus.recovered_gpus(), 1);
    assert!(server.state.gpus.gpu(gpu1).expect("gpu1").lost().is_none());
    assert_eq!(
        server.state.gpus.gpu_ids(),
        vec![gpu0, gpu1, gpu2],
        "in its old place"
    );
    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces.last().expect("a surface").clone();
    let pixels = server
        .render(&mut out1, &[(&surface, (0, 0))], 0)
        .expect("the opened-again GPU draws");
    assert_eq!(pixel(&pixels, OUT.0, 5, 5), rgba(GREEN));
}
