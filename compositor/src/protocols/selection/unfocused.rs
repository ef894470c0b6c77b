//! Selections set by privileged clients without the keyboard focus: clipboard tools (`wl-copy`),
//! terminals answering an escape sequence, a second window of a program whose first has the
//! focus. smithay refuses any wl_data_device or zwp_primary_selection `set_selection` from a
//! client without the focus; a privileged client may take the selection through data-control
//! anyway, so the compositor takes it on its behalf (`selection::hold`). A sandboxed client
//! without the focus is still refused.
//!
//! The wl_data_device, zwp_primary_selection_device and both source interfaces are dispatched
//! here first, then by smithay: `set_selection` is looked at, zwp_primary_selection sources'
//! types are recorded (smithay keeps them to itself), and a destroyed source's held selection
//! goes. Everything else is smithay's.

use smithay::reexports::wayland_protocols::wp::primary_selection::zv1::server::{
    zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
    zwp_primary_selection_device_v1::{self, ZwpPrimarySelectionDeviceV1},
    zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1},
};
use smithay::reexports::wayland_server::backend::{ClientId, ObjectId};
use smithay::reexports::wayland_server::protocol::wl_data_device::{self, WlDataDevice};
use smithay::reexports::wayland_server::protocol::wl_data_device_manager::WlDataDeviceManager;
use smithay::reexports::wayland_server::protocol::wl_data_source::WlDataSource;
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::wayland::selection::data_device::{
    DataDeviceState, DataDeviceUserData, DataSourceUserData,
};
use smithay::wayland::selection::primary_selection::{
    PrimaryDeviceManagerGlobalData, PrimaryDeviceUserData, PrimarySelectionState,
    PrimarySourceUserData,
};
use smithay::wayland::selection::SelectionTarget;

use super::{clear_held, hold, source_destroyed, ClientSource};
use crate::protocols::security_context::privileged;
use crate::state::State;

/// Whether the client of `object` has the keyboard focus.
pub fn has_keyboard_focus(state: &State, object: &ObjectId) -> bool {
    state
        .seat
        .get_keyboard()
        .is_some_and(|keyboard| keyboard.client_of_object_has_focus(object))
}

/// Looks at a `set_selection` of `client`'s device `device`; true: it was carried out here, and
/// smithay is not to see it.
fn set_selection(
    state: &mut State,
    client: &Client,
    device: &ObjectId,
    kind: SelectionTarget,
    source: Option<ClientSource>,
) -> bool {
    if has_keyboard_focus(state, device) {
        if let Some(source) = &source {
            state.selections.take_back(source);
        }
        return false;
    }
    if !privileged(client) {
        return false;
    }
    match source {
        Some(source) => hold(state, source),
        None if state.selections.held_for(kind, client) => clear_held(state, kind),
        None => return false,
    }
    tracing::debug!(
        ?kind,
        "selection set by a privileged client without the keyboard focus"
    );
    true
}

impl Dispatch<WlDataDevice, DataDeviceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &WlDataDevice,
        request: wl_data_device::Request,
        data: &DataDeviceUserData,
        display: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let wl_data_device::Request::SetSelection { source, .. } = &request {
            let source = source.clone().map(ClientSource::Clipboard);
            if set_selection(
                state,
                client,
                &resource.id(),
                SelectionTarget::Clipboard,
                source,
            ) {
                return;
            }
        }
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, State>>::request(
            state, client, resource, request, data, display, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &WlDataDevice,
        data: &DataDeviceUserData,
    ) {
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, State>>::destroyed(
            state, client, resource, data,
        );
    }
}

impl Dispatch<WlDataSource, DataSourceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &WlDataSource,
        request: <WlDataSource as Resource>::Request,
        data: &DataSourceUserData,
        display: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::request(
            state, client, resource, request, data, display, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &WlDataSource,
        data: &DataSourceUserData,
    ) {
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::destroyed(
            state, client, resource, data,
        );
        source_destroyed(state, &ClientSource::Clipboard(resource.clone()));
    }
}

impl Dispatch<ZwpPrimarySelectionDeviceV1, PrimaryDeviceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &ZwpPrimarySelectionDeviceV1,
        request: zwp_primary_selection_device_v1::Request,
        data: &PrimaryDeviceUserData,
        display: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let zwp_primary_selection_device_v1::Request::SetSelection { source, .. } = &request {
            let source = source.clone().map(ClientSource::Primary);
            if set_selection(
                state,
                client,
                &resource.id(),
                SelectionTarget::Primary,
                source,
            ) {
                return;
            }
        }
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionDeviceV1,
            PrimaryDeviceUserData,
            State,
        >>::request(state, client, resource, request, data, display, init);
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &ZwpPrimarySelectionDeviceV1,
        data: &PrimaryDeviceUserData,
    ) {
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionDeviceV1,
            PrimaryDeviceUserData,
            State,
        >>::destroyed(state, client, resource, data);
    }
}

impl Dispatch<ZwpPrimarySelectionSourceV1, PrimarySourceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &ZwpPrimarySelectionSourceV1,
        request: zwp_primary_selection_source_v1::Request,
        data: &PrimarySourceUserData,
        display: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let zwp_primary_selection_source_v1::Request::Offer { mime_type } = &request {
            state
                .selections
                .primary_source_offers(resource, mime_type.clone());
        }
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionSourceV1,
            PrimarySourceUserData,
            State,
        >>::request(state, client, resource, request, data, display, init);
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &ZwpPrimarySelectionSourceV1,
        data: &PrimarySourceUserData,
    ) {
        <PrimarySelectionState as Dispatch<
            ZwpPrimarySelectionSourceV1,
            PrimarySourceUserData,
            State,
        >>::destroyed(state, client, resource, data);
        source_destroyed(state, &ClientSource::Primary(resource.clone()));
    }
}

delegate_global_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_global_dispatch!(
    State: [ZwpPrimarySelectionDeviceManagerV1: PrimaryDeviceManagerGlobalData] => PrimarySelectionState
);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: ()] => PrimarySelectionState);
