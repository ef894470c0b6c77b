//! Moving a client dmabuf to the GPU that draws it: direct import, shadow slot, or CPU copy.
//!
//! Called by the import functions of [`MultiRenderer`](super::MultiRenderer) with the entry the
//! drawing GPU had for this buffer (if any); returns the entry to store back. Paths are tried in
//! that order; a path that fails is remembered by the [`GpuManager`] for what failed (see
//! [`crate::gpu::failures`]) and held off for a while, then tried again; a target that refuses
//! even a small slot of its source is not asked again while both GPUs stay. Every allocation is
//! counted in the ledger where it is made, and an error drops (and so releases) whatever the
//! failed attempt had allocated.

use std::time::Instant;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc, Modifier};
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{ImportDma, ImportMem};
use smithay::utils::{Buffer as BufferCoord, Rectangle};

use crate::error::TandemError;
use crate::gpu::budget::ClientBudget;
use crate::gpu::failures::FailureKey;
use crate::gpu::operations::OperationKind;
use crate::gpu::path_costs::CostKey;
use crate::gpu::{dmabuf_bytes, CopyStats, Gpu, GpuId, GpuManager};
use crate::ledger::{Ledger, MemoryKind, Owner};
use crate::texture::mapped::{read_mapped, with_mapped_image, Mappings};
use crate::texture::pixel_format::{
    bytes_per_pixel, is_yuv, mapped_staging_fourcc, readback_fourcc, transfer_fourcc,
};
use crate::texture::slot::{
    clip_damage, damaged_bytes, ClippedDamage, CpuCopy, ShadowSlot, SlotKey,
};
use crate::texture::staging::StagingBuffer;
use crate::texture::{EntryContent, GpuEntry, PathKind};

use super::gl_copy::{blit, read_back, upload_from_client};
use super::plane_copy;

/// Bytes per pixel a buffer of `fourcc` is moved in (its slot's format; see
/// [`transfer_fourcc`]).
fn moved_bpp(fourcc: Fourcc) -> u64 {
    bytes_per_pixel(transfer_fourcc(fourcc)).unwrap_or(4) as u64
}

/// One client dmabuf on its way to the GPU `target`.
pub(crate) struct DmabufImport<'a> {
    pub dmabuf: &'a Dmabuf,
    pub damage: &'a [Rectangle<i32, BufferCoord>],
    pub owner: Option<&'a Owner>,
    pub source: GpuId,
    pub target: GpuId,
    /// The end of the target's last frame that read this texture's shared buffer, if any.
    pub last_read: Option<SyncPoint>,
}

/// Imports `job.dmabuf` for the target GPU by the first path that works.
pub(crate) fn import_dmabuf(
    manager: &mut GpuManager,
    job: DmabufImport<'_>,
    existing: Option<GpuEntry>,
) -> Result<GpuEntry, TandemError> {
    let format = job.dmabuf.format();
    let (source_id, target_id) = (job.source, job.target);
    let client = job.owner.and_then(|owner| owner.client.clone());
    let failure_key = |path, client| FailureKey {
        source: source_id,
        target: target_id,
        fourcc: format.code,
        modifier: format.modifier,
        path,
        client,
    };

    let budget = manager.client_budget(client.as_ref());
    if job.source == job.target {
        return import_on_its_gpu(manager, &job, &budget, existing);
    }
    let mut existing = existing;
    // A direct import fails for the buffer it is given: remembered for this client's buffers.
    let native = failure_key(PathKind::Native, client.clone());
    if manager
        .awake_gpu(job.target)?
        .quirks()
        .imports_foreign_dmabufs
        && !manager.path_failed(&native)
    {
        let ledger = manager.ledger().clone();
        match direct_import(
            manager.awake_gpu(job.target)?,
            &ledger,
            &budget,
            &job,
            existing.take(),
        ) {
            Ok((entry, reallocated)) => {
                let stats = manager.copy_stats_mut();
                stats.reallocations += u64::from(reallocated);
                stats.direct_foreign_imports += 1;
                manager.path_succeeded(&native);
                return Ok(entry);
            }
            Err(err @ TandemError::OverBudget { .. }) => return Err(err),
            Err(err) => {
                tracing::debug!(%err, "direct import of a foreign dmabuf failed");
                manager.remember_failure(native, err.to_string());
            }
        }
    }
    // A GPU pair that cannot share a slot is the path's failure; one that fails to make or draw
    // a slot for this buffer is remembered for this client only.
    let shadow = ShadowKeys {
        path: failure_key(PathKind::Shadow, None),
        buffer: failure_key(PathKind::Shadow, client),
    };
    let cost_key = CostKey {
        source: source_id,
        target: target_id,
        fourcc: format.code,
        modifier: format.modifier,
    };
    let order = copy_order(manager, &job, existing.as_ref(), &shadow, cost_key);
    for &path in order {
        // Only copies into an entry kept from before are measured: a new entry's first copy
        // also allocates.
        let kept = existing.as_ref().is_some_and(|entry| entry.path() == path);
        let moved = if kept {
            damaged_bytes(
                &clip_damage(job.damage, job.dmabuf.size()),
                moved_bpp(format.code),
            )
        } else {
            0
        };
        let started = Instant::now();
        // A shadow copy is only given a shadow entry: a working CPU copy stays for the CPU path
        // should the slot fail.
        let result = match path {
            PathKind::Shadow => shadow_copy(manager, &job, &budget, existing.take_if(|_| kept)),
            _ => cpu_copy(manager, &job, &budget, existing.take()),
        };
        match result {
            Ok(entry) => {
                if kept && moved > 0 {
                    manager.record_copy_cost(cost_key, path, moved, started.elapsed());
                }
                if path == PathKind::Shadow {
                    manager.path_succeeded(&shadow.path);
                    manager.path_succeeded(&shadow.buffer);
                    // The entry kept aside is replaced by the slot.
                    if existing.take().is_some() {
                        manager.copy_stats_mut().reallocations += 1;
                    }
                }
                return Ok(entry);
            }
            // The entry kept aside still counts against the client's budget: it goes on, and
            // the slot waits its back-off.
            Err(err @ TandemError::OverBudget { .. })
                if path == PathKind::Shadow && existing.is_some() =>
            {
                manager.remember_failure(shadow.buffer.clone(), err.to_string());
            }
            Err(err @ TandemError::OverBudget { .. }) => return Err(err),
            Err(err) if path == PathKind::Shadow => {
                tracing::debug!(%err, "shadow copy failed");
                let pair_refuses = match &err {
                    TandemError::SlotRefused {
                        fourcc, modifier, ..
                    } => target_refuses_small_slot(manager, &job, *fourcc, *modifier),
                    _ => false,
                };
                match err {
                    _ if pair_refuses => {
                        manager.remember_lasting_failure(shadow.path.clone(), err.to_string())
                    }
                    TandemError::NoCopyPath { .. } => {
                        manager.remember_failure(shadow.path.clone(), err.to_string())
                    }
                    _ => manager.remember_failure(shadow.buffer.clone(), err.to_string()),
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(TandemError::NoCopyPath {
        source_gpu: source_id,
        target_gpu: target_id,
        fourcc: format.code,
    })
}

/// A buffer shown by the GPU it lives on: imported there, or, for a YUV buffer that GPU cannot
/// import, converted on the CPU from its mapping (module [`crate::texture::yuv`]). A surface
/// whose buffers are converted keeps being converted; a failed import is remembered for the
/// GPU and format, so that new surfaces go straight to the conversion while it is held off.
fn import_on_its_gpu(
    manager: &mut GpuManager,
    job: &DmabufImport<'_>,
    budget: &ClientBudget,
    existing: Option<GpuEntry>,
) -> Result<GpuEntry, TandemError> {
    let format = job.dmabuf.format();
    let no_import = FailureKey {
        source: job.source,
        target: job.target,
        fourcc: format.code,
        modifier: format.modifier,
        path: PathKind::Native,
        client: None,
    };
    let converting = existing
        .as_ref()
        .is_some_and(|entry| entry.path() == PathKind::CpuCopy);
    if is_yuv(format.code) && (converting || manager.path_failed(&no_import)) {
        return cpu_copy(manager, job, budget, existing);
    }
    let ledger = manager.ledger().clone();
    match direct_import(
        manager.awake_gpu(job.target)?,
        &ledger,
        budget,
        job,
        existing,
    ) {
        Ok((entry, reallocated)) => {
            manager.copy_stats_mut().reallocations += u64::from(reallocated);
            Ok(entry)
        }
        Err(err @ TandemError::OverBudget { .. }) => Err(err),
        Err(err) if is_yuv(format.code) => {
            tracing::debug!(%err, gpu = %job.target, "YUV buffer not imported; converting it on the CPU");
            manager.remember_failure(no_import, err.to_string());
            cpu_copy(manager, job, budget, None)
        }
        Err(err) => Err(err),
    }
}

/// What a shadow slot's failure is remembered under: the GPU pair's path, or the client's
/// buffers on it.
struct ShadowKeys {
    path: FailureKey,
    buffer: FailureKey,
}

impl ShadowKeys {
    fn held_off(&self, manager: &GpuManager) -> bool {
        manager.path_failed(&self.path) || manager.path_failed(&self.buffer)
    }

    fn retry_due(&self, manager: &GpuManager) -> bool {
        !self.held_off(manager)
            && (manager.path_retry_due(&self.path) || manager.path_retry_due(&self.buffer))
    }
}

/// The copy paths to try for `job`, first choice first. An entry keeps the path it has (no
/// reallocation in steady frames) unless a path that failed before is due to be tried again; a
/// new entry takes the path the measured costs choose (module [`crate::gpu::path_costs`]). The
/// CPU copy is always last: it works whenever the source GPU can read the buffer (YUV only from
/// its mapping, converted on the CPU).
fn copy_order(
    manager: &GpuManager,
    job: &DmabufImport<'_>,
    existing: Option<&GpuEntry>,
    shadow: &ShadowKeys,
    cost_key: CostKey,
) -> &'static [PathKind] {
    let shadow_possible = !shadow.held_off(manager);
    let kept = existing
        .map(GpuEntry::path)
        .filter(|path| matches!(path, PathKind::Shadow | PathKind::CpuCopy));
    let first = match kept {
        Some(PathKind::CpuCopy) if shadow.retry_due(manager) => PathKind::Shadow,
        Some(path) if path != PathKind::Shadow || shadow_possible => path,
        _ => {
            let candidates: &[PathKind] = if shadow_possible {
                &[PathKind::Shadow, PathKind::CpuCopy]
            } else {
                &[PathKind::CpuCopy]
            };
            let bytes = damaged_bytes(
                &clip_damage(job.damage, job.dmabuf.size()),
                moved_bpp(job.dmabuf.format().code),
            );
            manager
                .choose_copy_path(cost_key, candidates, bytes)
                .unwrap_or(PathKind::CpuCopy)
        }
    };
    match first {
        PathKind::Shadow => &[PathKind::Shadow, PathKind::CpuCopy],
        _ => &[PathKind::CpuCopy],
    }
}

/// Imports the client's dmabuf on `gpu` itself; true with the entry when it replaced an
/// existing one with a new count (a reallocation).
fn direct_import(
    gpu: &mut Gpu,
    ledger: &Ledger,
    budget: &ClientBudget,
    job: &DmabufImport<'_>,
    existing: Option<GpuEntry>,
) -> Result<(GpuEntry, bool), TandemError> {
    let id = gpu.id();
    let bytes = dmabuf_bytes(job.dmabuf);
    // The same buffer, or the client's next buffer of its swapchain: the count carries over
    // instead of churning the ledger every frame.
    let carried = existing.as_ref().is_some_and(|entry| match &entry.content {
        EntryContent::Native {
            pinned: Some(pinned),
        } => pinned == job.dmabuf || entry._account.as_ref().is_some_and(|a| a.bytes() == bytes),
        _ => false,
    });
    let replacing = existing.is_some();
    let kept = match existing {
        Some(entry) if carried => Some(entry),
        replaced => {
            drop(replaced);
            budget.allow(bytes)?;
            None
        }
    };
    // smithay caches the import per dmabuf; importing again refreshes the EGLImage binding.
    let texture = gpu
        .renderer()
        .import_dmabuf(job.dmabuf, Some(job.damage))
        .map_err(TandemError::gles(id))?;
    gpu.track_import(job.dmabuf);
    if let Some(mut entry) = kept {
        entry.texture = texture;
        entry.content = EntryContent::Native {
            pinned: Some(job.dmabuf.clone()),
        };
        return Ok((entry, false));
    }
    let account = ledger.record(
        id,
        MemoryKind::PinnedClientBuffer,
        bytes,
        job.owner,
        gpu.released_counter(),
    );
    let entry = GpuEntry {
        gpu: id,
        texture,
        fourcc: job.dmabuf.format().code,
        content: EntryContent::Native {
            pinned: Some(job.dmabuf.clone()),
        },
        _account: Some(account),
    };
    Ok((entry, replacing))
}

/// Whether the target also refuses a 16x16 slot of the same format and modifier from the
/// source: then the refusal is the GPU pair's, not one buffer's or one moment's.
fn target_refuses_small_slot(
    manager: &mut GpuManager,
    job: &DmabufImport<'_>,
    fourcc: Fourcc,
    modifier: Modifier,
) -> bool {
    let Ok((source, target, _)) = manager.copy_parts(job.source, job.target) else {
        return false;
    };
    let Ok(probe) = source.allocator().allocate(16, 16, fourcc, &[modifier]) else {
        return false;
    };
    let refused = target.renderer().import_dmabuf(&probe, None).is_err();
    tracing::debug!(source = %job.source, target = %job.target, ?fourcc, ?modifier, refused, "small slot offered to the target");
    refused
}

fn shadow_copy(
    manager: &mut GpuManager,
    job: &DmabufImport<'_>,
    budget: &ClientBudget,
    existing: Option<GpuEntry>,
) -> Result<GpuEntry, TandemError> {
    let ledger = manager.ledger().clone();
    let operations = manager.operation_log();
    let (source, target, stats) = manager.copy_parts(job.source, job.target)?;
    let fourcc = job.dmabuf.format().code;
    let (source_gpu, target_gpu) = (source.id(), target.id());
    let no_path = || TandemError::NoCopyPath {
        source_gpu,
        target_gpu,
        fourcc,
    };
    if !source.quirks().exports_dmabufs {
        return Err(no_path());
    }
    let size = job.dmabuf.size();
    let damage = clip_damage(job.damage, size);
    let bpp = moved_bpp(fourcc);
    stats.shadow_damaged_bytes += damaged_bytes(&damage, bpp);
    // A kept slot is reused when the buffer would get the same key with the slot's modifier
    // (the GPUs' modifier lists are only asked for a new slot).
    let reusable = existing.as_ref().is_some_and(|e| {
        matches!(&e.content, EntryContent::Shadow(slot)
            if slot.key == SlotKey::for_client_buffer(job.dmabuf, slot.key.modifier, source.id()))
    });
    let (entry, rects) = match existing {
        Some(entry) if reusable => (entry, damage),
        previous => {
            let transfer = transfer_fourcc(fourcc);
            let producible = source.allocator().modifiers(transfer);
            let modifier = target
                .importable_modifiers(transfer)
                .into_iter()
                .find(|m| producible.contains(m))
                .ok_or_else(no_path)?;
            let key = SlotKey::for_client_buffer(job.dmabuf, modifier, source.id());
            // Replacing: the previous slot (if any) is released before the new one is made.
            stats.reallocations += u64::from(previous.is_some());
            drop(previous);
            budget.allow(image_bytes(size, bpp))?;
            let slot_buffer =
                source
                    .allocator()
                    .allocate(size.w as u32, size.h as u32, transfer, &[modifier])?;
            let slot_bytes = dmabuf_bytes(&slot_buffer);
            budget.allow(slot_bytes)?;
            let account = ledger.record(
                source.id(),
                MemoryKind::ShadowBuffer,
                slot_bytes,
                job.owner,
                source.released_counter(),
            );
            let slot = ShadowSlot {
                key,
                dmabuf: slot_buffer,
                _account: account,
            };
            let texture = target
                .renderer()
                .import_dmabuf(&slot.dmabuf, None)
                .map_err(|err| TandemError::SlotRefused {
                    source_gpu,
                    target_gpu,
                    fourcc: transfer,
                    modifier,
                    reason: err.to_string(),
                })?;
            target.track_import(&slot.dmabuf);
            stats.shadow_allocations += 1;
            tracing::debug!(source = %source.id(), target = %target.id(), ?size, "allocated shadow slot");
            let entry = GpuEntry {
                gpu: target.id(),
                texture,
                fourcc: transfer,
                content: EntryContent::Shadow(slot),
                _account: None,
            };
            (entry, ClippedDamage::one(Rectangle::from_size(size)))
        }
    };
    if rects.is_empty() {
        return Ok(entry);
    }
    let mut entry = entry;
    let EntryContent::Shadow(slot) = &entry.content else {
        unreachable!("shadow entries are built above");
    };
    // The slot is written only once the target's last frame that read it is over...
    if let Some(read) = &job.last_read {
        read.wait().map_err(|_| TandemError::Sync)?;
        operations.record(target.id(), OperationKind::WaitForReads);
    }
    let blitted = draw_into_slot(source, job.dmabuf, &slot.dmabuf, &rects)?;
    operations.record(source.id(), OperationKind::Write);
    // ...and the target binds the new content before it reads it (drivers without implicit
    // sync keep what they sampled before otherwise).
    entry.texture = target
        .renderer()
        .import_dmabuf(&slot.dmabuf, None)
        .map_err(TandemError::gles(target.id()))?;
    operations.record(target.id(), OperationKind::Rebind);
    stats.shadow_redraws += 1;
    stats.shadow_blits += u64::from(blitted);
    stats.shadow_bytes += damaged_bytes(&rects, bpp);
    Ok(entry)
}

/// Copies the damaged part of `client` into `slot` on the source GPU and waits until it is
/// done, so that the target GPU never samples a half-drawn slot; true when it was a
/// framebuffer blit (see [`blit`]).
fn draw_into_slot(
    source: &mut Gpu,
    client: &Dmabuf,
    slot: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<bool, TandemError> {
    let id = source.id();
    let gles = TandemError::gles(id);
    let client_texture = source
        .renderer()
        .import_dmabuf(client, None)
        .map_err(gles)?;
    source.track_import(client);
    let mut target = slot.clone();
    blit(source, &mut target, &client_texture, Some(client), rects)
}

fn cpu_copy(
    manager: &mut GpuManager,
    job: &DmabufImport<'_>,
    budget: &ClientBudget,
    existing: Option<GpuEntry>,
) -> Result<GpuEntry, TandemError> {
    let ledger = manager.ledger().clone();
    let operations = manager.operation_log();
    let mapped_reads = manager.mapped_reads_allowed();
    // A buffer converted for the GPU it lives on has no other GPU to read it back.
    let (mut source, target, stats) = if job.source == job.target {
        let (target, stats) = manager.gpu_and_stats(job.target)?;
        (None, target, stats)
    } else {
        let (source, target, stats) = manager.copy_parts(job.source, job.target)?;
        (Some(source), target, stats)
    };
    let size = job.dmabuf.size();
    let mut existing = existing;
    // The client buffers a surface's copy keeps mapped outlive a change of its staging.
    let mut mappings = match existing.as_mut().map(|entry| &mut entry.content) {
        Some(EntryContent::CpuCopy(copy)) => std::mem::take(&mut copy.mappings),
        Some(EntryContent::Planes(planes)) => std::mem::take(&mut planes.mappings),
        _ => Mappings::default(),
    };
    let mapped = mapped_reads && mappings.readable(job.dmabuf);
    if mapped && plane_copy::carries(job.dmabuf, target) {
        return plane_copy::copy(target, job, budget, &ledger, stats, existing, mappings);
    }
    let client_fourcc = job.dmabuf.format().code;
    let no_path = TandemError::NoCopyPath {
        source_gpu: job.source,
        target_gpu: job.target,
        fourcc: client_fourcc,
    };
    let reads_bgra = source.as_ref().is_some_and(|source| source.reads_bgra());
    let fourcc = staging_fourcc(client_fourcc, mapped, reads_bgra).ok_or(no_path)?;
    let bpp = bytes_per_pixel(fourcc).unwrap_or(4) as u64;
    let reusable = existing.as_ref().is_some_and(|e| {
        matches!(&e.content, EntryContent::CpuCopy(copy) if copy.source_gpu == job.source)
            && e.fourcc == fourcc
            && smithay::backend::renderer::Texture::size(&e.texture) == size
    });
    let damaged = clip_damage(job.damage, size);
    stats.cpu_damaged_bytes += damaged_bytes(&damaged, bpp);
    let mut read = ClientRead {
        client: job.dmabuf,
        gpu: job.source,
        fourcc,
        mapped: mapped.then_some(&mut mappings),
    };

    let replacing = existing.is_some() && !reusable;
    if let Some(mut entry) = existing.filter(|_| reusable) {
        let GpuEntry {
            texture,
            content: EntryContent::CpuCopy(copy),
            ..
        } = &mut entry
        else {
            unreachable!("checked above");
        };
        if copy.in_place {
            // The staging memory is the target's texture: written once its last read is over.
            if let Some(last_read) = &job.last_read {
                last_read.wait().map_err(|_| TandemError::Sync)?;
                operations.record(target.id(), OperationKind::WaitForReads);
            }
        } else if let Some(uploaded) = read.upload_mapped(target, texture, &damaged) {
            stats.cpu_copied_bytes += uploaded?;
            stats.cpu_mapped_reads += 1;
            stats.cpu_mapped_uploads += 1;
            copy.mappings = mappings;
            return Ok(entry);
        }
        let copied =
            read.fill_staging(source.as_deref_mut(), &damaged, &mut copy.staging, stats)?;
        if copy.in_place {
            operations.record(job.source, OperationKind::Write);
            if let Some(dmabuf) = copy.staging.dmabuf() {
                *texture = target
                    .renderer()
                    .import_dmabuf(dmabuf, None)
                    .map_err(TandemError::gles(target.id()))?;
                operations.record(target.id(), OperationKind::Rebind);
            }
        } else {
            upload(target, texture, copy.staging.bytes(), &damaged)?;
        }
        stats.cpu_copied_bytes += copied;
        copy.mappings = mappings;
        return Ok(entry);
    }

    // Not reusable: whatever was there is replaced by new memory.
    stats.reallocations += u64::from(replacing);
    let full = [Rectangle::from_size(size)];
    let staging_len = image_bytes(size, bpp);
    budget.allow(staging_len)?;
    let staging_account = ledger.record(
        target.id(),
        MemoryKind::CpuStaging,
        staging_len,
        job.owner,
        target.released_counter(),
    );
    let mut staging = StagingBuffer::new(size.w, size.h, fourcc)?;
    let copied = read.fill_staging(source, &full, &mut staging, stats)?;
    let (texture, in_place) = match import_staging(target, &staging) {
        Some(texture) => (texture, true),
        None => {
            // A texture of its own besides the staging, counted below.
            budget.allow(staging_len)?;
            let texture = target
                .renderer()
                .import_memory(staging.bytes(), fourcc, size, false)
                .map_err(TandemError::gles(target.id()))?;
            (texture, false)
        }
    };
    // An imported udmabuf is the staging memory itself, counted above.
    let texture_account = (!in_place).then(|| {
        ledger.record(
            target.id(),
            MemoryKind::NativeTexture,
            staging_len,
            job.owner,
            target.released_counter(),
        )
    });
    stats.cpu_copied_bytes += copied;
    Ok(GpuEntry {
        gpu: target.id(),
        texture,
        fourcc,
        content: EntryContent::CpuCopy(CpuCopy {
            source_gpu: job.source,
            staging,
            in_place,
            mappings,
            _account: staging_account,
        }),
        _account: texture_account,
    })
}

/// Bytes of a tightly packed image of `size` `bpp`-byte pixels (negative sizes count as empty).
fn image_bytes(size: smithay::utils::Size<i32, BufferCoord>, bpp: u64) -> u64 {
    size.w.max(0) as u64 * size.h.max(0) as u64 * bpp
}

/// Uploads `rects` of `image` (a tightly packed image of the texture's size) into `texture`.
fn upload(
    target: &mut Gpu,
    texture: &GlesTexture,
    image: &[u8],
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<(), TandemError> {
    for rect in rects {
        target
            .renderer()
            .update_memory(texture, image, *rect)
            .map_err(TandemError::gles(target.id()))?;
    }
    Ok(())
}

/// The format CPU-copy staging holds for a client buffer in `client`: what its mapping is
/// read into when it is read that way, else what the source GPU reads it back in; `None` when
/// neither can carry it (YUV).
fn staging_fourcc(client: Fourcc, mapped: bool, reads_bgra: bool) -> Option<Fourcc> {
    mapped
        .then(|| mapped_staging_fourcc(client))
        .flatten()
        .or_else(|| readback_fourcc(client, reads_bgra))
}

/// How one CPU copy reads a client's buffer.
struct ClientRead<'a> {
    client: &'a Dmabuf,
    /// The GPU the buffer lives on.
    gpu: GpuId,
    /// The byte order staging holds (see [`staging_fourcc`]).
    fourcc: Fourcc,
    /// The surface's kept mappings, when the buffer is read through its own mapping.
    mapped: Option<&'a mut Mappings>,
}

impl ClientRead<'_> {
    /// Uploads `rects` into `texture` straight from the client's mapping, when the buffer is
    /// read that way and its rows are tightly packed: one copy, no staging. Returns the bytes
    /// uploaded, or `None` when staging is needed.
    fn upload_mapped(
        &mut self,
        target: &mut Gpu,
        texture: &GlesTexture,
        rects: &[Rectangle<i32, BufferCoord>],
    ) -> Option<Result<u64, TandemError>> {
        let mappings = self.mapped.as_deref_mut()?;
        let layout = smithay::backend::renderer::Texture::format(texture)?;
        let bpp = bytes_per_pixel(layout)? as u64;
        with_mapped_image(self.client, mappings, layout, |memory, offset| {
            upload_from_client(target, texture, memory, offset, rects)
                .map(|()| damaged_bytes(rects, bpp))
        })
    }

    /// Reads `rects` of the client's buffer into `staging`: from the buffer's own mapping
    /// (module [`crate::texture::mapped`]; the client finished drawing before it committed),
    /// else read back on the source GPU. Returns the bytes written.
    fn fill_staging(
        &mut self,
        source: Option<&mut Gpu>,
        rects: &[Rectangle<i32, BufferCoord>],
        staging: &mut StagingBuffer,
        stats: &mut CopyStats,
    ) -> Result<u64, TandemError> {
        if let Some(mappings) = self.mapped.as_deref_mut() {
            staging.begin_write();
            let mapped = read_mapped(
                self.client,
                rects,
                staging.bytes_mut(),
                self.fourcc,
                mappings,
            );
            staging.end_write();
            if let Some(written) = mapped {
                stats.cpu_mapped_reads += 1;
                return Ok(written);
            }
        }
        let Some(source) = source else {
            return Err(TandemError::NoCopyPath {
                source_gpu: self.gpu,
                target_gpu: self.gpu,
                fourcc: self.client.format().code,
            });
        };
        read_into_staging(source, self.client, rects, staging, self.fourcc)
    }
}

/// The target's texture of a udmabuf staging buffer, when it imports one; a refusal is logged
/// and remembered, and uploads are used from then on.
pub(crate) fn import_staging(target: &mut Gpu, staging: &StagingBuffer) -> Option<GlesTexture> {
    let dmabuf = staging.dmabuf()?;
    if target.udmabuf_refused().is_some() {
        return None;
    }
    match target.renderer().import_dmabuf(dmabuf, None) {
        Ok(texture) => {
            target.track_import(dmabuf);
            Some(texture)
        }
        Err(err) => {
            tracing::info!(gpu = %target.id(), %err, "GPU cannot import udmabuf staging; uploading from it");
            target.set_udmabuf_refused(err.to_string());
            None
        }
    }
}

/// Reads `rects` of `client` on the source GPU into `staging` (in byte order `into`), telling
/// the kernel about the CPU's writes; returns the bytes written into `staging`.
pub(crate) fn read_into_staging(
    source: &mut Gpu,
    client: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut StagingBuffer,
    into: Fourcc,
) -> Result<u64, TandemError> {
    staging.begin_write();
    let result = read_back(source, client, rects, staging.bytes_mut(), into);
    staging.end_write();
    result
}
