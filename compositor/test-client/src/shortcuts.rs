//! A window that takes the compositor's key bindings (`tandem-test-client
//! --inhibit-shortcuts`): it asks keyboard-shortcuts-inhibit for its first window and prints
//! "shortcuts inhibitor active" or "... inactive" as the compositor says, and every key it gets
//! as "key CODE pressed" (evdev codes) with "modifiers DEPRESSED" before it.

use wayland_client::protocol::wl_keyboard::{self, KeyState, WlKeyboard};
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::keyboard_shortcuts_inhibit::zv1::client::{
    zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
    zwp_keyboard_shortcuts_inhibitor_v1::{self, ZwpKeyboardShortcutsInhibitorV1},
};

use crate::{Globals, TestClient};

impl Dispatch<ZwpKeyboardShortcutsInhibitorV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpKeyboardShortcutsInhibitorV1,
        event: zwp_keyboard_shortcuts_inhibitor_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Active => {
                println!("shortcuts inhibitor active")
            }
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Inactive => {
                println!("shortcuts inhibitor inactive")
            }
            _ => {}
        }
    }
}

/// A keyboard that prints the keys it gets.
pub struct KeyPrinter;

impl Dispatch<WlKeyboard, KeyPrinter> for Globals {
    fn event(
        _: &mut Self,
        _: &WlKeyboard,
        event: wl_keyboard::Event,
        _: &KeyPrinter,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Key {
                key,
                state: WEnum::Value(KeyState::Pressed),
                ..
            } => println!("key {key} pressed"),
            wl_keyboard::Event::Modifiers { mods_depressed, .. } => {
                println!("modifiers {mods_depressed}")
            }
            _ => {}
        }
    }
}

wayland_client::delegate_noop!(Globals: ZwpKeyboardShortcutsInhibitManagerV1);

impl TestClient {
    /// Asks that `surface` take the key bindings while it has the keyboard, and prints the
    /// keys this client gets. Fails when keyboard-shortcuts-inhibit is not offered.
    pub fn inhibit_shortcuts(
        &mut self,
        surface: &WlSurface,
    ) -> Result<(ZwpKeyboardShortcutsInhibitorV1, WlKeyboard), String> {
        let manager: ZwpKeyboardShortcutsInhibitManagerV1 =
            self.bind_named("zwp_keyboard_shortcuts_inhibit_manager_v1", 1)?;
        let seat = self.bind_seat()?;
        let qh = self.qh();
        let keyboard = seat.get_keyboard(&qh, KeyPrinter);
        let inhibitor = manager.inhibit_shortcuts(surface, &seat, &qh, ());
        self.roundtrip()?;
        Ok((inhibitor, keyboard))
    }
}
