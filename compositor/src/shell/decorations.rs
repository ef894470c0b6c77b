//! Server-side title bars (xdg-decoration): a window whose client asks for server-side
//! decorations (mpv, SDL and GLFW programs, foot, Qt programs), or names no preference, gets a
//! bar above it with a close button and a maximize button at its right end. A click or a tap on
//! close asks the client to close; on maximize it maximizes or restores the window; a drag on
//! the rest of the bar moves the window. The bar is drawn through the output's renderer, on
//! whichever GPU shows the window, as three solid rectangles; it shows no title text.
//!
//! smithay keeps the protocol's objects; [`XdgDecorationHandler`] here picks the mode.
//! `shell::window::render_elements` draws each window's bar with [`elements`]; the input
//! handlers ask [`hit`] before a press or a touch reaches a surface; `shell::toplevel_states`
//! keeps a maximized window's bar on the output ([`below_title_bar`]). A window's three
//! buffers live in its user data.

use std::cell::RefCell;

use smithay::backend::renderer::element::solid::{SolidColorBuffer, SolidColorRenderElement};
use smithay::backend::renderer::element::Kind;
use smithay::desktop::space::SpaceElement;
use smithay::desktop::{Space, Window};
use smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as XdgState;
use smithay::utils::{Logical, Physical, Point, Rectangle};
use smithay::wayland::shell::xdg::decoration::XdgDecorationHandler;
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::state::State;

/// The bar's height, in logical pixels.
pub const TITLE_BAR_HEIGHT: i32 = 28;
/// The buttons' side, and the space around them.
const BUTTON: i32 = 20;
const MARGIN: i32 = 4;

const BAR_FOCUSED: [f32; 4] = opaque(56, 61, 77);
const BAR_UNFOCUSED: [f32; 4] = opaque(41, 43, 51);
const CLOSE: [f32; 4] = opaque(204, 64, 56);
const MAXIMIZE: [f32; 4] = opaque(115, 128, 148);

/// An opaque colour from its 8-bit channels.
const fn opaque(r: u8, g: u8, b: u8) -> [f32; 4] {
    [r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, 1.0]
}

/// What of a bar a point is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Close,
    Maximize,
    Bar,
}

/// A window's bar, as buffers the damage tracker follows.
struct TitleBar {
    bar: SolidColorBuffer,
    close: SolidColorBuffer,
    maximize: SolidColorBuffer,
}

/// Whether `window` shows a title bar: a toplevel in server-side mode that is not fullscreen.
pub fn has_title_bar(window: &Window) -> bool {
    let Some(toplevel) = window.toplevel() else {
        return false;
    };
    let current = toplevel.current_state();
    current.decoration_mode == Some(Mode::ServerSide)
        && !current.states.contains(XdgState::Fullscreen)
}

/// Where `window`'s bar is in the space: right above its geometry, as wide.
pub fn bar_area(space: &Space<Window>, window: &Window) -> Option<Rectangle<i32, Logical>> {
    if !has_title_bar(window) {
        return None;
    }
    let location = space.element_location(window)?;
    let width = window.geometry().size.w;
    if width <= 0 {
        return None;
    }
    Some(Rectangle::new(
        location - Point::from((0, TITLE_BAR_HEIGHT)),
        (width, TITLE_BAR_HEIGHT).into(),
    ))
}

/// The buttons of a bar at `bar`: close at the right end, maximize left of it.
fn buttons(bar: Rectangle<i32, Logical>) -> [(Part, Rectangle<i32, Logical>); 2] {
    let top = bar.loc.y + (TITLE_BAR_HEIGHT - BUTTON) / 2;
    let close_x = bar.loc.x + bar.size.w - MARGIN - BUTTON;
    let maximize_x = close_x - MARGIN - BUTTON;
    [
        (
            Part::Close,
            Rectangle::new((close_x, top).into(), (BUTTON, BUTTON).into()),
        ),
        (
            Part::Maximize,
            Rectangle::new((maximize_x, top).into(), (BUTTON, BUTTON).into()),
        ),
    ]
}

/// The window whose bar is at `position`, and what of it, if no window above covers it.
pub fn hit(state: &State, position: Point<f64, Logical>) -> Option<(Window, Part)> {
    let point = position.to_i32_floor();
    let mut windows: Vec<&Window> = state.space.elements().rev().collect();
    windows.sort_by_key(|w| std::cmp::Reverse(w.z_index()));
    for window in windows {
        if let Some(bar) = bar_area(&state.space, window) {
            if bar.contains(point) {
                let part = buttons(bar)
                    .into_iter()
                    .find(|(_, area)| area.contains(point))
                    .map_or(Part::Bar, |(part, _)| part);
                return Some((window.clone(), part));
            }
        }
        if state
            .space
            .element_bbox(window)
            .is_some_and(|bbox| bbox.contains(point))
        {
            return None;
        }
    }
    None
}

/// A press or tap on `part` of `window`'s bar: close or maximize act at once; a drag on the
/// bar itself moves the window (pointer only, `drag`).
pub fn pressed(state: &mut State, window: Window, part: Part, drag: bool) {
    let Some(toplevel) = window.toplevel().cloned() else {
        return;
    };
    match part {
        Part::Close => toplevel.send_close(),
        Part::Maximize => {
            let maximized = toplevel
                .current_state()
                .states
                .contains(XdgState::Maximized);
            if maximized {
                crate::shell::toplevel_states::restore(state, &toplevel, XdgState::Maximized);
            } else {
                crate::shell::toplevel_states::maximize(state, &toplevel);
            }
        }
        Part::Bar if drag => crate::shell::interactive::start_held(state, window, None, None),
        Part::Bar => {}
    }
}

/// `area` less a title bar's height at its top, for a maximized `window` that shows one.
pub fn below_title_bar(
    window: &Window,
    mut area: Rectangle<i32, Logical>,
) -> Rectangle<i32, Logical> {
    if has_title_bar(window) {
        area.loc.y += TITLE_BAR_HEIGHT;
        area.size.h = (area.size.h - TITLE_BAR_HEIGHT).max(1);
    }
    area
}

/// `window`'s bar on an output whose top-left corner is `output_origin`, topmost first.
pub fn elements(
    space: &Space<Window>,
    window: &Window,
    output_origin: Point<i32, Logical>,
    scale: f64,
) -> Vec<SolidColorRenderElement> {
    let Some(bar) = bar_area(space, window) else {
        return Vec::new();
    };
    // The compositor's own word on focus, whether or not the client committed since.
    let focused = window.toplevel().is_some_and(|t| {
        t.with_pending_state(|pending| pending.states.contains(XdgState::Activated))
    });
    let data = window.user_data();
    data.insert_if_missing(|| {
        RefCell::new(TitleBar {
            bar: SolidColorBuffer::default(),
            close: SolidColorBuffer::default(),
            maximize: SolidColorBuffer::default(),
        })
    });
    let Some(title_bar) = data.get::<RefCell<TitleBar>>() else {
        return Vec::new();
    };
    let mut title_bar = title_bar.borrow_mut();
    let [(_, close), (_, maximize)] = buttons(bar);
    let colour = if focused { BAR_FOCUSED } else { BAR_UNFOCUSED };
    let TitleBar {
        bar: bar_buffer,
        close: close_buffer,
        maximize: maximize_buffer,
    } = &mut *title_bar;
    let mut drawn = Vec::new();
    for (buffer, area, colour) in [
        (close_buffer, close, CLOSE),
        (maximize_buffer, maximize, MAXIMIZE),
        (bar_buffer, bar, colour),
    ] {
        buffer.update(area.size, colour);
        let at: Point<i32, Physical> = (area.loc - output_origin).to_physical_precise_round(scale);
        drawn.push(SolidColorRenderElement::from_buffer(
            buffer,
            at,
            scale,
            1.0,
            Kind::Unspecified,
        ));
    }
    drawn
}

/// How far [`make_room`] moved a window down for its bar.
struct MovedForBar(std::cell::Cell<i32>);

/// Moves a window that just got a bar down until its bar is on its output, or back up by as
/// much when it draws its own decorations after all.
fn make_room(state: &mut State, toplevel: &ToplevelSurface, mode: Mode) {
    let Some(window) = state.window_for(toplevel.wl_surface()) else {
        return;
    };
    window
        .user_data()
        .insert_if_missing(|| MovedForBar(std::cell::Cell::new(0)));
    let Some(MovedForBar(moved)) = window.user_data().get::<MovedForBar>() else {
        return;
    };
    if mode == Mode::ClientSide {
        let back = moved.replace(0);
        if let Some(location) = state.space.element_location(&window).filter(|_| back > 0) {
            let to = Point::from((location.x, location.y - back));
            state.space.map_element(window, to, false);
        }
        return;
    }
    let (Some(location), Some(output)) = (
        state.space.element_location(&window),
        crate::shell::toplevel_states::output_of(state, &window),
    ) else {
        return;
    };
    // Below the panels' exclusive zones, where a bar can be reached.
    let Some(top) = crate::shell::toplevel_states::area(state, &output, true).map(|a| a.loc.y)
    else {
        return;
    };
    if location.y - TITLE_BAR_HEIGHT < top {
        let to = Point::from((location.x, top + TITLE_BAR_HEIGHT));
        moved.set(moved.get() + to.y - location.y);
        state.space.map_element(window, to, false);
    }
}

fn set_mode(state: &mut State, toplevel: &ToplevelSurface, mode: Mode) {
    toplevel.with_pending_state(|pending| pending.decoration_mode = Some(mode));
    make_room(state, toplevel, mode);
    if toplevel.is_initial_configure_sent() {
        toplevel.send_pending_configure();
    }
    state.request_redraw();
}

impl XdgDecorationHandler for State {
    fn new_decoration(&mut self, toplevel: ToplevelSurface) {
        set_mode(self, &toplevel, Mode::ServerSide);
    }

    fn request_mode(&mut self, toplevel: ToplevelSurface, mode: Mode) {
        set_mode(self, &toplevel, mode);
    }

    fn unset_mode(&mut self, toplevel: ToplevelSurface) {
        set_mode(self, &toplevel, Mode::ServerSide);
    }
}

smithay::delegate_xdg_decoration!(State);
