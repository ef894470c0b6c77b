//! Which GPU draws an output: by default the output's own GPU (headless) or the primary render
//! GPU (TTY); a person on a hybrid laptop picks the integrated or the discrete GPU per monitor
//! with `msg output-render --output NAME --gpu ID` or the configuration file's
//! `[outputs.NAME] render_gpu`.
//!
//! [`set_render_gpu`] changes the output registry's `render` and lets go of the intermediates
//! the old GPU drew the output through; backends pick the change up at their next frame and
//! draw the output whole (headless and winit reset their damage, the TTY its DrmCompositor's
//! buffers). Outputs of a GPU that goes move to another one as before (`remove_gpu`).

use smithay::output::Output;
use tandem::GpuId;

use crate::state::State;

/// The GPU named `id` (`msg gpus`), awake or parked.
fn gpu_named(state: &State, id: &str) -> Option<GpuId> {
    state
        .gpus
        .gpu_ids()
        .into_iter()
        .chain(state.gpus.parked_gpu_ids())
        .find(|gpu| gpu.to_string() == id)
}

/// Makes the GPU named `gpu` draw `output` from its next frame on.
pub fn set_render_gpu(state: &mut State, output: &Output, gpu: &str) -> Result<(), String> {
    let render = gpu_named(state, gpu).ok_or_else(|| format!("no GPU {gpu}; see msg gpus"))?;
    let name = output.name();
    let info = state
        .outputs
        .get_mut(output)
        .ok_or_else(|| format!("no output {name}; see msg outputs"))?;
    if info.render == render {
        return Ok(());
    }
    let before = std::mem::replace(&mut info.render, render);
    let target = info.target;
    state.gpus.remove_output(&name);
    tracing::info!(output = %name, from = %before, to = %render, %target, "output drawn by another GPU");
    state.request_redraw();
    Ok(())
}

/// `msg output-render`: the output named `output` drawn by the GPU named `gpu`.
pub fn set_render_gpu_by_name(state: &mut State, output: &str, gpu: &str) -> Result<(), String> {
    let found = state
        .outputs
        .iter()
        .find(|info| info.output.name() == output)
        .map(|info| info.output.clone())
        .ok_or_else(|| format!("no output {output}; see msg outputs"))?;
    set_render_gpu(state, &found, gpu)
}
