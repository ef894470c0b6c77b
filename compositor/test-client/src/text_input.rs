//! Text input and an input method, as clients. `tandem-test-client --text-field` gives its first
//! window a zwp_text_input_v3 that enables itself (with surrounding text and a content type)
//! whenever it enters; `tandem-test-client --input-method TEXT` is an input method that, once
//! activated, grabs the keyboard and commits TEXT to the field. Both print every event as
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
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The text the field says surrounds its cursor when it enables itself.
pub const SURROUNDING: &str = "typed so far ";

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

wayland_client::delegate_noop!(Globals: ignore ZwpTextInputManagerV3);
wayland_client::delegate_noop!(Globals: ignore ZwpInputMethodManagerV2);

impl TestClient {
    fn bind_seat(&mut self) -> Result<WlSeat, String> {
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

    /// Runs as the seat's input method for `hold`: once activated, grabs the keyboard and
    /// commits `text` to the field. Fails when zwp_input_method_manager_v2 is not offered.
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
        let _method = manager.get_input_method(&seat, &qh, state);
        println!("input method: started");
        let started = Instant::now();
        while started.elapsed() < hold {
            self.roundtrip()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}
