//! Primary selection (zwp_primary_selection_v1): text selected in one client is pasted with the
//! middle button in another, as on X11.
//!
//! smithay keeps the selection and its offers; the compositor only says which client may read
//! it: the one with the keyboard focus (`State::focus_changed` calls [`focus_changed`], as it
//! does for the clipboard).

use smithay::input::Seat;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::selection::primary_selection::{
    set_primary_focus, PrimarySelectionHandler, PrimarySelectionState,
};

use crate::state::State;

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.primary_selection
    }
}

// Its dispatch: in selection/unfocused.rs.

/// The keyboard focus moved to `client` (None: to no client).
pub fn focus_changed(display: &DisplayHandle, seat: &Seat<State>, client: Option<Client>) {
    set_primary_focus(display, seat, client);
}
