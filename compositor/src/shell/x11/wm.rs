//! The X11 window manager: the compositor's connection to Xwayland's `-wm` socket. It places
//! X11 toplevels like Wayland windows (and where they ask to be: `requests`), shows override-redirect windows (menus, tooltips) where
//! their program puts them, keeps each window's title, class and pid, focuses, raises and
//! closes them, and learns which wl_surface shows each window (the `WL_SURFACE_ID` message,
//! which Xwayland 22 sends and smithay 0.7 leaves to the compositor; `shell::x11::pair_surfaces`
//! completes the pairing).
//!
//! `shell::x11::start_wm` creates the [`Wm`] once Xwayland is ready; its event source calls
//! [`process_events`]. Every X11 window Xwayland reports is an [`X11Window`] in
//! `Xwayland::windows`; a shown one is also in the space as a smithay `Window` wrapping an
//! `X11Surface`, which gives it a place, a size and a stacking order there. Drawing and input
//! go through its paired wl_surface (`crate::shell::window`).

use std::error::Error;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use smithay::desktop::Window;
use smithay::reexports::calloop::channel;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle};
use smithay::xwayland::xwm::Atoms;
use smithay::xwayland::X11Surface;
use x11rb::connection::Connection;
use x11rb::protocol::composite::{ConnectionExt as _, Redirect};
use x11rb::protocol::xproto::{
    AtomEnum, ChangeWindowAttributesAux, ClientMessageEvent, ConfigureWindowAux,
    ConnectionExt as _, CreateWindowAux, EventMask, InputFocus, PropMode, StackMode, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::{DefaultStream, RustConnection};
use x11rb::wrapper::ConnectionExt as _;
use x11rb::CURRENT_TIME;

use super::queries::{Answer, Queries, Question};
use super::selection::{SelectionBridge, ToBridge};
use crate::state::State;

/// X11's WM_STATE values.
const WM_STATE_WITHDRAWN: u32 = 0;
const WM_STATE_NORMAL: u32 = 1;

/// The window manager's connection to one Xwayland.
pub struct Wm {
    pub(super) conn: Arc<RustConnection>,
    pub(super) atoms: Atoms,
    pub(super) root: u32,
    wm_window: u32,
    /// Asks what needs the X server's reply, off the event loop.
    queries: Queries,
    /// The clipboard and primary selection between X11 and Wayland.
    pub(super) selection: SelectionBridge,
}

/// An X11 window Xwayland told the window manager about.
#[derive(Debug, Clone)]
pub struct X11Window {
    pub id: u32,
    /// Menus, tooltips and the like: placed by their program, never managed or focused.
    pub override_redirect: bool,
    /// Where the window is, in root coordinates (the space's).
    pub geometry: Rectangle<i32, Logical>,
    /// The space element while the window is shown.
    pub element: Option<Window>,
    /// The wl_surface id Xwayland named for it, and the surface once found.
    pub wl_surface_id: Option<u32>,
    pub wl_surface: Option<WlSurface>,
    pub title: String,
    pub class: String,
    pub pid: Option<u32>,
    /// It takes WM_DELETE_WINDOW; otherwise closing it disconnects its client.
    pub deletable: bool,
    /// Maximized or fullscreen at its own request (_NET_WM_STATE; `requests`), and where it
    /// was before.
    pub maximized: bool,
    pub fullscreen: bool,
    pub restore: Option<Rectangle<i32, Logical>>,
}

impl Wm {
    /// Connects over Xwayland's `-wm` socket, becomes its window manager and watches its
    /// events.
    pub fn start(state: &mut State, socket: UnixStream) -> Result<Arc<Wm>, Box<dyn Error>> {
        let watched: OwnedFd = socket.try_clone()?.into();
        let (stream, _) = DefaultStream::from_unix_stream(socket)?;
        let conn = RustConnection::connect_to_stream(stream, 0)?;
        let atoms = Atoms::new(&conn)?.reply()?;
        let root = conn.setup().roots[0].root;
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(
                EventMask::SUBSTRUCTURE_REDIRECT
                    | EventMask::SUBSTRUCTURE_NOTIFY
                    | EventMask::PROPERTY_CHANGE,
            ),
        )?
        .check()?;
        // Xwayland gives a window its own wl_surface only when it is redirected.
        conn.composite_redirect_subwindows(root, Redirect::MANUAL)?;
        let wm_window = conn.generate_id()?;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            wm_window,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new(),
        )?;
        for window in [root, wm_window] {
            conn.change_property32(
                PropMode::REPLACE,
                window,
                atoms._NET_SUPPORTING_WM_CHECK,
                AtomEnum::WINDOW,
                &[wm_window],
            )?;
        }
        conn.change_property8(
            PropMode::REPLACE,
            wm_window,
            atoms._NET_WM_NAME,
            atoms.UTF8_STRING,
            b"tandem",
        )?;
        conn.set_selection_owner(wm_window, atoms.WM_S0, CURRENT_TIME)?;
        conn.flush()?;
        let conn = Arc::new(conn);
        let (queries, answers) = Queries::start(conn.clone(), atoms, wm_window)?;
        let (selection, from_bridge) = SelectionBridge::start(conn.clone(), atoms, wm_window)?;
        let wm = Arc::new(Wm {
            conn,
            atoms,
            root,
            wm_window,
            queries,
            selection,
        });
        wm.announce_supported()?;
        state
            .display_loop_handle()
            .insert_source(answers, |event, _, state: &mut State| {
                if let channel::Event::Msg(answer) = event {
                    answered(state, answer);
                }
                // The asking thread may have read events off the connection while it waited.
                process_events(state);
            })?;
        state
            .display_loop_handle()
            .insert_source(from_bridge, |event, _, state: &mut State| {
                if let channel::Event::Msg(message) = event {
                    crate::shell::x11::clipboard::from_bridge(state, message);
                }
                process_events(state);
            })?;
        state.display_loop_handle().insert_source(
            Generic::new(watched, Interest::READ, Mode::Level),
            |_, _, state: &mut State| {
                Ok(match process_events(state) {
                    true => PostAction::Continue,
                    false => PostAction::Remove,
                })
            },
        )?;
        Ok(wm)
    }

    /// Gives X11 window `id` the keyboard (as X11 sees it) and raises it among X11 windows.
    pub fn focus(&self, id: u32) {
        let result = self
            .conn
            .set_input_focus(InputFocus::POINTER_ROOT, id, CURRENT_TIME)
            .and_then(|_| {
                self.conn.change_property32(
                    PropMode::REPLACE,
                    self.root,
                    self.atoms._NET_ACTIVE_WINDOW,
                    AtomEnum::WINDOW,
                    &[id],
                )
            })
            .and_then(|_| {
                self.conn
                    .configure_window(id, &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE))
            });
        if let Err(err) = result.map(|_| self.conn.flush()) {
            tracing::debug!(window = id, %err, "focusing an X11 window");
        }
    }

    /// Asks `window` to close (WM_DELETE_WINDOW), or disconnects its client if it does not
    /// take that.
    pub fn close(&self, window: &X11Window) {
        let result = if window.deletable {
            let event = ClientMessageEvent::new(
                32,
                window.id,
                self.atoms.WM_PROTOCOLS,
                [self.atoms.WM_DELETE_WINDOW, CURRENT_TIME, 0, 0, 0],
            );
            self.conn
                .send_event(false, window.id, EventMask::NO_EVENT, event)
                .map(drop)
        } else {
            self.conn.kill_client(window.id).map(drop)
        };
        if let Err(err) = result.map(|_| self.conn.flush()) {
            tracing::debug!(window = window.id, %err, "closing an X11 window");
        }
    }

    fn handle(&self, state: &mut State, event: Event) -> Result<(), Box<dyn Error>> {
        if self.selection.wants(&event) {
            self.selection.send(ToBridge::Event(event));
            return Ok(());
        }
        match event {
            Event::CreateNotify(e) if e.parent == self.root && e.window != self.wm_window => {
                self.conn.change_window_attributes(
                    e.window,
                    &ChangeWindowAttributesAux::new().event_mask(EventMask::PROPERTY_CHANGE),
                )?;
                let window = X11Window {
                    id: e.window,
                    override_redirect: e.override_redirect,
                    geometry: Rectangle::new(
                        (e.x as i32, e.y as i32).into(),
                        (e.width as i32, e.height as i32).into(),
                    ),
                    element: None,
                    wl_surface_id: None,
                    wl_surface: None,
                    title: String::new(),
                    class: String::new(),
                    pid: None,
                    deletable: false,
                    maximized: false,
                    fullscreen: false,
                    restore: None,
                };
                if let Some(xwayland) = state.xwayland.as_mut() {
                    xwayland.windows.push(window);
                }
            }
            Event::MapRequest(e) => {
                let location = state.next_location();
                self.read_properties(e.window);
                let Some(window) = find_mut(state, e.window) else {
                    self.conn.map_window(e.window)?;
                    return Ok(());
                };
                window.geometry.loc = location;
                let size = window.geometry.size;
                self.conn.configure_window(
                    e.window,
                    &ConfigureWindowAux::new()
                        .x(location.x)
                        .y(location.y)
                        .border_width(0),
                )?;
                self.conn.map_window(e.window)?;
                self.conn.change_property32(
                    PropMode::REPLACE,
                    e.window,
                    self.atoms.WM_STATE,
                    self.atoms.WM_STATE,
                    &[WM_STATE_NORMAL, 0],
                )?;
                tracing::info!(window = e.window, ?location, ?size, "new X11 window");
                self.show(state, e.window, true);
            }
            Event::MapNotify(e) => {
                let override_redirect =
                    find_mut(state, e.window).is_some_and(|w| w.override_redirect);
                if override_redirect || e.override_redirect {
                    self.read_properties(e.window);
                    self.show(state, e.window, false);
                }
            }
            Event::UnmapNotify(e) => {
                if let Some(window) = find_mut(state, e.window) {
                    window.wl_surface = None;
                    window.wl_surface_id = None;
                    let managed = !window.override_redirect;
                    hide(state, e.window);
                    if managed {
                        self.conn.change_property32(
                            PropMode::REPLACE,
                            e.window,
                            self.atoms.WM_STATE,
                            self.atoms.WM_STATE,
                            &[WM_STATE_WITHDRAWN, 0],
                        )?;
                    }
                }
            }
            Event::DestroyNotify(e) => {
                hide(state, e.window);
                if let Some(xwayland) = state.xwayland.as_mut() {
                    xwayland.windows.retain(|w| w.id != e.window);
                }
            }
            Event::ConfigureRequest(e) => self.configure_request(state, &e)?,
            Event::ConfigureNotify(e) => {
                let geometry = Rectangle::new(
                    (e.x as i32, e.y as i32).into(),
                    (e.width as i32, e.height as i32).into(),
                );
                let Some(window) = find_mut(state, e.window) else {
                    return Ok(());
                };
                let changed = window.geometry != geometry;
                window.geometry = geometry;
                if changed && window.element.is_some() {
                    self.show(state, e.window, false);
                }
            }
            Event::PropertyNotify(e) => {
                let watched = [
                    AtomEnum::WM_NAME.into(),
                    AtomEnum::WM_CLASS.into(),
                    self.atoms._NET_WM_NAME,
                    self.atoms._NET_WM_PID,
                    self.atoms.WM_PROTOCOLS,
                ];
                if watched.contains(&e.atom) {
                    self.read_properties(e.window);
                }
            }
            Event::ClientMessage(e) if e.type_ == self.atoms._NET_WM_STATE => {
                self.state_message(state, &e)?;
            }
            Event::ClientMessage(e) if e.type_ == self.atoms._NET_WM_MOVERESIZE => {
                self.move_resize_message(state, &e);
            }
            Event::ClientMessage(e) if e.type_ == self.atoms.WL_SURFACE_ID => {
                let surface_id = e.data.as_data32()[0];
                if let Some(window) = find_mut(state, e.window) {
                    window.wl_surface_id = Some(surface_id);
                    window.wl_surface = None;
                }
                crate::shell::x11::pair_surfaces(state);
            }
            _ => {}
        }
        Ok(())
    }

    /// Puts X11 window `id` into the space at its geometry, or moves it there; a `new` toplevel
    /// takes the keyboard once it shows something, as Wayland windows do.
    fn show(&self, state: &mut State, id: u32, new: bool) {
        let Some(window) = find_mut(state, id) else {
            return;
        };
        let surface = X11Surface::new(
            None,
            id,
            window.override_redirect,
            Arc::downgrade(&self.conn),
            self.atoms,
            window.geometry,
        );
        let element = Window::new_x11_window(surface);
        if window.override_redirect {
            // Menus and tooltips stay above every toplevel, raised or not.
            element.override_z_index(smithay::desktop::space::RenderZindex::Shell as u8 + 5);
        }
        let location = window.geometry.loc;
        let managed = !window.override_redirect;
        let replaced = window.element.replace(element.clone());
        if let Some(old) = replaced {
            state.space.unmap_elem(&old);
        }
        state.space.map_element(element.clone(), location, false);
        if managed && new {
            state.await_first_buffer(element);
        }
        state.request_redraw();
    }

    /// Asks for the title, class, pid and protocols of X11 window `id` (answered later, in
    /// [`answered`]).
    fn read_properties(&self, id: u32) {
        self.queries.ask(Question::Properties(id));
    }

    /// Asks how many X11 clients Xwayland serves besides the window manager (answered later,
    /// in `shell::x11::other_clients_counted`).
    pub fn count_other_clients(&self) {
        self.queries.ask(Question::OtherClients);
    }
}

/// The X server answered a question of the window manager's.
fn answered(state: &mut State, answer: Answer) {
    match answer {
        Answer::Properties(id, properties) => {
            if let Some(window) = find_mut(state, id) {
                window.title = properties.title;
                window.class = properties.class;
                window.pid = properties.pid;
                window.deletable = properties.deletable;
            }
        }
        Answer::OtherClients(clients) => crate::shell::x11::other_clients_counted(state, clients),
    }
}

pub(super) fn find_mut(state: &mut State, id: u32) -> Option<&mut X11Window> {
    state
        .xwayland
        .as_mut()?
        .windows
        .iter_mut()
        .find(|w| w.id == id)
}

/// Takes X11 window `id` out of the space, and hands the keyboard on if it had it.
fn hide(state: &mut State, id: u32) {
    let Some(window) = find_mut(state, id) else {
        return;
    };
    let Some(element) = window.element.take() else {
        return;
    };
    let surface = window.wl_surface.clone();
    let managed = !window.override_redirect;
    unmap_element(state, &element, surface.as_ref(), managed);
}

/// Takes a window of an Xwayland that is gone out of the space.
pub fn unmap_from_space(state: &mut State, window: &X11Window) {
    if let Some(element) = &window.element {
        unmap_element(
            state,
            element,
            window.wl_surface.as_ref(),
            !window.override_redirect,
        );
    }
}

fn unmap_element(state: &mut State, element: &Window, surface: Option<&WlSurface>, managed: bool) {
    state.space.unmap_elem(element);
    state.forget_new_window(element);
    let focused = state
        .seat
        .get_keyboard()
        .and_then(|k| k.current_focus())
        .is_some_and(|f| Some(&f) == surface);
    if managed && (focused || surface.is_none()) {
        state.focus_topmost();
    }
    state.request_redraw();
}

/// Drains the X11 events waiting on the window manager's connection; false once the
/// connection is gone.
pub fn process_events(state: &mut State) -> bool {
    let Some(wm) = state.xwayland.as_ref().and_then(|x| x.wm()) else {
        return false;
    };
    loop {
        match wm.conn.poll_for_event() {
            Ok(Some(event)) => {
                if let Err(err) = wm.handle(state, event) {
                    tracing::debug!(%err, "X11 event");
                }
            }
            Ok(None) => break,
            Err(err) => {
                tracing::info!(%err, "X11 window manager connection closed");
                return false;
            }
        }
    }
    if let Err(err) = wm.conn.flush() {
        tracing::info!(%err, "X11 window manager connection closed");
        return false;
    }
    true
}
