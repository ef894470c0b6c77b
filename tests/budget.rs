//! The per-client GPU-memory budget holds for everything Tandem allocates for a client: its
//! first buffer and every replacement, on every path (direct import, shadow slot, CPU copy with
//! its staging and its texture).

mod common;

use common::*;
use tandem::{PathKind, Quirks, TandemError};

const OUT: (i32, i32) = (192, 192);

/// Bytes the client's surfaces hold, as the ledger counts them.
fn client_bytes(server: &Server) -> u64 {
    let snapshot = server.state.gpus.ledger().snapshot();
    snapshot.clients.values().map(|usage| usage.bytes()).sum()
}

/// Two GPUs; the client's dmabufs live on GPU 0 and are shown by GPU `shown_on` with the
/// quirks that make them take `path`.
fn server_for(path: PathKind, shown_on: usize) -> (Server, TestClient) {
    let (mut server, client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let (source, target) = match path {
        PathKind::Native => (Quirks::default(), Quirks::default()),
        PathKind::Shadow => (
            Quirks::default(),
            Quirks {
                imports_foreign_dmabufs: false,
                ..Quirks::default()
            },
        ),
        PathKind::CpuCopy => (
            Quirks {
                exports_dmabufs: false,
                ..Quirks::default()
            },
            Quirks {
                imports_foreign_dmabufs: false,
                ..Quirks::default()
            },
        ),
    };
    let gpus = &mut server.state.gpus;
    gpus.gpu(gpu0).expect("gpu0").set_quirks(source);
    if shown_on == 1 {
        gpus.gpu(gpu1).expect("gpu1").set_quirks(target);
    }
    (server, client)
}

#[test]
fn a_larger_buffer_is_held_to_the_budget_on_every_path() {
    const BUDGET: u64 = 64 * 1024;
    let mut problems = Vec::new();
    for (path, shown_on) in [
        (PathKind::Native, 0),
        (PathKind::Native, 1),
        (PathKind::Shadow, 1),
        (PathKind::CpuCopy, 1),
    ] {
        let (mut server, mut client) = server_for(path, shown_on);
        let gpu = server.gpu(shown_on);
        let mut out = server.output(gpu, OUT);
        server.state.gpus.set_client_budget(Some(BUDGET));

        let mut window = client.dmabuf_window((32, 32), 0);
        window.pixels().fill((0, 0, 32, 32), RED);
        window.commit(None);
        roundtrip(&mut server, &mut client);
        let surface = server.state.surfaces[0].clone();
        server
            .render(&mut out, &[(&surface, (0, 0))], 0)
            .expect("a small buffer fits the budget");
        let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
        assert_eq!(
            texture.paths(),
            vec![(gpu, path)],
            "{path:?} on GPU {shown_on}"
        );

        // 160x160x4 = 100 KiB: past the budget however it is moved.
        window.set_buffer(&client, (160, 160));
        window.pixels().fill((0, 0, 160, 160), GREEN);
        window.commit(None);
        roundtrip(&mut server, &mut client);
        let result = server.render(&mut out, &[(&surface, (0, 0))], 0).map(drop);
        let held = client_bytes(&server);
        if held > BUDGET || !matches!(result, Err(TandemError::OverBudget { .. })) {
            problems.push(format!(
                "{path:?} on GPU {shown_on}: the client holds {held} bytes, its budget is \
                 {BUDGET} (render: {result:?})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_cpu_copy_is_budgeted_for_its_staging_and_its_texture() {
    let (mut server, mut client) = server_for(PathKind::CpuCopy, 1);
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, OUT);
    // One 64x64 image is 16 KiB; the copy holds it twice where staging is not sampled in place.
    let image = 64 * 64 * 4;
    let in_place = std::path::Path::new("/dev/udmabuf").exists();
    let needed = if in_place { image } else { 2 * image };
    let budget = needed - 1;
    server.state.gpus.set_client_budget(Some(budget));

    let mut window = client.dmabuf_window((64, 64), 0);
    window.pixels().fill((0, 0, 64, 64), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let result = server.render(&mut out, &[(&surface, (0, 0))], 0).map(drop);
    let held = client_bytes(&server);
    assert!(
        held <= budget,
        "the client holds {held} bytes, its budget is {budget} (render: {result:?})"
    );
    assert!(
        matches!(result, Err(TandemError::OverBudget { .. })),
        "{result:?}"
    );

    server.state.gpus.set_client_budget(Some(needed));
    server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("the copy fits a budget of exactly what it holds");
    assert_eq!(client_bytes(&server), needed);
}
