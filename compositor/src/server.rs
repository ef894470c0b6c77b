//! The Wayland server: event loop, display, one socket per GPU plus the main one, per-GPU
//! linux-dmabuf globals, and the IPC socket.
//!
//! Backends call `Server::new` with their GPU manager, add outputs, and drive the event loop.
//! A client connected through `<main>-gpuN` is attached to GPU N: it only sees GPU N's
//! linux-dmabuf global, and the buffers it creates there are known to live on GPU N.

use std::path::PathBuf;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::wayland::dmabuf::{DmabufFeedback, DmabufFeedbackBuilder};
use smithay::wayland::socket::ListeningSocketSource;
use tandem::{GpuId, GpuManager};

use crate::ipc;
use crate::state::{client_data, client_gpu, SocketInfo, State};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("XDG_RUNTIME_DIR is not set: the Wayland socket has nowhere to go")]
    NoRuntimeDir,
    #[error("{0}")]
    Tandem(#[from] tandem::TandemError),
    #[error("Wayland: {0}")]
    Wayland(String),
    #[error("no free Wayland socket name tandem-0..tandem-31 in XDG_RUNTIME_DIR")]
    NoSocketName,
    #[error("output {index} asks for GPU {gpu}, but only {gpus} GPUs exist")]
    NoSuchGpu {
        index: usize,
        gpu: usize,
        gpus: usize,
    },
    #[error("{0}")]
    Backend(String),
}

fn wayland_error(err: impl std::fmt::Display) -> StartError {
    StartError::Wayland(err.to_string())
}

pub struct Server {
    pub event_loop: EventLoop<'static, State>,
    pub state: State,
    pub ipc_path: PathBuf,
}

impl Server {
    pub fn new(gpus: GpuManager, terminal: Vec<String>) -> Result<Server, StartError> {
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .ok_or(StartError::NoRuntimeDir)?;
        let gpu_ids = gpus.gpu_ids();
        let primary = *gpu_ids
            .first()
            .ok_or_else(|| StartError::Backend("no GPU to render with".into()))?;
        let event_loop: EventLoop<'static, State> = EventLoop::try_new().map_err(wayland_error)?;
        let display: Display<State> = Display::new().map_err(wayland_error)?;
        let display_handle = display.handle();
        let mut state = State::new(display_handle.clone(), event_loop.handle(), gpus, terminal);

        for gpu in &gpu_ids {
            create_dmabuf_global(&mut state, *gpu, primary)?;
        }

        let (main_name, main_socket) = (0..32)
            .find_map(|n| {
                let name = format!("tandem-{n}");
                ListeningSocketSource::with_name(&name)
                    .ok()
                    .map(|s| (name, s))
            })
            .ok_or(StartError::NoSocketName)?;
        let handle = event_loop.handle();
        listen(
            &mut state,
            main_socket,
            SocketInfo {
                name: main_name.clone(),
                gpu: primary,
                source: None,
            },
        )?;
        for (index, gpu) in gpu_ids.iter().enumerate() {
            let name = format!("{main_name}-gpu{index}");
            let socket = ListeningSocketSource::with_name(&name).map_err(wayland_error)?;
            let info = SocketInfo {
                name,
                gpu: *gpu,
                source: None,
            };
            listen(&mut state, socket, info)?;
        }
        handle
            .insert_source(
                Generic::new(display, Interest::READ, Mode::Level),
                |_, display, state: &mut State| {
                    // SAFETY: the display is not dropped while the event loop runs.
                    if let Err(err) = unsafe { display.get_mut().dispatch_clients(state) } {
                        tracing::warn!(%err, "dispatching clients failed");
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(wayland_error)?;

        let ipc_path = runtime_dir.join(format!("{main_name}.ipc.sock"));
        ipc::server::listen(&handle, &ipc_path)
            .map_err(|e| StartError::Backend(format!("IPC socket {}: {e}", ipc_path.display())))?;
        state.ipc_path = ipc_path.clone();
        Ok(Server {
            event_loop,
            state,
            ipc_path,
        })
    }

    /// The main Wayland socket's name.
    pub fn socket_name(&self) -> &str {
        self.state.sockets.main_name()
    }

    /// Starts `command` as a client of the main socket; returns its pid.
    pub fn spawn(&mut self, command: &[String]) -> std::io::Result<u32> {
        spawn_client(&mut self.state, command)
    }

    /// Dispatches events for up to `timeout` and flushes replies to clients.
    pub fn dispatch(&mut self, timeout: std::time::Duration) -> Result<(), String> {
        self.event_loop
            .dispatch(Some(timeout), &mut self.state)
            .map_err(|e| e.to_string())?;
        self.state.children.reap();
        crate::shell::x11::pair_surfaces(&mut self.state);
        self.state.space.refresh();
        crate::protocols::foreign_toplevel_list::sync(&mut self.state);
        crate::protocols::foreign_toplevel_management::sync(&mut self.state);
        self.state.popups.cleanup();
        crate::input::refresh_pointer_focus(&mut self.state);
        if let Err(err) = self.state.display.flush_clients() {
            tracing::debug!(%err, "flushing clients");
        }
        Ok(())
    }
}

/// Publishes `gpu`'s linux-dmabuf global, seen only by clients of that GPU's socket: version 4
/// with feedback (the render GPU's tranche first for surfaces) for DRM GPUs, version 3 for
/// software GPUs, which have no DRM device to name.
pub fn create_dmabuf_global(
    state: &mut State,
    gpu: GpuId,
    primary: GpuId,
) -> Result<(), StartError> {
    let formats = state.gpus.carried_formats(gpu)?;
    let display_handle = state.display.clone();
    let filter =
        move |client: &smithay::reexports::wayland_server::Client| client_gpu(client) == Some(gpu);
    let global = match dmabuf_feedback(state, gpu, primary)? {
        Some(feedback) => {
            state.surface_feedback.push((gpu, feedback.surface));
            state
                .dmabuf
                .create_global_with_filter_and_default_feedback::<State, _>(
                    &display_handle,
                    &feedback.default,
                    filter,
                )
        }
        None => {
            state
                .dmabuf
                .create_global_with_filter::<State, _>(&display_handle, formats, filter)
        }
    };
    state.dmabuf_globals.push((global, gpu));
    Ok(())
}

/// The linux-dmabuf feedback of a DRM GPU's clients.
pub struct GpuFeedback {
    /// What the global tells clients: allocate on `gpu`.
    pub default: DmabufFeedback,
    /// What surfaces are told: the render GPU's formats first, then `gpu`'s.
    pub surface: DmabufFeedback,
}

/// The feedback for clients of `gpu` while `render` draws; `None` for software GPUs, which
/// have no DRM device to name.
pub fn dmabuf_feedback(
    state: &mut State,
    gpu: GpuId,
    render: GpuId,
) -> Result<Option<GpuFeedback>, StartError> {
    let (GpuId::Drm(node), GpuId::Drm(render_node)) = (gpu, render) else {
        return Ok(None);
    };
    let formats = state.gpus.carried_formats(gpu)?;
    let render_formats = state.gpus.carried_formats(render)?;
    let default = DmabufFeedbackBuilder::new(node.dev_id(), formats.clone())
        .build()
        .map_err(wayland_error)?;
    let mut surface = DmabufFeedbackBuilder::new(node.dev_id(), formats);
    if render_node != node {
        surface = surface.add_preference_tranche(render_node.dev_id(), None, render_formats);
    }
    Ok(Some(GpuFeedback {
        default,
        surface: surface.build().map_err(wayland_error)?,
    }))
}

/// Accepts clients on `socket`, attaching each to the GPU the socket's entry in
/// `state.sockets` names when it connects (`info.gpu` at first; the main socket moves to
/// another GPU when its GPU goes, see `gpu::service::retire_gpu`).
pub fn listen(
    state: &mut State,
    socket: ListeningSocketSource,
    info: SocketInfo,
) -> Result<(), StartError> {
    let name = info.name.clone();
    let token = state
        .display_loop_handle()
        .insert_source(socket, move |stream, _, state: &mut State| {
            let Some(gpu) = state.sockets.gpu_of(&name) else {
                tracing::warn!(socket = %name, "client refused: its socket serves no GPU");
                return;
            };
            crate::gpu::parking::wake_for_client(state, gpu);
            let attachment = state.client_attachment(gpu);
            match state
                .display
                .insert_client(stream, client_data(gpu, attachment))
            {
                Ok(client) => state.client_accepted(client),
                Err(err) => tracing::warn!(%err, "could not accept a client"),
            }
        })
        .map_err(wayland_error)?;
    tracing::info!(socket = %info.name, gpu = %info.gpu, "listening");
    state.sockets.add(SocketInfo {
        source: Some(token),
        ..info
    });
    Ok(())
}

/// Starts `command` as a client of the compositor's main socket, with TANDEM_SOCKET set so that
/// it (and `tandem-compositor msg` run from it) can reach the IPC socket, and DISPLAY naming
/// the compositor's X11 display when it has one.
pub fn spawn_client(state: &mut State, command: &[String]) -> std::io::Result<u32> {
    let Some((program, args)) = command.split_first() else {
        return Err(std::io::Error::other("empty command"));
    };
    tracing::info!(?command, "starting client");
    let mut process = std::process::Command::new(program);
    process
        .args(args)
        .env("WAYLAND_DISPLAY", state.sockets.main_name())
        .env("TANDEM_SOCKET", &state.ipc_path)
        // What toolkits and portals read to know the desktop; "wlroots" after Tandem's own name
        // lets xdg-desktop-portal pick its wlr backend (screen sharing).
        .env("XDG_CURRENT_DESKTOP", "tandem:wlroots")
        .env("XDG_SESSION_TYPE", "wayland");
    match &state.xwayland {
        Some(xwayland) => process.env("DISPLAY", xwayland.display_name()),
        None => process.env_remove("DISPLAY"),
    };
    state.children.spawn(&mut process)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ipc_path);
    }
}
