//! Text input and input methods: zwp_text_input_v3 for the programs text is typed into, and
//! zwp_input_method_v2 for the input method that composes it (fcitx5, ibus's Wayland frontend:
//! CJK input, on-screen keyboards). smithay routes between them and follows the keyboard focus;
//! the compositor places the input method's candidate popups by the window they belong to.
//! The input method manager is privileged (it reads and sends keys): a sandboxed client does
//! not see it.
//!
//! `State` owns the globals' states (`State::input_method`) and the input method's popups
//! while they live; smithay calls the handler below.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::input_method::{InputMethodHandler, InputMethodManagerState, PopupSurface};
use smithay::wayland::text_input::TextInputManagerState;

use crate::protocols::security_context::privileged;
use crate::state::State;

/// Both globals, and the input method's popups.
pub struct InputMethods {
    _text_input: TextInputManagerState,
    _input_method: InputMethodManagerState,
    /// The input method's candidate popups that are up.
    pub popups: Vec<PopupSurface>,
}

impl InputMethods {
    pub fn new(display: &DisplayHandle) -> InputMethods {
        InputMethods {
            _text_input: TextInputManagerState::new::<State>(display),
            _input_method: InputMethodManagerState::new::<State, _>(display, privileged),
            popups: Vec::new(),
        }
    }
}

impl InputMethodHandler for State {
    fn new_popup(&mut self, surface: PopupSurface) {
        self.input_method.popups.push(surface);
        self.request_redraw();
    }

    fn dismiss_popup(&mut self, surface: PopupSurface) {
        self.input_method
            .popups
            .retain(|popup| popup.wl_surface() != surface.wl_surface());
        self.request_redraw();
    }

    fn popup_repositioned(&mut self, _surface: PopupSurface) {
        self.request_redraw();
    }

    fn parent_geometry(&self, parent: &WlSurface) -> Rectangle<i32, Logical> {
        self.window_for(parent)
            .and_then(|window| {
                let location = self.space.element_location(&window)?;
                Some(Rectangle::new(location, window.geometry().size))
            })
            .unwrap_or_default()
    }
}

smithay::delegate_text_input_manager!(State);
smithay::delegate_input_method_manager!(State);
