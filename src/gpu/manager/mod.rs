//! The GpuManager: owns every GPU, the ledger, remembered copy failures, output intermediates,
//! and the per-frame cleanup.
//!
//! The compositor owns one `GpuManager`. It creates [`MultiRenderer`](crate::MultiRenderer)s
//! from it (each borrows the manager mutably for one import or one frame), calls
//! [`GpuManager::cleanup`] once per frame and after surface destruction, and adds or removes GPUs
//! as udev reports them.
//!
//! This file holds the manager's state, the access to its GPUs and the cleanup; `lifecycle`
//! adds, removes, parks, wakes and recovers GPUs; `client_buffers` accepts clients' dmabufs and
//! keeps budgets; `copy_paths` remembers failures and costs; `copy_stats` is the counters.

mod client_buffers;
mod copy_paths;
mod copy_stats;
mod lifecycle;

pub use copy_stats::CopyStats;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::WeakDmabuf;
use smithay::backend::egl::EGLDisplay;

use super::budget::Budget;
use super::clock::{Clock, SystemClock};
use super::failures::FailureMemory;
use super::format_probe::FormatProbes;
use super::operations::OperationLog;
use super::parking::Parking;
use super::path_costs::{CostKey, PathCosts};
use super::recovery::Recovery;
use super::{Gpu, GpuId};
use crate::error::TandemError;
use crate::ledger::Ledger;
use crate::renderer::frame_copy::FrameCopies;
use crate::renderer::intermediate::{OutputFeed, OutputIntermediate, OutputKey};
use crate::renderer::MultiRenderer;
use crate::surface::SurfaceTracker;
use crate::texture::TextureRegistry;
use crate::texture::{EntryContent, PathKind};

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

    /// Makes back-off of failed copy paths and idle parking read the time from `clock` (the
    /// system's monotonic clock by default); tests move a [`ManualClock`](crate::gpu::ManualClock)
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
