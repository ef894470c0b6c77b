//! Screen capture: an output, or a rectangle of it, drawn again through Tandem into a buffer
//! that is not the output's own. A client's dmabuf is drawn into directly, whichever GPU it
//! belongs to (a buffer of another GPU than the output's render GPU is reached through Tandem's
//! intermediate for that pair, as an output of that GPU would be); a client's shm buffer, and a
//! screenshot (`msg screenshot`), are drawn into a buffer of the render GPU kept for the output,
//! read back and written out.
//!
//! Owned by [`State`]: the kept buffers and damage trackers ([`Captures`]). Called by the
//! screencopy protocol ([`screencopy`]), served after each output's frame
//! (`render::render_output` calls [`screencopy::serve`]), and by the IPC server for
//! screenshots. Everything a capture allocates is the compositor's and counted by Tandem's
//! ledger (intermediates, the kept buffers as offscreen buffers); it goes with its output.

pub mod screencopy;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::{Error as DamageError, OutputDamageTracker};
use smithay::backend::renderer::element::utils::{Relocate, RelocateRenderElement};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::utils::{Physical, Point, Rectangle, Transform};
use tandem::ledger::LedgerEntry;
use tandem::{GpuId, MultiRenderer, TandemError};

use crate::output_registry::OutputInfo;
use crate::render::BACKGROUND;
use crate::state::State;

/// What the captures of each output keep between frames.
#[derive(Default)]
pub struct Captures {
    /// Per output name: the render GPU's buffer shm captures and screenshots are drawn into,
    /// kept while its size and GPU stay and captures keep coming (released a second after the
    /// last), and its count in the ledger.
    readback_buffers: HashMap<String, ReadbackBuffer>,
    /// Per screencopy client, output and rectangle: what the client's last copy showed, for the
    /// damage of its next `copy_with_damage`.
    pub(crate) damage: HashMap<screencopy::DamageKey, screencopy::Session>,
    /// Copies waiting for the next frame of their output.
    pub(crate) pending: Vec<screencopy::PendingCopy>,
    /// Per output name: the copies served and the bytes written into clients' buffers.
    served: HashMap<String, Served>,
}

/// What captures of one output served.
#[derive(Debug, Clone, Copy, Default)]
pub struct Served {
    /// Copies that were drawn (a `copy_with_damage` that waits is not one yet).
    pub frames: u64,
    /// Bytes written into clients' buffers (the damaged rows of an shm buffer copied into
    /// again; the whole region otherwise).
    pub bytes: u64,
}

impl Captures {
    /// What captures of `output` served so far.
    pub fn served(&self, output: &str) -> Served {
        self.served.get(output).copied().unwrap_or_default()
    }

    /// Counts one copy of `output` that wrote `bytes`.
    pub(crate) fn count(&mut self, output: &str, bytes: u64) {
        let served = self.served.entry(output.to_string()).or_default();
        served.frames += 1;
        served.bytes += bytes;
    }

    /// Releases the kept buffers no capture used for a while.
    pub fn release_idle(&mut self) {
        self.readback_buffers
            .retain(|_, kept| kept.last_used.elapsed() < READBACK_KEPT_IDLE);
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

/// The name Tandem keys the intermediate of captures of `info`'s output into buffers of `gpu`
/// by (removed with the output: [`forget_output`]).
fn intermediate_name(info: &OutputInfo, gpu: GpuId) -> String {
    format!("capture:{}:{gpu}", info.output.name())
}

/// Releases what captures of `output` hold: the kept buffer and the intermediates of every GPU.
pub fn forget_output(state: &mut State, output: &str) {
    state.captures.output_removed(output);
    for gpu in state.gpus.gpu_ids() {
        state.gpus.remove_output(&format!("capture:{output}:{gpu}"));
    }
}

/// Draws `region` (physical, output coordinates) of `info`'s output into `buffer`, a dmabuf of
/// `buffer_gpu`, at the buffer's origin. `damage`, when given, is told what the frame shows and
/// returns what changed since it last was (`None`: nothing did, and nothing is drawn).
pub fn draw_region(
    state: &mut State,
    info: &OutputInfo,
    region: Rectangle<i32, Physical>,
    buffer: &mut Dmabuf,
    buffer_gpu: GpuId,
    damage: Option<&mut OutputDamageTracker>,
) -> Result<Option<Vec<Rectangle<i32, Physical>>>, TandemError> {
    let name = intermediate_name(info, buffer_gpu);
    let scale = info.output.current_scale().fractional_scale();
    let mut renderer: MultiRenderer<'_> =
        state
            .gpus
            .cross_renderer(info.render, buffer_gpu, Some(&name))?;
    let offset = Point::from((-region.loc.x, -region.loc.y));
    let elements: Vec<_> = crate::shell::window::render_elements(
        &state.space,
        state.xwayland.as_ref(),
        &mut renderer,
        &info.output,
    )
    .into_iter()
    .map(|element| RelocateRenderElement::from_element(element, offset, Relocate::Relative))
    .collect();
    let changed = match damage {
        Some(tracker) => match tracker.damage_output(1, &elements) {
            Ok((Some(rects), _)) if !rects.is_empty() => rects.clone(),
            Ok(_) => return Ok(None),
            Err(_) => return Err(TandemError::NotImportedFor(info.render)),
        },
        None => vec![Rectangle::from_size(region.size)],
    };
    let mut framebuffer = renderer.bind(buffer)?;
    OutputDamageTracker::new(region.size, scale, Transform::Normal)
        .render_output(&mut renderer, &mut framebuffer, 0, &elements, BACKGROUND)
        .map_err(|err| match err {
            DamageError::Rendering(err) => err,
            DamageError::OutputNoMode(_) => TandemError::NotImportedFor(info.render),
        })?;
    Ok(Some(changed))
}

/// Draws `region` of `info`'s output into the render GPU's kept buffer for it and reads it
/// back: RGBA bytes, `region`'s width a row, and what changed as [`draw_region`] says (`None`:
/// nothing changed for `damage`, nothing drawn).
pub fn read_region(
    state: &mut State,
    info: &OutputInfo,
    region: Rectangle<i32, Physical>,
    damage: Option<&mut OutputDamageTracker>,
) -> Result<Option<ReadBack>, TandemError> {
    let name = info.output.name();
    let size = (region.size.w, region.size.h).into();
    let kept = state
        .captures
        .readback_buffers
        .remove(&name)
        .filter(|kept| {
            kept.gpu == info.render
                && smithay::backend::allocator::Buffer::size(&kept.buffer) == size
        });
    let mut kept = match kept {
        Some(kept) => kept,
        None => {
            let mut renderer = state.gpus.renderer(info.render)?;
            let buffer = Offscreen::<Dmabuf>::create_buffer(&mut renderer, Fourcc::Abgr8888, size)?;
            let bytes = region.size.w as u64 * region.size.h as u64 * 4;
            ReadbackBuffer {
                gpu: info.render,
                buffer,
                last_used: Instant::now(),
                _account: state.gpus.ledger().record_compositor(
                    info.render,
                    PURPOSE_CAPTURE,
                    bytes,
                ),
            }
        }
    };
    kept.last_used = Instant::now();
    let buffer = &mut kept.buffer;
    let drawn = draw_region(state, info, region, buffer, info.render, damage).and_then(|changed| {
        let Some(changed) = changed else {
            return Ok(None);
        };
        let mut renderer = state.gpus.renderer(info.render)?;
        let framebuffer = renderer.bind(buffer)?;
        let mapping = renderer.copy_framebuffer(
            &framebuffer,
            Rectangle::from_size(size),
            Fourcc::Abgr8888,
        )?;
        Ok(Some((renderer.map_texture(&mapping)?.to_vec(), changed)))
    });
    state.captures.readback_buffers.insert(name, kept);
    drawn
}

/// The whole of `info`'s output, in physical pixels (empty when it has no mode).
pub fn output_area(info: &OutputInfo) -> Rectangle<i32, Physical> {
    info.output
        .current_mode()
        .map(|mode| Rectangle::from_size(mode.size))
        .unwrap_or_default()
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
    let (rgba, _) = read_region(state, &info, region, None)
        .map_err(|err| format!("drawing {} failed: {err}", info.output.name()))?
        .ok_or("nothing was drawn")?;
    let (w, h) = (region.size.w, region.size.h);
    crate::screenshot::write_png(path, w as u32, h as u32, &rgba)?;
    Ok((info.output.name(), w, h))
}
