//! ext-image-copy-capture-v1's pointer cursor sessions: the pointer's image captured on its own
//! (the frames of a capture session whose scene is [`Scene::Pointer`](super::Scene::Pointer)),
//! and where the pointer is over the session's source: `enter` and `leave` as it comes and
//! goes, `position` (physical, from the source's top-left corner) and `hotspot` as they change.
//!
//! Made by image_copy's manager (`create_pointer_cursor_session`) and kept in
//! [`CursorSessions`] (`Captures::cursor_sessions`); [`update`] sends their events after each
//! output's frame (the pointer moving asks for one).

use std::sync::Mutex;

use smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::ext_image_copy_capture_cursor_session_v1::{
    self, ExtImageCopyCaptureCursorSessionV1,
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};
use smithay::utils::{Physical, Point};

use super::image_copy::{start_session, SessionData};
use super::sources::Source;
use crate::state::State;

/// The live cursor sessions.
#[derive(Default)]
pub struct CursorSessions {
    sessions: Vec<CursorSession>,
}

/// One cursor session and what its client was last told.
struct CursorSession {
    resource: ExtImageCopyCaptureCursorSessionV1,
    source: Source,
    inside: bool,
    position: Option<Point<i32, Physical>>,
    hotspot: Option<Point<i32, Physical>>,
}

/// A cursor session object's data: its source, and whether its capture session was made.
pub struct CursorSessionData {
    source: Source,
    session_made: Mutex<bool>,
}

impl CursorSessionData {
    pub fn new(source: Source) -> CursorSessionData {
        CursorSessionData {
            source,
            session_made: Mutex::new(false),
        }
    }
}

/// Keeps a new cursor session; its first events come with the next frame.
pub fn start(state: &mut State, resource: ExtImageCopyCaptureCursorSessionV1, source: Source) {
    state.captures.cursor_sessions.sessions.push(CursorSession {
        resource,
        source,
        inside: false,
        position: None,
        hotspot: None,
    });
    state.redraw_requested = true;
}

/// Tells each cursor session's client where the pointer is over its source now.
pub fn update(state: &mut State) {
    if state.captures.cursor_sessions.sessions.is_empty() {
        return;
    }
    let pointer = state.pointer_location;
    let (_, hotspot) = state.pointer_image.image_geometry(&state.cursor_status);
    let hotspot = Point::<i32, Physical>::from((hotspot.x, hotspot.y));
    let mut sessions = std::mem::take(&mut state.captures.cursor_sessions.sessions);
    sessions.retain(|session| session.resource.is_alive());
    for session in &mut sessions {
        let Some(position) = session.source.pointer_position(state, pointer) else {
            if session.inside {
                session.resource.leave();
                session.inside = false;
            }
            continue;
        };
        if !session.inside {
            session.resource.enter();
            session.inside = true;
            session.position = None;
            session.hotspot = None;
        }
        if session.position != Some(position) {
            session.resource.position(position.x, position.y);
            session.position = Some(position);
        }
        if session.hotspot != Some(hotspot) {
            session.resource.hotspot(hotspot.x, hotspot.y);
            session.hotspot = Some(hotspot);
        }
    }
    state.captures.cursor_sessions.sessions = sessions;
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, CursorSessionData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        cursor_session: &ExtImageCopyCaptureCursorSessionV1,
        request: ext_image_copy_capture_cursor_session_v1::Request,
        data: &CursorSessionData,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let ext_image_copy_capture_cursor_session_v1::Request::GetCaptureSession { session } =
            request
        {
            let mut made = data.session_made.lock().unwrap_or_else(|p| p.into_inner());
            if *made {
                cursor_session.post_error(
                    ext_image_copy_capture_cursor_session_v1::Error::DuplicateSession,
                    "get_capture_session was already sent",
                );
                return;
            }
            *made = true;
            drop(made);
            let session = data_init.init(session, SessionData::default());
            start_session(state, session, data.source.clone(), false, true);
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        cursor_session: &ExtImageCopyCaptureCursorSessionV1,
        _data: &CursorSessionData,
    ) {
        state
            .captures
            .cursor_sessions
            .sessions
            .retain(|kept| kept.resource != *cursor_session);
    }
}
