//! The seat (keyboard, pointer, touch, cursor image), wl_output, selections and drag and drop,
//! viewporter and presentation time: the handlers smithay asks of the state for them.

use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::output::OutputHandler;
use smithay::wayland::selection::data_device::{
    set_data_device_focus, ClientDndGrabHandler, DataDeviceHandler, DataDeviceState,
    ServerDndGrabHandler,
};
use smithay::{delegate_output, delegate_presentation, delegate_seat, delegate_viewporter};

use crate::state::State;

impl OutputHandler for State {}

impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<State> {
        &mut self.seat_state
    }

    fn focus_changed(&mut self, seat: &Seat<State>, focused: Option<&WlSurface>) {
        let client = focused.and_then(|surface| self.display.get_client(surface.id()).ok());
        set_data_device_focus(&self.display, seat, client.clone());
        crate::protocols::selection::focus_changed(self, client.as_ref());
        crate::protocols::primary_selection::focus_changed(&self.display, seat, client);
        crate::protocols::text_input::focus_changed(self, focused);
        self.constraints_stale = true;
        self.request_redraw();
    }

    fn cursor_image(&mut self, _seat: &Seat<State>, image: CursorImageStatus) {
        self.cursor_status = image;
        self.request_redraw();
    }
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device
    }
}

impl ClientDndGrabHandler for State {}
impl ServerDndGrabHandler for State {}

// wl_compositor, wl_shm and linux-dmabuf: in request_guards.rs; the data device's and
// selections' dispatch: in selection/unfocused.rs.

delegate_output!(State);
delegate_seat!(State);
delegate_viewporter!(State);
delegate_presentation!(State);
