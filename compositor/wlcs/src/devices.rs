//! The pointer and touch points WLCS creates: each event becomes an [`Action`] that the
//! compositor thread passes to the compositor's input functions.

use wayland_sys::common::wl_fixed_t;

use crate::requests::{Action, Requests};

fn from_fixed(value: wl_fixed_t) -> f64 {
    f64::from(value) / 256.0
}

/// A pointer device.
pub struct WlcsPointer {
    requests: Requests,
}

impl WlcsPointer {
    pub fn new(requests: Requests) -> Self {
        WlcsPointer { requests }
    }

    fn button(&self, button: i32, pressed: bool) {
        match u32::try_from(button) {
            Ok(code) => self.requests.call_logged(Action::Button { code, pressed }),
            Err(_) => tracing::error!(button, "negative button code"),
        }
    }
}

impl wlcs::Pointer for WlcsPointer {
    fn move_absolute(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (from_fixed(x), from_fixed(y));
        self.requests.call_logged(Action::PointerTo { x, y });
    }

    fn move_relative(&mut self, dx: wl_fixed_t, dy: wl_fixed_t) {
        let (dx, dy) = (from_fixed(dx), from_fixed(dy));
        self.requests.call_logged(Action::PointerBy { dx, dy });
    }

    fn button_up(&mut self, button: i32) {
        self.button(button, false);
    }

    fn button_down(&mut self, button: i32) {
        self.button(button, true);
    }
}

/// WLCS's runner hands touch positions over as whole pixels, although the interface names
/// them `wl_fixed_t` (pointer positions are fixed-point).
fn from_touch_position(value: wl_fixed_t) -> f64 {
    f64::from(value)
}

/// One touch point, with its own slot.
pub struct WlcsTouch {
    requests: Requests,
    slot: u32,
}

impl WlcsTouch {
    pub fn new(requests: Requests, slot: u32) -> Self {
        WlcsTouch { requests, slot }
    }
}

impl wlcs::Touch for WlcsTouch {
    fn touch_down(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (from_touch_position(x), from_touch_position(y));
        let slot = self.slot;
        self.requests.call_logged(Action::TouchDown { slot, x, y });
    }

    fn touch_move(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        let (x, y) = (from_touch_position(x), from_touch_position(y));
        let slot = self.slot;
        self.requests.call_logged(Action::TouchMove { slot, x, y });
    }

    fn touch_up(&mut self) {
        let slot = self.slot;
        self.requests.call_logged(Action::TouchUp { slot });
    }
}
