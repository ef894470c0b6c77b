//! Input: keyboard, pointer and touch events from any backend, routed to the seat, and the key
//! bindings of the configuration file (`config::bindings`; by default Super+Return terminal,
//! Super+Q close, Ctrl+Alt+Backspace quit, Super+Shift+R reload, Super+Tab and Super+Shift+Tab
//! focus the next and previous window) and Ctrl+Alt+F1..F12 to switch VT. Every event is
//! activity for idle notification; while the session is locked only the locker's surfaces get
//! input and only VT switching is bound, and while a window that holds a keyboard shortcuts
//! inhibitor has the keyboard (`protocols::shortcuts_inhibit`) it gets the bound keys.
//!
//! Backends call `handle_input` with each event (embedders that make their own events call
//! the pointer and touch functions it calls); it returns the actions only a backend can carry
//! out (spawning needs the server's sockets, switching VT needs the session).

pub mod cursor;
pub mod devices;

use smithay::backend::input::{
    AbsolutePositionEvent, Axis, ButtonState, Event, InputBackend, InputEvent, KeyState,
    KeyboardKeyEvent, PointerAxisEvent, PointerButtonEvent, PointerMotionEvent, TouchEvent,
    TouchSlot,
};
use smithay::input::keyboard::{keysyms, FilterResult};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent, RelativeMotionEvent};
use smithay::input::touch::{DownEvent, MotionEvent as TouchMotionEvent, TouchHandle, UpEvent};
use smithay::utils::{Logical, Point, Size, SERIAL_COUNTER};

use smithay::desktop::{LayerSurface, Window};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::Serial;

use crate::config::bindings::BindingAction;
use crate::shell::layer::{ABOVE_WINDOWS, BELOW_WINDOWS};
use crate::shell::window::SurfaceAt;
use crate::state::State;

/// What a key binding asks of the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SwitchVt(i32),
}

pub fn handle_input<B: InputBackend>(
    state: &mut State,
    event: InputEvent<B>,
    output_size: Size<i32, Logical>,
) -> Option<Action> {
    crate::screens::user_activity(state);
    match event {
        InputEvent::Keyboard { event } => keyboard::<B>(state, event),
        InputEvent::PointerMotionAbsolute { event } => {
            let position = event.position_transformed(output_size);
            pointer_moved(state, position, event.time_msec());
            None
        }
        InputEvent::PointerMotion { event } => {
            let delta: Point<f64, Logical> = (event.delta_x(), event.delta_y()).into();
            let unaccelerated = (event.delta_x_unaccel(), event.delta_y_unaccel()).into();
            pointer_moved_by(state, delta, unaccelerated, event.time());
            None
        }
        InputEvent::PointerButton { event } => {
            pointer_button(state, event.button_code(), event.state(), event.time_msec());
            None
        }
        InputEvent::PointerAxis { event } => {
            let mut frame = AxisFrame::new(event.time_msec()).source(event.source());
            for axis in [Axis::Horizontal, Axis::Vertical] {
                if let Some(amount) = event.amount(axis) {
                    frame = frame.value(axis, amount);
                }
            }
            if let Some(pointer) = state.seat.get_pointer() {
                pointer.axis(state, frame);
                pointer.frame(state);
            }
            None
        }
        InputEvent::TouchDown { event } => {
            let position = event.position_transformed(output_size);
            touch_down(state, slot_id(event.slot()), position, event.time_msec());
            None
        }
        InputEvent::TouchMotion { event } => {
            let position = event.position_transformed(output_size);
            touch_moved(state, slot_id(event.slot()), position, event.time_msec());
            None
        }
        InputEvent::TouchUp { event } => {
            touch_up(state, slot_id(event.slot()), event.time_msec());
            None
        }
        InputEvent::TouchCancel { .. } => {
            touch_cancelled(state);
            None
        }
        _ => None,
    }
}

/// A touch slot as the touch functions take it (`None`: a device without slots).
fn slot_id(slot: TouchSlot) -> Option<u32> {
    u32::try_from(i32::from(slot)).ok()
}

fn keyboard<B: InputBackend>(state: &mut State, event: B::KeyboardKeyEvent) -> Option<Action> {
    let keyboard = state.seat.get_keyboard()?;
    let serial = SERIAL_COUNTER.next_serial();
    let pressed = event.state() == KeyState::Pressed;
    let focus = keyboard.current_focus();
    let bound = keyboard.input(
        state,
        event.key_code(),
        event.state(),
        serial,
        event.time_msec(),
        |state, modifiers, handle| {
            if !pressed {
                return FilterResult::Forward;
            }
            let sym = handle.modified_sym().raw();
            if (keysyms::KEY_XF86Switch_VT_1..=keysyms::KEY_XF86Switch_VT_12).contains(&sym) {
                return FilterResult::Intercept(Bound::Vt(
                    (sym - keysyms::KEY_XF86Switch_VT_1 + 1) as i32,
                ));
            }
            // The locker gets every other key.
            if state.session_lock.is_locked() {
                return FilterResult::Forward;
            }
            let Some(key) = handle.raw_latin_sym_or_raw_current_sym() else {
                return FilterResult::Forward;
            };
            if crate::protocols::shortcuts_inhibit::inhibited(&state.seat, focus.as_ref()) {
                return FilterResult::Forward;
            }
            match state
                .config
                .parsed_bindings
                .iter()
                .find(|binding| binding.matches(modifiers, key))
            {
                Some(binding) => FilterResult::Intercept(Bound::Config(binding.action.clone())),
                None => FilterResult::Forward,
            }
        },
    )?;
    match bound {
        Bound::Vt(vt) => Some(Action::SwitchVt(vt)),
        Bound::Config(action) => {
            perform(state, action);
            None
        }
    }
}

/// What a key press was bound to.
enum Bound {
    Vt(i32),
    Config(BindingAction),
}

/// Carries out a key binding's action (a key press, or `msg action`).
pub fn perform(state: &mut State, action: BindingAction) {
    let focused = state
        .seat
        .get_keyboard()
        .and_then(|k| k.current_focus())
        .and_then(|surface| state.window_for(&surface));
    match action {
        BindingAction::Terminal => {
            let terminal = state.terminal.clone();
            if let Err(err) = crate::server::spawn_client(state, &terminal) {
                tracing::warn!(%err, "could not start the terminal");
            }
        }
        BindingAction::Quit => {
            tracing::info!("quit requested by key binding");
            state.running = false;
        }
        BindingAction::Close => {
            if let Some(window) = focused {
                crate::shell::window::close(state, &window);
            }
        }
        BindingAction::Maximize => {
            if let Some(window) = focused {
                crate::shell::toplevel_states::toggle(state, &window, true);
            }
        }
        BindingAction::Fullscreen => {
            if let Some(window) = focused {
                crate::shell::toplevel_states::toggle(state, &window, false);
            }
        }
        BindingAction::MoveToNextOutput => {
            if let Some(window) = focused {
                crate::shell::toplevel_states::move_to_next_output(state, &window);
            }
        }
        BindingAction::Reload => {
            // An error is logged and kept for `msg session`; the configuration before stays.
            let _ = crate::config::reload(state);
        }
        BindingAction::FocusNext => cycle_focus(state, true),
        BindingAction::FocusPrevious => cycle_focus(state, false),
        BindingAction::Spawn(command) => {
            if let Err(err) = crate::server::spawn_client(state, &command) {
                tracing::warn!(%err, ?command, "a bound program could not start");
            }
        }
    }
}

/// Focuses the next window in stacking order (the bottom one comes to the top), or the
/// previous one (the top one goes to the bottom).
fn cycle_focus(state: &mut State, forward: bool) {
    let windows: Vec<Window> = state
        .space
        .elements()
        .filter(|window| {
            crate::shell::window::x11_window(state.xwayland.as_ref(), window)
                .is_none_or(|x11| !x11.override_redirect)
        })
        .cloned()
        .collect();
    let (Some(bottom), Some(top)) = (windows.first(), windows.last()) else {
        return;
    };
    if windows.len() < 2 {
        return;
    }
    let serial = SERIAL_COUNTER.next_serial();
    if forward {
        state.focus(Some(bottom.clone()), serial);
        return;
    }
    for window in windows.iter().filter(|window| *window != top) {
        state.space.raise_element(window, false);
    }
    state.focus(windows.get(windows.len() - 2).cloned(), serial);
}

/// What lies under a point: a layer surface above the windows, a window, or a layer surface
/// below them; and the surface there, if any.
#[derive(Default)]
struct Target {
    window: Option<Window>,
    layer: Option<LayerSurface>,
    surface: Option<SurfaceAt>,
}

fn target_at(state: &State, position: Point<f64, Logical>) -> Target {
    if state.session_lock.is_locked() {
        return Target {
            surface: state.session_lock.under(&state.space, position),
            ..Target::default()
        };
    }
    let layer_target = |(layer, surface)| Target {
        window: None,
        layer: Some(layer),
        surface: Some(surface),
    };
    if let Some(found) = crate::shell::layer::under(state, &ABOVE_WINDOWS, position) {
        return layer_target(found);
    }
    if let Some((window, surface)) = crate::shell::window::under(state, position) {
        return Target {
            window: Some(window),
            layer: None,
            surface,
        };
    }
    crate::shell::layer::under(state, &BELOW_WINDOWS, position)
        .map(layer_target)
        .unwrap_or_default()
}

/// A click or touch on `target`: a window takes the keyboard (nothing under the point takes it
/// from every window); a layer surface takes it if it wants the keyboard, else focus stays.
fn focus_target(state: &mut State, target: Target, serial: Serial) {
    if state.session_lock.is_locked() {
        if let (Some((surface, _)), Some(keyboard)) = (target.surface, state.seat.get_keyboard()) {
            keyboard.set_focus(state, Some(surface), serial);
        }
        return;
    }
    match target.layer {
        Some(layer)
            if layer.can_receive_keyboard_focus()
                && crate::shell::layer::keyboard::exclusive_holder(state)
                    .is_none_or(|holder| &holder == layer.wl_surface()) =>
        {
            if let Some(keyboard) = state.seat.get_keyboard() {
                keyboard.set_focus(state, Some(layer.wl_surface().clone()), serial);
            }
        }
        Some(_) => {}
        None => state.focus(target.window, serial),
    }
    refresh_constraints(state);
}

/// The pointer moved to `position` (global logical coordinates) at `time` (ms): focus follows
/// the surface under it.
pub fn pointer_moved(state: &mut State, position: Point<f64, Logical>, time: u32) {
    move_pointer(state, position, time);
    if let Some(pointer) = state.seat.get_pointer() {
        pointer.frame(state);
    }
}

/// The pointer moved by `delta` (`unaccelerated` before pointer acceleration) at `time_us`
/// (µs): kept inside the outputs and within a pointer constraint in force; clients that
/// listen for relative motion get it either way.
pub fn pointer_moved_by(
    state: &mut State,
    delta: Point<f64, Logical>,
    unaccelerated: Point<f64, Logical>,
    time_us: u64,
) {
    let from = state.pointer_location;
    let to = clamp_to_outputs(state, from + delta);
    let to = crate::protocols::pointer_constraints::constrain(state, from, to);
    if to != from {
        move_pointer(state, to, (time_us / 1000) as u32);
    }
    if let Some(pointer) = state.seat.get_pointer() {
        let event = RelativeMotionEvent {
            delta,
            delta_unaccel: unaccelerated,
            utime: time_us,
        };
        pointer.relative_motion(state, state.pointer_under.clone(), &event);
        pointer.frame(state);
    }
}

/// The pointer is at `position` now: the surface under it gets the motion (no frame yet).
fn move_pointer(state: &mut State, position: Point<f64, Logical>, time: u32) {
    state.pointer_location = position;
    state.request_redraw();
    let under = target_at(state, position).surface;
    state.pointer_under = under.clone();
    if let Some(pointer) = state.seat.get_pointer() {
        let event = MotionEvent {
            location: position,
            serial: SERIAL_COUNTER.next_serial(),
            time,
        };
        pointer.motion(state, under, &event);
    }
    refresh_constraints(state);
}

/// Pointer constraints follow the pointer's surface and the keyboard.
fn refresh_constraints(state: &mut State) {
    state.constraints_stale = false;
    let focus = state.seat.get_keyboard().and_then(|k| k.current_focus());
    crate::protocols::pointer_constraints::refresh(state, focus.as_ref());
}

/// Sends the pointer into the surface now under it when that is no longer the one it is in
/// (a window moved, resized, mapped or went away under a pointer that stayed put). The
/// server calls it after each dispatch.
pub fn refresh_pointer_focus(state: &mut State) {
    let Some(pointer) = state.seat.get_pointer() else {
        return;
    };
    if pointer.is_grabbed() {
        return;
    }
    let position = state.pointer_location;
    let under = target_at(state, position).surface;
    let moved = under != state.pointer_under;
    if !moved && state.constraints_stale {
        refresh_constraints(state);
    }
    if moved {
        let event = MotionEvent {
            location: position,
            serial: SERIAL_COUNTER.next_serial(),
            time: state.clock().as_millis() as u32,
        };
        state.pointer_under = under.clone();
        pointer.motion(state, under, &event);
        pointer.frame(state);
        refresh_constraints(state);
    }
}

/// `position` moved inside the area the outputs cover (their bounding box; the origin when
/// there is no output).
fn clamp_to_outputs(state: &State, position: Point<f64, Logical>) -> Point<f64, Logical> {
    let area = state
        .space
        .outputs()
        .filter_map(|output| state.space.output_geometry(output))
        .reduce(|a, b| a.merge(b));
    let Some(area) = area else {
        return (0.0, 0.0).into();
    };
    let max_x = (area.loc.x + area.size.w - 1).max(area.loc.x) as f64;
    let max_y = (area.loc.y + area.size.h - 1).max(area.loc.y) as f64;
    (
        position.x.clamp(area.loc.x as f64, max_x),
        position.y.clamp(area.loc.y as f64, max_y),
    )
        .into()
}

/// A pointer button (evdev code) was pressed or released at `time` (ms); a press focuses the
/// window under the pointer.
pub fn pointer_button(state: &mut State, button: u32, button_state: ButtonState, time: u32) {
    let serial = SERIAL_COUNTER.next_serial();
    let mut title_bar = None;
    if button_state == ButtonState::Pressed {
        title_bar = title_bar_at(state, state.pointer_location);
        let target = match &title_bar {
            Some((window, _)) => Target {
                window: Some(window.clone()),
                ..Target::default()
            },
            None => target_at(state, state.pointer_location),
        };
        focus_target(state, target, serial);
    }
    if let Some(pointer) = state.seat.get_pointer() {
        let event = ButtonEvent {
            button,
            state: button_state,
            serial,
            time,
        };
        pointer.button(state, &event);
        pointer.frame(state);
    }
    if let Some((window, part)) = title_bar {
        crate::shell::decorations::pressed(state, window, part, true);
    }
}

/// The title bar (and what of it) at `position`, unless the session is locked.
fn title_bar_at(
    state: &State,
    position: Point<f64, Logical>,
) -> Option<(smithay::desktop::Window, crate::shell::decorations::Part)> {
    if state.session_lock.is_locked()
        || crate::shell::layer::under(state, &ABOVE_WINDOWS, position).is_some()
    {
        return None;
    }
    crate::shell::decorations::hit(state, position)
}

/// The seat's touch device, added the first time a touch screen (or an embedder) needs one so
/// that seats without one do not advertise it.
pub fn touch_device(state: &mut State) -> TouchHandle<State> {
    match state.seat.get_touch() {
        Some(touch) => touch,
        None => state.seat.add_touch(),
    }
}

/// Touch point `slot` went down at `position` (global logical coordinates): the surface under
/// it gets the touch sequence, and its window the keyboard, as a click would give it.
pub fn touch_down(state: &mut State, slot: Option<u32>, position: Point<f64, Logical>, time: u32) {
    crate::screens::user_activity(state);
    let touch = touch_device(state);
    let serial = SERIAL_COUNTER.next_serial();
    if let Some((window, part)) = title_bar_at(state, position) {
        let target = Target {
            window: Some(window.clone()),
            ..Target::default()
        };
        focus_target(state, target, serial);
        crate::shell::decorations::pressed(state, window, part, false);
        return;
    }
    let target = target_at(state, position);
    let under = target.surface.clone();
    focus_target(state, target, serial);
    let event = DownEvent {
        slot: slot.into(),
        location: position,
        serial,
        time,
    };
    if let Some((surface, _)) = &under {
        state.touch_points.retain(|(held, _)| *held != slot);
        state.touch_points.push((slot, surface.clone()));
    }
    touch.down(state, under, &event);
    touch.frame(state);
}

/// Touch point `slot` moved to `position`.
pub fn touch_moved(state: &mut State, slot: Option<u32>, position: Point<f64, Logical>, time: u32) {
    crate::screens::user_activity(state);
    let Some(touch) = state.seat.get_touch() else {
        return;
    };
    let under = target_at(state, position).surface;
    let event = TouchMotionEvent {
        slot: slot.into(),
        location: position,
        time,
    };
    touch.motion(state, under, &event);
    touch.frame(state);
}

/// Touch point `slot` was lifted.
pub fn touch_up(state: &mut State, slot: Option<u32>, time: u32) {
    crate::screens::user_activity(state);
    state.touch_points.retain(|(held, _)| *held != slot);
    let Some(touch) = state.seat.get_touch() else {
        return;
    };
    let event = UpEvent {
        slot: slot.into(),
        serial: SERIAL_COUNTER.next_serial(),
        time,
    };
    touch.up(state, &event);
    touch.frame(state);
}

/// The device gave up every touch point (a gesture taken by the system, a device gone).
pub fn touch_cancelled(state: &mut State) {
    state.touch_points.clear();
    if let Some(touch) = state.seat.get_touch() {
        touch.cancel(state);
    }
}

/// `surface` stops being shown (a popup or window closed) while the pointer is in it or in one
/// of its subsurfaces: the pointer leaves it now, while its client can still be told, and
/// enters what is under it on the next refresh.
pub fn pointer_leaves(state: &mut State, surface: &WlSurface) {
    let Some((mut under, _)) = state.pointer_under.clone() else {
        return;
    };
    while &under != surface {
        match smithay::wayland::compositor::get_parent(&under) {
            Some(parent) => under = parent,
            None => return,
        }
    }
    let Some(pointer) = state.seat.get_pointer() else {
        return;
    };
    state.pointer_under = None;
    if pointer.is_grabbed() {
        return;
    }
    let event = MotionEvent {
        location: state.pointer_location,
        serial: SERIAL_COUNTER.next_serial(),
        time: state.clock().as_millis() as u32,
    };
    pointer.motion(state, None, &event);
    pointer.frame(state);
    refresh_constraints(state);
}

/// `surface` is gone: the touch points on it are lifted, so its client is not left with
/// touches that never end.
pub fn surface_destroyed(state: &mut State, surface: &WlSurface) {
    let lifted: Vec<Option<u32>> = state
        .touch_points
        .iter()
        .filter(|(_, on)| on == surface)
        .map(|(slot, _)| *slot)
        .collect();
    let time = state.clock().as_millis() as u32;
    for slot in lifted {
        touch_up(state, slot, time);
    }
}
