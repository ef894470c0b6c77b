//! VRAM accounting: exact bytes and object counts per GPU, per surface and per client, by kind.
//!
//! The [`Ledger`] is owned by the [`GpuManager`](crate::GpuManager) and shared (it is a cheap
//! handle) with every place in Tandem that makes memory for a client or an output: textures,
//! shadow slots, CPU staging, output intermediates and pinned client buffers. Each such object
//! carries a [`LedgerEntry`] created together with it; dropping the entry releases the count.
//! Because the entry lives inside the same struct as the object it describes, the count cannot
//! drift from what Tandem holds. Short-lived readback buffers and smithay's internal caches (the
//! EGLImages of imported or bound dmabufs) are not counted; `cleanup` frees them.
//!
//! A compositor counts its own GPU objects (swapchains, cursor buffers, offscreen textures) with
//! [`Ledger::record_compositor`]: they appear as [`MemoryKind::CompositorBuffer`] on their GPU and,
//! by purpose, in [`LedgerSnapshot::compositor`]. Textures the compositor makes through
//! `MultiRenderer` (memory imports, render-to-texture) are counted there too. Tests, the
//! compositor's IPC and the stress test read it through [`Ledger::snapshot`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};

use crate::gpu::GpuId;

/// The purpose under which [`LedgerSnapshot::compositor`] lists textures a compositor uploaded
/// from its own memory through `MultiRenderer` (`ImportMem` with no surface: a pointer image).
pub const PURPOSE_MEMORY_TEXTURE: &str = "memory texture";

/// The purpose under which [`LedgerSnapshot::compositor`] lists textures a compositor renders
/// into (`Offscreen<MultiTexture>`).
pub const PURPOSE_OFFSCREEN_TEXTURE: &str = "offscreen texture";

/// What a counted object is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemoryKind {
    /// A texture holding a client's pixels uploaded on the GPU that draws them (shm upload, CPU
    /// copy target).
    NativeTexture,
    /// A dmabuf allocated on the source GPU so that another GPU can sample a client's buffer.
    ShadowBuffer,
    /// Process memory used to move damaged pixels between GPUs when no shared buffer works.
    CpuStaging,
    /// A buffer an output is rendered into on one GPU before another GPU shows it.
    OutputIntermediate,
    /// A client's dmabuf imported (and so kept alive) by a GPU.
    PinnedClientBuffer,
    /// The compositor's own object: a swapchain or cursor buffer, a texture it uploaded or
    /// rendered to (see [`Ledger::record_compositor`]).
    CompositorBuffer,
    /// A client's screen-capture buffer a GPU holds bound to copy frames into, counted for
    /// that client (see [`GpuManager::copy_frame`](crate::GpuManager::copy_frame)).
    CaptureBuffer,
}

impl MemoryKind {
    /// Every kind, in a stable order.
    pub const ALL: [MemoryKind; 7] = [
        MemoryKind::NativeTexture,
        MemoryKind::ShadowBuffer,
        MemoryKind::CpuStaging,
        MemoryKind::OutputIntermediate,
        MemoryKind::PinnedClientBuffer,
        MemoryKind::CompositorBuffer,
        MemoryKind::CaptureBuffer,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// Short snake_case name, as used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::NativeTexture => "native_texture",
            MemoryKind::ShadowBuffer => "shadow_buffer",
            MemoryKind::CpuStaging => "cpu_staging",
            MemoryKind::OutputIntermediate => "output_intermediate",
            MemoryKind::PinnedClientBuffer => "pinned_client_buffer",
            MemoryKind::CompositorBuffer => "compositor_buffer",
            MemoryKind::CaptureBuffer => "capture_buffer",
        }
    }
}

/// Bytes and object count of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amount {
    /// Bytes held.
    pub bytes: u64,
    /// Objects (textures, buffers) held.
    pub objects: u64,
}

/// Usage split by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    by_kind: [Amount; MemoryKind::ALL.len()],
}

impl Usage {
    /// The amount of one kind.
    pub fn kind(&self, kind: MemoryKind) -> Amount {
        self.by_kind[kind.index()]
    }

    /// Bytes of every kind together.
    pub fn bytes(&self) -> u64 {
        self.by_kind.iter().map(|a| a.bytes).sum()
    }

    /// Objects of every kind together.
    pub fn objects(&self) -> u64 {
        self.by_kind.iter().map(|a| a.objects).sum()
    }

    fn add(&mut self, kind: MemoryKind, bytes: u64) {
        let amount = &mut self.by_kind[kind.index()];
        amount.bytes += bytes;
        amount.objects += 1;
    }

    fn sub(&mut self, kind: MemoryKind, bytes: u64) {
        let amount = &mut self.by_kind[kind.index()];
        amount.bytes -= bytes;
        amount.objects -= 1;
    }

    fn is_empty(&self) -> bool {
        self.objects() == 0
    }
}

/// What a compositor holds for one purpose on one GPU (see [`Ledger::record_compositor`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositorUsage {
    /// The GPU the objects live on.
    pub gpu: GpuId,
    /// What they are for, as the compositor named it ("swapchain card0-DP-1", "cursor").
    pub purpose: String,
    /// Their bytes and count.
    pub amount: Amount,
}

/// Who an object is held for: the surface it shows and that surface's client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The surface.
    pub surface: ObjectId,
    /// Its client, when it still has one.
    pub client: Option<ClientId>,
}

/// A copy of the ledger at one moment.
#[derive(Debug, Clone, Default)]
pub struct LedgerSnapshot {
    /// Usage per GPU, in the order GPUs were first counted.
    pub gpus: Vec<(GpuId, Usage)>,
    /// Usage per surface (objects held for no surface are not listed).
    pub surfaces: HashMap<ObjectId, Usage>,
    /// Usage per surface and GPU.
    pub surface_gpus: HashMap<(ObjectId, GpuId), Usage>,
    /// Usage per client.
    pub clients: HashMap<ClientId, Usage>,
    /// The compositor's own objects by GPU and purpose, in the order first counted.
    pub compositor: Vec<CompositorUsage>,
    /// Usage of the whole process.
    pub total: Usage,
    /// Objects ever counted (allocations), released or not.
    pub created: u64,
}

impl LedgerSnapshot {
    /// Usage of one GPU (empty if it never held anything).
    pub fn gpu(&self, gpu: GpuId) -> Usage {
        self.gpus
            .iter()
            .find(|(id, _)| *id == gpu)
            .map(|(_, usage)| *usage)
            .unwrap_or_default()
    }

    /// Usage held for one surface.
    pub fn surface(&self, surface: &ObjectId) -> Usage {
        self.surfaces.get(surface).copied().unwrap_or_default()
    }

    /// Usage held for one surface on one GPU.
    pub fn surface_on(&self, surface: &ObjectId, gpu: GpuId) -> Usage {
        self.surface_gpus
            .get(&(surface.clone(), gpu))
            .copied()
            .unwrap_or_default()
    }
}

impl fmt::Display for LedgerSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (gpu, usage) in &self.gpus {
            write!(
                f,
                "{gpu}: {} bytes in {} objects",
                usage.bytes(),
                usage.objects()
            )?;
            for kind in MemoryKind::ALL {
                let amount = usage.kind(kind);
                if amount.objects > 0 {
                    write!(f, ", {}={}B/{}", kind.name(), amount.bytes, amount.objects)?;
                }
            }
            writeln!(f)?;
        }
        write!(
            f,
            "total: {} bytes in {} objects",
            self.total.bytes(),
            self.total.objects()
        )
    }
}

#[derive(Default)]
struct LedgerState {
    gpus: Vec<(GpuId, Usage)>,
    surfaces: HashMap<ObjectId, Usage>,
    surface_gpus: HashMap<(ObjectId, GpuId), Usage>,
    clients: HashMap<ClientId, Usage>,
    compositor: Vec<CompositorUsage>,
    total: Usage,
    created: u64,
}

impl LedgerState {
    fn compositor_mut(&mut self, gpu: GpuId, purpose: &str) -> &mut Amount {
        let index = match self
            .compositor
            .iter()
            .position(|usage| usage.gpu == gpu && usage.purpose == purpose)
        {
            Some(index) => index,
            None => {
                self.compositor.push(CompositorUsage {
                    gpu,
                    purpose: purpose.to_string(),
                    amount: Amount::default(),
                });
                self.compositor.len() - 1
            }
        };
        &mut self.compositor[index].amount
    }

    fn gpu_mut(&mut self, gpu: GpuId) -> &mut Usage {
        let index = match self.gpus.iter().position(|(id, _)| *id == gpu) {
            Some(index) => index,
            None => {
                self.gpus.push((gpu, Usage::default()));
                self.gpus.len() - 1
            }
        };
        &mut self.gpus[index].1
    }
}

/// Shared handle to the VRAM ledger.
#[derive(Clone, Default)]
pub struct Ledger {
    state: Arc<Mutex<LedgerState>>,
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    /// Bytes held for `client`'s surfaces right now.
    pub fn client_bytes(&self, client: &ClientId) -> u64 {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clients
            .get(client)
            .map(Usage::bytes)
            .unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, LedgerState> {
        // The ledger holds plain counters: a panic elsewhere leaves them consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one of the compositor's own GPU objects: `bytes` on `gpu`, listed under `purpose`
    /// in [`LedgerSnapshot::compositor`] and as [`MemoryKind::CompositorBuffer`] on the GPU. Keep
    /// the returned entry next to the object; dropping it releases the count.
    ///
    /// ```
    /// use tandem::{GpuId, Ledger, MemoryKind};
    ///
    /// let ledger = Ledger::default();
    /// let swapchain = ledger.record_compositor(GpuId::Software(0), "swapchain", 1920 * 1080 * 4);
    /// let snapshot = ledger.snapshot();
    /// assert_eq!(snapshot.compositor[0].purpose, "swapchain");
    /// assert_eq!(snapshot.gpu(GpuId::Software(0)).kind(MemoryKind::CompositorBuffer).objects, 1);
    /// drop(swapchain);
    /// assert_eq!(ledger.snapshot().total.bytes(), 0);
    /// ```
    pub fn record_compositor(&self, gpu: GpuId, purpose: &str, bytes: u64) -> LedgerEntry {
        self.record_for_compositor(gpu, purpose, bytes, Arc::default())
    }

    /// [`Ledger::record_compositor`] for objects Tandem itself frees (`released` as in `record`).
    pub(crate) fn record_for_compositor(
        &self,
        gpu: GpuId,
        purpose: &str,
        bytes: u64,
        released: Arc<AtomicUsize>,
    ) -> LedgerEntry {
        self.record_entry(
            gpu,
            MemoryKind::CompositorBuffer,
            bytes,
            None,
            Some(purpose),
            released,
        )
    }

    /// Counts a new object. The returned entry must be kept next to the object and dropped with
    /// it; `released` is bumped on drop so the GPU's cleanup knows it has something to free.
    pub(crate) fn record(
        &self,
        gpu: GpuId,
        kind: MemoryKind,
        bytes: u64,
        owner: Option<&Owner>,
        released: Arc<AtomicUsize>,
    ) -> LedgerEntry {
        self.record_entry(gpu, kind, bytes, owner, None, released)
    }

    fn record_entry(
        &self,
        gpu: GpuId,
        kind: MemoryKind,
        bytes: u64,
        owner: Option<&Owner>,
        purpose: Option<&str>,
        released: Arc<AtomicUsize>,
    ) -> LedgerEntry {
        let mut state = self.lock();
        if let Some(purpose) = purpose {
            let amount = state.compositor_mut(gpu, purpose);
            amount.bytes += bytes;
            amount.objects += 1;
        }
        state.gpu_mut(gpu).add(kind, bytes);
        state.total.add(kind, bytes);
        state.created += 1;
        if let Some(owner) = owner {
            state
                .surfaces
                .entry(owner.surface.clone())
                .or_default()
                .add(kind, bytes);
            state
                .surface_gpus
                .entry((owner.surface.clone(), gpu))
                .or_default()
                .add(kind, bytes);
            if let Some(client) = &owner.client {
                state
                    .clients
                    .entry(client.clone())
                    .or_default()
                    .add(kind, bytes);
            }
        }
        LedgerEntry {
            ledger: self.clone(),
            gpu,
            kind,
            bytes,
            owner: owner.cloned(),
            client: None,
            purpose: purpose.map(Box::from),
            released,
        }
    }

    fn release(&self, entry: &LedgerEntry) {
        let mut state = self.lock();
        if let Some(purpose) = &entry.purpose {
            let amount = state.compositor_mut(entry.gpu, purpose);
            amount.bytes -= entry.bytes;
            amount.objects -= 1;
            state.compositor.retain(|usage| usage.amount.objects > 0);
        }
        state.gpu_mut(entry.gpu).sub(entry.kind, entry.bytes);
        state.total.sub(entry.kind, entry.bytes);
        if let Some(owner) = &entry.owner {
            remove_from(&mut state.surfaces, owner.surface.clone(), entry);
            remove_from(
                &mut state.surface_gpus,
                (owner.surface.clone(), entry.gpu),
                entry,
            );
            if let Some(client) = &owner.client {
                remove_from(&mut state.clients, client.clone(), entry);
            }
        }
        if let Some(client) = &entry.client {
            remove_from(&mut state.clients, client.clone(), entry);
        }
    }

    /// Counts an object held for `client` but for none of its surfaces (a capture buffer),
    /// on `gpu` and for the client; the compositor's when there is no client.
    pub(crate) fn record_client_object(
        &self,
        gpu: GpuId,
        kind: MemoryKind,
        bytes: u64,
        client: Option<&ClientId>,
    ) -> LedgerEntry {
        let mut entry = self.record_entry(gpu, kind, bytes, None, None, Arc::default());
        if let Some(client) = client {
            self.lock()
                .clients
                .entry(client.clone())
                .or_default()
                .add(kind, bytes);
            entry.client = Some(client.clone());
        }
        entry
    }

    /// A consistent copy of every counter.
    pub fn snapshot(&self) -> LedgerSnapshot {
        let state = self.lock();
        LedgerSnapshot {
            gpus: state.gpus.clone(),
            surfaces: state.surfaces.clone(),
            surface_gpus: state.surface_gpus.clone(),
            clients: state.clients.clone(),
            compositor: state.compositor.clone(),
            total: state.total,
            created: state.created,
        }
    }
}

/// Subtracts `entry` from `map[key]`, dropping the key once it counts nothing.
fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Usage>, key: K, entry: &LedgerEntry) {
    if let Some(usage) = map.get_mut(&key) {
        usage.sub(entry.kind, entry.bytes);
        if usage.is_empty() {
            map.remove(&key);
        }
    }
}

/// The count of one live object; releases it when dropped.
pub struct LedgerEntry {
    ledger: Ledger,
    gpu: GpuId,
    kind: MemoryKind,
    bytes: u64,
    owner: Option<Owner>,
    /// The client of an object held for no surface of it.
    client: Option<ClientId>,
    /// Set for the compositor's own objects.
    purpose: Option<Box<str>>,
    released: Arc<AtomicUsize>,
}

impl LedgerEntry {
    /// Bytes this entry counts.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerEntry")
            .field("gpu", &self.gpu)
            .field("kind", &self.kind)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Drop for LedgerEntry {
    fn drop(&mut self) {
        self.ledger.release(self);
        self.released.fetch_add(1, Ordering::Release);
    }
}
