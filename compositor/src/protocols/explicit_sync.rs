//! Explicit sync (linux-drm-syncobj-v1).
//!
//! [`offer`] creates the wp_linux_drm_syncobj_manager_v1 global the first time a DRM GPU whose
//! device has timeline syncobjs that an eventfd can wait on is opened (the TTY backend calls it
//! for every device it adds). Software GPUs have no DRM device: the headless and winit backends
//! offer no explicit sync, and `msg gpus` says so ([`ExplicitSync::describe`]). An acquire point
//! holds its commit through a blocker (`buffer_readiness`), so no GPU reads a buffer before the
//! client's work on it is done, and nothing waits for it on the event loop. Release points are
//! signalled when smithay releases the buffer, which `buffer_release` holds back until the GPUs'
//! frames that read it have ended.

use smithay::backend::drm::DrmDeviceFd;
use smithay::wayland::drm_syncobj::{supports_syncobj_eventfd, DrmSyncobjHandler, DrmSyncobjState};

use crate::state::State;

/// The explicit sync global, if offered.
#[derive(Default)]
pub struct ExplicitSync {
    global: Option<DrmSyncobjState>,
    /// The DRM node whose device imports the clients' timelines.
    device: Option<String>,
}

impl ExplicitSync {
    /// One line for `msg gpus`.
    pub fn describe(&self) -> String {
        match &self.device {
            Some(node) => format!(
                "explicit sync: wp_linux_drm_syncobj_manager_v1 offered (timelines imported on {node})"
            ),
            None => "explicit sync: not offered (no DRM GPU with timeline syncobjs; software \
                     GPUs have none): clients synchronise implicitly"
                .into(),
        }
    }
}

impl DrmSyncobjHandler for State {
    fn drm_syncobj_state(&mut self) -> Option<&mut DrmSyncobjState> {
        self.explicit_sync.global.as_mut()
    }
}

smithay::delegate_drm_syncobj!(State);

/// Offers explicit sync with `device` (DRM node `node`) importing the timelines, unless it is
/// already offered or the device cannot wait for a timeline point with an eventfd.
pub fn offer(state: &mut State, device: &DrmDeviceFd, node: &str) {
    if state.explicit_sync.global.is_some() {
        return;
    }
    if !supports_syncobj_eventfd(device) {
        tracing::info!(%node, "no explicit sync through this GPU: its device has no timeline syncobjs an eventfd can wait on");
        return;
    }
    let global = DrmSyncobjState::new::<State>(&state.display, device.clone());
    state.explicit_sync.global = Some(global);
    state.explicit_sync.device = Some(node.to_string());
    tracing::info!(%node, "explicit sync offered (wp_linux_drm_syncobj_manager_v1)");
}

/// Withdraws the global when the DRM node it imports timelines on goes away (its timelines stop
/// answering; clients that bound it get an error on their next import). Another GPU may offer
/// it again through [`offer`].
pub fn device_removed(state: &mut State, node: &str) {
    if state.explicit_sync.device.as_deref() != Some(node) {
        return;
    }
    state.explicit_sync.device = None;
    if let Some(global) = state.explicit_sync.global.take() {
        let id = global.into_global();
        state.display.remove_global::<State>(id);
        tracing::info!(%node, "explicit sync withdrawn: its GPU went away");
    }
}
