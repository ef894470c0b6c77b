//! Popup grabs: a menu that asks for a grab (xdg_popup.grab, with the serial of the click that
//! opened it) takes the keyboard, gets the pointer's events, and is dismissed (popup_done) by
//! a click outside its client's popups.
//!
//! The xdg-shell handler (`state`) calls [`start`]; smithay's popup grabs do the rest. A
//! window that shows for the first time ends the grab (`State::focus_once_shown` calls
//! [`dismiss`]): its menus close as they would on a click elsewhere.

use smithay::desktop::{
    find_popup_root_surface, PopupKeyboardGrab, PopupKind, PopupPointerGrab, PopupUngrabStrategy,
};
use smithay::input::pointer::Focus;
use smithay::utils::Serial;
use smithay::wayland::shell::xdg::PopupSurface;

use crate::state::State;

/// `popup` asked for a grab with the input event `serial` names.
pub fn start(state: &mut State, popup: PopupSurface, serial: Serial) {
    let kind = PopupKind::Xdg(popup);
    let Ok(root) = find_popup_root_surface(&kind) else {
        return;
    };
    let seat = state.seat.clone();
    let mut grab = match state.popups.grab_popup(root, kind, &seat, serial) {
        Ok(grab) => grab,
        Err(err) => {
            tracing::debug!(?err, "popup grab refused");
            return;
        }
    };
    if let Some(keyboard) = seat.get_keyboard() {
        let earlier = grab.previous_serial().unwrap_or(serial);
        if keyboard.is_grabbed() && !(keyboard.has_grab(serial) || keyboard.has_grab(earlier)) {
            grab.ungrab(PopupUngrabStrategy::All);
            return;
        }
        keyboard.set_focus(state, grab.current_grab(), serial);
        keyboard.set_grab(state, PopupKeyboardGrab::new(&grab), serial);
    }
    if let Some(pointer) = seat.get_pointer() {
        let earlier = grab.previous_serial().unwrap_or_else(|| grab.serial());
        if pointer.is_grabbed() && !(pointer.has_grab(serial) || pointer.has_grab(earlier)) {
            grab.ungrab(PopupUngrabStrategy::All);
            return;
        }
        pointer.set_grab(state, PopupPointerGrab::new(&grab), serial, Focus::Keep);
    }
    state.popup_grab = Some(grab);
}

/// Ends the popup grab, if one is on: every grabbed popup gets popup_done.
pub fn dismiss(state: &mut State) {
    if let Some(mut grab) = state.popup_grab.take() {
        if !grab.has_ended() {
            grab.ungrab(PopupUngrabStrategy::All);
        }
    }
}
