//! What an X11 window asks of the window manager about its place: a ConfigureRequest moves and
//! sizes a managed window where its program says (games, Java and Electron programs place
//! their own windows; a maximized or fullscreen one stays as it is and its program is told so
//! with a synthetic ConfigureNotify), and _NET_WM_STATE messages maximize it (the output less the layer
//! surfaces' exclusive zones), make it fullscreen (the whole output) or restore it where it
//! was. The window's _NET_WM_STATE property says what it is; taskbars see it too
//! (`protocols::foreign_toplevel_management`). A _NET_WM_MOVERESIZE message (a program that
//! draws its own title bar, on a button press) starts an interactive move or resize
//! (`shell::interactive`), which moves and sizes the window through [`Wm::place`].
//!
//! `wm::Wm::handle` passes these events here; the X server's ConfigureNotify that follows each
//! change moves the window's element in the space (`wm::Wm::show`).

use std::error::Error;

use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge;
use smithay::utils::{Logical, Point, Rectangle, Size};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConfigureNotifyEvent, ConfigureRequestEvent, ConfigureWindowAux,
    ConnectionExt as _, EventMask, PropMode, CONFIGURE_NOTIFY_EVENT,
};
use x11rb::wrapper::ConnectionExt as _;

use super::wm::{find_mut, Wm};
use crate::state::State;

/// _NET_WM_STATE's actions.
const REMOVE: u32 = 0;
const ADD: u32 = 1;
const TOGGLE: u32 = 2;

/// _NET_WM_MOVERESIZE's directions: the eight edges from the top-left corner clockwise, then
/// move; the keyboard-driven ones and CANCEL are not taken.
const MOVERESIZE_MOVE: u32 = 8;
const MOVERESIZE_EDGES: [ResizeEdge; 8] = [
    ResizeEdge::TopLeft,
    ResizeEdge::Top,
    ResizeEdge::TopRight,
    ResizeEdge::Right,
    ResizeEdge::BottomRight,
    ResizeEdge::Bottom,
    ResizeEdge::BottomLeft,
    ResizeEdge::Left,
];

/// Which of the states the window manager keeps a message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filling {
    Maximized,
    Fullscreen,
}

impl Wm {
    /// Tells X11 programs which _NET_WM_STATE values the window manager acts on.
    pub(super) fn announce_supported(&self) -> Result<(), Box<dyn Error>> {
        let atoms = &self.atoms;
        self.conn.change_property32(
            PropMode::REPLACE,
            self.root,
            atoms._NET_SUPPORTED,
            AtomEnum::ATOM,
            &[
                atoms._NET_WM_STATE,
                atoms._NET_WM_STATE_MAXIMIZED_VERT,
                atoms._NET_WM_STATE_MAXIMIZED_HORZ,
                atoms._NET_WM_STATE_FULLSCREEN,
                atoms._NET_ACTIVE_WINDOW,
                atoms._NET_WM_MOVERESIZE,
            ],
        )?;
        Ok(())
    }

    /// A program asks to move or size its window. A shown toplevel that is maximized or
    /// fullscreen keeps the output's area; any other window gets what it asked for.
    pub(super) fn configure_request(
        &self,
        state: &mut State,
        e: &ConfigureRequestEvent,
    ) -> Result<(), Box<dyn Error>> {
        let filling = find_mut(state, e.window)
            .filter(|w| w.element.is_some() && (w.maximized || w.fullscreen))
            .map(|w| w.geometry);
        if let Some(geometry) = filling {
            // Refused: the program is told where its window stays with a synthetic
            // ConfigureNotify (ICCCM 4.1.5), as it would wait for one otherwise.
            let notify = ConfigureNotifyEvent {
                response_type: CONFIGURE_NOTIFY_EVENT,
                sequence: 0,
                event: e.window,
                window: e.window,
                above_sibling: x11rb::NONE,
                x: geometry.loc.x.clamp(i16::MIN.into(), i16::MAX.into()) as i16,
                y: geometry.loc.y.clamp(i16::MIN.into(), i16::MAX.into()) as i16,
                width: geometry.size.w.clamp(1, u16::MAX.into()) as u16,
                height: geometry.size.h.clamp(1, u16::MAX.into()) as u16,
                border_width: 0,
                override_redirect: false,
            };
            self.conn
                .send_event(false, e.window, EventMask::STRUCTURE_NOTIFY, notify)?;
            self.conn.flush()?;
            return Ok(());
        }
        // Stacking follows the compositor's focus, not the program's wish.
        let aux = ConfigureWindowAux::from_configure_request(e)
            .sibling(None)
            .stack_mode(None);
        self.conn.configure_window(e.window, &aux)?;
        Ok(())
    }

    /// Moves X11 window `id` to `at` and sizes it to `size` (each if given).
    pub fn place(
        &self,
        id: u32,
        at: Option<Point<i32, Logical>>,
        size: Option<Size<i32, Logical>>,
    ) {
        let mut aux = ConfigureWindowAux::new();
        if let Some(at) = at {
            aux = aux.x(at.x).y(at.y);
        }
        if let Some(size) = size {
            aux = aux.width(size.w.max(1) as u32).height(size.h.max(1) as u32);
        }
        let result = self
            .conn
            .configure_window(id, &aux)
            .map(|_| self.conn.flush());
        if let Err(err) = result {
            tracing::debug!(window = id, %err, "placing an X11 window");
        }
    }

    /// A _NET_WM_MOVERESIZE message: the program's window follows the pointer while the button
    /// that pressed its title bar or border is down.
    pub(super) fn move_resize_message(&self, state: &mut State, e: &ClientMessageEvent) {
        let [_, _, direction, _, _] = e.data.as_data32();
        let Some(window) = find_mut(state, e.window) else {
            return;
        };
        if window.override_redirect || window.maximized || window.fullscreen {
            return;
        }
        let Some(element) = window.element.clone() else {
            return;
        };
        let surface = window.wl_surface.clone();
        let edges = match direction {
            MOVERESIZE_MOVE => None,
            edge => match MOVERESIZE_EDGES.get(edge as usize) {
                Some(edges) => Some(*edges),
                // The keyboard-driven kinds, and CANCEL: a drag ends when its button is let go.
                None => return,
            },
        };
        let Some(surface) = surface else {
            return;
        };
        tracing::debug!(
            window = e.window,
            direction,
            "X11 window moved or resized by its program"
        );
        crate::shell::interactive::start_held(state, element, Some(&surface), edges);
    }

    /// A _NET_WM_STATE message: maximize, fullscreen or restore. Other states are left alone.
    pub(super) fn state_message(
        &self,
        state: &mut State,
        e: &ClientMessageEvent,
    ) -> Result<(), Box<dyn Error>> {
        let [action, first, second, ..] = e.data.as_data32();
        let atoms = &self.atoms;
        let named = |atom: u32| {
            if atom == atoms._NET_WM_STATE_MAXIMIZED_VERT
                || atom == atoms._NET_WM_STATE_MAXIMIZED_HORZ
            {
                Some(Filling::Maximized)
            } else if atom == atoms._NET_WM_STATE_FULLSCREEN {
                Some(Filling::Fullscreen)
            } else {
                None
            }
        };
        let mut asked: Vec<Filling> = [first, second].into_iter().filter_map(named).collect();
        asked.dedup();
        for filling in asked {
            let Some(window) = find_mut(state, e.window) else {
                return Ok(());
            };
            if window.override_redirect {
                return Ok(());
            }
            let now = match filling {
                Filling::Maximized => window.maximized,
                Filling::Fullscreen => window.fullscreen,
            };
            let wanted = match action {
                REMOVE => false,
                ADD => true,
                TOGGLE => !now,
                _ => return Ok(()),
            };
            if wanted != now {
                self.set_filling(state, e.window, filling, wanted)?;
            }
        }
        Ok(())
    }

    /// Gives window `id` the `filling` state (or takes it away) and the area that goes with
    /// what it is left with.
    fn set_filling(
        &self,
        state: &mut State,
        id: u32,
        filling: Filling,
        on: bool,
    ) -> Result<(), Box<dyn Error>> {
        let Some(window) = find_mut(state, id) else {
            return Ok(());
        };
        if on && !window.maximized && !window.fullscreen {
            window.restore = Some(window.geometry);
        }
        match filling {
            Filling::Maximized => window.maximized = on,
            Filling::Fullscreen => window.fullscreen = on,
        }
        let (maximized, fullscreen, restore) =
            (window.maximized, window.fullscreen, window.restore);
        let element = window.element.clone();
        let target: Option<Rectangle<i32, Logical>> = if fullscreen || maximized {
            element.as_ref().and_then(|element| {
                let output = crate::shell::toplevel_states::output_of(state, element)?;
                crate::shell::toplevel_states::area(state, &output, !fullscreen)
            })
        } else {
            restore
        };
        if !maximized && !fullscreen {
            if let Some(window) = find_mut(state, id) {
                window.restore = None;
            }
        }
        if let Some(target) = target {
            self.conn.configure_window(
                id,
                &ConfigureWindowAux::new()
                    .x(target.loc.x)
                    .y(target.loc.y)
                    .width(target.size.w.max(1) as u32)
                    .height(target.size.h.max(1) as u32),
            )?;
        }
        let atoms = &self.atoms;
        let mut states = Vec::new();
        if maximized {
            states.extend([
                atoms._NET_WM_STATE_MAXIMIZED_VERT,
                atoms._NET_WM_STATE_MAXIMIZED_HORZ,
            ]);
        }
        if fullscreen {
            states.push(atoms._NET_WM_STATE_FULLSCREEN);
        }
        self.conn.change_property32(
            PropMode::REPLACE,
            id,
            atoms._NET_WM_STATE,
            AtomEnum::ATOM,
            &states,
        )?;
        self.conn.flush()?;
        tracing::info!(
            window = id,
            maximized,
            fullscreen,
            ?target,
            "X11 window state"
        );
        state.request_redraw();
        Ok(())
    }
}
