//! Proves that the leak tests bite: with the destruction hook disabled (the test-only switch),
//! the same scenario as the lifecycle tests leaves textures behind and the checks see it.

mod common;

use common::*;
use tandem::MemoryKind;

#[test]
fn disabling_the_destruction_hook_is_detected_as_a_leak() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut out0 = server.output(gpu0, (64, 64));
    let mut out1 = server.output(gpu1, (64, 64));
    server.render(&mut out0, &[], 0).expect("frame");
    server.render(&mut out1, &[], 0).expect("frame");
    let baseline = gl_names(&mut server);
    server
        .state
        .tracker
        .disable_destruction_hook_for_leak_tests();

    let mut window = client.shm_window((32, 32));
    window.pixels().fill((0, 0, 32, 32), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("frame");
    server
        .render(&mut out1, &[(&surface, (0, 0))], 0)
        .expect("frame");
    window.destroy();
    roundtrip(&mut server, &mut client);
    server.render(&mut out0, &[], 0).expect("frame");
    server.state.gpus.cleanup().expect("cleanup");

    // The retained WlSurface handle keeps the surface data, and nothing cleared it.
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(
        snapshot.total.kind(MemoryKind::NativeTexture).objects,
        2,
        "{snapshot}"
    );
    assert_eq!(snapshot.total.bytes(), 2 * 32 * 32 * 4);
    assert_ne!(
        gl_names(&mut server),
        baseline,
        "the GL probe sees the leaked textures too"
    );
    let problems = leftovers(&mut server, &baseline);
    let reported = |prefix: &str| problems.iter().any(|p| p.starts_with(prefix));
    assert!(
        reported("ledger still counts"),
        "the ledger reports the leak: {problems:?}"
    );
    assert!(
        reported("live GL texture names"),
        "the GL probe reports the leak: {problems:?}"
    );

    // Dropping the last handle frees it: the leak is exactly the retained-handle leak.
    server.state.surfaces.clear();
    drop(surface);
    assert_released(&mut server, &baseline);
}

#[test]
fn the_many_windows_scenario_sees_the_leak_without_the_hook() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut outputs = [
        server.output(gpu0, (256, 256)),
        server.output(gpu1, (256, 256)),
    ];
    cycle_windows(&mut server, &mut client, &mut outputs, AT_ONCE);
    let baseline = gl_names(&mut server);
    server
        .state
        .tracker
        .disable_destruction_hook_for_leak_tests();

    cycle_windows(&mut server, &mut client, &mut outputs, 40);
    let problems = leftovers(&mut server, &baseline);
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(
        snapshot.total.kind(MemoryKind::NativeTexture).objects,
        80,
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("live GL texture names")),
        "{problems:?}"
    );
}
