//! A client dmabuf on GPU A shown on GPU B: direct import, shadow slot, CPU copy, and an output
//! drawn on one GPU for a buffer of another.

mod common;

use common::*;
use tandem::{MemoryKind, PathKind, Quirks};

const SIZE: (i32, i32) = (96, 64);
const OUT: (i32, i32) = (128, 96);

/// Two GPUs; the client's buffers live on GPU 0; GPU 1 shows them with `target_quirks`, and GPU 0
/// exports with `source_quirks`.
fn two_gpus(source_quirks: Quirks, target_quirks: Quirks) -> (Server, TestClient) {
    let (mut server, client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    server
        .state
        .gpus
        .gpu(gpu0)
        .expect("gpu0")
        .set_quirks(source_quirks);
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(target_quirks);
    (server, client)
}

fn no_foreign_imports() -> Quirks {
    Quirks {
        imports_foreign_dmabufs: false,
        ..Quirks::default()
    }
}

/// Paints the first frame: top half red, bottom half blue.
fn first_frame(window: &mut Window) {
    window.pixels().fill((0, 0, SIZE.0, SIZE.1 / 2), RED);
    window
        .pixels()
        .fill((0, SIZE.1 / 2, SIZE.0, SIZE.1 / 2), BLUE);
    window.commit(None);
}

fn assert_first_frame(pixels: &[u8]) {
    assert_eq!(pixel(pixels, OUT.0, 3, 3), rgba(RED), "top half");
    assert_eq!(
        pixel(pixels, OUT.0, 3, SIZE.1 - 3),
        rgba(BLUE),
        "bottom half"
    );
    assert_eq!(
        pixel(pixels, OUT.0, OUT.0 - 2, OUT.1 - 2),
        [0, 0, 0, 255],
        "background"
    );
}

/// What a test sees once GPU 0's dmabuf window is shown on GPU 1's output.
struct Shown {
    server: Server,
    client: TestClient,
    out: Output,
    baseline: Vec<(tandem::GpuId, u32)>,
    window: Window,
    surface: smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    texture: tandem::MultiTexture,
}

/// Shows a dmabuf window of GPU 0 on an output of GPU 1 and checks its first frame.
fn show_gpu0_dmabuf_on_gpu1(source_quirks: Quirks, target_quirks: Quirks) -> Shown {
    let (mut server, mut client) = two_gpus(source_quirks, target_quirks);
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, OUT);
    server.render(&mut out, &[], 0).expect("empty frame");
    let baseline = gl_names(&mut server);

    let mut window = client.dmabuf_window(SIZE, 0);
    first_frame(&mut window);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 1)
        .expect("first frame");
    assert_first_frame(&pixels);
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    Shown {
        server,
        client,
        out,
        baseline,
        window,
        surface,
        texture,
    }
}

#[test]
fn shadow_slot_is_allocated_once_and_reused() {
    let Shown {
        mut server,
        mut client,
        mut out,
        baseline,
        mut window,
        surface,
        texture,
    } = show_gpu0_dmabuf_on_gpu1(Quirks::default(), no_foreign_imports());
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::Shadow)]);
    let shadow = server
        .state
        .gpus
        .ledger()
        .snapshot()
        .gpu(gpu0)
        .kind(MemoryKind::ShadowBuffer);
    assert_eq!(shadow.objects, 1);
    assert!(shadow.bytes >= (SIZE.0 * SIZE.1 * 4) as u64);

    for frame in 0..100 {
        let x = frame % (SIZE.0 - 8);
        window.pixels().fill((x, 4, 8, 8), GREEN);
        window.commit(Some((x, 4, 8, 8)));
        roundtrip(&mut server, &mut client);
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(
            pixel(&pixels, OUT.0, x + 4, 8),
            rgba(GREEN),
            "frame {frame}"
        );
    }
    let stats = server.state.gpus.stats();
    println!(
        "shadow: {} slot allocations, {} redraws, {} bytes drawn over 101 frames",
        stats.shadow_allocations, stats.shadow_redraws, stats.shadow_bytes
    );
    assert_eq!(stats.shadow_allocations, 1, "one slot for 101 frames");
    assert_eq!(stats.shadow_redraws, 101);
    assert_eq!(
        stats.shadow_blits, 101,
        "every copy is a framebuffer blit (the pixels above are checked)"
    );
    let full = (SIZE.0 * SIZE.1 * 4) as u64;
    assert_eq!(
        stats.shadow_bytes,
        full + 100 * 8 * 8 * 4,
        "damage only after the first frame"
    );
    assert_eq!(stats.cpu_copied_bytes, 0);
    // Every copy into the kept slot was measured; the estimate is what msg gpus shows.
    let costs = server.state.gpus.copy_costs();
    assert_eq!(costs.len(), 1, "{costs:?}");
    assert_eq!(costs[0].path, PathKind::Shadow);
    assert_eq!(costs[0].samples, 100);
    assert!(costs[0].fixed_us + costs[0].us_per_mib > 0.0, "{costs:?}");

    window.set_buffer(&client, (SIZE.0 + 32, SIZE.1));
    window.pixels().fill((0, 0, SIZE.0 + 32, SIZE.1), WHITE);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 1)
        .expect("resized");
    assert_eq!(pixel(&pixels, OUT.0, SIZE.0 + 30, 2), rgba(WHITE));
    assert_eq!(
        server.state.gpus.stats().shadow_allocations,
        2,
        "one re-allocation on resize"
    );
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(
        snapshot.gpu(gpu0).kind(MemoryKind::ShadowBuffer).objects,
        1,
        "old slot freed"
    );

    window.destroy();
    roundtrip(&mut server, &mut client);
    assert_released(&mut server, &baseline);
}

#[test]
fn cpu_copy_moves_only_damaged_bytes() {
    let source_quirks = Quirks {
        exports_dmabufs: false,
        ..Quirks::default()
    };
    let Shown {
        mut server,
        mut client,
        mut out,
        baseline,
        mut window,
        surface,
        texture,
    } = show_gpu0_dmabuf_on_gpu1(source_quirks, no_foreign_imports());
    let gpu1 = server.gpu(1);
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    assert_eq!(server.state.gpus.stats().shadow_allocations, 0);
    let staging = server
        .state
        .gpus
        .ledger()
        .snapshot()
        .gpu(gpu1)
        .kind(MemoryKind::CpuStaging);
    assert_eq!(staging.bytes, (SIZE.0 * SIZE.1 * 4) as u64);

    let before = server.state.gpus.stats();
    for frame in 0..100 {
        let (x, y) = (frame % (SIZE.0 - 16), (frame * 3) % (SIZE.1 - 10));
        window.pixels().fill((x, y, 16, 10), GREEN);
        window.commit(Some((x, y, 16, 10)));
        roundtrip(&mut server, &mut client);
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(
            pixel(&pixels, OUT.0, x + 8, y + 5),
            rgba(GREEN),
            "frame {frame}"
        );
    }
    let after = server.state.gpus.stats();
    assert_eq!(
        after.path_failures, 1,
        "the impossible shadow path was tried once, then remembered"
    );
    let copied = after.cpu_copied_bytes - before.cpu_copied_bytes;
    let damaged = after.cpu_damaged_bytes - before.cpu_damaged_bytes;
    assert_eq!(damaged, 100 * 16 * 10 * 4);
    let ratio = copied as f64 / damaged as f64;
    println!("cpu copy: copied {copied} bytes for {damaged} damaged bytes (ratio {ratio:.3})");
    assert!((0.95..=1.05).contains(&ratio), "copied/damaged = {ratio}");

    window.destroy();
    roundtrip(&mut server, &mut client);
    assert_released(&mut server, &baseline);
}

#[test]
fn cpu_copies_read_a_linear_client_buffer_through_its_mapping() {
    let source_quirks = Quirks {
        exports_dmabufs: false,
        ..Quirks::default()
    };
    // The first frame (checked on pixels) went through the client buffer's mapping.
    let Shown {
        mut server,
        mut client,
        mut out,
        baseline,
        mut window,
        surface,
        ..
    } = show_gpu0_dmabuf_on_gpu1(source_quirks, no_foreign_imports());
    let mapped = server.state.gpus.stats().cpu_mapped_reads;
    assert!(
        mapped > 0,
        "the sealed memfd buffer was read through its mapping"
    );
    let readbacks = |server: &mut Server| {
        let gpu0 = server.gpu(0);
        server.state.gpus.gpu(gpu0).expect("gpu0").readback_rects()
    };
    let readbacks_before = readbacks(&mut server);

    // A damaged update: mapped, then with mapped reads off through a GPU readback (which reads
    // the client's byte order where GL can: blue over red shows a red/blue swap), same pixels.
    for (colour, mapped_reads) in [(GREEN, true), (BLUE, false)] {
        server.state.gpus.set_mapped_reads(mapped_reads);
        window.pixels().fill((8, 4, 20, 12), colour);
        window.commit(Some((8, 4, 20, 12)));
        roundtrip(&mut server, &mut client);
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(pixel(&pixels, OUT.0, 10, 6), rgba(colour));
        assert_eq!(
            pixel(&pixels, OUT.0, 3, SIZE.1 - 3),
            rgba(BLUE),
            "undamaged"
        );
    }
    let stats = server.state.gpus.stats();
    assert_eq!(stats.cpu_mapped_reads, mapped + 1);
    // Without udmabuf staging (none here) the damage went from the mapping to GPU 1 directly.
    assert_eq!(
        stats.cpu_mapped_uploads,
        u64::from(!std::path::Path::new("/dev/udmabuf").exists()),
        "uploads straight from the client's mapping"
    );
    assert!(
        readbacks(&mut server) > readbacks_before,
        "with mapped reads off, GPU 0 read the damage back"
    );
    let buffer = window.buffer.as_ref().expect("buffer").pixels.fd();
    let inode = rustix::fs::fstat(buffer).expect("fstat").st_ino;
    assert_eq!(
        read_only_mappings_of(inode),
        1,
        "the client buffer stays mapped for its next copy"
    );

    window.destroy();
    roundtrip(&mut server, &mut client);
    assert_released(&mut server, &baseline);
    assert_eq!(
        read_only_mappings_of(inode),
        0,
        "no mapping of the client's buffer outlives its window"
    );
}

/// How many read-only mappings of the test client's memfd with inode `inode` this process holds:
/// those Tandem keeps to read client buffers (the client and the GPUs map theirs writable).
fn read_only_mappings_of(inode: u64) -> usize {
    let inode = inode.to_string();
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .filter(|line| line.contains("memfd:tandem-test"))
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.get(1) == Some(&"r--s") && fields.get(4) == Some(&inode.as_str()))
        .count()
}

#[test]
fn foreign_dmabuf_is_imported_directly_when_allowed() {
    let Shown {
        mut server,
        mut client,
        baseline,
        window,
        texture,
        ..
    } = show_gpu0_dmabuf_on_gpu1(Quirks::default(), Quirks::default());
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::Native)]);
    let stats = server.state.gpus.stats();
    assert_eq!(stats.direct_foreign_imports, 1);
    assert_eq!(
        (stats.shadow_allocations, stats.cpu_copied_bytes),
        (0, 0),
        "no copy"
    );
    let snapshot = server.state.gpus.ledger().snapshot();
    assert_eq!(
        snapshot
            .gpu(gpu1)
            .kind(MemoryKind::PinnedClientBuffer)
            .objects,
        1
    );
    assert_eq!(snapshot.gpu(gpu0).objects(), 0);

    window.destroy();
    roundtrip(&mut server, &mut client);
    assert_released(&mut server, &baseline);
}

#[test]
fn output_on_another_gpu_goes_through_one_reused_intermediate() {
    for shared in [true, false] {
        let (mut server, mut client) = setup(2);
        let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
        if !shared {
            server
                .state
                .gpus
                .gpu(gpu0)
                .expect("gpu0")
                .set_quirks(Quirks {
                    exports_dmabufs: false,
                    ..Quirks::default()
                });
        }
        // Drawn on GPU 0 into buffers of GPU 1.
        let mut out = server.cross_output(gpu0, gpu1, OUT);
        server.render(&mut out, &[], 0).expect("empty frame");
        let mut window = client.shm_window(SIZE);
        first_frame(&mut window);
        roundtrip(&mut server, &mut client);
        let surface = server.state.surfaces[0].clone();
        for frame in 0..10 {
            window.pixels().fill((frame, 0, 1, 1), GREEN);
            window.commit(Some((frame, 0, 1, 1)));
            roundtrip(&mut server, &mut client);
            let pixels = server
                .render(&mut out, &[(&surface, (0, 0))], 0)
                .expect("frame");
            assert_eq!(
                pixel(&pixels, OUT.0, 3, SIZE.1 - 3),
                rgba(BLUE),
                "shared={shared}"
            );
            assert_eq!(
                pixel(&pixels, OUT.0, frame, 0),
                rgba(GREEN),
                "shared={shared}"
            );
        }
        let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
        assert_eq!(
            texture.paths(),
            vec![(gpu0, PathKind::Native)],
            "drawn by GPU 0 only"
        );
        let stats = server.state.gpus.stats();
        assert_eq!(
            stats.intermediate_allocations, 1,
            "one buffer, reused (shared={shared})"
        );
        let snapshot = server.state.gpus.ledger().snapshot();
        assert_eq!(
            snapshot
                .gpu(gpu0)
                .kind(MemoryKind::OutputIntermediate)
                .objects,
            1
        );
        if !shared {
            assert_eq!(snapshot.gpu(gpu1).kind(MemoryKind::CpuStaging).objects, 1);
        }
        window.destroy();
        roundtrip(&mut server, &mut client);
        server.state.gpus.cleanup().expect("cleanup");
        let total = server.state.gpus.ledger().snapshot().total;
        let output_objects = total.kind(MemoryKind::OutputIntermediate).objects
            + total.kind(MemoryKind::CpuStaging).objects;
        assert_eq!(
            total.objects(),
            output_objects,
            "only the output's buffers remain"
        );
        server.state.gpus.remove_output(&out.name);
        assert_eq!(
            server.state.gpus.ledger().snapshot().total.objects(),
            0,
            "output released"
        );
    }
}

/// The GPU a static window's buffer lives on goes away while another GPU shows the window
/// through a shadow slot: that GPU keeps drawing it, though the client commits nothing new.
#[test]
fn a_static_shadowed_window_stays_drawn_when_its_gpu_goes() {
    let Shown {
        mut server,
        mut out,
        surface,
        texture,
        ..
    } = show_gpu0_dmabuf_on_gpu1(Quirks::default(), no_foreign_imports());
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::Shadow)]);
    server.state.gpus.remove_gpu(gpu0).expect("remove GPU 0");
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("GPU 1 still draws the window");
    assert_first_frame(&pixels);
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::Native)]);
}

/// A client that sends a thousand damage rectangles costs a bounded number of readbacks: more
/// than 16 are merged into their bounding box.
#[test]
fn many_damage_rectangles_are_merged_before_they_are_read_back() {
    let source_quirks = Quirks {
        exports_dmabufs: false,
        ..Quirks::default()
    };
    let Shown {
        mut server,
        mut client,
        mut out,
        mut window,
        surface,
        ..
    } = show_gpu0_dmabuf_on_gpu1(source_quirks, no_foreign_imports());
    let gpu0 = server.gpu(0);
    // Readbacks are what this counts: the client buffer's own mapping would need none.
    server.state.gpus.set_mapped_reads(false);
    let readbacks =
        |server: &mut Server| server.state.gpus.gpu(gpu0).expect("gpu0").readback_rects();
    let before = readbacks(&mut server);
    for i in 0..1000 {
        window
            .pixels()
            .fill(((i * 7) % SIZE.0, (i * 3) % SIZE.1, 1, 1), GREEN);
    }
    let buffer = window.buffer.as_ref().expect("buffer").wl_buffer().clone();
    window.surface.attach(Some(&buffer), 0, 0);
    for i in 0..1000 {
        window
            .surface
            .damage_buffer((i * 7) % SIZE.0, (i * 3) % SIZE.1, 1, 1);
    }
    window.surface.commit();
    roundtrip(&mut server, &mut client);
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 0)
        .expect("frame");
    assert_eq!(pixel(&pixels, OUT.0, 7, 3), rgba(GREEN));
    let read = readbacks(&mut server) - before;
    println!("1000 damage rectangles cost {read} readbacks");
    assert!(read <= 16, "{read} readbacks for one commit");
    assert!(read > 0, "the damage was read back on GPU 0");
}
