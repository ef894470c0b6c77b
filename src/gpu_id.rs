//! [`GpuId`]: the name of a GPU everywhere (GpuManager, MultiTexture entries, the ledger,
//! errors). A leaf module: the error type names GPUs by it without depending on the GPUs.

use std::fmt;

use smithay::backend::drm::DrmNode;

/// Identity of a GPU: a DRM render node for real hardware, an index for a software GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GpuId {
    /// A DRM device, named by its render node (its primary node when it has none).
    Drm(DrmNode),
    /// A software GPU (an llvmpipe context), numbered for good in the order it was added.
    Software(u32),
}

impl fmt::Display for GpuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuId::Drm(node) => write!(f, "{node}"),
            GpuId::Software(index) => write!(f, "soft{index}"),
        }
    }
}
