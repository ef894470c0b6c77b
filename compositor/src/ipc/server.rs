//! The IPC listener: one JSON request line per connection (served by `connection`), answered
//! from the compositor state.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use super::connection::{read_request, write_reply};
use super::messages::{
    ClientReport, ClientsReply, FeedInfo, GpuInfo, GpusReply, OutputReport, OutputsReply, Reply,
    Request, SandboxReport, SessionReport, WindowInfo, WindowsReply,
};
use crate::gpu::service::{retire_gpu, serve_gpu};
use crate::state::{OutputInfo, State};

pub fn listen(handle: &LoopHandle<'static, State>, path: &Path) -> std::io::Result<()> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    // The callback takes the loop's handle from the state: one captured here would keep the
    // loop, and every source in it, alive after the server is dropped.
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            |_, listener, state: &mut State| {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => read_request(&state.display_loop_handle(), stream),
                        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(err) => {
                            tracing::warn!(%err, "IPC accept failed");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

/// Writes `reply` to the `msg` client on `stream` (a request the backend answered).
pub fn send_reply(state: &State, stream: UnixStream, reply: &Reply) {
    write_reply(&state.display_loop_handle(), stream, reply);
}

/// The reply to one request.
pub fn answer(state: &mut State, request: Request) -> Reply {
    match request {
        Request::Windows => Reply::Windows(windows(state)),
        Request::Outputs => Reply::Outputs(outputs(state)),
        Request::Gpus => Reply::Gpus(gpus(state)),
        Request::Vram => Reply::Vram(crate::gpu::vram::report(state)),
        Request::Session => Reply::Session(SessionReport {
            locked: state.session_lock.is_locked(),
            locker: state.session_lock.has_locker(),
            idle_inhibited: state.idle.is_inhibited(),
            config: state
                .config_path
                .as_ref()
                .map(|path| path.display().to_string()),
            config_error: state.config_error.clone(),
        }),
        Request::Clients => Reply::Clients(clients(state)),
        Request::Action { action } => match crate::config::bindings::parse_action(&action) {
            Ok(action) => {
                crate::input::perform(state, action);
                Reply::Ok
            }
            Err(message) => Reply::Error { message },
        },
        Request::Power { on, output } => power(state, on, output.as_deref()),
        Request::OutputRender { output, gpu } => {
            match crate::gpu::render_choice::set_render_gpu_by_name(state, &output, &gpu) {
                Ok(()) => Reply::Ok,
                Err(message) => Reply::Error { message },
            }
        }
        Request::Reload => match crate::config::reload(state) {
            Ok(()) => Reply::Ok,
            Err(message) => Reply::Error { message },
        },
        Request::Quit => {
            tracing::info!("quit requested over IPC");
            state.running = false;
            Reply::Ok
        }
        Request::Screenshot { output, path } => {
            match crate::capture::screenshot(state, output.as_deref(), std::path::Path::new(&path))
            {
                Ok((output, width, height)) => Reply::Screenshot {
                    path,
                    output,
                    width,
                    height,
                },
                Err(message) => Reply::Error { message },
            }
        }
        Request::GpuAdd => match add_gpu(state) {
            Ok((id, socket)) => Reply::GpuAdded { id, socket },
            Err(message) => Reply::Error { message },
        },
        Request::OutputAdd { .. } | Request::OutputRemove { .. } | Request::GpuRemove { .. } => {
            Reply::Error {
                message: "this request is answered by the backend".into(),
            }
        }
    }
}

/// Moves the GPU's outputs to the first other GPU, then removes it (its textures, slots and
/// intermediates in every window are released with it): `msg gpu-remove` on the backends whose
/// outputs any GPU can draw (`Backend::remove_gpu`).
pub fn remove_gpu(state: &mut State, id: &str) -> Result<(), String> {
    let ids = state.gpus.gpu_ids();
    let gpu = *ids
        .iter()
        .find(|g| g.to_string() == id)
        .ok_or_else(|| format!("no GPU {id}; see msg gpus"))?;
    let fallback = *ids
        .iter()
        .find(|g| **g != gpu)
        .ok_or("the last GPU cannot be removed")?;
    for output in &mut state.outputs {
        if output.render == gpu || output.target == gpu {
            state.gpus.remove_output(&output.output.name());
            for any in &ids {
                state
                    .gpus
                    .remove_output(&format!("capture:{}:{any}", output.output.name()));
            }
            output.render = fallback;
            output.target = fallback;
        }
    }
    state.gpus.remove_gpu(gpu).map_err(|e| e.to_string())?;
    retire_gpu(state, gpu, fallback);
    tracing::info!(%gpu, %fallback, "GPU removed over IPC");
    Ok(())
}

/// Adds a software GPU (with the quirks the command line gave the others) and serves it.
fn add_gpu(state: &mut State) -> Result<(String, String), String> {
    let gpu = state
        .gpus
        .add_software_gpu(state.new_gpu_quirks)
        .map_err(|e| e.to_string())?;
    let primary = state.gpus.gpu_ids()[0];
    let socket = serve_gpu(state, gpu, primary)?;
    Ok((gpu.to_string(), socket))
}

fn windows(state: &State) -> WindowsReply {
    let focus = state.seat.get_keyboard().and_then(|k| k.current_focus());
    let windows = state
        .space
        .elements()
        .map(|window| {
            let focused = focus.is_some()
                && crate::shell::window::main_surface(state.xwayland.as_ref(), window) == focus;
            let identity = crate::shell::window::identity(state, window);
            let location = state.space.element_location(window).unwrap_or_default();
            let size = window.geometry().size;
            let surface = crate::shell::window::main_surface(state.xwayland.as_ref(), window);
            let hints = surface.as_ref().map(|s| {
                (
                    crate::protocols::presentation_hints::content_type(s),
                    crate::protocols::presentation_hints::presentation_hint(s),
                )
            });
            let (content_type, presentation) = hints.unwrap_or(("none", "vsync"));
            WindowInfo {
                shell: identity.shell.to_owned(),
                app_id: identity.app_id,
                title: identity.title,
                pid: identity.pid,
                x: location.x,
                y: location.y,
                width: size.w,
                height: size.h,
                focused,
                content_type: content_type.to_owned(),
                presentation: presentation.to_owned(),
                parent: crate::shell::dialog::parent_of(&state.space, window)
                    .map(|parent| crate::shell::window::identity(state, &parent).title),
            }
        })
        .collect();
    WindowsReply { windows }
}

/// `msg power`: turns the output named `output`, or every output, on or off.
fn power(state: &mut State, on: bool, output: Option<&str>) -> Reply {
    let cause = crate::screens::PowerCause::Ipc;
    match output {
        None => {
            crate::screens::set_all(state, on, cause);
            Reply::Ok
        }
        Some(name) => {
            let Some(output) = state
                .outputs
                .iter()
                .find(|o| o.output.name() == name)
                .map(|o| o.output.clone())
            else {
                return Reply::Error {
                    message: format!("no output {name}; see msg outputs"),
                };
            };
            crate::screens::set_power(state, &output, on, cause);
            Reply::Ok
        }
    }
}

fn outputs(state: &State) -> OutputsReply {
    let outputs = state
        .outputs
        .iter()
        .map(|info| {
            let output = &info.output;
            let location = state
                .space
                .output_geometry(output)
                .map(|g| g.loc)
                .unwrap_or_default();
            let mode = output.current_mode();
            OutputReport {
                name: output.name(),
                x: location.x,
                y: location.y,
                width: mode.map_or(0, |m| m.size.w),
                height: mode.map_or(0, |m| m.size.h),
                refresh_mhz: mode.map_or(0, |m| m.refresh),
                render_gpu: info.render.to_string(),
                target_gpu: info.target.to_string(),
                frames: state.frames_shown(&output.name()),
                last_latency_ms: state
                    .latency(&output.name())
                    .map(|l| l.as_secs_f64() * 1000.0),
                captured_frames: state.captures.served(&output.name()).frames,
                captured_from_frame: state.captures.served(&output.name()).from_frame,
                captured_bytes: state.captures.served(&output.name()).bytes,
                scale: output.current_scale().fractional_scale(),
                enabled: state.space.output_geometry(output).is_some(),
                powered: info.powered,
                make: info.monitor.make.clone(),
                model: info.monitor.model.clone(),
                serial: info.monitor.serial.clone(),
            }
        })
        .collect();
    OutputsReply { outputs }
}

/// How `info`'s output gets its frames; `access` is how its GPU draws.
fn feed_of(state: &State, info: &OutputInfo, access: tandem::RenderAccess) -> FeedInfo {
    let output = info.output.name();
    let (how, why) = if info.render == info.target {
        let why = match access {
            tandem::RenderAccess::PrimaryNode => {
                "display-only device: drawn by its CPU rasterizer through the primary node"
            }
            _ => "this GPU renders the output itself",
        };
        ("drawn here".to_owned(), why.to_owned())
    } else {
        match state.gpus.output_feed(&output) {
            Some(feed) if feed.shared_dmabuf => {
                (format!("dmabuf from {}", info.render), feed.reason)
            }
            Some(feed) => (format!("CPU copy from {}", info.render), feed.reason),
            None => (
                format!("pending from {}", info.render),
                "no frame drawn yet".to_owned(),
            ),
        }
    };
    FeedInfo { output, how, why }
}

fn gpus(state: &mut State) -> GpusReply {
    let mut ids = state.gpus.gpu_ids();
    ids.extend(state.gpus.parked_gpu_ids());
    let gpus = ids
        .into_iter()
        .map(|id| {
            let parked = state.gpus.is_parked(id);
            let unknown = (
                state.gpus.quirks_of(id).unwrap_or_default(),
                String::new(),
                tandem::RenderAccess::Software,
            );
            let (quirks, renderer, access, lost) = match parked {
                false => match state.gpus.gpu(id) {
                    Ok(gpu) => (
                        gpu.quirks(),
                        gpu.renderer_name().to_owned(),
                        gpu.access(),
                        gpu.lost().map(str::to_owned),
                    ),
                    Err(_) => (unknown.0, unknown.1, unknown.2, None),
                },
                true => (unknown.0, unknown.1, unknown.2, None),
            };
            let feeds = state
                .outputs
                .iter()
                .filter(|o| o.target == id)
                .map(|o| feed_of(state, o, access))
                .collect();
            GpuInfo {
                id: id.to_string(),
                kind: match id {
                    tandem::GpuId::Drm(_) => "drm".into(),
                    tandem::GpuId::Software(_) => "software".into(),
                },
                socket: state.sockets.of_gpu(id).map(|s| s.name.clone()),
                outputs: state
                    .outputs
                    .iter()
                    .filter(|o| o.render == id || o.target == id)
                    .map(|o| o.output.name())
                    .collect(),
                imports_foreign_dmabufs: quirks.imports_foreign_dmabufs,
                exports_dmabufs: quirks.exports_dmabufs,
                renderer,
                draws_through: access.to_string(),
                feeds,
                parked,
                last_wake_ms: state
                    .gpus
                    .last_wake(id)
                    .map(|took| took.as_secs_f64() * 1000.0),
                lost,
                path_failures: state
                    .gpus
                    .path_failures()
                    .into_iter()
                    .filter(|f| f.target == id)
                    .map(|f| {
                        let client = f
                            .client
                            .map(|c| format!(" ({c:?}'s buffers)"))
                            .unwrap_or_default();
                        let retry = match f.retry_in {
                            Some(wait) => format!("tried again in {:.1} s", wait.as_secs_f64()),
                            None => "not tried again while both GPUs stay".into(),
                        };
                        format!(
                            "{:?} from {} for {} {:?}{client}: failed {} times ({}); {retry}",
                            f.path,
                            f.source,
                            f.fourcc,
                            f.modifier,
                            f.failures,
                            f.reason,
                        )
                    })
                    .collect(),
                copy_costs: state
                    .gpus
                    .copy_costs()
                    .into_iter()
                    .filter(|c| c.target == id)
                    .map(|c| {
                        format!(
                            "{:?} from {} for {} {:?}: {:.0} us + {:.0} us/MiB ({} copies measured)",
                            c.path, c.source, c.fourcc, c.modifier, c.fixed_us, c.us_per_mib, c.samples
                        )
                    })
                    .collect(),
                offered_formats: state
                    .gpus
                    .offered_formats(id)
                    .into_iter()
                    .map(|f| format!("{}:{}", f.code, modifier_name(f.modifier)))
                    .collect(),
                refused_formats: state
                    .gpus
                    .refused_formats(id)
                    .into_iter()
                    .map(|(f, why)| format!("{}:{}: {why}", f.code, modifier_name(f.modifier)))
                    .collect(),
                mapped_reads: tandem::texture::MAPPED_READ_RULE.into(),
            }
        })
        .collect();
    let sync = vec![
        state.explicit_sync.describe(),
        state.retired_buffers.describe(),
    ];
    GpusReply { gpus, sync }
}

/// A modifier as people read it: `linear`, `implicit`, or its number.
fn modifier_name(modifier: tandem::smithay::backend::allocator::Modifier) -> String {
    use tandem::smithay::backend::allocator::Modifier;
    match modifier {
        Modifier::Linear => "linear".into(),
        Modifier::Invalid => "implicit".into(),
        other => format!("{:#x}", u64::from(other)),
    }
}

/// Every client still connected, with the sandbox it came from.
fn clients(state: &mut State) -> ClientsReply {
    state.forget_gone_clients();
    let clients = state
        .clients
        .iter()
        .map(|client| {
            let data = client.get_data::<crate::state::ClientState>();
            ClientReport {
                pid: client.get_credentials(&state.display).ok().map(|c| c.pid),
                gpu: data.map(|d| d.gpu.to_string()).unwrap_or_default(),
                xwayland: crate::state::is_xwayland(client),
                sandbox: data
                    .and_then(|d| d.security_context.as_ref())
                    .map(|context| SandboxReport {
                        engine: context.sandbox_engine.clone(),
                        app_id: context.app_id.clone(),
                        instance_id: context.instance_id.clone(),
                    }),
            }
        })
        .collect();
    ClientsReply { clients }
}
