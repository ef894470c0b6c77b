//! Drawing one output through Tandem: the space's elements for that output, on the output's
//! render GPU, into a buffer of its target GPU; then frame callbacks for what was shown.
//!
//! Called by every backend once per output and frame.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::{Error as DamageError, OutputDamageTracker};
use smithay::backend::renderer::gles::GlesError;
use smithay::backend::renderer::{Bind, ExportMem, Renderer};
use smithay::utils::Rectangle;
use tandem::{MultiRenderer, TandemError};

use crate::capture::LastFrame;
use crate::state::{OutputInfo, State};

/// Background colour of every output.
pub const BACKGROUND: [f32; 4] = [0.1, 0.1, 0.14, 1.0];

/// Renders `info`'s output into `buffer`; returns its RGBA pixels when `read_back` is set.
pub fn render_output(
    state: &mut State,
    info: &OutputInfo,
    buffer: &mut Dmabuf,
    damage: &mut OutputDamageTracker,
    age: usize,
    read_back: bool,
) -> Result<Option<Vec<u8>>, TandemError> {
    let _span = tracing::trace_span!("render_output", output = %info.output.name()).entered();
    let name = info.output.name();
    let size = smithay::backend::allocator::Buffer::size(buffer);
    let sync;
    let imports;
    let input_popups = crate::protocols::input_method::popup_places(state);
    let pixels = {
        let mut renderer: MultiRenderer<'_> =
            state
                .gpus
                .cross_renderer(info.render, info.target, Some(&name))?;
        let started = std::time::Instant::now();
        let elements = crate::shell::window::render_elements(
            &state.space,
            state.xwayland.as_ref(),
            &state.session_lock,
            &input_popups,
            &mut renderer,
            &info.output,
        );
        imports = started.elapsed();
        let mut framebuffer = renderer.bind(buffer)?;
        sync = damage
            .render_output(&mut renderer, &mut framebuffer, age, &elements, BACKGROUND)
            .map_err(|err| match err {
                DamageError::Rendering(err) => err,
                DamageError::OutputNoMode(_) => TandemError::NotImportedFor(info.render),
            })?
            .sync;
        if read_back {
            let mapping = renderer.copy_framebuffer(
                &framebuffer,
                Rectangle::from_size(size),
                Fourcc::Abgr8888,
            )?;
            Some(renderer.map_texture(&mapping)?.to_vec())
        } else {
            None
        }
    };
    state.last_imports = imports;
    send_frame_callbacks(state, info);
    // A buffer kept from a GPU that went away is drawn by the output's target GPU now.
    if state.gpus.dmabuf_origin(buffer).is_none() {
        state.gpus.set_dmabuf_origin(buffer, info.target);
    }
    let frame = LastFrame { buffer, sync };
    crate::protocols::session_lock::output_drawn(state, &name);
    crate::capture::serve(state, info, Some(&frame));
    Ok(pixels)
}

/// The baseline: draws `info`'s output with its GPU's own GlesRenderer and smithay's stock
/// surface import (no Tandem), as smithay 0.7 compositors do. Used by the stress test's
/// `--textures smithay` mode only.
pub fn render_output_stock(
    state: &mut State,
    info: &OutputInfo,
    buffer: &mut Dmabuf,
    damage: &mut OutputDamageTracker,
    age: usize,
) -> Result<(), TandemError> {
    let input_popups = crate::protocols::input_method::popup_places(state);
    let renderer = state.gpus.gpu(info.render)?.renderer();
    let elements = crate::shell::window::render_elements(
        &state.space,
        state.xwayland.as_ref(),
        &state.session_lock,
        &input_popups,
        renderer,
        &info.output,
    );
    let gles_error = |err: GlesError| TandemError::Gles {
        gpu: info.render,
        source: err,
    };
    let mut framebuffer = renderer.bind(buffer).map_err(gles_error)?;
    damage
        .render_output(renderer, &mut framebuffer, age, &elements, BACKGROUND)
        .map_err(|err| match err {
            DamageError::Rendering(err) => gles_error(err),
            DamageError::OutputNoMode(_) => TandemError::NotImportedFor(info.render),
        })?;
    drop(framebuffer);
    renderer.cleanup_texture_cache().map_err(gles_error)?;
    send_frame_callbacks(state, info);
    Ok(())
}

/// Tells the clients of the windows on `info`'s output that a frame went out.
pub fn send_frame_callbacks(state: &State, info: &OutputInfo) {
    crate::shell::window::send_frames(state, &info.output);
}
