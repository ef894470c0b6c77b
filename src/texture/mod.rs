//! MultiTexture: one client buffer as seen by every GPU that shows it.
//!
//! A [`MultiTexture`] is an `Arc<Mutex<..>>` stored once per surface in the surface's `data_map`
//! (with the threadsafe insert), and also handed to smithay's render elements as the
//! `TextureId` of [`MultiRenderer`](crate::MultiRenderer). It holds one `GpuEntry` per GPU,
//! keyed by the GPU's id: a native import, a shadow slot, a CPU copy or YUV planes. A GPU's
//! entries go when the GPU goes (`GpuManager::remove_gpu` takes them), so a GPU opened again
//! under the same id never finds an entry of its former context. `TextureState`'s methods are
//! the only way its entries and read lists change.
//! The renderer's import functions fill the entries; the surface destruction hook
//! ([`SurfaceTracker`](crate::SurfaceTracker)) clears them all, whatever handles still exist.

pub(crate) mod client_memory;
pub(crate) mod mapped;
pub mod pixel_format;
pub(crate) mod planes;
pub(crate) mod slot;
pub(crate) mod staging;
pub mod yuv;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::Texture;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::utils::{Buffer as BufferCoord, Size};
use smithay::wayland::compositor::SurfaceData;

pub use self::mapped::MAPPED_READ_RULE;
use self::planes::{PlanarDraw, PlaneCopy};
use self::slot::{CpuCopy, ShadowSlot};
use crate::gpu::GpuId;
use crate::ledger::{LedgerEntry, Owner};

/// How a GPU got its copy of the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// Uploaded from shm, or a dmabuf imported by the GPU itself.
    Native,
    /// A dmabuf of another GPU, blitted into a slot on that GPU and imported here.
    Shadow,
    /// Damaged rectangles read back on the source GPU and uploaded here.
    CpuCopy,
}

/// Where an entry's pixels came from, and what it holds to keep them.
pub(crate) enum EntryContent {
    /// shm upload, or the client dmabuf (`pinned`) when it was imported directly.
    Native {
        pinned: Option<Dmabuf>,
    },
    Shadow(ShadowSlot),
    CpuCopy(CpuCopy),
    /// A YUV buffer's planes, read from the client's mapping (the texture is the luma plane).
    Planes(PlaneCopy),
}

/// The texture one GPU draws for a buffer, and everything held to produce it.
pub(crate) struct GpuEntry {
    pub gpu: GpuId,
    pub texture: GlesTexture,
    /// The texture's pixel format, as uploaded or imported.
    pub fourcc: Fourcc,
    pub content: EntryContent,
    /// Ledger count of the texture (or pinned buffer) itself; none for a shadow slot's import,
    /// whose memory the slot counts.
    pub _account: Option<LedgerEntry>,
}

impl GpuEntry {
    /// True when this entry reads from `gpu`'s memory (and must go when that GPU goes).
    pub fn depends_on(&self, gpu: GpuId) -> bool {
        match &self.content {
            EntryContent::Native { .. } => false,
            EntryContent::Shadow(slot) => slot.key.source_gpu == gpu,
            EntryContent::CpuCopy(copy) => copy.source_gpu == gpu,
            EntryContent::Planes(planes) => planes.source_gpu == gpu,
        }
    }

    /// Is the texture a buffer that another GPU writes (a shadow slot, or udmabuf staging the
    /// drawing GPU samples in place)?
    pub fn reads_shared_buffer(&self) -> bool {
        match &self.content {
            EntryContent::Native { .. } => false,
            EntryContent::Shadow(_) => true,
            EntryContent::CpuCopy(copy) => copy.in_place,
            EntryContent::Planes(_) => false,
        }
    }

    pub fn path(&self) -> PathKind {
        match self.content {
            EntryContent::Native { .. } => PathKind::Native,
            EntryContent::Shadow(_) => PathKind::Shadow,
            EntryContent::CpuCopy(_) | EntryContent::Planes(_) => PathKind::CpuCopy,
        }
    }
}

pub(crate) struct TextureState {
    pub owner: Option<Owner>,
    pub size: Size<i32, BufferCoord>,
    pub format: Option<Fourcc>,
    entries: HashMap<GpuId, GpuEntry>,
    /// The client dmabuf last imported, kept so that a GPU whose entry read from a GPU that
    /// went away can import it again without waiting for a commit.
    pub client_buffer: Option<Dmabuf>,
    /// Per drawing GPU, the end of the last frame that read a buffer shared with another GPU
    /// (a shadow slot, udmabuf staging): that buffer is written again only once it has passed.
    last_reads: HashMap<GpuId, SyncPoint>,
    /// Per drawing GPU, the end of the last frame that sampled the client's own buffer in place
    /// (an entry imported directly): the client may write that buffer again once it has passed
    /// ([`MultiTexture::take_client_buffer_reads`]).
    client_reads: HashMap<GpuId, SyncPoint>,
    /// The surface was destroyed (its handles may live on).
    pub surface_destroyed: bool,
}

/// A client buffer as seen by every GPU (see the module docs).
#[derive(Clone)]
pub struct MultiTexture {
    state: Arc<Mutex<TextureState>>,
    /// For a texture made by `Offscreen<MultiTexture>`: the texture rendered into, and the GPU
    /// that made it (`Bind` needs to borrow it for as long as the target lives).
    render_target: Option<(GpuId, GlesTexture)>,
}

impl fmt::Debug for MultiTexture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MultiTexture")
            .field("size", &state.size)
            .field("format", &state.format)
            .field(
                "gpus",
                &state.entries.values().map(|e| e.gpu).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl PartialEq for MultiTexture {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl MultiTexture {
    pub(crate) fn new(owner: Option<Owner>) -> MultiTexture {
        MultiTexture::from_state(Arc::new(Mutex::new(TextureState {
            owner,
            size: Size::default(),
            format: None,
            entries: HashMap::new(),
            client_buffer: None,
            last_reads: HashMap::new(),
            client_reads: HashMap::new(),
            surface_destroyed: false,
        })))
    }

    fn from_state(state: Arc<Mutex<TextureState>>) -> MultiTexture {
        MultiTexture {
            state,
            render_target: None,
        }
    }

    /// Makes this handle a render target: `texture` is drawn into when the handle is bound on
    /// `gpu`.
    pub(crate) fn set_render_target(&mut self, gpu: GpuId, texture: GlesTexture) {
        self.render_target = Some((gpu, texture));
    }

    /// The texture rendered into when this handle is bound, if it is a render target of `gpu`.
    pub(crate) fn render_target_mut(&mut self, gpu: GpuId) -> Option<&mut GlesTexture> {
        match &mut self.render_target {
            Some((made_by, texture)) if *made_by == gpu => Some(texture),
            _ => None,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TextureState> {
        // Entries stay valid if a holder panicked: they are only replaced whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The surface's MultiTexture, created (without an owner) if the surface has none yet.
    pub(crate) fn from_surface_data(
        states: &SurfaceData,
        registry: &TextureRegistry,
    ) -> MultiTexture {
        if states.data_map.insert_if_missing_threadsafe(|| {
            let texture = MultiTexture::new(None);
            registry.register(&texture);
            texture
        }) {
            tracing::warn!(
                "surface had no Tandem data: register surfaces with SurfaceTracker::new_surface \
                 so they are cleared on destruction and counted per client"
            );
        }
        states
            .data_map
            .get::<MultiTexture>()
            .cloned()
            .unwrap_or_else(|| MultiTexture::new(None))
    }

    /// Drops every GPU's texture, slot and pinned buffer, once the last frames that read them
    /// are over. Deletes are queued on each GPU and happen at its next
    /// [`GpuManager::cleanup`](crate::GpuManager::cleanup).
    pub fn clear(&self) {
        let (released, buffer) = {
            let mut state = self.lock();
            let released = Released {
                entries: std::mem::take(&mut state.entries).into_values().collect(),
                reads: std::mem::take(&mut state.last_reads)
                    .into_values()
                    .collect(),
                client_reads: std::mem::take(&mut state.client_reads)
                    .into_values()
                    .collect(),
            };
            (released, state.client_buffer.take())
        };
        drop((released, buffer));
    }

    /// Clears it for good: its surface was destroyed.
    pub(crate) fn surface_destroyed(&self) {
        self.lock().surface_destroyed = true;
        self.clear();
    }

    /// The ends of the frames that sampled the client's buffer in place since the last call,
    /// taken out: the buffer may be written again (released to its client) once they are
    /// over. Call it when a commit replaces the buffer; copies to other GPUs need no waiting,
    /// they are over before their import returns.
    pub fn take_client_buffer_reads(&self) -> ClientBufferReads {
        ClientBufferReads(
            std::mem::take(&mut self.lock().client_reads)
                .into_values()
                .collect(),
        )
    }

    /// GPUs that hold a texture of this buffer, with how they got it.
    pub fn paths(&self) -> Vec<(GpuId, PathKind)> {
        self.lock()
            .entries
            .values()
            .map(|e| (e.gpu, e.path()))
            .collect()
    }

    /// The texture that `gpu` may draw, if it imported one as a single RGB texture, and whether
    /// it is a buffer another GPU writes. `None` for a buffer carried plane by plane (see
    /// [`MultiTexture::drawable_for`]).
    pub(crate) fn texture_for(&self, gpu: GpuId) -> Option<(GlesTexture, bool)> {
        self.drawable_for(gpu)
            .filter(|drawable| drawable.planes.is_none())
            .map(|drawable| (drawable.texture, drawable.shared))
    }

    /// What `gpu` draws for this texture, if it imported it.
    pub(crate) fn drawable_for(&self, gpu: GpuId) -> Option<Drawable> {
        self.lock().entries.get(&gpu).map(|e| Drawable {
            texture: e.texture.clone(),
            shared: e.reads_shared_buffer(),
            planes: match &e.content {
                EntryContent::Planes(planes) => Some(planes.draw.clone()),
                _ => None,
            },
        })
    }

    /// Whether what `gpu` draws for this texture is the client's own buffer, imported directly.
    pub(crate) fn samples_client_buffer(&self, gpu: GpuId) -> bool {
        self.lock()
            .entries
            .get(&gpu)
            .is_some_and(|e| matches!(e.content, EntryContent::Native { pinned: Some(_) }))
    }
}

/// What one GPU draws for a texture.
pub(crate) struct Drawable {
    /// The RGB texture, or the luma plane of a buffer carried plane by plane.
    pub texture: GlesTexture,
    /// It is a buffer another GPU writes.
    pub shared: bool,
    /// The other planes and their conversion, for a buffer carried plane by plane.
    pub planes: Option<PlanarDraw>,
}

/// What a frame read of a texture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameRead {
    /// A buffer another GPU writes (a shadow slot, udmabuf staging).
    SharedBuffer,
    /// The client's own buffer, imported directly.
    ClientBuffer,
}

impl TextureState {
    /// `gpu`'s entry, if it has one.
    pub fn entry(&self, gpu: GpuId) -> Option<&GpuEntry> {
        self.entries.get(&gpu)
    }

    /// Every GPU's entry.
    pub fn entries(&self) -> impl Iterator<Item = &GpuEntry> {
        self.entries.values()
    }

    /// Every GPU's entry, to change what it holds in place (its GPU stays).
    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut GpuEntry> {
        self.entries.values_mut()
    }

    /// Takes `gpu`'s entry out to update or replace it; put the result back with one of the
    /// `store_*` methods (dropping it releases what it held).
    pub fn take_entry(&mut self, gpu: GpuId) -> Option<GpuEntry> {
        self.entries.remove(&gpu)
    }

    /// Stores `entry`, made from pixels in memory of `size` and `fourcc` (an upload, a render
    /// target): no client dmabuf is behind the texture any more.
    pub fn store_memory_import(
        &mut self,
        entry: GpuEntry,
        size: Size<i32, BufferCoord>,
        fourcc: Fourcc,
    ) {
        self.entries.insert(entry.gpu, entry);
        self.client_buffer = None;
        self.size = size;
        self.format = Some(fourcc);
    }

    /// Stores `entry`, made from the client's `dmabuf`, which is kept so that a GPU whose entry
    /// read from a GPU that went away can import it again.
    pub fn store_dmabuf_import(&mut self, entry: GpuEntry, dmabuf: &Dmabuf) {
        self.entries.insert(entry.gpu, entry);
        self.size = dmabuf.size();
        self.format = Some(dmabuf.format().code);
        self.client_buffer = Some(dmabuf.clone());
    }

    /// Takes out every entry but `gpu`'s (copies that are stale once `gpu` draws into its
    /// texture). Released once the lock is dropped.
    pub fn take_other_gpus(&mut self, gpu: GpuId) -> Released {
        let others: Vec<GpuId> = self
            .entries
            .keys()
            .filter(|g| **g != gpu)
            .copied()
            .collect();
        let mut released = Released::default();
        for other in others {
            released.take_from(self, other);
        }
        released
    }

    /// The one place reads are recorded: the frame of `gpu` that read this texture ends at
    /// `end`.
    pub fn record_read(&mut self, gpu: GpuId, read: FrameRead, end: &SyncPoint) {
        let reads = match read {
            FrameRead::SharedBuffer => &mut self.last_reads,
            FrameRead::ClientBuffer => &mut self.client_reads,
        };
        reads.insert(gpu, end.clone());
    }

    /// Takes out the end of the last frame of `gpu` that read the shared buffer behind its
    /// entry, for the copy that writes that buffer again to wait for.
    pub fn take_shared_read(&mut self, gpu: GpuId) -> Option<SyncPoint> {
        self.last_reads.remove(&gpu)
    }

    /// Takes out what `gpu` holds or feeds: its own entry, the entries of other GPUs that read
    /// its memory, and the ends of the last frames that read either. Released once the lock is
    /// dropped.
    pub fn take_gpu(&mut self, gpu: GpuId) -> Released {
        let gone: Vec<GpuId> = self
            .entries
            .iter()
            .filter(|(made_by, entry)| **made_by == gpu || entry.depends_on(gpu))
            .map(|(made_by, _)| *made_by)
            .chain(std::iter::once(gpu))
            .collect();
        let mut released = Released::default();
        for made_by in gone {
            released.take_from(self, made_by);
        }
        released
    }

    /// Takes out the end of the last frame of `gpu` that read this texture.
    pub fn take_last_read(&mut self, gpu: GpuId) -> Released {
        let mut released = Released::default();
        if let Some(read) = self.last_reads.remove(&gpu) {
            released.reads.push(read);
        }
        released
    }
}

/// Entries and the ends of the frames that read them, taken out of a MultiTexture. Dropping it
/// waits for those frames before the entries (and the sync points, which hold the GPU's EGL
/// display and so its device) are dropped.
#[derive(Default)]
pub(crate) struct Released {
    pub entries: Vec<GpuEntry>,
    /// Ends of the last frames that read a shared buffer.
    pub reads: Vec<SyncPoint>,
    /// Ends of the frames that sampled the client's buffer in place.
    pub client_reads: Vec<SyncPoint>,
}

impl Released {
    /// Moves `gpu`'s entry and the ends of its frames' reads out of `state` into this.
    fn take_from(&mut self, state: &mut TextureState, gpu: GpuId) {
        self.entries.extend(state.entries.remove(&gpu));
        self.reads.extend(state.last_reads.remove(&gpu));
        self.client_reads.extend(state.client_reads.remove(&gpu));
    }
}

impl Drop for Released {
    fn drop(&mut self) {
        for read in self.reads.iter().chain(&self.client_reads) {
            if read.wait().is_err() {
                tracing::debug!("waiting for the last read of a released buffer was interrupted");
            }
        }
    }
}

/// The ends of the GPU frames that sampled a client's buffer in place
/// ([`MultiTexture::take_client_buffer_reads`]). Each holds its GPU's EGL display: keep it only
/// until [`ClientBufferReads::is_over`].
#[derive(Default)]
pub struct ClientBufferReads(Vec<SyncPoint>);

impl ClientBufferReads {
    /// How many GPUs' frames sampled the buffer in place (one, the last, per GPU).
    pub fn frames(&self) -> usize {
        self.0.len()
    }

    /// True once every frame that read the buffer has ended (the GPUs are done with it).
    pub fn is_over(&self) -> bool {
        self.0.iter().all(SyncPoint::is_reached)
    }
}

impl fmt::Debug for ClientBufferReads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBufferReads")
            .field("frames", &self.0.len())
            .field("over", &self.is_over())
            .finish()
    }
}

/// Weak references to every MultiTexture, so that removing a GPU can reach all of its entries.
#[derive(Clone, Default)]
pub(crate) struct TextureRegistry(Arc<Mutex<Vec<Weak<Mutex<TextureState>>>>>);

impl TextureRegistry {
    pub fn register(&self, texture: &MultiTexture) {
        let mut textures = self.lock();
        if textures.len() >= 64 && textures.len().is_power_of_two() {
            // Dead entries keep their allocation alive until pruned; don't let them pile up
            // between cleanups.
            textures.retain(|state| state.strong_count() > 0);
        }
        textures.push(Arc::downgrade(&texture.state));
    }

    pub fn live(&self) -> usize {
        self.lock()
            .iter()
            .filter(|state| state.strong_count() > 0)
            .count()
    }

    pub fn prune(&self) {
        self.lock().retain(|state| state.strong_count() > 0);
    }

    /// Every live texture.
    pub fn textures(&self) -> Vec<MultiTexture> {
        self.lock()
            .iter()
            .filter_map(Weak::upgrade)
            .map(MultiTexture::from_state)
            .collect()
    }

    /// Clients that own a surface not destroyed yet.
    pub fn clients_with_surfaces(&self) -> Vec<ClientId> {
        let mut clients = Vec::new();
        self.for_each(|state| {
            if let Some(client) = state.owner.as_ref().and_then(|owner| owner.client.as_ref()) {
                if !state.surface_destroyed && !clients.contains(client) {
                    clients.push(client.clone());
                }
            }
        });
        clients
    }

    /// Runs `f` on every live texture state (the registry lock is released first).
    pub fn for_each(&self, mut f: impl FnMut(&mut TextureState)) {
        let live: Vec<_> = self.lock().iter().filter_map(Weak::upgrade).collect();
        for state in live {
            f(&mut state.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Weak<Mutex<TextureState>>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Texture for MultiTexture {
    fn size(&self) -> Size<i32, BufferCoord> {
        self.lock().size
    }

    fn width(&self) -> u32 {
        self.lock().size.w as u32
    }

    fn height(&self) -> u32 {
        self.lock().size.h as u32
    }

    fn format(&self) -> Option<Fourcc> {
        self.lock().format
    }
}
