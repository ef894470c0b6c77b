//! wlr-screencopy (zwlr_screencopy_manager_v1, version 3): what grim, wf-recorder and
//! xdg-desktop-portal-wlr capture outputs with.
//!
//! A frame is offered as XRGB8888 shm and, from version 3, as an XRGB8888 dmabuf; the pointer
//! is drawn in when the client asks (`overlay_cursor`). A client sends its buffer with `copy` (served at its output's next frame) or `copy_with_damage`
//! (served at the first frame that changed what that client's last copy of that output and
//! rectangle showed, with exactly the rectangles that changed). A buffer that is not what was
//! offered gets `invalid_buffer`, a second copy on one frame `already_used`; a frame whose
//! output went away, or whose drawing failed, gets `failed`. Frames live in
//! [`Captures::pending`](super::Captures) until served or destroyed.

use std::sync::Mutex;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::{Monotonic, Physical, Rectangle, Size, Transform};
use smithay::wayland::dmabuf::get_dmabuf;
use smithay::wayland::shm::with_buffer_contents_mut;

use smithay::backend::renderer::damage::OutputDamageTracker;
use tandem::TandemError;

use super::{copy_to_dmabuf, copy_to_shm, output_area, LastFrame, Scene};
use crate::output_registry::OutputInfo;
use crate::state::State;

/// The version offered.
const VERSION: u32 = 3;

/// Creates the global.
pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ZwlrScreencopyManagerV1, ()>(VERSION, ());
}

/// What one frame object captures.
pub struct FrameData {
    /// `None` for a frame that failed at once (its output is unknown or gone).
    output: Option<Output>,
    /// Physical, output coordinates; empty for a frame that failed at once.
    region: Rectangle<i32, Physical>,
    /// The pointer is drawn in.
    cursor: bool,
    /// `copy` or `copy_with_damage` was asked.
    used: Mutex<bool>,
}

/// Which session a `copy_with_damage` belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DamageKey {
    pub client: ClientId,
    pub output: String,
    /// x, y, width, height.
    pub region: (i32, i32, i32, i32),
}

/// What a copy showed changed, and the bytes it wrote.
pub(crate) type Copied = (Vec<Rectangle<i32, Physical>>, u64);

/// What one client's `copy_with_damage` of one output and rectangle remembers between copies.
pub struct Session {
    /// What its last copy showed.
    tracker: OutputDamageTracker,
    /// The shm buffers its copies wrote (clients take turns with a few), each with what
    /// changed since it was written: written again, it needs only that.
    shm_buffers: Vec<(WlBuffer, Vec<Rectangle<i32, Physical>>)>,
}

/// How many of a session's shm buffers are remembered (wf-recorder takes turns with 16).
const SHM_BUFFERS_KEPT: usize = 32;
/// How many changed rectangles a remembered buffer collects before it is simply all stale.
const STALE_RECTS_KEPT: usize = 64;

/// What `buffer` needs written for a copy that shows `changed` since the session's last copy
/// (`kept`: the session's shm buffers): only what changed since it was last written when it is
/// remembered, else all of `whole`. The other buffers remember `changed`; `buffer` is
/// remembered as written.
fn shm_rects(
    kept: &mut Vec<(WlBuffer, Vec<Rectangle<i32, Physical>>)>,
    buffer: &WlBuffer,
    changed: &[Rectangle<i32, Physical>],
    whole: Rectangle<i32, Physical>,
) -> Vec<Rectangle<i32, Physical>> {
    kept.retain(|(kept, _)| kept.is_alive());
    for (_, stale) in kept.iter_mut() {
        if stale.len() + changed.len() > STALE_RECTS_KEPT {
            // Past this many, the whole region is as cheap to say.
            *stale = vec![whole];
        } else {
            stale.extend_from_slice(changed);
        }
    }
    let needed = match kept.iter().position(|(kept, _)| kept == buffer) {
        Some(index) => kept.remove(index).1,
        None => vec![whole],
    };
    if kept.len() >= SHM_BUFFERS_KEPT {
        kept.remove(0);
    }
    kept.push((buffer.clone(), Vec::new()));
    needed
}

/// The buffer a copy writes into.
pub(crate) enum Target {
    Shm(WlBuffer),
    Dmabuf(Dmabuf),
}

/// A copy waiting for its output's next frame.
pub struct PendingCopy {
    frame: ZwlrScreencopyFrameV1,
    target: Target,
    with_damage: bool,
}

impl GlobalDispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let (frame, output, asked, overlay_cursor) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput {
                frame,
                output,
                overlay_cursor,
            } => (frame, output, None, overlay_cursor),
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                output,
                x,
                y,
                width,
                height,
                overlay_cursor,
            } => (frame, output, Some((x, y, width, height)), overlay_cursor),
            zwlr_screencopy_manager_v1::Request::Destroy => return,
            _ => return,
        };
        let output = Output::from_resource(&output);
        let info = output
            .as_ref()
            .and_then(|output| state.outputs.get(output).cloned());
        let region = info
            .as_ref()
            .map(|info| capture_region(info, asked))
            .unwrap_or_default();
        let Some(output) = output.filter(|_| !region.is_empty()) else {
            let frame = data_init.init(
                frame,
                FrameData {
                    output: None,
                    region: Rectangle::default(),
                    cursor: false,
                    used: Mutex::new(false),
                },
            );
            frame.failed();
            return;
        };
        let frame = data_init.init(
            frame,
            FrameData {
                output: Some(output),
                region,
                cursor: overlay_cursor != 0,
                used: Mutex::new(false),
            },
        );
        let (w, h) = (region.size.w as u32, region.size.h as u32);
        frame.buffer(wl_shm::Format::Xrgb8888, w, h, w * 4);
        if frame.version() >= 3 {
            frame.linux_dmabuf(Fourcc::Xrgb8888 as u32, w, h);
            frame.buffer_done();
        }
    }
}

/// The physical rectangle of `info`'s output a capture of `asked` (logical, output
/// coordinates; the whole output when `None`) covers, within the output.
fn capture_region(
    info: &OutputInfo,
    asked: Option<(i32, i32, i32, i32)>,
) -> Rectangle<i32, Physical> {
    let whole = output_area(info);
    let Some((x, y, w, h)) = asked else {
        return whole;
    };
    let scale = info.output.current_scale().fractional_scale();
    let physical = |v: i32| (f64::from(v) * scale).round() as i32;
    // Clients choose these integers: clamped before any arithmetic.
    let limit = |v: i32| v.clamp(-(1 << 24), 1 << 24);
    let asked = Rectangle::<i32, Physical>::new(
        (physical(limit(x)), physical(limit(y))).into(),
        (physical(limit(w).max(0)), physical(limit(h).max(0))).into(),
    );
    asked.intersection(whole).unwrap_or_default()
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &FrameData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            zwlr_screencopy_frame_v1::Request::Destroy => return,
            _ => return,
        };
        {
            let mut used = data.used.lock().unwrap_or_else(|p| p.into_inner());
            if *used {
                frame.post_error(
                    zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                    "this frame was already copied",
                );
                return;
            }
            *used = true;
        }
        if data.region.is_empty() {
            frame.failed();
            return;
        }
        let target = match checked_target(&buffer, data.region.size) {
            Ok(target) => target,
            Err(why) => {
                frame.post_error(zwlr_screencopy_frame_v1::Error::InvalidBuffer, why);
                return;
            }
        };
        state.captures.pending.push(PendingCopy {
            frame: frame.clone(),
            target,
            with_damage,
        });
        state.redraw_requested = true;
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        frame: &ZwlrScreencopyFrameV1,
        _: &FrameData,
    ) {
        state.captures.pending.retain(|copy| copy.frame != *frame);
    }
}

/// The buffer `buffer` is, if it is one a frame of `size` offered: XRGB8888 or ARGB8888 of
/// that size, in shm (rows at least that wide) or a dmabuf.
pub(crate) fn checked_target(
    buffer: &WlBuffer,
    size: Size<i32, Physical>,
) -> Result<Target, String> {
    let (w, h) = (size.w, size.h);
    if let Ok(dmabuf) = get_dmabuf(buffer) {
        let size = dmabuf.size();
        let code = dmabuf.format().code;
        if (size.w, size.h) != (w, h) || !matches!(code, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
            return Err(format!(
                "a {}x{} {code:?} dmabuf for a {w}x{h} XR24 frame",
                size.w, size.h
            ));
        }
        return Ok(Target::Dmabuf(dmabuf.clone()));
    }
    let shm = smithay::wayland::shm::with_buffer_contents(buffer, |_, len, data| (len, data));
    match shm {
        Ok((len, data)) => {
            let fits = data.width == w
                && data.height == h
                && matches!(
                    data.format,
                    wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888
                )
                && i64::from(data.stride) >= i64::from(w) * 4
                && i64::from(data.offset) + i64::from(data.stride) * i64::from(h) <= len as i64;
            if fits {
                Ok(Target::Shm(buffer.clone()))
            } else {
                Err(format!(
                    "a {}x{} {:?} shm buffer (stride {}) for a {w}x{h} XR24 frame",
                    data.width, data.height, data.format, data.stride
                ))
            }
        }
        Err(_) => Err("neither a shm buffer nor a dmabuf".to_string()),
    }
}

/// Serves the copies waiting for `info`'s output (called after each of its frames).
pub fn serve(state: &mut State, info: &OutputInfo, frame: Option<&LastFrame<'_>>) {
    if !state.captures.damage.is_empty() {
        // What a client that went away last copied is of no use to anyone.
        let backend = state.display.backend_handle();
        state
            .captures
            .damage
            .retain(|key, _| backend.get_client_data(key.client.clone()).is_ok());
    }
    if state.captures.pending.is_empty() {
        return;
    }
    let (mine, others): (Vec<PendingCopy>, Vec<PendingCopy>) =
        std::mem::take(&mut state.captures.pending)
            .into_iter()
            .partition(|copy| {
                copy.frame
                    .data::<FrameData>()
                    .is_some_and(|data| data.output.as_ref() == Some(&info.output))
            });
    state.captures.pending = others;
    for copy in mine {
        if !copy.frame.is_alive() {
            continue;
        }
        if let Some(waiting) = serve_one(state, info, frame, copy) {
            state.captures.pending.push(waiting);
        }
    }
}

/// Serves `copy`; gives it back when it waits for damage.
fn serve_one(
    state: &mut State,
    info: &OutputInfo,
    frame: Option<&LastFrame<'_>>,
    copy: PendingCopy,
) -> Option<PendingCopy> {
    let data = copy.frame.data::<FrameData>()?;
    let region = data.region;
    let scene = Scene::Output {
        info: info.clone(),
        region,
        cursor: data.cursor,
    };
    let key = DamageKey {
        client: copy.frame.client()?.id(),
        output: info.output.name(),
        region: (region.loc.x, region.loc.y, region.size.w, region.size.h),
    };
    let mut session = copy.with_damage.then(|| {
        let scale = info.output.current_scale().fractional_scale();
        state
            .captures
            .damage
            .remove(&key)
            .unwrap_or_else(|| Session {
                tracker: OutputDamageTracker::new(region.size, scale, Transform::Normal),
                shm_buffers: Vec::new(),
            })
    });
    let client = key.client.clone();
    let drawn = match &copy.target {
        Target::Dmabuf(dmabuf) => {
            let mut dmabuf = dmabuf.clone();
            let gpu = state.gpus.dmabuf_origin(&dmabuf).unwrap_or(info.render);
            let damage = session.as_mut().map(|session| &mut session.tracker);
            let bytes = region.size.w as u64 * region.size.h as u64 * 4;
            copy_to_dmabuf(
                state,
                &scene,
                frame,
                &mut dmabuf,
                gpu,
                damage,
                Some(&client),
            )
            .map(|drawn| drawn.map(|changed| (changed, bytes)))
        }
        Target::Shm(buffer) => {
            let whole = Rectangle::from_size(region.size);
            match session.as_mut() {
                Some(Session {
                    tracker,
                    shm_buffers,
                }) => copy_to_shm(
                    state,
                    &scene,
                    frame,
                    buffer,
                    Some(tracker),
                    &mut |changed| shm_rects(shm_buffers, buffer, changed, whole),
                ),
                None => copy_to_shm(state, &scene, frame, buffer, None, &mut |_| vec![whole]),
            }
        }
    };
    let waits = matches!(drawn, Ok(None));
    if let Some(session) = session {
        state.captures.damage.insert(key, session);
    }
    match drawn {
        Ok(Some((changed, bytes))) => {
            state.captures.count(&info.output.name(), bytes);
            copy.frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
            if copy.with_damage {
                for rect in changed {
                    copy.frame.damage(
                        rect.loc.x.max(0) as u32,
                        rect.loc.y.max(0) as u32,
                        rect.size.w.max(0) as u32,
                        rect.size.h.max(0) as u32,
                    );
                }
            }
            let now: std::time::Duration = smithay::utils::Clock::<Monotonic>::new().now().into();
            let secs = now.as_secs();
            copy.frame
                .ready((secs >> 32) as u32, secs as u32, now.subsec_nanos());
            None
        }
        Ok(None) if waits => Some(copy),
        Ok(None) => None,
        Err(err) => {
            tracing::info!(%err, output = %info.output.name(), "screencopy failed");
            copy.frame.failed();
            None
        }
    }
}

/// Writes the rectangles `to_write` (clipped to `whole`) of `rgba` (read back, `whole`'s
/// width a row) into the XRGB8888 or ARGB8888 shm `buffer`, alpha kept in an ARGB8888 buffer
/// when `alpha` is set (else opaque); the bytes written.
pub(crate) fn write_shm(
    buffer: &WlBuffer,
    rgba: &[u8],
    whole: Rectangle<i32, Physical>,
    to_write: &[Rectangle<i32, Physical>],
    alpha: bool,
) -> Result<u64, TandemError> {
    let to_write: Vec<Rectangle<i32, Physical>> = to_write
        .iter()
        .filter_map(|rect| rect.intersection(whole))
        .collect();
    let width = whole.size.w as usize;
    let written = with_buffer_contents_mut(buffer, |ptr, len, data| {
        let (offset, stride) = (data.offset as usize, data.stride as usize);
        let keep_alpha = alpha && data.format == wl_shm::Format::Argb8888;
        let mut row = Vec::new();
        let mut bytes = 0u64;
        for rect in &to_write {
            let (x, w) = (rect.loc.x as usize, rect.size.w as usize);
            for y in rect.loc.y as usize..(rect.loc.y + rect.size.h) as usize {
                let start = offset + y * stride + x * 4;
                let from_start = (y * width + x) * 4;
                let from = rgba.get(from_start..from_start + w * 4)?;
                if start + w * 4 > len {
                    return None;
                }
                // RGBA read back; XRGB8888 and ARGB8888 lie in memory as B, G, R, A.
                row.clear();
                row.extend(
                    from.chunks_exact(4)
                        .flat_map(|p| [p[2], p[1], p[0], if keep_alpha { p[3] } else { 255 }]),
                );
                // SAFETY: `start + w * 4 <= len` (checked above), inside the pool smithay
                // mapped for this call (a shrunk pool's SIGBUS is caught by smithay); `row` is
                // memory the compositor owns.
                unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), ptr.add(start), row.len()) };
                bytes += row.len() as u64;
            }
        }
        Some(bytes)
    });
    match written {
        Ok(Some(bytes)) => Ok(bytes),
        _ => Err(TandemError::ShmAccess(
            "the capture's shm buffer could not be written".into(),
        )),
    }
}
