//! What the compositor asks of a window, whichever protocol made it (xdg-shell, or X11 through
//! Xwayland): the surface that shows it, who it is, how to close it, what lies under the
//! pointer, what to draw and whom to tell that a frame went out.
//!
//! The space holds smithay `Window`s of both kinds. A Wayland window answers through its
//! toplevel; an X11 window through the wl_surface the X11 window manager paired with it
//! (`shell::x11::wm`). The renderers (`render`, the TTY's `redraw`), input (`input`), IPC and
//! the VRAM report call these rather than smithay's per-window methods.

use std::time::Duration;

use smithay::backend::renderer::element::solid::SolidColorRenderElement;
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::{AsRenderElements, Kind};
use smithay::backend::renderer::{ImportAll, Renderer, Texture};
use smithay::desktop::space::SpaceElement;
use smithay::desktop::utils::{send_frames_surface_tree, under_from_surface_tree};
use smithay::desktop::{Space, Window, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Logical, Physical, Point, Scale};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::SurfaceCachedState;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;

use smithay::wayland::shell::wlr_layer::Layer;

use crate::protocols::input_method::InputPopupPlace;
use crate::protocols::session_lock::SessionLock;
use crate::shell::layer::{ABOVE_WINDOWS, BELOW_WINDOWS};
use crate::shell::x11::{X11Window, Xwayland};
use crate::state::State;

/// The X11 window behind `window`, if Xwayland made it.
pub fn x11_window<'a>(xwayland: Option<&'a Xwayland>, window: &Window) -> Option<&'a X11Window> {
    let id = window.x11_surface()?.window_id();
    xwayland?.windows.iter().find(|w| w.id == id)
}

/// The surface that shows `window`: its toplevel's, or for an X11 window the one Xwayland
/// made for it (none until it is paired).
pub fn main_surface(xwayland: Option<&Xwayland>, window: &Window) -> Option<WlSurface> {
    match window.toplevel() {
        Some(toplevel) => Some(toplevel.wl_surface().clone()),
        None => x11_window(xwayland, window)?.wl_surface.clone(),
    }
}

/// A window's identity as shown in tables and IPC replies.
pub struct WindowIdentity {
    /// The xdg app_id, or an X11 window's class (WM_CLASS).
    pub app_id: String,
    pub title: String,
    /// The client's pid: from the socket's credentials, or an X11 window's _NET_WM_PID.
    pub pid: Option<i32>,
    /// "xdg", "x11", or "x11-menu" for an X11 override-redirect window.
    pub shell: &'static str,
}

/// Who `window` is. An X11 element the window manager no longer knows is listed with an
/// empty class (it should not exist; listing it keeps such a leak visible).
pub fn identity(state: &State, window: &Window) -> WindowIdentity {
    if let Some(toplevel) = window.toplevel() {
        return xdg_identity(&state.display, toplevel.wl_surface());
    }
    let Some(x11) = x11_window(state.xwayland.as_ref(), window) else {
        return WindowIdentity {
            app_id: String::new(),
            title: String::new(),
            pid: None,
            shell: "x11",
        };
    };
    WindowIdentity {
        app_id: x11.class.clone(),
        title: x11.title.clone(),
        pid: x11.pid.and_then(|pid| i32::try_from(pid).ok()),
        shell: if x11.override_redirect {
            "x11-menu"
        } else {
            "x11"
        },
    }
}

/// `window`'s title and app id (an X11 window's class), as a window list shows them; `None`
/// for an X11 override-redirect window (a menu or tooltip), which window lists leave out.
pub fn title_and_app_id(state: &State, window: &Window) -> Option<(String, String)> {
    if let Some(toplevel) = window.toplevel() {
        let (app_id, title) = xdg_names(toplevel.wl_surface());
        return Some((title.unwrap_or_default(), app_id.unwrap_or_default()));
    }
    match x11_window(state.xwayland.as_ref(), window) {
        Some(x11) if x11.override_redirect => None,
        Some(x11) => Some((x11.title.clone(), x11.class.clone())),
        None => Some(Default::default()),
    }
}

/// An xdg toplevel's app id and title, as its client set them.
fn xdg_names(surface: &WlSurface) -> (Option<String>, Option<String>) {
    with_states(surface, |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|data| {
                data.lock()
                    .ok()
                    .map(|d| (d.app_id.clone(), d.title.clone()))
            })
            .unwrap_or_default()
    })
}

fn xdg_identity(display: &DisplayHandle, surface: &WlSurface) -> WindowIdentity {
    let (app_id, title) = xdg_names(surface);
    let pid = display
        .get_client(surface.id())
        .ok()
        .and_then(|client| client.get_credentials(display).ok())
        .map(|credentials| credentials.pid);
    WindowIdentity {
        app_id: app_id.unwrap_or_default(),
        title: title.unwrap_or_default(),
        pid,
        shell: "xdg",
    }
}

/// Asks `window` to close.
pub fn close(state: &State, window: &Window) {
    if let Some(toplevel) = window.toplevel() {
        toplevel.send_close();
        return;
    }
    let wm = state.xwayland.as_ref().and_then(|x| x.wm());
    if let (Some(wm), Some(x11)) = (wm, x11_window(state.xwayland.as_ref(), window)) {
        wm.close(x11);
    }
}

/// Where the space draws `window`'s surface tree from.
fn render_location(space: &Space<Window>, window: &Window) -> Option<Point<i32, Logical>> {
    Some(space.element_location(window)? - window.geometry().loc)
}

/// Moves `window` so that its top-left corner (of its window geometry: without client-side
/// shadows) lies at `location`; a window already shown keeps its place in the stack.
pub fn place(space: &mut Space<Window>, window: &Window, location: Point<i32, Logical>) {
    let above: Vec<Window> = space
        .elements()
        .skip_while(|w| *w != window)
        .skip(1)
        .cloned()
        .collect();
    space.map_element(window.clone(), location, false);
    for w in above {
        space.raise_element(&w, false);
    }
}

/// `window`'s surfaces committed new state: its bounds are measured again. A window without a
/// window geometry of its own has its bounds (subsurfaces included) as its geometry; when
/// a subsurface grows those bounds left or up, the window moves by as much in the space, so
/// that its surfaces stay where they are on screen. Its place in the stack does not change.
pub fn content_committed(space: &mut Space<Window>, window: &Window) {
    let before = window.geometry().loc;
    window.on_commit();
    let shift = window.geometry().loc - before;
    if shift.x == 0 && shift.y == 0 || window.toplevel().is_none() || has_own_geometry(window) {
        return;
    }
    if let Some(location) = space.element_location(window) {
        place(space, window, location + shift);
    }
}

/// Whether `window`'s client set its window geometry (xdg_surface.set_window_geometry).
fn has_own_geometry(window: &Window) -> bool {
    window.toplevel().is_some_and(|toplevel| {
        with_states(toplevel.wl_surface(), |states| {
            states
                .cached_state
                .get::<SurfaceCachedState>()
                .current()
                .geometry
                .is_some()
        })
    })
}

/// A surface and where its origin lies in the space.
pub type SurfaceAt = (WlSurface, Point<f64, Logical>);

/// The topmost window under `position`, and the surface there (with that surface's origin)
/// if the window's content covers the point.
pub fn under(state: &State, position: Point<f64, Logical>) -> Option<(Window, Option<SurfaceAt>)> {
    let mut windows: Vec<&Window> = state.space.elements().rev().collect();
    windows.sort_by_key(|w| std::cmp::Reverse(w.z_index()));
    for window in windows {
        let Some(origin) = render_location(&state.space, window) else {
            continue;
        };
        let local = position - origin.to_f64();
        let hit = match window.toplevel() {
            Some(_) if window.is_in_input_region(&local) => {
                window.surface_under(local, WindowSurfaceType::ALL)
            }
            Some(_) => continue,
            None => {
                let Some(surface) = main_surface(state.xwayland.as_ref(), window) else {
                    continue;
                };
                let hit = under_from_surface_tree(&surface, local, (0, 0), WindowSurfaceType::ALL);
                if hit.is_none() {
                    continue;
                }
                hit
            }
        };
        let hit = hit.map(|(surface, offset)| (surface, (offset + origin).to_f64()));
        return Some((window.clone(), hit));
    }
    None
}

smithay::backend::renderer::element::render_elements! {
    /// What an output shows of the desktop: clients' surfaces and the title bars drawn for them.
    pub DesktopElement<R> where R: ImportAll;
    Surface=WaylandSurfaceRenderElement<R>,
    TitleBar=SolidColorRenderElement,
}

/// What `output` shows of the space, topmost first: each window's elements at its place, and
/// its title bar if it has one.
pub fn render_elements<R>(
    space: &Space<Window>,
    xwayland: Option<&Xwayland>,
    lock: &SessionLock,
    input_popups: &[InputPopupPlace],
    renderer: &mut R,
    output: &Output,
) -> Vec<DesktopElement<R>>
where
    R: Renderer + ImportAll,
    R::TextureId: Clone + Texture + 'static,
{
    let surfaces = |elements: Vec<WaylandSurfaceRenderElement<R>>| {
        elements.into_iter().map(DesktopElement::Surface)
    };
    if lock.is_locked() {
        return surfaces(lock.elements(renderer, output)).collect();
    }
    let Some(output_area) = space.output_geometry(output) else {
        return Vec::new();
    };
    let scale = output.current_scale().fractional_scale();
    let mut windows: Vec<&Window> = space.elements().rev().collect();
    windows.sort_by_key(|w| std::cmp::Reverse(w.z_index()));
    // The input method's candidates go above everything, next to the field they belong to.
    let mut elements: Vec<DesktopElement<R>> = Vec::new();
    for (surface, place) in input_popups {
        let location = (*place - output_area.loc).to_physical_precise_round(scale);
        elements.extend(surfaces(render_elements_from_surface_tree(
            renderer,
            surface,
            location,
            scale,
            1.0,
            Kind::Unspecified,
        )));
    }
    elements.extend(surfaces(layer_elements(renderer, output, &ABOVE_WINDOWS)));
    for window in windows {
        let Some(bbox) = space.element_bbox(window) else {
            continue;
        };
        let Some(origin) = render_location(space, window) else {
            continue;
        };
        let bar = crate::shell::decorations::bar_area(space, window);
        if !output_area.overlaps(bbox) && !bar.is_some_and(|bar| output_area.overlaps(bar)) {
            continue;
        }
        let location = (origin - output_area.loc).to_physical_precise_round(scale);
        elements.extend(surfaces(window_elements(
            xwayland, window, renderer, location, scale,
        )));
        elements.extend(
            crate::shell::decorations::elements(space, window, output_area.loc, scale)
                .into_iter()
                .map(DesktopElement::TitleBar),
        );
    }
    elements.extend(surfaces(layer_elements(renderer, output, &BELOW_WINDOWS)));
    elements
}

/// `window`'s surfaces (an xdg window's popups included), topmost first, its surface origin
/// at `location` (physical), drawn at `scale`.
pub fn window_elements<R>(
    xwayland: Option<&Xwayland>,
    window: &Window,
    renderer: &mut R,
    location: Point<i32, Physical>,
    scale: f64,
) -> Vec<WaylandSurfaceRenderElement<R>>
where
    R: Renderer + ImportAll,
    R::TextureId: Clone + Texture + 'static,
{
    if window.toplevel().is_some() {
        AsRenderElements::<R>::render_elements::<WaylandSurfaceRenderElement<R>>(
            window,
            renderer,
            location,
            Scale::from(scale),
            1.0,
        )
    } else if let Some(surface) = main_surface(xwayland, window) {
        render_elements_from_surface_tree(
            renderer,
            &surface,
            location,
            scale,
            1.0,
            Kind::Unspecified,
        )
    } else {
        Vec::new()
    }
}

/// What `output` shows of its layer surfaces on `layers`, topmost first.
fn layer_elements<R>(
    renderer: &mut R,
    output: &Output,
    layers: &[Layer],
) -> Vec<WaylandSurfaceRenderElement<R>>
where
    R: Renderer + ImportAll,
    R::TextureId: Clone + Texture + 'static,
{
    let scale = output.current_scale().fractional_scale();
    let mut elements = Vec::new();
    for (surface, rectangle) in crate::shell::layer::placed(output, layers) {
        let location = rectangle.loc.to_physical_precise_round(scale);
        elements.extend(AsRenderElements::<R>::render_elements::<
            WaylandSurfaceRenderElement<R>,
        >(
            &surface, renderer, location, Scale::from(scale), 1.0
        ));
    }
    elements
}

/// Tells the clients of the windows and layer surfaces on `output` that a frame went out (and
/// their surfaces the output's scale: `protocols::fractional_scale`).
pub fn send_frames(state: &State, output: &Output) {
    crate::protocols::fractional_scale::tell_scales(state, output);
    let time = state.clock();
    if state.session_lock.is_locked() {
        // Only the locker is shown.
        for (on, surface) in state.session_lock.surfaces() {
            if on == output {
                send_frames_surface_tree(surface, output, time, Some(Duration::ZERO), |_, _| {
                    Some(output.clone())
                });
            }
        }
        return;
    }
    for popup in &state.input_method.popups {
        send_frames_surface_tree(
            &popup.surface,
            output,
            time,
            Some(Duration::ZERO),
            |_, _| Some(output.clone()),
        );
    }
    for layer in crate::shell::layer::all(output) {
        layer.send_frame(output, time, Some(Duration::ZERO), |_, _| {
            Some(output.clone())
        });
    }
    for window in state.space.elements_for_output(output) {
        if window.toplevel().is_some() {
            window.send_frame(output, time, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        } else if let Some(surface) = main_surface(state.xwayland.as_ref(), window) {
            send_frames_surface_tree(&surface, output, time, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        }
    }
}
