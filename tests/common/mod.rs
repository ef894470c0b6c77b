//! Test fixture: an in-process compositor on software GPUs and wayland-client clients over
//! socket pairs, dispatched deterministically from the test thread.

#![allow(dead_code, unused_imports)]

pub use tandem_test_client as client;
pub mod server;

use std::os::unix::net::UnixStream;

pub use client::{TestClient, Window};
pub use server::{Output, Server};
use tandem::GpuId;

/// ARGB colours the tests paint with, and their RGBA bytes as read back.
pub const RED: u32 = 0xffff_0000;
pub const GREEN: u32 = 0xff00_ff00;
pub const BLUE: u32 = 0xff00_00ff;
pub const WHITE: u32 = 0xffff_ffff;

pub fn rgba(argb: u32) -> [u8; 4] {
    [
        (argb >> 16) as u8,
        (argb >> 8) as u8,
        argb as u8,
        (argb >> 24) as u8,
    ]
}

/// The RGBA pixel at (x, y) of a readback of width `width`.
pub fn pixel(pixels: &[u8], width: i32, x: i32, y: i32) -> [u8; 4] {
    let offset = ((y * width + x) * 4) as usize;
    pixels[offset..offset + 4].try_into().expect("4 bytes")
}

/// A server with `gpus` software GPUs and one connected client, globals bound.
pub fn setup(gpus: usize) -> (Server, TestClient) {
    let mut server = Server::new(gpus);
    let client = connect(&mut server);
    (server, client)
}

/// A new client of `server`, globals bound.
pub fn connect(server: &mut Server) -> TestClient {
    let (client_end, server_end) = UnixStream::pair().expect("socket pair");
    server.insert_client(server_end);
    let mut client = TestClient::new(client_end);
    roundtrip(server, &mut client);
    assert!(
        client.globals.compositor.is_some(),
        "wl_compositor not advertised"
    );
    client
}

/// Lets both sides exchange everything pending.
pub fn roundtrip(server: &mut Server, client: &mut TestClient) {
    for _ in 0..4 {
        client.pump();
        server.dispatch();
    }
    client.pump();
}

/// Live GL texture names on every GPU.
pub fn gl_names(server: &mut Server) -> Vec<(GpuId, u32)> {
    server
        .state
        .gpus
        .gpu_ids()
        .into_iter()
        .map(|gpu| {
            let names = server.state.gpus.live_texture_names(gpu).expect("probe");
            (gpu, names)
        })
        .collect()
}

/// After a cleanup, what the layer still holds compared with an empty ledger and the GL
/// `baseline`: one line per problem, none when everything was released.
pub fn leftovers(server: &mut Server, baseline: &[(GpuId, u32)]) -> Vec<String> {
    server.state.gpus.cleanup().expect("cleanup");
    let snapshot = server.state.gpus.ledger().snapshot();
    let mut problems = Vec::new();
    if snapshot.total.bytes() != 0 || snapshot.total.objects() != 0 {
        problems.push(format!("ledger still counts:\n{snapshot}"));
    }
    if !snapshot.surfaces.is_empty() || !snapshot.clients.is_empty() {
        problems.push("ledger still lists surfaces or clients".into());
    }
    let names = gl_names(server);
    if names != baseline {
        problems.push(format!(
            "live GL texture names {names:?}, baseline {baseline:?}"
        ));
    }
    problems
}

/// Asserts the layer holds nothing: ledger at zero and GL names back to `baseline`.
pub fn assert_released(server: &mut Server, baseline: &[(GpuId, u32)]) {
    let problems = leftovers(server, baseline);
    assert!(
        problems.is_empty(),
        "not released:\n{}",
        problems.join("\n")
    );
}

pub const AT_ONCE: usize = 20;
pub const CYCLE_WINDOW_SIZE: (i32, i32) = (128, 128);

/// Opens `count` windows of 128x128, `AT_ONCE` at a time, shows each on every output (checking
/// its pixels), then closes them; returns the ledger's peak total.
pub fn cycle_windows(
    server: &mut Server,
    client: &mut TestClient,
    outputs: &mut [Output],
    count: usize,
) -> u64 {
    let mut peak = 0;
    for batch in 0..count / AT_ONCE {
        let first = server.state.surfaces.len();
        let mut windows: Vec<Window> = (0..AT_ONCE)
            .map(|_| client.shm_window(CYCLE_WINDOW_SIZE))
            .collect();
        for (i, window) in windows.iter_mut().enumerate() {
            window.pixels().fill(
                (0, 0, CYCLE_WINDOW_SIZE.0, CYCLE_WINDOW_SIZE.1),
                if i % 2 == 0 { RED } else { GREEN },
            );
            window.commit(None);
        }
        roundtrip(server, client);
        let surfaces: Vec<_> = server.state.surfaces[first..].to_vec();
        for output in outputs.iter_mut() {
            for (i, surface) in surfaces.iter().enumerate() {
                let pixels = server
                    .render(output, &[(surface, (0, 0))], 0)
                    .expect("render");
                let expected = if i % 2 == 0 { RED } else { GREEN };
                assert_eq!(
                    pixel(&pixels, 256, 4, 4),
                    rgba(expected),
                    "batch {batch} window {i}"
                );
            }
        }
        peak = peak.max(server.state.gpus.ledger().snapshot().total.bytes());
        for window in windows {
            window.destroy();
        }
        roundtrip(server, client);
        server.state.gpus.cleanup().expect("cleanup");
    }
    peak
}
