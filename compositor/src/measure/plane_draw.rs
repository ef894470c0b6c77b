//! What converting YUV in the frame costs: a YUV buffer that the drawing GPU cannot import
//! travels as its planes and is converted to RGB by that GPU's frame as it draws it
//! (`tandem::texture::planes`), so its copy is a copy and the conversion is frame work. This
//! measures that work: one NV12 buffer drawn over a whole output of its size, against an
//! ARGB8888 buffer of the same size drawn the same way, one frame of each in turn, on one
//! software GPU. `copy-costs` runs it and adds it to its table.

use std::time::{Duration, Instant};

use serde::Serialize;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::renderer::{Bind, Color32F, Frame, ImportDma, Offscreen, Renderer};
use smithay::utils::{Physical, Rectangle, Transform};
use tandem::gpu::{DmabufAllocator, MemfdAllocator};
use tandem::{GpuId, GpuManager, MultiTexture, Quirks};

use crate::measure::copy_costs::FrameSize;

/// Frames of each buffer drawn before measuring.
const WARM_UP: usize = 3;

/// One size's figures.
#[derive(Debug, Serialize)]
pub struct PlaneDraw {
    pub size: &'static str,
    /// Median frame drawing the NV12 buffer's planes (converted as drawn).
    pub nv12_frame_ms: f64,
    /// Median frame drawing an ARGB8888 buffer of the same size.
    pub argb_frame_ms: f64,
    pub ratio: f64,
}

/// A client buffer of `fourcc` and `size` on `gpu`, imported for that GPU.
fn window(
    manager: &mut GpuManager,
    gpu: GpuId,
    fourcc: Fourcc,
    (w, h): (i32, i32),
) -> Result<(Dmabuf, MultiTexture), String> {
    let client = MemfdAllocator
        .allocate(w as u32, h as u32, fourcc, &[Modifier::Linear])
        .map_err(|e| format!("{fourcc} client buffer: {e}"))?;
    manager.set_dmabuf_origin(&client, gpu);
    let texture = manager
        .renderer(gpu)
        .and_then(|mut renderer| renderer.import_dmabuf(&client, None))
        .map_err(|e| format!("{fourcc} import: {e}"))?;
    Ok((client, texture))
}

/// One frame drawing `texture` over the whole `target`, submitted and waited for.
fn frame(
    manager: &mut GpuManager,
    gpu: GpuId,
    target: &mut Dmabuf,
    texture: &MultiTexture,
    (w, h): (i32, i32),
) -> Result<Duration, String> {
    fn failed(what: &'static str) -> impl Fn(tandem::TandemError) -> String {
        move |e| format!("{what}: {e}")
    }
    let started = Instant::now();
    let whole: [Rectangle<i32, Physical>; 1] = [Rectangle::from_size((w, h).into())];
    let mut renderer = manager.renderer(gpu).map_err(failed("renderer"))?;
    let mut framebuffer = renderer.bind(target).map_err(failed("bind"))?;
    let mut frame = renderer
        .render(&mut framebuffer, (w, h).into(), Transform::Normal)
        .map_err(failed("render"))?;
    frame
        .clear(Color32F::BLACK, &whole)
        .map_err(failed("clear"))?;
    frame
        .render_texture_at(
            texture,
            (0, 0).into(),
            1,
            1.0,
            Transform::Normal,
            &whole,
            &[],
            1.0,
        )
        .map_err(failed("draw"))?;
    let sync = frame.finish().map_err(failed("finish"))?;
    sync.wait().map_err(|_| "wait failed".to_string())?;
    Ok(started.elapsed())
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times
        .get(times.len() / 2)
        .map_or(0.0, |t| t.as_secs_f64() * 1000.0)
}

/// `samples` measured frames of each buffer at each of `sizes` (after a warm-up), in turn.
pub fn measure(samples: u32, sizes: &[FrameSize]) -> Result<Vec<PlaneDraw>, String> {
    let mut rows = Vec::new();
    for &(name, w, h) in sizes {
        let mut manager = GpuManager::new();
        let gpu = manager
            .add_software_gpu(Quirks::default())
            .map_err(|e| e.to_string())?;
        let (_nv12_buffer, nv12) = window(&mut manager, gpu, Fourcc::Nv12, (w, h))?;
        let (_argb_buffer, argb) = window(&mut manager, gpu, Fourcc::Argb8888, (w, h))?;
        if manager.stats().yuv_plane_copies == 0 {
            return Err(format!(
                "the NV12 buffer was not carried as planes ({:?}): the figures would be another path's",
                manager.stats()
            ));
        }
        let mut target: Dmabuf = manager
            .renderer(gpu)
            .and_then(|mut renderer| {
                Offscreen::<Dmabuf>::create_buffer(&mut renderer, Fourcc::Argb8888, (w, h).into())
            })
            .map_err(|e| format!("output buffer: {e}"))?;
        let (mut nv12_times, mut argb_times) = (Vec::new(), Vec::new());
        for round in 0..WARM_UP + samples as usize {
            let nv12_time = frame(&mut manager, gpu, &mut target, &nv12, (w, h))?;
            let argb_time = frame(&mut manager, gpu, &mut target, &argb, (w, h))?;
            if round >= WARM_UP {
                nv12_times.push(nv12_time);
                argb_times.push(argb_time);
            }
        }
        let (nv12_frame_ms, argb_frame_ms) = (median(nv12_times), median(argb_times));
        rows.push(PlaneDraw {
            size: name,
            nv12_frame_ms,
            argb_frame_ms,
            ratio: nv12_frame_ms / argb_frame_ms.max(1e-6),
        });
        drop((nv12, argb));
        manager.cleanup().map_err(|e| e.to_string())?;
    }
    Ok(rows)
}
