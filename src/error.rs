//! Errors of the texture layer.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::GlesError;

use crate::gpu::GpuId;

/// Everything that can go wrong in Tandem.
#[derive(Debug, thiserror::Error)]
pub enum TandemError {
    #[error("GL error on {gpu}: {source}")]
    Gles {
        gpu: GpuId,
        #[source]
        source: GlesError,
    },
    #[error("GL error: {0}")]
    GlesUnattributed(#[from] GlesError),
    #[error("no GPU {0} in this manager")]
    UnknownGpu(GpuId),
    #[error("client over its GPU-memory budget: {held} bytes held, {wanted} more asked, {budget} allowed")]
    OverBudget { held: u64, wanted: u64, budget: u64 },
    #[error("GPU {gpu} is lost: {reason}")]
    GpuLost { gpu: GpuId, reason: String },
    #[error("GPU {gpu} cannot be parked: {reason}")]
    CannotPark { gpu: GpuId, reason: String },
    #[error("dmabuf allocation of {width}x{height} {fourcc} failed: {reason}")]
    Allocation {
        width: u32,
        height: u32,
        fourcc: Fourcc,
        reason: String,
    },
    #[error(
        "no software EGL device: Mesa's EGL with llvmpipe is needed (on Debian/Ubuntu: \
         `just deps`, or apt install libegl-mesa0 libgl1-mesa-dri; Mesa 24+ for dmabufs)"
    )]
    NoSoftwareDevice,
    #[error(
        "this Mesa cannot import memfd dmabufs into llvmpipe ({0}): Mesa 24 or newer is needed \
         (on Debian 12: `just deps` installs Mesa from bookworm-backports)"
    )]
    MesaTooOld(String),
    #[error("software GPUs take only memfd buffers sealed against shrinking (F_SEAL_SHRINK)")]
    UnsealedMemfd,
    #[error("EGL: {0}")]
    Egl(#[from] smithay::backend::egl::Error),
    #[error("could not open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("the buffer is not a {0} buffer")]
    WrongBufferType(&'static str),
    #[error("shm buffer access failed: {0}")]
    ShmAccess(String),
    #[error("unsupported shm format {0:?}")]
    UnsupportedShmFormat(smithay::reexports::wayland_server::protocol::wl_shm::Format),
    #[error("this texture was not imported for {0}: import it with that GPU's renderer first")]
    NotImportedFor(GpuId),
    #[error("no path moves {fourcc} from {source_gpu} to {target_gpu}")]
    NoCopyPath {
        source_gpu: GpuId,
        target_gpu: GpuId,
        fourcc: Fourcc,
    },
    #[error("waiting for a sync point failed")]
    Sync,
}

impl TandemError {
    pub(crate) fn gles(gpu: GpuId) -> impl Fn(GlesError) -> TandemError + Copy {
        move |source| TandemError::Gles { gpu, source }
    }
}
