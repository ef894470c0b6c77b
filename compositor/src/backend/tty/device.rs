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

use super::lease;
use super::output::{remove_output, rescan_connectors, OutputSurface};
use super::{quirks_for, redraw, TtyData};
use crate::gpu::service::{retire_gpu, serve_gpu};
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
    pub path: PathBuf,
}

/// A device closed while its GPU is parked (it drove no monitor): reopened by its path when
/// udev reports a change on it (a monitor plugged), forgotten when udev reports it gone.
pub struct ParkedDevice {
    pub path: PathBuf,
    pub gpu: GpuId,
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
        path,
        node,
        drm,
        notifier,
        gbm,
    } = opened;
    crate::protocols::explicit_sync::offer(state, drm.device_fd(), &path.display().to_string());
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
            path,
        },
    );
    rescan_connectors(data, state, node.dev_id());
}

/// A device udev reported after start: opened, given a GPU unless Tandem has it, installed.
pub fn add_device(data: &Rc<RefCell<TtyData>>, state: &mut State, path: &Path) {
    // udev reports render nodes too; a device is opened by its primary node.
    let Ok(node) = DrmNode::from_path(path) else {
        return;
    };
    if node.ty() != NodeType::Primary || data.borrow().devices.contains_key(&node) {
        return;
    }
    let opened = match open_device(&mut data.borrow_mut().session, path) {
        Ok(opened) => opened,
        Err(err) => {
            tracing::warn!(%err, path = %path.display(), "DRM device not usable");
            return;
        }
    };
    let gpu = opened.gpu_id();
    data.borrow_mut().parked_devices.remove(&node.dev_id());
    // A parked GPU stays parked until an output draws through it.
    let known = state.gpus.is_parked(gpu) || state.gpus.gpu_ids().contains(&gpu);
    if !known {
        match opened.open_gpu() {
            Ok(new_gpu) => add_gpu(&mut state.gpus, new_gpu, path),
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "GPU not usable");
                return;
            }
        }
        let render = data.borrow().primary;
        match serve_gpu(state, gpu, render) {
            Ok(socket) => tracing::info!(%gpu, %socket, "GPU added"),
            Err(err) => tracing::warn!(%err, %gpu, "GPU added, but clients cannot be served on it"),
        }
    }
    install_device(data, state, opened);
}

/// A device udev reports gone: its outputs go, its GPU leaves Tandem (every texture, slot and
/// intermediate on it is released) and stops being offered to clients. When it was the render
/// GPU, rendering moves to a remaining GPU (one that renders in hardware if there is one) and
/// every output is drawn from scratch there.
pub fn remove_device(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64) {
    // Looked up by number: the device's sysfs entry, which DrmNode::from_dev_id reads, is
    // already gone.
    let removed = {
        let mut data = data.borrow_mut();
        let node = data
            .devices
            .keys()
            .copied()
            .find(|n| n.dev_id() == device_id);
        node.and_then(|node| Some((node, data.devices.remove(&node)?)))
    };
    let parked = data.borrow_mut().parked_devices.remove(&device_id);
    let gpu = match (removed, parked) {
        (Some((node, device)), _) => {
            let gpu = device.gpu;
            close_device(state, node, device);
            gpu
        }
        (None, Some(parked)) => parked.gpu,
        (None, None) => return,
    };
    let remaining: Vec<GpuId> = state
        .gpus
        .gpu_ids()
        .into_iter()
        .filter(|g| *g != gpu)
        .collect();
    if remaining.is_empty() {
        tracing::warn!(%gpu, "the last GPU went away: nothing renders until one is plugged");
        return;
    }
    if data.borrow().primary == gpu {
        let render = remaining
            .iter()
            .copied()
            .find(|g| state.gpus.gpu(*g).is_ok_and(|g| !g.renders_on_cpu()))
            .unwrap_or(remaining[0]);
        move_rendering(data, state, gpu, render);
    }
    if let Err(err) = state.gpus.remove_gpu(gpu) {
        tracing::warn!(%err, "removing the GPU");
    }
    let render = data.borrow().primary;
    retire_gpu(state, gpu, render);
    tracing::info!(%gpu, "GPU removed");
}

/// Removes a device's outputs and closes it (its event source first).
fn close_device(state: &mut State, node: DrmNode, device: Device) {
    let gpu = device.gpu;
    tracing::debug!(%gpu, "closing device: removing its outputs");
    lease::device_gone(state, node);
    for surface in device.surfaces.values() {
        remove_output(state, &surface.output);
    }
    state.display_loop_handle().remove(device.token);
    crate::protocols::explicit_sync::device_removed(state, &device.path.display().to_string());
    drop(device);
    tracing::debug!(%gpu, "device closed");
}

/// Adds a GPU this backend opened; one drawing through its render node can be parked, since
/// it is reopened the same way.
pub fn add_gpu(gpus: &mut tandem::GpuManager, gpu: Gpu, path: &Path) {
    let id = gpu.id();
    if let (GpuId::Drm(node), tandem::RenderAccess::RenderNode) = (id, gpu.access()) {
        let quirks = quirks_for(path);
        gpus.set_reopen(
            id,
            Box::new(move || tandem::gpu::open_drm_gpu(node, quirks)),
        );
    }
    gpus.add_gpu(gpu);
}

/// The GPU of a device was parked: a device that drives no monitor is closed too, so that no
/// fd to the GPU stays open. A change udev reports on it opens it again (`add_device`).
pub fn park_device(data: &Rc<RefCell<TtyData>>, state: &mut State, gpu: GpuId) {
    let node = data
        .borrow()
        .devices
        .iter()
        .find(|(node, d)| d.gpu == gpu && d.surfaces.is_empty() && !lease::holds(state, **node))
        .map(|(node, _)| *node);
    let Some(node) = node else {
        return;
    };
    let Some(mut device) = data.borrow_mut().devices.remove(&node) else {
        return;
    };
    // It drives nothing: paused first, smithay does not replay the state it found at start,
    // which the kernel may refuse.
    device.drm.pause();
    let path = device.path.clone();
    close_device(state, node, device);
    tracing::info!(%gpu, path = %path.display(), "device closed while its GPU is parked");
    data.borrow_mut()
        .parked_devices
        .insert(node.dev_id(), ParkedDevice { path, gpu });
}

/// Every output rendered by `from` is rendered by `to` from now on, from a blank buffer.
fn move_rendering(data: &Rc<RefCell<TtyData>>, state: &mut State, from: GpuId, to: GpuId) {
    let mut data = data.borrow_mut();
    data.primary = to;
    for surface in data
        .devices
        .values_mut()
        .flat_map(|d| d.surfaces.values_mut())
    {
        let Some(info) = state.outputs.get_mut(&surface.output) else {
            continue;
        };
        if info.render != from {
            continue;
        }
        info.render = to;
        surface.rendered_by = to;
        state.gpus.remove_output(&surface.output.name());
        if let Some(compositor) = surface.compositor.as_mut() {
            compositor.reset_buffers();
        }
    }
    tracing::info!(%from, %to, "rendering moved to another GPU");
}
