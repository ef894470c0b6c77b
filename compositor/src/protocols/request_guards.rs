//! Requests that smithay 0.7 would panic or hang on, answered with the protocol's error before
//! smithay sees them (each was found by `tandem-test-client --fuzz` and has a regression case
//! among the hostile cases):
//!
//! - `wl_shm_pool.resize` to a size of 0 or less (smithay posts the error, then unwraps);
//! - `wl_subsurface.place_above`/`place_below` relative to the subsurface itself (smithay
//!   inserts past the end of the sibling list);
//! - `zwp_linux_buffer_params_v1.create`/`create_immed` with a format code that is not four
//!   characters, such as the big-endian flag alone (smithay's error message formats it with a
//!   `Debug` that panics for such codes);
//! - `xdg_surface.get_popup` whose parent chain leads back to the popup (smithay's popup
//!   manager walks the chain forever): [`popup_parent_loops`], asked by the shell handler.
//!
//! The dispatch of these interfaces is declared here instead of through smithay's `delegate_*`
//! macros for shm, dmabuf and the compositor (state.rs): each checks the request and hands it
//! to smithay's own implementation.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::wayland_protocols::wp::linux_dmabuf::zv1::server::{
    zwp_linux_buffer_params_v1::{self, ZwpLinuxBufferParamsV1},
    zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1,
    zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::{self, XdgWmBase};
use smithay::reexports::wayland_server::backend::protocol::ProtocolError;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{
    wl_buffer::WlBuffer,
    wl_callback::WlCallback,
    wl_compositor::WlCompositor,
    wl_region::WlRegion,
    wl_shm::{self, WlShm},
    wl_shm_pool::{self, WlShmPool},
    wl_subcompositor::WlSubcompositor,
    wl_subsurface::{self, WlSubsurface},
    wl_surface::WlSurface,
};
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::wayland::compositor::{
    get_role, with_states, CompositorState, RegionUserData, SubsurfaceUserData, SurfaceUserData,
};
use smithay::wayland::dmabuf::{
    DmabufData, DmabufFeedbackData, DmabufGlobalData, DmabufParamsData, DmabufState,
};
use smithay::wayland::shell::xdg::{PopupSurface, XdgPopupSurfaceData, XDG_POPUP_ROLE};
use smithay::wayland::shm::{ShmBufferUserData, ShmPoolUserData, ShmState};

use crate::state::State;

delegate_global_dispatch!(State: [WlShm: ()] => ShmState);
delegate_dispatch!(State: [WlShm: ()] => ShmState);
delegate_dispatch!(State: [WlBuffer: ShmBufferUserData] => ShmState);

impl Dispatch<WlShmPool, ShmPoolUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        pool: &WlShmPool,
        request: wl_shm_pool::Request,
        data: &ShmPoolUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let wl_shm_pool::Request::Resize { size } = &request {
            if *size <= 0 {
                pool.post_error(
                    wl_shm::Error::InvalidFd,
                    format!("wl_shm_pool.resize to {size} bytes"),
                );
                return;
            }
        }
        <ShmState as Dispatch<WlShmPool, ShmPoolUserData, State>>::request(
            state, client, pool, request, data, dh, init,
        );
    }

    fn destroyed(state: &mut State, client: ClientId, pool: &WlShmPool, data: &ShmPoolUserData) {
        <ShmState as Dispatch<WlShmPool, ShmPoolUserData, State>>::destroyed(
            state, client, pool, data,
        );
    }
}

delegate_global_dispatch!(State: [ZwpLinuxDmabufV1: DmabufGlobalData] => DmabufState);
delegate_dispatch!(State: [ZwpLinuxDmabufV1: DmabufData] => DmabufState);
delegate_dispatch!(State: [WlBuffer: Dmabuf] => DmabufState);
delegate_dispatch!(State: [ZwpLinuxDmabufFeedbackV1: DmabufFeedbackData] => DmabufState);

impl Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        params: &ZwpLinuxBufferParamsV1,
        request: zwp_linux_buffer_params_v1::Request,
        data: &DmabufParamsData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        let format = match &request {
            zwp_linux_buffer_params_v1::Request::Create { format, .. }
            | zwp_linux_buffer_params_v1::Request::CreateImmed { format, .. } => Some(*format),
            _ => None,
        };
        if let Some(format) = format.filter(|code| !is_fourcc_text(*code)) {
            params.post_error(
                zwp_linux_buffer_params_v1::Error::InvalidFormat,
                format!("format 0x{format:08x} is not a fourcc code"),
            );
            return;
        }
        <DmabufState as Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, State>>::request(
            state, client, params, request, data, dh, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        params: &ZwpLinuxBufferParamsV1,
        data: &DmabufParamsData,
    ) {
        <DmabufState as Dispatch<ZwpLinuxBufferParamsV1, DmabufParamsData, State>>::destroyed(
            state, client, params, data,
        );
    }
}

/// Whether `code` is four printable characters, as every format code is.
fn is_fourcc_text(code: u32) -> bool {
    code.to_le_bytes()
        .iter()
        .all(|byte| (0x20..0x7f).contains(byte))
}

delegate_global_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_global_dispatch!(State: [WlSubcompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlSurface: SurfaceUserData] => CompositorState);
delegate_dispatch!(State: [WlRegion: RegionUserData] => CompositorState);
delegate_dispatch!(State: [WlCallback: ()] => CompositorState);
delegate_dispatch!(State: [WlSubcompositor: ()] => CompositorState);

impl Dispatch<WlSubsurface, SubsurfaceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        subsurface: &WlSubsurface,
        request: wl_subsurface::Request,
        data: &SubsurfaceUserData,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        let relative_to = match &request {
            wl_subsurface::Request::PlaceAbove { sibling }
            | wl_subsurface::Request::PlaceBelow { sibling } => Some(sibling),
            _ => None,
        };
        if relative_to.is_some_and(|sibling| sibling == data.surface()) {
            subsurface.post_error(
                wl_subsurface::Error::BadSurface,
                "a subsurface cannot be placed relative to itself",
            );
            return;
        }
        <CompositorState as Dispatch<WlSubsurface, SubsurfaceUserData, State>>::request(
            state, client, subsurface, request, data, dh, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        subsurface: &WlSubsurface,
        data: &SubsurfaceUserData,
    ) {
        <CompositorState as Dispatch<WlSubsurface, SubsurfaceUserData, State>>::destroyed(
            state, client, subsurface, data,
        );
    }
}

/// The most popups one chain of parents is followed through.
const POPUP_CHAIN_LIMIT: usize = 1024;

/// Whether the chain of parents of a new popup leads back to the popup itself (or goes on past
/// any sane depth).
pub fn popup_parent_loops(popup: &PopupSurface) -> bool {
    let own = popup.wl_surface();
    let mut parent = popup.get_parent_surface();
    for _ in 0..POPUP_CHAIN_LIMIT {
        let Some(surface) = parent else {
            return false;
        };
        if &surface == own {
            return true;
        }
        if get_role(&surface) != Some(XDG_POPUP_ROLE) {
            return false;
        }
        parent = with_states(&surface, |states| {
            states
                .data_map
                .get::<XdgPopupSurfaceData>()
                .and_then(|data| data.lock().ok().and_then(|data| data.parent.clone()))
        });
    }
    true
}

/// Disconnects the client of `popup` with `xdg_wm_base.invalid_popup_parent`, posted on its
/// xdg_wm_base when it can be found among the client's first objects.
pub fn refuse_popup_parent(dh: &DisplayHandle, popup: &PopupSurface) {
    let Ok(client) = dh.get_client(popup.wl_surface().id()) else {
        return;
    };
    let message = "the popup's chain of parents leads back to itself".to_owned();
    let wm_base =
        (1..=4096u32).find_map(|id| client.object_from_protocol_id::<XdgWmBase>(dh, id).ok());
    match wm_base {
        Some(wm_base) => wm_base.post_error(xdg_wm_base::Error::InvalidPopupParent, message),
        None => client.kill(
            dh,
            ProtocolError {
                code: xdg_wm_base::Error::InvalidPopupParent as u32,
                object_id: popup.xdg_popup().id().protocol_id(),
                object_interface: "xdg_popup".into(),
                message,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::is_fourcc_text;

    #[test]
    fn format_codes_are_four_characters() {
        assert!(is_fourcc_text(u32::from_le_bytes(*b"AR24")));
        assert!(is_fourcc_text(u32::from_le_bytes(*b"NV12")));
        assert!(!is_fourcc_text(0x8000_0000), "the big-endian flag alone");
        assert!(!is_fourcc_text(0));
        assert!(!is_fourcc_text(u32::from_le_bytes(*b"AR24") | 0x8000_0000));
    }
}
