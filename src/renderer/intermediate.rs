//! Output intermediates: how a frame drawn on one GPU reaches an output buffer on another.
//!
//! Each output (named by [`OutputKey`]: output name, render GPU, target GPU) keeps one
//! intermediate buffer on the render GPU. Every frame's copy to the target is waited before the
//! next frame draws into it, so one buffer is never drawn while it is read, and it always holds
//! the last frame in full, whatever buffer age the caller renders with. The target imports the
//! intermediate once when it can (shared dmabuf); otherwise the damaged rectangles are read back
//! on the render GPU and uploaded on the target (CPU copy). A frame for such an output
//! ([`super::cross_frame`]) takes the intermediate with [`prepare`], draws into it, and hands it
//! to [`deliver`] when it finishes; the [`GpuManager`](crate::GpuManager) owns the intermediates
//! between frames and drops them with their GPUs.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{ImportDma, ImportMem};
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};

use super::copy::{import_staging, read_into_staging};
use super::gl_copy::blit;
use crate::error::TandemError;
use crate::gpu::operations::OperationKind;
use crate::gpu::{dmabuf_bytes, Gpu, GpuId, GpuManager};
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

/// Takes `output`'s intermediate out of the manager, made anew if it does not fit a target of
/// `buffer_size` and `fourcc`; returns it and its buffer, for the frame to draw into.
pub(crate) fn prepare(
    manager: &mut GpuManager,
    output: &OutputKey,
    buffer_size: Size<i32, BufferCoord>,
    fourcc: Fourcc,
) -> Result<(OutputIntermediate, Dmabuf), TandemError> {
    let ledger = manager.ledger().clone();
    let mut intermediate = manager.take_intermediate(output);
    let fits = intermediate
        .buffer
        .as_ref()
        .is_some_and(|b| b.dmabuf.size() == buffer_size && b.dmabuf.format().code == fourcc);
    if !fits {
        intermediate.buffer = None;
        let (render_gpu, target_gpu, stats) = manager.copy_parts(output.render, output.target)?;
        intermediate.buffer = Some(allocate(
            render_gpu,
            target_gpu,
            &ledger,
            buffer_size,
            fourcc,
        )?);
        stats.intermediate_allocations += 1;
    }
    let dmabuf = match &intermediate.buffer {
        Some(buffer) => buffer.dmabuf.clone(),
        None => unreachable!("allocated above"),
    };
    Ok((intermediate, dmabuf))
}

/// Copies `rects` (buffer coordinates) of the frame just drawn and waited for into
/// `output`'s intermediate into `target_buffer` on the target GPU, and gives the intermediate
/// back to the manager.
pub(crate) fn deliver(
    manager: &mut GpuManager,
    output: OutputKey,
    mut intermediate: OutputIntermediate,
    target_buffer: &mut Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<SyncPoint, TandemError> {
    let delivered = copy_to_target(manager, &output, &mut intermediate, target_buffer, rects);
    manager.put_intermediate(output, intermediate);
    delivered
}

fn copy_to_target(
    manager: &mut GpuManager,
    output: &OutputKey,
    intermediate: &mut OutputIntermediate,
    target_buffer: &mut Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<SyncPoint, TandemError> {
    let operations = manager.operation_log();
    let buffer_size = target_buffer.size();
    let (render_gpu, target_gpu, stats) = manager.copy_parts(output.render, output.target)?;
    let Some(buffer) = intermediate.buffer.as_mut() else {
        return Ok(SyncPoint::signaled());
    };
    // The target reads the intermediate itself (shared) or the staging memory in place: both
    // are written only after the last blit, which was waited, and re-bound before the next.
    let shares = matches!(
        buffer.on_target,
        TargetCopy::Shared(_) | TargetCopy::Cpu { in_place: true, .. }
    );
    if shares {
        operations.record(render_gpu.id(), OperationKind::Write);
    }
    if rects.is_empty() {
        return Ok(SyncPoint::signaled());
    }
    let full = Rectangle::from_size(buffer_size);
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
            let copy_rects: Vec<Rectangle<i32, BufferCoord>> =
                if *filled { rects.to_vec() } else { vec![full] };
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
                            .import_memory(staging.bytes(), Fourcc::Abgr8888, buffer_size, false)
                            .map_err(gles)?,
                    );
                }
            }
            texture.clone().unwrap_or_else(|| unreachable!("set above"))
        }
    };
    blit(target_gpu, target_buffer, &texture, None, rects)?;
    if shares {
        // blit waits for the target to finish.
        operations.record(target_gpu.id(), OperationKind::Read);
        operations.record(target_gpu.id(), OperationKind::WaitForReads);
    }
    stats.intermediate_bytes += damaged_bytes(rects, 4);
    Ok(SyncPoint::signaled())
}
