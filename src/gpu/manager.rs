//! The GpuManager: owns every GPU, the ledger, remembered copy failures, output intermediates,
//! and the per-frame cleanup.
//!
//! The compositor owns one `GpuManager`. It creates [`MultiRenderer`](crate::MultiRenderer)s
//! from it (each borrows the manager mutably for one import or one frame), calls
//! [`GpuManager::cleanup`] once per frame and after surface destruction, and adds or removes GPUs
//! as udev reports them.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::{Dmabuf, WeakDmabuf};
use smithay::backend::allocator::Fourcc;
use smithay::backend::egl::{EGLContext, EGLDisplay};
use smithay::backend::renderer::gles::GlesRenderer;

use super::budget::{Budget, ClientBudget};
use super::clock::{Clock, SystemClock};
use super::failures::{FailureKey, FailureMemory, PathFailure};
use super::format_probe::FormatProbes;
use super::operations::{Operation, OperationLog};
use super::parking::{ParkedGpu, Parking, ParkingStats, ReopenGpu};
use super::path_costs::{CopyCost, CostKey, PathCosts};
use super::recovery::Recovery;
use super::soft::{software_egl_display, MemfdAllocator};
use super::DmabufAllocator as _;
use super::{Gpu, GpuId, Quirks};
use crate::error::TandemError;
use crate::ledger::Ledger;
use crate::renderer::frame_copy::FrameCopies;
use crate::renderer::intermediate::{OutputFeed, OutputIntermediate, OutputKey};
use crate::renderer::MultiRenderer;
use crate::surface::SurfaceTracker;
use crate::texture::TextureRegistry;
use crate::texture::{EntryContent, PathKind};

/// Counters of the copy paths, for tests and the stress test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Shadow slots allocated (a steady window allocates one, then none).
    pub shadow_allocations: u64,
    /// Slot redraws on the source GPU.
    pub shadow_redraws: u64,
    /// Of those, the ones copied by a framebuffer blit (rows moved as memory) rather than drawn.
    pub shadow_blits: u64,
    /// Bytes drawn into shadow slots.
    pub shadow_bytes: u64,
    /// Damaged bytes (clipped to the buffer) of the frames that went through shadow slots.
    pub shadow_damaged_bytes: u64,
    /// Bytes read back by the CPU copy path, counted as they are copied out of each readback.
    pub cpu_copied_bytes: u64,
    /// Damaged bytes the CPU copy path was asked to move.
    pub cpu_damaged_bytes: u64,
    /// CPU copies read from the client buffer's own mapping (a linear buffer of memory that
    /// cannot shrink), with no GPU readback.
    pub cpu_mapped_reads: u64,
    /// Of those, the copies the target uploaded straight from the client's mapping, with no
    /// staging copy (staging not sampled in place, the client's rows tightly packed).
    pub cpu_mapped_uploads: u64,
    /// Client dmabufs imported directly by a GPU that did not allocate them.
    pub direct_foreign_imports: u64,
    /// Output intermediates allocated.
    pub intermediate_allocations: u64,
    /// Bytes copied from output intermediates to their target.
    pub intermediate_bytes: u64,
    /// Bytes of output intermediates read back for CPU copies (counted as they are copied).
    pub intermediate_readback_bytes: u64,
    /// Copy-path failures remembered (a key failing again while remembered is not counted
    /// again).
    pub path_failures: u64,
    /// Bytes copied out of shm pools before an upload (only the damaged rows of a texture
    /// updated in place).
    pub shm_copied_bytes: u64,
    /// Allocations that replaced a GPU's existing texture, slot or staging of a buffer, counted
    /// where they are made (a window whose size and format stay the same needs none).
    pub reallocations: u64,
    /// CPU copies of YUV buffers that moved their planes as they are, to be converted by the
    /// drawing GPU's frames (no conversion on the CPU).
    pub yuv_plane_copies: u64,
}

/// Owns every GPU (see the module docs).
pub struct GpuManager {
    gpus: Vec<Gpu>,
    software_display: Option<EGLDisplay>,
    next_software_index: u32,
    ledger: Ledger,
    pub(super) failed_paths: FailureMemory,
    origins: HashMap<WeakDmabuf, GpuId>,
    intermediates: HashMap<OutputKey, OutputIntermediate>,
    pub(super) stats: CopyStats,
    /// CPU copies read client buffers through their own mapping when they can.
    mapped_reads: bool,
    /// Measured costs of the copy paths.
    path_costs: PathCosts,
    /// A copy path new entries take whatever the measured costs say, while it works.
    pinned_copy_path: Option<PathKind>,
    textures: TextureRegistry,
    destruction_hook_enabled: Arc<AtomicBool>,
    parking: Parking,
    /// When lost GPUs are tried again.
    recovery: Recovery,
    operations: OperationLog,
    /// Where shm imports copy a buffer's rows out of its pool, kept for the next upload.
    shm_scratch: Vec<u8>,
    /// What copies of finished frames into capture buffers keep.
    pub(crate) frame_copies: FrameCopies,
    /// The most GPU memory one client's surfaces may hold, and who it does not limit.
    budget: Budget,
    /// What back-off and idle parking read the time from.
    clock: Arc<dyn Clock>,
    /// The formats each GPU's clients may send, as last probed.
    pub(super) format_probes: FormatProbes,
    /// A format probe is running: its failures are its report, not warnings.
    pub(super) probing_formats: bool,
}

impl std::fmt::Debug for GpuManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuManager")
            .field("gpus", &self.gpus)
            .finish_non_exhaustive()
    }
}

impl Default for GpuManager {
    fn default() -> Self {
        Self::new()
    }
}

/// Software GPUs move pixels in memfd dmabufs; llvmpipe imports them only from Mesa 24 on.
fn check_memfd_import(renderer: &mut GlesRenderer) -> Result<(), TandemError> {
    use smithay::backend::allocator::Modifier;
    use smithay::backend::renderer::{ImportDma, Renderer};

    let probe = MemfdAllocator.allocate(4, 4, Fourcc::Argb8888, &[Modifier::Linear])?;
    let imported = renderer.import_dmabuf(&probe, None).map(drop);
    drop(probe);
    // The probe's import must not outlive the probe: the new GPU starts with nothing held.
    renderer.cleanup_texture_cache()?;
    imported.map_err(|err| TandemError::MesaTooOld(err.to_string()))
}

impl GpuManager {
    /// A manager with no GPU yet.
    pub fn new() -> GpuManager {
        GpuManager {
            gpus: Vec::new(),
            software_display: None,
            next_software_index: 0,
            ledger: Ledger::default(),
            failed_paths: FailureMemory::default(),
            origins: HashMap::new(),
            intermediates: HashMap::new(),
            stats: CopyStats::default(),
            mapped_reads: true,
            path_costs: PathCosts::default(),
            pinned_copy_path: None,
            textures: TextureRegistry::default(),
            destruction_hook_enabled: Arc::new(AtomicBool::new(true)),
            parking: Parking::default(),
            recovery: Recovery::default(),
            operations: OperationLog::default(),
            shm_scratch: Vec::new(),
            frame_copies: FrameCopies::default(),
            budget: Budget::default(),
            clock: Arc::new(SystemClock),
            format_probes: FormatProbes::default(),
            probing_formats: false,
        }
    }

    /// Adds a software GPU: a fresh llvmpipe EGL context with a memfd allocator.
    pub fn add_software_gpu(&mut self, quirks: Quirks) -> Result<GpuId, TandemError> {
        let id = GpuId::Software(self.next_software_index);
        let gpu = self.open_software_gpu(id, quirks)?;
        self.next_software_index += 1;
        self.add_gpu(gpu);
        tracing::info!(gpu = %id, "added software GPU");
        Ok(id)
    }

    fn open_software_gpu(&mut self, id: GpuId, quirks: Quirks) -> Result<Gpu, TandemError> {
        let display = match &self.software_display {
            Some(display) => display.clone(),
            None => {
                let display = software_egl_display()?;
                self.software_display = Some(display.clone());
                display
            }
        };
        let context = EGLContext::new(&display)?;
        // SAFETY: the context is fresh and only used by this renderer.
        let mut renderer = unsafe { GlesRenderer::new(context) }.map_err(TandemError::gles(id))?;
        check_memfd_import(&mut renderer)?;
        Ok(Gpu::new(id, renderer, Box::new(MemfdAllocator), quirks))
    }

    /// Adds a GPU built elsewhere (e.g. by [`open_drm_gpu`](super::open_drm_gpu)). A GPU with
    /// the same id is removed first, with everything it held.
    pub fn add_gpu(&mut self, gpu: Gpu) {
        self.parking.forget(gpu.id());
        if self.index(gpu.id()).is_ok() {
            if let Err(err) = self.remove_gpu(gpu.id()) {
                tracing::warn!(%err, gpu = %gpu.id(), "removing the GPU it replaces");
            }
        }
        self.gpus.push(gpu);
        self.format_probes.clear();
    }

    /// Removes a GPU and releases everything held on it: its textures in every surface, its
    /// slots, its output intermediates and finally its context.
    pub fn remove_gpu(&mut self, id: GpuId) -> Result<(), TandemError> {
        self.parking.reopen.remove(&id);
        self.recovery.forget(id);
        if self.parking.parked.contains_key(&id) {
            self.parking.forget(id);
            self.failed_paths.forget_gpu(id);
            self.path_costs.forget_gpu(id);
            self.origins.retain(|_, gpu| *gpu != id);
            tracing::info!(gpu = %id, "removed parked GPU");
            return Ok(());
        }
        self.parking.forget(id);
        self.frame_copies.forget_gpu(id);
        let index = self.index(id)?;
        // Entries of other GPUs that read from this one (shadow slots, CPU copies) are
        // imported again below from the client's buffer, so static windows stay drawn.
        let mut reimport = Vec::new();
        for texture in self.textures.textures() {
            let mut state = texture.lock();
            let released = state.take_gpu(id);
            if state.client_buffer.is_some() {
                let lost = released.entries.iter().map(|entry| entry.gpu);
                reimport.extend(
                    lost.filter(|gpu| *gpu != id)
                        .map(|gpu| (texture.clone(), gpu)),
                );
            }
            drop(state);
            drop(released);
        }
        self.intermediates
            .retain(|key, _| key.render != id && key.target != id);
        self.failed_paths.forget_gpu(id);
        self.path_costs.forget_gpu(id);
        self.origins.retain(|_, gpu| *gpu != id);
        let mut gpu = self.gpus.remove(index);
        tracing::debug!(gpu = %id, "removing GPU: freeing its GL objects");
        // A failure marks it lost (logged); it goes all the same, and the others are cleaned.
        let _ = gpu.cleanup();
        tracing::debug!(gpu = %id, "removing GPU: dropping its context");
        drop(gpu);
        for other in &mut self.gpus {
            let _ = other.cleanup();
        }
        for (texture, gpu) in reimport {
            self.reimport(&texture, gpu);
        }
        tracing::info!(gpu = %id, "removed GPU");
        Ok(())
    }

    /// Imports `texture`'s client buffer again on `gpu`, whose entry read from a GPU that went
    /// away. A GPU that cannot import it shows the window again at the client's next commit.
    fn reimport(&mut self, texture: &crate::MultiTexture, gpu: GpuId) {
        let Some(buffer) = texture.lock().client_buffer.clone() else {
            return;
        };
        let whole = [smithay::utils::Rectangle::from_size(
            smithay::backend::allocator::Buffer::size(&buffer),
        )];
        let result = self
            .renderer(gpu)
            .and_then(|mut renderer| renderer.import_dmabuf_into(texture, &buffer, &whole));
        match result {
            Ok(()) => tracing::debug!(%gpu, "window imported again after its buffer's GPU went"),
            Err(err) => tracing::info!(%gpu, %err,
                "window not shown until its next commit: its buffer's GPU went"),
        }
    }

    /// Opens again the lost GPUs that are due (a second after the loss was seen, then after
    /// twice the last wait, at most 5 minutes): software GPUs by
    /// the manager itself, DRM GPUs through the closure given to [`set_reopen`](Self::set_reopen)
    /// (one with none stays lost until it is removed). The new GPU takes the lost one's id and
    /// place; what the lost one held goes as when a GPU is removed, and windows are imported
    /// again on it at their next frame. Returns the GPUs opened again.
    pub fn recover_lost_gpus(&mut self) -> Vec<GpuId> {
        let now = self.clock.now();
        let lost: Vec<(GpuId, Quirks)> = self
            .gpus
            .iter()
            .filter(|gpu| gpu.lost().is_some())
            .map(|gpu| (gpu.id(), gpu.quirks()))
            .collect();
        let mut recovered = Vec::new();
        for (id, quirks) in lost {
            if !self.recovery.due(id, now) {
                continue;
            }
            let opened = match id {
                GpuId::Software(_) => self.open_software_gpu(id, quirks),
                GpuId::Drm(_) => match self.parking.reopen.get_mut(&id) {
                    Some(reopen) => reopen().map(|mut gpu| {
                        gpu.set_quirks(quirks);
                        gpu
                    }),
                    None => {
                        self.recovery.failed(id, now);
                        continue;
                    }
                },
            };
            let gpu = match opened {
                Ok(gpu) => gpu,
                Err(err) => {
                    tracing::warn!(gpu = %id, %err, "a lost GPU could not be opened again");
                    self.recovery.failed(id, now);
                    continue;
                }
            };
            let position = self.index(id).unwrap_or(self.gpus.len());
            let reopen = self.parking.reopen.remove(&id);
            if let Err(err) = self.remove_gpu(id) {
                tracing::warn!(gpu = %id, %err, "removing the lost GPU before opening it again");
            }
            self.gpus.insert(position.min(self.gpus.len()), gpu);
            if let Some(reopen) = reopen {
                self.parking.reopen.insert(id, reopen);
            }
            self.recovery.forget(id);
            self.recovery.recovered += 1;
            tracing::info!(gpu = %id, "opened a lost GPU again");
            recovered.push(id);
        }
        recovered
    }

    /// Lost GPUs opened again so far.
    pub fn recovered_gpus(&self) -> u64 {
        self.recovery.recovered
    }

    /// Makes back-off of failed copy paths and idle parking read the time from `clock` (the
    /// system's monotonic clock by default); tests move a [`ManualClock`](super::ManualClock)
    /// instead of sleeping.
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// Ids of the awake GPUs, in the order they were added (a woken GPU takes its old place).
    pub fn gpu_ids(&self) -> Vec<GpuId> {
        self.gpus.iter().map(Gpu::id).collect()
    }

    /// A GPU, woken first if it was parked.
    pub fn gpu(&mut self, id: GpuId) -> Result<&mut Gpu, TandemError> {
        let index = self.awake_index(id)?;
        Ok(&mut self.gpus[index])
    }

    /// Tells the manager how to open `gpu` again after parking it; a DRM GPU is parked only
    /// once its opener registered this (software GPUs are reopened by the manager).
    pub fn set_reopen(&mut self, gpu: GpuId, reopen: ReopenGpu) {
        self.parking.reopen.insert(gpu, reopen);
    }

    /// Parks `gpu`: drops its renderer (its EGL context) and allocator (and with them the
    /// device fds they hold). Refused while anything lives on it: memory in the ledger, an
    /// output intermediate, a texture in a surface; or when nobody said how to reopen it.
    pub fn park(&mut self, id: GpuId) -> Result<(), TandemError> {
        let refuse = |reason: &str| TandemError::CannotPark {
            gpu: id,
            reason: reason.to_owned(),
        };
        let index = self.index(id)?;
        if matches!(id, GpuId::Drm(_)) && !self.parking.reopen.contains_key(&id) {
            return Err(refuse("nobody said how to reopen it"));
        }
        let bytes = self.ledger.snapshot().gpu(id).bytes();
        if bytes > 0 {
            return Err(refuse(&format!("{bytes} bytes live on it")));
        }
        if self
            .intermediates
            .keys()
            .any(|key| key.render == id || key.target == id)
        {
            return Err(refuse("an output is drawn through it"));
        }
        let mut textures = 0;
        self.textures.for_each(|state| {
            textures += usize::from(state.entry(id).is_some());
        });
        if textures > 0 {
            return Err(refuse(&format!("{textures} surfaces have a texture on it")));
        }
        // The ends of its last frames hold its EGL display (and device fds) open.
        for texture in self.textures.textures() {
            let released = texture.lock().take_last_read(id);
            drop(released);
        }
        let mut gpu = self.gpus.remove(index);
        gpu.cleanup()?;
        let quirks = gpu.quirks();
        drop(gpu);
        self.parking.idle_since.remove(&id);
        self.parking.parks += 1;
        self.parking.parked.insert(
            id,
            ParkedGpu {
                quirks,
                position: index,
                since: self.clock.now(),
            },
        );
        tracing::info!(gpu = %id, "parked idle GPU: its context and device fds are closed");
        Ok(())
    }

    /// Opens a parked GPU again; returns how long that took.
    pub fn wake(&mut self, id: GpuId) -> Result<std::time::Duration, TandemError> {
        let Some(parked) = self.parking.parked.get(&id) else {
            return Err(TandemError::UnknownGpu(id));
        };
        let (quirks, position) = (parked.quirks, parked.position);
        let parked_for = self.clock.now().saturating_duration_since(parked.since);
        let started = std::time::Instant::now();
        let gpu = match id {
            GpuId::Software(_) => self.open_software_gpu(id, quirks)?,
            GpuId::Drm(_) => {
                let reopen = self
                    .parking
                    .reopen
                    .get_mut(&id)
                    .ok_or(TandemError::UnknownGpu(id))?;
                let mut gpu = reopen()?;
                gpu.set_quirks(quirks);
                gpu
            }
        };
        let took = started.elapsed();
        self.parking.parked.remove(&id);
        self.gpus.insert(position.min(self.gpus.len()), gpu);
        self.parking.wakes += 1;
        self.parking.last_wake.insert(id, took);
        tracing::info!(gpu = %id, ?took, ?parked_for, "woke parked GPU");
        Ok(took)
    }

    /// Parks every GPU that `needed` does not claim, that holds nothing, and that has been so
    /// for `after`; returns the GPUs parked by this call.
    pub fn park_idle(
        &mut self,
        needed: &dyn Fn(GpuId) -> bool,
        after: std::time::Duration,
    ) -> Vec<GpuId> {
        let now = self.clock.now();
        let mut parked = Vec::new();
        for id in self.gpu_ids() {
            let reopenable =
                matches!(id, GpuId::Software(_)) || self.parking.reopen.contains_key(&id);
            let holds_nothing = self.ledger.snapshot().gpu(id).bytes() == 0
                && !self
                    .intermediates
                    .keys()
                    .any(|key| key.render == id || key.target == id);
            let needed = needed(id);
            tracing::trace!(gpu = %id, reopenable, needed, holds_nothing, "idle check");
            if !reopenable || needed || !holds_nothing {
                self.parking.idle_since.remove(&id);
                continue;
            }
            if !self.parking.idle_for(id, after, now) {
                continue;
            }
            match self.park(id) {
                Ok(()) => parked.push(id),
                Err(err) => {
                    tracing::debug!(%err, "not parked");
                    self.parking.idle_since.remove(&id);
                }
            }
        }
        parked
    }

    /// The quirks of `gpu`, awake or parked (without waking it).
    pub fn quirks_of(&self, gpu: GpuId) -> Option<Quirks> {
        match self.parking.parked.get(&gpu) {
            Some(parked) => Some(parked.quirks),
            None => self.index(gpu).ok().map(|index| self.gpus[index].quirks()),
        }
    }

    /// Is `gpu` parked (no context, no fds) right now?
    pub fn is_parked(&self, gpu: GpuId) -> bool {
        self.parking.parked.contains_key(&gpu)
    }

    /// Ids of the parked GPUs.
    pub fn parked_gpu_ids(&self) -> Vec<GpuId> {
        let mut ids: Vec<_> = self.parking.parked.keys().copied().collect();
        ids.sort_by_key(|id| self.parking.parked[id].position);
        ids
    }

    /// How long `gpu`'s last wake took, if it was ever woken.
    pub fn last_wake(&self, gpu: GpuId) -> Option<std::time::Duration> {
        self.parking.last_wake.get(&gpu).copied()
    }

    /// Parks and wakes so far.
    pub fn parking_stats(&self) -> ParkingStats {
        ParkingStats {
            parks: self.parking.parks,
            wakes: self.parking.wakes,
        }
    }

    /// The index of `id`, woken first if it was parked.
    pub(crate) fn awake_index(&mut self, id: GpuId) -> Result<usize, TandemError> {
        if self.parking.parked.contains_key(&id) {
            self.wake(id)?;
        }
        self.index(id)
    }

    pub(crate) fn index(&self, id: GpuId) -> Result<usize, TandemError> {
        self.gpus
            .iter()
            .position(|g| g.id() == id)
            .ok_or(TandemError::UnknownGpu(id))
    }

    /// The awake GPU `id`. GPUs are found by id on every use, never by a position kept from
    /// before: waking a parked GPU puts it back at its old place, before others.
    pub(crate) fn awake_gpu(&mut self, id: GpuId) -> Result<&mut Gpu, TandemError> {
        self.gpus
            .iter_mut()
            .find(|gpu| gpu.id() == id)
            .ok_or(TandemError::UnknownGpu(id))
    }

    /// The awake GPU `id`, to read.
    pub(crate) fn awake_gpu_ref(&self, id: GpuId) -> Result<&Gpu, TandemError> {
        self.gpus
            .iter()
            .find(|gpu| gpu.id() == id)
            .ok_or(TandemError::UnknownGpu(id))
    }

    /// An awake GPU, mutably, with the copy counters.
    pub(crate) fn gpu_and_stats(
        &mut self,
        id: GpuId,
    ) -> Result<(&mut Gpu, &mut CopyStats), TandemError> {
        let gpu = self
            .gpus
            .iter_mut()
            .find(|gpu| gpu.id() == id)
            .ok_or(TandemError::UnknownGpu(id))?;
        Ok((gpu, &mut self.stats))
    }

    /// Two distinct awake GPUs, mutably, with the copy counters.
    pub(crate) fn copy_parts(
        &mut self,
        a: GpuId,
        b: GpuId,
    ) -> Result<(&mut Gpu, &mut Gpu, &mut CopyStats), TandemError> {
        let (a_index, b_index) = (self.index(a)?, self.index(b)?);
        if a_index == b_index {
            return Err(TandemError::SameGpu(a));
        }
        let stats = &mut self.stats;
        if a_index < b_index {
            let (left, right) = self.gpus.split_at_mut(b_index);
            Ok((&mut left[a_index], &mut right[0], stats))
        } else {
            let (left, right) = self.gpus.split_at_mut(a_index);
            Ok((&mut right[0], &mut left[b_index], stats))
        }
    }

    /// Whether CPU copies read a client's linear buffer through its own mapping (on by default;
    /// see `CopyStats::cpu_mapped_reads`). Off, every CPU copy is a readback on the source GPU.
    pub fn set_mapped_reads(&mut self, enabled: bool) {
        self.mapped_reads = enabled;
    }

    /// The VRAM ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Copy path counters since the manager was made.
    pub fn stats(&self) -> CopyStats {
        self.stats
    }

    /// Records which GPU's memory a client dmabuf lives in (the compositor knows it from the
    /// socket or linux-dmabuf global the client used). Unknown dmabufs are taken to live on the
    /// GPU of their DRM node, or on the GPU that imports them.
    pub fn set_dmabuf_origin(&mut self, dmabuf: &Dmabuf, gpu: GpuId) {
        self.origins.insert(dmabuf.weak(), gpu);
    }

    /// Checks that `gpu` can import a client's dmabuf (what linux-dmabuf's `create` must know
    /// before it answers) and records that the buffer lives there. The buffer's format must be
    /// one `gpu`'s clients are offered ([`carried_formats`](Self::carried_formats)); an import
    /// that fails anyway is remembered for `client`'s buffers of that format on that GPU, which
    /// are refused while it is held off. The test import stays in the renderer's cache while the
    /// buffer lives and is freed by [`cleanup`](Self::cleanup) after.
    pub fn accept_client_dmabuf(
        &mut self,
        dmabuf: &Dmabuf,
        gpu: GpuId,
        client: Option<&smithay::reexports::wayland_server::backend::ClientId>,
    ) -> Result<(), TandemError> {
        use smithay::backend::allocator::Buffer;
        use smithay::backend::renderer::ImportDma;

        if matches!(gpu, GpuId::Software(_)) {
            super::soft::check_client_memfd(dmabuf)?;
        }
        let format = dmabuf.format();
        let not_offered = |reason| TandemError::FormatNotOffered {
            gpu,
            format,
            reason,
        };
        if !self.offers_format(gpu, format)? {
            return Err(not_offered(
                "not among the formats this GPU's clients are offered",
            ));
        }
        let failed_import = FailureKey {
            source: gpu,
            target: gpu,
            fourcc: format.code,
            modifier: format.modifier,
            path: PathKind::Native,
            client: client.cloned(),
        };
        if self.path_failed(&failed_import) {
            return Err(not_offered(
                "a buffer of this format failed to import a moment ago",
            ));
        }
        // A format the GPU shows only by converting it on the CPU is checked by mapping it.
        if self.converts_format(gpu, format) {
            return if crate::texture::mapped::mappable(dmabuf) {
                self.set_dmabuf_origin(dmabuf, gpu);
                Ok(())
            } else {
                Err(not_offered(
                    "its memory cannot be read by the CPU, which converts this format",
                ))
            };
        }
        let target = self.gpu(gpu)?;
        let imported = target.renderer().import_dmabuf(dmabuf, None);
        if let Err(err) = imported {
            let err = TandemError::Gles { gpu, source: err };
            self.remember_failure(failed_import, err.to_string());
            return Err(err);
        }
        target.track_import(dmabuf);
        self.set_dmabuf_origin(dmabuf, gpu);
        Ok(())
    }

    /// The GPU whose memory `dmabuf` lives in, as recorded or as its DRM node says.
    pub fn dmabuf_origin(&self, dmabuf: &Dmabuf) -> Option<GpuId> {
        if let Some(gpu) = self.origins.get(&dmabuf.weak()) {
            return Some(*gpu);
        }
        // GBM buffers carry their device's primary node; GPUs are named by render node.
        let node = dmabuf.node()?;
        let render = node
            .node_with_type(smithay::backend::drm::NodeType::Render)
            .and_then(Result::ok)
            .unwrap_or(node);
        self.gpus
            .iter()
            .map(Gpu::id)
            .find(|id| matches!(id, GpuId::Drm(n) if n.dev_id() == render.dev_id()))
    }

    pub(crate) fn path_failed(&self, key: &FailureKey) -> bool {
        self.failed_paths.holds_off(key, self.clock.now())
    }

    /// A path that failed before and whose back-off is over: due to be tried again.
    pub(crate) fn path_retry_due(&self, key: &FailureKey) -> bool {
        self.failed_paths.remembers(key) && !self.path_failed(key)
    }

    /// Makes new entries take `path` (a shadow slot or a CPU copy) while it works, instead of
    /// the path the measured costs choose; `None` lets the costs choose again. For benchmarks
    /// that time one path, and for comparing paths by hand.
    pub fn pin_copy_path(&mut self, path: Option<PathKind>) {
        self.pinned_copy_path = path;
    }

    /// What each copy path has cost so far, per GPU pair, format and modifier: a fixed cost and
    /// a cost per MiB fitted to the copies measured (recent ones weigh most). New entries take
    /// the cheaper path for their damage once both are measured.
    pub fn copy_costs(&self) -> Vec<CopyCost> {
        self.path_costs.report()
    }

    pub(crate) fn remember_failure(&mut self, key: FailureKey, reason: String) {
        if self.probing_formats {
            // The probe reports what it could not carry itself (format_probe).
            tracing::debug!(source = %key.source, target = %key.target, fourcc = ?key.fourcc,
                modifier = ?key.modifier, path = ?key.path, %reason, "probe: path failed");
        } else {
            tracing::warn!(source = %key.source, target = %key.target, fourcc = ?key.fourcc,
                modifier = ?key.modifier, path = ?key.path, client = ?key.client, %reason,
                "copy path failed; held off for a while");
        }
        if self.failed_paths.record(key, reason, self.clock.now()) {
            self.stats.path_failures += 1;
        }
    }

    pub(crate) fn path_succeeded(&mut self, key: &FailureKey) {
        self.failed_paths.succeeded(key);
    }

    /// Forgets the copy-path failures of `client`'s buffers, for a compositor that learns of a
    /// client's departure first; [`cleanup`](Self::cleanup) forgets them by itself once every
    /// surface of the client is destroyed.
    pub fn forget_client(
        &mut self,
        client: &smithay::reexports::wayland_server::backend::ClientId,
    ) {
        self.failed_paths.forget_client(client);
    }

    /// Limits the GPU memory one client's surfaces may hold (`None`: no limit). An import or
    /// copy that would take a client past it fails with [`TandemError::OverBudget`]; what the
    /// client holds already stays.
    pub fn set_client_budget(&mut self, bytes: Option<u64>) {
        self.budget.set_limit(bytes);
    }

    /// Exempts `client` from the budget: a client that shows many programs' windows, such as
    /// Xwayland (each X11 program would otherwise share one program's budget). Ended with
    /// [`GpuManager::end_budget_exemption`] when the client goes.
    pub fn exempt_from_budget(
        &mut self,
        client: smithay::reexports::wayland_server::backend::ClientId,
    ) {
        self.budget.exempt(client);
    }

    /// Ends `client`'s exemption from the budget.
    pub fn end_budget_exemption(
        &mut self,
        client: &smithay::reexports::wayland_server::backend::ClientId,
    ) {
        self.budget.end_exemption(client);
    }

    /// Fails if `client` may not hold `wanted` more bytes.
    pub fn check_budget(
        &self,
        client: Option<&smithay::reexports::wayland_server::backend::ClientId>,
        wanted: u64,
    ) -> Result<(), TandemError> {
        self.client_budget(client).allow(wanted)
    }

    /// `client`'s budget, asked before each allocation made for it.
    pub(crate) fn client_budget(
        &self,
        client: Option<&smithay::reexports::wayland_server::backend::ClientId>,
    ) -> ClientBudget {
        self.budget.of(&self.ledger, client)
    }

    /// Starts recording the operations on buffers two GPUs share ([`Operation`]: who waited,
    /// wrote, re-bound and read, in order); for tests of the coherency rule.
    pub fn record_operations(&self) {
        self.operations.start();
    }

    /// The operations recorded since the last call.
    pub fn take_operations(&self) -> Vec<Operation> {
        self.operations.take()
    }

    /// The copy-path failures remembered now, each with when it will be tried again.
    pub fn path_failures(&self) -> Vec<PathFailure> {
        self.failed_paths.list(self.clock.now())
    }

    pub(crate) fn texture_registry(&self) -> &TextureRegistry {
        &self.textures
    }

    /// A renderer that draws on `gpu` for a target on the same GPU.
    pub fn renderer(&mut self, gpu: GpuId) -> Result<MultiRenderer<'_>, TandemError> {
        self.cross_renderer(gpu, gpu, None)
    }

    /// A renderer that draws on `render` for an output whose buffers live on `target`. `output`
    /// names the output so that its intermediate buffers are kept per output.
    pub fn cross_renderer(
        &mut self,
        render: GpuId,
        target: GpuId,
        output: Option<&str>,
    ) -> Result<MultiRenderer<'_>, TandemError> {
        self.awake_index(render)?;
        self.awake_index(target)?;
        for id in [render, target] {
            if let Some(reason) = self.awake_gpu_ref(id)?.lost() {
                return Err(TandemError::GpuLost {
                    gpu: id,
                    reason: reason.to_owned(),
                });
            }
        }
        let context = self.awake_gpu_ref(render)?.context_id();
        let output = output.map(|name| OutputKey {
            name: name.to_owned(),
            render,
            target,
        });
        Ok(MultiRenderer::new(self, render, target, context, output))
    }

    /// An empty MultiTexture that belongs to no surface (its entries are filled by
    /// [`MultiRenderer::update_dmabuf`] and the import traits).
    pub fn new_texture(&self) -> crate::MultiTexture {
        let texture = crate::MultiTexture::new(None);
        self.textures.register(&texture);
        texture
    }

    /// How the output named `name` is fed from another GPU, once it drew a frame that way
    /// (`None` for outputs drawn by their own GPU).
    pub fn output_feed(&self, name: &str) -> Option<OutputFeed> {
        self.intermediates
            .iter()
            .filter(|(key, _)| key.name == name)
            .find_map(|(_, intermediate)| intermediate.feed().cloned())
    }

    /// Releases the intermediates of an output that went away.
    pub fn remove_output(&mut self, name: &str) {
        self.intermediates.retain(|key, _| key.name != name);
    }

    /// The hook registrar for new surfaces (see [`SurfaceTracker`]).
    pub fn surface_tracker(&self) -> SurfaceTracker {
        SurfaceTracker::new(self.destruction_hook_enabled.clone(), self.textures.clone())
    }

    /// Drains deferred GL deletes on the GPUs that have something to free, and only on those.
    /// Returns the GPUs whose context was made current. Safe to call when nothing renders. A
    /// GPU whose context fails is marked lost ([`Gpu::lost`]) and skipped from then on; the
    /// others are cleaned all the same.
    pub fn cleanup(&mut self) -> Result<Vec<GpuId>, TandemError> {
        self.origins.retain(|weak, _| !weak.is_gone());
        self.frame_copies.forget_gone();
        self.textures.prune();
        if self.failed_paths.has_client_failures() {
            let live = self.textures.clients_with_surfaces();
            self.failed_paths.forget_clients_except(&live);
        }
        self.recover_lost_gpus();
        // A surface that commits nothing more keeps no destroyed client buffer mapped.
        self.textures.for_each(|state| {
            for entry in state.entries_mut() {
                match &mut entry.content {
                    EntryContent::CpuCopy(copy) => copy.mappings.forget_gone(),
                    EntryContent::Planes(planes) => planes.mappings.forget_gone(),
                    _ => {}
                }
            }
        });
        let mut touched = Vec::new();
        for gpu in &mut self.gpus {
            // A GPU that fails is marked lost (and logged) by its own cleanup; the others go on.
            if let Ok(true) = gpu.cleanup() {
                touched.push(gpu.id());
            }
        }
        if !touched.is_empty() {
            tracing::trace!(?touched, "cleanup freed deferred GL objects");
        }
        Ok(touched)
    }

    /// MultiTextures still alive (held by surfaces' data or by render elements).
    pub fn live_multitextures(&self) -> usize {
        self.textures.live()
    }

    /// Live GL texture names of a GPU's context (a `glIsTexture` probe), for leak checks.
    pub fn live_texture_names(&mut self, gpu: GpuId) -> Result<u32, TandemError> {
        crate::diagnostics::live_texture_names(self.gpu(gpu)?.renderer())
    }
}

/// What the renderer and the copy paths reach in the manager, by name.
impl GpuManager {
    /// The copy counters, to add to.
    pub(crate) fn copy_stats_mut(&mut self) -> &mut CopyStats {
        &mut self.stats
    }

    /// The log of operations on shared buffers (a handle to the one log).
    pub(crate) fn operation_log(&self) -> OperationLog {
        self.operations.clone()
    }

    /// Whether CPU copies may read client buffers through their own mapping.
    pub(crate) fn mapped_reads_allowed(&self) -> bool {
        self.mapped_reads
    }

    /// The copy path to take among `candidates` for `bytes` under `key`: the pinned one while
    /// it is a candidate, else the cheapest measured.
    pub(crate) fn choose_copy_path(
        &self,
        key: CostKey,
        candidates: &[PathKind],
        bytes: u64,
    ) -> Option<PathKind> {
        self.pinned_copy_path
            .filter(|path| candidates.contains(path))
            .or_else(|| self.path_costs.choose(key, candidates, bytes))
    }

    /// Records what a copy of `bytes` along `path` cost under `key`.
    pub(crate) fn record_copy_cost(
        &mut self,
        key: CostKey,
        path: PathKind,
        bytes: u64,
        took: std::time::Duration,
    ) {
        self.path_costs.record(key, path, bytes, took);
    }

    /// Takes the output's intermediate out (a new one when it has none); put it back with
    /// [`GpuManager::put_intermediate`].
    pub(crate) fn take_intermediate(&mut self, output: &OutputKey) -> OutputIntermediate {
        self.intermediates.remove(output).unwrap_or_default()
    }

    pub(crate) fn put_intermediate(&mut self, output: OutputKey, intermediate: OutputIntermediate) {
        self.intermediates.insert(output, intermediate);
    }

    /// Takes the shm copy buffer out; give it back with [`GpuManager::return_shm_scratch`].
    pub(crate) fn take_shm_scratch(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.shm_scratch)
    }

    pub(crate) fn return_shm_scratch(&mut self, scratch: Vec<u8>) {
        self.shm_scratch = scratch;
    }
}
