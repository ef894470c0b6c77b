//! DRM devices opened without a session, for the headless backend on real GPUs (what
//! `seed-compare` runs in the VM): each device's GPU for Tandem, and the GBM device smithay's
//! own multi-GPU renderer is given for it.
//!
//! A device with a render node a GPU renders through in hardware is used there; a display-only
//! device (virtio-gpu without virgl, vkms) is drawn through its primary node, as the TTY backend
//! does, because only there may its CPU rasterizer map the buffers.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use smithay::backend::allocator::gbm::GbmDevice;
use smithay::backend::drm::{DrmDeviceFd, DrmNode, NodeType};
use smithay::utils::DeviceFd;
use tandem::{Gpu, Quirks};

/// One DRM device, as Tandem and smithay are each given it.
pub struct DrmGpu {
    /// The device's render node (its primary node when it has none): its GPU id in both.
    pub node: DrmNode,
    /// The node rendering goes through: the render node, or the primary node of a
    /// display-only device.
    pub draws_through: PathBuf,
}

/// Opens `path` (a primary or render node) for Tandem: its GPU, and where it draws.
pub fn open(path: &Path, quirks: Quirks) -> Result<(Gpu, DrmGpu), String> {
    let node = DrmNode::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let render = node
        .node_with_type(NodeType::Render)
        .and_then(Result::ok)
        .unwrap_or(node);
    let why = match tandem::gpu::open_drm_gpu(render, quirks) {
        Ok(gpu) if !gpu.renders_on_cpu() => {
            let draws_through = render.dev_path().unwrap_or_else(|| path.to_path_buf());
            return Ok((
                gpu,
                DrmGpu {
                    node: render,
                    draws_through,
                },
            ));
        }
        Ok(gpu) => format!("its render node offers only {}", gpu.renderer_name()),
        Err(err) => format!("its render node is unusable: {err}"),
    };
    let primary = node
        .node_with_type(NodeType::Primary)
        .and_then(Result::ok)
        .unwrap_or(node);
    let primary_path = primary
        .dev_path()
        .ok_or_else(|| format!("{}: no primary node ({why})", path.display()))?;
    let gbm = gbm_device(&primary_path)?;
    let gpu = tandem::gpu::open_drm_gpu_on_primary_node(render, gbm, quirks).map_err(|e| {
        format!(
            "{}: {why}; the primary node is unusable too: {e}",
            path.display()
        )
    })?;
    tracing::info!(path = %path.display(), why, "drawing through the primary node");
    Ok((
        gpu,
        DrmGpu {
            node: render,
            draws_through: primary_path,
        },
    ))
}

/// A GBM device on a fresh fd of `path`.
pub fn gbm_device(path: &Path) -> Result<GbmDevice<DrmDeviceFd>, String> {
    let fd: OwnedFd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    GbmDevice::new(DrmDeviceFd::new(DeviceFd::from(fd)))
        .map_err(|e| format!("{}: GBM: {e}", path.display()))
}
