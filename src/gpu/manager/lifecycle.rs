//! A GPU's life in the manager: added (software GPUs opened here, DRM GPUs built by
//! [`open_drm_gpu`](crate::gpu::open_drm_gpu)), removed with everything it held, parked while idle
//! and woken on its next use, and opened again after it was lost.
//!
//! The compositor calls these as udev reports devices and as its outputs need GPUs;
//! [`GpuManager::cleanup`] calls [`GpuManager::recover_lost_gpus`] once per frame.

use smithay::backend::allocator::Fourcc;
use smithay::backend::egl::EGLContext;
use smithay::backend::renderer::gles::GlesRenderer;

use super::GpuManager;
use crate::error::TandemError;
use crate::gpu::parking::{ParkedGpu, ParkingStats, ReopenGpu};
use crate::gpu::soft::{software_egl_display, MemfdAllocator};
use crate::gpu::DmabufAllocator as _;
use crate::gpu::{Gpu, GpuId, Quirks};

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

    /// Adds a GPU built elsewhere (e.g. by [`open_drm_gpu`](crate::gpu::open_drm_gpu)). A GPU with
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
}
