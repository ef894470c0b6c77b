//! What each GPU offers clients: a Wayland socket whose clients' buffers are placed on that GPU,
//! and a linux-dmabuf global that only those clients see.
//!
//! `Server::new` serves the GPUs found at start. [`serve_gpu`] and [`retire_gpu`] do it for GPUs
//! that come and go later: the TTY backend on udev hotplug, IPC on `gpu-add` / `gpu-remove`.

use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::compositor::{with_surface_tree_downward, TraversalAction};
use smithay::wayland::dmabuf::{DmabufGlobal, SurfaceDmabufFeedbackState};
use smithay::wayland::seat::WaylandFocus;
use smithay::wayland::socket::ListeningSocketSource;
use tandem::GpuId;

use crate::server::{create_dmabuf_global, dmabuf_feedback, listen};
use crate::state::{client_gpu, ConnectedClients, SocketInfo, State};

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
    let main = state.sockets.main_name().to_string();
    let taken = |n: usize| state.sockets.name_taken(&format!("{main}-gpu{n}"));
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

/// A linux-dmabuf global whose GPU went away.
pub struct RetiredGlobal {
    pub global: DmabufGlobal,
    /// The GPU whose buffers its clients create from now on (they were told through feedback).
    pub successor: GpuId,
    /// The gone GPU's connected clients.
    clients: Option<ConnectedClients>,
    retired_at: Instant,
}

/// Closes the sockets whose clients were attached to `gpu` and disables its linux-dmabuf
/// global, so that no new client is handed a GPU that is gone. The main socket stays: it moves
/// to the first remaining GPU. Clients already connected stay: their surfaces are told through
/// dmabuf feedback to allocate on `successor` (the render GPU from now on), whose buffers their
/// bound global creates from now on, and every other surface is told the new render GPU.
pub fn retire_gpu(state: &mut State, gpu: GpuId, successor: GpuId) {
    let handle = state.display_loop_handle();
    let first_remaining = state.gpus.gpu_ids().first().copied();
    for (name, source) in state.sockets.gpu_gone(gpu, first_remaining) {
        if let Some(token) = source {
            handle.remove(token);
            tracing::info!(socket = %name, %gpu, "socket closed");
        }
    }
    let display = state.display.clone();
    let now = Instant::now();
    let (retired, kept) = std::mem::take(&mut state.dmabuf_globals)
        .into_iter()
        .partition(|(_, g)| *g == gpu);
    state.dmabuf_globals = kept;
    let clients = state
        .client_attachments
        .iter()
        .position(|(g, _)| *g == gpu)
        .map(|index| state.client_attachments.swap_remove(index).1);
    for retired in &mut state.retired_dmabuf_globals {
        if retired.successor == gpu {
            retired.successor = successor;
        }
    }
    for (global, _) in retired {
        state.dmabuf.disable_global::<State>(&display, &global);
        state.retired_dmabuf_globals.push(RetiredGlobal {
            global,
            successor,
            clients: clients.clone(),
            retired_at: now,
        });
    }
    state.surface_feedback.retain(|(g, _)| *g != gpu);
    refresh_feedback(state, successor);
    destroy_retired_globals(state);
}

/// Rebuilds every GPU's feedback for `render` and sends what changed: to the default feedback
/// objects of every global (a retired one's clients are told `render`'s) and to every mapped
/// surface.
fn refresh_feedback(state: &mut State, render: GpuId) {
    let served: Vec<(DmabufGlobal, GpuId)> = state.dmabuf_globals.clone();
    let mut fresh = Vec::new();
    for (global, gpu) in &served {
        match dmabuf_feedback(state, *gpu, render) {
            Ok(Some(feedback)) => {
                state.dmabuf.set_default_feedback(global, &feedback.default);
                fresh.push((*gpu, feedback.surface));
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, %gpu, "cannot build dmabuf feedback"),
        }
    }
    state.surface_feedback = fresh;
    let successor_feedback = match dmabuf_feedback(state, render, render) {
        Ok(feedback) => feedback,
        Err(err) => {
            tracing::warn!(%err, %render, "cannot build dmabuf feedback");
            None
        }
    };
    if let Some(feedback) = &successor_feedback {
        for retired in &state.retired_dmabuf_globals {
            state
                .dmabuf
                .set_default_feedback(&retired.global, &feedback.default);
        }
    }
    let surfaces: Vec<WlSurface> = state
        .space
        .elements()
        .filter_map(|window| window.wl_surface().map(|s| s.into_owned()))
        .collect();
    let mut told = 0;
    for root in surfaces {
        let Some(gpu) = root.client().and_then(|c| client_gpu(&c)) else {
            continue;
        };
        let feedback = state
            .surface_feedback
            .iter()
            .find(|(g, _)| *g == gpu)
            .map(|(_, feedback)| feedback)
            .or(successor_feedback.as_ref().map(|f| &f.surface));
        let Some(feedback) = feedback else {
            continue;
        };
        with_surface_tree_downward(
            &root,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |_, states, _| {
                if let Some(surface_state) = SurfaceDmabufFeedbackState::from_states(states) {
                    surface_state.set_feedback(feedback);
                    told += 1;
                }
            },
            |_, _, _| true,
        );
    }
    tracing::info!(%render, surfaces = told, "dmabuf feedback updated for the new render GPU");
}

/// Destroys the retired globals whose clients have all gone, once no client can still be
/// binding them.
fn destroy_retired_globals(state: &mut State) {
    let display = state.display.clone();
    let (old, kept) = std::mem::take(&mut state.retired_dmabuf_globals)
        .into_iter()
        .partition(|r| {
            r.retired_at.elapsed() > RETIRED_GLOBAL_GRACE
                && r.clients
                    .as_ref()
                    .is_none_or(|c| c.load(Ordering::Relaxed) == 0)
        });
    state.retired_dmabuf_globals = kept;
    for retired in old {
        state
            .dmabuf
            .destroy_global::<State>(&display, retired.global);
    }
}
