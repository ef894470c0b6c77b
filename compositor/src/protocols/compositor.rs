//! wl_compositor, wl_shm and wl_buffer: every surface registered with Tandem when it is created
//! (its GPU memory released when it is destroyed), and each commit taken through the subsurface
//! positions, the window geometry bounds, the buffer release and smithay's buffer handler, then
//! into the windows, popups and layer surfaces it belongs to.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::desktop::PopupKind;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Client;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    get_parent, is_sync_subsurface, with_states, CompositorClientState, CompositorHandler,
    CompositorState,
};
use smithay::wayland::shell::xdg::SurfaceCachedState;
use smithay::wayland::shm::{ShmHandler, ShmState};

use crate::state::{ClientState, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(state) => &state.compositor,
            None => unreachable!("every client is inserted with ClientState"),
        }
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        self.tracker.new_surface::<State>(surface);
        crate::shell::subsurface_position::track(surface);
        crate::protocols::buffer_readiness::track(surface);
        if self.retain_surfaces {
            self.retained_surfaces.push(surface.clone());
        }
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        crate::input::surface_destroyed(self, surface);
        crate::protocols::idle::surface_destroyed(self, surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        crate::shell::subsurface_position::committed(surface);
        bound_window_geometry(surface);
        crate::protocols::buffer_release::retire_replaced_buffer(self, surface);
        on_commit_buffer_handler::<State>(surface);
        self.request_redraw();
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for(&root) {
                crate::shell::window::content_committed(&mut self.space, &window);
            }
        }
        self.popups.commit(surface);
        crate::shell::layer::commit(self, surface);
        if let Some(window) = self.window_for(surface) {
            if let Some(toplevel) = window.toplevel() {
                if !toplevel.is_initial_configure_sent() {
                    toplevel.send_configure();
                }
            }
            self.focus_once_shown(window, surface);
        }
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface) {
            if !popup.is_initial_configure_sent() {
                if let Err(err) = popup.send_configure() {
                    tracing::debug!(%err, "popup configure");
                }
            }
        }
        crate::input::refresh_pointer_focus(self);
    }
}

/// Clamps the window geometry `surface`'s client set (xdg_surface.set_window_geometry; smithay
/// refuses empty sizes, not absurd positions or sizes) to `shell::client_geometry`'s bounds.
fn bound_window_geometry(surface: &WlSurface) {
    with_states(surface, |states| {
        let mut cached = states.cached_state.get::<SurfaceCachedState>();
        if let Some(geometry) = cached.current().geometry.as_mut() {
            *geometry = crate::shell::client_geometry::rectangle(*geometry);
        }
    });
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}
