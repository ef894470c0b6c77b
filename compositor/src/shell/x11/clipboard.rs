//! The event loop's side of the X11 selection bridge (`selection`): it tells the bridge what
//! Wayland clients copy, sets a compositor-owned Wayland selection for what X11 programs copy,
//! and hands smithay the pipes through which the bridge reads Wayland clients' data.
//!
//! `protocols::seat` calls [`wayland_selection`] from `SelectionHandler::new_selection` and
//! [`paste_from_x11`] from `SelectionHandler::send_selection`; `wm::Wm::start` routes the
//! bridge's requests to [`from_bridge`] and calls [`announce`] once the bridge runs, so a
//! selection made before Xwayland started reaches X11 programs too. `Xwayland::wayland_offers`
//! keeps what Wayland clients offer across Xwayland restarts.

use std::os::fd::OwnedFd;

use smithay::wayland::selection::data_device::{
    clear_data_device_selection, current_data_device_selection_userdata,
    request_data_device_client_selection, set_data_device_selection,
};
use smithay::wayland::selection::primary_selection::{
    clear_primary_selection, current_primary_selection_userdata, request_primary_client_selection,
    set_primary_selection,
};
use smithay::wayland::selection::SelectionTarget;

use super::selection::{slot, FromBridge, ToBridge, X11Offer};
use crate::state::State;

/// A Wayland client set the selection `kind` with these types (none: it cleared it).
pub fn wayland_selection(state: &mut State, kind: SelectionTarget, types: Vec<String>) {
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    xwayland.wayland_offers[slot(kind)] = (!types.is_empty()).then(|| types.clone());
    if let Some(wm) = xwayland.wm() {
        wm.selection.send(ToBridge::WaylandOffers(kind, types));
    }
}

/// Tells a bridge that just started what Wayland clients offer.
pub fn announce(state: &State) {
    let Some(xwayland) = state.xwayland.as_ref() else {
        return;
    };
    let Some(wm) = xwayland.wm() else {
        return;
    };
    for kind in [SelectionTarget::Clipboard, SelectionTarget::Primary] {
        if let Some(types) = &xwayland.wayland_offers[slot(kind)] {
            wm.selection
                .send(ToBridge::WaylandOffers(kind, types.clone()));
        }
    }
}

/// A Wayland client pastes the selection an X11 program offers.
pub fn paste_from_x11(state: &State, kind: SelectionTarget, mime: String, fd: OwnedFd) {
    match state.xwayland.as_ref().and_then(|x| x.wm()) {
        Some(wm) => wm.selection.send(ToBridge::Paste(kind, mime, fd)),
        // Xwayland is gone: the client reads an empty pipe.
        None => drop(fd),
    }
}

/// Carries out what the bridge asks.
pub fn from_bridge(state: &mut State, message: FromBridge) {
    match message {
        FromBridge::X11Offers(kind, types) => {
            if let Some(xwayland) = state.xwayland.as_mut() {
                xwayland.wayland_offers[slot(kind)] = None;
            }
            let (display, seat) = (&state.display, &state.seat);
            match (kind, types.is_empty()) {
                (SelectionTarget::Clipboard, false) => {
                    set_data_device_selection(display, seat, types, X11Offer)
                }
                (SelectionTarget::Primary, false) => {
                    set_primary_selection(display, seat, types, X11Offer)
                }
                (SelectionTarget::Clipboard, true) => {
                    if current_data_device_selection_userdata(seat).is_some() {
                        clear_data_device_selection(display, seat);
                    }
                }
                (SelectionTarget::Primary, true) => {
                    if current_primary_selection_userdata(seat).is_some() {
                        clear_primary_selection(display, seat);
                    }
                }
            }
        }
        FromBridge::ReadWayland(kind, mime, fd) => {
            let seat = &state.seat;
            let requested = match kind {
                SelectionTarget::Clipboard => {
                    request_data_device_client_selection(seat, mime, fd).map_err(|e| e.to_string())
                }
                SelectionTarget::Primary => {
                    request_primary_client_selection(seat, mime, fd).map_err(|e| e.to_string())
                }
            };
            if let Err(err) = requested {
                tracing::debug!(?kind, %err, "an X11 program asked for a selection no Wayland client holds");
            }
        }
        FromBridge::EventsWaiting => {}
    }
}
