//! The Wayland conformance suite's view of tandem-compositor: `libtandem_wlcs.so`, which the
//! WLCS runner loads (`wlcs target/debug/libtandem_wlcs.so`).
//!
//! For each test WLCS creates a [`TandemWlcs`], starts it, connects its clients, moves windows
//! and injects input, then stops it. Starting runs the real compositor on its own thread
//! (`compositor_thread`): the headless backend, one software GPU, one large output, rendering
//! through Tandem. Everything WLCS asks is a request to that thread (`requests`); pointers and
//! touch points (`devices`) go through the compositor's own input functions, the ones the TTY
//! and winit backends call.

mod compositor_thread;
mod devices;
mod requests;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::raw::c_int;
use std::os::unix::net::UnixStream;

use wayland_sys::client::{wl_display, wl_proxy};
use wlcs::ffi_display_server_api::{
    WlcsExtensionDescriptor, WlcsIntegrationDescriptor, WlcsServerIntegration,
};
use wlcs::ffi_wrappers::wlcs_server;
use wlcs::{extension_list, Wlcs};

use crate::compositor_thread::CompositorThread;
use crate::devices::{WlcsPointer, WlcsTouch};
use crate::requests::{Action, Requests};

#[link(name = "wayland-client")]
extern "C" {
    fn wl_display_get_fd(display: *mut wl_display) -> c_int;
    fn wl_proxy_get_id(proxy: *mut wl_proxy) -> u32;
}

/// The protocols the compositor offers, at the versions it offers them; WLCS skips the tests
/// of any other (wl_shell and xdg-shell v6 are obsolete and not offered).
static EXTENSIONS: &[WlcsExtensionDescriptor] = extension_list!(
    ("wl_compositor", 5),
    ("wl_subcompositor", 1),
    ("wl_shm", 2),
    ("wl_seat", 9),
    ("wl_output", 4),
    ("wl_data_device_manager", 3),
    ("xdg_wm_base", 6),
    ("zxdg_output_manager_v1", 3),
    ("wp_viewporter", 1),
    ("wp_presentation", 2),
    ("zwp_linux_dmabuf_v1", 3),
    ("zwlr_layer_shell_v1", 4),
);

static DESCRIPTOR: WlcsIntegrationDescriptor = WlcsIntegrationDescriptor {
    version: 1,
    num_extensions: EXTENSIONS.len(),
    supported_extensions: EXTENSIONS.as_ptr(),
};

/// One WLCS display server: the compositor thread while it runs.
pub struct TandemWlcs {
    compositor: Option<CompositorThread>,
    next_touch_slot: u32,
}

impl TandemWlcs {
    fn compositor(&self) -> Option<&CompositorThread> {
        if self.compositor.is_none() {
            tracing::error!("WLCS asked a compositor that is not running");
        }
        self.compositor.as_ref()
    }

    fn requests(&self) -> Requests {
        self.compositor()
            .map_or_else(Requests::nowhere, CompositorThread::requests)
    }
}

impl Wlcs for TandemWlcs {
    type Pointer = WlcsPointer;
    type Touch = WlcsTouch;

    fn new() -> Self {
        tandem_compositor::logging::init(true);
        if let Err(err) = tandem_compositor::runtime_dir::for_session() {
            tracing::error!("{err}");
        }
        TandemWlcs {
            compositor: None,
            next_touch_slot: 0,
        }
    }

    fn start(&mut self) {
        match CompositorThread::start() {
            Ok(compositor) => self.compositor = Some(compositor),
            Err(err) => tracing::error!("the compositor did not start: {err}"),
        }
    }

    fn stop(&mut self) {
        if let Some(compositor) = self.compositor.take() {
            compositor.stop();
        }
    }

    fn create_client_socket(&self) -> std::io::Result<OwnedFd> {
        let compositor = self
            .compositor()
            .ok_or_else(|| std::io::Error::other("the compositor is not running"))?;
        let (client_end, server_end) = UnixStream::pair()?;
        let key = client_end.as_raw_fd();
        compositor.call(Action::AddClient {
            key,
            stream: server_end,
        })?;
        Ok(client_end.into())
    }

    // The wlcs crate's trait takes WLCS's raw pointers in a safe method; WLCS only ever hands
    // over a live client display and one of its surfaces.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn position_window_absolute(
        &self,
        display: *mut wl_display,
        surface: *mut wl_proxy,
        x: i32,
        y: i32,
    ) {
        let Some(compositor) = self.compositor() else {
            return;
        };
        // SAFETY: WLCS hands over a live client display and one of its wl_surface proxies.
        let (key, surface) = unsafe { (wl_display_get_fd(display), wl_proxy_get_id(surface)) };
        if let Err(err) = compositor.call(Action::Place {
            key,
            surface,
            origin: (x, y),
        }) {
            tracing::error!(%err, "could not place a window");
        }
    }

    fn create_pointer(&mut self) -> Option<WlcsPointer> {
        Some(WlcsPointer::new(self.requests()))
    }

    fn create_touch(&mut self) -> Option<WlcsTouch> {
        let slot = self.next_touch_slot;
        self.next_touch_slot += 1;
        Some(WlcsTouch::new(self.requests(), slot))
    }

    fn get_descriptor(&self) -> &WlcsIntegrationDescriptor {
        &DESCRIPTOR
    }
}

#[allow(non_upper_case_globals)]
mod exported {
    use super::{wlcs_server, TandemWlcs, WlcsServerIntegration};

    wlcs::wlcs_server_integration!(TandemWlcs);
}
