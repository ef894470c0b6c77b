//! Screen capture: an output, a rectangle of it, or one window, drawn again through Tandem
//! into a buffer that is not the output's own ([`Scene`]). A client's dmabuf is drawn into
//! directly, whichever GPU it belongs to (a buffer of another GPU than the render GPU is
//! reached through Tandem's intermediate for that pair, as an output of that GPU would be); a
//! client's shm buffer, and a screenshot (`msg screenshot`), are drawn into a buffer of the
//! render GPU kept for the scene, read back and written out. The pointer is drawn in when the
//! client asks for it. A capture of a whole output served right after that output's frame
//! ([`LastFrame`]) copies the frame instead of drawing again (Tandem's frame copies: a blit on
//! a GPU that reaches both buffers, or rows from the frame's mapping), when the frame shows
//! what the capture asks for.
//!
//! Owned by [`State`]: the kept buffers and damage trackers ([`Captures`]). Called by the
//! capture protocols, wlr-screencopy ([`screencopy`]) and ext-image-copy-capture
//! ([`image_copy`], with its sources in [`sources`]), served after each output's frame
//! (`render::render_output` and the TTY backend call [`serve`]), and by the IPC server for
//! screenshots. Everything a capture allocates is the compositor's and counted by Tandem's
//! ledger (intermediates, the kept buffers as offscreen buffers); it goes with its output, or
//! a second after the last capture that used it.

pub mod cursor_session;
pub mod image_copy;
mod scene;
pub mod screencopy;
pub mod sources;

use scene::SceneSources;
pub use scene::{output_area, Scene};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::{Error as DamageError, OutputDamageTracker};
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Transform};
use smithay::wayland::shm::with_buffer_contents_mut;
use tandem::ledger::LedgerEntry;
use tandem::{GpuId, MemoryImage, MultiRenderer, TandemError};

use crate::output_registry::OutputInfo;
use crate::state::State;

/// What the captures of each output keep between frames.
#[derive(Default)]
pub struct Captures {
    /// Per scene (an output's name, or one for all windows): the render GPU's buffer shm
    /// captures and screenshots are drawn into, kept while its size and GPU stay and captures
    /// keep coming (released a second after the last), and its count in the ledger.
    readback_buffers: HashMap<String, ReadbackBuffer>,
    /// Per scene that is no output's (the windows, the pointer's image): when it was last
    /// drawn (its intermediates go a second later).
    detached_drawn: HashMap<&'static str, Instant>,
    /// Per screencopy client, output and rectangle: what the client's last copy showed, for the
    /// damage of its next `copy_with_damage`.
    pub(crate) damage: HashMap<screencopy::DamageKey, screencopy::Session>,
    /// Copies waiting for the next frame of their output.
    pub(crate) pending: Vec<screencopy::PendingCopy>,
    /// ext-image-copy-capture sessions and their frames waiting to be served.
    pub(crate) image_copy: image_copy::Sessions,
    /// ext-image-copy-capture pointer cursor sessions.
    pub(crate) cursor_sessions: cursor_session::CursorSessions,
    /// Per output name: the copies served and the bytes written into clients' buffers.
    served: HashMap<String, Served>,
}

/// What captures of one output served.
#[derive(Debug, Clone, Copy, Default)]
pub struct Served {
    /// Copies that were served (a `copy_with_damage` that waits is not one yet).
    pub frames: u64,
    /// Of those, the copies taken from the output's frame as drawn (not drawn again).
    pub from_frame: u64,
    /// Bytes written into clients' buffers (the damaged rows of an shm buffer copied into
    /// again; the whole region otherwise).
    pub bytes: u64,
}

impl Captures {
    /// What captures of `output` served so far.
    pub fn served(&self, output: &str) -> Served {
        self.served.get(output).copied().unwrap_or_default()
    }

    /// Counts one copy of `output` (or of the windows) that wrote `bytes`.
    pub(crate) fn count(&mut self, output: &str, bytes: u64) {
        let served = self.served.entry(output.to_string()).or_default();
        served.frames += 1;
        served.bytes += bytes;
    }

    /// Counts a copy taken from `output`'s frame as drawn.
    fn count_from_frame(&mut self, output: &str) {
        self.served
            .entry(output.to_string())
            .or_default()
            .from_frame += 1;
    }

    /// Forgets what was kept for `output` (it went away).
    pub fn output_removed(&mut self, output: &str) {
        self.readback_buffers.remove(output);
        self.damage.retain(|key, _| key.output != output);
    }
}

/// A region read back: RGBA bytes (the region's width a row) and what changed.
pub type ReadBack = (Vec<u8>, Vec<Rectangle<i32, Physical>>);

/// The purpose under which `msg vram` lists the buffers captures are drawn into.
pub const PURPOSE_CAPTURE: &str = "screen capture";

struct ReadbackBuffer {
    gpu: GpuId,
    buffer: Dmabuf,
    last_used: Instant,
    _account: LedgerEntry,
}

/// How long a kept buffer outlives its last capture: a screencast keeps it, a screenshot
/// does not hold it for good.
const READBACK_KEPT_IDLE: Duration = Duration::from_secs(1);

/// The name of the buffers and intermediates kept for every window capture, one set per GPU.
const WINDOWS_KEY: &str = "windows";

/// The name of those kept for captures of the pointer's image on its own.
const POINTER_KEY: &str = "pointer";

/// An output's frame just drawn, served right after (see the module docs).
pub struct LastFrame<'a> {
    /// The buffer the frame was drawn into, a dmabuf of one of Tandem's GPUs.
    pub buffer: &'a Dmabuf,
    /// Reached when the drawing has ended.
    pub sync: SyncPoint,
}

/// Picks the rectangles of an shm buffer to write from what changed.
pub type ShmRects<'a> =
    dyn FnMut(&[Rectangle<i32, Physical>]) -> Vec<Rectangle<i32, Physical>> + 'a;

/// The name Tandem keys the intermediate of captures keyed by `key` into buffers of `gpu` by.
fn intermediate_name(key: &str, gpu: GpuId) -> String {
    format!("capture:{key}:{gpu}")
}

/// Removes the intermediates of captures keyed by `key`, into buffers of every GPU.
fn forget_intermediates(state: &mut State, key: &str) {
    for gpu in state.gpus.gpu_ids() {
        state.gpus.remove_output(&intermediate_name(key, gpu));
    }
}

/// Releases what captures of `output` hold: the kept buffer and the intermediates of every GPU.
pub fn forget_output(state: &mut State, output: &str) {
    state.captures.output_removed(output);
    forget_intermediates(state, output);
}

/// Releases what no capture used for a while: kept buffers, the windows' intermediates.
pub fn release_idle(state: &mut State) {
    state
        .captures
        .readback_buffers
        .retain(|_, kept| kept.last_used.elapsed() < READBACK_KEPT_IDLE);
    let idle: Vec<&'static str> = state
        .captures
        .detached_drawn
        .iter()
        .filter(|(_, at)| at.elapsed() >= READBACK_KEPT_IDLE)
        .map(|(key, _)| *key)
        .collect();
    for key in idle {
        state.captures.detached_drawn.remove(key);
        forget_intermediates(state, key);
    }
}

/// Serves the captures waiting for `info`'s output, and those of windows (called after each
/// output's frame, with that frame where the backend has it).
pub fn serve(state: &mut State, info: &OutputInfo, frame: Option<&LastFrame<'_>>) {
    release_idle(state);
    cursor_session::update(state);
    screencopy::serve(state, info, frame);
    image_copy::serve(state, info, frame);
}

/// What changed in `scene` since `tracker` last saw it (`None`: nothing), without drawing.
fn scene_damage(
    state: &mut State,
    scene: &Scene,
    tracker: &mut OutputDamageTracker,
) -> Result<Option<Vec<Rectangle<i32, Physical>>>, TandemError> {
    let render = scene.render_gpu();
    let sources = SceneSources {
        space: &state.space,
        xwayland: state.xwayland.as_ref(),
        lock: &state.session_lock,
        input_popups: crate::protocols::input_method::popup_places(state),
        pointer_image: &state.pointer_image,
        pointer: None,
    };
    let mut renderer = state.gpus.renderer(render)?;
    let elements = sources.elements(scene, &mut renderer);
    match tracker.damage_output(1, &elements) {
        Ok((Some(rects), _)) if !rects.is_empty() => Ok(Some(rects.clone())),
        Ok(_) => Ok(None),
        Err(_) => Err(TandemError::NotImportedFor(render)),
    }
}

/// What changed for a copy from `frame`: as `damage` says (`None`: nothing changed), or the
/// whole scene for a copy that keeps no damage. Waits until the frame's drawing has ended.
fn frame_damage(
    state: &mut State,
    scene: &Scene,
    frame: &LastFrame<'_>,
    damage: Option<&mut OutputDamageTracker>,
) -> Result<Option<Vec<Rectangle<i32, Physical>>>, TandemError> {
    let changed = match damage {
        Some(tracker) => scene_damage(state, scene, tracker)?,
        None => Some(vec![Rectangle::from_size(scene.size())]),
    };
    if changed.is_some() {
        if let Err(err) = frame.sync.wait() {
            tracing::debug!(?err, "waiting for the frame a capture copies");
        }
    }
    Ok(changed)
}

/// Copies `scene` into `buffer`, a dmabuf of `buffer_gpu` that `client` captures into: from
/// `frame` when it shows the scene, else drawn ([`draw`]); what changed, as `draw` says.
pub fn copy_to_dmabuf(
    state: &mut State,
    scene: &Scene,
    frame: Option<&LastFrame<'_>>,
    buffer: &mut Dmabuf,
    buffer_gpu: GpuId,
    damage: Option<&mut OutputDamageTracker>,
    client: Option<&ClientId>,
) -> Result<Option<Vec<Rectangle<i32, Physical>>>, TandemError> {
    let Some(frame) = frame.filter(|frame| scene.shown_by(state, frame)) else {
        return draw(state, scene, buffer, buffer_gpu, damage);
    };
    let Some(changed) = frame_damage(state, scene, frame, damage)? else {
        return Ok(None);
    };
    let whole = Rectangle::from_size(smithay::backend::allocator::Buffer::size(buffer));
    match state
        .gpus
        .copy_frame(frame.buffer, buffer, &[whole], client)
    {
        Ok(path) => {
            tracing::trace!(?path, "capture copied from the output's frame");
            state.captures.count_from_frame(&scene.key());
            Ok(Some(changed))
        }
        Err(err) => {
            tracing::debug!(%err, "the frame is not copied into the capture: drawn instead");
            draw(state, scene, buffer, buffer_gpu, None).map(|drawn| drawn.map(|_| changed))
        }
    }
}

/// Copies `scene` into the XRGB8888 or ARGB8888 shm `buffer`, writing the rectangles
/// `to_write` picks from what changed: from `frame` when it shows the scene, else drawn and
/// read back ([`read`]). What changed (`None`: nothing, nothing written) and the bytes written.
pub fn copy_to_shm(
    state: &mut State,
    scene: &Scene,
    frame: Option<&LastFrame<'_>>,
    buffer: &WlBuffer,
    damage: Option<&mut OutputDamageTracker>,
    to_write: &mut ShmRects<'_>,
) -> Result<Option<screencopy::Copied>, TandemError> {
    let whole = Rectangle::from_size(scene.size());
    let Some(frame) = frame.filter(|frame| scene.shown_by(state, frame)) else {
        let Some((rgba, changed)) = read(state, scene, damage)? else {
            return Ok(None);
        };
        let bytes =
            screencopy::write_shm(buffer, &rgba, whole, &to_write(&changed), scene.has_alpha())?;
        return Ok(Some((changed, bytes)));
    };
    let Some(changed) = frame_damage(state, scene, frame, damage)? else {
        return Ok(None);
    };
    let to_write: Vec<Rectangle<i32, Physical>> = to_write(&changed)
        .into_iter()
        .filter_map(|rect| rect.intersection(whole))
        .collect();
    let rects: Vec<Rectangle<i32, BufferCoord>> = to_write
        .iter()
        .map(|rect| {
            Rectangle::new(
                (rect.loc.x, rect.loc.y).into(),
                (rect.size.w, rect.size.h).into(),
            )
        })
        .collect();
    let gpus = &mut state.gpus;
    let written = with_buffer_contents_mut(buffer, |ptr, len, data| {
        // SAFETY: the pool smithay mapped for this call, `len` bytes long, alive during it; no
        // reference is made over it (Tandem writes it through raw-pointer copies only).
        let image = unsafe {
            MemoryImage::new(
                ptr,
                len,
                data.offset.max(0) as usize,
                data.stride.max(0) as usize,
            )
        };
        // An XRGB8888 buffer's unused byte needs no value: only ARGB8888 has alpha set.
        let opaque = data.format == wl_shm::Format::Argb8888;
        gpus.read_frame(frame.buffer, &rects, &image, opaque)
    });
    match written {
        Ok(Ok((path, bytes))) => {
            tracing::trace!(?path, "capture copied from the output's frame");
            state.captures.count_from_frame(&scene.key());
            Ok(Some((changed, bytes)))
        }
        Ok(Err(err)) => {
            tracing::debug!(%err, "the frame is not copied into the capture: drawn instead");
            let (rgba, _) =
                read(state, scene, None)?.ok_or(TandemError::NotImportedFor(scene.render_gpu()))?;
            let bytes = screencopy::write_shm(buffer, &rgba, whole, &to_write, scene.has_alpha())?;
            Ok(Some((changed, bytes)))
        }
        Err(_) => Err(TandemError::ShmAccess(
            "the capture's shm buffer could not be written".into(),
        )),
    }
}

/// Draws `scene` into `buffer`, a dmabuf of `buffer_gpu`, at the buffer's origin. `damage`,
/// when given, is told what the frame shows and returns what changed since it last was
/// (`None`: nothing did, and nothing is drawn).
pub fn draw(
    state: &mut State,
    scene: &Scene,
    buffer: &mut Dmabuf,
    buffer_gpu: GpuId,
    damage: Option<&mut OutputDamageTracker>,
) -> Result<Option<Vec<Rectangle<i32, Physical>>>, TandemError> {
    let key = scene.key();
    match scene {
        Scene::Window { .. } => {
            state
                .captures
                .detached_drawn
                .insert(WINDOWS_KEY, Instant::now());
        }
        Scene::Pointer { .. } => {
            state
                .captures
                .detached_drawn
                .insert(POINTER_KEY, Instant::now());
        }
        Scene::Output { .. } => {}
    }
    let pointer = match scene {
        Scene::Output {
            info, cursor: true, ..
        } => crate::input::cursor::placement(state, &info.output),
        _ => None,
    };
    let name = intermediate_name(&key, buffer_gpu);
    let render = scene.render_gpu();
    let size = scene.size();
    let sources = SceneSources {
        space: &state.space,
        xwayland: state.xwayland.as_ref(),
        lock: &state.session_lock,
        input_popups: crate::protocols::input_method::popup_places(state),
        pointer_image: &state.pointer_image,
        pointer,
    };
    let mut renderer: MultiRenderer<'_> =
        state.gpus.cross_renderer(render, buffer_gpu, Some(&name))?;
    let elements = sources.elements(scene, &mut renderer);
    let changed = match damage {
        Some(tracker) => match tracker.damage_output(1, &elements) {
            Ok((Some(rects), _)) if !rects.is_empty() => rects.clone(),
            Ok(_) => return Ok(None),
            Err(_) => return Err(TandemError::NotImportedFor(render)),
        },
        None => vec![Rectangle::from_size(size)],
    };
    let mut framebuffer = renderer.bind(buffer)?;
    let mut whole_frame = OutputDamageTracker::new(size, scene.scale(), Transform::Normal);
    let drawn = whole_frame
        .render_output(
            &mut renderer,
            &mut framebuffer,
            0,
            &elements,
            scene.background(),
        )
        .map_err(|err| match err {
            DamageError::Rendering(err) => err,
            DamageError::OutputNoMode(_) => TandemError::NotImportedFor(render),
        })?;
    // The client reads its buffer once told it is ready: the drawing must have ended.
    if let Err(err) = drawn.sync.wait() {
        tracing::debug!(?err, "waiting for a capture's drawing");
    }
    Ok(Some(changed))
}

/// Draws `scene` into the render GPU's kept buffer for it and reads it back: RGBA bytes, the
/// scene's width a row, and what changed as [`draw`] says (`None`: nothing changed for
/// `damage`, nothing drawn).
pub fn read(
    state: &mut State,
    scene: &Scene,
    damage: Option<&mut OutputDamageTracker>,
) -> Result<Option<ReadBack>, TandemError> {
    let key = scene.key();
    let render = scene.render_gpu();
    let size = scene.size();
    let kept = state.captures.readback_buffers.remove(&key).filter(|kept| {
        kept.gpu == render
            && smithay::backend::allocator::Buffer::size(&kept.buffer) == (size.w, size.h).into()
    });
    let mut kept = match kept {
        Some(kept) => kept,
        None => {
            let mut renderer = state.gpus.renderer(render)?;
            let buffer = Offscreen::<Dmabuf>::create_buffer(
                &mut renderer,
                Fourcc::Abgr8888,
                (size.w, size.h).into(),
            )?;
            let bytes = size.w as u64 * size.h as u64 * 4;
            ReadbackBuffer {
                gpu: render,
                buffer,
                last_used: Instant::now(),
                _account: state
                    .gpus
                    .ledger()
                    .record_compositor(render, PURPOSE_CAPTURE, bytes),
            }
        }
    };
    kept.last_used = Instant::now();
    let buffer = &mut kept.buffer;
    let drawn = draw(state, scene, buffer, render, damage).and_then(|changed| {
        let Some(changed) = changed else {
            return Ok(None);
        };
        let mut renderer = state.gpus.renderer(render)?;
        let framebuffer = renderer.bind(buffer)?;
        let mapping = renderer.copy_framebuffer(
            &framebuffer,
            Rectangle::from_size((size.w, size.h).into()),
            Fourcc::Abgr8888,
        )?;
        Ok(Some((renderer.map_texture(&mapping)?.to_vec(), changed)))
    });
    state.captures.readback_buffers.insert(key, kept);
    drawn
}

/// Draws `output` (the first output when `None`) again and writes it to `path` as PNG (`msg
/// screenshot`, on every backend); the output's name and size.
pub fn screenshot(
    state: &mut State,
    output: Option<&str>,
    path: &std::path::Path,
) -> Result<(String, i32, i32), String> {
    let info = match output {
        Some(name) => state
            .outputs
            .iter()
            .find(|info| info.output.name() == name)
            .cloned()
            .ok_or_else(|| format!("no output {name}; see msg outputs"))?,
        None => state
            .outputs
            .first()
            .cloned()
            .ok_or("there is no output to take")?,
    };
    let region = output_area(&info);
    if region.is_empty() {
        return Err(format!("{} has no mode", info.output.name()));
    }
    let name = info.output.name();
    let scene = Scene::Output {
        info,
        region,
        cursor: false,
    };
    let (rgba, _) = read(state, &scene, None)
        .map_err(|err| format!("drawing {name} failed: {err}"))?
        .ok_or("nothing was drawn")?;
    let (w, h) = (region.size.w, region.size.h);
    crate::screenshot::write_png(path, w as u32, h as u32, &rgba)?;
    Ok((name, w, h))
}
