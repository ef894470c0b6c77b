//! Presentation hints as a client: `tandem-test-client --content-type photo|video|game` and
//! `--tearing vsync|async` give each window that content type (wp_content_type_v1) and
//! presentation hint (wp_tearing_control_v1) before its first buffer. The hostile case
//! `hints-tearing-control-twice` asks for a second tearing-control object for one surface,
//! which is the manager's `tearing_control_exists` error; `hostile::run` hands every case
//! named `hints-*` to [`run`].

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::protocol::{wl_compositor::WlCompositor, wl_registry::WlRegistry};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::content_type::v1::client::{
    wp_content_type_manager_v1::WpContentTypeManagerV1,
    wp_content_type_v1::{Type, WpContentTypeV1},
};
use wayland_protocols::wp::tearing_control::v1::client::{
    wp_tearing_control_manager_v1::WpTearingControlManagerV1,
    wp_tearing_control_v1::{PresentationHint, WpTearingControlV1},
};

use crate::hostile::{Expect, Outcome};
use crate::{Globals, TestClient};

const TEARING_CONTROL_MANAGER: &str = "wp_tearing_control_manager_v1";
const TEARING_CONTROL_EXISTS: u32 = 0;

pub const CASES: &[(&str, Expect)] = &[(
    "hints-tearing-control-twice",
    Expect::Error(TEARING_CONTROL_MANAGER, &[TEARING_CONTROL_EXISTS]),
)];

/// The content type named `name`.
pub fn content_type(name: &str) -> Result<Type, String> {
    match name {
        "none" => Ok(Type::None),
        "photo" => Ok(Type::Photo),
        "video" => Ok(Type::Video),
        "game" => Ok(Type::Game),
        other => Err(format!("unknown content type {other}")),
    }
}

/// The presentation hint named `name`.
pub fn presentation_hint(name: &str) -> Result<PresentationHint, String> {
    match name {
        "vsync" => Ok(PresentationHint::Vsync),
        "async" => Ok(PresentationHint::Async),
        other => Err(format!("unknown presentation hint {other}")),
    }
}

impl TestClient {
    /// Gives `surface` a content type and a presentation hint, each if asked for (fails when
    /// the protocol is not offered).
    pub fn presentation_hints(
        &self,
        surface: &WlSurface,
        kind: Option<Type>,
        hint: Option<PresentationHint>,
    ) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        if let Some(kind) = kind {
            let (name, _) = self
                .globals
                .content_type_global
                .ok_or("wp_content_type_manager_v1 is not offered")?;
            let manager: WpContentTypeManagerV1 = registry.bind(name, 1, &qh, ());
            manager
                .get_surface_content_type(surface, &qh, ())
                .set_content_type(kind);
        }
        if let Some(hint) = hint {
            let (name, _) = self
                .globals
                .tearing_control_global
                .ok_or("wp_tearing_control_manager_v1 is not offered")?;
            let manager: WpTearingControlManagerV1 = registry.bind(name, 1, &qh, ());
            manager
                .get_tearing_control(surface, &qh, ())
                .set_presentation_hint(hint);
        }
        Ok(())
    }
}

wayland_client::delegate_noop!(Globals: ignore WpContentTypeManagerV1);
wayland_client::delegate_noop!(Globals: ignore WpContentTypeV1);
wayland_client::delegate_noop!(Globals: ignore WpTearingControlManagerV1);
wayland_client::delegate_noop!(Globals: ignore WpTearingControlV1);

struct Client;

impl Dispatch<WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(Client: ignore WlCompositor);
wayland_client::delegate_noop!(Client: ignore WlSurface);
wayland_client::delegate_noop!(Client: ignore WpTearingControlManagerV1);
wayland_client::delegate_noop!(Client: ignore WpTearingControlV1);

/// Runs one case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    if case != "hints-tearing-control-twice" {
        return Err(format!("unknown hints case {case}"));
    }
    let conn = Connection::connect_to_env().map_err(|e| format!("connect: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Client>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    let compositor: WlCompositor = globals
        .bind(&qh, 1..=4, ())
        .map_err(|_| "no wl_compositor".to_owned())?;
    let manager: WpTearingControlManagerV1 = globals
        .bind(&qh, 1..=1, ())
        .map_err(|_| format!("{TEARING_CONTROL_MANAGER} is not offered"))?;
    let surface = compositor.create_surface(&qh, ());
    let _first = manager.get_tearing_control(&surface, &qh, ());
    let _second = manager.get_tearing_control(&surface, &qh, ());
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if queue.roundtrip(&mut Client).is_err() {
            break;
        }
    }
    Ok(match conn.protocol_error() {
        Some(error) => Outcome::ProtocolError {
            interface: error.object_interface,
            code: error.code,
            message: error.message,
        },
        None => Outcome::NoError,
    })
}
