//! ext-image-copy-capture pointer cursor sessions: the pointer's image over an output captured
//! on its own, and where the pointer is as the session says (`enter`, `leave`, `position`,
//! `hotspot`). `tandem-test-client --capture N --capture-protocol ext --capture-pointer` uses
//! it.

use wayland_client::protocol::wl_pointer::WlPointer;
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_client::{delegate_noop, Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_cursor_session_v1::{
    self, ExtImageCopyCaptureCursorSessionV1,
};

use crate::image_copy::{release_source, ExtSession, ExtSource, SessionState, Shared};
use crate::{Globals, TestClient};

/// What a cursor session said.
#[derive(Debug, Default, Clone)]
pub struct CursorState {
    pub entered: u32,
    pub left: u32,
    pub position: Option<(i32, i32)>,
    pub hotspot: Option<(i32, i32)>,
}

/// A cursor session, its capture session, and the seat and pointer it was made for.
pub struct CursorSession {
    cursor: ExtImageCopyCaptureCursorSessionV1,
    pub session: ExtSession,
    events: Shared<CursorState>,
    pointer: WlPointer,
    seat: WlSeat,
}

impl CursorSession {
    /// What it said so far.
    pub fn state(&self) -> CursorState {
        self.events.with(|state| state.clone())
    }
}

impl Drop for CursorSession {
    fn drop(&mut self) {
        self.cursor.destroy();
        if self.pointer.version() >= 3 {
            self.pointer.release();
        }
        if self.seat.version() >= 5 {
            self.seat.release();
        }
    }
}

impl TestClient {
    /// A cursor session of the seat's pointer over `source`, with its capture session; waits
    /// for that session's first constraints or `stopped` (10 s).
    pub fn ext_pointer_session(&mut self, source: &ExtSource) -> Result<CursorSession, String> {
        let qh = self.qh();
        let manager = self
            .globals
            .image_copy
            .clone()
            .ok_or("no ext_image_copy_capture_manager_v1")?;
        let (name, version) = self.globals.seat_global.ok_or("no wl_seat")?;
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let seat: WlSeat = registry.bind(name, version.min(5), &qh, ());
        let pointer = seat.get_pointer(&qh, ());
        let (capture_source, bound_output) = self.capture_source(source)?;
        let events = Shared::<CursorState>::default();
        let cursor =
            manager.create_pointer_cursor_session(&capture_source, &pointer, &qh, events.clone());
        release_source(capture_source, bound_output);
        let session_events = Shared::<SessionState>::default();
        let session = cursor.get_capture_session(&qh, session_events.clone());
        let session = ExtSession {
            session,
            events: session_events,
        };
        self.await_constraints(&session)?;
        Ok(CursorSession {
            cursor,
            session,
            events,
            pointer,
            seat,
        })
    }
}

impl Dispatch<ExtImageCopyCaptureCursorSessionV1, Shared<CursorState>> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureCursorSessionV1,
        event: ext_image_copy_capture_cursor_session_v1::Event,
        events: &Shared<CursorState>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use ext_image_copy_capture_cursor_session_v1::Event;
        events.with(|state| match event {
            Event::Enter => state.entered += 1,
            Event::Leave => state.left += 1,
            Event::Position { x, y } => state.position = Some((x, y)),
            Event::Hotspot { x, y } => state.hotspot = Some((x, y)),
            _ => {}
        });
    }
}

delegate_noop!(Globals: ignore WlSeat);
delegate_noop!(Globals: ignore WlPointer);
