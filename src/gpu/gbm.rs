//! Real GPUs: a DRM device node, its GBM device and allocator, and EGL on GBM.
//!
//! The compositor's udev backend calls [`open_drm_gpu`] for every render node it finds, or
//! [`open_drm_gpu_on_primary_node`] with the session's primary-node GBM device for display-only
//! devices, and hands the result to [`GpuManager::add_gpu`](crate::GpuManager::add_gpu).

use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use smithay::backend::allocator::dmabuf::{AsDmabuf, Dmabuf};
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags, GbmDevice};
use smithay::backend::allocator::{Allocator, Fourcc, Modifier};
use smithay::backend::drm::{DrmDeviceFd, DrmNode, NodeType};
use smithay::backend::egl::{EGLContext, EGLDisplay};
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::utils::DeviceFd;

use super::{DmabufAllocator, Gpu, GpuId, Quirks, RenderAccess};
use crate::error::TandemError;

struct GbmDmabufAllocator {
    allocator: GbmAllocator<DrmDeviceFd>,
}

impl DmabufAllocator for GbmDmabufAllocator {
    fn allocate(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<Dmabuf, TandemError> {
        let error = |reason: String| TandemError::Allocation {
            width,
            height,
            fourcc,
            reason,
        };
        let buffer = self
            .allocator
            .create_buffer(width, height, fourcc, modifiers)
            .map_err(|e| error(e.to_string()))?;
        buffer.export().map_err(|e| error(e.to_string()))
    }

    fn modifiers(&self, fourcc: Fourcc) -> Vec<Modifier> {
        // GBM cannot list modifiers without EGL; linear is what every driver can share.
        let _ = fourcc;
        vec![Modifier::Linear]
    }
}

/// Opens the render node of `node` and builds a GPU on it.
pub fn open_drm_gpu(node: DrmNode, quirks: Quirks) -> Result<Gpu, TandemError> {
    let render = node
        .node_with_type(NodeType::Render)
        .and_then(Result::ok)
        .unwrap_or(node);
    let path = render.dev_path().ok_or_else(|| TandemError::Open {
        path: render.to_string(),
        reason: "no device path".into(),
    })?;
    let fd: OwnedFd = rustix::fs::open(&path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| TandemError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    let fd = DrmDeviceFd::new(DeviceFd::from(fd));
    let device = GbmDevice::new(fd).map_err(|e| TandemError::Open {
        path: path.display().to_string(),
        reason: format!("GBM: {e}"),
    })?;
    gpu_on_gbm(GpuId::Drm(render), device, quirks)
}

/// Builds a GPU on `device`, the GBM device of the primary node the session opened for KMS.
///
/// For display-only devices (virtio-gpu without virgl, vkms, DisplayLink, simpledrm): Mesa
/// gives them only a CPU rasterizer, which maps scanout (dumb) buffers, and the kernel allows
/// that only on the primary node. Sharing the KMS side's GBM device also shares its buffer
/// handles, so scanout buffers are bound without a foreign import. `id` names the GPU as
/// [`open_drm_gpu`] would (its render node when it has one).
pub fn open_drm_gpu_on_primary_node(
    id: DrmNode,
    device: GbmDevice<DrmDeviceFd>,
    quirks: Quirks,
) -> Result<Gpu, TandemError> {
    Ok(gpu_on_gbm(GpuId::Drm(id), device, quirks)?.with_access(RenderAccess::PrimaryNode))
}

fn gpu_on_gbm(
    id: GpuId,
    device: GbmDevice<DrmDeviceFd>,
    quirks: Quirks,
) -> Result<Gpu, TandemError> {
    // SAFETY: the GBM device is kept alive by the allocator for as long as the display.
    let display = unsafe { EGLDisplay::new(device.clone())? };
    let context = EGLContext::new(&display)?;
    // SAFETY: the context is fresh and only used by this renderer.
    let renderer = unsafe { GlesRenderer::new(context) }.map_err(TandemError::gles(id))?;
    let allocator = GbmDmabufAllocator {
        allocator: GbmAllocator::new(device, GbmBufferFlags::RENDERING),
    };
    Ok(Gpu::new(id, renderer, Box::new(allocator), quirks))
}
