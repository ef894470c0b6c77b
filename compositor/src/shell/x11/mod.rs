//! X11 programs through Xwayland: the compositor owns an X11 display (`display`), starts
//! Xwayland when the first X11 client connects to it, offers it wl_drm on a DRM GPU (`wl_drm`,
//! for glamor), runs the X11 window manager (`wm`) once Xwayland is ready, stops a lazily
//! started Xwayland once it has no X11 client left, and when Xwayland exits (stopped, or it
//! crashed) drops its windows and waits for the next X11 client to start a new one.
//!
//! `main` calls [`enable`] after the backend is up; `State::xwayland` owns the [`Xwayland`]
//! from then on. Xwayland is a Wayland client like any other: its windows' buffers reach Tandem
//! through their wl_surfaces, are counted per surface, and are released when Xwayland destroys
//! those surfaces or disconnects. `server::spawn_client` gives the programs the compositor starts
//! `DISPLAY`.

pub mod clipboard;
mod display;
mod queries;
mod requests;
pub mod selection;
mod wl_drm;
pub mod wm;

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::ping::{make_ping, Ping};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{Interest, Mode, PostAction, RegistrationToken};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Resource};

use crate::state::State;
pub use display::X11Display;
use tandem::gpu::GpuId;
pub use wm::{Wm, X11Window};

/// What the compositor does with Xwayland (`--xwayland`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum XwaylandMode {
    /// Started when the first X11 client connects; stopped once no X11 client is left (checked
    /// every few seconds).
    Lazy,
    /// Started when the first X11 client connects; kept running after its clients leave.
    Keep,
    /// No X11 display.
    Off,
}

/// How often a lazily started Xwayland is asked whether it still has X11 clients. (Its own
/// `-terminate` never fires: the window manager's connection keeps it from being idle.)
const IDLE_CHECK: Duration = Duration::from_secs(3);

/// The compositor's X11 display and, while it runs, Xwayland.
pub struct Xwayland {
    display: X11Display,
    mode: XwaylandMode,
    /// Readiness watches on the display's listening sockets, enabled while Xwayland is down.
    watches: Vec<RegistrationToken>,
    /// Wakes the loop when Xwayland's Wayland connection closes.
    gone: Ping,
    running: Option<Running>,
    /// X11 windows Xwayland has told the window manager about.
    pub windows: Vec<X11Window>,
    /// How many Xwayland processes were started.
    pub starts: u32,
    /// What Wayland clients offer as the clipboard and the primary selection (`clipboard`).
    pub wayland_offers: [Option<Vec<String>>; 2],
}

/// One Xwayland process.
struct Running {
    child: Child,
    client: Client,
    /// The window manager's end of `-wm`, until Xwayland says it is ready.
    wm_socket: Option<UnixStream>,
    wm: Option<Arc<Wm>>,
    started: Instant,
    /// The periodic check that stops a lazily started Xwayland with no clients.
    idle_check: Option<RegistrationToken>,
}

impl Xwayland {
    /// The value of `DISPLAY` for X11 programs.
    pub fn display_name(&self) -> String {
        self.display.name()
    }

    /// The window manager, once Xwayland is up.
    pub fn wm(&self) -> Option<Arc<Wm>> {
        self.running.as_ref().and_then(|r| r.wm.clone())
    }
}

/// Claims an X11 display and waits for X11 clients on it; returns its `DISPLAY` value.
pub fn enable(state: &mut State, mode: XwaylandMode) -> Result<Option<String>, String> {
    if mode == XwaylandMode::Off {
        return Ok(None);
    }
    if !on_path("Xwayland") {
        return Err(
            "Xwayland is not on PATH: install the xwayland package, or run with --xwayland off"
                .into(),
        );
    }
    let display = X11Display::claim().map_err(|e| format!("X11 display: {e}"))?;
    let handle = state.display_loop_handle();
    let mut watches = Vec::new();
    for listener in display.listeners() {
        let fd = listener
            .try_clone_to_owned()
            .map_err(|e| format!("X11 socket: {e}"))?;
        let token = handle
            .insert_source(
                Generic::new(fd, Interest::READ, Mode::Level),
                |_, _, state: &mut State| {
                    start(state);
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| format!("X11 socket: {e}"))?;
        watches.push(token);
    }
    let (gone, gone_source) = make_ping().map_err(|e| format!("X11: {e}"))?;
    handle
        .insert_source(gone_source, |_, _, state: &mut State| exited(state))
        .map_err(|e| format!("X11: {e}"))?;
    if let Some(GpuId::Drm(node)) = state.sockets.main_gpu() {
        if let Some(path) = node.dev_path() {
            wl_drm::create_global(&state.display, path.display().to_string());
        }
    }
    let name = display.name();
    tracing::info!(display = %name, ?mode, "X11 display ready; Xwayland starts with its first client");
    state.xwayland = Some(Xwayland {
        display,
        mode,
        watches,
        gone,
        running: None,
        windows: Vec::new(),
        starts: 0,
        wayland_offers: [None, None],
    });
    Ok(Some(name))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// An X11 client is waiting on the display: starts Xwayland and stops watching until it exits.
fn start(state: &mut State) {
    let handle = state.display_loop_handle();
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    for token in &xwayland.watches {
        handle.disable(token).ok();
    }
    if xwayland.running.is_some() {
        return;
    }
    let Some(gpu) = state.sockets.main_gpu() else {
        return;
    };
    let attachment = state.client_attachment(gpu);
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    let gone = xwayland.gone.clone();
    let spawned = spawn(&xwayland.display, |stream| {
        state.display.insert_client(
            stream,
            crate::state::xwayland_client_data(gpu, attachment, gone),
        )
    });
    match spawned {
        Ok((running, ready)) => {
            state.gpus.exempt_from_budget(running.client.id());
            state.client_accepted(running.client.clone());
            let Some(xwayland) = state.xwayland.as_mut() else {
                return;
            };
            xwayland.starts += 1;
            tracing::info!(
                pid = running.child.id(),
                display = %xwayland.display.name(),
                start = xwayland.starts,
                "Xwayland started for an X11 client"
            );
            xwayland.running = Some(running);
            let watched = handle.insert_source(
                Generic::new(ready, Interest::READ, Mode::Level),
                |_, ready, state: &mut State| Ok(read_ready(state, ready.as_fd())),
            );
            if let Err(err) = watched {
                tracing::error!(%err, "cannot wait for Xwayland to be ready");
            }
        }
        Err(err) => {
            // The waiting client stays queued; the next start is tried when another connects.
            tracing::error!(%err, "Xwayland could not be started; X11 clients are not served");
        }
    }
}

/// Starts Xwayland on `display`'s sockets; `insert` adds its Wayland connection as a client.
/// Returns the process and the pipe it writes the display number to once it is ready.
fn spawn(
    display: &X11Display,
    insert: impl FnOnce(UnixStream) -> Result<Client, io::Error>,
) -> io::Result<(Running, OwnedFd)> {
    let (wm_ours, wm_theirs) = UnixStream::pair()?;
    let (wayland_ours, wayland_theirs) = UnixStream::pair()?;
    let (ready_read, ready_write) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )?;
    // Xwayland's ends are inherited: copies without close-on-exec, dropped once it runs.
    let inherited = |fd: std::os::fd::BorrowedFd<'_>| -> io::Result<OwnedFd> {
        let copy = fd.try_clone_to_owned()?;
        rustix::io::fcntl_setfd(&copy, rustix::io::FdFlags::empty())?;
        Ok(copy)
    };
    let wm_fd = inherited(wm_theirs.as_fd())?;
    let wayland_fd = inherited(wayland_theirs.as_fd())?;
    let ready_fd = inherited(ready_write.as_fd())?;
    let listen_fds = display
        .listeners()
        .map(inherited)
        .collect::<io::Result<Vec<_>>>()?;

    let mut command = Command::new("Xwayland");
    command
        .arg(display.name())
        .arg("-rootless")
        .args(["-wm", &wm_fd.as_raw_fd().to_string()])
        .args(["-displayfd", &ready_fd.as_raw_fd().to_string()]);
    for fd in &listen_fds {
        command.args(["-listenfd", &fd.as_raw_fd().to_string()]);
    }
    command
        .env("WAYLAND_SOCKET", wayland_fd.as_raw_fd().to_string())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(log_file(display).map(Stdio::from).unwrap_or(Stdio::null()))
        .stderr(log_file(display).map(Stdio::from).unwrap_or(Stdio::null()));
    let child = command.spawn()?;
    drop((
        wm_fd,
        wayland_fd,
        ready_fd,
        listen_fds,
        wm_theirs,
        wayland_theirs,
        ready_write,
    ));
    let client = match insert(wayland_ours) {
        Ok(client) => client,
        Err(err) => {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            return Err(err);
        }
    };
    Ok((
        Running {
            child,
            client,
            wm_socket: Some(wm_ours),
            wm: None,
            started: Instant::now(),
            idle_check: None,
        },
        ready_read,
    ))
}

/// Xwayland's own output goes to `$XDG_RUNTIME_DIR/xwayland-<N>.log`.
fn log_path(display: &X11Display) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")?;
    Some(std::path::Path::new(&dir).join(format!("xwayland-{}.log", display.number())))
}

fn log_file(display: &X11Display) -> Option<File> {
    File::options()
        .create(true)
        .append(true)
        .open(log_path(display)?)
        .ok()
}

/// Reads Xwayland's `-displayfd` pipe: a line means it is ready for the window manager.
fn read_ready(state: &mut State, pipe: std::os::fd::BorrowedFd<'_>) -> PostAction {
    let mut buf = [0u8; 32];
    match rustix::io::read(pipe, &mut buf).map_err(io::Error::from) {
        Ok(n) if n > 0 && buf[..n].contains(&b'\n') => {
            start_wm(state);
            PostAction::Remove
        }
        Ok(0) => PostAction::Remove,
        Ok(_) => PostAction::Continue,
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => PostAction::Continue,
        Err(err) => {
            tracing::error!(%err, "reading Xwayland's display pipe");
            PostAction::Remove
        }
    }
}

fn start_wm(state: &mut State) {
    let Some(running) = state.xwayland.as_mut().and_then(|x| x.running.as_mut()) else {
        return;
    };
    let Some(socket) = running.wm_socket.take() else {
        return;
    };
    let elapsed = running.started.elapsed();
    match Wm::start(state, socket) {
        Ok(wm) => {
            let lazy = state
                .xwayland
                .as_ref()
                .is_some_and(|x| x.mode == XwaylandMode::Lazy);
            let idle_check = lazy
                .then(|| {
                    state
                        .display_loop_handle()
                        .insert_source(Timer::from_duration(IDLE_CHECK), |_, _, state| {
                            stop_if_idle(state);
                            TimeoutAction::ToDuration(IDLE_CHECK)
                        })
                        .map_err(|err| tracing::error!(%err, "Xwayland will not stop when idle"))
                        .ok()
                })
                .flatten();
            if let Some(running) = state.xwayland.as_mut().and_then(|x| x.running.as_mut()) {
                running.wm = Some(wm);
                running.idle_check = idle_check;
            }
            clipboard::announce(state);
            tracing::info!(?elapsed, "Xwayland ready, X11 window manager running");
        }
        Err(err) => {
            tracing::error!(%err, "the X11 window manager could not start; stopping Xwayland");
            if let Some(running) = state.xwayland.as_mut().and_then(|x| x.running.as_mut()) {
                let _ = running.child.kill();
            }
        }
    }
}

/// Stops a lazily started Xwayland that has neither windows nor clients left; `exited` then
/// cleans up when its connection closes.
fn stop_if_idle(state: &mut State) {
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    if !xwayland.windows.is_empty() {
        return;
    }
    let Some(running) = xwayland.running.as_mut() else {
        return;
    };
    let Some(wm) = &running.wm else {
        return;
    };
    wm.count_other_clients();
}

/// The X server said how many X11 clients it serves besides the window manager (asked by
/// `stop_if_idle`): with none, and still no window, Xwayland is stopped.
pub fn other_clients_counted(state: &mut State, clients: Option<usize>) {
    tracing::debug!(?clients, "Xwayland idle check");
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    if clients != Some(0) || !xwayland.windows.is_empty() {
        return;
    }
    let Some(running) = xwayland.running.as_mut() else {
        return;
    };
    tracing::info!(
        pid = running.child.id(),
        "Xwayland has no X11 clients left; stopping it"
    );
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&running.child),
        rustix::process::Signal::TERM,
    );
}

/// Xwayland's Wayland connection closed: it exited or was killed. Its windows go (their
/// surfaces were destroyed with the connection, releasing their GPU memory), and the display
/// waits for the next X11 client.
fn exited(state: &mut State) {
    let handle = state.display_loop_handle();
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    let Some(mut running) = xwayland.running.take() else {
        return;
    };
    if let Some(token) = running.idle_check.take() {
        handle.remove(token);
    }
    // It is exiting: collected now if it has, otherwise reaped with the compositor's children
    // once it has (never waited for on the event loop).
    let status = running.child.try_wait();
    if matches!(status, Ok(None)) {
        state.children.adopt(running.child);
    }
    state.gpus.end_budget_exemption(&running.client.id());
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    if running.wm.is_none() {
        let refused = xwayland.display.refuse_waiting();
        tracing::error!(
            ?status,
            refused,
            log = %log_path(&xwayland.display).map(|p| p.display().to_string()).unwrap_or_default(),
            "Xwayland exited before it was ready (see its log); the X11 clients waiting were refused"
        );
    }
    let windows = std::mem::take(&mut xwayland.windows);
    for token in &xwayland.watches {
        if let Err(err) = handle.enable(token) {
            tracing::error!(%err, "X11 display no longer watched");
        }
    }
    tracing::info!(
        ?status,
        windows = windows.len(),
        "Xwayland exited; the next X11 client starts it again"
    );
    for window in &windows {
        wm::unmap_from_space(state, window);
    }
    state.request_redraw();
}

/// Pairs X11 windows with the wl_surfaces Xwayland made for them; called after each dispatch
/// (Xwayland names a surface in an X11 message that can arrive before the Wayland request
/// that creates it).
pub fn pair_surfaces(state: &mut State) {
    let Some(xwayland) = state.xwayland.as_mut() else {
        return;
    };
    let Some(running) = &xwayland.running else {
        return;
    };
    let mut paired = Vec::new();
    for window in xwayland.windows.iter_mut() {
        if window.wl_surface.as_ref().is_some_and(|s| s.is_alive()) {
            continue;
        }
        window.wl_surface = None;
        let Some(id) = window.wl_surface_id else {
            continue;
        };
        if let Ok(surface) = running
            .client
            .object_from_protocol_id::<WlSurface>(&state.display, id)
        {
            tracing::debug!(window = window.id, surface = ?surface.id(), "X11 window paired with its surface");
            window.wl_surface = Some(surface.clone());
            if let Some(element) = &window.element {
                paired.push((element.clone(), surface));
            }
        }
    }
    if !paired.is_empty() {
        state.request_redraw();
    }
    for (element, surface) in paired {
        state.focus_once_shown(element, &surface);
    }
}
