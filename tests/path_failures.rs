//! A failed copy path is remembered for what failed: a client's buffer that a path cannot carry
//! holds that path off for that client only, and is forgotten when the client goes. Back-off
//! is read from the manager's clock, so tests move time instead of sleeping.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use smithay::backend::allocator::dmabuf::{Dmabuf, DmabufFlags};
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::egl::EGLContext;
use smithay::backend::renderer::gles::GlesRenderer;
use tandem::gpu::{software_egl_display, DmabufAllocator, ManualClock, MemfdAllocator};
use tandem::{Gpu, GpuId, GpuManager, PathKind, Quirks, TandemError};

/// The most pixels the source GPU's allocator hands out in one buffer (a driver's limit).
const MAX_PIXELS: u32 = 10_000;
const OUT: (i32, i32) = (256, 128);

/// Memfd buffers, refused past [`MAX_PIXELS`].
struct LimitedAllocator;

impl DmabufAllocator for LimitedAllocator {
    fn allocate(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<Dmabuf, TandemError> {
        if width.saturating_mul(height) > MAX_PIXELS {
            return Err(TandemError::Allocation {
                width,
                height,
                fourcc,
                reason: "larger than the driver allows".into(),
            });
        }
        MemfdAllocator.allocate(width, height, fourcc, modifiers)
    }

    fn modifiers(&self, fourcc: Fourcc) -> Vec<Modifier> {
        MemfdAllocator.modifiers(fourcc)
    }
}

/// GPU 0 (the clients' buffers' GPU) allocates through [`LimitedAllocator`]; GPU 1 shows
/// them and may not import them, so they go through shadow slots on GPU 0.
/// Memfd buffers; once `unshareable` is set, labelled as two-plane P010 with one plane, which
/// no GPU imports, as a GPU refuses the buffers of another it cannot share memory with. (Set
/// after the formats were probed, which allocates here too.)
struct UnshareableAllocator {
    unshareable: Arc<AtomicBool>,
    /// Buffers allocated so far.
    allocated: Arc<AtomicUsize>,
}

impl DmabufAllocator for UnshareableAllocator {
    fn allocate(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<Dmabuf, TandemError> {
        let buffer = MemfdAllocator.allocate(width, height, fourcc, modifiers)?;
        self.allocated.fetch_add(1, Ordering::Relaxed);
        if !self.unshareable.load(Ordering::Relaxed) {
            return Ok(buffer);
        }
        let fd = buffer
            .handles()
            .next()
            .and_then(|fd| fd.try_clone_to_owned().ok())
            .expect("the memfd");
        let stride = buffer.strides().next().expect("a stride");
        let mut builder = Dmabuf::builder(
            (width as i32, height as i32),
            Fourcc::P010,
            Modifier::Linear,
            DmabufFlags::empty(),
        );
        builder.add_plane(fd, 0, 0, stride);
        Ok(builder.build().expect("a dmabuf"))
    }

    fn modifiers(&self, fourcc: Fourcc) -> Vec<Modifier> {
        MemfdAllocator.modifiers(fourcc)
    }
}

fn server_with_limited_source() -> Server {
    server_with_source(Box::new(LimitedAllocator))
}

/// GPU 0 (the clients' buffers' GPU) allocates through `allocator`; GPU 1 shows them and may
/// not import them.
fn server_with_source(allocator: Box<dyn DmabufAllocator>) -> Server {
    let display = software_egl_display().expect("software EGL display");
    let context = EGLContext::new(&display).expect("EGL context");
    // SAFETY: the context is fresh and only used by this renderer.
    let renderer = unsafe { GlesRenderer::new(context) }.expect("renderer");
    let source = Gpu::new(GpuId::Software(100), renderer, allocator, Quirks::default());
    let mut manager = GpuManager::new();
    manager.add_gpu(source);
    manager
        .add_software_gpu(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    Server::with_manager(manager)
}

fn show(
    server: &mut Server,
    client: &mut TestClient,
    out: &mut Output,
    size: (i32, i32),
) -> (Window, tandem::MultiTexture) {
    let mut window = client.dmabuf_window(size, 0);
    window.pixels().fill((0, 0, size.0, size.1), RED);
    window.commit(None);
    roundtrip(server, client);
    let surface = server.state.surfaces.last().expect("surface").clone();
    let pixels = server.render(out, &[(&surface, (0, 0))], 0).expect("frame");
    assert_eq!(pixel(&pixels, OUT.0, 2, 2), rgba(RED));
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    (window, texture)
}

#[test]
fn a_clients_buffer_that_fails_a_path_holds_it_off_for_that_client_only() {
    let mut server = server_with_limited_source();
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, OUT);
    let mut big_client = connect(&mut server);
    let mut small_client = connect(&mut server);

    let (_big, big) = show(&mut server, &mut big_client, &mut out, (200, 100));
    assert_eq!(big.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    let failures = server.state.gpus.path_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path, PathKind::Shadow);

    let (_small, small) = show(&mut server, &mut small_client, &mut out, (64, 64));
    assert_eq!(
        small.paths(),
        vec![(gpu1, PathKind::Shadow)],
        "another client's buffer that fits goes through a shadow slot (failures: {failures:?})"
    );
}

#[test]
fn a_clients_failures_are_forgotten_when_it_goes() {
    let mut server = server_with_limited_source();
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, OUT);
    let mut client = connect(&mut server);
    let (window, big) = show(&mut server, &mut client, &mut out, (200, 100));
    assert_eq!(big.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    assert_eq!(server.state.gpus.path_failures().len(), 1);

    drop(window);
    drop(client);
    server.dispatch();
    server.state.gpus.cleanup().expect("cleanup");
    let failures = server.state.gpus.path_failures();
    assert!(
        failures.is_empty(),
        "failures of a client that left are still remembered: {failures:?}"
    );
}

/// A path that failed is held off for a while, not for good: once the source exports again
/// and the back-off has passed on the manager's clock, the next commit goes through a shadow
/// slot.
#[test]
fn a_failed_path_is_tried_again_after_its_back_off() {
    let (mut server, mut client) = setup(2);
    let clock = Arc::new(ManualClock::new());
    server.state.gpus.set_clock(clock.clone());
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
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
    let (mut window, texture) = show(&mut server, &mut client, &mut out, (64, 64));
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    let failures = server.state.gpus.path_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path, PathKind::Shadow);
    assert_eq!(failures[0].modifier, Modifier::Linear);
    assert_eq!(failures[0].retry_in, Some(Duration::from_secs(1)));

    server
        .state
        .gpus
        .gpu(gpu0)
        .expect("gpu0")
        .set_quirks(Quirks::default());
    let surface = server.state.surfaces[0].clone();
    let mut commit = |server: &mut Server, colour| {
        window.pixels().fill((0, 0, 8, 8), colour);
        window.commit(Some((0, 0, 8, 8)));
        roundtrip(server, &mut client);
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(pixel(&pixels, OUT.0, 4, 4), rgba(colour));
    };
    clock.advance(Duration::from_millis(999));
    commit(&mut server, GREEN);
    assert_eq!(
        texture.paths(),
        vec![(gpu1, PathKind::CpuCopy)],
        "held off until the back-off is over"
    );
    clock.advance(Duration::from_millis(1));
    commit(&mut server, WHITE);
    assert_eq!(
        texture.paths(),
        vec![(gpu1, PathKind::Shadow)],
        "tried again after the back-off"
    );
    assert!(server.state.gpus.path_failures().is_empty());
}

/// A target GPU that refuses the shadow slots its source makes holds the shadow path off for
/// the pair until either GPU goes: no later frame allocates a slot to see it refused, and the
/// window's CPU copy is never replaced by a retry.
#[test]
fn a_target_that_refuses_the_sources_slots_is_not_asked_again() {
    let unshareable = Arc::new(AtomicBool::new(false));
    let allocated = Arc::new(AtomicUsize::new(0));
    let mut server = server_with_source(Box::new(UnshareableAllocator {
        unshareable: unshareable.clone(),
        allocated: allocated.clone(),
    }));
    unshareable.store(true, Ordering::Relaxed);
    let clock = Arc::new(ManualClock::new());
    server.state.gpus.set_clock(clock.clone());
    let gpu1 = server.gpu(1);
    let mut out = server.output(gpu1, OUT);
    let mut client = connect(&mut server);
    let (mut window, texture) = show(&mut server, &mut client, &mut out, (64, 64));
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    let failures = server.state.gpus.path_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path, PathKind::Shadow);
    assert_eq!(
        failures[0].client, None,
        "the pair's failure, not the client's"
    );
    assert_eq!(failures[0].retry_in, None, "{failures:?}");
    let before = server.state.gpus.stats();
    let slots_made = allocated.load(Ordering::Relaxed);

    let surface = server.state.surfaces[0].clone();
    for (step, colour) in [GREEN, WHITE, RED].into_iter().enumerate() {
        clock.advance(Duration::from_secs(600));
        window.pixels().fill((0, 0, 8, 8), colour);
        window.commit(Some((0, 0, 8, 8)));
        roundtrip(&mut server, &mut client);
        let pixels = server
            .render(&mut out, &[(&surface, (0, 0))], 1)
            .expect("frame");
        assert_eq!(pixel(&pixels, OUT.0, 4, 4), rgba(colour), "step {step}");
    }
    let after = server.state.gpus.stats();
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    assert_eq!(
        (after.shadow_allocations, after.reallocations),
        (before.shadow_allocations, before.reallocations),
        "slots or copies allocated again after the refusal"
    );
    assert_eq!(
        allocated.load(Ordering::Relaxed),
        slots_made,
        "the source was asked for slots again"
    );
}
