//! DRM leases (wp_drm_lease_device_v1): connectors that are not part of the desktop are offered
//! to clients, which lease the connector with a free CRTC and its primary plane and drive it
//! themselves (VR runtimes such as Monado drive a headset this way). A connector is leasable when
//! the kernel marks it non-desktop (VR headsets) or when its output section in the configuration
//! says `lease = true`. The lease ends when the client drops it or disconnects, and the connector
//! is offered again. Privileged: a sandboxed client does not see the lease devices.
//!
//! Owned by [`State`] (`drm_leases`): one [`DrmLeaseState`] per DRM device that ever had a
//! leasable connector (kept after the device goes, with its global disabled, as smithay may ask
//! for it while clients still hold its objects). `output.rs` offers and withdraws connectors
//! ([`offer`], [`withdraw_gone`]) when it scans a device's connectors and leaves out the CRTCs
//! leases hold ([`leased_crtcs`]); `device.rs` keeps a device that has any open ([`holds`]) and
//! disables its global when it goes ([`device_gone`]); the configuration's `apply` sorts the
//! connectors again ([`config_changed`]). A request is answered from the device's
//! `DrmDevice`, which the TTY backend lends through a weak handle ([`Leases::tty`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use smithay::backend::drm::{DrmDevice, DrmNode};
use smithay::reexports::drm::control::{connector, crtc, Device as ControlDevice};
use smithay::wayland::drm_lease::{
    DrmLease, DrmLeaseBuilder, DrmLeaseHandler, DrmLeaseRequest, DrmLeaseState, LeaseRejected,
};

use super::TtyData;
use crate::protocols::security_context::privileged;
use crate::state::State;

/// Every device's lease global, its offered connectors and its active leases.
#[derive(Default)]
pub struct Leases {
    devices: HashMap<DrmNode, LeaseDevice>,
    /// The TTY backend's devices, for answering requests.
    pub tty: Weak<RefCell<TtyData>>,
}

struct LeaseDevice {
    state: DrmLeaseState,
    /// The connectors offered now, with their names.
    offered: Vec<(connector::Handle, String)>,
    active: Vec<DrmLease>,
}

/// Whether `info`'s connector (named `name` as an output would be) is for leasing rather than
/// for the desktop.
pub fn is_leasable(drm: &DrmDevice, info: &connector::Info, name: &str, state: &State) -> bool {
    if let Some(lease) = state
        .config
        .outputs
        .get(name)
        .and_then(|section| section.lease)
    {
        return lease;
    }
    non_desktop(drm, info.handle())
}

/// The kernel's `non-desktop` property of the connector (set for VR headsets).
fn non_desktop(drm: &DrmDevice, connector: connector::Handle) -> bool {
    let Ok(properties) = drm.get_properties(connector) else {
        return false;
    };
    let marked = properties.iter().any(|(property, value)| {
        *value == 1
            && drm
                .get_property(*property)
                .is_ok_and(|info| info.name().to_bytes() == b"non-desktop")
    });
    marked
}

/// Offers `connector` of `node` for leasing (once), creating the device's lease global first.
pub fn offer(
    state: &mut State,
    node: DrmNode,
    connector: connector::Handle,
    name: &str,
    description: String,
) {
    if !state.drm_leases.devices.contains_key(&node) {
        match DrmLeaseState::new_with_filter::<State, _>(&state.display, &node, privileged) {
            Ok(lease_state) => {
                state.drm_leases.devices.insert(
                    node,
                    LeaseDevice {
                        state: lease_state,
                        offered: Vec::new(),
                        active: Vec::new(),
                    },
                );
            }
            Err(err) => {
                let why = match err {
                    smithay::wayland::drm_lease::Error::UnableToDropMaster(_) => {
                        " (with CAP_SYS_ADMIN, as root, every fd of the device is authenticated and \
                         smithay 0.7 takes it for a master: start the compositor as a user, or \
                         without CAP_SYS_ADMIN)"
                    }
                    _ => "",
                };
                tracing::warn!(%err, %node, connector = name, "no DRM lease global for the device{why}");
                return;
            }
        }
    }
    let Some(device) = state.drm_leases.devices.get_mut(&node) else {
        return;
    };
    if device
        .offered
        .iter()
        .any(|(offered, _)| *offered == connector)
    {
        return;
    }
    device
        .state
        .add_connector::<State>(connector, name.to_owned(), description);
    device.offered.push((connector, name.to_owned()));
    tracing::info!(connector = name, %node, "connector offered for leasing, not part of the desktop");
}

/// Withdraws the offered connectors of `node` that are not in `leasable` (unplugged, or put
/// back on the desktop by the configuration).
pub fn withdraw_gone(state: &mut State, node: DrmNode, leasable: &[connector::Handle]) {
    let Some(device) = state.drm_leases.devices.get_mut(&node) else {
        return;
    };
    let gone: Vec<(connector::Handle, String)> = device
        .offered
        .iter()
        .filter(|(handle, _)| !leasable.contains(handle))
        .cloned()
        .collect();
    for (handle, name) in gone {
        device.state.withdraw_connector(handle);
        device.offered.retain(|(offered, _)| *offered != handle);
        tracing::info!(connector = %name, %node, "connector no longer offered for leasing");
    }
}

/// The CRTCs of `node` that leases hold.
pub fn leased_crtcs(state: &State, node: DrmNode) -> Vec<crtc::Handle> {
    state
        .drm_leases
        .devices
        .get(&node)
        .map(|device| {
            device
                .active
                .iter()
                .flat_map(|lease| lease.crtcs().copied().collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a lease holds `connector` of `node`.
pub fn is_leased(state: &State, node: DrmNode, connector: connector::Handle) -> bool {
    state.drm_leases.devices.get(&node).is_some_and(|device| {
        device
            .active
            .iter()
            .any(|lease| lease.connectors().any(|c| *c == connector))
    })
}

/// The configuration changed: every device's connectors are sorted again between the desktop
/// and leasing (an output whose section now says `lease = true` leaves the desktop).
pub fn config_changed(state: &mut State) {
    let Some(tty) = state.drm_leases.tty.upgrade() else {
        return;
    };
    let devices: Vec<u64> = match tty.try_borrow() {
        Ok(data) => data.devices.keys().map(|node| node.dev_id()).collect(),
        Err(_) => return,
    };
    for device in devices {
        super::output::rescan_connectors(&tty, state, device);
    }
}

/// Whether `node` offers or leases a connector (it must stay open).
pub fn holds(state: &State, node: DrmNode) -> bool {
    state
        .drm_leases
        .devices
        .get(&node)
        .is_some_and(|device| !device.offered.is_empty() || !device.active.is_empty())
}

/// `node` went: its leases end and its global is disabled.
pub fn device_gone(state: &mut State, node: DrmNode) {
    if let Some(device) = state.drm_leases.devices.get_mut(&node) {
        for (handle, _) in device.offered.drain(..) {
            device.state.withdraw_connector(handle);
        }
        device.active.clear();
        device.state.disable_global::<State>();
    }
}

/// A lease of `request`'s connectors of `node`, each with a CRTC nothing drives and that CRTC's
/// primary plane.
fn build_lease(
    tty: &TtyData,
    held: &[crtc::Handle],
    offered: &[(connector::Handle, String)],
    node: DrmNode,
    request: &DrmLeaseRequest,
) -> Result<DrmLeaseBuilder, String> {
    let device = tty.devices.get(&node).ok_or("the device is gone")?;
    let drm = &device.drm;
    let mut used: Vec<crtc::Handle> = device.surfaces.keys().copied().collect();
    used.extend_from_slice(held);
    let mut builder = DrmLeaseBuilder::new(drm);
    if request.connectors.is_empty() {
        return Err("no connector asked for".into());
    }
    for connector in &request.connectors {
        if !offered.iter().any(|(handle, _)| handle == connector) {
            return Err(format!("{connector:?} is not offered"));
        }
        let info = drm
            .get_connector(*connector, false)
            .map_err(|err| format!("{connector:?}: {err}"))?;
        let crtc = super::output::free_crtc(drm, &info, &used)
            .ok_or_else(|| format!("no free CRTC for {connector:?}"))?;
        let planes = drm
            .planes(&crtc)
            .map_err(|err| format!("{crtc:?}: {err}"))?;
        let primary = planes
            .primary
            .first()
            .ok_or_else(|| format!("{crtc:?} has no primary plane"))?;
        let claim = drm
            .claim_plane(primary.handle, crtc)
            .ok_or_else(|| format!("{crtc:?}'s primary plane is taken"))?;
        used.push(crtc);
        builder.add_connector(*connector);
        builder.add_crtc(crtc);
        builder.add_plane(primary.handle, claim);
    }
    Ok(builder)
}

impl DrmLeaseHandler for State {
    fn drm_lease_state(&mut self, node: DrmNode) -> &mut DrmLeaseState {
        // Globals exist only for nodes that have an entry, and entries are never removed.
        &mut self
            .drm_leases
            .devices
            .get_mut(&node)
            .expect("a lease global's device keeps its entry")
            .state
    }

    fn lease_request(
        &mut self,
        node: DrmNode,
        request: DrmLeaseRequest,
    ) -> Result<DrmLeaseBuilder, LeaseRejected> {
        let held = leased_crtcs(self, node);
        let offered = self
            .drm_leases
            .devices
            .get(&node)
            .map(|device| device.offered.clone())
            .unwrap_or_default();
        let tty: Option<Rc<RefCell<TtyData>>> = self.drm_leases.tty.upgrade();
        let built = match tty.as_ref().map(|tty| tty.try_borrow()) {
            Some(Ok(tty)) => build_lease(&tty, &held, &offered, node, &request),
            _ => Err("the TTY backend is busy or gone".into()),
        };
        built.map_err(|why| {
            tracing::info!(%node, %why, "lease refused");
            LeaseRejected::default()
        })
    }

    fn new_active_lease(&mut self, node: DrmNode, lease: DrmLease) {
        let names: Vec<String> = self
            .drm_leases
            .devices
            .get(&node)
            .map(|device| {
                device
                    .offered
                    .iter()
                    .filter(|(handle, _)| lease.connectors().any(|c| c == handle))
                    .map(|(_, name)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        tracing::info!(%node, lease = lease.id(), connectors = ?names, "connector leased");
        if let Some(device) = self.drm_leases.devices.get_mut(&node) {
            device.active.push(lease);
        }
    }

    fn lease_destroyed(&mut self, node: DrmNode, lease_id: u32) {
        if let Some(device) = self.drm_leases.devices.get_mut(&node) {
            device.active.retain(|lease| lease.id() != lease_id);
        }
        tracing::info!(%node, lease = lease_id, "lease ended");
    }
}

smithay::delegate_drm_lease!(State);
