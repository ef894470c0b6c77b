//! ext-image-copy-capture-v1: capture sessions of an output or a window
//! ([`sources`](super::sources)) into shm or dmabuf buffers, frame after frame.
//!
//! A session tells its client the buffer constraints (the source's size; XRGB8888 and ARGB8888
//! shm; an XRGB8888 dmabuf, with the render GPU's device and modifiers for DRM GPUs, linear
//! for software GPUs) and tells them again when the source's size changes. Its first frame is
//! copied at the next frame of its output (any output's for a window), the following ones at
//! the first frame that changed what the previous one showed, with exactly the rectangles that
//! changed as damage; the pointer is drawn in when the session was made with `paint_cursors`
//! (outputs). Into shm only the union of that damage and the client's own `damage_buffer` is
//! written. A source gone stops its sessions (`stopped`; a waiting frame fails with
//! `stopped`). A buffer that does not fit the constraints fails its frame with
//! `buffer_constraints`; the protocol's errors answer a frame captured twice, without a
//! buffer, or with damage of no size.
//!
//! The capture session of a pointer cursor session ([`cursor_session`](super::cursor_session))
//! captures the pointer's image alone: ARGB8888 shm and dmabufs, transparent where the image
//! is, the size of the image, named again when the image changes size.
//!
//! Sessions and waiting frames live in [`Sessions`] (`Captures::image_copy`); served by
//! [`serve`] after each output's frame.

use std::sync::Mutex;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::Bind;
use smithay::reexports::wayland_protocols::ext::image_copy_capture::v1::server::{
    ext_image_copy_capture_frame_v1::{self, ExtImageCopyCaptureFrameV1, FailureReason},
    ext_image_copy_capture_manager_v1::{self, ExtImageCopyCaptureManagerV1},
    ext_image_copy_capture_session_v1::{self, ExtImageCopyCaptureSessionV1},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_output, wl_shm};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::{Monotonic, Physical, Rectangle, Size, Transform};
use tandem::{GpuId, TandemError};

use super::cursor_session::{self, CursorSessionData};
use super::screencopy::{checked_target, Copied, Target};
use super::sources::Source;
use super::{copy_to_dmabuf, copy_to_shm, LastFrame, Scene};
use crate::output_registry::OutputInfo;
use crate::state::State;

/// Creates the global.
pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ExtImageCopyCaptureManagerV1, ()>(1, ());
}

/// The live sessions and the frames waiting to be copied.
#[derive(Default)]
pub struct Sessions {
    sessions: Vec<Session>,
    waiting: Vec<WaitingFrame>,
}

/// One session, as the compositor keeps it.
struct Session {
    resource: ExtImageCopyCaptureSessionV1,
    source: Source,
    paint_cursors: bool,
    /// The capture session of a cursor session: the pointer's image alone.
    pointer: bool,
    /// The size its constraints last named.
    size: Size<i32, Physical>,
    /// The render GPU its constraints last named.
    render: Option<GpuId>,
    /// What the last frame showed; `None` until the first is copied (it carries full damage).
    tracker: Option<OutputDamageTracker>,
    stopped: bool,
}

impl Session {
    /// What its frames copy now (`None`: its source is gone).
    fn scene(&self, state: &State) -> Option<Scene> {
        let scene = self.source.scene(state, self.paint_cursors)?;
        Some(if self.pointer {
            Scene::pointer_of(state, &scene)
        } else {
            scene
        })
    }
}

/// A frame whose `capture` came, waiting for its source's next change.
struct WaitingFrame {
    frame: ExtImageCopyCaptureFrameV1,
    session: ExtImageCopyCaptureSessionV1,
    target: Target,
    /// What the client says changed in its buffer since it last held a capture.
    client_damage: Vec<Rectangle<i32, Physical>>,
}

/// A session object's data: whether it has a frame now (at most one may exist).
#[derive(Default)]
pub struct SessionData {
    frame: Mutex<Option<ExtImageCopyCaptureFrameV1>>,
}

/// A frame object's data.
pub struct FrameData {
    session: ExtImageCopyCaptureSessionV1,
    requests: Mutex<FrameRequests>,
}

/// What a frame's client asked for before `capture`.
#[derive(Default)]
struct FrameRequests {
    buffer: Option<WlBuffer>,
    damage: Vec<Rectangle<i32, Physical>>,
    captured: bool,
}

impl GlobalDispatch<ExtImageCopyCaptureManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ExtImageCopyCaptureManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtImageCopyCaptureManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        manager: &ExtImageCopyCaptureManagerV1,
        request: ext_image_copy_capture_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            ext_image_copy_capture_manager_v1::Request::CreateSession {
                session,
                source,
                options,
            } => {
                let paint_cursors = match options {
                    WEnum::Value(options) => {
                        options.contains(ext_image_copy_capture_manager_v1::Options::PaintCursors)
                    }
                    WEnum::Unknown(bits) => {
                        manager.post_error(
                            ext_image_copy_capture_manager_v1::Error::InvalidOption,
                            format!("unknown options {bits:#x}"),
                        );
                        return;
                    }
                };
                let source = source.data::<Source>().cloned().unwrap_or(Source::Gone);
                let session = data_init.init(session, SessionData::default());
                start_session(state, session, source, paint_cursors, false);
            }
            ext_image_copy_capture_manager_v1::Request::CreatePointerCursorSession {
                session,
                source,
                pointer: _,
            } => {
                // One seat, one pointer: every wl_pointer names it.
                let source = source.data::<Source>().cloned().unwrap_or(Source::Gone);
                let session = data_init.init(session, CursorSessionData::new(source.clone()));
                cursor_session::start(state, session, source);
            }
            _ => {}
        }
    }
}

/// Sends a new session its constraints (or `stopped` when its source is gone) and keeps it;
/// `pointer` for a cursor session's, which captures the pointer's image over `source`.
pub(super) fn start_session(
    state: &mut State,
    resource: ExtImageCopyCaptureSessionV1,
    source: Source,
    paint_cursors: bool,
    pointer: bool,
) {
    let mut session = Session {
        resource,
        source,
        paint_cursors,
        pointer,
        size: Size::default(),
        render: None,
        tracker: None,
        stopped: false,
    };
    match session.scene(state) {
        Some(scene) => send_constraints(state, &mut session, &scene),
        None => {
            session.stopped = true;
            session.resource.stopped();
        }
    }
    state.captures.image_copy.sessions.push(session);
}

/// Tells `session`'s client the buffers a capture of `scene` takes.
fn send_constraints(state: &mut State, session: &mut Session, scene: &Scene) {
    let size = scene.size();
    let render = scene.render_gpu();
    let resource = &session.resource;
    // The pointer's image has alpha of its own: only formats that keep it.
    let (shm_formats, fourcc): (&[wl_shm::Format], Fourcc) = if scene.has_alpha() {
        (&[wl_shm::Format::Argb8888], Fourcc::Argb8888)
    } else {
        (
            &[wl_shm::Format::Xrgb8888, wl_shm::Format::Argb8888],
            Fourcc::Xrgb8888,
        )
    };
    for format in shm_formats {
        resource.shm_format(*format);
    }
    let modifiers: Vec<u8> = match render {
        GpuId::Drm(node) => {
            resource.dmabuf_device(node.dev_id().to_ne_bytes().to_vec());
            render_modifiers(state, render, fourcc)
        }
        _ => vec![Modifier::Linear],
    }
    .into_iter()
    .flat_map(|modifier| u64::from(modifier).to_ne_bytes())
    .collect();
    resource.dmabuf_format(fourcc as u32, modifiers);
    resource.buffer_size(size.w.max(0) as u32, size.h.max(0) as u32);
    resource.done();
    session.size = size;
    session.render = Some(render);
    session.tracker = None;
}

/// The modifiers `gpu` renders `fourcc` into (linear when it names none).
fn render_modifiers(state: &mut State, gpu: GpuId, fourcc: Fourcc) -> Vec<Modifier> {
    let formats = state
        .gpus
        .renderer(gpu)
        .ok()
        .and_then(|renderer| Bind::<Dmabuf>::supported_formats(&renderer));
    let mut modifiers: Vec<Modifier> = formats
        .iter()
        .flat_map(|formats| formats.iter())
        .filter(|format| format.code == fourcc && format.modifier != Modifier::Invalid)
        .map(|format| format.modifier)
        .collect();
    if modifiers.is_empty() {
        modifiers.push(Modifier::Linear);
    }
    modifiers
}

impl Dispatch<ExtImageCopyCaptureSessionV1, SessionData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        session: &ExtImageCopyCaptureSessionV1,
        request: ext_image_copy_capture_session_v1::Request,
        data: &SessionData,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let ext_image_copy_capture_session_v1::Request::CreateFrame { frame } = request {
            let mut current = data.frame.lock().unwrap_or_else(|p| p.into_inner());
            if current.as_ref().is_some_and(|frame| frame.is_alive()) {
                session.post_error(
                    ext_image_copy_capture_session_v1::Error::DuplicateFrame,
                    "the session's previous frame was not destroyed",
                );
                return;
            }
            let frame = data_init.init(
                frame,
                FrameData {
                    session: session.clone(),
                    requests: Mutex::default(),
                },
            );
            *current = Some(frame);
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        session: &ExtImageCopyCaptureSessionV1,
        _data: &SessionData,
    ) {
        let sessions = &mut state.captures.image_copy;
        sessions.sessions.retain(|kept| kept.resource != *session);
        // Its frames live on, but there is nothing left to capture for them.
        let (orphans, waiting) = std::mem::take(&mut sessions.waiting)
            .into_iter()
            .partition(|waiting| waiting.session == *session);
        sessions.waiting = waiting;
        for orphan in orphans {
            orphan.frame.failed(FailureReason::Stopped);
        }
    }
}

impl Dispatch<ExtImageCopyCaptureFrameV1, FrameData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        frame: &ExtImageCopyCaptureFrameV1,
        request: ext_image_copy_capture_frame_v1::Request,
        data: &FrameData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        let mut requests = data.requests.lock().unwrap_or_else(|p| p.into_inner());
        let already = |frame: &ExtImageCopyCaptureFrameV1| {
            frame.post_error(
                ext_image_copy_capture_frame_v1::Error::AlreadyCaptured,
                "this frame was already captured",
            )
        };
        match request {
            ext_image_copy_capture_frame_v1::Request::AttachBuffer { buffer } => {
                if requests.captured {
                    return already(frame);
                }
                requests.buffer = Some(buffer);
            }
            ext_image_copy_capture_frame_v1::Request::DamageBuffer {
                x,
                y,
                width,
                height,
            } => {
                if requests.captured {
                    return already(frame);
                }
                if x < 0 || y < 0 || width <= 0 || height <= 0 {
                    frame.post_error(
                        ext_image_copy_capture_frame_v1::Error::InvalidBufferDamage,
                        format!("damage {x},{y} {width}x{height}"),
                    );
                    return;
                }
                // Clamped so that no sum of them overflows; no buffer is this large.
                let limit = |v: i32| v.min(1 << 24);
                let rect = Rectangle::new(
                    (limit(x), limit(y)).into(),
                    (limit(width), limit(height)).into(),
                );
                // Past a few dozen rectangles the whole buffer is as cheap to write.
                if requests.damage.len() < MAX_CLIENT_DAMAGE {
                    requests.damage.push(rect);
                } else {
                    requests.damage = vec![Rectangle::from_size((1 << 24, 1 << 24).into())];
                }
            }
            ext_image_copy_capture_frame_v1::Request::Capture => {
                if requests.captured {
                    return already(frame);
                }
                let Some(buffer) = requests.buffer.clone() else {
                    frame.post_error(
                        ext_image_copy_capture_frame_v1::Error::NoBuffer,
                        "capture without attach_buffer",
                    );
                    return;
                };
                requests.captured = true;
                let client_damage = std::mem::take(&mut requests.damage);
                drop(requests);
                queue_capture(state, frame, &data.session, &buffer, client_damage);
            }
            _ => {}
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        frame: &ExtImageCopyCaptureFrameV1,
        data: &FrameData,
    ) {
        state
            .captures
            .image_copy
            .waiting
            .retain(|waiting| waiting.frame != *frame);
        if let Some(session) = data.session.data::<SessionData>() {
            let mut current = session.frame.lock().unwrap_or_else(|p| p.into_inner());
            if current.as_ref() == Some(frame) {
                *current = None;
            }
        }
    }
}

/// How many `damage_buffer` rectangles a frame remembers before it writes the whole buffer.
const MAX_CLIENT_DAMAGE: usize = 64;

/// Checks a frame's buffer against its session's constraints and queues it for its source's
/// next frame (failing it at once when it cannot be served).
fn queue_capture(
    state: &mut State,
    frame: &ExtImageCopyCaptureFrameV1,
    session: &ExtImageCopyCaptureSessionV1,
    buffer: &WlBuffer,
    client_damage: Vec<Rectangle<i32, Physical>>,
) {
    let Some(kept) = state
        .captures
        .image_copy
        .sessions
        .iter()
        .find(|kept| kept.resource == *session)
    else {
        frame.failed(FailureReason::Stopped);
        return;
    };
    if kept.stopped {
        frame.failed(FailureReason::Stopped);
        return;
    }
    let target = match checked_target(buffer, kept.size) {
        Ok(target) => target,
        Err(why) => {
            tracing::debug!(%why, "ext-image-copy-capture buffer does not fit");
            frame.failed(FailureReason::BufferConstraints);
            return;
        }
    };
    state.captures.image_copy.waiting.push(WaitingFrame {
        frame: frame.clone(),
        session: session.clone(),
        target,
        client_damage,
    });
    state.redraw_requested = true;
}

/// Whether a frame of `source` may be served after a frame of `info`'s output: an output's
/// after its own frames, a window's after any output's.
fn served_after(source: &Source, info: &OutputInfo) -> bool {
    match source {
        Source::Output(output) => *output == info.output,
        Source::Toplevel(_) => true,
        Source::Gone => false,
    }
}

/// Stops the sessions whose source went away, tells the others whose size or GPU changed their
/// new constraints, and serves the frames waiting for `info`'s output (and for windows).
pub fn serve(state: &mut State, info: &OutputInfo, last_frame: Option<&LastFrame<'_>>) {
    if state.captures.image_copy.sessions.is_empty() {
        return;
    }
    let mut sessions = std::mem::take(&mut state.captures.image_copy.sessions);
    sessions.retain(|session| session.resource.is_alive());
    let mut scenes = Vec::with_capacity(sessions.len());
    for session in &mut sessions {
        let scene = if session.stopped || !served_after(&session.source, info) {
            None
        } else {
            match session.scene(state) {
                Some(scene) => {
                    if scene.size() != session.size || Some(scene.render_gpu()) != session.render {
                        send_constraints(state, session, &scene);
                    }
                    Some(scene)
                }
                None => {
                    session.stopped = true;
                    session.resource.stopped();
                    None
                }
            }
        };
        scenes.push(scene);
    }
    let waiting = std::mem::take(&mut state.captures.image_copy.waiting);
    let mut still_waiting = Vec::new();
    for frame in waiting {
        if !frame.frame.is_alive() {
            continue;
        }
        let Some(index) = sessions.iter().position(|s| s.resource == frame.session) else {
            frame.frame.failed(FailureReason::Stopped);
            continue;
        };
        if sessions[index].stopped {
            frame.frame.failed(FailureReason::Stopped);
            continue;
        }
        let Some(scene) = scenes[index].clone() else {
            still_waiting.push(frame);
            continue;
        };
        if let Some(waits) = serve_frame(state, &mut sessions[index], &scene, last_frame, frame) {
            still_waiting.push(waits);
        }
    }
    state.captures.image_copy.sessions = sessions;
    state.captures.image_copy.waiting.extend(still_waiting);
}

/// Copies `scene` into `waiting`'s buffer when it changed since the session's last frame (or
/// it is the first); gives the frame back when it waits.
fn serve_frame(
    state: &mut State,
    session: &mut Session,
    scene: &Scene,
    last_frame: Option<&LastFrame<'_>>,
    waiting: WaitingFrame,
) -> Option<WaitingFrame> {
    let whole = Rectangle::from_size(scene.size());
    if let Err(why) = checked_target_size(&waiting.target, scene.size()) {
        tracing::debug!(%why, "ext-image-copy-capture constraints changed under a frame");
        waiting.frame.failed(FailureReason::BufferConstraints);
        return None;
    }
    let tracker = session.tracker.get_or_insert_with(|| {
        OutputDamageTracker::new(scene.size(), scene.scale(), Transform::Normal)
    });
    let client = waiting.frame.client().map(|client| client.id());
    let copied: Result<Option<Copied>, TandemError> = match &waiting.target {
        Target::Dmabuf(dmabuf) => {
            let mut dmabuf = dmabuf.clone();
            let gpu = state
                .gpus
                .dmabuf_origin(&dmabuf)
                .unwrap_or(scene.render_gpu());
            let bytes = whole.size.w as u64 * whole.size.h as u64 * 4;
            copy_to_dmabuf(
                state,
                scene,
                last_frame,
                &mut dmabuf,
                gpu,
                Some(tracker),
                client.as_ref(),
            )
            .map(|drawn| drawn.map(|changed| (changed, bytes)))
        }
        Target::Shm(buffer) => {
            let client_damage = &waiting.client_damage;
            copy_to_shm(
                state,
                scene,
                last_frame,
                buffer,
                Some(tracker),
                &mut |changed| {
                    let mut to_write = changed.to_vec();
                    for asked in client_damage {
                        if let Some(asked) = asked.intersection(whole) {
                            let not_yet = asked.subtract_rects(to_write.iter().copied());
                            to_write.extend(not_yet);
                        }
                    }
                    to_write
                },
            )
        }
    };
    match copied {
        Ok(Some((changed, bytes))) => {
            state.captures.count(&scene.key(), bytes);
            let frame = &waiting.frame;
            frame.transform(wl_output::Transform::Normal);
            for rect in changed {
                frame.damage(rect.loc.x, rect.loc.y, rect.size.w, rect.size.h);
            }
            let now: std::time::Duration = smithay::utils::Clock::<Monotonic>::new().now().into();
            let secs = now.as_secs();
            frame.presentation_time((secs >> 32) as u32, secs as u32, now.subsec_nanos());
            frame.ready();
            None
        }
        Ok(None) => Some(waiting),
        Err(err) => {
            tracing::info!(%err, "ext-image-copy-capture failed");
            session.tracker = None;
            waiting.frame.failed(FailureReason::Unknown);
            None
        }
    }
}

/// Whether a queued target still has the size the scene has now.
fn checked_target_size(target: &Target, size: Size<i32, Physical>) -> Result<(), String> {
    let buffer_size = match target {
        Target::Dmabuf(dmabuf) => {
            let size = smithay::backend::allocator::Buffer::size(dmabuf);
            (size.w, size.h)
        }
        Target::Shm(buffer) => smithay::wayland::shm::with_buffer_contents(buffer, |_, _, data| {
            (data.width, data.height)
        })
        .map_err(|_| "the shm buffer is gone".to_string())?,
    };
    if buffer_size == (size.w, size.h) {
        Ok(())
    } else {
        Err(format!(
            "a {}x{} buffer for a {}x{} source",
            buffer_size.0, buffer_size.1, size.w, size.h
        ))
    }
}
