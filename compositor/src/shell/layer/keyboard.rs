//! Which layer surface has the keyboard.
//!
//! wlr-layer-shell lets a layer surface ask for the keyboard three ways: `none` never takes
//! it; `on_demand` (a launcher, a panel's menu) takes it when it first shows content and when
//! it is clicked, and loses it like a window does; `exclusive` on the top or overlay layer (a
//! lock screen) holds it while it shows content: clicks and new windows do not take it away.
//!
//! `shell::layer::commit` calls [`committed`] for every commit of a layer surface and
//! `shell::layer::layer_destroyed` calls [`released`]; `State::focus` and `input` ask
//! [`exclusive_holder`] before they move the keyboard.

use smithay::desktop::LayerSurface;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::wlr_layer::KeyboardInteractivity;

use crate::shell::layer::{all_mapped, ABOVE_WINDOWS};
use crate::state::State;

/// Marks a layer surface that was offered the keyboard when it first showed content.
struct KeyboardOffered;

/// The topmost layer surface that holds the keyboard exclusively, if any.
pub fn exclusive_holder(state: &State) -> Option<WlSurface> {
    all_mapped(state, &ABOVE_WINDOWS)
        .into_iter()
        .find(|layer| {
            layer.cached_state().keyboard_interactivity == KeyboardInteractivity::Exclusive
        })
        .map(|layer| layer.wl_surface().clone())
}

/// `layer` committed (and is laid out): it takes the keyboard if it now holds it exclusively
/// or shows content for the first time on demand; it gives it back to the topmost window if it
/// no longer takes it.
pub fn committed(state: &mut State, layer: &LayerSurface) {
    let Some(keyboard) = state.seat.get_keyboard() else {
        return;
    };
    let surface = layer.wl_surface();
    let focused = keyboard.current_focus().as_ref() == Some(surface);
    let interactivity = layer.cached_state().keyboard_interactivity;
    let holder = exclusive_holder(state);
    let serial = SERIAL_COUNTER.next_serial();
    if holder.as_ref() == Some(surface) {
        if !focused {
            keyboard.set_focus(state, Some(surface.clone()), serial);
        }
        return;
    }
    let content = crate::shell::layer::has_content(surface);
    match interactivity {
        KeyboardInteractivity::None if focused => state.focus_topmost(),
        _ if focused && !content => state.focus_topmost(),
        KeyboardInteractivity::OnDemand | KeyboardInteractivity::Exclusive
            if holder.is_none() && first_content(surface) =>
        {
            keyboard.set_focus(state, Some(surface.clone()), serial);
        }
        _ => {}
    }
}

/// A layer surface is gone: if it had the keyboard, the keyboard goes back to the windows.
pub fn released(state: &mut State, surface: &WlSurface) {
    let focused = state
        .seat
        .get_keyboard()
        .is_some_and(|keyboard| keyboard.current_focus().as_ref() == Some(surface));
    if focused || exclusive_holder(state).is_some() {
        state.focus_topmost();
    }
}

/// True the first time this is asked of a `surface` that has content.
fn first_content(surface: &WlSurface) -> bool {
    crate::shell::layer::has_content(surface)
        && with_states(surface, |states| {
            states.data_map.insert_if_missing(|| KeyboardOffered)
        })
}
