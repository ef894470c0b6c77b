//! Interactive move and resize: a client asks (xdg_toplevel.move / resize, with the serial of
//! the button press that started it; an X11 program with _NET_WM_MOVERESIZE while its button
//! is down) and the pointer drags its window until the buttons are released.
//!
//! The xdg-shell handler (`shell::xdg`) calls [`start_move`] and [`start_resize`], the X11
//! window manager (`shell::x11::requests`) and the title bars (`shell::decorations`)
//! [`start_held`]; each installs a [`WindowGrab`] on the
//! pointer, which on every motion moves the window in the space, or sends the client the new
//! size with the resizing state (an X11 window is moved and sized by configuring it, and follows
//! its ConfigureNotify). The window's surface loses the pointer while the grab lasts.

use smithay::desktop::Window;
use smithay::input::pointer::{
    AxisFrame, ButtonEvent, Focus, GestureHoldBeginEvent, GestureHoldEndEvent,
    GesturePinchBeginEvent, GesturePinchEndEvent, GesturePinchUpdateEvent, GestureSwipeBeginEvent,
    GestureSwipeEndEvent, GestureSwipeUpdateEvent, GrabStartData, MotionEvent, PointerGrab,
    PointerInnerHandle, RelativeMotionEvent,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{
    ResizeEdge, State as XdgState,
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle, Serial, SERIAL_COUNTER};
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::shell::client_geometry;
use crate::state::State;

/// What the drag does to the window.
enum Drag {
    Move {
        origin: Point<i32, Logical>,
    },
    Resize {
        edges: ResizeEdge,
        initial: Rectangle<i32, Logical>,
    },
}

/// The pointer grab of one interactive move or resize.
pub struct WindowGrab {
    start: GrabStartData<State>,
    window: Window,
    drag: Drag,
}

/// The grab's start if the pointer still holds the button press `serial` names.
fn pressed(state: &State, serial: Serial) -> Option<GrabStartData<State>> {
    let pointer = state.seat.get_pointer()?;
    if !pointer.has_grab(serial) {
        return None;
    }
    pointer.grab_start_data()
}

fn start(
    state: &mut State,
    toplevel: &ToplevelSurface,
    serial: Serial,
    drag: impl FnOnce(Rectangle<i32, Logical>) -> Drag,
) {
    let Some(start) = pressed(state, serial) else {
        tracing::debug!("move or resize refused: no button held for that serial");
        return;
    };
    let Some(window) = state.window_for(toplevel.wl_surface()) else {
        return;
    };
    grab(state, window, start, serial, drag);
}

/// Moves `window` (`edges` None) or resizes it from `edges` with the pointer while the button
/// now down stays down: an X11 program's _NET_WM_MOVERESIZE, a drag on a title bar. The press
/// must have been on `pressed_on` (the X11 window's surface), or on no surface (a title bar):
/// a program cannot take over a press on another window, a popup or a drag and drop.
pub fn start_held(
    state: &mut State,
    window: Window,
    pressed_on: Option<&WlSurface>,
    edges: Option<ResizeEdge>,
) {
    let held = state
        .seat
        .get_pointer()
        .filter(|pointer| pointer.is_grabbed())
        .and_then(|pointer| pointer.grab_start_data());
    let held = held.filter(|start| start.focus.as_ref().map(|(surface, _)| surface) == pressed_on);
    let Some(start) = held else {
        tracing::debug!("move or resize refused: no button held on the window");
        return;
    };
    let serial = SERIAL_COUNTER.next_serial();
    grab(state, window, start, serial, |geometry| match edges {
        None => Drag::Move {
            origin: geometry.loc,
        },
        Some(edges) => Drag::Resize {
            edges,
            initial: geometry,
        },
    });
}

fn grab(
    state: &mut State,
    window: Window,
    start: GrabStartData<State>,
    serial: Serial,
    drag: impl FnOnce(Rectangle<i32, Logical>) -> Drag,
) {
    let Some(location) = state.space.element_location(&window) else {
        return;
    };
    let geometry = client_geometry::rectangle(Rectangle::new(location, window.geometry().size));
    let grab = WindowGrab {
        start,
        window,
        drag: drag(geometry),
    };
    if let Some(pointer) = state.seat.get_pointer() {
        pointer.set_grab(state, grab, serial, Focus::Clear);
    }
}

/// The client asked to move its window with the pointer.
pub fn start_move(state: &mut State, toplevel: &ToplevelSurface, serial: Serial) {
    start(state, toplevel, serial, |geometry| Drag::Move {
        origin: geometry.loc,
    });
}

/// The client asked to resize its window from `edges` with the pointer.
pub fn start_resize(
    state: &mut State,
    toplevel: &ToplevelSurface,
    serial: Serial,
    edges: ResizeEdge,
) {
    let granted = pressed(state, serial).is_some();
    if let Some(toplevel) = state
        .window_for(toplevel.wl_surface())
        .and_then(|w| w.toplevel().cloned())
        .filter(|_| granted)
    {
        toplevel.with_pending_state(|pending| pending.states.set(XdgState::Resizing));
    }
    start(state, toplevel, serial, |initial| Drag::Resize {
        edges,
        initial,
    });
}

/// Which sides an edge value moves: (left, right, top, bottom).
fn sides(edges: ResizeEdge) -> (bool, bool, bool, bool) {
    match edges {
        ResizeEdge::Top => (false, false, true, false),
        ResizeEdge::Bottom => (false, false, false, true),
        ResizeEdge::Left => (true, false, false, false),
        ResizeEdge::Right => (false, true, false, false),
        ResizeEdge::TopLeft => (true, false, true, false),
        ResizeEdge::TopRight => (false, true, true, false),
        ResizeEdge::BottomLeft => (true, false, false, true),
        ResizeEdge::BottomRight => (false, true, false, true),
        _ => (false, false, false, false),
    }
}

/// Moves or sizes X11 window `id` through the window manager.
fn place_x11(
    state: &State,
    id: u32,
    at: Option<Point<i32, Logical>>,
    size: Option<smithay::utils::Size<i32, Logical>>,
) {
    if let Some(wm) = state.xwayland.as_ref().and_then(|x| x.wm()) {
        wm.place(id, at, size);
    }
}

impl WindowGrab {
    fn dragged(&self, state: &mut State, to: Point<f64, Logical>) {
        // Minimized or closed during the drag: it is not brought back. (An X11 window's
        // element is made anew as the X server reports each move; the window manager keeps it.)
        let x11 = self.window.x11_surface().is_some();
        if !x11 && state.space.element_location(&self.window).is_none() {
            return;
        }
        let delta = (to - self.start.location).to_i32_round::<i32>();
        match &self.drag {
            Drag::Move { origin } => {
                let to = client_geometry::point(*origin + client_geometry::point(delta));
                match self.window.x11_surface() {
                    Some(x11) => place_x11(state, x11.window_id(), Some(to), None),
                    None => state.space.map_element(self.window.clone(), to, true),
                }
            }
            Drag::Resize { edges, initial } => {
                let (left, right, top, bottom) = sides(*edges);
                let mut geometry = *initial;
                let delta = client_geometry::point(delta);
                if left {
                    geometry.size.w = (initial.size.w - delta.x).max(1);
                    geometry.loc.x = initial.loc.x + initial.size.w - geometry.size.w;
                } else if right {
                    geometry.size.w = (initial.size.w + delta.x).max(1);
                }
                if top {
                    geometry.size.h = (initial.size.h - delta.y).max(1);
                    geometry.loc.y = initial.loc.y + initial.size.h - geometry.size.h;
                } else if bottom {
                    geometry.size.h = (initial.size.h + delta.y).max(1);
                }
                if let Some(x11) = self.window.x11_surface() {
                    place_x11(
                        state,
                        x11.window_id(),
                        Some(geometry.loc),
                        Some(geometry.size),
                    );
                    state.request_redraw();
                    return;
                }
                if let Some(toplevel) = self.window.toplevel() {
                    toplevel.with_pending_state(|pending| pending.size = Some(geometry.size));
                    toplevel.send_pending_configure();
                }
                if geometry.loc != initial.loc {
                    state
                        .space
                        .map_element(self.window.clone(), geometry.loc, true);
                }
            }
        }
        state.request_redraw();
    }
}

impl PointerGrab<State> for WindowGrab {
    fn motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &MotionEvent,
    ) {
        self.dragged(data, event.location);
        handle.motion(data, None, event);
    }

    fn relative_motion(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        _focus: Option<(WlSurface, Point<f64, Logical>)>,
        event: &RelativeMotionEvent,
    ) {
        handle.relative_motion(data, None, event);
    }

    fn button(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &ButtonEvent,
    ) {
        handle.button(data, event);
        if handle.current_pressed().is_empty() {
            handle.unset_grab(self, data, event.serial, event.time, true);
        }
    }

    fn axis(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        details: AxisFrame,
    ) {
        handle.axis(data, details);
    }

    fn frame(&mut self, data: &mut State, handle: &mut PointerInnerHandle<'_, State>) {
        handle.frame(data);
    }

    fn gesture_swipe_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeBeginEvent,
    ) {
        handle.gesture_swipe_begin(data, event);
    }

    fn gesture_swipe_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeUpdateEvent,
    ) {
        handle.gesture_swipe_update(data, event);
    }

    fn gesture_swipe_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureSwipeEndEvent,
    ) {
        handle.gesture_swipe_end(data, event);
    }

    fn gesture_pinch_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchBeginEvent,
    ) {
        handle.gesture_pinch_begin(data, event);
    }

    fn gesture_pinch_update(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchUpdateEvent,
    ) {
        handle.gesture_pinch_update(data, event);
    }

    fn gesture_pinch_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GesturePinchEndEvent,
    ) {
        handle.gesture_pinch_end(data, event);
    }

    fn gesture_hold_begin(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldBeginEvent,
    ) {
        handle.gesture_hold_begin(data, event);
    }

    fn gesture_hold_end(
        &mut self,
        data: &mut State,
        handle: &mut PointerInnerHandle<'_, State>,
        event: &GestureHoldEndEvent,
    ) {
        handle.gesture_hold_end(data, event);
    }

    fn start_data(&self) -> &GrabStartData<State> {
        &self.start
    }

    fn unset(&mut self, _data: &mut State) {
        if let (Drag::Resize { .. }, Some(toplevel)) = (&self.drag, self.window.toplevel()) {
            toplevel.with_pending_state(|pending| pending.states.unset(XdgState::Resizing));
            toplevel.send_pending_configure();
        }
    }
}
