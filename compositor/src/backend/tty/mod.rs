//! The TTY backend: a libseat session, every GPU udev finds, DRM/KMS outputs through smithay's
//! DrmCompositor, and libinput.
//!
//! The primary GPU (see `plan`) renders every output through Tandem's MultiRenderer; outputs on
//! other GPUs get their frame through Tandem's output path (`cross_renderer`). Devices
//! (`device`) and their monitors (`output`) come and go with udev events; frames are drawn when
//! something changed (`redraw`); the session pausing (VT switch) pauses DRM and input, resuming
//! redraws everything. Calloop callbacks share the backend's data through `Rc<RefCell<..>>`.

mod counted;
mod device;
pub mod lease;
mod output;
pub mod plan;
mod redraw;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use smithay::backend::drm::DrmNode;
use smithay::backend::input::InputEvent;
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::backend::udev::{UdevBackend, UdevEvent};
use smithay::reexports::drm::control::crtc;
use smithay::reexports::input::Libinput;
use tandem::{GpuId, GpuManager, Quirks};

use self::device::{
    add_device, add_gpu, install_device, open_device, park_device, remove_device, Device,
    ParkedDevice,
};
use self::output::{rescan_connectors, OutputSurface};
use crate::backend::headless::Layout;
use crate::input::{handle_input, Action};
use crate::server::{Server, StartError};

/// What the event sources share: the session and the opened devices.
///
/// Fields drop in order: the devices (their outputs restore the CRTCs and drop DRM master)
/// while the session still holds them, the session last.
pub struct TtyData {
    devices: HashMap<DrmNode, Device>,
    libinput: Libinput,
    primary: GpuId,
    layout: Layout,
    /// Devices closed while their GPU is parked, by device number.
    parked_devices: HashMap<u64, ParkedDevice>,
    session: LibSeatSession,
}

impl TtyData {
    /// The output driven by `crtc` of `node`, if both are still there.
    fn surface_mut(&mut self, node: DrmNode, crtc: crtc::Handle) -> Option<&mut OutputSurface> {
        self.devices
            .get_mut(&node)
            .and_then(|device| device.surfaces.get_mut(&crtc))
    }
}

pub struct Tty {
    pub server: Server,
    data: Rc<RefCell<TtyData>>,
}

fn backend_error(what: &str) -> impl Fn(String) -> StartError + '_ {
    move |err| StartError::Backend(format!("{what}: {err}"))
}

/// NVIDIA's driver cannot import dmabufs that another GPU allocated.
fn quirks_for(path: &Path) -> Quirks {
    let is_nvidia = plan::driver_of(path).is_some_and(|d| d.contains("nvidia"));
    Quirks {
        imports_foreign_dmabufs: !is_nvidia,
        ..Quirks::default()
    }
}

impl Tty {
    pub fn start(terminal: Vec<String>, layout: Layout) -> Result<Tty, StartError> {
        let (mut session, notifier) = LibSeatSession::new().map_err(|e| {
            StartError::Backend(format!(
                "no seat ({e}): start tandem-compositor from a text console (VT) with seatd or \
                 logind running, or use --backend headless|winit"
            ))
        })?;
        let seat = session.seat();
        let found = plan::discover(&seat).map_err(backend_error("udev"))?;
        if found.is_empty() {
            return Err(StartError::Backend("no GPU found on this seat".into()));
        }
        let mut candidates = Vec::new();
        let mut opened = Vec::new();
        let mut unusable = Vec::new();
        for candidate in found {
            let device = open_device(&mut session, &candidate.path).and_then(|device| {
                let gpu = device.open_gpu()?;
                Ok((device, gpu))
            });
            match device {
                Ok(device) => {
                    candidates.push(candidate);
                    opened.push(device);
                }
                Err(err) => {
                    tracing::warn!(%err, path = %candidate.path.display(), "GPU not usable");
                    unusable.push(format!("{}: {err}", candidate.path.display()));
                }
            }
        }
        let render_override = std::env::var("TANDEM_RENDER_GPU").ok();
        let renders_on_cpu: Vec<bool> =
            opened.iter().map(|(_, gpu)| gpu.renders_on_cpu()).collect();
        let (primary_index, reason) =
            plan::choose_render_gpu(&candidates, render_override.as_deref())
                .map(|choice| plan::prefer_hardware(choice, &renders_on_cpu))
                .ok_or_else(|| {
                    StartError::Backend(format!("no GPU could be opened ({})", unusable.join("; ")))
                })?;
        tracing::info!(gpu = %candidates[primary_index].path.display(), ?reason, "primary render GPU");

        let mut gpus = GpuManager::new();
        let primary_device = opened.remove(primary_index);
        let primary = primary_device.1.id();
        let mut devices = Vec::new();
        for (device, gpu) in std::iter::once(primary_device).chain(opened) {
            add_gpu(&mut gpus, gpu, &device.path);
            devices.push(device);
        }
        let mut server = Server::new(gpus, terminal)?;

        let mut libinput = Libinput::new_with_udev(LibinputSessionInterface::from(session.clone()));
        libinput
            .udev_assign_seat(&seat)
            .map_err(|()| StartError::Backend("libinput could not use the seat".into()))?;
        let data = Rc::new(RefCell::new(TtyData {
            session,
            primary,
            layout,
            devices: HashMap::new(),
            parked_devices: HashMap::new(),
            libinput: libinput.clone(),
        }));
        server.state.drm_leases.tty = Rc::downgrade(&data);
        let handle = server.event_loop.handle();
        let input_data = data.clone();
        handle
            .insert_source(
                LibinputInputBackend::new(libinput),
                move |event, _, state| {
                    match &event {
                        InputEvent::DeviceAdded { device } => {
                            crate::input::devices::device_added(state, device.clone());
                        }
                        InputEvent::DeviceRemoved { device } => {
                            crate::input::devices::device_removed(state, device);
                        }
                        _ => {}
                    }
                    let size = state
                        .outputs
                        .first()
                        .and_then(|o| o.output.current_mode())
                        .map(|m| (m.size.w, m.size.h).into())
                        .unwrap_or((1920, 1080).into());
                    if let Some(action) = handle_input(state, event, size) {
                        act(&input_data, action);
                    }
                },
            )
            .map_err(|e| backend_error("libinput")(e.to_string()))?;

        let session_data = data.clone();
        handle
            .insert_source(notifier, move |event, _, state| match event {
                SessionEvent::PauseSession => {
                    let mut data = session_data.borrow_mut();
                    data.libinput.suspend();
                    for device in data.devices.values_mut() {
                        device.drm.pause();
                    }
                    tracing::info!("session paused");
                }
                SessionEvent::ActivateSession => {
                    {
                        let mut data = session_data.borrow_mut();
                        if data.libinput.resume().is_err() {
                            tracing::warn!("libinput did not resume");
                        }
                        for device in data.devices.values_mut() {
                            if let Err(err) = device.drm.activate(false) {
                                tracing::warn!(%err, "DRM device did not resume");
                            }
                            for compositor in device
                                .surfaces
                                .values_mut()
                                .filter_map(|surface| surface.compositor.as_mut())
                            {
                                if let Err(err) = compositor.reset_state() {
                                    tracing::warn!(%err, "could not reset output state");
                                }
                            }
                        }
                    }
                    tracing::info!("session resumed");
                    redraw::forget_pending_flips(&session_data);
                    redraw::redraw_all(&session_data, state);
                }
            })
            .map_err(|e| backend_error("session")(e.to_string()))?;

        let udev = UdevBackend::new(&seat).map_err(|e| backend_error("udev")(e.to_string()))?;
        let udev_data = data.clone();
        handle
            .insert_source(udev, move |event, _, state| match event {
                UdevEvent::Added { path, .. } => {
                    add_device(&udev_data, state, &path);
                    redraw::redraw_all(&udev_data, state);
                }
                UdevEvent::Changed { device_id } => {
                    let parked = udev_data
                        .borrow()
                        .parked_devices
                        .get(&device_id)
                        .map(|p| p.path.clone());
                    match parked {
                        Some(path) => add_device(&udev_data, state, &path),
                        None => rescan_connectors(&udev_data, state, device_id),
                    }
                    redraw::redraw_all(&udev_data, state);
                }
                UdevEvent::Removed { device_id } => {
                    remove_device(&udev_data, state, device_id);
                    redraw::redraw_all(&udev_data, state);
                }
            })
            .map_err(|e| backend_error("udev")(e.to_string()))?;

        for device in devices {
            install_device(&data, &mut server.state, device);
        }
        redraw::redraw_all(&data, &mut server.state);
        Ok(Tty { server, data })
    }
}

impl Drop for Tty {
    /// Devices go while the session still holds them: the event loop (dropped with the server)
    /// owns the session's notifier, and with it the seat. Each device's page-flip source holds
    /// the device too, so it leaves the loop first; then the outputs clear their planes.
    ///
    /// The device's own state is left to the kernel: smithay replays the mode state it saw at
    /// start, which the kernel refuses once the console's framebuffer is gone (EINVAL on
    /// virtio-gpu), while closing the master fd at exit makes the kernel restore the console
    /// itself. So the KMS device is not dropped here; the process ends right after.
    fn drop(&mut self) {
        let devices = std::mem::take(&mut self.data.borrow_mut().devices);
        let handle = self.server.event_loop.handle();
        for device in devices.into_values() {
            handle.remove(device.token);
            let Device {
                surfaces, gbm, drm, ..
            } = device;
            drop(surfaces);
            drop(gbm);
            std::mem::forget(drm);
        }
    }
}

impl super::Backend for Tty {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    fn run_until(&mut self, stop: &mut dyn FnMut(&mut Server) -> bool) {
        while self.server.state.running && !stop(&mut self.server) {
            if let Err(err) = self.server.dispatch(std::time::Duration::from_millis(16)) {
                tracing::error!(%err, "event loop failed");
                break;
            }
            self.answer_requests();
            if std::mem::take(&mut self.server.state.redraw_requested) {
                redraw::redraw_all(&self.data, &mut self.server.state);
            }
            if let Err(err) = self.server.state.gpus.cleanup() {
                tracing::warn!(%err, "cleanup failed");
            }
        }
    }

    fn frame(&mut self) {
        redraw::redraw_all(&self.data, &mut self.server.state);
    }

    fn screenshot_all(&mut self) {}

    fn gpu_parked(&mut self, gpu: GpuId) {
        park_device(&self.data, &mut self.server.state, gpu);
    }

    /// A GPU's device goes as when it is unplugged: its monitors with it (no other GPU scans
    /// out of them), rendering moves to another GPU, its socket closes.
    fn remove_gpu(&mut self, id: &str) -> Result<(), String> {
        let state = &mut self.server.state;
        let ids = state.gpus.gpu_ids();
        let gpu = *ids
            .iter()
            .find(|g| g.to_string() == id)
            .ok_or_else(|| format!("no GPU {id}; see msg gpus"))?;
        if ids.len() < 2 {
            return Err("the last GPU cannot be removed".into());
        }
        let device_id = {
            let data = self.data.borrow();
            data.devices
                .iter()
                .find(|(_, device)| device.gpu == gpu)
                .map(|(node, _)| node.dev_id())
                .or_else(|| {
                    data.parked_devices
                        .iter()
                        .find(|(_, parked)| parked.gpu == gpu)
                        .map(|(dev_id, _)| *dev_id)
                })
        };
        match device_id {
            Some(device_id) => remove_device(&self.data, state, device_id),
            None => crate::ipc::server::remove_gpu(state, id)?,
        }
        redraw::redraw_all(&self.data, state);
        Ok(())
    }
}

fn act(data: &Rc<RefCell<TtyData>>, action: Action) {
    match action {
        Action::SwitchVt(vt) => {
            if let Err(err) = data.borrow_mut().session.change_vt(vt) {
                tracing::warn!(%err, vt, "could not switch VT");
            }
        }
    }
}
