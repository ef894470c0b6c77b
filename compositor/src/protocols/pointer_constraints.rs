//! Pointer constraints (zwp_pointer_constraints_v1) and relative pointer motion
//! (zwp_relative_pointer_v1): what games, 3D viewers and remote desktops use to turn the mouse
//! into a controller.
//!
//! A client asks to lock the pointer in place or confine it to its surface. The constraint is
//! in force while its surface has both the keyboard and the pointer: [`refresh`] turns
//! constraints on and off (smithay tells the client, and drops a one-shot constraint once it
//! is off). The input functions that move the pointer's surface call it; a keyboard focus
//! change (`State::focus_changed`) marks the constraints stale and the pointer refresh that
//! follows each commit and dispatch calls it, after the pointer has left a window that closed,
//! so that the client hears of each change once. `input::pointer_moved_by` asks [`constrain`] where relative motion may take the
//! pointer and sends every relative motion to the clients that listen for it, locked or not.
//! Absolute motion (a tablet, an embedder placing the pointer) is not constrained.

use smithay::input::pointer::PointerHandle;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::pointer_constraints::{
    with_pointer_constraint, PointerConstraint, PointerConstraintsHandler,
};

use crate::state::State;

impl PointerConstraintsHandler for State {
    fn new_constraint(&mut self, _surface: &WlSurface, _pointer: &PointerHandle<Self>) {
        let focus = self.seat.get_keyboard().and_then(|k| k.current_focus());
        refresh(self, focus.as_ref());
    }

    fn cursor_position_hint(
        &mut self,
        _surface: &WlSurface,
        _pointer: &PointerHandle<Self>,
        _location: Point<f64, Logical>,
    ) {
    }
}

smithay::delegate_pointer_constraints!(State);
smithay::delegate_relative_pointer!(State);

/// Puts in force the constraint of the surface under the pointer if that surface has the
/// keyboard (`keyboard_focus`), and lifts the one in force elsewhere.
pub fn refresh(state: &mut State, keyboard_focus: Option<&WlSurface>) {
    let Some(pointer) = state.seat.get_pointer() else {
        return;
    };
    let under = state
        .pointer_under
        .as_ref()
        .map(|(surface, _)| surface.clone());
    let wanted = under.filter(|surface| Some(surface) == keyboard_focus);
    if let Some(previous) = state.constrained.take() {
        if Some(&previous) != wanted.as_ref() {
            with_pointer_constraint(&previous, &pointer, |constraint| {
                if let Some(constraint) = constraint.filter(|c| c.is_active()) {
                    constraint.deactivate();
                }
            });
        }
    }
    if let Some(surface) = wanted {
        let held = with_pointer_constraint(&surface, &pointer, |constraint| match constraint {
            Some(constraint) => {
                if !constraint.is_active() {
                    constraint.activate();
                }
                true
            }
            None => false,
        });
        if held {
            state.constrained = Some(surface);
        }
    }
}

/// Where relative motion from `from` to `to` may take the pointer: nowhere while it is
/// locked, the nearest point inside its surface (and the constraint's region) while it is
/// confined, `to` otherwise.
pub fn constrain(
    state: &State,
    from: Point<f64, Logical>,
    to: Point<f64, Logical>,
) -> Point<f64, Logical> {
    let (Some(surface), Some(pointer), Some((_, origin))) = (
        state.constrained.as_ref(),
        state.seat.get_pointer(),
        state.pointer_under.as_ref(),
    ) else {
        return to;
    };
    let origin = *origin;
    let size = smithay::backend::renderer::utils::with_renderer_surface_state(surface, |s| {
        s.surface_size()
    })
    .flatten()
    .unwrap_or_default();
    with_pointer_constraint(surface, &pointer, |constraint| {
        let Some(constraint) = constraint.filter(|c| c.is_active()) else {
            return to;
        };
        match &*constraint {
            PointerConstraint::Locked(_) => from,
            PointerConstraint::Confined(confined) => {
                let area = Rectangle::new(origin, size.to_f64());
                let inside = clamp(to, area);
                let local = (inside - origin).to_i32_floor();
                match confined.region() {
                    Some(region) if !region.contains(local) => from,
                    _ => inside,
                }
            }
        }
    })
}

/// `point` moved to the nearest point of `area` (its last pixel included, not its far edge).
fn clamp(point: Point<f64, Logical>, area: Rectangle<f64, Logical>) -> Point<f64, Logical> {
    let max_x = (area.loc.x + area.size.w - 1.0).max(area.loc.x);
    let max_y = (area.loc.y + area.size.h - 1.0).max(area.loc.y);
    (
        point.x.clamp(area.loc.x, max_x),
        point.y.clamp(area.loc.y, max_y),
    )
        .into()
}
