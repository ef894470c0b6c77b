//! xdg-shell: toplevels mapped into the space, popups placed and grabbed, and the requests a
//! toplevel makes of its window (move, resize, maximize, fullscreen, minimize).

use smithay::desktop::{PopupKind, Window};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{
    ResizeEdge, State as ToplevelState,
};
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::Serial;
use smithay::wayland::shell::xdg::{
    Configure, PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
};

use crate::state::State;

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell
    }

    fn new_toplevel(&mut self, toplevel: ToplevelSurface) {
        let location = self.next_location();
        tracing::info!(surface = ?toplevel.wl_surface().id(), ?location, "new window");
        let window = Window::new_wayland_window(toplevel);
        self.space.map_element(window.clone(), location, false);
        self.await_first_buffer(window);
        self.request_redraw();
    }

    fn toplevel_destroyed(&mut self, toplevel: ToplevelSurface) {
        crate::input::pointer_leaves(self, toplevel.wl_surface());
        crate::shell::minimize::forget(self, &toplevel);
        if let Some(window) = self.window_for(toplevel.wl_surface()) {
            self.space.unmap_elem(&window);
            self.forget_new_window(&window);
        }
        self.focus_topmost();
        self.request_redraw();
    }

    /// A window that already shows becomes a dialog: it goes over its new parent (one that
    /// does not show yet goes there with its first buffer).
    fn parent_changed(&mut self, toplevel: ToplevelSurface) {
        let Some(window) = self.window_for(toplevel.wl_surface()) else {
            return;
        };
        if !window.geometry().size.is_empty() {
            crate::shell::dialog::center_over_parent(self, &window);
            self.request_redraw();
        }
    }

    fn new_popup(&mut self, surface: PopupSurface, mut positioner: PositionerState) {
        crate::protocols::xdg_rules::zero_size_anchor(self, &mut positioner);
        if crate::protocols::request_guards::popup_parent_loops(&surface) {
            crate::protocols::request_guards::refuse_popup_parent(&self.display, &surface);
            return;
        }
        surface.with_pending_state(|state| {
            state.geometry = crate::shell::client_geometry::rectangle(positioner.get_geometry());
            state.positioner = positioner;
        });
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            tracing::debug!(%err, "popup not tracked");
        }
    }

    fn ack_configure(&mut self, surface: WlSurface, configure: Configure) {
        if let Configure::Popup(configure) = configure {
            crate::shell::popup_placement::acknowledged(&surface, &configure);
            self.request_redraw();
        }
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        crate::input::pointer_leaves(self, surface.wl_surface());
        self.request_redraw();
    }

    fn grab(&mut self, surface: PopupSurface, _seat: WlSeat, serial: Serial) {
        crate::shell::popup_grab::start(self, surface, serial);
    }

    fn move_request(&mut self, surface: ToplevelSurface, _seat: WlSeat, serial: Serial) {
        crate::shell::interactive::start_move(self, &surface, serial);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        _seat: WlSeat,
        serial: Serial,
        edges: ResizeEdge,
    ) {
        crate::shell::interactive::start_resize(self, &surface, serial, edges);
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        crate::shell::toplevel_states::maximize(self, &surface);
        crate::protocols::foreign_toplevel_management::sync(self);
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        if let Some(window) = self.window_for(surface.wl_surface()) {
            crate::shell::minimize::minimize(self, &window);
            crate::protocols::foreign_toplevel_management::sync(self);
        }
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        crate::shell::toplevel_states::restore(self, &surface, ToplevelState::Maximized);
        crate::protocols::foreign_toplevel_management::sync(self);
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        crate::shell::toplevel_states::fullscreen(self, &surface);
        crate::protocols::foreign_toplevel_management::sync(self);
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        crate::shell::toplevel_states::restore(self, &surface, ToplevelState::Fullscreen);
        crate::protocols::foreign_toplevel_management::sync(self);
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        mut positioner: PositionerState,
        token: u32,
    ) {
        crate::protocols::xdg_rules::zero_size_anchor(self, &mut positioner);
        surface.with_pending_state(|state| {
            state.geometry = crate::shell::client_geometry::rectangle(positioner.get_geometry());
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
    }
}

// xdg_wm_base, xdg_positioner, xdg_surface and xdg_popup: in protocols/xdg_rules.rs.
