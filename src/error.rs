//! Errors of the texture layer.

use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::renderer::gles::GlesError;

use crate::gpu_id::GpuId;

/// Everything that can go wrong in Tandem.
#[derive(Debug, thiserror::Error)]
pub enum TandemError {
    /// A GL call failed on a known GPU.
    #[error("GL error on {gpu}: {source}")]
    Gles {
        /// The GPU whose renderer failed.
        gpu: GpuId,
        /// smithay's error.
        #[source]
        source: GlesError,
    },
    /// A GL call failed where the GPU is not known (smithay's own conversions).
    #[error("GL error: {0}")]
    GlesUnattributed(#[from] GlesError),
    /// The manager has no GPU of that id (removed, or never added).
    #[error("no GPU {0} in this manager")]
    UnknownGpu(GpuId),
    /// The client would go past its GPU-memory budget
    /// ([`GpuManager::set_client_budget`](crate::GpuManager::set_client_budget)).
    #[error("client over its GPU-memory budget: {held} bytes held, {wanted} more asked, {budget} allowed")]
    OverBudget {
        /// Bytes the client's surfaces hold now.
        held: u64,
        /// Bytes the refused import or copy would add.
        wanted: u64,
        /// The budget.
        budget: u64,
    },
    /// The GPU's context failed; nothing is drawn through it ([`Gpu::lost`](crate::Gpu::lost)).
    #[error("GPU {gpu} is lost: {reason}")]
    GpuLost {
        /// The lost GPU.
        gpu: GpuId,
        /// What failed.
        reason: String,
    },
    /// The GPU still holds something, or cannot be reopened
    /// ([`GpuManager::park`](crate::GpuManager::park)).
    #[error("GPU {gpu} cannot be parked: {reason}")]
    CannotPark {
        /// The GPU.
        gpu: GpuId,
        /// Why not.
        reason: String,
    },
    /// An allocator refused a buffer.
    #[error("dmabuf allocation of {width}x{height} {fourcc} failed: {reason}")]
    Allocation {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
        /// Format asked for.
        fourcc: Fourcc,
        /// The allocator's answer.
        reason: String,
    },
    /// No software EGL device: Mesa's llvmpipe is missing.
    #[error(
        "no software EGL device: Mesa's EGL with llvmpipe is needed (on Debian/Ubuntu: \
         `just deps`, or apt install libegl-mesa0 libgl1-mesa-dri; Mesa 24+ for dmabufs)"
    )]
    NoSoftwareDevice,
    /// llvmpipe cannot import memfd dmabufs (Mesa older than 24).
    #[error(
        "this Mesa cannot import memfd dmabufs into llvmpipe ({0}): Mesa 24 or newer is needed \
         (on Debian 12: `just deps` installs Mesa from bookworm-backports)"
    )]
    MesaTooOld(String),
    /// A client handed a software GPU memory whose mapping could fault (a memfd it may still
    /// shrink, or another file).
    #[error(
        "software GPUs take only memfd buffers sealed against shrinking (F_SEAL_SHRINK) or udmabufs"
    )]
    UnsealedMemfd,
    /// EGL failed (display or context creation).
    #[error("EGL: {0}")]
    Egl(#[from] smithay::backend::egl::Error),
    /// A device node could not be opened.
    #[error("could not open {path}: {reason}")]
    Open {
        /// The node.
        path: String,
        /// The system's answer.
        reason: String,
    },
    /// A buffer of another kind than the call handles.
    #[error("the buffer is not a {0} buffer")]
    WrongBufferType(&'static str),
    /// Reading a client's shm buffer failed (a bad layout, or a pool that shrank).
    #[error("shm buffer access failed: {0}")]
    ShmAccess(String),
    /// An shm format Tandem does not move.
    #[error("unsupported shm format {0:?}")]
    UnsupportedShmFormat(smithay::reexports::wayland_server::protocol::wl_shm::Format),
    /// The texture has no entry for the drawing GPU.
    #[error("this texture was not imported for {0}: import it with that GPU's renderer first")]
    NotImportedFor(GpuId),
    /// The texture is a YUV buffer carried as its planes on that GPU: it has no RGB texture to
    /// read or hand out.
    #[error(
        "this texture is a YUV buffer carried as its planes on {0}: it has no RGB texture to read"
    )]
    CarriedAsPlanes(GpuId),
    /// The texture bound for rendering is not a render target of the drawing GPU.
    #[error(
        "this texture is not a render target of {0}: bind textures made by that GPU's \
         Offscreen::create_buffer"
    )]
    NotRenderTarget(GpuId),
    /// The target GPU refused to import a shadow slot the source GPU made: the pair cannot
    /// share buffers of this format and modifier.
    #[error("{target_gpu} refused a {fourcc} shadow slot from {source_gpu}: {reason}")]
    SlotRefused {
        /// The GPU that made the slot.
        source_gpu: GpuId,
        /// The GPU that refused it.
        target_gpu: GpuId,
        /// The slot's format.
        fourcc: Fourcc,
        /// The slot's modifier.
        modifier: Modifier,
        /// The target's reason.
        reason: String,
    },
    /// No copy path moves this format between these GPUs.
    #[error("no path moves {fourcc} from {source_gpu} to {target_gpu}")]
    NoCopyPath {
        /// Where the buffer lives.
        source_gpu: GpuId,
        /// Where it is drawn.
        target_gpu: GpuId,
        /// Its format.
        fourcc: Fourcc,
    },
    /// A client buffer's format and modifier are not offered on this GPU: Tandem could not
    /// carry a test buffer of it to every GPU ([`GpuManager::carried_formats`](crate::GpuManager::carried_formats)),
    /// or importing it failed recently.
    #[error("{gpu} does not take {format:?} buffers: {reason}")]
    FormatNotOffered {
        /// The GPU the buffer was handed to.
        gpu: GpuId,
        /// The buffer's format and modifier.
        format: smithay::backend::allocator::Format,
        /// Why.
        reason: &'static str,
    },
    /// A copy between GPUs was asked for with one GPU on both ends.
    #[error("{0} is both ends of a copy between GPUs")]
    SameGpu(GpuId),
    /// A framebuffer of another GPU (drawn through an output's intermediate) was given where
    /// only the render GPU's own can be used (a blit).
    #[error(
        "{0} blits only its own framebuffers: a buffer of another GPU is drawn through the \
         output's intermediate"
    )]
    NotOnRenderGpu(GpuId),
    /// A finished frame cannot be copied into a capture's buffer this way (the scene can be
    /// drawn into it instead).
    #[error("the frame cannot be copied: {0}")]
    NoFrameCopy(String),
    /// Waiting for a GPU's sync point failed.
    #[error("waiting for a sync point failed")]
    Sync,
}

impl TandemError {
    pub(crate) fn gles(gpu: GpuId) -> impl Fn(GlesError) -> TandemError + Copy {
        move |source| TandemError::Gles { gpu, source }
    }
}

/// For smithay's DRM and winit code paths, which speak `SwapBuffersError`: a lost GPU is a lost
/// context, GL errors map as smithay maps them, everything else is a temporary failure.
impl From<TandemError> for smithay::backend::SwapBuffersError {
    fn from(error: TandemError) -> Self {
        use smithay::backend::SwapBuffersError;
        match error {
            TandemError::Gles { source, .. } | TandemError::GlesUnattributed(source) => {
                source.into()
            }
            TandemError::GpuLost { .. } => SwapBuffersError::ContextLost(Box::new(error)),
            other => SwapBuffersError::TemporaryFailure(Box::new(other)),
        }
    }
}
