//! Text input and an input method, as clients. `tandem-test-client --text-field` gives its first
//! window a zwp_text_input_v3 that enables itself (with surrounding text and a content type)
//! whenever it enters; `tandem-test-client --input-method TEXT` is an input method that, once
//! activated, grabs the keyboard, commits TEXT to the field and shows a candidate popup. Both print every event as
//! one line ("text input: ..." and "input method: ..."), which tests read.

use std::time::{Duration, Instant};

use wayland_client::protocol::wl_keyboard::KeyState;
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::text_input::zv3::client::{
    zwp_text_input_manager_v3::ZwpTextInputManagerV3,
    zwp_text_input_v3::{self, ContentHint, ContentPurpose, ZwpTextInputV3},
};
use wayland_protocols_misc::zwp_input_method_v2::client::{
    zwp_input_method_keyboard_grab_v2::{self, ZwpInputMethodKeyboardGrabV2},
    zwp_input_method_manager_v2::ZwpInputMethodManagerV2,
    zwp_input_method_v2::{self, ZwpInputMethodV2},
    zwp_input_popup_surface_v2::{self, ZwpInputPopupSurfaceV2},
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The text the field says surrounds its cursor when it enables itself.
pub const SURROUNDING: &str = "typed so far ";
/// The cursor rectangle the field names (x, y, width, height in its surface).
pub const CURSOR: (i32, i32, i32, i32) = (10, 20, 2, 16);
/// The input method's candidate popup: its size and colour (ARGB).
pub const POPUP_SIZE: (i32, i32) = (60, 30);
pub const POPUP_COLOUR: u32 = 0xff20_60e0;

impl Dispatch<ZwpTextInputV3, ()> for Globals {
    fn event(
        _: &mut Self,
        field: &ZwpTextInputV3,
        event: zwp_text_input_v3::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_text_input_v3::Event;
        match event {
            Event::Enter { .. } => {
                println!("text input: enter");
                field.enable();
                let end = SURROUNDING.len() as i32;
                field.set_surrounding_text(SURROUNDING.into(), end, end);
                field.set_content_type(ContentHint::Spellcheck, ContentPurpose::Normal);
                let (x, y, w, h) = CURSOR;
                field.set_cursor_rectangle(x, y, w, h);
                field.commit();
            }
            Event::Leave { .. } => println!("text input: leave"),
            Event::PreeditString { text, .. } => {
                println!("text input: preedit {}", text.unwrap_or_default())
            }
            Event::CommitString { text } => {
                println!("text input: commit_string {}", text.unwrap_or_default())
            }
            Event::DeleteSurroundingText {
                before_length,
                after_length,
            } => println!("text input: delete_surrounding_text {before_length} {after_length}"),
            Event::Done { serial } => println!("text input: done {serial}"),
            _ => {}
        }
    }
}

/// What the input method has been told, and what it commits once active.
#[derive(Default)]
struct MethodState {
    text: String,
    active: bool,
    dones: u32,
    committed: bool,
    grab: Option<ZwpInputMethodKeyboardGrabV2>,
}

impl Dispatch<ZwpInputMethodV2, Shared<MethodState>> for Globals {
    fn event(
        _: &mut Self,
        method: &ZwpInputMethodV2,
        event: zwp_input_method_v2::Event,
        state: &Shared<MethodState>,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        use zwp_input_method_v2::Event;
        state.with(|state| match event {
            Event::Activate => {
                println!("input method: activate");
                state.active = true;
                // Grabbed once there is a field to type into, as fcitx5 does.
                if state.grab.is_none() {
                    state.grab = Some(method.grab_keyboard(qh, ()));
                }
            }
            Event::Deactivate => {
                println!("input method: deactivate");
                state.active = false;
            }
            Event::SurroundingText { text, cursor, .. } => {
                println!("input method: surrounding_text {text:?} cursor {cursor}")
            }
            Event::ContentType { hint, purpose } => {
                println!("input method: content_type {hint:?} {purpose:?}")
            }
            Event::Done => {
                state.dones += 1;
                println!("input method: done {}", state.dones);
                if state.active && !state.committed {
                    method.commit_string(state.text.clone());
                    method.commit(state.dones);
                    state.committed = true;
                    println!("input method: committed {}", state.text);
                }
            }
            Event::Unavailable => println!("input method: unavailable"),
            _ => {}
        });
    }
}

impl Dispatch<ZwpInputMethodKeyboardGrabV2, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpInputMethodKeyboardGrabV2,
        event: zwp_input_method_keyboard_grab_v2::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_input_method_keyboard_grab_v2::Event;
        match event {
            Event::Keymap { size, .. } => println!("input method: grab keymap {size} bytes"),
            Event::RepeatInfo { rate, delay } => {
                println!("input method: grab repeat {rate} per s after {delay} ms")
            }
            Event::Key { key, state, .. } => {
                let pressed = matches!(state, WEnum::Value(KeyState::Pressed));
                println!("input method: grab key {key} pressed {pressed}")
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwpInputPopupSurfaceV2, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpInputPopupSurfaceV2,
        event: zwp_input_popup_surface_v2::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwp_input_popup_surface_v2::Event::TextInputRectangle {
            x,
            y,
            width,
            height,
        } = event
        {
            println!("input method: popup under {x},{y} {width}x{height}");
        }
    }
}

wayland_client::delegate_noop!(Globals: ignore ZwpTextInputManagerV3);
wayland_client::delegate_noop!(Globals: ignore ZwpInputMethodManagerV2);

impl TestClient {
    pub(crate) fn bind_seat(&mut self) -> Result<WlSeat, String> {
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, version) = self.globals.seat_global.ok_or("no wl_seat")?;
        Ok(registry.bind(name, version.min(5), &self.qh(), ()))
    }

    /// A text input on the seat; it enables itself whenever it enters one of this client's
    /// surfaces. Fails when zwp_text_input_manager_v3 is not offered.
    pub fn text_field(&mut self) -> Result<ZwpTextInputV3, String> {
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, _) = self
            .globals
            .text_input_global
            .ok_or("zwp_text_input_manager_v3 is not offered")?;
        let seat = self.bind_seat()?;
        let qh = self.qh();
        let manager: ZwpTextInputManagerV3 = registry.bind(name, 1, &qh, ());
        Ok(manager.get_text_input(&seat, &qh, ()))
    }

    /// Runs as the seat's input method for `hold`: once activated, grabs the keyboard, commits
    /// `text` to the field and shows a popup of [`POPUP_COLOUR`]. Fails when zwp_input_method_manager_v2 is not offered.
    pub fn input_method(&mut self, text: &str, hold: Duration) -> Result<(), String> {
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, _) = self
            .globals
            .input_method_global
            .ok_or("zwp_input_method_manager_v2 is not offered")?;
        let seat = self.bind_seat()?;
        let qh = self.qh();
        let manager: ZwpInputMethodManagerV2 = registry.bind(name, 1, &qh, ());
        let state = Shared::<MethodState>::default();
        state.with(|state| state.text = text.to_owned());
        let method = manager.get_input_method(&seat, &qh, state.clone());
        println!("input method: started");
        let mut popup = None;
        let started = Instant::now();
        while started.elapsed() < hold {
            self.roundtrip()?;
            if popup.is_none() && state.with(|state| state.active) {
                let (w, h) = POPUP_SIZE;
                let mut window = self.shm_window(POPUP_SIZE);
                window.pixels().fill((0, 0, w, h), POPUP_COLOUR);
                let role = method.get_input_popup_surface(&window.surface, &qh, ());
                window.commit(None);
                println!("input method: popup shown");
                popup = Some((window, role));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}
