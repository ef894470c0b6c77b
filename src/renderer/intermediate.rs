//! Output intermediates: how a frame drawn on one GPU reaches an output buffer on another.
//!
//! Each output (named by [`OutputKey`]: output name, render GPU, target GPU) keeps one
//! intermediate buffer on the render GPU. Every frame's copy to the target is waited before the
//! next frame is replayed into it, so one buffer is never drawn while it is read, and it always
//! holds the last frame in full, whatever buffer age the caller renders with. The target imports
//! the intermediate once when it can (shared dmabuf); otherwise the damaged rectangles are read back on the render GPU and uploaded on the
//! target (CPU copy). [`MultiFrame::finish`](super::MultiFrame) calls [`present`] with the
//! recorded frame; the [`GpuManager`] owns the intermediates and drops them with their GPUs.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{Bind, Color32F, Frame, ImportDma, ImportMem, Renderer};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size, Transform};

use super::copy::{import_staging, read_into_staging};
use super::frame::RecordedFrame;
use super::gl_copy::blit;
use crate::error::TandemError;
use crate::gpu::operations::OperationKind;
use crate::gpu::{dmabuf_bytes, Gpu, GpuId};
use crate::ledger::{Ledger, LedgerEntry, MemoryKind};
use crate::texture::slot::damaged_bytes;
use crate::texture::staging::StagingBuffer;

/// Names an output's intermediates: one set per output, not per GPU pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OutputKey {
    pub name: String,
    pub render: GpuId,
    pub target: GpuId,
}

/// One recorded drawing operation of a frame (rectangles as smithay passed them).
pub(crate) enum DrawCommand {
    Clear {
        color: Color32F,
        at: Vec<Rectangle<i32, Physical>>,
    },
    Solid {
        dst: Rectangle<i32, Physical>,
        damage: Vec<Rectangle<i32, Physical>>,
        color: Color32F,
    },
    Texture {
        texture: GlesTexture,
        src: Rectangle<f64, BufferCoord>,
        dst: Rectangle<i32, Physical>,
        damage: Vec<Rectangle<i32, Physical>>,
        opaque: Vec<Rectangle<i32, Physical>>,
        transform: Transform,
        alpha: f32,
    },
    Wait(SyncPoint),
}

impl DrawCommand {
    /// The output area this command changes, in output coordinates.
    fn touched(&self) -> Vec<Rectangle<i32, Physical>> {
        let relative = |dst: &Rectangle<i32, Physical>, damage: &[Rectangle<i32, Physical>]| {
            damage
                .iter()
                .filter_map(|d| Rectangle::new(d.loc + dst.loc, d.size).intersection(*dst))
                .collect()
        };
        match self {
            DrawCommand::Clear { at, .. } => at.clone(),
            DrawCommand::Solid { dst, damage, .. } => relative(dst, damage),
            DrawCommand::Texture { dst, damage, .. } => relative(dst, damage),
            DrawCommand::Wait(_) => Vec::new(),
        }
    }
}

/// How a frame drawn on one GPU reaches an output on another, and why that way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFeed {
    /// The target GPU imports the render GPU's intermediate buffer (no CPU copy).
    pub shared_dmabuf: bool,
    /// Why this way was taken (for a CPU copy: what ruled out sharing).
    pub reason: String,
}

/// How the target GPU reads an intermediate.
enum TargetCopy {
    Shared(GlesTexture),
    Cpu {
        texture: Option<GlesTexture>,
        staging: StagingBuffer,
        /// The target samples the staging memory itself (an imported udmabuf).
        in_place: bool,
        /// The staging memory holds a whole frame (the first copy is always whole).
        filled: bool,
        _accounts: Vec<LedgerEntry>,
    },
}

struct IntermediateBuffer {
    dmabuf: Dmabuf,
    on_target: TargetCopy,
    feed: OutputFeed,
    _account: LedgerEntry,
}

/// The intermediate of one output: a single buffer, which therefore always holds the last
/// frame in full (each frame's copy to the target is waited before the next replay).
#[derive(Default)]
pub(crate) struct OutputIntermediate {
    buffer: Option<IntermediateBuffer>,
}

impl OutputIntermediate {
    /// How the intermediate reaches the target.
    pub(crate) fn feed(&self) -> Option<&OutputFeed> {
        self.buffer.as_ref().map(|buffer| &buffer.feed)
    }
}

fn allocate(
    render: &mut Gpu,
    target: &mut Gpu,
    ledger: &Ledger,
    size: Size<i32, BufferCoord>,
    fourcc: Fourcc,
) -> Result<IntermediateBuffer, TandemError> {
    let producible = render.allocator().modifiers(fourcc);
    let shared_modifier = (render.quirks().exports_dmabufs
        && target.quirks().imports_foreign_dmabufs)
        .then(|| {
            target
                .importable_modifiers(fourcc)
                .into_iter()
                .find(|m| producible.contains(m))
        })
        .flatten();
    let modifiers = shared_modifier.map(|m| vec![m]).unwrap_or(producible);
    let dmabuf = render
        .allocator()
        .allocate(size.w as u32, size.h as u32, fourcc, &modifiers)?;
    let account = ledger.record(
        render.id(),
        MemoryKind::OutputIntermediate,
        dmabuf_bytes(&dmabuf),
        None,
        render.released_counter(),
    );
    let shared = match shared_modifier {
        Some(modifier) => match target.renderer().import_dmabuf(&dmabuf, None) {
            Ok(texture) => Ok((texture, modifier)),
            Err(err) => {
                tracing::debug!(%err, "target cannot import the intermediate; using CPU copies");
                Err(format!("{} refused the import: {err}", target.id()))
            }
        },
        None if !render.quirks().exports_dmabufs => {
            Err(format!("{} does not share its buffers", render.id()))
        }
        None if !target.quirks().imports_foreign_dmabufs => {
            Err(format!("{} imports no other GPU's buffers", target.id()))
        }
        None => Err(format!(
            "no {fourcc} modifier that {} allocates and {} imports",
            render.id(),
            target.id()
        )),
    };
    let (on_target, feed) = match shared {
        Ok((texture, modifier)) => {
            target.track_import(&dmabuf);
            let feed = OutputFeed {
                shared_dmabuf: true,
                reason: format!(
                    "{} imports {fourcc} {modifier:?} from {}",
                    target.id(),
                    render.id()
                ),
            };
            (TargetCopy::Shared(texture), feed)
        }
        Err(reason) => {
            let bytes = size.w as u64 * size.h as u64 * 4;
            let staging = StagingBuffer::new(size.w, size.h, Fourcc::Abgr8888)?;
            let imported = import_staging(target, &staging);
            let (target_id, released) = (target.id(), target.released_counter());
            let record = |kind| ledger.record(target_id, kind, bytes, None, released.clone());
            let in_place = imported.is_some();
            let staged = match (
                staging.dmabuf().is_some(),
                in_place,
                target.udmabuf_refused(),
            ) {
                (false, _, _) => "uploaded from process memory".to_owned(),
                (true, true, _) => {
                    format!("staged in a udmabuf that {} samples in place", target.id())
                }
                (true, false, refusal) => format!(
                    "staged in a udmabuf and uploaded from it ({} refused importing it: {})",
                    target.id(),
                    refusal.unwrap_or("unknown")
                ),
            };
            // An imported udmabuf is both the staging memory and the target's texture.
            let mut accounts = vec![record(MemoryKind::CpuStaging)];
            if !in_place {
                accounts.push(record(MemoryKind::OutputIntermediate));
            }
            let copy = TargetCopy::Cpu {
                texture: imported,
                staging,
                in_place,
                filled: false,
                _accounts: accounts,
            };
            let feed = OutputFeed {
                shared_dmabuf: false,
                reason: format!("{reason}; {staged}"),
            };
            (copy, feed)
        }
    };
    Ok(IntermediateBuffer {
        dmabuf,
        on_target,
        feed,
        _account: account,
    })
}

/// Replays a recorded frame into the output's next intermediate and copies what it changed into
/// the target buffer on the target GPU.
pub(crate) fn present(recorded: RecordedFrame<'_>) -> Result<SyncPoint, TandemError> {
    let RecordedFrame {
        manager,
        output,
        target_buffer,
        size,
        transform,
        commands,
    } = recorded;
    let ledger = manager.ledger().clone();
    let operations = manager.operation_log();
    let buffer_size = target_buffer.size();
    let fourcc = target_buffer.format().code;
    let mut intermediate = manager.take_intermediate(&output);
    let (render_gpu, target_gpu, stats) = manager.copy_parts(output.render, output.target)?;

    let fits = intermediate
        .buffer
        .as_ref()
        .is_some_and(|b| b.dmabuf.size() == buffer_size && b.dmabuf.format().code == fourcc);
    if !fits {
        intermediate.buffer = None;
        intermediate.buffer = Some(allocate(
            render_gpu,
            target_gpu,
            &ledger,
            buffer_size,
            fourcc,
        )?);
        stats.intermediate_allocations += 1;
    }
    let Some(buffer) = intermediate.buffer.as_mut() else {
        unreachable!("allocated above");
    };

    replay(render_gpu, &buffer.dmabuf, size, transform, &commands)?;
    // The target reads the intermediate itself (shared) or the staging memory in place: both
    // are written only after the last blit, which was waited, and re-bound before the next.
    let shares = matches!(
        buffer.on_target,
        TargetCopy::Shared(_) | TargetCopy::Cpu { in_place: true, .. }
    );
    if shares {
        operations.record(render_gpu.id(), OperationKind::Write);
    }

    let full = Rectangle::from_size(buffer_size);
    let rects: Vec<Rectangle<i32, BufferCoord>> = if transform == Transform::Normal {
        commands
            .iter()
            .flat_map(DrawCommand::touched)
            .filter_map(|r| {
                Rectangle::<i32, BufferCoord>::new(
                    (r.loc.x, r.loc.y).into(),
                    (r.size.w, r.size.h).into(),
                )
                .intersection(full)
            })
            .filter(|r| !r.is_empty())
            .collect()
    } else {
        // A turned output copies the whole buffer (its damage is in output coordinates), which
        // holds the whole last frame.
        vec![full]
    };
    if !rects.is_empty() {
        let texture = match &mut buffer.on_target {
            TargetCopy::Shared(texture) => {
                *texture = target_gpu
                    .renderer()
                    .import_dmabuf(&buffer.dmabuf, None)
                    .map_err(TandemError::gles(target_gpu.id()))?;
                operations.record(target_gpu.id(), OperationKind::Rebind);
                texture.clone()
            }
            TargetCopy::Cpu {
                texture,
                staging,
                in_place,
                filled,
                ..
            } => {
                let copy_rects = if *filled { rects.clone() } else { vec![full] };
                stats.intermediate_readback_bytes += read_into_staging(
                    render_gpu,
                    &buffer.dmabuf,
                    &copy_rects,
                    staging,
                    Fourcc::Abgr8888,
                )?;
                *filled = true;
                let gles = TandemError::gles(target_gpu.id());
                let target_renderer = target_gpu.renderer();
                match texture {
                    Some(texture) if *in_place => {
                        if let Some(dmabuf) = staging.dmabuf() {
                            *texture = target_renderer.import_dmabuf(dmabuf, None).map_err(gles)?;
                            operations.record(target_gpu.id(), OperationKind::Rebind);
                        }
                    }
                    Some(texture) => {
                        for rect in &copy_rects {
                            target_renderer
                                .update_memory(texture, staging.bytes(), *rect)
                                .map_err(gles)?;
                        }
                    }
                    None => {
                        *texture = Some(
                            target_renderer
                                .import_memory(
                                    staging.bytes(),
                                    Fourcc::Abgr8888,
                                    buffer_size,
                                    false,
                                )
                                .map_err(gles)?,
                        );
                    }
                }
                texture.clone().unwrap_or_else(|| unreachable!("set above"))
            }
        };
        blit(target_gpu, target_buffer, &texture, None, &rects)?;
        if shares {
            // blit waits for the target to finish.
            operations.record(target_gpu.id(), OperationKind::Read);
            operations.record(target_gpu.id(), OperationKind::WaitForReads);
        }
        stats.intermediate_bytes += damaged_bytes(&rects, 4);
    }
    manager.put_intermediate(output, intermediate);
    Ok(SyncPoint::signaled())
}

fn replay(
    gpu: &mut Gpu,
    intermediate: &Dmabuf,
    size: Size<i32, Physical>,
    transform: Transform,
    commands: &[DrawCommand],
) -> Result<(), TandemError> {
    let id = gpu.id();
    let mut dmabuf = intermediate.clone();
    let renderer = gpu.renderer();
    let mut framebuffer = renderer.bind(&mut dmabuf).map_err(TandemError::gles(id))?;
    let mut frame = renderer
        .render(&mut framebuffer, size, transform)
        .map_err(TandemError::gles(id))?;
    for command in commands {
        let result = match command {
            DrawCommand::Clear { color, at } => frame.clear(*color, at),
            DrawCommand::Solid { dst, damage, color } => {
                Frame::draw_solid(&mut frame, *dst, damage, *color)
            }
            DrawCommand::Texture {
                texture,
                src,
                dst,
                damage,
                opaque,
                transform,
                alpha,
            } => Frame::render_texture_from_to(
                &mut frame, texture, *src, *dst, damage, opaque, *transform, *alpha,
            ),
            DrawCommand::Wait(sync) => Frame::wait(&mut frame, sync),
        };
        result.map_err(TandemError::gles(id))?;
    }
    let sync = frame.finish().map_err(TandemError::gles(id))?;
    sync.wait().map_err(|_| TandemError::Sync)
}
