//! Who holds the clipboard and the primary selection, and where a paste is read from.
//!
//! smithay keeps a selection set by the client with the keyboard focus (wl_data_device,
//! zwp_primary_selection) or by a data-control client, and calls `SelectionHandler::new_selection`
//! for it. Every other holder is a compositor-owned selection in smithay's terms, marked with a
//! [`HeldSelection`]:
//! - an X11 program's selection (`shell::x11::clipboard` calls [`hold_x11`] and [`release_x11`]);
//! - a client source the compositor holds on the client's behalf ([`hold`]): one set by a
//!   privileged client without the keyboard focus (`unfocused`, which sees those requests before
//!   smithay, as smithay refuses them), and every gtk_primary_selection source (`gtk`).
//!
//! A held client source is cancelled when anything else takes its selection, and its selection
//! is cleared when the source is destroyed. Every change reaches the X11 bridge and the
//! gtk_primary_selection devices of the focused client ([`selection_changed`]).

pub mod gtk;
pub mod unfocused;

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};

use smithay::input::Seat;
use smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1;
use smithay::reexports::wayland_protocols_misc::gtk_primary_selection::server::gtk_primary_selection_source::GtkPrimarySelectionSource;
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::{Client, Resource};
use smithay::wayland::selection::data_device::{
    clear_data_device_selection, current_data_device_selection_userdata,
    request_data_device_client_selection, set_data_device_selection, with_source_metadata,
};
use smithay::wayland::selection::primary_selection::{
    clear_primary_selection, current_primary_selection_userdata, request_primary_client_selection,
    set_primary_selection,
};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};

use crate::shell::x11::selection::X11Offer;
use crate::state::State;

/// Most types the compositor keeps for one source it may hold.
pub const MAX_TYPES: usize = 256;

/// What a compositor-owned selection stands for (`SelectionHandler::SelectionUserData`).
#[derive(Debug, Clone)]
pub enum HeldSelection {
    /// An X11 program's selection, read through the X11 bridge.
    X11(X11Offer),
    /// A client's source, held by the compositor.
    Client(ClientSource),
}

/// A client's selection source of any of the three selection protocols.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientSource {
    Clipboard(WlDataSource),
    Primary(ZwpPrimarySelectionSourceV1),
    Gtk(GtkPrimarySelectionSource),
}

impl ClientSource {
    /// The selection this source is for.
    pub fn target(&self) -> SelectionTarget {
        match self {
            ClientSource::Clipboard(_) => SelectionTarget::Clipboard,
            ClientSource::Primary(_) | ClientSource::Gtk(_) => SelectionTarget::Primary,
        }
    }

    fn alive(&self) -> bool {
        match self {
            ClientSource::Clipboard(source) => source.is_alive(),
            ClientSource::Primary(source) => source.is_alive(),
            ClientSource::Gtk(source) => source.is_alive(),
        }
    }

    /// The types the source offers (`state` keeps those of zwp_primary_selection sources).
    fn mime_types(&self, state: &State) -> Vec<String> {
        match self {
            ClientSource::Clipboard(source) => {
                with_source_metadata(source, |meta| meta.mime_types.clone()).unwrap_or_default()
            }
            ClientSource::Primary(source) => state.selections.primary_source_types(source),
            ClientSource::Gtk(source) => gtk::source_types(source),
        }
    }

    /// Asks the client to write the selection in `mime` into `fd`; a source that is gone
    /// leaves the reader an empty pipe.
    fn send(&self, mime: String, fd: OwnedFd) {
        if !self.alive() {
            return;
        }
        match self {
            ClientSource::Clipboard(source) => source.send(mime, fd.as_fd()),
            ClientSource::Primary(source) => source.send(mime, fd.as_fd()),
            ClientSource::Gtk(source) => source.send(mime, fd.as_fd()),
        }
    }

    fn cancel(&self) {
        if !self.alive() {
            return;
        }
        match self {
            ClientSource::Clipboard(source) => source.cancelled(),
            ClientSource::Primary(source) => source.cancelled(),
            ClientSource::Gtk(source) => source.cancelled(),
        }
    }

    fn same_client_as(&self, client: &Client) -> bool {
        let source_client = match self {
            ClientSource::Clipboard(source) => source.client(),
            ClientSource::Primary(source) => source.client(),
            ClientSource::Gtk(source) => source.client(),
        };
        source_client.is_some_and(|source_client| source_client.id() == client.id())
    }
}

/// The client sources the compositor holds, and what zwp_primary_selection sources offer.
#[derive(Default)]
pub struct Selections {
    held_clipboard: Option<ClientSource>,
    held_primary: Option<ClientSource>,
    /// The types of the current primary selection, whoever holds it; none: there is none.
    primary_types: Option<Vec<String>>,
    /// Counts primary selection changes, so an offer of an earlier one reads nothing.
    primary_generation: u64,
    /// zwp_primary_selection sources and the types they offer (`unfocused` records them, as
    /// smithay keeps them to itself); removed when a source is destroyed.
    primary_source_types: HashMap<ObjectId, Vec<String>>,
    gtk: gtk::GtkDevices,
}

impl Selections {
    fn held_mut(&mut self, kind: SelectionTarget) -> &mut Option<ClientSource> {
        match kind {
            SelectionTarget::Clipboard => &mut self.held_clipboard,
            SelectionTarget::Primary => &mut self.held_primary,
        }
    }

    /// Whether the compositor holds `kind` for a source of `client`.
    pub fn held_for(&mut self, kind: SelectionTarget, client: &Client) -> bool {
        self.held_mut(kind)
            .as_ref()
            .is_some_and(|source| source.same_client_as(client))
    }

    /// Takes `source` back if the compositor holds it, without cancelling it: its client now
    /// sets it itself.
    pub fn take_back(&mut self, source: &ClientSource) {
        let held = self.held_mut(source.target());
        if held.as_ref() == Some(source) {
            *held = None;
        }
    }

    fn primary_source_types(&self, source: &ZwpPrimarySelectionSourceV1) -> Vec<String> {
        self.primary_source_types
            .get(&source.id())
            .cloned()
            .unwrap_or_default()
    }

    /// Records a type a zwp_primary_selection source offers (at most [`MAX_TYPES`] a source).
    pub fn primary_source_offers(&mut self, source: &ZwpPrimarySelectionSourceV1, mime: String) {
        let types = self.primary_source_types.entry(source.id()).or_default();
        if types.len() < MAX_TYPES {
            types.push(mime);
        }
    }

    /// The current primary selection's types and generation, for gtk_primary_selection offers.
    pub fn primary(&self) -> (Option<&[String]>, u64) {
        (self.primary_types.as_deref(), self.primary_generation)
    }
}

/// The compositor takes the selection `source` is for, on its client's behalf.
pub fn hold(state: &mut State, source: ClientSource) {
    let kind = source.target();
    let types = source.mime_types(state);
    if let Some(previous) = state.selections.held_mut(kind).replace(source.clone()) {
        if previous != source {
            previous.cancel();
        }
    }
    set_compositor_selection(state, kind, types.clone(), HeldSelection::Client(source));
    selection_changed(state, kind, types);
}

/// The client holding `kind` through the compositor cleared it.
pub fn clear_held(state: &mut State, kind: SelectionTarget) {
    if let Some(previous) = state.selections.held_mut(kind).take() {
        previous.cancel();
    }
    clear(state, kind);
    selection_changed(state, kind, Vec::new());
}

/// A client source was destroyed: a selection the compositor held for it goes.
pub fn source_destroyed(state: &mut State, source: &ClientSource) {
    if let ClientSource::Primary(primary) = source {
        state.selections.primary_source_types.remove(&primary.id());
    }
    let kind = source.target();
    if state.selections.held_mut(kind).as_ref() == Some(source) {
        *state.selections.held_mut(kind) = None;
        clear(state, kind);
        selection_changed(state, kind, Vec::new());
    }
}

/// An X11 program took `kind`, offering `types`.
pub fn hold_x11(state: &mut State, kind: SelectionTarget, types: Vec<String>) {
    if let Some(previous) = state.selections.held_mut(kind).take() {
        previous.cancel();
    }
    set_compositor_selection(state, kind, types.clone(), HeldSelection::X11(X11Offer));
    note_primary(state, kind, types);
}

/// The X11 program holding `kind` let it go; a selection someone else took since stays.
pub fn release_x11(state: &mut State, kind: SelectionTarget) {
    let seat = &state.seat;
    let x11_holds = match kind {
        SelectionTarget::Clipboard => matches!(
            current_data_device_selection_userdata(seat).as_deref(),
            Some(HeldSelection::X11(_))
        ),
        SelectionTarget::Primary => matches!(
            current_primary_selection_userdata(seat).as_deref(),
            Some(HeldSelection::X11(_))
        ),
    };
    if x11_holds {
        clear(state, kind);
        note_primary(state, kind, Vec::new());
    }
}

/// Writes the current selection `kind` in `mime` into `fd`, whoever holds it; with none, the
/// reader gets an empty pipe.
pub fn read(state: &State, kind: SelectionTarget, mime: String, fd: OwnedFd) {
    let seat = &state.seat;
    let held = match kind {
        SelectionTarget::Clipboard => {
            current_data_device_selection_userdata(seat).map(|h| h.clone())
        }
        SelectionTarget::Primary => current_primary_selection_userdata(seat).map(|h| h.clone()),
    };
    if let Some(held) = held {
        return send_held(state, kind, &held, mime, fd);
    }
    let requested = match kind {
        SelectionTarget::Clipboard => {
            request_data_device_client_selection(seat, mime, fd).map_err(|e| e.to_string())
        }
        SelectionTarget::Primary => {
            request_primary_client_selection(seat, mime, fd).map_err(|e| e.to_string())
        }
    };
    if let Err(err) = requested {
        tracing::debug!(?kind, %err, "a paste found no selection to read");
    }
}

fn send_held(
    state: &State,
    kind: SelectionTarget,
    held: &HeldSelection,
    mime: String,
    fd: OwnedFd,
) {
    match held {
        HeldSelection::X11(_) => {
            crate::shell::x11::clipboard::paste_from_x11(state, kind, mime, fd)
        }
        HeldSelection::Client(source) => source.send(mime, fd),
    }
}

fn set_compositor_selection(
    state: &State,
    kind: SelectionTarget,
    types: Vec<String>,
    held: HeldSelection,
) {
    let (display, seat) = (&state.display, &state.seat);
    match kind {
        SelectionTarget::Clipboard => set_data_device_selection(display, seat, types, held),
        SelectionTarget::Primary => set_primary_selection(display, seat, types, held),
    }
}

fn clear(state: &State, kind: SelectionTarget) {
    let (display, seat) = (&state.display, &state.seat);
    match kind {
        SelectionTarget::Clipboard => clear_data_device_selection(display, seat),
        SelectionTarget::Primary => clear_primary_selection(display, seat),
    }
}

/// A Wayland client's selection `kind` now offers `types` (none: it is gone): the X11 bridge
/// and the focused client's gtk_primary_selection devices hear of it.
fn selection_changed(state: &mut State, kind: SelectionTarget, types: Vec<String>) {
    crate::shell::x11::clipboard::wayland_selection(state, kind, types.clone());
    note_primary(state, kind, types);
}

fn note_primary(state: &mut State, kind: SelectionTarget, types: Vec<String>) {
    if kind != SelectionTarget::Primary {
        return;
    }
    let selections = &mut state.selections;
    selections.primary_types = (!types.is_empty()).then_some(types);
    selections.primary_generation += 1;
    gtk::offer_to_focus(state);
}

/// The keyboard focus moved to `client`: its gtk_primary_selection devices are offered the
/// primary selection (smithay offers the others). Runs while smithay holds the keyboard.
pub fn focus_changed(state: &mut State, client: Option<&Client>) {
    gtk::focus_changed(state, client.map(Client::id));
}

impl SelectionHandler for State {
    type SelectionUserData = HeldSelection;

    /// The focused client or a data-control client set `kind`; a source the compositor held
    /// for it is cancelled.
    fn new_selection(
        &mut self,
        kind: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<State>,
    ) {
        if let Some(previous) = self.selections.held_mut(kind).take() {
            previous.cancel();
        }
        let types = source.map(|s| s.mime_types()).unwrap_or_default();
        selection_changed(self, kind, types);
    }

    fn send_selection(
        &mut self,
        kind: SelectionTarget,
        mime: String,
        fd: OwnedFd,
        _seat: Seat<State>,
        held: &HeldSelection,
    ) {
        send_held(self, kind, held, mime, fd);
    }
}
