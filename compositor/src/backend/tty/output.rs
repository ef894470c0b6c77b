//! Outputs on a DRM device: one per connected connector, each driven by smithay's
//! DrmCompositor on a free CRTC, mapped into the space to the right of the others (`--layout
//! row`) or at the origin (`--layout mirror`).
//!
//! `device.rs` and `mod.rs` call [`rescan_connectors`] when a device appears or udev says its
//! connectors changed (connectors for leasing go to `lease` instead); `redraw.rs` draws into [`OutputSurface`]s and calls [`apply_power`]
//! before it does, which drops the DrmCompositor of a monitor whose screen is off (its
//! swapchain is released and its CRTC turned off) and drives it again once it is on.

use std::cell::RefCell;
use std::rc::Rc;

use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags};
use smithay::backend::allocator::Fourcc;
use smithay::backend::drm::compositor::DrmCompositor;
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmNode};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::drm::control::{
    connector, crtc, Device as ControlDevice, Mode as DrmMode, ModeTypeFlags,
};
use smithay::utils::Transform;

use super::counted::{CountedAllocator, CountedExporter, CursorPlaneCount};
use super::device::Device;
use super::lease;
use super::TtyData;
use crate::backend::headless::Layout;
use crate::monitor::MonitorId;
use crate::state::{OutputInfo, State};

pub type Compositor = DrmCompositor<CountedAllocator, CountedExporter, (), DrmDeviceFd>;

/// A connected monitor and what drives it, with its place in the redraw cycle.
pub struct OutputSurface {
    /// The monitor's output; the GPUs behind it are in the output registry
    /// (`State::output_info`).
    pub output: Output,
    /// What drives the connector; none while the screen is off (`screens`).
    pub compositor: Option<Compositor>,
    pub connector: connector::Handle,
    /// The mode the connector is driven in.
    pub mode: DrmMode,
    /// The GPU that drew its last frame: when the output registry names another
    /// (`gpu::render_choice`), the output is drawn whole again.
    pub rendered_by: tandem::GpuId,
    /// A frame is queued and its page flip has not completed.
    pub flip_pending: bool,
    /// Something changed since the last frame was drawn.
    pub dirty: bool,
    /// When the oldest change not yet shown happened.
    pub dirty_since: Option<std::time::Instant>,
    /// A timer stands in for the page flip an empty frame did not cause.
    pub timer_armed: bool,
    /// The cursor plane's buffer in the ledger.
    pub cursor_count: CursorPlaneCount,
}

/// Adds outputs for newly connected connectors and drops those of disconnected ones.
pub fn rescan_connectors(data: &Rc<RefCell<TtyData>>, state: &mut State, device_id: u64) {
    let Ok(node) = DrmNode::from_dev_id(device_id) else {
        return;
    };
    let mut data_ref = data.borrow_mut();
    let primary = data_ref.primary;
    let layout = data_ref.layout;
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
    let connector_name =
        |info: &connector::Info| format!("{}-{}", info.interface().as_str(), info.interface_id());
    let leasable: Vec<connector::Handle> = connectors
        .iter()
        .filter(|c| c.state() == connector::State::Connected)
        .filter(|c| lease::is_leasable(&device.drm, c, &connector_name(c), state))
        .map(|c| c.handle())
        .collect();
    let gone: Vec<crtc::Handle> = device
        .surfaces
        .iter()
        .filter(|(_, s)| {
            leasable.contains(&s.connector)
                || !connectors
                    .iter()
                    .any(|c| c.handle() == s.connector && c.state() == connector::State::Connected)
        })
        .map(|(crtc, _)| *crtc)
        .collect();
    for crtc in gone {
        if let Some(surface) = device.surfaces.remove(&crtc) {
            if leasable.contains(&surface.connector) {
                tracing::info!(output = %surface.output.name(), "output leaves the desktop: its connector is for leasing");
            } else {
                tracing::info!(output = %surface.output.name(), "monitor unplugged");
            }
            remove_output(state, &surface.output);
        }
    }
    lease::withdraw_gone(state, node, &leasable);
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
        let connector_name = connector_name(info);
        if leasable.contains(&info.handle()) {
            let description = monitor_of(&device.drm, info.handle()).description();
            lease::offer(state, node, info.handle(), &connector_name, description);
            continue;
        }
        if lease::is_leased(state, node, info.handle()) {
            continue;
        }
        let mut used: Vec<crtc::Handle> = device.surfaces.keys().copied().collect();
        used.extend(lease::leased_crtcs(state, node));
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
        let name = unique_name(state, connector_name, node);
        let (w, h) = mode.size();
        let monitor = monitor_of(&device.drm, info.handle());
        let output = Output::new(
            name.clone(),
            PhysicalProperties {
                size: info
                    .size()
                    .map(|(w, h)| (w as i32, h as i32))
                    .unwrap_or((0, 0))
                    .into(),
                subpixel: Subpixel::Unknown,
                make: monitor.make.clone(),
                model: monitor.model.clone(),
            },
        );
        let output_mode = OutputMode::from(mode);
        let x = match layout {
            Layout::Row => state
                .space
                .outputs()
                .filter_map(|o| state.space.output_geometry(o))
                .map(|g| g.loc.x + g.size.w)
                .max()
                .unwrap_or(0),
            Layout::Mirror => 0,
        };
        output.change_current_state(
            Some(output_mode),
            Some(Transform::Normal),
            None,
            Some((x, 0).into()),
        );
        output.set_preferred(output_mode);
        let compositor = match drive(device, node, state, &output, crtc, info.handle(), mode) {
            Ok(compositor) => compositor,
            Err(err) => {
                tracing::warn!(%err, %name, "could not drive the monitor");
                continue;
            }
        };
        let global = output.create_global::<State>(&state.display);
        state.space.map_output(&output, (x, 0));
        let info_out = OutputInfo {
            output: output.clone(),
            render: primary,
            target: device.gpu,
            global,
            powered: true,
            monitor: monitor.clone(),
        };
        state.outputs.add(info_out);
        tracing::info!(%name, monitor = %monitor.description(), size = ?(w, h), render = %primary, target = %device.gpu, "monitor connected");
        device.surfaces.insert(
            crtc,
            OutputSurface {
                output,
                compositor: Some(compositor),
                connector: info.handle(),
                mode,
                rendered_by: primary,
                flip_pending: false,
                dirty: true,
                dirty_since: None,
                timer_armed: false,
                cursor_count: CursorPlaneCount::new(format!("cursor {name}")),
            },
        );
    }
}

/// A DrmCompositor driving `connector` on `crtc` in `mode` for `output`, its swapchain
/// counted in the ledger as the compositor's.
fn drive(
    device: &mut Device,
    node: DrmNode,
    state: &mut State,
    output: &Output,
    crtc: crtc::Handle,
    connector: connector::Handle,
    mode: DrmMode,
) -> Result<Compositor, String> {
    let surface = device
        .drm
        .create_surface(crtc, mode, &[connector])
        .map_err(|err| format!("the connector: {err}"))?;
    let render_formats = state
        .gpus
        .gpu(device.gpu)
        .map(|gpu| gpu.renderer().egl_context().dmabuf_render_formats().clone())
        .unwrap_or_default();
    Compositor::new(
        output,
        surface,
        None,
        CountedAllocator::new(
            GbmAllocator::new(
                device.gbm.clone(),
                GbmBufferFlags::RENDERING | GbmBufferFlags::SCANOUT,
            ),
            state.gpus.ledger().clone(),
            device.gpu,
            format!("swapchain {}", output.name()),
        ),
        CountedExporter(GbmFramebufferExporter::new(device.gbm.clone(), Some(node))),
        [Fourcc::Xrgb8888, Fourcc::Argb8888],
        render_formats,
        (64, 64).into(),
        Some(device.gbm.clone()),
    )
    .map_err(|err| format!("the output's compositor: {err}"))
}

/// Puts each monitor's power as the output registry says: one whose screen is off loses its
/// DrmCompositor (the swapchain and cursor buffers go, the CRTC is turned off); one that is on
/// again is driven anew and drawn whole.
pub fn apply_power(data: &Rc<RefCell<TtyData>>, state: &mut State) {
    let mut data_ref = data.borrow_mut();
    for (node, device) in data_ref.devices.iter_mut() {
        let crtcs: Vec<crtc::Handle> = device.surfaces.keys().copied().collect();
        for crtc in crtcs {
            let Some(surface) = device.surfaces.get(&crtc) else {
                continue;
            };
            let powered = state
                .output_info(&surface.output)
                .is_some_and(|info| info.powered);
            let name = surface.output.name();
            match (powered, surface.compositor.is_some()) {
                (false, true) => {
                    if let Some(surface) = device.surfaces.get_mut(&crtc) {
                        surface.compositor = None;
                        surface.cursor_count.forget();
                        surface.flip_pending = false;
                    }
                    tracing::info!(output = %name, "monitor off: swapchain released");
                }
                (true, false) => {
                    let (output, connector, mode) =
                        (surface.output.clone(), surface.connector, surface.mode);
                    match drive(device, *node, state, &output, crtc, connector, mode) {
                        Ok(compositor) => {
                            if let Some(surface) = device.surfaces.get_mut(&crtc) {
                                surface.compositor = Some(compositor);
                                surface.dirty = true;
                            }
                            tracing::info!(output = %name, "monitor on");
                        }
                        Err(err) => {
                            tracing::warn!(%err, output = %name, "could not turn the monitor on")
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// `connector_name` (HDMI-A-1) if no output has it yet, else that name with the device's
/// card number (HDMI-A-1-card1): connector names repeat across devices, and every output's
/// name (its wl_output name, its output path in Tandem, its frame counters) must be unique.
fn unique_name(state: &State, connector_name: String, node: DrmNode) -> String {
    let taken = |name: &str| state.outputs.name_taken(name);
    if !taken(&connector_name) {
        return connector_name;
    }
    let with_card = format!("{connector_name}-card{}", node.minor());
    if !taken(&with_card) {
        return with_card;
    }
    (2..)
        .map(|n| format!("{with_card}-{n}"))
        .find(|name| !taken(name))
        .unwrap_or(with_card)
}

pub(super) fn free_crtc(
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

/// Takes `output` out of the space, the output registry, Tandem's output paths and the
/// clients' view (its wl_output global).
pub fn remove_output(state: &mut State, output: &Output) {
    if let Some(info) = state.output_info(output) {
        state.display.remove_global::<State>(info.global.clone());
    }
    crate::shell::layer::output_removed(output);
    state.space.unmap_output(output);
    state.outputs.remove(output);
    state.gpus.remove_output(&output.name());
    crate::capture::forget_output(state, &output.name());
}

/// The monitor on `connector`, from its EDID property; "Unknown" when it has none that parses.
fn monitor_of(drm: &impl ControlDevice, connector: connector::Handle) -> MonitorId {
    let edid = drm.get_properties(connector).ok().and_then(|properties| {
        properties.iter().find_map(|(property, value)| {
            let info = drm.get_property(*property).ok()?;
            if info.name().to_bytes() != b"EDID" || *value == 0 {
                return None;
            }
            drm.get_property_blob(*value).ok()
        })
    });
    edid.as_deref()
        .and_then(MonitorId::from_edid)
        .unwrap_or_else(|| MonitorId {
            make: "Unknown".into(),
            model: "Unknown".into(),
            serial: String::new(),
        })
}
