//! The TTY backend: a libseat session, every GPU udev finds, DRM/KMS outputs through smithay's
//! DrmCompositor, and libinput.
//!
//! The primary GPU (see `plan`) renders every output through Tandem's MultiRenderer; outputs on
//! other GPUs get their frame through Tandem's output path (`cross_renderer`). Monitors and GPUs
//! come and go with udev events; the session pausing (VT switch) pauses DRM and input, resuming
//! redraws everything. Calloop callbacks share the backend's data through `Rc<RefCell<..>>`.

pub mod plan;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags, GbmDevice};
use smithay::backend::allocator::Fourcc;
use smithay::backend::drm::compositor::{DrmCompositor, FrameFlags};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmEvent, DrmNode, NodeType};
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::backend::udev::{UdevBackend, UdevEvent};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::RegistrationToken;
use smithay::reexports::drm::control::{connector, crtc, Device as ControlDevice, ModeTypeFlags};
use smithay::reexports::input::Libinput;
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::{DeviceFd, Transform};
use tandem::{GpuId, GpuManager, Quirks};

use crate::input::{handle_input, Action};
use crate::render::BACKGROUND;
use crate::server::{spawn_client, Server, StartError};
use crate::state::{OutputInfo, State};

type Compositor =
    DrmCompositor<GbmAllocator<DrmDeviceFd>, GbmFramebufferExporter<DrmDeviceFd>, (), DrmDeviceFd>;

struct OutputSurface {
    info: OutputInfo,
    compositor: Compositor,
    connector: connector::Handle,
}

struct Device {
    gpu: GpuId,
    drm: DrmDevice,
    gbm: GbmDevice<DrmDeviceFd>,
    surfaces: HashMap<crtc::Handle, OutputSurface>,
    token: RegistrationToken,
}

struct TtyData {
    session: LibSeatSession,
    primary: GpuId,
    devices: HashMap<DrmNode, Device>,
    libinput: Libinput,
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
    pub fn start(terminal: Vec<String>) -> Result<Tty, StartError> {
        let (session, notifier) = LibSeatSession::new().map_err(|e| {
            StartError::Backend(format!(
                "no seat ({e}): start tandem-compositor from a text console (VT) with seatd or \
                 logind running, or use --backend headless|winit"
            ))
        })?;
        let seat = session.seat();
        let candidates = plan::discover(&seat).map_err(backend_error("udev"))?;
        let render_override = std::env::var("TANDEM_RENDER_GPU").ok();
        let (primary_index, reason) =
            plan::choose_render_gpu(&candidates, render_override.as_deref())
                .ok_or_else(|| StartError::Backend("no GPU found on this seat".into()))?;
        tracing::info!(gpu = %candidates[primary_index].path.display(), ?reason, "primary render GPU");

        let mut gpus = GpuManager::new();
        let order = std::iter::once(primary_index)
            .chain((0..candidates.len()).filter(|i| *i != primary_index));
        let mut primary = None;
        for index in order {
            let path = &candidates[index].path;
            let node =
                DrmNode::from_path(path).map_err(|e| backend_error("DRM node")(e.to_string()))?;
            let gpu = tandem::gpu::open_drm_gpu(node, quirks_for(path))?;
            primary.get_or_insert(gpu.id());
            gpus.add_gpu(gpu);
        }
        let primary =
            primary.ok_or_else(|| StartError::Backend("no GPU could be opened".into()))?;
        let mut server = Server::new(gpus, terminal)?;

        let mut libinput = Libinput::new_with_udev(LibinputSessionInterface::from(session.clone()));
        libinput
            .udev_assign_seat(&seat)
            .map_err(|()| StartError::Backend("libinput could not use the seat".into()))?;
        let data = Rc::new(RefCell::new(TtyData {
            session,
            primary,
            devices: HashMap::new(),
            libinput: libinput.clone(),
        }));

        let handle = server.event_loop.handle();
        let input_data = data.clone();
        handle
            .insert_source(
                LibinputInputBackend::new(libinput),
                move |event, _, state| {
                    let size = state
                        .outputs
                        .first()
                        .and_then(|o| o.output.current_mode())
                        .map(|m| (m.size.w, m.size.h).into())
                        .unwrap_or((1920, 1080).into());
                    if let Some(action) = handle_input(state, event, size) {
                        act(&input_data, state, action);
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
                            for surface in device.surfaces.values_mut() {
                                if let Err(err) = surface.compositor.reset_state() {
                                    tracing::warn!(%err, "could not reset output state");
                                }
                            }
                        }
                    }
                    tracing::info!("session resumed");
                    render_all(&session_data, state);
                }
            })
            .map_err(|e| backend_error("session")(e.to_string()))?;

        let udev = UdevBackend::new(&seat).map_err(|e| backend_error("udev")(e.to_string()))?;
        let devices: Vec<(u64, PathBuf)> = udev
            .device_list()
            .map(|(id, p)| (id, p.to_path_buf()))
            .collect();
        let udev_data = data.clone();
        handle
            .insert_source(udev, move |event, _, state| match event {
                UdevEvent::Added { device_id, path } => {
                    add_device(&udev_data, state, device_id, &path);
                    render_all(&udev_data, state);
                }
                UdevEvent::Changed { device_id } => {
                    rescan_connectors(&udev_data, state, device_id);
                    render_all(&udev_data, state);
                }
                UdevEvent::Removed { device_id } => remove_device(&udev_data, state, device_id),
            })
            .map_err(|e| backend_error("udev")(e.to_string()))?;

        for (device_id, path) in devices {
            add_device(&data, &mut server.state, device_id, &path);
        }
        render_all(&data, &mut server.state);
        Ok(Tty { server, data })
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
            if let Err(err) = self.server.state.gpus.cleanup() {
                tracing::warn!(%err, "cleanup failed");
            }
        }
    }

    fn frame(&mut self) {
        render_all(&self.data, &mut self.server.state);
    }

    fn screenshot_all(&mut self) {}
}

fn act(data: &Rc<RefCell<TtyData>>, state: &mut State, action: Action) {
    match action {
        Action::SpawnTerminal => {
            let terminal = state.terminal.clone();
            if let Err(err) = spawn_client(state, &terminal) {
                tracing::warn!(%err, "could not start the terminal");
            }
        }
        Action::Quit => state.running = false,
        Action::SwitchVt(vt) => {
            if let Err(err) = data.borrow_mut().session.change_vt(vt) {
                tracing::warn!(%err, vt, "could not switch VT");
            }
        }
    }
}

fn add_device(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64, path: &Path) {
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
            DrmEvent::VBlank(crtc) => {
                if let Some(device) = vblank_data.borrow_mut().devices.get_mut(&node) {
                    if let Some(surface) = device.surfaces.get_mut(&crtc) {
                        if let Err(err) = surface.compositor.frame_submitted() {
                            tracing::warn!(%err, "frame_submitted");
                        }
                    }
                }
                render_crtc(&vblank_data, state, node, crtc);
            }
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

fn remove_device(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64) {
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

fn remove_output(state: &mut State, info: &OutputInfo) {
    state.space.unmap_output(&info.output);
    state.outputs.retain(|o| o.output != info.output);
    state.gpus.remove_output(&info.output.name());
}

/// Adds outputs for newly connected connectors and drops those of disconnected ones.
fn rescan_connectors(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64) {
    let Ok(node) = DrmNode::from_dev_id(device_id) else {
        return;
    };
    let mut data_ref = data.borrow_mut();
    let primary = data_ref.primary;
    let Some(device) = data_ref.devices.get_mut(&node) else {
        return;
    };
    let Ok(resources) = device.drm.resource_handles() else {
        return;
    };
    let connectors: Vec<connector::Info> = resources
        .connectors()
        .iter()
        .filter_map(|c| device.drm.get_connector(*c, true).ok())
        .collect();
    let gone: Vec<crtc::Handle> = device
        .surfaces
        .iter()
        .filter(|(_, s)| {
            !connectors
                .iter()
                .any(|c| c.handle() == s.connector && c.state() == connector::State::Connected)
        })
        .map(|(crtc, _)| *crtc)
        .collect();
    for crtc in gone {
        if let Some(surface) = device.surfaces.remove(&crtc) {
            tracing::info!(output = %surface.info.output.name(), "monitor unplugged");
            remove_output(state, &surface.info);
        }
    }
    for info in connectors
        .iter()
        .filter(|c| c.state() == connector::State::Connected)
    {
        if device
            .surfaces
            .values()
            .any(|s| s.connector == info.handle())
        {
            continue;
        }
        let used: Vec<crtc::Handle> = device.surfaces.keys().copied().collect();
        let Some(crtc) = free_crtc(&device.drm, info, &used) else {
            tracing::warn!(connector = ?info.handle(), "no free CRTC");
            continue;
        };
        let Some(mode) = info
            .modes()
            .iter()
            .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
            .or_else(|| info.modes().first())
            .copied()
        else {
            continue;
        };
        let name = format!("{}-{}", info.interface().as_str(), info.interface_id());
        let (w, h) = mode.size();
        let output = Output::new(
            name.clone(),
            PhysicalProperties {
                size: info
                    .size()
                    .map(|(w, h)| (w as i32, h as i32))
                    .unwrap_or((0, 0))
                    .into(),
                subpixel: Subpixel::Unknown,
                make: "Unknown".into(),
                model: "Unknown".into(),
            },
        );
        let output_mode = OutputMode::from(mode);
        let x = state
            .space
            .outputs()
            .filter_map(|o| state.space.output_geometry(o))
            .map(|g| g.loc.x + g.size.w)
            .max()
            .unwrap_or(0);
        output.change_current_state(
            Some(output_mode),
            Some(Transform::Normal),
            None,
            Some((x, 0).into()),
        );
        output.set_preferred(output_mode);
        output.create_global::<State>(&state.display);
        let surface = match device.drm.create_surface(crtc, mode, &[info.handle()]) {
            Ok(surface) => surface,
            Err(err) => {
                tracing::warn!(%err, %name, "could not drive the connector");
                continue;
            }
        };
        let render_formats = state
            .gpus
            .gpu(device.gpu)
            .map(|gpu| gpu.renderer().egl_context().dmabuf_render_formats().clone())
            .unwrap_or_default();
        let compositor = match Compositor::new(
            &output,
            surface,
            None,
            GbmAllocator::new(
                device.gbm.clone(),
                GbmBufferFlags::RENDERING | GbmBufferFlags::SCANOUT,
            ),
            GbmFramebufferExporter::new(device.gbm.clone(), Some(node)),
            [Fourcc::Xrgb8888, Fourcc::Argb8888],
            render_formats,
            (64, 64).into(),
            Some(device.gbm.clone()),
        ) {
            Ok(compositor) => compositor,
            Err(err) => {
                tracing::warn!(%err, %name, "could not set up the output");
                continue;
            }
        };
        state.space.map_output(&output, (x, 0));
        let info_out = OutputInfo {
            output,
            render: primary,
            target: device.gpu,
        };
        state.outputs.push(info_out.clone());
        tracing::info!(%name, size = ?(w, h), render = %primary, target = %device.gpu, "monitor connected");
        device.surfaces.insert(
            crtc,
            OutputSurface {
                info: info_out,
                compositor,
                connector: info.handle(),
            },
        );
    }
}

fn free_crtc(
    drm: &DrmDevice,
    info: &connector::Info,
    used: &[crtc::Handle],
) -> Option<crtc::Handle> {
    let resources = drm.resource_handles().ok()?;
    info.encoders()
        .iter()
        .filter_map(|e| drm.get_encoder(*e).ok())
        .flat_map(|encoder| resources.filter_crtcs(encoder.possible_crtcs()))
        .find(|crtc| !used.contains(crtc))
}

fn render_all(data: &Rc<RefCell<TtyData>>, state: &mut State) {
    let targets: Vec<(DrmNode, crtc::Handle)> = data
        .borrow()
        .devices
        .iter()
        .flat_map(|(node, device)| device.surfaces.keys().map(|crtc| (*node, *crtc)))
        .collect();
    for (node, crtc) in targets {
        render_crtc(data, state, node, crtc);
    }
}

fn render_crtc(data: &Rc<RefCell<TtyData>>, state: &mut State, node: DrmNode, crtc: crtc::Handle) {
    let mut data = data.borrow_mut();
    let Some(surface) = data
        .devices
        .get_mut(&node)
        .and_then(|device| device.surfaces.get_mut(&crtc))
    else {
        return;
    };
    let info = surface.info.clone();
    let name = info.output.name();
    let result = (|| -> Result<bool, String> {
        let mut renderer = state
            .gpus
            .cross_renderer(info.render, info.target, Some(&name))
            .map_err(|e| e.to_string())?;
        let elements = state
            .space
            .render_elements_for_output(&mut renderer, &info.output, 1.0)
            .unwrap_or_default();
        let frame = surface
            .compositor
            .render_frame(&mut renderer, &elements, BACKGROUND, FrameFlags::DEFAULT)
            .map_err(|e| e.to_string())?;
        Ok(!frame.is_empty)
    })();
    match result {
        Ok(true) => {
            if let Err(err) = surface.compositor.queue_frame(()) {
                tracing::warn!(%err, %name, "queue_frame");
            }
        }
        Ok(false) => {}
        Err(err) => tracing::warn!(%err, %name, "rendering failed"),
    }
    crate::render::send_frame_callbacks(state, &info);
}
