//! The event loop's side of the X11 selection bridge (`selection`): it tells the bridge what
//! Wayland clients copy, has `protocols::selection` hold the Wayland selection for what X11
//! programs copy, and hands it the pipes through which the bridge reads Wayland clients' data.
//!
//! `protocols::selection` calls [`wayland_selection`] on every Wayland selection change and
//! [`paste_from_x11`] when a Wayland client reads an X11 program's selection; `wm::Wm::start` routes the
//! bridge's requests to [`from_bridge`] and calls [`announce`] once the bridge runs, so a
//! selection made before Xwayland started reaches X11 programs too. `Xwayland::wayland_offers`
//! keeps what Wayland clients offer across Xwayland restarts.

use std::os::fd::OwnedFd;

use smithay::wayland::selection::SelectionTarget;

use super::selection::{slot, FromBridge, ToBridge};
use crate::protocols::selection;
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
            if types.is_empty() {
                selection::release_x11(state, kind);
            } else {
                selection::hold_x11(state, kind, types);
            }
        }
        FromBridge::ReadWayland(kind, mime, fd) => selection::read(state, kind, mime, fd),
        FromBridge::EventsWaiting => {}
    }
}
