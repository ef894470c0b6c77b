//! What clients say about how their surfaces should be presented: wp_content_type_v1 (photo,
//! video, game: smithay keeps it in the surface's cached state) and wp_tearing_control_v1 (a
//! game that prefers an asynchronous page flip, with tearing, to waiting for vblank: kept here,
//! double-buffered with the surface's commits). `msg windows` shows both for each window
//! ([`content_type`], [`presentation_hint`]).
//!
//! Neither changes how a frame is drawn yet. The TTY backend presents every frame at vblank:
//! smithay 0.7's DRM compositor queues no asynchronous page flip, so a surface's `async` hint is
//! recorded and reported, not honoured.
//!
//! `State::new` creates both globals; the tearing-control objects' dispatch is here.

use std::sync::Mutex;

use smithay::reexports::wayland_protocols::wp::content_type::v1::server::wp_content_type_v1;
use smithay::reexports::wayland_protocols::wp::tearing_control::v1::server::{
    wp_tearing_control_manager_v1::{self, WpTearingControlManagerV1},
    wp_tearing_control_v1::{self, PresentationHint, WpTearingControlV1},
};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, Weak,
};
use smithay::wayland::compositor::{with_states, Cacheable};
use smithay::wayland::content_type::ContentTypeSurfaceCachedState;

use crate::state::State;

smithay::delegate_content_type!(State);

/// The tearing hint of a surface, as committed: vsync unless the client asked otherwise.
#[derive(Debug, Clone, Copy, Default)]
pub struct TearingHint {
    asynchronous: bool,
}

impl Cacheable for TearingHint {
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        *self
    }

    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        *into = self;
    }
}

/// Marks a surface that has a tearing-control object (a second one is a protocol error).
struct HasTearingControl(Mutex<bool>);

/// The tearing-control global; `State` keeps it alive.
pub struct TearingControlState;

impl TearingControlState {
    pub fn new(display: &DisplayHandle) -> TearingControlState {
        display.create_global::<State, WpTearingControlManagerV1, ()>(1, ());
        TearingControlState
    }
}

/// The content type `surface`'s client gave it: "none", "photo", "video" or "game".
pub fn content_type(surface: &WlSurface) -> &'static str {
    with_states(surface, |states| {
        match states
            .cached_state
            .get::<ContentTypeSurfaceCachedState>()
            .current()
            .content_type()
        {
            wp_content_type_v1::Type::Photo => "photo",
            wp_content_type_v1::Type::Video => "video",
            wp_content_type_v1::Type::Game => "game",
            _ => "none",
        }
    })
}

/// How `surface`'s client wants it presented: "vsync" or "async".
pub fn presentation_hint(surface: &WlSurface) -> &'static str {
    let asynchronous = with_states(surface, |states| {
        states
            .cached_state
            .get::<TearingHint>()
            .current()
            .asynchronous
    });
    if asynchronous {
        "async"
    } else {
        "vsync"
    }
}

impl GlobalDispatch<WpTearingControlManagerV1, ()> for State {
    fn bind(
        _: &mut State,
        _: &DisplayHandle,
        _: &Client,
        manager: New<WpTearingControlManagerV1>,
        _: &(),
        init: &mut DataInit<'_, State>,
    ) {
        init.init(manager, ());
    }
}

impl Dispatch<WpTearingControlManagerV1, ()> for State {
    fn request(
        _: &mut State,
        _: &Client,
        manager: &WpTearingControlManagerV1,
        request: wp_tearing_control_manager_v1::Request,
        _: &(),
        _: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        if let wp_tearing_control_manager_v1::Request::GetTearingControl { id, surface } = request {
            let taken = with_states(&surface, |states| {
                states
                    .data_map
                    .insert_if_missing_threadsafe(|| HasTearingControl(Mutex::new(false)));
                states
                    .data_map
                    .get::<HasTearingControl>()
                    .and_then(|has| {
                        has.0
                            .lock()
                            .ok()
                            .map(|mut has| std::mem::replace(&mut *has, true))
                    })
                    .unwrap_or(true)
            });
            if taken {
                manager.post_error(
                    wp_tearing_control_manager_v1::Error::TearingControlExists,
                    "the surface already has a tearing-control object",
                );
                return;
            }
            init.init(id, surface.downgrade());
        }
    }
}

impl Dispatch<WpTearingControlV1, Weak<WlSurface>> for State {
    fn request(
        _: &mut State,
        _: &Client,
        _: &WpTearingControlV1,
        request: wp_tearing_control_v1::Request,
        surface: &Weak<WlSurface>,
        _: &DisplayHandle,
        _: &mut DataInit<'_, State>,
    ) {
        let Ok(surface) = surface.upgrade() else {
            return;
        };
        let asynchronous = match request {
            wp_tearing_control_v1::Request::SetPresentationHint { hint } => {
                matches!(hint.into_result(), Ok(PresentationHint::Async))
            }
            // Destroyed: back to vsync with the next commit, and a new object may be made.
            _ => {
                with_states(&surface, |states| {
                    if let Some(has) = states.data_map.get::<HasTearingControl>() {
                        if let Ok(mut has) = has.0.lock() {
                            *has = false;
                        }
                    }
                });
                false
            }
        };
        with_states(&surface, |states| {
            states
                .cached_state
                .get::<TearingHint>()
                .pending()
                .asynchronous = asynchronous;
        });
    }
}
