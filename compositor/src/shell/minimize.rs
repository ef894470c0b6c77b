//! Minimized windows: an xdg window that asked to be minimized (xdg_toplevel.set_minimized), or
//! that a taskbar minimized (`protocols::foreign_toplevel_management`), leaves the space: it is
//! neither drawn nor given input, and the keyboard goes to the topmost window left. It comes
//! back where it was, raised and focused, when a taskbar activates, unminimizes, maximizes or
//! fullscreens it. X11 windows are not minimized.
//!
//! `State` owns the list (`State::minimized`); window lists read it through [`windows`], so a
//! minimized window stays listed.

use smithay::desktop::Window;
use smithay::utils::{Logical, Point, SERIAL_COUNTER};
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::state::State;

/// A window out of the space, and where it was.
pub struct MinimizedWindow {
    window: Window,
    location: Point<i32, Logical>,
}

/// Takes `window` out of the space until it is restored. Does nothing to an X11 window or to
/// one that is not mapped.
pub fn minimize(state: &mut State, window: &Window) {
    if window.toplevel().is_none() {
        return;
    }
    let Some(location) = state.space.element_location(window) else {
        return;
    };
    let surface = window.toplevel().map(|t| t.wl_surface().clone());
    if let Some(surface) = &surface {
        crate::input::pointer_leaves(state, surface);
    }
    state.space.unmap_elem(window);
    state.minimized.push(MinimizedWindow {
        window: window.clone(),
        location,
    });
    tracing::debug!("window minimized");
    state.focus_topmost();
    state.request_redraw();
}

/// Puts `window` back where it was, raised and focused; `false` when it was not minimized.
pub fn restore(state: &mut State, window: &Window) -> bool {
    let Some(index) = state.minimized.iter().position(|m| &m.window == window) else {
        return false;
    };
    let minimized = state.minimized.remove(index);
    state
        .space
        .map_element(minimized.window.clone(), minimized.location, true);
    state.focus(Some(minimized.window), SERIAL_COUNTER.next_serial());
    state.request_redraw();
    true
}

/// Whether `window` is minimized.
pub fn is_minimized(state: &State, window: &Window) -> bool {
    state.minimized.iter().any(|m| &m.window == window)
}

/// The minimized window of `toplevel`, if it is one.
pub fn window_of(state: &State, toplevel: &ToplevelSurface) -> Option<Window> {
    state
        .minimized
        .iter()
        .find(|m| m.window.toplevel() == Some(toplevel))
        .map(|m| m.window.clone())
}

/// `toplevel` is gone: it is no longer minimized.
pub fn forget(state: &mut State, toplevel: &ToplevelSurface) {
    state
        .minimized
        .retain(|m| m.window.toplevel() != Some(toplevel));
}

/// Every window a window list shows: those in the space, bottom to top, then the minimized.
pub fn windows(state: &State) -> Vec<Window> {
    state
        .space
        .elements()
        .cloned()
        .chain(state.minimized.iter().map(|m| m.window.clone()))
        .collect()
}
