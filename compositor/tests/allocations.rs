//! Heap allocations in steady frames, counted at the allocator (this test binary installs the
//! compositor's counting allocator): Tandem's copies and frames allocate nothing of their own.
//! What they may make is what smithay's `GlesRenderer` makes for the frames they need (a fence
//! when a frame finishes), measured here on an empty frame.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::GlesRenderbuffer;
use smithay::backend::renderer::{Bind, Frame, Offscreen, Renderer};
use smithay::utils::Transform;
use tandem::{GpuManager, Quirks};
use tandem_compositor::measure::allocation_counter::{allocations, counting, CountingAllocator};
use tandem_compositor::measure::{copy_costs, frame_overhead};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations of one empty `GlesRenderer` frame: bound, begun and finished.
fn empty_gles_frame() -> u64 {
    let mut manager = GpuManager::new();
    let gpu = manager
        .add_software_gpu(Quirks::default())
        .expect("software GPU");
    let renderer = manager.gpu(gpu).expect("gpu").renderer();
    let mut target: GlesRenderbuffer = renderer
        .create_buffer(Fourcc::Argb8888, (64, 64).into())
        .expect("buffer");
    let mut frame_allocations = || {
        let mut framebuffer = renderer.bind(&mut target).expect("bind");
        let before = allocations();
        let frame = renderer
            .render(&mut framebuffer, (64, 64).into(), Transform::Normal)
            .expect("frame");
        let sync = frame.finish().expect("finish");
        let made = allocations() - before;
        sync.wait().expect("wait");
        made
    };
    frame_allocations();
    frame_allocations()
}

#[test]
fn steady_copies_allocate_only_what_smithays_frames_do() {
    assert!(counting(), "the counting allocator is installed");
    let frame = empty_gles_frame();
    let rows = copy_costs::measure_rows(3, &[("256x256", 256, 256)]).expect("copies");
    for row in &rows {
        let made = row.allocations.expect("counted");
        // The shadow copy finishes two GL frames (binding the client buffer, the blit), a
        // readback one, a copy from the client's mapping none.
        let smithay = match row.path {
            "shadow slot" => 2 * frame,
            "CPU copy, GPU readback" => frame,
            _ => 0,
        };
        println!(
            "{} {}: {made} allocations per copy (smithay's frames: {smithay})",
            row.path, row.damage
        );
        assert!(
            made <= smithay as f64,
            "{} at {} damage allocates {made} per steady copy; smithay's frames account for {smithay}",
            row.path,
            row.damage
        );
    }
    assert_eq!(rows.len(), 9, "three paths, three damage shares");
}

#[test]
fn a_steady_frame_through_tandem_allocates_what_gles_renderer_does() {
    let frames = frame_overhead::measure(3).expect("frames");
    let tandem = frames.tandem.allocations.expect("counted");
    let gles = frames.gles.allocations.expect("counted");
    println!("64 windows: Tandem {tandem}, GlesRenderer {gles} allocations per frame");
    assert_eq!(
        tandem, gles,
        "MultiRenderer adds allocations to a steady frame"
    );
}
