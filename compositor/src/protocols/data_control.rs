//! Data control, wlr (zwlr_data_control_manager_v1) and ext (ext_data_control_manager_v1):
//! clipboard managers and `wl-paste --watch` see every clipboard and primary selection as it is
//! set, read it without the keyboard focus, and set it. Privileged: a sandboxed client does not
//! see either global (`protocols::security_context`).
//!
//! `State` owns both globals (`State::data_control`); smithay keeps the selections and calls
//! the handlers below for their state.

use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::selection::ext_data_control::{
    DataControlHandler as ExtDataControlHandler, DataControlState as ExtDataControlState,
};
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::selection::wlr_data_control::{DataControlHandler, DataControlState};

use crate::protocols::security_context::privileged;
use crate::state::State;

/// The two data-control globals.
pub struct DataControl {
    wlr: DataControlState,
    ext: ExtDataControlState,
}

impl DataControl {
    /// Both globals, the primary selection included, for privileged clients.
    pub fn new(display: &DisplayHandle, primary: &PrimarySelectionState) -> DataControl {
        DataControl {
            wlr: DataControlState::new::<State, _>(display, Some(primary), privileged),
            ext: ExtDataControlState::new::<State, _>(display, Some(primary), privileged),
        }
    }
}

impl DataControlHandler for State {
    fn data_control_state(&self) -> &DataControlState {
        &self.data_control.wlr
    }
}

impl ExtDataControlHandler for State {
    fn data_control_state(&self) -> &ExtDataControlState {
        &self.data_control.ext
    }
}

smithay::delegate_data_control!(State);
smithay::delegate_ext_data_control!(State);
