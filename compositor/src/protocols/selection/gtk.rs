//! gtk_primary_selection: GTK's forerunner of zwp_primary_selection, spoken by GTK 3 before
//! 3.24 and by programs built on it. It is the same primary selection: a gtk source is held by
//! the compositor (`selection::hold`), so zwp_primary_selection, data-control and X11 clients
//! read it, and the focused client's gtk devices are offered whatever the primary selection
//! is, whoever set it. As with the others, only the client with the keyboard focus is offered
//! it (the protocol makes an offer valid until focus is lost), and only it, or a privileged
//! client, may set it.
//!
//! `selection` calls [`offer_to_focus`] on every primary selection change and focus change;
//! `State::new` calls [`init`].

use std::sync::Mutex;

use smithay::reexports::wayland_protocols_misc::gtk_primary_selection::server::{
    gtk_primary_selection_device::{self, GtkPrimarySelectionDevice},
    gtk_primary_selection_device_manager::{self, GtkPrimarySelectionDeviceManager},
    gtk_primary_selection_offer::{self, GtkPrimarySelectionOffer},
    gtk_primary_selection_source::{self, GtkPrimarySelectionSource},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::wayland::selection::SelectionTarget;

use super::{clear_held, hold, read, source_destroyed, ClientSource, MAX_TYPES};
use crate::protocols::security_context::privileged;
use crate::state::State;

/// The gtk devices, and which client has the keyboard focus (`focus_changed` runs while
/// smithay holds the keyboard, so it is kept here).
#[derive(Default)]
pub struct GtkDevices {
    devices: Vec<GtkPrimarySelectionDevice>,
    focus: Option<ClientId>,
    /// The focused client and primary selection generation last offered.
    offered: Option<(ClientId, u64)>,
}

/// The types a gtk source offers.
#[derive(Default)]
pub struct GtkSourceTypes(Mutex<Vec<String>>);

/// What an offer stands for: the primary selection generation it was made for.
pub struct GtkOffer {
    generation: u64,
    types: Vec<String>,
}

/// Creates the global (version 1).
pub fn init(display: &DisplayHandle) {
    display.create_global::<State, GtkPrimarySelectionDeviceManager, ()>(1, ());
}

/// The types `source` offers.
pub fn source_types(source: &GtkPrimarySelectionSource) -> Vec<String> {
    source
        .data::<GtkSourceTypes>()
        .and_then(|types| types.0.lock().ok().map(|types| types.clone()))
        .unwrap_or_default()
}

/// The keyboard focus moved to `client`.
pub fn focus_changed(state: &mut State, client: Option<ClientId>) {
    state.selections.gtk.focus = client;
    offer_to_focus(state);
}

/// Offers the focused client's gtk devices the primary selection, unless they already have
/// this one.
pub fn offer_to_focus(state: &mut State) {
    let gtk = &mut state.selections.gtk;
    gtk.devices.retain(|device| device.is_alive());
    let Some(focus) = gtk.focus.clone() else {
        gtk.offered = None;
        return;
    };
    let (types, generation) = state.selections.primary();
    let types = types.map(<[String]>::to_vec);
    let gtk = &mut state.selections.gtk;
    if gtk.offered == Some((focus.clone(), generation)) {
        return;
    }
    gtk.offered = Some((focus.clone(), generation));
    let of_focus = |device: &&GtkPrimarySelectionDevice| {
        device.client().is_some_and(|client| client.id() == focus)
    };
    for device in gtk.devices.iter().filter(of_focus) {
        offer(&state.display, device, types.as_deref(), generation);
    }
}

fn offer(
    display: &DisplayHandle,
    device: &GtkPrimarySelectionDevice,
    types: Option<&[String]>,
    generation: u64,
) {
    let Some(types) = types else {
        device.selection(None);
        return;
    };
    let Some(client) = device.client() else {
        return;
    };
    let data = GtkOffer {
        generation,
        types: types.to_vec(),
    };
    let Ok(offer) = client.create_resource::<GtkPrimarySelectionOffer, _, State>(
        display,
        device.version(),
        data,
    ) else {
        return;
    };
    device.data_offer(&offer);
    for mime in types {
        offer.offer(mime.clone());
    }
    device.selection(Some(&offer));
}

fn focused(state: &State, client: &Client) -> bool {
    state.selections.gtk.focus.as_ref() == Some(&client.id())
}

impl GlobalDispatch<GtkPrimarySelectionDeviceManager, ()> for State {
    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<GtkPrimarySelectionDeviceManager>,
        _data: &(),
        init: &mut DataInit<'_, State>,
    ) {
        init.init(resource, ());
    }
}

impl Dispatch<GtkPrimarySelectionDeviceManager, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        _resource: &GtkPrimarySelectionDeviceManager,
        request: gtk_primary_selection_device_manager::Request,
        _data: &(),
        _display: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        match request {
            gtk_primary_selection_device_manager::Request::CreateSource { id } => {
                init.init(id, GtkSourceTypes::default());
            }
            gtk_primary_selection_device_manager::Request::GetDevice { id, .. } => {
                let device = init.init(id, ());
                if focused(state, client) {
                    let (types, generation) = state.selections.primary();
                    offer(&state.display, &device, types, generation);
                }
                state.selections.gtk.devices.push(device);
            }
            _ => {}
        }
    }
}

impl Dispatch<GtkPrimarySelectionDevice, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        _resource: &GtkPrimarySelectionDevice,
        request: gtk_primary_selection_device::Request,
        _data: &(),
        _display: &DisplayHandle,
        _init: &mut DataInit<'_, State>,
    ) {
        let gtk_primary_selection_device::Request::SetSelection { source, .. } = request else {
            return;
        };
        let may_set = focused(state, client) || privileged(client);
        match source {
            Some(source) if may_set => hold(state, ClientSource::Gtk(source)),
            None if focused(state, client)
                || state.selections.held_for(SelectionTarget::Primary, client) =>
            {
                clear_held(state, SelectionTarget::Primary)
            }
            _ => tracing::debug!(
                "gtk primary selection refused to a sandboxed client without the keyboard focus"
            ),
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        resource: &GtkPrimarySelectionDevice,
        _data: &(),
    ) {
        state
            .selections
            .gtk
            .devices
            .retain(|device| device != resource);
    }
}

impl Dispatch<GtkPrimarySelectionOffer, GtkOffer> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _resource: &GtkPrimarySelectionOffer,
        request: gtk_primary_selection_offer::Request,
        data: &GtkOffer,
        _display: &DisplayHandle,
        _init: &mut DataInit<'_, State>,
    ) {
        let gtk_primary_selection_offer::Request::Receive { mime_type, fd } = request else {
            return;
        };
        let current = state.selections.primary().1 == data.generation;
        if current && data.types.contains(&mime_type) {
            read(state, SelectionTarget::Primary, mime_type, fd);
        }
    }
}

impl Dispatch<GtkPrimarySelectionSource, GtkSourceTypes> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _resource: &GtkPrimarySelectionSource,
        request: gtk_primary_selection_source::Request,
        data: &GtkSourceTypes,
        _display: &DisplayHandle,
        _init: &mut DataInit<'_, State>,
    ) {
        if let gtk_primary_selection_source::Request::Offer { mime_type } = request {
            if let Ok(mut types) = data.0.lock() {
                if types.len() < MAX_TYPES {
                    types.push(mime_type);
                }
            }
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        resource: &GtkPrimarySelectionSource,
        _data: &GtkSourceTypes,
    ) {
        source_destroyed(state, &ClientSource::Gtk(resource.clone()));
    }
}
