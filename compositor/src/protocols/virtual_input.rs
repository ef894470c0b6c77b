//! Input from clients: zwp_virtual_keyboard_v1 (smithay's: `wtype`, on-screen keyboards) and
//! zwlr_virtual_pointer_v1 (remote desktops, `ydotool`-like tools). Both are privileged: a
//! sandboxed client sees neither (`protocols::security_context`). Their events go through the
//! same paths as a real device's (`input`), a virtual pointer's once the frame that ends them
//! comes: focus follows the pointer, a press focuses the
//! window under it, and each event is user activity (it wakes screens that are off).
//!
//! `State` owns neither global's state: smithay keeps the virtual keyboards; each virtual
//! pointer keeps its output and the axis frame it is building in its resource's data.

use std::sync::Mutex;

use smithay::backend::input::{Axis, AxisSource, ButtonState};
use smithay::input::pointer::AxisFrame;
use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::virtual_pointer::v1::server::{
    zwlr_virtual_pointer_manager_v1::{self, ZwlrVirtualPointerManagerV1},
    zwlr_virtual_pointer_v1::{self, ZwlrVirtualPointerV1},
};
use smithay::reexports::wayland_server::protocol::wl_pointer;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::{Logical, Point, Rectangle};
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;

use crate::protocols::security_context::privileged;
use crate::state::State;

const POINTER_MANAGER_VERSION: u32 = 2;

/// Creates both globals; the virtual keyboard's state is returned for `State` to keep.
pub fn init(display: &DisplayHandle) -> VirtualKeyboardManagerState {
    display.create_global::<State, ZwlrVirtualPointerManagerV1, ()>(POINTER_MANAGER_VERSION, ());
    VirtualKeyboardManagerState::new::<State, _>(display, privileged)
}

/// What a virtual pointer keeps between requests: events wait for the frame that ends them.
#[derive(Default)]
pub struct VirtualPointer {
    /// The output absolute motion maps to (every output's bounding box when `None`).
    output: Option<Output>,
    /// Motion and buttons since the last frame, in order.
    pending: Vec<PendingEvent>,
    /// Axis events since the last frame.
    axis: Option<AxisFrame>,
}

/// A motion or button event waiting for its frame.
enum PendingEvent {
    Motion {
        time: u32,
        delta: Point<f64, Logical>,
    },
    MoveTo {
        time: u32,
        position: Point<f64, Logical>,
    },
    Button {
        time: u32,
        button: u32,
        state: ButtonState,
    },
}

/// Sends a frame's events to the seat, through the paths a real device's take.
fn deliver(state: &mut State, events: Vec<PendingEvent>, axis: Option<AxisFrame>) {
    if events.is_empty() && axis.is_none() {
        return;
    }
    crate::screens::user_activity(state);
    for event in events {
        match event {
            PendingEvent::Motion { time, delta } => {
                crate::input::pointer_moved_by(state, delta, delta, u64::from(time) * 1000);
            }
            PendingEvent::MoveTo { time, position } => {
                crate::input::pointer_moved(state, position, time);
            }
            PendingEvent::Button {
                time,
                button,
                state: pressed,
            } => crate::input::pointer_button(state, button, pressed, time),
        }
    }
    if let (Some(frame), Some(pointer)) = (axis, state.seat.get_pointer()) {
        pointer.axis(state, frame);
        pointer.frame(state);
    }
}

impl GlobalDispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrVirtualPointerManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwlrVirtualPointerManagerV1, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _manager: &ZwlrVirtualPointerManagerV1,
        request: zwlr_virtual_pointer_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_virtual_pointer_manager_v1::Request;
        match request {
            Request::CreateVirtualPointer { id, .. } => {
                data_init.init(id, Mutex::new(VirtualPointer::default()));
            }
            Request::CreateVirtualPointerWithOutput { output, id, .. } => {
                let output = output.as_ref().and_then(Output::from_resource);
                data_init.init(
                    id,
                    Mutex::new(VirtualPointer {
                        output,
                        ..VirtualPointer::default()
                    }),
                );
            }
            Request::Destroy => {}
            _ => {}
        }
    }
}

impl Dispatch<ZwlrVirtualPointerV1, Mutex<VirtualPointer>> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        pointer: &ZwlrVirtualPointerV1,
        request: zwlr_virtual_pointer_v1::Request,
        data: &Mutex<VirtualPointer>,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_virtual_pointer_v1::Request;
        let mut data = data.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match request {
            Request::Motion { time, dx, dy } => {
                let delta = (dx, dy).into();
                data.pending.push(PendingEvent::Motion { time, delta });
            }
            Request::MotionAbsolute {
                time,
                x,
                y,
                x_extent,
                y_extent,
            } => {
                if x_extent == 0 || y_extent == 0 {
                    return;
                }
                let Some(area) = absolute_area(state, data.output.as_ref()) else {
                    return;
                };
                let fraction_x = f64::from(x.min(x_extent)) / f64::from(x_extent);
                let fraction_y = f64::from(y.min(y_extent)) / f64::from(y_extent);
                let position = Point::from((
                    area.loc.x as f64 + fraction_x * area.size.w as f64,
                    area.loc.y as f64 + fraction_y * area.size.h as f64,
                ));
                data.pending.push(PendingEvent::MoveTo { time, position });
            }
            Request::Button {
                time,
                button,
                state: button_state,
            } => {
                let state = match button_state {
                    WEnum::Value(wl_pointer::ButtonState::Pressed) => ButtonState::Pressed,
                    _ => ButtonState::Released,
                };
                data.pending.push(PendingEvent::Button {
                    time,
                    button,
                    state,
                });
            }
            Request::Axis { time, axis, value } => {
                let Some(axis) = axis_of(pointer, axis) else {
                    return;
                };
                let frame = data.axis.take().unwrap_or_else(|| AxisFrame::new(time));
                data.axis = Some(frame.value(axis, value));
            }
            Request::AxisDiscrete {
                time,
                axis,
                value,
                discrete,
            } => {
                let Some(axis) = axis_of(pointer, axis) else {
                    return;
                };
                let frame = data.axis.take().unwrap_or_else(|| AxisFrame::new(time));
                data.axis = Some(
                    frame
                        .value(axis, value)
                        .v120(axis, discrete.saturating_mul(120)),
                );
            }
            Request::AxisSource { axis_source } => {
                let source = match axis_source {
                    WEnum::Value(wl_pointer::AxisSource::Wheel) => AxisSource::Wheel,
                    WEnum::Value(wl_pointer::AxisSource::Finger) => AxisSource::Finger,
                    WEnum::Value(wl_pointer::AxisSource::Continuous) => AxisSource::Continuous,
                    WEnum::Value(wl_pointer::AxisSource::WheelTilt) => AxisSource::WheelTilt,
                    _ => {
                        pointer.post_error(
                            zwlr_virtual_pointer_v1::Error::InvalidAxisSource,
                            "unknown axis source",
                        );
                        return;
                    }
                };
                let frame = data
                    .axis
                    .take()
                    .unwrap_or_else(|| AxisFrame::new(state.clock().as_millis() as u32));
                data.axis = Some(frame.source(source));
            }
            Request::AxisStop { time, axis } => {
                let Some(axis) = axis_of(pointer, axis) else {
                    return;
                };
                let frame = data.axis.take().unwrap_or_else(|| AxisFrame::new(time));
                data.axis = Some(frame.stop(axis));
            }
            Request::Frame => {
                let events = std::mem::take(&mut data.pending);
                let axis = data.axis.take();
                drop(data);
                deliver(state, events, axis);
            }
            Request::Destroy => {}
            _ => {}
        }
    }
}

/// The axis a request names, or a protocol error for the client.
fn axis_of(pointer: &ZwlrVirtualPointerV1, axis: WEnum<wl_pointer::Axis>) -> Option<Axis> {
    match axis {
        WEnum::Value(wl_pointer::Axis::VerticalScroll) => Some(Axis::Vertical),
        WEnum::Value(wl_pointer::Axis::HorizontalScroll) => Some(Axis::Horizontal),
        _ => {
            pointer.post_error(zwlr_virtual_pointer_v1::Error::InvalidAxis, "unknown axis");
            None
        }
    }
}

/// The area absolute motion spans: the pointer's output, or every output's bounding box.
fn absolute_area(state: &State, output: Option<&Output>) -> Option<Rectangle<i32, Logical>> {
    match output {
        Some(output) => state.space.output_geometry(output),
        None => state
            .space
            .outputs()
            .filter_map(|output| state.space.output_geometry(output))
            .reduce(|a, b| a.merge(b)),
    }
}

// The virtual keyboard's dispatch: protocols::keymap_guard.
