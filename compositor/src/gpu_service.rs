//! What each GPU offers clients: a Wayland socket whose clients' buffers are placed on that GPU,
//! and a linux-dmabuf global that only those clients see.
//!
//! `Server::new` serves the GPUs found at start. [`serve_gpu`] and [`retire_gpu`] do it for GPUs
//! that come and go later: the TTY backend on udev hotplug, IPC on `gpu-add` / `gpu-remove`.

use std::time::{Duration, Instant};

use smithay::wayland::socket::ListeningSocketSource;
use tandem::GpuId;

use crate::server::{create_dmabuf_global, listen};
use crate::state::{SocketInfo, State};

/// How long a disabled linux-dmabuf global stays before it is destroyed.
const RETIRED_GLOBAL_GRACE: Duration = Duration::from_secs(5);

/// Publishes `gpu`'s linux-dmabuf global (its surfaces prefer `render`) and opens its socket;
/// returns the socket's name.
///
/// Software GPUs are numbered for good (soft2 stays soft2) and their socket follows the
/// number, so a removed GPU's socket name is never handed to another GPU. A DRM GPU takes the
/// lowest free number (a GPU plugged back gets the socket it had).
pub fn serve_gpu(state: &mut State, gpu: GpuId, render: GpuId) -> Result<String, String> {
    destroy_retired_globals(state);
    create_dmabuf_global(state, gpu, render).map_err(|e| e.to_string())?;
    let main = state.sockets[0].name.clone();
    let taken = |n: usize| {
        state
            .sockets
            .iter()
            .any(|s| s.name == format!("{main}-gpu{n}"))
    };
    let index = match gpu {
        GpuId::Software(index) => index as usize,
        GpuId::Drm(_) => (0..).find(|n| !taken(*n)).unwrap_or_default(),
    };
    let name = format!("{main}-gpu{index}");
    let socket = ListeningSocketSource::with_name(&name).map_err(|e| e.to_string())?;
    listen(
        state,
        socket,
        SocketInfo {
            name: name.clone(),
            gpu,
            source: None,
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(name)
}

/// Closes the sockets whose clients were attached to `gpu` and disables its linux-dmabuf
/// global, so that no new client is handed a GPU that is gone. The main socket stays: it moves
/// to the first remaining GPU.
pub fn retire_gpu(state: &mut State, gpu: GpuId) {
    let handle = state.display_loop_handle();
    let remaining = state.gpus.gpu_ids();
    for (index, socket) in state.sockets.iter_mut().enumerate() {
        if socket.gpu != gpu {
            continue;
        }
        if index == 0 {
            if let Some(first) = remaining.first() {
                socket.gpu = *first;
            }
            continue;
        }
        if let Some(token) = socket.source.take() {
            handle.remove(token);
            tracing::info!(socket = %socket.name, %gpu, "socket closed");
        }
    }
    state.sockets.retain(|s| s.gpu != gpu || s.source.is_some());
    let display = state.display.clone();
    let now = Instant::now();
    let (retired, kept) = std::mem::take(&mut state.dmabuf_globals)
        .into_iter()
        .partition(|(_, g)| *g == gpu);
    state.dmabuf_globals = kept;
    for (global, _) in retired {
        state.dmabuf.disable_global::<State>(&display, &global);
        state.retired_dmabuf_globals.push((global, now));
    }
    state.surface_feedback.retain(|(g, _)| *g != gpu);
    destroy_retired_globals(state);
}

/// Destroys the globals disabled long enough ago that no client can still be binding them.
fn destroy_retired_globals(state: &mut State) {
    let display = state.display.clone();
    let (old, recent) = std::mem::take(&mut state.retired_dmabuf_globals)
        .into_iter()
        .partition(|(_, at)| at.elapsed() > RETIRED_GLOBAL_GRACE);
    state.retired_dmabuf_globals = recent;
    for (global, _) in old {
        state.dmabuf.destroy_global::<State>(&display, global);
    }
}
