//! DRM devices: opened through the session when udev reports them, watched for page flips, and
//! dropped (with their outputs, and their GPU unless it is the primary) when they go away.
//!
//! `mod.rs` opens every GPU at start ([`open_device`], [`OpenedDevice::open_gpu`], then
//! [`install_device`] once the server exists), calls [`add_device`] on hotplug and
//! [`remove_device`] on unplug. The page-flip events land in `redraw::on_vblank`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use smithay::backend::allocator::gbm::GbmDevice;
use smithay::backend::drm::{
    DrmDevice, DrmDeviceFd, DrmDeviceNotifier, DrmEvent, DrmNode, NodeType,
};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::Session;
use smithay::reexports::calloop::RegistrationToken;
use smithay::reexports::drm::control::crtc;
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::DeviceFd;
use tandem::{Gpu, GpuId};

use super::output::{remove_output, rescan_connectors, OutputSurface};
use super::{quirks_for, redraw, TtyData};
use crate::state::State;

/// One DRM device the session opened: its KMS side, its GBM allocator for scanout buffers, the
/// outputs of its connected connectors, and its event source.
///
/// Fields drop in order: the outputs restore their CRTCs while the device is still open.
pub struct Device {
    pub surfaces: HashMap<crtc::Handle, OutputSurface>,
    pub gbm: GbmDevice<DrmDeviceFd>,
    pub drm: DrmDevice,
    pub gpu: GpuId,
    pub token: RegistrationToken,
}

/// A DRM device the session opened and nothing watches yet.
pub struct OpenedDevice {
    pub path: PathBuf,
    pub node: DrmNode,
    drm: DrmDevice,
    notifier: DrmDeviceNotifier,
    gbm: GbmDevice<DrmDeviceFd>,
}

/// Opens the device at `path` through the session (DRM master on its primary node).
pub fn open_device(session: &mut LibSeatSession, path: &Path) -> Result<OpenedDevice, String> {
    let node = DrmNode::from_path(path).map_err(|e| format!("DRM node: {e}"))?;
    let fd = session
        .open(
            path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        )
        .map_err(|e| format!("could not open the DRM device: {e}"))?;
    let fd = DrmDeviceFd::new(DeviceFd::from(fd));
    let (drm, notifier) =
        DrmDevice::new(fd.clone(), true).map_err(|e| format!("DRM device refused: {e}"))?;
    let gbm = GbmDevice::new(fd).map_err(|e| format!("GBM device refused: {e}"))?;
    Ok(OpenedDevice {
        path: path.to_path_buf(),
        node,
        drm,
        notifier,
        gbm,
    })
}

impl OpenedDevice {
    /// The name Tandem gives this device's GPU: its render node when it has one.
    pub fn gpu_id(&self) -> GpuId {
        GpuId::Drm(
            self.node
                .node_with_type(NodeType::Render)
                .and_then(Result::ok)
                .unwrap_or(self.node),
        )
    }

    /// The GPU that draws for this device: on its render node when the driver renders there;
    /// through the session's primary node when the render node offers only Mesa's CPU
    /// rasterizer, which cannot map scanout buffers there (display-only devices), or when it
    /// cannot be opened at all.
    pub fn open_gpu(&self) -> Result<Gpu, String> {
        let GpuId::Drm(render_node) = self.gpu_id() else {
            unreachable!("a DRM device's GPU id is a DRM node");
        };
        let quirks = quirks_for(&self.path);
        let why = match tandem::gpu::open_drm_gpu(render_node, quirks) {
            Ok(gpu) if !gpu.renders_on_cpu() => return Ok(gpu),
            Ok(gpu) => format!(
                "display-only device: its render node offers only {:?}, which cannot map \
                 scanout buffers there",
                gpu.renderer_name()
            ),
            Err(err) => format!("its render node is unusable: {err}"),
        };
        let gpu = tandem::gpu::open_drm_gpu_on_primary_node(render_node, self.gbm.clone(), quirks)
            .map_err(|e| format!("{why}; the primary node is unusable too: {e}"))?;
        tracing::info!(
            path = %self.path.display(),
            renderer = gpu.renderer_name(),
            why,
            "drawing through the primary node"
        );
        Ok(gpu)
    }
}

/// Watches an opened device's page flips and lights its connected monitors. Its GPU must be in
/// `state.gpus` already.
pub fn install_device(data: &Rc<RefCell<TtyData>>, state: &mut State, opened: OpenedDevice) {
    let gpu = opened.gpu_id();
    let OpenedDevice {
        node,
        drm,
        notifier,
        gbm,
        ..
    } = opened;
    let vblank_data = data.clone();
    let token = match state
        .display_loop_handle()
        .insert_source(notifier, move |event, _, state| match event {
            DrmEvent::VBlank(crtc) => redraw::on_vblank(&vblank_data, state, node, crtc),
            DrmEvent::Error(err) => tracing::warn!(%err, "DRM error"),
        }) {
        Ok(token) => token,
        Err(err) => {
            tracing::warn!(%err, "could not watch the DRM device");
            return;
        }
    };
    data.borrow_mut().devices.insert(
        node,
        Device {
            gpu,
            drm,
            gbm,
            surfaces: HashMap::new(),
            token,
        },
    );
    rescan_connectors(data, state, node.dev_id());
}

/// A device udev reported after start: opened, given a GPU unless Tandem has it, installed.
pub fn add_device(data: &Rc<RefCell<TtyData>>, state: &mut State, path: &Path) {
    let known =
        DrmNode::from_path(path).is_ok_and(|node| data.borrow().devices.contains_key(&node));
    if known {
        return;
    }
    let opened = match open_device(&mut data.borrow_mut().session, path) {
        Ok(opened) => opened,
        Err(err) => {
            tracing::warn!(%err, path = %path.display(), "DRM device not usable");
            return;
        }
    };
    if state.gpus.gpu(opened.gpu_id()).is_err() {
        match opened.open_gpu() {
            Ok(gpu) => state.gpus.add_gpu(gpu),
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "GPU not usable");
                return;
            }
        }
    }
    install_device(data, state, opened);
}

pub fn remove_device(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64) {
    let Ok(node) = DrmNode::from_dev_id(device_id) else {
        return;
    };
    let Some(device) = data.borrow_mut().devices.remove(&node) else {
        return;
    };
    for surface in device.surfaces.values() {
        remove_output(state, &surface.info);
    }
    state.display_loop_handle().remove(device.token);
    if device.gpu != data.borrow().primary {
        if let Err(err) = state.gpus.remove_gpu(device.gpu) {
            tracing::warn!(%err, "removing the GPU");
        }
    }
    tracing::info!(gpu = %device.gpu, "GPU removed");
}
