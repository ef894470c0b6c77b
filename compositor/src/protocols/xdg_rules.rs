//! xdg-shell's rules that smithay 0.7 does not keep, kept before its dispatch sees the request:
//!
//! - `xdg_wm_base.get_xdg_surface` for a surface that already has another role (a subsurface,
//!   a cursor) is the `role` error, and for one with a buffer attached or committed the
//!   `invalid_surface_state` error; smithay accepts both. (`xdg_surface`'s own rule, no buffer
//!   attached before the first configure, is not checked: smithay offers no way to find a
//!   surface's xdg_surface when the buffer is attached.)
//! - `xdg_positioner.set_anchor_rect` with a zero width or height is allowed (only negative
//!   sizes are an error, since wayland-protocols 1.33; menus opened at the pointer use zero-size
//!   rectangles), but smithay refuses it. The guard hands smithay a rectangle one pixel wide or
//!   high and remembers the positioner ([`ZeroSizeAnchors`]); `xdg_surface.get_popup` and
//!   `xdg_popup.reposition` with that positioner give the popup back its zero size
//!   ([`zero_size_anchor`], which the shell handler (`shell::xdg`) applies).
//!
//! The dispatch of xdg_wm_base, xdg_positioner, xdg_surface and xdg_popup is declared here
//! instead of through smithay's `delegate_xdg_shell`; each checks the request and hands it to
//! smithay's own implementation.

use std::collections::HashMap;

use smithay::backend::renderer::utils::RendererSurfaceStateUserData;
use smithay::reexports::wayland_protocols::xdg::shell::server::{
    xdg_popup::{self, XdgPopup},
    xdg_positioner::{self, XdgPositioner},
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::XdgToplevel,
    xdg_wm_base::{self, XdgWmBase},
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::wayland::compositor::{get_role, with_states, BufferAssignment, SurfaceAttributes};
use smithay::wayland::shell::xdg::{
    PositionerState, XdgPositionerUserData, XdgShellState, XdgShellSurfaceUserData,
    XdgSurfaceUserData, XdgWmBaseUserData, XDG_POPUP_ROLE, XDG_TOPLEVEL_ROLE,
};

use crate::state::State;

delegate_global_dispatch!(State: [XdgWmBase: ()] => XdgShellState);
delegate_dispatch!(State: [XdgToplevel: XdgShellSurfaceUserData] => XdgShellState);

/// Positioners whose anchor rectangle has a zero width or height, by positioner, and the popup
/// being created or repositioned with one of them.
#[derive(Default)]
pub struct ZeroSizeAnchors {
    positioners: HashMap<ObjectId, (bool, bool)>,
    /// Set while smithay handles a get_popup or reposition with such a positioner.
    in_use: Option<(bool, bool)>,
}

/// Gives `positioner` back the zero width or height its client set, if the request smithay is
/// handling used such a positioner.
pub fn zero_size_anchor(state: &mut State, positioner: &mut PositionerState) {
    if let Some((zero_width, zero_height)) = state.zero_size_anchors.in_use.take() {
        if zero_width {
            positioner.anchor_rect.size.w = 0;
        }
        if zero_height {
            positioner.anchor_rect.size.h = 0;
        }
    }
}

/// Whether `surface` has a buffer attached (pending) or, before it ever had a role, committed.
/// (A surface that was a window keeps its last buffer when a client forgets to unmap it before
/// making it a window again; that is tolerated.)
fn has_buffer(surface: &WlSurface) -> bool {
    let never_had_a_role = get_role(surface).is_none();
    with_states(surface, |states| {
        let attached = matches!(
            states
                .cached_state
                .get::<SurfaceAttributes>()
                .pending()
                .buffer,
            Some(BufferAssignment::NewBuffer(_))
        );
        let committed = states
            .data_map
            .get::<RendererSurfaceStateUserData>()
            .and_then(|s| s.lock().ok().map(|s| s.buffer().is_some()))
            .unwrap_or(false);
        attached || (committed && never_had_a_role)
    })
}

impl Dispatch<XdgWmBase, XdgWmBaseUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        wm_base: &XdgWmBase,
        request: xdg_wm_base::Request,
        data: &XdgWmBaseUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let xdg_wm_base::Request::GetXdgSurface { surface, .. } = &request {
            let role = get_role(surface);
            if role.is_some_and(|r| r != XDG_TOPLEVEL_ROLE && r != XDG_POPUP_ROLE) {
                wm_base.post_error(
                    xdg_wm_base::Error::Role,
                    format!(
                        "the surface already has the role {}",
                        role.unwrap_or_default()
                    ),
                );
                return;
            }
            if has_buffer(surface) {
                wm_base.post_error(
                    xdg_wm_base::Error::InvalidSurfaceState,
                    "an xdg_surface is made from a surface with no buffer",
                );
                return;
            }
        }
        <XdgShellState as Dispatch<XdgWmBase, XdgWmBaseUserData, State>>::request(
            state, client, wm_base, request, data, dh, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        wm_base: &XdgWmBase,
        data: &XdgWmBaseUserData,
    ) {
        <XdgShellState as Dispatch<XdgWmBase, XdgWmBaseUserData, State>>::destroyed(
            state, client, wm_base, data,
        );
    }
}

impl Dispatch<XdgPositioner, XdgPositionerUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        positioner: &XdgPositioner,
        request: xdg_positioner::Request,
        data: &XdgPositionerUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        let request = match request {
            xdg_positioner::Request::SetAnchorRect {
                x,
                y,
                width,
                height,
            } if width == 0 || height == 0 => {
                let zero = (width == 0, height == 0);
                state
                    .zero_size_anchors
                    .positioners
                    .insert(positioner.id(), zero);
                xdg_positioner::Request::SetAnchorRect {
                    x,
                    y,
                    width: width.max(1),
                    height: height.max(1),
                }
            }
            xdg_positioner::Request::SetAnchorRect { .. } => {
                state.zero_size_anchors.positioners.remove(&positioner.id());
                request
            }
            other => other,
        };
        <XdgShellState as Dispatch<XdgPositioner, XdgPositionerUserData, State>>::request(
            state, client, positioner, request, data, dh, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        positioner: &XdgPositioner,
        data: &XdgPositionerUserData,
    ) {
        state.zero_size_anchors.positioners.remove(&positioner.id());
        <XdgShellState as Dispatch<XdgPositioner, XdgPositionerUserData, State>>::destroyed(
            state, client, positioner, data,
        );
    }
}

impl Dispatch<XdgSurface, XdgSurfaceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        xdg_surface: &XdgSurface,
        request: xdg_surface::Request,
        data: &XdgSurfaceUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let xdg_surface::Request::GetPopup { positioner, .. } = &request {
            let anchors = &mut state.zero_size_anchors;
            anchors.in_use = anchors.positioners.get(&positioner.id()).copied();
        }
        <XdgShellState as Dispatch<XdgSurface, XdgSurfaceUserData, State>>::request(
            state,
            client,
            xdg_surface,
            request,
            data,
            dh,
            init,
        );
        state.zero_size_anchors.in_use = None;
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        xdg_surface: &XdgSurface,
        data: &XdgSurfaceUserData,
    ) {
        <XdgShellState as Dispatch<XdgSurface, XdgSurfaceUserData, State>>::destroyed(
            state,
            client,
            xdg_surface,
            data,
        );
    }
}

impl Dispatch<XdgPopup, XdgShellSurfaceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        popup: &XdgPopup,
        request: xdg_popup::Request,
        data: &XdgShellSurfaceUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let xdg_popup::Request::Reposition { positioner, .. } = &request {
            let anchors = &mut state.zero_size_anchors;
            anchors.in_use = anchors.positioners.get(&positioner.id()).copied();
        }
        <XdgShellState as Dispatch<XdgPopup, XdgShellSurfaceUserData, State>>::request(
            state, client, popup, request, data, dh, init,
        );
        state.zero_size_anchors.in_use = None;
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        popup: &XdgPopup,
        data: &XdgShellSurfaceUserData,
    ) {
        <XdgShellState as Dispatch<XdgPopup, XdgShellSurfaceUserData, State>>::destroyed(
            state, client, popup, data,
        );
    }
}
