//! A turned (90 degree) output drawn on one GPU for another, with buffer age 1, shows exactly
//! what the same output drawn on its own GPU shows, frame after frame.

mod common;

use common::*;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::utils::Transform;
use tandem::Quirks;

const SIZE: (i32, i32) = (40, 30);
const OUT: (i32, i32) = (96, 64);

#[test]
fn a_rotated_cross_gpu_output_with_buffer_age_matches_a_same_gpu_render() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    let mut reference = server.output(gpu0, OUT);
    let mut cross = server.cross_output(gpu0, gpu1, OUT);
    for out in [&mut reference, &mut cross] {
        out.damage = OutputDamageTracker::new(OUT, 1.0, Transform::_90);
    }

    let mut window = client.shm_window(SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let colours = [GREEN, BLUE, WHITE, GREEN, BLUE, WHITE];
    for (frame, colour) in colours.iter().enumerate() {
        if frame > 0 {
            let x = (frame as i32 * 7) % (SIZE.0 - 6);
            window.pixels().fill((x, 3, 6, 6), *colour);
            window.commit(Some((x, 3, 6, 6)));
            roundtrip(&mut server, &mut client);
        }
        // Age 0 for the first frame (nothing drawn yet), then 1: each buffer holds the last frame.
        let age = usize::from(frame > 0);
        let want = server
            .render(&mut reference, &[(&surface, (4, 6))], age)
            .expect("reference frame");
        let got = server
            .render(&mut cross, &[(&surface, (4, 6))], age)
            .expect("cross-GPU frame");
        let differing = want
            .chunks_exact(4)
            .zip(got.chunks_exact(4))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "frame {frame}: pixels differ from the same-GPU render"
        );
    }
}
