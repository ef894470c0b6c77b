//! xdg-foreign v2: a client exports one of its windows as a handle, another client imports the
//! handle and names the window as its own window's parent. A portal's file chooser or a
//! sandboxed program's helper so becomes a dialog of the program's window (`shell::dialog`
//! places it). smithay keeps the handles and sets the parent; every client may bind both
//! globals, as sandboxed programs export their windows for the portal.
//!
//! `State::new` makes the globals (`State::xdg_foreign`).

use smithay::delegate_xdg_foreign;
use smithay::wayland::xdg_foreign::{XdgForeignHandler, XdgForeignState};

use crate::state::State;

impl XdgForeignHandler for State {
    fn xdg_foreign_state(&mut self) -> &mut XdgForeignState {
        &mut self.xdg_foreign
    }
}

delegate_xdg_foreign!(State);
