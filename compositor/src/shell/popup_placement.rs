//! Where a popup sits relative to its parent.
//!
//! The position of an xdg popup is the compositor's choice, sent in the popup's configure; the
//! client cannot change it. smithay 0.7 moves a popup to a configured position only on the first
//! commit after the client acknowledged it, so a popup whose buffer was committed before its
//! first configure would stay at its parent's origin until the client commits again. Tandem
//! moves it when the client acknowledges the configure: `State::ack_configure` (the
//! `XdgShellHandler` in `state.rs`) calls [`acknowledged`]. Size and everything else still take
//! effect on the client's commit, with its buffer.

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{PopupConfigure, XdgPopupSurfaceData};

/// Moves the popup of `surface` to the position in the configure its client just acknowledged.
pub fn acknowledged(surface: &WlSurface, configure: &PopupConfigure) {
    with_states(surface, |states| {
        let Some(data) = states.data_map.get::<XdgPopupSurfaceData>() else {
            return;
        };
        let Ok(mut attributes) = data.lock() else {
            return;
        };
        attributes.current.geometry.loc = configure.state.geometry.loc;
    });
}
