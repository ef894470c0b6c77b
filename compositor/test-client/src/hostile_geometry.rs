//! Hostile geometry: the integers a client sends for where and how big its surfaces are
//! (layer-shell margins, sizes, zones and anchors; xdg window geometry and positioners;
//! subsurface positions and buffer offsets; viewports; regions; damage), at their extremes.
//! Legal values must be survived (clamped by the compositor, never a panic or wrapped
//! geometry); forbidden ones get their protocol's error. `hostile::run` hands every case
//! named `geometry-*` to [`run`].

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_compositor::WlCompositor;
use wayland_client::protocol::wl_region::WlRegion;
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::protocol::wl_shm::{self, WlShm};
use wayland_client::protocol::wl_shm_pool::WlShmPool;
use wayland_client::protocol::wl_subcompositor::WlSubcompositor;
use wayland_client::protocol::wl_subsurface::WlSubsurface;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, Proxy, QueueHandle};
use wayland_protocols::wp::viewporter::client::wp_viewport::WpViewport;
use wayland_protocols::wp::viewporter::client::wp_viewporter::WpViewporter;
use wayland_protocols::xdg::shell::client::xdg_popup::XdgPopup;
use wayland_protocols::xdg::shell::client::xdg_positioner::{self, XdgPositioner};
use wayland_protocols::xdg::shell::client::xdg_surface::{self, XdgSurface};
use wayland_protocols::xdg::shell::client::xdg_toplevel::XdgToplevel;
use wayland_protocols::xdg::shell::client::xdg_wm_base::{self, XdgWmBase};
use wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::{
    Layer, ZwlrLayerShellV1,
};
use wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_surface_v1::{
    self, Anchor, ZwlrLayerSurfaceV1,
};

use crate::hostile::{Expect, Outcome};
use crate::Pixels;

const LAYER_SURFACE: &str = "zwlr_layer_surface_v1";
const POSITIONER: &str = "xdg_positioner";
const VIEWPORT: &str = "wp_viewport";

pub const CASES: &[(&str, Expect)] = &[
    ("geometry-layer-margins-extreme", Expect::Survive),
    ("geometry-layer-margins-minimum", Expect::Survive),
    ("geometry-layer-size-extreme", Expect::Survive),
    ("geometry-layer-zone-extreme", Expect::Survive),
    ("geometry-layer-zone-and-margins", Expect::Survive),
    // invalid_anchor
    (
        "geometry-layer-anchor-invalid",
        Expect::Error(LAYER_SURFACE, &[2]),
    ),
    // invalid_size: width 0 without left and right anchors
    (
        "geometry-layer-size-zero-unanchored",
        Expect::Error(LAYER_SURFACE, &[1]),
    ),
    ("geometry-window-geometry-extreme", Expect::Survive),
    ("geometry-positioner-extreme", Expect::Survive),
    // invalid_input
    (
        "geometry-positioner-negative-size",
        Expect::Error(POSITIONER, &[0]),
    ),
    ("geometry-subsurface-position-extreme", Expect::Survive),
    ("geometry-buffer-offset-extreme", Expect::Survive),
    ("geometry-viewport-destination-extreme", Expect::Survive),
    // bad_value
    (
        "geometry-viewport-source-negative",
        Expect::Error(VIEWPORT, &[0]),
    ),
    ("geometry-regions-extreme", Expect::Survive),
    // Found by the protocol fuzzer (smithay 0.7 panicked or hung on each): bad_surface
    (
        "geometry-subsurface-above-itself",
        Expect::Error("wl_subsurface", &[0]),
    ),
    (
        "geometry-subsurface-below-itself",
        Expect::Error("wl_subsurface", &[0]),
    ),
    // invalid_popup_parent
    (
        "geometry-popup-parent-is-itself",
        Expect::Error("xdg_wm_base", &[3]),
    ),
    (
        "geometry-popups-parents-of-each-other",
        Expect::Error("xdg_wm_base", &[3]),
    ),
    ("geometry-damage-extreme", Expect::Survive),
];

/// What the case's client has bound and what the compositor told it.
#[derive(Default)]
struct Geometry {
    compositor: Option<WlCompositor>,
    subcompositor: Option<WlSubcompositor>,
    shm: Option<WlShm>,
    wm_base: Option<XdgWmBase>,
    layer_shell: Option<ZwlrLayerShellV1>,
    viewporter: Option<WpViewporter>,
}

impl Dispatch<WlRegistry, ()> for Geometry {
    fn event(
        state: &mut Self,
        registry: &WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        else {
            return;
        };
        match interface.as_str() {
            "wl_compositor" => state.compositor = Some(registry.bind(name, version.min(5), qh, ())),
            "wl_subcompositor" => state.subcompositor = Some(registry.bind(name, 1, qh, ())),
            "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
            "xdg_wm_base" => state.wm_base = Some(registry.bind(name, version.min(3), qh, ())),
            "zwlr_layer_shell_v1" => {
                state.layer_shell = Some(registry.bind(name, version.min(4), qh, ()))
            }
            "wp_viewporter" => state.viewporter = Some(registry.bind(name, 1, qh, ())),
            _ => {}
        }
    }
}

impl Dispatch<XdgWmBase, ()> for Geometry {
    fn event(
        _: &mut Self,
        wm_base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for Geometry {
    fn event(
        _: &mut Self,
        surface: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
        }
    }
}

impl Dispatch<ZwlrLayerSurfaceV1, ()> for Geometry {
    fn event(
        _: &mut Self,
        surface: &ZwlrLayerSurfaceV1,
        event: zwlr_layer_surface_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwlr_layer_surface_v1::Event::Configure { serial, .. } = event {
            surface.ack_configure(serial);
        }
    }
}

delegate_noop!(Geometry: WlCompositor);
delegate_noop!(Geometry: WlSubcompositor);
delegate_noop!(Geometry: WlSubsurface);
delegate_noop!(Geometry: WlShmPool);
delegate_noop!(Geometry: WlRegion);
delegate_noop!(Geometry: XdgPositioner);
delegate_noop!(Geometry: WpViewporter);
delegate_noop!(Geometry: WpViewport);
delegate_noop!(Geometry: ZwlrLayerShellV1);
delegate_noop!(Geometry: ignore WlShm);
delegate_noop!(Geometry: ignore WlSurface);
delegate_noop!(Geometry: ignore WlBuffer);
delegate_noop!(Geometry: ignore XdgToplevel);
delegate_noop!(Geometry: ignore XdgPopup);

/// The case's connection, its queue and what it bound.
struct Session {
    conn: Connection,
    queue: EventQueue<Geometry>,
    state: Geometry,
    /// The pixels behind every buffer the case attaches (kept until the case ends).
    pixels: Vec<Pixels>,
}

impl Session {
    fn connect() -> Result<Session, String> {
        let conn = Connection::connect_to_env().map_err(|e| format!("connect: {e}"))?;
        let mut queue = conn.new_event_queue();
        let qh = queue.handle();
        conn.display().get_registry(&qh, ());
        let mut state = Geometry::default();
        queue
            .roundtrip(&mut state)
            .map_err(|e| format!("registry: {e}"))?;
        Ok(Session {
            conn,
            queue,
            state,
            pixels: Vec::new(),
        })
    }

    fn qh(&self) -> QueueHandle<Geometry> {
        self.queue.handle()
    }

    fn compositor(&self) -> Result<&WlCompositor, String> {
        self.state
            .compositor
            .as_ref()
            .ok_or("no wl_compositor".into())
    }

    fn wm_base(&self) -> Result<&XdgWmBase, String> {
        self.state.wm_base.as_ref().ok_or("no xdg_wm_base".into())
    }

    /// Roundtrips; an error ends them (the outcome reads it from the connection).
    fn settle(&mut self) {
        for _ in 0..3 {
            if self.queue.roundtrip(&mut self.state).is_err() {
                break;
            }
        }
    }

    /// A `width`x`height` ARGB shm buffer filled with one colour.
    fn buffer(&mut self, width: i32, height: i32) -> Result<WlBuffer, String> {
        let shm = self.state.shm.clone().ok_or("no wl_shm")?;
        let mut pixels = Pixels::new(width, height);
        pixels.fill((0, 0, width, height), 0xff20_a040);
        let qh = self.qh();
        let pool = shm.create_pool(pixels.fd(), pixels.len() as i32, &qh, ());
        let buffer = pool.create_buffer(
            0,
            width,
            height,
            width * 4,
            wl_shm::Format::Argb8888,
            &qh,
            (),
        );
        pool.destroy();
        self.pixels.push(pixels);
        Ok(buffer)
    }

    /// Commits `surface` once to get its first configure, then with a buffer, and lets the
    /// compositor lay it out and draw it.
    fn show(&mut self, surface: &WlSurface, size: (i32, i32)) -> Result<(), String> {
        surface.commit();
        self.settle();
        let buffer = self.buffer(size.0, size.1)?;
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, size.0, size.1);
        surface.commit();
        self.settle();
        // One more frame after the compositor drew the first.
        std::thread::sleep(std::time::Duration::from_millis(50));
        self.settle();
        Ok(())
    }

    /// A mapped xdg toplevel of `size`, with its xdg_surface.
    fn toplevel(&mut self, size: (i32, i32)) -> Result<(WlSurface, XdgSurface), String> {
        let qh = self.qh();
        let surface = self.compositor()?.create_surface(&qh, ());
        let xdg = self.wm_base()?.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg.get_toplevel(&qh, ());
        toplevel.set_title("hostile geometry".into());
        self.show(&surface, size)?;
        Ok((surface, xdg))
    }

    /// A layer surface on the top layer, set up by `configure` before its first commit.
    fn layer(&mut self, configure: impl FnOnce(&ZwlrLayerSurfaceV1)) -> Result<(), String> {
        let qh = self.qh();
        let surface = self.compositor()?.create_surface(&qh, ());
        let shell = self
            .state
            .layer_shell
            .clone()
            .ok_or("no zwlr_layer_shell_v1")?;
        let layer = shell.get_layer_surface(&surface, None, Layer::Top, "hostile".into(), &qh, ());
        configure(&layer);
        self.show(&surface, (32, 32))
    }

    fn outcome(&mut self) -> Outcome {
        self.settle();
        match self.conn.protocol_error() {
            Some(error) => Outcome::ProtocolError {
                interface: error.object_interface,
                code: error.code,
                message: error.message,
            },
            None => Outcome::NoError,
        }
    }
}

/// Runs one `geometry-*` case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    let mut session = Session::connect()?;
    let qh = session.qh();
    let all = Anchor::Top | Anchor::Bottom | Anchor::Left | Anchor::Right;
    match case {
        "geometry-layer-margins-extreme" => session.layer(|layer| {
            layer.set_anchor(all);
            layer.set_size(0, 0);
            layer.set_margin(i32::MAX, i32::MIN, i32::MAX, i32::MIN);
        })?,
        "geometry-layer-margins-minimum" => session.layer(|layer| {
            layer.set_anchor(Anchor::Top | Anchor::Left);
            layer.set_size(100, 100);
            layer.set_margin(i32::MIN, i32::MIN, i32::MIN, i32::MIN);
        })?,
        "geometry-layer-size-extreme" => session.layer(|layer| {
            layer.set_anchor(Anchor::Bottom | Anchor::Right);
            layer.set_size(u32::MAX, u32::MAX / 2 + 1);
            layer.set_margin(-1, i32::MAX, -1, i32::MAX);
        })?,
        "geometry-layer-zone-extreme" => session.layer(|layer| {
            layer.set_anchor(Anchor::Left | Anchor::Top | Anchor::Bottom);
            layer.set_size(u32::MAX, 0);
            layer.set_exclusive_zone(i32::MAX);
        })?,
        "geometry-layer-zone-and-margins" => session.layer(|layer| {
            layer.set_anchor(Anchor::Right);
            layer.set_size(50, 50);
            layer.set_exclusive_zone(i32::MAX);
            layer.set_margin(i32::MIN, i32::MAX, i32::MIN, i32::MAX);
        })?,
        "geometry-layer-anchor-invalid" => session.layer(|layer| {
            layer.set_anchor(Anchor::from_bits_retain(u32::MAX));
        })?,
        "geometry-layer-size-zero-unanchored" => session.layer(|layer| {
            layer.set_size(0, 10);
        })?,
        "geometry-window-geometry-extreme" => {
            let (surface, xdg) = session.toplevel((64, 64))?;
            xdg.set_window_geometry(i32::MIN, i32::MAX, i32::MAX, i32::MAX);
            surface.commit();
            session.settle();
            xdg.set_window_geometry(i32::MAX, i32::MIN, 1, 1);
            surface.commit();
        }
        "geometry-positioner-extreme" | "geometry-positioner-negative-size" => {
            let (_, parent) = session.toplevel((64, 64))?;
            let positioner = session.wm_base()?.create_positioner(&qh, ());
            if case == "geometry-positioner-negative-size" {
                positioner.set_size(-1, -1);
            } else {
                positioner.set_size(i32::MAX, i32::MAX);
            }
            positioner.set_anchor_rect(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
            positioner.set_offset(i32::MAX, i32::MIN);
            positioner.set_anchor(xdg_positioner::Anchor::BottomRight);
            positioner.set_gravity(xdg_positioner::Gravity::TopLeft);
            positioner.set_constraint_adjustment(xdg_positioner::ConstraintAdjustment::all());
            let surface = session.compositor()?.create_surface(&qh, ());
            let xdg = session.wm_base()?.get_xdg_surface(&surface, &qh, ());
            let popup = xdg.get_popup(Some(&parent), &positioner, &qh, ());
            session.show(&surface, (16, 16))?;
            if popup.version() >= 3 {
                positioner.set_offset(i32::MIN, i32::MAX);
                popup.reposition(&positioner, 1);
                surface.commit();
            }
        }
        "geometry-subsurface-position-extreme" | "geometry-buffer-offset-extreme" => {
            let (parent, _) = session.toplevel((64, 64))?;
            let child = session.compositor()?.create_surface(&qh, ());
            let subcompositor = session
                .state
                .subcompositor
                .clone()
                .ok_or("no wl_subcompositor")?;
            let subsurface = subcompositor.get_subsurface(&child, &parent, &qh, ());
            subsurface.set_desync();
            let buffer = session.buffer(16, 16)?;
            child.attach(Some(&buffer), 0, 0);
            if case == "geometry-subsurface-position-extreme" {
                subsurface.set_position(i32::MAX, i32::MIN);
            } else if child.version() >= 5 {
                child.offset(i32::MAX, i32::MIN);
            }
            child.commit();
            parent.commit();
            session.settle();
            if case == "geometry-buffer-offset-extreme" && child.version() >= 5 {
                child.offset(i32::MAX, i32::MAX);
                child.commit();
            }
            subsurface.set_position(i32::MIN, i32::MAX);
            parent.commit();
        }
        "geometry-subsurface-above-itself" | "geometry-subsurface-below-itself" => {
            let compositor = session.compositor()?.clone();
            let (child, parent) = (
                compositor.create_surface(&qh, ()),
                compositor.create_surface(&qh, ()),
            );
            let subcompositor = session
                .state
                .subcompositor
                .clone()
                .ok_or("no wl_subcompositor")?;
            let subsurface = subcompositor.get_subsurface(&child, &parent, &qh, ());
            if case == "geometry-subsurface-above-itself" {
                subsurface.place_above(&child);
            } else {
                subsurface.place_below(&child);
            }
            parent.commit();
        }
        "geometry-popup-parent-is-itself" => {
            let surface = session.compositor()?.create_surface(&qh, ());
            let xdg = session.wm_base()?.get_xdg_surface(&surface, &qh, ());
            let positioner = session.wm_base()?.create_positioner(&qh, ());
            positioner.set_size(10, 10);
            positioner.set_anchor_rect(0, 0, 1, 1);
            let _popup = xdg.get_popup(Some(&xdg), &positioner, &qh, ());
            surface.commit();
        }
        "geometry-popups-parents-of-each-other" => {
            let compositor = session.compositor()?.clone();
            let (first, second) = (
                compositor.create_surface(&qh, ()),
                compositor.create_surface(&qh, ()),
            );
            let first_xdg = session.wm_base()?.get_xdg_surface(&first, &qh, ());
            let second_xdg = session.wm_base()?.get_xdg_surface(&second, &qh, ());
            let positioner = session.wm_base()?.create_positioner(&qh, ());
            positioner.set_size(10, 10);
            positioner.set_anchor_rect(0, 0, 1, 1);
            let _first_popup = first_xdg.get_popup(Some(&second_xdg), &positioner, &qh, ());
            let _second_popup = second_xdg.get_popup(Some(&first_xdg), &positioner, &qh, ());
            first.commit();
            second.commit();
        }
        "geometry-viewport-destination-extreme" | "geometry-viewport-source-negative" => {
            let (surface, _) = session.toplevel((64, 64))?;
            let viewporter = session.state.viewporter.clone().ok_or("no wp_viewporter")?;
            let viewport = viewporter.get_viewport(&surface, &qh, ());
            if case == "geometry-viewport-source-negative" {
                viewport.set_source(-1.0, 0.0, 10.0, 10.0);
            } else {
                viewport.set_destination(i32::MAX, i32::MAX);
            }
            surface.commit();
        }
        "geometry-regions-extreme" => {
            let (surface, _) = session.toplevel((64, 64))?;
            let compositor = session.compositor()?.clone();
            let region = compositor.create_region(&qh, ());
            region.add(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
            region.add(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
            region.subtract(-1, -1, i32::MIN, i32::MIN);
            surface.set_input_region(Some(&region));
            surface.set_opaque_region(Some(&region));
            surface.commit();
        }
        "geometry-damage-extreme" => {
            let (surface, _) = session.toplevel((64, 64))?;
            let buffer = session.buffer(64, 64)?;
            surface.attach(Some(&buffer), 0, 0);
            surface.damage(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
            surface.damage_buffer(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
            surface.damage_buffer(-1, -1, i32::MIN, i32::MIN);
            surface.commit();
        }
        other => return Err(format!("unknown case {other}")),
    }
    session.settle();
    std::thread::sleep(std::time::Duration::from_millis(50));
    Ok(session.outcome())
}
