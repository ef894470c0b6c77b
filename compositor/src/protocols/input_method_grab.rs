//! The input method's keyboard grab (zwp_input_method_keyboard_grab_v2): while the input method
//! holds it, the seat's keys and modifiers go to the input method instead of the focused
//! program (which keeps the focus); the input method sends what they compose to the field, and
//! keys it does not use back through a virtual keyboard. The grab is told the seat's keymap and
//! repeat rate when it starts.
//!
//! `protocols::input_method` calls [`start`] for `grab_keyboard` and [`end`] when the input
//! method goes; the grab ends too when its object is released.

use smithay::backend::input::{KeyState, Keycode};
use smithay::input::keyboard::{
    GrabStartData, KeyboardGrab, KeyboardInnerHandle, KeymapFile, ModifiersState,
};
use smithay::reexports::wayland_protocols_misc::zwp_input_method_v2::server::zwp_input_method_keyboard_grab_v2::{
    self, ZwpInputMethodKeyboardGrabV2,
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_keyboard::KeymapFormat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle};
use smithay::utils::{Serial, SERIAL_COUNTER};

use crate::state::State;

/// The seat keyboard's grab while the input method holds its own.
struct InputMethodKeys {
    start: GrabStartData<State>,
}

/// The input method grabbed the keyboard with `grab`.
pub fn start(state: &mut State, grab: ZwpInputMethodKeyboardGrabV2) {
    let Some(keyboard) = state.seat.get_keyboard() else {
        return;
    };
    let keymap = keyboard.with_xkb_state(state, |context| {
        let xkb = context
            .xkb()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: the keymap is only read into a new file here; no reference to it is kept.
        KeymapFile::new(unsafe { xkb.keymap() })
    });
    let sent = keymap.with_fd(false, |fd, size| {
        grab.keymap(KeymapFormat::XkbV1, fd, size as u32);
    });
    if let Err(err) = sent {
        tracing::warn!(%err, "the input method's keyboard grab got no keymap");
    }
    let keys = &state.config.keyboard;
    grab.repeat_info(
        keys.repeat_rate.clamp(1, 1000),
        keys.repeat_delay.clamp(1, 10_000),
    );
    // Modifiers already held or latched when the grab starts.
    let mods = keyboard.modifier_state().serialized;
    grab.modifiers(
        SERIAL_COUNTER.next_serial().into(),
        mods.depressed,
        mods.latched,
        mods.locked,
        mods.layout_effective,
    );
    if !state.input_method.set_grab(Some(grab)) {
        return;
    }
    let focus = keyboard.current_focus();
    keyboard.set_grab(
        state,
        InputMethodKeys {
            start: GrabStartData { focus },
        },
        SERIAL_COUNTER.next_serial(),
    );
}

/// The input method's grab ended: the keys go to the focused program again.
pub fn end(state: &mut State) {
    state.input_method.set_grab(None);
    let Some(keyboard) = state.seat.get_keyboard() else {
        return;
    };
    let ours = keyboard
        .with_grab(|_, grab| grab.is::<InputMethodKeys>())
        .unwrap_or(false);
    if ours {
        keyboard.unset_grab(state);
    }
}

impl KeyboardGrab<State> for InputMethodKeys {
    fn input(
        &mut self,
        state: &mut State,
        _handle: &mut KeyboardInnerHandle<'_, State>,
        keycode: Keycode,
        key_state: KeyState,
        modifiers: Option<ModifiersState>,
        serial: Serial,
        time: u32,
    ) {
        let Some(grab) = state.input_method.grab() else {
            return;
        };
        // wl_keyboard's key codes are evdev's, 8 below xkb's.
        grab.key(
            serial.into(),
            time,
            keycode.raw().saturating_sub(8),
            key_state.into(),
        );
        if let Some(mods) = modifiers.map(|m| m.serialized) {
            grab.modifiers(
                serial.into(),
                mods.depressed,
                mods.latched,
                mods.locked,
                mods.layout_effective,
            );
        }
    }

    fn set_focus(
        &mut self,
        state: &mut State,
        handle: &mut KeyboardInnerHandle<'_, State>,
        focus: Option<WlSurface>,
        serial: Serial,
    ) {
        handle.set_focus(state, focus, serial);
    }

    fn start_data(&self) -> &GrabStartData<State> {
        &self.start
    }

    fn unset(&mut self, _state: &mut State) {}
}

impl Dispatch<ZwpInputMethodKeyboardGrabV2, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _resource: &ZwpInputMethodKeyboardGrabV2,
        _request: zwp_input_method_keyboard_grab_v2::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        resource: &ZwpInputMethodKeyboardGrabV2,
        _data: &(),
    ) {
        if state.input_method.grab() == Some(resource) {
            end(state);
        }
    }
}
