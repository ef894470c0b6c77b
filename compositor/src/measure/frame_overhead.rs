//! What drawing through Tandem costs over drawing with smithay's `GlesRenderer` directly, like
//! for like: 64 windows (320x240 textures) drawn into a 1080p buffer on one software GPU, by
//! `MultiRenderer` and by the same GPU's `GlesRenderer`, one frame of each in turn so that both
//! see the same machine. Per renderer: the median frame (submitted and waited for), the median
//! time of its draw calls, and the heap allocations per steady frame, counted by the binary's
//! allocator ([`crate::measure::allocation_counter`]). `copy-costs` runs it and adds it to its table.

use std::time::{Duration, Instant};

use serde::Serialize;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::{Bind, Color32F, Frame, ImportMem, Offscreen, Renderer};
use smithay::utils::{Physical, Rectangle, Transform};
use tandem::{GpuManager, Quirks};

use crate::measure::allocation_counter::{allocations, counting};

pub const WINDOWS: usize = 64;
pub const OUTPUT: (i32, i32) = (1920, 1080);
pub const WINDOW: (i32, i32) = (320, 240);
/// Frames of each renderer drawn before measuring (first binds and uploads, caches filled).
const WARM_UP: usize = 5;

/// One renderer's figures.
#[derive(Debug, Serialize)]
pub struct RendererFrames {
    pub renderer: &'static str,
    /// Median frame, submitted and waited for.
    pub frame_ms: f64,
    /// Median time from binding the target to the last draw call, before `finish`: the
    /// renderer's own CPU work (llvmpipe rasterizes during `finish`).
    pub draw_calls_ms: f64,
    /// Heap allocations per steady frame (mean), `None` when the process does not count them.
    pub allocations: Option<f64>,
}

/// Both renderers, side by side.
#[derive(Debug, Serialize)]
pub struct FrameOverhead {
    pub tandem: RendererFrames,
    pub gles: RendererFrames,
    /// Tandem's median frame against GlesRenderer's.
    pub ratio: f64,
}

struct Sample {
    frame: Duration,
    draw_calls: Duration,
    allocations: u64,
}

fn position(i: usize) -> (i32, i32) {
    ((i as i32 % 8) * 200, (i as i32 / 8) * 110)
}

/// One frame: clear, then the textures at their window positions, waited until done. The same
/// code for both renderers, so the comparison measures only the renderer.
fn draw_frame<R>(
    renderer: &mut R,
    target: &mut Dmabuf,
    textures: &[R::TextureId],
) -> Result<Sample, String>
where
    R: Renderer + Bind<Dmabuf>,
{
    let failed = |what: &str| format!("{} {what} failed", std::any::type_name::<R>());
    let allocations_before = allocations();
    let started = Instant::now();
    let full: [Rectangle<i32, Physical>; 1] = [Rectangle::from_size(OUTPUT.into())];
    let mut framebuffer = renderer.bind(target).map_err(|_| failed("bind"))?;
    let mut frame = renderer
        .render(&mut framebuffer, OUTPUT.into(), Transform::Normal)
        .map_err(|_| failed("render"))?;
    frame
        .clear(Color32F::BLACK, &full)
        .map_err(|_| failed("clear"))?;
    for (i, texture) in textures.iter().enumerate() {
        Frame::render_texture_at(
            &mut frame,
            texture,
            position(i).into(),
            1,
            1.0,
            Transform::Normal,
            &full,
            &[],
            1.0,
        )
        .map_err(|_| failed("draw"))?;
    }
    let draw_calls = started.elapsed();
    let sync = frame.finish().map_err(|_| failed("finish"))?;
    sync.wait().map_err(|_| failed("wait"))?;
    let frame = started.elapsed();
    drop(framebuffer);
    Ok(Sample {
        frame,
        draw_calls,
        allocations: allocations() - allocations_before,
    })
}

fn summary(renderer: &'static str, samples: &[Sample], counted: bool) -> RendererFrames {
    let median = |pick: fn(&Sample) -> Duration| {
        let mut times: Vec<Duration> = samples.iter().map(pick).collect();
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1000.0
    };
    let total: u64 = samples.iter().map(|s| s.allocations).sum();
    RendererFrames {
        renderer,
        frame_ms: median(|s| s.frame),
        draw_calls_ms: median(|s| s.draw_calls),
        allocations: counted.then(|| total as f64 / samples.len().max(1) as f64),
    }
}

/// Draws `frames` measured frames with each renderer (after a warm-up), in turn.
pub fn measure(frames: usize) -> Result<FrameOverhead, String> {
    let counted = counting();
    let mut manager = GpuManager::new();
    let gpu = manager
        .add_software_gpu(Quirks::default())
        .map_err(|e| e.to_string())?;
    let pixels = vec![0x80u8; (WINDOW.0 * WINDOW.1 * 4) as usize];
    let (tandem_textures, mut target) = {
        let mut renderer = manager.renderer(gpu).map_err(|e| e.to_string())?;
        let textures = (0..WINDOWS)
            .map(|_| renderer.import_memory(&pixels, Fourcc::Argb8888, WINDOW.into(), false))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("upload through MultiRenderer: {e}"))?;
        let target: Dmabuf = renderer
            .create_buffer(Fourcc::Argb8888, OUTPUT.into())
            .map_err(|e| format!("output buffer: {e}"))?;
        (textures, target)
    };
    let gles_textures = {
        let gles = manager.gpu(gpu).map_err(|e| e.to_string())?.renderer();
        (0..WINDOWS)
            .map(|_| gles.import_memory(&pixels, Fourcc::Argb8888, WINDOW.into(), false))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("upload through GlesRenderer: {e}"))?
    };

    let mut tandem = Vec::with_capacity(frames);
    let mut gles = Vec::with_capacity(frames);
    for round in 0..WARM_UP + frames {
        // Alternating which goes first cancels what one frame leaves the next (caches, clocks).
        for tandem_turn in [round % 2 == 0, round % 2 != 0] {
            let sample = if tandem_turn {
                let mut renderer = manager.renderer(gpu).map_err(|e| e.to_string())?;
                draw_frame(&mut renderer, &mut target, &tandem_textures)?
            } else {
                let renderer = manager.gpu(gpu).map_err(|e| e.to_string())?.renderer();
                draw_frame(renderer, &mut target, &gles_textures)?
            };
            if round >= WARM_UP {
                let samples = if tandem_turn { &mut tandem } else { &mut gles };
                samples.push(sample);
            }
        }
    }
    drop(gles_textures);
    drop(tandem_textures);
    manager.cleanup().map_err(|e| e.to_string())?;

    let tandem = summary("Tandem MultiRenderer", &tandem, counted);
    let gles = summary("smithay GlesRenderer", &gles, counted);
    let ratio = tandem.frame_ms / gles.frame_ms.max(1e-6);
    Ok(FrameOverhead {
        tandem,
        gles,
        ratio,
    })
}
