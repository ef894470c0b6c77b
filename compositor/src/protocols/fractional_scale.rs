//! wp_fractional_scale_v1: every surface is told the scale of the output that shows it (for a
//! window, the output showing most of it), so a client on a 1.5x output draws its buffers at
//! 1.5 times its logical size and, with viewporter, sets their size in logical pixels: the
//! buffer is then drawn at the output's scale with no resampling.
//!
//! `shell::window::send_frames` calls [`tell_scales`] for each output it sends frames for, so a
//! window that moves to another output, and an output whose scale changes, are told at the next
//! frame; a surface that asks for its fractional scale object is told at once
//! ([`FractionalScaleHandler::new_fractional_scale`], the output under the pointer where it has
//! no window yet).

use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{
    get_parent, with_states, with_surface_tree_downward, TraversalAction,
};
use smithay::wayland::fractional_scale::{with_fractional_scale, FractionalScaleHandler};

use crate::state::State;

/// Tells `surface` and its subsurfaces `scale` (sent only when it changed).
fn tell_tree(surface: &WlSurface, scale: f64) {
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |_, states, _| {
            with_fractional_scale(states, |fractional| fractional.set_preferred_scale(scale));
        },
        |_, _, _| true,
    );
}

/// Tells every surface `output` shows (its windows whose output it is, its layer surfaces, its
/// lock surface) the output's scale.
pub fn tell_scales(state: &State, output: &Output) {
    let scale = output.current_scale().fractional_scale();
    for (on, surface) in state.session_lock.surfaces() {
        if on == output {
            tell_tree(surface, scale);
        }
    }
    for layer in crate::shell::layer::all(output) {
        layer.with_surfaces(|_, states| {
            with_fractional_scale(states, |fractional| fractional.set_preferred_scale(scale));
        });
    }
    for window in state.space.elements_for_output(output) {
        if crate::shell::toplevel_states::output_of(state, window).as_ref() != Some(output) {
            continue;
        }
        tell_window(state, window, scale);
    }
}

fn tell_window(state: &State, window: &Window, scale: f64) {
    if window.toplevel().is_some() {
        window.with_surfaces(|_, states| {
            with_fractional_scale(states, |fractional| fractional.set_preferred_scale(scale));
        });
    } else if let Some(surface) =
        crate::shell::window::main_surface(state.xwayland.as_ref(), window)
    {
        tell_tree(&surface, scale);
    }
}

/// The scale a new surface is told before it is shown: its window's output, else the output
/// under the pointer, else the first.
fn scale_for_new(state: &State, surface: &WlSurface) -> f64 {
    let mut root = surface.clone();
    while let Some(parent) = get_parent(&root) {
        root = parent;
    }
    let window_output = state
        .space
        .elements()
        .find(|window| {
            crate::shell::window::main_surface(state.xwayland.as_ref(), window).as_ref()
                == Some(&root)
        })
        .and_then(|window| crate::shell::toplevel_states::output_of(state, window));
    let under_pointer = || {
        state
            .space
            .output_under(state.pointer_location)
            .next()
            .cloned()
    };
    window_output
        .or_else(under_pointer)
        .or_else(|| state.space.outputs().next().cloned())
        .map_or(1.0, |output| output.current_scale().fractional_scale())
}

impl FractionalScaleHandler for State {
    fn new_fractional_scale(&mut self, surface: WlSurface) {
        let scale = scale_for_new(self, &surface);
        with_states(&surface, |states| {
            with_fractional_scale(states, |fractional| fractional.set_preferred_scale(scale));
        });
    }
}

smithay::delegate_fractional_scale!(State);
