//! DRM devices: opened through the session when udev reports them, watched for page flips, and
//! dropped (with their outputs, and their GPU unless it is the primary) when they go away.
//!
//! `mod.rs` calls [`add_device`] for every GPU at start and on hotplug, [`remove_device`] on
//! unplug. The page-flip events land in `redraw::on_vblank`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use smithay::backend::allocator::gbm::GbmDevice;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmEvent, DrmNode, NodeType};
use smithay::backend::session::Session;
use smithay::reexports::calloop::RegistrationToken;
use smithay::reexports::drm::control::crtc;
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::DeviceFd;
use tandem::GpuId;

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

pub fn add_device(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64, path: &Path) {
    let Ok(node) = DrmNode::from_dev_id(device_id) else {
        return;
    };
    let render_node = node
        .node_with_type(NodeType::Render)
        .and_then(Result::ok)
        .unwrap_or(node);
    let gpu = GpuId::Drm(render_node);
    if state.gpus.gpu(gpu).is_err() {
        match tandem::gpu::open_drm_gpu(render_node, quirks_for(path)) {
            Ok(new_gpu) => state.gpus.add_gpu(new_gpu),
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "GPU not usable");
                return;
            }
        }
    }
    let opened = {
        let mut data = data.borrow_mut();
        data.session.open(
            path,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        )
    };
    let fd = match opened {
        Ok(fd) => DrmDeviceFd::new(DeviceFd::from(fd)),
        Err(err) => {
            tracing::warn!(%err, path = %path.display(), "could not open the DRM device");
            return;
        }
    };
    let (drm, notifier) = match DrmDevice::new(fd.clone(), true) {
        Ok(pair) => pair,
        Err(err) => {
            tracing::warn!(%err, "DRM device refused");
            return;
        }
    };
    let gbm = match GbmDevice::new(fd) {
        Ok(gbm) => gbm,
        Err(err) => {
            tracing::warn!(%err, "GBM device refused");
            return;
        }
    };
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
    rescan_connectors(data, state, device_id);
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
