//! A CPU copy reads a client's linear dmabuf through a mapping of it, kept for the next frames:
//! no mapping outlives the client buffer it maps once the per-frame cleanup has run, whether or
//! not the surface commits again. Observed from outside Tandem, in the process's memory map.

mod common;

use std::os::fd::AsFd;

use common::*;
use tandem::{PathKind, Quirks};

const SIZE: (i32, i32) = (64, 48);
const OUT: (i32, i32) = (96, 64);

/// The inode of the file behind `fd`.
fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).expect("fstat").st_ino
}

/// How many mappings of this process map the file with inode `inode`.
fn mappings_of(inode: u64) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines()
        .filter(|line| line.split_whitespace().nth(4) == Some(&inode.to_string()))
        .count()
}

#[test]
fn a_destroyed_client_buffer_stays_mapped_no_longer_than_the_next_cleanup() {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    // GPU 0's buffers reach GPU 1 only through CPU copies, read through their mappings.
    let gpus = &mut server.state.gpus;
    gpus.gpu(gpu0).expect("gpu0").set_quirks(Quirks {
        exports_dmabufs: false,
        ..Quirks::default()
    });
    gpus.gpu(gpu1).expect("gpu1").set_quirks(Quirks {
        imports_foreign_dmabufs: false,
        ..Quirks::default()
    });
    let mut out = server.output(gpu1, OUT);

    let mut window = client.dmabuf_window(SIZE, 0);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("first frame");
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    assert!(
        server.state.gpus.stats().cpu_mapped_reads > 0,
        "read through its mapping"
    );
    let first = inode(window.pixels().fd());

    // The client moves to a new buffer and destroys the first one, then commits nothing more.
    window.set_buffer(&client, SIZE);
    window.pixels().fill((0, 0, SIZE.0, SIZE.1), GREEN);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("second frame");
    assert_eq!(pixel(&pixels, OUT.0, 5, 5), rgba(GREEN));
    roundtrip(&mut server, &mut client);
    server.state.gpus.cleanup().expect("cleanup");

    assert_eq!(
        mappings_of(first),
        0,
        "the client's first buffer, destroyed, is still mapped by the compositor"
    );
}
