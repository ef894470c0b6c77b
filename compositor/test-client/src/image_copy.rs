//! An ext-image-copy-capture client: a session of an output (ext-output-image-capture-source)
//! or of a window found by its app id in ext-foreign-toplevel-list (ext-foreign-toplevel-
//! image-capture-source), frames captured into shm or a memfd dmabuf of a chosen GPU.
//! `tandem-test-client --capture N --capture-protocol ext` and the compositor's capture tests
//! use it; the hostile capture cases use its sessions with buffers that do not fit.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_output::WlOutput;
use wayland_client::{event_created_child, Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::ext::foreign_toplevel_list::v1::client::{
    ext_foreign_toplevel_handle_v1::{self, ExtForeignToplevelHandleV1},
    ext_foreign_toplevel_list_v1::{self, ExtForeignToplevelListV1},
};
use wayland_protocols::ext::image_capture_source::v1::client::{
    ext_foreign_toplevel_image_capture_source_manager_v1::ExtForeignToplevelImageCaptureSourceManagerV1,
    ext_image_capture_source_v1::ExtImageCaptureSourceV1,
    ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1,
};
use wayland_protocols::ext::image_copy_capture::v1::client::{
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};

use crate::formats::{ARGB8888, XRGB8888};
use crate::screencopy::{CaptureBuffer, CaptureInto, Captured};
use crate::{Globals, TestClient};

/// What an ext capture session captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtSource {
    /// The compositor's output N, in the order announced.
    Output(usize),
    /// The window whose app id is this, as ext-foreign-toplevel-list names it.
    Toplevel(String),
}

/// A window ext-foreign-toplevel-list announced.
#[derive(Debug, Default, Clone)]
pub struct ListedToplevel {
    pub title: String,
    pub app_id: String,
    pub closed: bool,
}

/// What a session heard.
#[derive(Debug, Default)]
pub struct SessionState {
    /// (width, height) of the last complete batch of constraints.
    size: Option<(u32, u32)>,
    pending_size: Option<(u32, u32)>,
    shm_formats: Vec<u32>,
    dmabuf_formats: Vec<u32>,
    /// Batches of constraints completed (`done`).
    batches: u32,
    stopped: bool,
}

/// What a frame heard.
#[derive(Debug, Default)]
pub struct FrameState {
    ready: bool,
    failed: Option<u32>,
    damage: Vec<(u32, u32, u32, u32)>,
}

/// A session's events, as its dispatch records them.
pub type SessionEvents = Shared<SessionState>;
/// A frame's events, as its dispatch records them.
pub type FrameEvents = Shared<FrameState>;

/// Events shared between a session or frame object and its dispatch.
#[derive(Debug, Default)]
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> Shared<T> {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A capture session and what it said.
pub struct ExtSession {
    pub session: ExtImageCopyCaptureSessionV1,
    pub(crate) events: Shared<SessionState>,
}

impl ExtSession {
    /// The buffer size its constraints name now.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.events.with(|s| s.size)
    }

    /// Whether it was stopped.
    pub fn stopped(&self) -> bool {
        self.events.with(|s| s.stopped)
    }

    /// How many batches of constraints it received.
    pub fn batches(&self) -> u32 {
        self.events.with(|s| s.batches)
    }
}

impl Drop for ExtSession {
    fn drop(&mut self) {
        self.session.destroy();
    }
}

/// Destroys a source once a session names it, and releases the output bound for it.
pub(crate) fn release_source(source: ExtImageCaptureSourceV1, output: Option<WlOutput>) {
    source.destroy();
    if let Some(output) = output {
        if output.version() >= 3 {
            output.release();
        }
    }
}

/// A damaged rectangle: x, y, width, height.
pub type Damage = (u32, u32, u32, u32);

/// How a frame ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameOutcome {
    Ready,
    /// `failed` with this reason (0 unknown, 1 buffer constraints, 2 stopped).
    Failed(u32),
    /// Neither within the time given.
    Waiting,
}

impl TestClient {
    /// The windows ext-foreign-toplevel-list lists now (binds the list the first time).
    pub fn listed_toplevels(&mut self) -> Result<Vec<ListedToplevel>, String> {
        if self.globals.toplevel_list.is_none() {
            let (name, version) = self
                .globals
                .toplevel_list_global
                .ok_or("no ext_foreign_toplevel_list_v1")?;
            let registry = self.globals.registry.clone().ok_or("no registry")?;
            let qh = self.qh();
            self.globals.toplevel_list = Some(registry.bind(name, version.min(1), &qh, ()));
        }
        self.roundtrip()?;
        self.roundtrip()?;
        Ok(self
            .globals
            .toplevels
            .iter()
            .map(|(_, listed)| listed.clone())
            .filter(|listed| !listed.closed)
            .collect())
    }

    /// Starts a session of `source` (the pointer drawn in when `paint_cursors`) and waits for
    /// its first constraints or `stopped` (10 s).
    pub fn ext_session(
        &mut self,
        source: &ExtSource,
        paint_cursors: bool,
    ) -> Result<ExtSession, String> {
        let qh = self.qh();
        let manager = self
            .globals
            .image_copy
            .clone()
            .ok_or("no ext_image_copy_capture_manager_v1")?;
        let (capture_source, bound_output) = self.capture_source(source)?;
        let options = if paint_cursors {
            ext_image_copy_capture_manager_v1::Options::PaintCursors
        } else {
            ext_image_copy_capture_manager_v1::Options::empty()
        };
        let events = Shared::<SessionState>::default();
        let session = manager.create_session(&capture_source, options, &qh, events.clone());
        // The session names its source when it is made; the source object is needed no more.
        release_source(capture_source, bound_output);
        let session = ExtSession { session, events };
        self.await_constraints(&session)?;
        Ok(session)
    }

    /// An image capture source of `source`, and the output bound for it.
    pub(crate) fn capture_source(
        &mut self,
        source: &ExtSource,
    ) -> Result<(ExtImageCaptureSourceV1, Option<WlOutput>), String> {
        let qh = self.qh();
        let mut bound_output: Option<WlOutput> = None;
        let capture_source: ExtImageCaptureSourceV1 = match source {
            ExtSource::Output(index) => {
                let sources = self
                    .globals
                    .output_sources
                    .clone()
                    .ok_or("no ext_output_image_capture_source_manager_v1")?;
                let (name, version) = *self
                    .globals
                    .output_globals
                    .get(*index)
                    .ok_or_else(|| format!("no output {index}"))?;
                let registry = self.globals.registry.clone().ok_or("no registry")?;
                let output: WlOutput = registry.bind(name, version.min(3), &qh, ());
                let made = sources.create_source(&output, &qh, ());
                bound_output = Some(output);
                made
            }
            ExtSource::Toplevel(app_id) => {
                self.listed_toplevels()?;
                let handle = self
                    .globals
                    .toplevels
                    .iter()
                    .find(|(_, listed)| listed.app_id == *app_id && !listed.closed)
                    .map(|(handle, _)| handle.clone())
                    .ok_or_else(|| format!("no window with app id {app_id} is listed"))?;
                let sources = self
                    .globals
                    .toplevel_sources
                    .clone()
                    .ok_or("no ext_foreign_toplevel_image_capture_source_manager_v1")?;
                sources.create_source(&handle, &qh, ())
            }
        };
        Ok((capture_source, bound_output))
    }

    /// Waits for `session`'s first constraints or `stopped` (10 s).
    pub(crate) fn await_constraints(&mut self, session: &ExtSession) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while session.batches() == 0 && !session.stopped() {
            if Instant::now() >= deadline {
                return Err("no constraints within 10 s".into());
            }
            self.roundtrip()?;
        }
        Ok(())
    }

    /// Captures one frame of `session` into `buffer` (made now as `into` says when `None` or no
    /// longer the size the constraints name), the whole buffer damaged when it is new; waits
    /// up to `wait` for `ready` or `failed`.
    pub fn ext_capture(
        &mut self,
        session: &ExtSession,
        into: CaptureInto,
        buffer: &mut Option<CaptureBuffer>,
        wait: Duration,
    ) -> Result<(FrameOutcome, Captured), String> {
        let (width, height) = session.size().ok_or("the session named no size")?;
        let size = (width as i32, height as i32);
        let fits = buffer.as_ref().is_some_and(|b| b.matches(into, size));
        let fresh = !fits;
        if fresh {
            // XRGB8888 where offered, else ARGB8888 (the pointer's image alone).
            let (offered, wanted) = match into {
                // wl_shm's XRGB8888 is 1, its ARGB8888 0.
                CaptureInto::Shm => (session.events.with(|s| s.shm_formats.clone()), [1, 0]),
                CaptureInto::Dmabuf { .. } => (
                    session.events.with(|s| s.dmabuf_formats.clone()),
                    [XRGB8888, ARGB8888],
                ),
            };
            let format = wanted
                .into_iter()
                .find(|format| offered.contains(format))
                .ok_or_else(|| format!("neither XRGB8888 nor ARGB8888 offered: {offered:?}"))?;
            *buffer = Some(self.capture_buffer(into, format, size)?);
        }
        let target = buffer.as_ref().ok_or("no buffer")?;
        self.ext_capture_with(session, target.wl_buffer(), fresh.then_some(size), wait)
            .map(|(outcome, damage)| {
                (
                    outcome,
                    Captured {
                        width,
                        height,
                        damage,
                    },
                )
            })
    }

    /// One frame of `session` into `buffer`, with the whole of `damage_whole` (a size)
    /// damaged when given; waits up to `wait`. The frame is destroyed before this returns.
    pub fn ext_capture_with(
        &mut self,
        session: &ExtSession,
        buffer: &wayland_client::protocol::wl_buffer::WlBuffer,
        damage_whole: Option<(i32, i32)>,
        wait: Duration,
    ) -> Result<(FrameOutcome, Vec<Damage>), String> {
        let qh = self.qh();
        let events = Shared::<FrameState>::default();
        let frame = session.session.create_frame(&qh, events.clone());
        frame.attach_buffer(buffer);
        if let Some((w, h)) = damage_whole {
            frame.damage_buffer(0, 0, w, h);
        }
        frame.capture();
        let deadline = Instant::now() + wait;
        let outcome = loop {
            self.roundtrip()?;
            let (ready, failed) = events.with(|s| (s.ready, s.failed));
            if ready {
                break FrameOutcome::Ready;
            }
            if let Some(reason) = failed {
                break FrameOutcome::Failed(reason);
            }
            if Instant::now() >= deadline {
                break FrameOutcome::Waiting;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        frame.destroy();
        self.roundtrip()?;
        Ok((outcome, events.with(|s| std::mem::take(&mut s.damage))))
    }
}

impl Dispatch<ExtImageCopyCaptureManagerV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureManagerV1,
        _: ext_image_copy_capture_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ExtOutputImageCaptureSourceManagerV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtOutputImageCaptureSourceManagerV1,
        _: <ExtOutputImageCaptureSourceManagerV1 as Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ExtForeignToplevelImageCaptureSourceManagerV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtForeignToplevelImageCaptureSourceManagerV1,
        _: <ExtForeignToplevelImageCaptureSourceManagerV1 as Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ExtImageCaptureSourceV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtImageCaptureSourceV1,
        _: <ExtImageCaptureSourceV1 as Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ExtImageCopyCaptureSessionV1, Shared<SessionState>> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureSessionV1,
        event: ext_image_copy_capture_session_v1::Event,
        events: &Shared<SessionState>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        events.with(|state| match event {
            ext_image_copy_capture_session_v1::Event::BufferSize { width, height } => {
                state.pending_size = Some((width, height));
            }
            ext_image_copy_capture_session_v1::Event::ShmFormat { format } => {
                let format = match format {
                    wayland_client::WEnum::Value(format) => format as u32,
                    wayland_client::WEnum::Unknown(raw) => raw,
                };
                if !state.shm_formats.contains(&format) {
                    state.shm_formats.push(format);
                }
            }
            ext_image_copy_capture_session_v1::Event::DmabufFormat { format, .. }
                if !state.dmabuf_formats.contains(&format) =>
            {
                state.dmabuf_formats.push(format);
            }
            ext_image_copy_capture_session_v1::Event::Done => {
                state.size = state.pending_size;
                state.batches += 1;
            }
            ext_image_copy_capture_session_v1::Event::Stopped => state.stopped = true,
            _ => {}
        });
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, Shared<FrameState>> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtImageCopyCaptureFrameV1,
        event: ext_image_copy_capture_frame_v1::Event,
        events: &Shared<FrameState>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        events.with(|state| match event {
            ext_image_copy_capture_frame_v1::Event::Ready => state.ready = true,
            ext_image_copy_capture_frame_v1::Event::Failed { reason } => {
                state.failed = Some(match reason {
                    wayland_client::WEnum::Value(reason) => reason as u32,
                    wayland_client::WEnum::Unknown(raw) => raw,
                });
            }
            ext_image_copy_capture_frame_v1::Event::Damage {
                x,
                y,
                width,
                height,
            } => state.damage.push((
                x.max(0) as u32,
                y.max(0) as u32,
                width.max(0) as u32,
                height.max(0) as u32,
            )),
            _ => {}
        });
    }
}

impl Dispatch<ExtForeignToplevelListV1, ()> for Globals {
    fn event(
        state: &mut Self,
        _: &ExtForeignToplevelListV1,
        event: ext_foreign_toplevel_list_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let ext_foreign_toplevel_list_v1::Event::Toplevel { toplevel } = event {
            state.toplevels.push((toplevel, ListedToplevel::default()));
        }
    }

    event_created_child!(Globals, ExtForeignToplevelListV1, [
        ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ExtForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ExtForeignToplevelHandleV1, ()> for Globals {
    fn event(
        state: &mut Self,
        handle: &ExtForeignToplevelHandleV1,
        event: ext_foreign_toplevel_handle_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some((_, listed)) = state.toplevels.iter_mut().find(|(h, _)| h == handle) else {
            return;
        };
        match event {
            ext_foreign_toplevel_handle_v1::Event::Title { title } => listed.title = title,
            ext_foreign_toplevel_handle_v1::Event::AppId { app_id } => listed.app_id = app_id,
            ext_foreign_toplevel_handle_v1::Event::Closed => listed.closed = true,
            _ => {}
        }
    }
}
