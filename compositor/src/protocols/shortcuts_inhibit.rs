//! keyboard-shortcuts-inhibit: a window that asks for it (a virtual machine's or a remote
//! desktop's viewer) gets the key combinations bound in the configuration while it has the
//! keyboard, instead of the compositor acting on them. Every inhibitor is activated at once;
//! Ctrl+Alt+F1..F12 switch VT whatever a window holds, so no program can trap the user.
//!
//! `input::keyboard` asks [`inhibited`] before matching a key against the bindings; `State::new`
//! makes the global (`State::shortcuts_inhibit`).

use smithay::delegate_keyboard_shortcuts_inhibit;
use smithay::input::Seat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::keyboard_shortcuts_inhibit::{
    KeyboardShortcutsInhibitHandler, KeyboardShortcutsInhibitState, KeyboardShortcutsInhibitor,
    KeyboardShortcutsInhibitorSeat,
};

use crate::state::State;

impl KeyboardShortcutsInhibitHandler for State {
    fn keyboard_shortcuts_inhibit_state(&mut self) -> &mut KeyboardShortcutsInhibitState {
        &mut self.shortcuts_inhibit
    }

    fn new_inhibitor(&mut self, inhibitor: KeyboardShortcutsInhibitor) {
        tracing::info!(surface = ?inhibitor.wl_surface().id(), "a window takes the key bindings while it has the keyboard");
        inhibitor.activate();
    }
}

delegate_keyboard_shortcuts_inhibit!(State);

/// Whether `focus`, the surface with the keyboard, takes the bound key combinations itself.
pub fn inhibited(seat: &Seat<State>, focus: Option<&WlSurface>) -> bool {
    focus
        .and_then(|surface| seat.keyboard_shortcuts_inhibitor_for_surface(surface))
        .is_some_and(|inhibitor| inhibitor.is_active())
}
