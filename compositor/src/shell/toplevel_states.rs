//! Maximized and fullscreen windows: what xdg-shell clients ask for with set_maximized,
//! set_fullscreen and their opposites.
//!
//! The xdg-shell handler (`state`) calls [`maximize`], [`fullscreen`] and [`restore`]; a
//! maximized window fills its output's area outside the layer surfaces' exclusive zones, so
//! `shell::layer::commit` calls [`fit_maximized`] when those change. The place a window had before
//! is kept in the window's user data and given back when it is restored.

use std::sync::Mutex;

use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as XdgState;
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::state::State;

/// Where a maximized or fullscreen window was before.
struct PlaceBefore(Mutex<Option<Point<i32, Logical>>>);

/// The output showing most of `window` (a window can overlap several), else the first output.
pub(crate) fn output_of(state: &State, window: &Window) -> Option<Output> {
    let bbox = state.space.element_bbox(window);
    let shown = |output: &&Output| match (bbox, state.space.output_geometry(output)) {
        (Some(bbox), Some(area)) => bbox.intersection(area).map_or(0, |common| {
            i64::from(common.size.w) * i64::from(common.size.h)
        }),
        _ => 0,
    };
    state
        .space
        .outputs()
        .filter(|output| shown(output) > 0)
        .max_by_key(shown)
        .or_else(|| state.space.outputs().next())
        .cloned()
}

/// `area` of `output` in global coordinates: all of it, or what the layer surfaces' exclusive
/// zones leave.
pub(crate) fn area(
    state: &State,
    output: &Output,
    exclusive_zones: bool,
) -> Option<Rectangle<i32, Logical>> {
    let geometry = state.space.output_geometry(output)?;
    if !exclusive_zones {
        return Some(geometry);
    }
    let mut zone = crate::shell::layer::usable_area(output);
    zone.loc += geometry.loc;
    Some(zone)
}

fn remember_place(state: &State, window: &Window) {
    let Some(location) = state.space.element_location(window) else {
        return;
    };
    let data = window.user_data();
    data.insert_if_missing_threadsafe(|| PlaceBefore(Mutex::new(None)));
    if let Some(PlaceBefore(place)) = data.get::<PlaceBefore>() {
        if let Ok(mut place) = place.lock() {
            place.get_or_insert(location);
        }
    }
}

fn take_place(window: &Window) -> Option<Point<i32, Logical>> {
    let PlaceBefore(place) = window.user_data().get::<PlaceBefore>()?;
    place.lock().ok()?.take()
}

/// Gives `toplevel` the `flag` state and fills `area` with it.
fn fill(state: &mut State, toplevel: &ToplevelSurface, flag: XdgState, exclusive_zones: bool) {
    let window = state.window_for(toplevel.wl_surface());
    let target = window.as_ref().and_then(|w| {
        let area = area(state, &output_of(state, w)?, exclusive_zones)?;
        Some(match exclusive_zones {
            true => crate::shell::decorations::below_title_bar(w, area),
            false => area,
        })
    });
    if let (Some(window), Some(target)) = (&window, target) {
        remember_place(state, window);
        state.space.map_element(window.clone(), target.loc, true);
    }
    toplevel.with_pending_state(|pending| {
        pending.states.set(flag);
        if let Some(target) = target {
            pending.size = Some(target.size);
        }
    });
    send_configure(toplevel);
    state.request_redraw();
}

fn send_configure(toplevel: &ToplevelSurface) {
    // Before the first commit the state goes out with the initial configure.
    if toplevel.is_initial_configure_sent() {
        toplevel.send_configure();
    }
}

/// The client asked to be maximized.
pub fn maximize(state: &mut State, toplevel: &ToplevelSurface) {
    fill(state, toplevel, XdgState::Maximized, true);
}

/// The client asked to be fullscreen.
pub fn fullscreen(state: &mut State, toplevel: &ToplevelSurface) {
    fill(state, toplevel, XdgState::Fullscreen, false);
}

/// The client asked to leave the `flag` state (maximized or fullscreen).
pub fn restore(state: &mut State, toplevel: &ToplevelSurface, flag: XdgState) {
    let other = match flag {
        XdgState::Maximized => XdgState::Fullscreen,
        _ => XdgState::Maximized,
    };
    let still_filling = toplevel.with_pending_state(|pending| {
        pending.states.unset(flag);
        let still_filling = pending.states.contains(other);
        if !still_filling {
            pending.size = None;
        }
        still_filling
    });
    if !still_filling {
        if let Some(window) = state.window_for(toplevel.wl_surface()) {
            if let Some(place) = take_place(&window) {
                state.space.map_element(window, place, true);
            }
        }
    }
    send_configure(toplevel);
    state.request_redraw();
}

/// A key binding maximizes `window` (`maximize`, else makes it fullscreen), or restores it
/// when it is so already. X11 windows are left as they are.
pub fn toggle(state: &mut State, window: &Window, maximize: bool) {
    let Some(toplevel) = window.toplevel().cloned() else {
        return;
    };
    let flag = if maximize {
        XdgState::Maximized
    } else {
        XdgState::Fullscreen
    };
    if toplevel.with_pending_state(|pending| pending.states.contains(flag)) {
        restore(state, &toplevel, flag);
    } else {
        fill(state, &toplevel, flag, maximize);
    }
}

/// Moves `window` to the next output (in the space's order, wrapping), at the same place
/// relative to the output's top-left corner (kept on it); a maximized or fullscreen window fills
/// the new output.
pub fn move_to_next_output(state: &mut State, window: &Window) {
    let outputs: Vec<Output> = state.space.outputs().cloned().collect();
    let Some(current) = output_of(state, window) else {
        return;
    };
    let Some(index) = outputs.iter().position(|output| *output == current) else {
        return;
    };
    let next = &outputs[(index + 1) % outputs.len()];
    let (Some(from), Some(to), Some(location)) = (
        state.space.output_geometry(&current),
        state.space.output_geometry(next),
        state.space.element_location(window),
    ) else {
        return;
    };
    let offset = location - from.loc;
    let offset = (
        offset.x.clamp(0, (to.size.w - 1).max(0)),
        offset.y.clamp(0, (to.size.h - 1).max(0)),
    );
    state.space.map_element(
        window.clone(),
        to.loc + Point::<i32, Logical>::from(offset),
        true,
    );
    // Which output the window is on is known to the space after a refresh.
    state.space.refresh();
    if let Some(toplevel) = window.toplevel().cloned() {
        for (flag, exclusive_zones) in [(XdgState::Maximized, true), (XdgState::Fullscreen, false)]
        {
            if toplevel.with_pending_state(|pending| pending.states.contains(flag)) {
                fill(state, &toplevel, flag, exclusive_zones);
            }
        }
    }
    state.request_redraw();
}

/// Fits the maximized windows on `output` to what the exclusive zones now leave.
pub fn fit_maximized(state: &mut State, output: &Output) {
    let Some(target) = area(state, output, true) else {
        return;
    };
    let windows: Vec<Window> = state.space.elements().cloned().collect();
    for window in windows {
        let Some(toplevel) = window.toplevel() else {
            continue;
        };
        let maximized = toplevel.with_pending_state(|pending| {
            pending.states.contains(XdgState::Maximized)
                && !pending.states.contains(XdgState::Fullscreen)
        });
        if !maximized || output_of(state, &window).as_ref() != Some(output) {
            continue;
        }
        let target = crate::shell::decorations::below_title_bar(&window, target);
        let resized = toplevel.with_pending_state(|pending| {
            let changed = pending.size != Some(target.size);
            pending.size = Some(target.size);
            changed
        });
        if state.space.element_location(&window) != Some(target.loc) {
            state.space.map_element(window.clone(), target.loc, false);
        }
        if resized {
            send_configure(toplevel);
        }
    }
}
