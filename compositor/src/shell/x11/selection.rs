//! The clipboard and the primary selection between X11 and Wayland programs: text copied with
//! xclip (or in any X11 program) pastes into Wayland clients, and what a Wayland client copies
//! pastes into X11 programs, both for CLIPBOARD and for PRIMARY.
//!
//! X11 selections are asked for and answered with events, and both sides can take as long as
//! they like, so the bridge runs on its own thread ([`SelectionBridge`]), on the window
//! manager's connection, with a window of its own:
//! - A Wayland client sets a selection: `protocols::seat` calls [`wayland_selection`], the
//!   bridge takes ownership of the X11 selection and answers X11 programs' requests
//!   (`TARGETS`, then the data), reading the data from the Wayland client through a pipe that
//!   the event loop hands to smithay ([`FromBridge::ReadWayland`]).
//! - An X11 program takes a selection (XFixes tells the bridge): the bridge asks it for its
//!   `TARGETS` and the event loop sets a compositor-owned Wayland selection with those types
//!   ([`FromBridge::X11Offers`]). A Wayland client that pastes reaches `send_selection`, which
//!   calls [`paste_from_x11`]: the bridge converts the selection into its window's property
//!   (incrementally, `INCR`, for large data) and writes it to the client's pipe.
//!
//! `wm::Wm::start` starts the bridge and routes the selection events to it; `wm::Wm` owns it,
//! and the thread ends when the window manager's connection does. X11 programs may take the
//! clipboard without having the keyboard focus (xclip has no window), unlike Wayland clients.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay::reexports::calloop::channel::{self, Channel};
use smithay::wayland::selection::SelectionTarget;
use smithay::xwayland::xwm::Atoms;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::xfixes::{ConnectionExt as _, SelectionEventMask};
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, PropMode, Property,
    SelectionNotifyEvent, SelectionRequestEvent, WindowClass, SELECTION_NOTIFY_EVENT,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::{CURRENT_TIME, NONE};

/// How long the bridge waits for the other side of a transfer before giving up on it.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes one transfer carries either way.
const MAX_TRANSFER_BYTES: usize = 64 << 20;
/// Most pastes into Wayland clients written at once; each writer gives up on a reader that
/// stops reading for [`TRANSFER_TIMEOUT`].
const MAX_WRITERS: usize = 16;
static WRITERS: AtomicUsize = AtomicUsize::new(0);

/// Most types one selection offers.
const MAX_TYPES: u32 = 256;
/// The X11 text types, and the Wayland text type they stand for.
const TEXT_MIME: &str = "text/plain;charset=utf-8";

/// Marks a Wayland selection the compositor set for an X11 program's selection
/// (`protocols::selection::HeldSelection::X11`).
#[derive(Debug, Clone, Copy)]
pub struct X11Offer;

/// What the event loop asks of the bridge thread.
pub(super) enum ToBridge {
    /// An X11 event about selections (`wm::Wm::handle` routes them).
    Event(Event),
    /// A Wayland client set the selection with these types; none: it cleared it.
    WaylandOffers(SelectionTarget, Vec<String>),
    /// A Wayland client pastes what an X11 program offers, in `mime`, into `fd`.
    Paste(SelectionTarget, String, OwnedFd),
}

/// What the bridge thread asks of the event loop.
pub enum FromBridge {
    /// An X11 program took the selection and offers these types; none: it is gone.
    X11Offers(SelectionTarget, Vec<String>),
    /// Write the Wayland client's selection in `mime` into `fd`.
    ReadWayland(SelectionTarget, String, OwnedFd),
    /// The bridge read events off the connection while it waited: the loop should process them.
    EventsWaiting,
}

/// The event loop's end of the bridge.
pub struct SelectionBridge {
    to_bridge: Sender<ToBridge>,
    /// The window that owns the selections Wayland clients set, and receives conversions.
    pub(super) window: u32,
}

impl SelectionBridge {
    /// Creates the bridge's window (a child of the window manager's own, so that it is no
    /// toplevel the window manager would count), asks XFixes to report selection owners, and starts the
    /// thread; its requests to the event loop come out of the returned channel.
    pub(super) fn start(
        conn: Arc<RustConnection>,
        atoms: Atoms,
        parent: u32,
    ) -> Result<(SelectionBridge, Channel<FromBridge>), Box<dyn std::error::Error>> {
        conn.xfixes_query_version(5, 0)?.reply()?;
        let window = conn.generate_id()?;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            parent,
            -1,
            -1,
            1,
            1,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )?;
        let watched = SelectionEventMask::SET_SELECTION_OWNER
            | SelectionEventMask::SELECTION_WINDOW_DESTROY
            | SelectionEventMask::SELECTION_CLIENT_CLOSE;
        for selection in [atoms.CLIPBOARD, atoms.PRIMARY] {
            conn.xfixes_select_selection_input(window, selection, watched)?;
        }
        conn.flush()?;
        let (to_bridge, received) = mpsc::channel();
        let (to_loop, from_bridge) = channel::channel();
        let max_property = conn.maximum_request_bytes().saturating_sub(64);
        let bridge = Bridge {
            conn,
            atoms,
            window,
            received,
            to_loop,
            deferred: VecDeque::new(),
            wayland: [None, None],
            max_property: max_property.min(MAX_TRANSFER_BYTES),
        };
        std::thread::Builder::new()
            .name("x11-selection".into())
            .spawn(move || bridge.run())?;
        Ok((SelectionBridge { to_bridge, window }, from_bridge))
    }

    /// Whether `event` is about a selection, for the bridge.
    pub(super) fn wants(&self, event: &Event) -> bool {
        match event {
            Event::XfixesSelectionNotify(_) => true,
            Event::SelectionRequest(e) => e.owner == self.window,
            Event::SelectionNotify(e) => e.requestor == self.window,
            Event::SelectionClear(e) => e.owner == self.window,
            Event::PropertyNotify(e) => e.window == self.window,
            _ => false,
        }
    }

    pub(super) fn send(&self, message: ToBridge) {
        // The thread is gone only with the connection: nobody is left to answer then.
        let _ = self.to_bridge.send(message);
    }
}

/// The Wayland types an X11 program's targets stand for.
pub fn wayland_types(x11_targets: &[String]) -> Vec<String> {
    let mut types = Vec::new();
    for target in x11_targets {
        let name = match target.as_str() {
            "UTF8_STRING" => TEXT_MIME,
            "STRING" | "TEXT" => "text/plain",
            other if other.contains('/') => other,
            _ => continue,
        };
        if !types.iter().any(|t| t == name) {
            types.push(name.to_owned());
        }
    }
    types
}

/// The X11 targets a Wayland client's types are offered as.
pub fn x11_targets(wayland_types: &[String]) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    for mime in wayland_types {
        let text = mime == TEXT_MIME || mime == "text/plain" || mime.starts_with("text/plain;");
        let names: &[&str] = if text {
            &[mime, "UTF8_STRING", "STRING", "TEXT"]
        } else {
            &[mime]
        };
        for name in names {
            if !targets.iter().any(|t| t == name) {
                targets.push((*name).to_owned());
            }
        }
    }
    targets
}

/// The Wayland type to read for X11 target `target`, among what a Wayland client offers.
pub fn wayland_type_for(target: &str, offered: &[String]) -> Option<String> {
    if offered.iter().any(|m| m == target) {
        return Some(target.to_owned());
    }
    if matches!(target, "UTF8_STRING" | "STRING" | "TEXT") {
        let text = [TEXT_MIME, "text/plain"];
        return text
            .iter()
            .find(|t| offered.iter().any(|m| m == *t))
            .map(|t| (*t).to_owned())
            .or_else(|| {
                offered
                    .iter()
                    .find(|m| m.starts_with("text/plain;"))
                    .cloned()
            });
    }
    None
}

/// The X11 target to ask an X11 program for when a Wayland client wants `mime`.
pub fn x11_target_for(mime: &str) -> &str {
    match mime {
        TEXT_MIME => "UTF8_STRING",
        "text/plain" => "STRING",
        other => other,
    }
}

/// What a Wayland client offers, as the bridge answers X11 programs with it.
struct WaylandOffer {
    types: Vec<String>,
    /// The targets X11 programs see, with their atoms.
    targets: Vec<(Atom, String)>,
}

struct Bridge {
    conn: Arc<RustConnection>,
    atoms: Atoms,
    window: u32,
    received: Receiver<ToBridge>,
    to_loop: channel::Sender<FromBridge>,
    /// Messages that arrived while a transfer waited for an event of its own.
    deferred: VecDeque<ToBridge>,
    /// What Wayland clients offer, for CLIPBOARD and PRIMARY, while the bridge owns them.
    wayland: [Option<WaylandOffer>; 2],
    /// Most bytes one property may hold.
    max_property: usize,
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

impl Bridge {
    fn run(mut self) {
        loop {
            let message = match self.deferred.pop_front() {
                Some(message) => message,
                None => match self.received.recv() {
                    Ok(message) => message,
                    Err(_) => return,
                },
            };
            let outcome = match message {
                ToBridge::Event(event) => self.event(event),
                ToBridge::WaylandOffers(kind, types) => self.wayland_offers(kind, types),
                ToBridge::Paste(kind, mime, fd) => self.paste(kind, &mime, fd),
            };
            if let Err(err) = outcome.and_then(|_| Ok(self.conn.flush()?)) {
                tracing::debug!(%err, "X11 selection");
            }
            if self.to_loop.send(FromBridge::EventsWaiting).is_err() {
                return;
            }
        }
    }

    fn selection_atom(&self, kind: SelectionTarget) -> Atom {
        match kind {
            SelectionTarget::Clipboard => self.atoms.CLIPBOARD,
            SelectionTarget::Primary => self.atoms.PRIMARY,
        }
    }

    fn kind(&self, selection: Atom) -> Option<SelectionTarget> {
        if selection == self.atoms.CLIPBOARD {
            Some(SelectionTarget::Clipboard)
        } else if selection == self.atoms.PRIMARY {
            Some(SelectionTarget::Primary)
        } else {
            None
        }
    }

    fn event(&mut self, event: Event) -> Outcome {
        match event {
            Event::XfixesSelectionNotify(e) if e.owner != self.window => {
                let Some(kind) = self.kind(e.selection) else {
                    return Ok(());
                };
                // A notice from before the bridge took the selection for a Wayland client.
                let owner = self.conn.get_selection_owner(e.selection)?.reply()?.owner;
                if owner == self.window {
                    return Ok(());
                }
                self.wayland[slot(kind)] = None;
                let types = match e.owner {
                    NONE => Vec::new(),
                    _ => self.x11_types(e.selection)?,
                };
                tracing::debug!(
                    ?kind,
                    ?types,
                    owner = e.owner,
                    bridge = self.window,
                    "an X11 program set the selection"
                );
                let _ = self.to_loop.send(FromBridge::X11Offers(kind, types));
            }
            Event::SelectionRequest(e) => self.answer(&e)?,
            _ => {}
        }
        Ok(())
    }

    /// Asks the selection's X11 owner for its targets, as Wayland types.
    fn x11_types(&mut self, selection: Atom) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let targets = self.atoms.TARGETS;
        let Some(reply) = self.convert(selection, targets)? else {
            return Ok(Vec::new());
        };
        let atoms: Vec<Atom> = reply
            .value32()
            .map(|v| v.take(MAX_TYPES as usize).collect())
            .unwrap_or_default();
        let mut names = Vec::new();
        for atom in atoms {
            let name = self.conn.get_atom_name(atom)?.reply()?.name;
            names.push(String::from_utf8_lossy(&name).into_owned());
        }
        Ok(wayland_types(&names))
    }

    /// Converts `selection` to `target` into the bridge window's property and reads it; None
    /// when the owner refused or did not answer in time.
    fn convert(
        &mut self,
        selection: Atom,
        target: Atom,
    ) -> Result<Option<x11rb::protocol::xproto::GetPropertyReply>, Box<dyn std::error::Error>> {
        let property = self.atoms._WL_SELECTION;
        self.conn
            .convert_selection(self.window, selection, target, property, CURRENT_TIME)?;
        self.conn.flush()?;
        let answered = self.wait_for(|event| {
            matches!(event, Event::SelectionNotify(e) if e.selection == selection && e.target == target)
        });
        match answered {
            Some(Event::SelectionNotify(e)) if e.property != NONE => {
                let reply = self
                    .conn
                    .get_property(
                        true,
                        self.window,
                        property,
                        AtomEnum::ANY,
                        0,
                        (self.max_property / 4) as u32,
                    )?
                    .reply()?;
                Ok(Some(reply))
            }
            _ => Ok(None),
        }
    }

    /// Waits for an X11 event that `wanted` picks, keeping every other message for later;
    /// None after [`TRANSFER_TIMEOUT`].
    fn wait_for(&mut self, wanted: impl Fn(&Event) -> bool) -> Option<Event> {
        // Waiting for replies may have read the awaited event off the connection, where only
        // the event loop looks.
        self.to_loop.send(FromBridge::EventsWaiting).ok()?;
        let deadline = Instant::now() + TRANSFER_TIMEOUT;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.received.recv_timeout(left) {
                Ok(ToBridge::Event(event)) if wanted(&event) => return Some(event),
                // The owner being waited on may ask for the bridge's own selection first.
                Ok(ToBridge::Event(Event::SelectionRequest(request))) => {
                    if let Err(err) = self.answer(&request) {
                        tracing::debug!(%err, "X11 selection request");
                    }
                }
                Ok(other) => self.deferred.push_back(other),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// A Wayland client pastes what an X11 program offers: converts it and writes it to `fd`.
    fn paste(&mut self, kind: SelectionTarget, mime: &str, fd: OwnedFd) -> Outcome {
        let target = self
            .conn
            .intern_atom(false, x11_target_for(mime).as_bytes())?
            .reply()?
            .atom;
        let Some(reply) = self.convert(self.selection_atom(kind), target)? else {
            tracing::debug!(?kind, mime, "the X11 owner did not give its selection");
            return Ok(());
        };
        let incremental = reply.type_ == self.atoms.INCR;
        let data = match incremental {
            true => self.incremental()?,
            false => reply.value,
        };
        tracing::debug!(
            ?kind,
            mime,
            bytes = data.len(),
            incremental,
            "pasting from X11"
        );
        // The reader may take its time: a thread of its own writes to it, for as long as the
        // reader keeps reading, and at most MAX_WRITERS of them at once.
        if WRITERS.fetch_add(1, Ordering::SeqCst) >= MAX_WRITERS {
            WRITERS.fetch_sub(1, Ordering::SeqCst);
            return Err("too many pastes are still being written".into());
        }
        let spawned = std::thread::Builder::new()
            .name("x11-paste".into())
            .spawn(move || {
                write_with_deadline(fd, &data);
                WRITERS.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(err) = spawned {
            WRITERS.fetch_sub(1, Ordering::SeqCst);
            return Err(err.into());
        }
        Ok(())
    }

    /// Reads an `INCR` transfer: each chunk the owner puts into the property, until an empty
    /// one.
    fn incremental(&mut self) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let (window, property) = (self.window, self.atoms._WL_SELECTION);
        let mut data = Vec::new();
        loop {
            let changed = self.wait_for(|event| {
                matches!(event, Event::PropertyNotify(e)
                    if e.window == window && e.atom == property && e.state == Property::NEW_VALUE)
            });
            if changed.is_none() {
                return Err("an incremental transfer stopped".into());
            }
            let chunk = self
                .conn
                .get_property(
                    true,
                    window,
                    property,
                    AtomEnum::ANY,
                    0,
                    (self.max_property / 4) as u32,
                )?
                .reply()?;
            if chunk.value.is_empty() {
                return Ok(data);
            }
            if data.len() + chunk.value.len() > MAX_TRANSFER_BYTES {
                return Err("an incremental transfer is too large".into());
            }
            data.extend_from_slice(&chunk.value);
        }
    }

    /// A Wayland client set (or cleared) the selection: the bridge owns it for X11 programs.
    fn wayland_offers(&mut self, kind: SelectionTarget, types: Vec<String>) -> Outcome {
        let selection = self.selection_atom(kind);
        if types.is_empty() {
            if self.wayland[slot(kind)].take().is_some() {
                self.conn
                    .set_selection_owner(NONE, selection, CURRENT_TIME)?;
            }
            return Ok(());
        }
        let mut targets = Vec::new();
        for name in x11_targets(&types) {
            let atom = self.conn.intern_atom(false, name.as_bytes())?.reply()?.atom;
            targets.push((atom, name));
        }
        self.wayland[slot(kind)] = Some(WaylandOffer { types, targets });
        self.conn
            .set_selection_owner(self.window, selection, CURRENT_TIME)?;
        Ok(())
    }

    /// An X11 program asks for the selection a Wayland client offers.
    fn answer(&mut self, request: &SelectionRequestEvent) -> Outcome {
        // Clients from before ICCCM 2 name no property: the target is the property then.
        let property = match request.property {
            NONE => request.target,
            property => property,
        };
        let given = match self.kind(request.selection) {
            Some(kind) => self.give(kind, request, property)?,
            None => false,
        };
        let event = SelectionNotifyEvent {
            response_type: SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: request.time,
            requestor: request.requestor,
            selection: request.selection,
            target: request.target,
            property: if given { property } else { NONE },
        };
        self.conn
            .send_event(false, request.requestor, EventMask::NO_EVENT, event)?;
        Ok(())
    }

    /// Puts what `request` asks for into the requestor's `property`; false if it cannot.
    fn give(
        &mut self,
        kind: SelectionTarget,
        request: &SelectionRequestEvent,
        property: Atom,
    ) -> Result<bool, Box<dyn std::error::Error>> {
        let Some(offer) = &self.wayland[slot(kind)] else {
            return Ok(false);
        };
        if request.target == self.atoms.TARGETS {
            let mut atoms = vec![self.atoms.TARGETS, self.atoms.TIMESTAMP];
            atoms.extend(offer.targets.iter().map(|(atom, _)| *atom));
            self.conn.change_property32(
                PropMode::REPLACE,
                request.requestor,
                property,
                AtomEnum::ATOM,
                &atoms,
            )?;
            return Ok(true);
        }
        let Some((_, target)) = offer.targets.iter().find(|(a, _)| *a == request.target) else {
            return Ok(false);
        };
        let Some(mime) = wayland_type_for(target, &offer.types) else {
            return Ok(false);
        };
        let Some(data) = self.read_wayland(kind, mime)? else {
            return Ok(false);
        };
        self.conn.change_property8(
            PropMode::REPLACE,
            request.requestor,
            property,
            request.target,
            &data,
        )?;
        Ok(true)
    }

    /// Has the event loop hand smithay a pipe for the Wayland client's selection, and reads
    /// it; None if the client wrote too much or too slowly.
    fn read_wayland(
        &mut self,
        kind: SelectionTarget,
        mime: String,
    ) -> Result<Option<Vec<u8>>, Box<dyn std::error::Error>> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        rustix::io::ioctl_fionbio(&read, true)?;
        if self
            .to_loop
            .send(FromBridge::ReadWayland(kind, mime, write))
            .is_err()
        {
            return Ok(None);
        }
        let deadline = Instant::now() + TRANSFER_TIMEOUT;
        let mut file = std::fs::File::from(read);
        let mut data = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            let timeout = Timespec::try_from(left)?;
            let mut fds = [PollFd::new(&file, PollFlags::IN)];
            poll(&mut fds, Some(&timeout))?;
            match file.read(&mut chunk) {
                // Nothing at all: the loop found no such selection and dropped the pipe.
                Ok(0) if data.is_empty() => return Ok(None),
                Ok(0) => return Ok(Some(data)),
                Ok(n) if data.len() + n <= self.max_property => data.extend_from_slice(&chunk[..n]),
                Ok(_) => return Ok(None),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// Writes `data` into the pipe `fd`, giving up once its reader stops reading for
/// [`TRANSFER_TIMEOUT`].
fn write_with_deadline(fd: OwnedFd, data: &[u8]) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    if rustix::io::ioctl_fionbio(&fd, true).is_err() {
        return;
    }
    let mut file = std::fs::File::from(fd);
    let mut written = 0;
    while written < data.len() {
        let Ok(timeout) = Timespec::try_from(TRANSFER_TIMEOUT) else {
            return;
        };
        let mut fds = [PollFd::new(&file, PollFlags::OUT)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        match file.write(&data[written..]) {
            Ok(0) => return,
            Ok(n) => written += n,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The index of `kind` in per-selection arrays.
pub fn slot(kind: SelectionTarget) -> usize {
    match kind {
        SelectionTarget::Clipboard => 0,
        SelectionTarget::Primary => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn x11_text_targets_become_wayland_text_types_and_x11_bookkeeping_is_dropped() {
        let targets = strings(&[
            "TARGETS",
            "TIMESTAMP",
            "UTF8_STRING",
            "STRING",
            "TEXT",
            "image/png",
        ]);
        assert_eq!(
            wayland_types(&targets),
            strings(&[TEXT_MIME, "text/plain", "image/png"])
        );
    }

    #[test]
    fn wayland_text_is_offered_under_every_x11_text_name_and_read_back_as_itself() {
        let types = strings(&["text/plain;charset=utf-8", "image/png"]);
        let targets = x11_targets(&types);
        assert_eq!(
            targets,
            strings(&[TEXT_MIME, "UTF8_STRING", "STRING", "TEXT", "image/png"])
        );
        for target in ["UTF8_STRING", "STRING", "TEXT", TEXT_MIME] {
            assert_eq!(wayland_type_for(target, &types).as_deref(), Some(TEXT_MIME));
        }
        assert_eq!(
            wayland_type_for("image/png", &types).as_deref(),
            Some("image/png")
        );
        assert_eq!(wayland_type_for("image/jpeg", &types), None);
        assert_eq!(x11_target_for(TEXT_MIME), "UTF8_STRING");
        assert_eq!(x11_target_for("image/png"), "image/png");
    }
}
