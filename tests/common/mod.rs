//! Test fixture: an in-process compositor on software GPUs and wayland-client clients over
//! socket pairs, dispatched deterministically from the test thread.

#![allow(dead_code)]

pub mod client;
pub mod server;

use std::os::unix::net::UnixStream;

pub use client::{TestClient, Window};
pub use server::Server;
use tandem::GpuId;

/// ARGB colours the tests paint with, and their RGBA bytes as read back.
pub const RED: u32 = 0xffff_0000;
pub const GREEN: u32 = 0xff00_ff00;
pub const BLUE: u32 = 0xff00_00ff;
pub const WHITE: u32 = 0xffff_ffff;

pub fn rgba(argb: u32) -> [u8; 4] {
    [(argb >> 16) as u8, (argb >> 8) as u8, argb as u8, (argb >> 24) as u8]
}

/// The RGBA pixel at (x, y) of a readback of width `width`.
pub fn pixel(pixels: &[u8], width: i32, x: i32, y: i32) -> [u8; 4] {
    let offset = ((y * width + x) * 4) as usize;
    pixels[offset..offset + 4].try_into().expect("4 bytes")
}

/// A server with `gpus` software GPUs and one connected client, globals bound.
pub fn setup(gpus: usize) -> (Server, TestClient) {
    let mut server = Server::new(gpus);
    let (client_end, server_end) = UnixStream::pair().expect("socket pair");
    server.insert_client(server_end);
    let mut client = TestClient::new(client_end);
    roundtrip(&mut server, &mut client);
    assert!(client.globals.compositor.is_some(), "wl_compositor not advertised");
    (server, client)
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

/// Asserts the layer holds nothing: ledger at zero and GL names back to `baseline`.
pub fn assert_released(server: &mut Server, baseline: &[(GpuId, u32)]) {
    server.state.gpus.cleanup().expect("cleanup");
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(
        snapshot.total.bytes(),
        0,
        "ledger still counts bytes after cleanup:\n{snapshot}"
    );
    assert_eq!(snapshot.total.objects(), 0, "ledger still counts objects:\n{snapshot}");
    assert!(snapshot.surfaces.is_empty() && snapshot.clients.is_empty());
    assert_eq!(gl_names(server), baseline, "live GL texture names differ from the baseline");
}
