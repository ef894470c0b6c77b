//! The compositor's state: Wayland globals, the window space, the seat, and the Tandem GPU
//! manager.
//!
//! `State` is owned by the event loop that `server::Server` builds; the backends (`backend/`)
//! add outputs to its space and render it through Tandem. Protocol handlers live here and keep
//! the space up to date. Every surface is registered with Tandem when it is created, so its GPU
//! memory is released when it is destroyed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer as _;
use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::desktop::{PopupGrab, PopupKind, PopupManager, Space, Window};
use smithay::input::keyboard::XkbConfig;
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::output::Output;
use smithay::reexports::calloop::ping::Ping;
use smithay::reexports::calloop::{LoopHandle, RegistrationToken};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{
    ResizeEdge, State as ToplevelState,
};
use smithay::reexports::wayland_server::backend::{
    ClientData, ClientId, DisconnectReason, GlobalId,
};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Logical, Point, Serial};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    get_parent, is_sync_subsurface, with_states, CompositorClientState, CompositorHandler,
    CompositorState,
};
use smithay::wayland::dmabuf::{
    DmabufFeedback, DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier,
};
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use smithay::wayland::pointer_constraints::PointerConstraintsState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::relative_pointer::RelativePointerManagerState;
use smithay::wayland::selection::data_device::{
    set_data_device_focus, ClientDndGrabHandler, DataDeviceHandler, DataDeviceState,
    ServerDndGrabHandler,
};
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::selection::SelectionHandler;
use smithay::wayland::shell::wlr_layer::WlrLayerShellState;
use smithay::wayland::shell::xdg::{
    Configure, PopupSurface, PositionerState, SurfaceCachedState, ToplevelSurface, XdgShellHandler,
    XdgShellState,
};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::wayland::viewporter::ViewporterState;
use smithay::{
    delegate_data_device, delegate_layer_shell, delegate_output, delegate_presentation,
    delegate_seat, delegate_viewporter, delegate_xdg_shell,
};
use tandem::{GpuId, GpuManager, Quirks, SurfaceTracker};

use crate::children::Children;

/// Per-client data: the compositor state smithay needs, and the GPU whose socket it came in on.
pub struct ClientState {
    pub compositor: CompositorClientState,
    pub gpu: GpuId,
    /// The connected clients of this GPU's sockets, this one included until it disconnects
    /// (a GPU's retired linux-dmabuf global stays while it is above 0; see
    /// `gpu_service::retire_gpu`; an idle GPU is parked only at 0; see `parking`).
    connected: ConnectedClients,
    /// Xwayland's connection: rung when it disconnects (see `xwayland`).
    on_disconnect: Option<Ping>,
}

/// How many clients of a GPU's sockets are connected.
pub type ConnectedClients = Arc<AtomicUsize>;

impl ClientData for ClientState {
    fn initialized(&self, client: ClientId) {
        self.connected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(?client, gpu = %self.gpu, "client connected");
    }

    fn disconnected(&self, client: ClientId, reason: DisconnectReason) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(?client, ?reason, "client disconnected");
        if let Some(ping) = &self.on_disconnect {
            ping.ping();
        }
    }
}

pub fn client_data(gpu: GpuId, connected: ConnectedClients) -> Arc<ClientState> {
    Arc::new(ClientState {
        compositor: CompositorClientState::default(),
        gpu,
        connected,
        on_disconnect: None,
    })
}

/// Client data for Xwayland's connection, which rings `on_disconnect` when it goes.
pub fn xwayland_client_data(
    gpu: GpuId,
    connected: ConnectedClients,
    on_disconnect: Ping,
) -> Arc<ClientState> {
    Arc::new(ClientState {
        compositor: CompositorClientState::default(),
        gpu,
        connected,
        on_disconnect: Some(on_disconnect),
    })
}

/// Whether `client` is Xwayland's connection.
pub fn is_xwayland(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|data| data.on_disconnect.is_some())
}

/// The GPU a client was attached to by the socket it used.
pub fn client_gpu(client: &Client) -> Option<GpuId> {
    client.get_data::<ClientState>().map(|data| data.gpu)
}

/// A Wayland socket and the GPU its clients get as their main device.
#[derive(Debug, Clone)]
pub struct SocketInfo {
    pub name: String,
    pub gpu: GpuId,
    /// The listening socket's event source, removed (closing the socket) when its GPU goes.
    pub source: Option<RegistrationToken>,
}

/// An output shown by a backend, and the GPUs behind it.
#[derive(Debug, Clone)]
pub struct OutputInfo {
    pub output: Output,
    /// GPU that renders the output.
    pub render: GpuId,
    /// GPU whose buffers the output scans out.
    pub target: GpuId,
    /// The output's wl_output global, removed when the output goes.
    pub global: GlobalId,
}

pub struct State {
    pub display: DisplayHandle,
    pub compositor: CompositorState,
    pub shm: ShmState,
    pub dmabuf: DmabufState,
    pub dmabuf_globals: Vec<(DmabufGlobal, GpuId)>,
    /// Per-surface linux-dmabuf feedback for clients of each DRM GPU.
    pub surface_feedback: Vec<(GpuId, DmabufFeedback)>,
    /// linux-dmabuf globals of GPUs that went away: disabled, still answering the clients that
    /// bound them (on behalf of another GPU), destroyed once those clients are gone.
    pub retired_dmabuf_globals: Vec<crate::gpu_service::RetiredGlobal>,
    /// The connected clients of each GPU's sockets.
    pub client_attachments: Vec<(GpuId, ConnectedClients)>,
    /// wp_linux_drm_syncobj_manager_v1, when a DRM GPU can import timelines.
    pub explicit_sync: crate::explicit_sync::ExplicitSync,
    /// Client buffers kept until the GPU frames that sampled them end.
    pub retired_buffers: crate::buffer_release::RetiredBuffers,
    /// GPUs parked since the backend last looked (see `parking`).
    pub newly_parked: Vec<GpuId>,
    /// IPC requests only the backend can answer, with the `msg` client waiting for the reply
    /// (see `Backend::answer_requests`).
    pub backend_requests: Vec<(
        crate::ipc::messages::Request,
        std::os::unix::net::UnixStream,
    )>,
    pub xdg_shell: XdgShellState,
    pub layer_shell: WlrLayerShellState,
    pub data_device: DataDeviceState,
    pub seat_state: SeatState<State>,
    pub seat: Seat<State>,
    /// The surface the pointer was last sent into, and where its origin was then.
    pub pointer_under: Option<crate::window::SurfaceAt>,
    /// Touch points that are down, and the surface each went down on.
    pub touch_points: Vec<(Option<u32>, WlSurface)>,
    pub space: Space<Window>,
    pub popups: PopupManager,
    /// The popup grab on, if any (`popup_grab`).
    pub popup_grab: Option<PopupGrab<State>>,
    pub outputs: Vec<OutputInfo>,
    pub gpus: GpuManager,
    pub tracker: SurfaceTracker,
    pub sockets: Vec<SocketInfo>,
    /// The IPC socket, exported to clients as TANDEM_SOCKET.
    pub ipc_path: std::path::PathBuf,
    pub pointer_location: Point<f64, Logical>,
    /// Windows mapped but not yet drawn: they get focus with their first buffer.
    unfocused_new_windows: Vec<Window>,
    /// Command started by Super+Return.
    pub terminal: Vec<String>,
    pub running: bool,
    /// Something on screen changed (a commit, a window mapped or gone, the pointer moved): the
    /// event-driven backends draw their outputs again, then clear it.
    pub redraw_requested: bool,
    /// What the pointer looks like, as the focused client last set it.
    pub cursor_status: CursorImageStatus,
    /// Frames that changed each output's content, by output name.
    frames_shown: HashMap<String, u64>,
    /// For each output, how long its last frame took from the first change it shows to being
    /// queued for display.
    frame_latency: HashMap<String, Duration>,
    /// Programs the compositor started, reaped as they exit.
    pub children: Children,
    /// Quirks given to GPUs added at run time (`msg gpu-add`), as the command line set them.
    pub new_gpu_quirks: Quirks,
    /// Keep every WlSurface handle ever seen, as compositors do through focus history and
    /// window lists (the stress test's worst case for leaks).
    pub retain_surfaces: bool,
    pub retained_surfaces: Vec<WlSurface>,
    /// The X11 display and Xwayland, once `xwayland::enable` ran (`--xwayland`).
    pub xwayland: Option<crate::xwayland::Xwayland>,
    /// For backends that add event sources from inside callbacks (DRM devices on hotplug).
    loop_handle: LoopHandle<'static, State>,
    started: Instant,
    _globals: (
        OutputManagerState,
        ViewporterState,
        PresentationState,
        RelativePointerManagerState,
        PointerConstraintsState,
    ),
    /// The primary selection's global and its offers (`primary_selection`).
    pub primary_selection: PrimarySelectionState,
    /// The surface whose pointer constraint is in force (`pointer_constraints`).
    pub constrained: Option<WlSurface>,
    /// The keyboard moved since pointer constraints were last looked at: the next pointer
    /// refresh (after the commit or dispatch that moved it) looks again.
    pub constraints_stale: bool,
}

impl State {
    pub fn new(
        display: DisplayHandle,
        loop_handle: LoopHandle<'static, State>,
        gpus: GpuManager,
        terminal: Vec<String>,
    ) -> State {
        let tracker = gpus.surface_tracker();
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(&display, "seat0");
        if let Err(err) = seat.add_keyboard(XkbConfig::default(), 200, 25) {
            tracing::warn!(%err, "no keyboard: xkb keymap could not be compiled");
        }
        seat.add_pointer();
        let globals = (
            OutputManagerState::new_with_xdg_output::<State>(&display),
            ViewporterState::new::<State>(&display),
            PresentationState::new::<State>(&display, CLOCK_MONOTONIC),
            RelativePointerManagerState::new::<State>(&display),
            PointerConstraintsState::new::<State>(&display),
        );
        State {
            compositor: CompositorState::new::<State>(&display),
            shm: ShmState::new::<State>(&display, []),
            dmabuf: DmabufState::new(),
            dmabuf_globals: Vec::new(),
            surface_feedback: Vec::new(),
            retired_dmabuf_globals: Vec::new(),
            client_attachments: Vec::new(),
            explicit_sync: Default::default(),
            retired_buffers: Default::default(),
            newly_parked: Vec::new(),
            backend_requests: Vec::new(),
            xdg_shell: XdgShellState::new::<State>(&display),
            layer_shell: WlrLayerShellState::new::<State>(&display),
            data_device: DataDeviceState::new::<State>(&display),
            primary_selection: PrimarySelectionState::new::<State>(&display),
            constrained: None,
            constraints_stale: false,
            seat_state,
            seat,
            space: Space::default(),
            pointer_under: None,
            touch_points: Vec::new(),
            popups: PopupManager::default(),
            popup_grab: None,
            outputs: Vec::new(),
            gpus,
            tracker,
            sockets: Vec::new(),
            ipc_path: std::path::PathBuf::new(),
            pointer_location: (0.0, 0.0).into(),
            unfocused_new_windows: Vec::new(),
            terminal,
            running: true,
            redraw_requested: true,
            cursor_status: CursorImageStatus::default_named(),
            frames_shown: HashMap::new(),
            frame_latency: HashMap::new(),
            children: Children::default(),
            new_gpu_quirks: Quirks::default(),
            retain_surfaces: false,
            retained_surfaces: Vec::new(),
            xwayland: None,
            started: Instant::now(),
            _globals: globals,
            loop_handle,
            display,
        }
    }

    /// The GPU whose buffers a linux-dmabuf global's clients create: its own GPU, or for the
    /// global of a GPU that went away, the GPU its clients were moved to.
    pub fn gpu_of_dmabuf_global(&self, global: &DmabufGlobal) -> Option<GpuId> {
        self.dmabuf_globals
            .iter()
            .find(|(g, _)| g == global)
            .map(|(_, gpu)| *gpu)
            .or_else(|| {
                self.retired_dmabuf_globals
                    .iter()
                    .find(|r| &r.global == global)
                    .map(|r| r.successor)
            })
    }

    /// The count of `gpu`'s connected clients, which a new client of its sockets joins.
    pub fn client_attachment(&mut self, gpu: GpuId) -> ConnectedClients {
        if let Some((_, token)) = self.client_attachments.iter().find(|(g, _)| *g == gpu) {
            return token.clone();
        }
        let token = ConnectedClients::default();
        self.client_attachments.push((gpu, token.clone()));
        token
    }

    /// Asks the event-driven backends to draw again.
    pub fn request_redraw(&mut self) {
        self.redraw_requested = true;
    }

    /// Counts a frame that changed `output`'s content.
    pub fn count_frame(&mut self, output: &str) {
        *self.frames_shown.entry(output.to_owned()).or_default() += 1;
    }

    /// Records how long `output`'s last frame took from the first change it shows to display.
    pub fn record_latency(&mut self, output: &str, latency: Duration) {
        self.frame_latency.insert(output.to_owned(), latency);
    }

    /// The latency of `output`'s last frame, if it has shown one that a change caused.
    pub fn latency(&self, output: &str) -> Option<Duration> {
        self.frame_latency.get(output).copied()
    }

    /// Frames that changed `output`'s content so far.
    pub fn frames_shown(&self, output: &str) -> u64 {
        self.frames_shown.get(output).copied().unwrap_or(0)
    }

    /// What the output registry (`outputs`) knows of `output`: the GPUs behind it and its
    /// global. Every backend reads render and target GPUs from here, never from a copy.
    pub fn output_info(&self, output: &Output) -> Option<&OutputInfo> {
        self.outputs.iter().find(|info| &info.output == output)
    }

    pub fn display_loop_handle(&self) -> LoopHandle<'static, State> {
        self.loop_handle.clone()
    }

    /// Time since the compositor started, for frame callbacks.
    pub fn clock(&self) -> Duration {
        self.started.elapsed()
    }

    /// Where the next window goes: cascading from the top-left corner.
    pub fn next_location(&self) -> Point<i32, Logical> {
        let step = (self.space.elements().len() % 8) as i32 * 32;
        (16 + step, 16 + step).into()
    }

    /// The window whose main surface is `surface` (a toplevel's, or an X11 window's).
    pub fn window_for(&self, surface: &WlSurface) -> Option<Window> {
        let xwayland = self.xwayland.as_ref();
        self.space
            .elements()
            .find(|w| crate::window::main_surface(xwayland, w).as_ref() == Some(surface))
            .cloned()
    }

    /// `window` takes the keyboard once it shows something.
    pub fn await_first_buffer(&mut self, window: Window) {
        self.unfocused_new_windows.push(window);
    }

    /// A new window gets the keyboard once `surface`, its main surface, shows something (on
    /// its commit, or when an X11 window is paired with a surface that already has a buffer).
    pub fn focus_once_shown(&mut self, window: Window, surface: &WlSurface) {
        let has_buffer =
            smithay::backend::renderer::utils::with_renderer_surface_state(surface, |state| {
                state.buffer().is_some()
            })
            .unwrap_or(false);
        if has_buffer && self.unfocused_new_windows.contains(&window) {
            self.unfocused_new_windows.retain(|w| w != &window);
            crate::popup_grab::dismiss(self);
            let serial = smithay::utils::SERIAL_COUNTER.next_serial();
            self.focus(Some(window), serial);
        }
    }

    /// `window` is gone before it showed anything.
    pub fn forget_new_window(&mut self, window: &Window) {
        self.unfocused_new_windows.retain(|w| w != window);
    }

    /// Gives the keyboard to the topmost window that takes it.
    pub fn focus_topmost(&mut self) {
        let xwayland = self.xwayland.as_ref();
        let next = self
            .space
            .elements()
            .rev()
            .find(|w| !crate::window::x11_window(xwayland, w).is_some_and(|x| x.override_redirect))
            .cloned();
        let serial = smithay::utils::SERIAL_COUNTER.next_serial();
        self.focus(next, serial);
    }

    /// Gives keyboard focus to `window` (or nobody) and raises it. X11 menus and tooltips
    /// never take it.
    pub fn focus(&mut self, window: Option<Window>, serial: Serial) {
        let x11 = window
            .as_ref()
            .and_then(|w| crate::window::x11_window(self.xwayland.as_ref(), w))
            .map(|x| (x.id, x.override_redirect));
        if x11.is_some_and(|(_, override_redirect)| override_redirect) {
            return;
        }
        if let Some(window) = &window {
            self.space.raise_element(window, true);
        }
        if let (Some((id, _)), Some(wm)) = (x11, self.xwayland.as_ref().and_then(|x| x.wm())) {
            wm.focus(id);
        }
        for other in self.space.elements() {
            if let Some(toplevel) = other.toplevel() {
                let active = Some(other) == window.as_ref();
                toplevel.with_pending_state(|state| {
                    if active {
                        state.states.set(smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State::Activated);
                    } else {
                        state.states.unset(smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State::Activated);
                    }
                });
                if toplevel.is_initial_configure_sent() {
                    toplevel.send_pending_configure();
                }
            }
        }
        let surface = crate::layer_keyboard::exclusive_holder(self).or_else(|| {
            window.and_then(|w| crate::window::main_surface(self.xwayland.as_ref(), &w))
        });
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, surface, serial);
        }
    }
}

/// Linux's CLOCK_MONOTONIC, the clock presentation times are given in.
const CLOCK_MONOTONIC: u32 = 1;

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(state) => &state.compositor,
            None => unreachable!("every client is inserted with ClientState"),
        }
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        self.tracker.new_surface::<State>(surface);
        crate::subsurface_position::track(surface);
        crate::buffer_readiness::track(surface);
        if self.retain_surfaces {
            self.retained_surfaces.push(surface.clone());
        }
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        crate::input::surface_destroyed(self, surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        crate::subsurface_position::committed(surface);
        bound_window_geometry(surface);
        crate::buffer_release::retire_replaced_buffer(self, surface);
        on_commit_buffer_handler::<State>(surface);
        self.request_redraw();
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for(&root) {
                crate::window::content_committed(&mut self.space, &window);
            }
        }
        self.popups.commit(surface);
        crate::layers::commit(self, surface);
        if let Some(window) = self.window_for(surface) {
            if let Some(toplevel) = window.toplevel() {
                if !toplevel.is_initial_configure_sent() {
                    toplevel.send_configure();
                }
            }
            self.focus_once_shown(window, surface);
        }
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface) {
            if !popup.is_initial_configure_sent() {
                if let Err(err) = popup.send_configure() {
                    tracing::debug!(%err, "popup configure");
                }
            }
        }
        crate::input::refresh_pointer_focus(self);
    }
}

/// Clamps the window geometry `surface`'s client set (xdg_surface.set_window_geometry; smithay
/// refuses empty sizes, not absurd positions or sizes) to `client_geometry`'s bounds.
fn bound_window_geometry(surface: &WlSurface) {
    with_states(surface, |states| {
        let mut cached = states.cached_state.get::<SurfaceCachedState>();
        if let Some(geometry) = cached.current().geometry.as_mut() {
            *geometry = crate::client_geometry::rectangle(*geometry);
        }
    });
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }

    fn new_surface_feedback(
        &mut self,
        _surface: &WlSurface,
        global: &DmabufGlobal,
    ) -> Option<DmabufFeedback> {
        let gpu = self.gpu_of_dmabuf_global(global)?;
        self.surface_feedback
            .iter()
            .find(|(g, _)| *g == gpu)
            .map(|(_, feedback)| feedback.clone())
    }

    fn dmabuf_imported(&mut self, global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        let Some(gpu) = self.gpu_of_dmabuf_global(global) else {
            notifier.failed();
            return;
        };
        let client = notifier.client().map(|c| c.id());
        if let Err(err) = self
            .gpus
            .check_budget(client.as_ref(), tandem::gpu::dmabuf_bytes(&dmabuf))
        {
            tracing::warn!(?client, %err, "refused a client's dmabuf");
            notifier.failed();
            return;
        }
        match self
            .gpus
            .accept_client_dmabuf(&dmabuf, gpu, client.as_ref())
        {
            Ok(()) => {
                let _ = notifier.successful::<State>();
            }
            Err(err) => {
                tracing::debug!(%gpu, format = ?dmabuf.format(), %err, "refused dmabuf");
                notifier.failed();
            }
        }
    }
}

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell
    }

    fn new_toplevel(&mut self, toplevel: ToplevelSurface) {
        let location = self.next_location();
        tracing::info!(surface = ?toplevel.wl_surface().id(), ?location, "new window");
        let window = Window::new_wayland_window(toplevel);
        self.space.map_element(window.clone(), location, false);
        self.unfocused_new_windows.push(window);
        self.request_redraw();
    }

    fn toplevel_destroyed(&mut self, toplevel: ToplevelSurface) {
        crate::input::pointer_leaves(self, toplevel.wl_surface());
        if let Some(window) = self.window_for(toplevel.wl_surface()) {
            self.space.unmap_elem(&window);
            self.unfocused_new_windows.retain(|w| w != &window);
        }
        self.focus_topmost();
        self.request_redraw();
    }

    fn new_popup(&mut self, surface: PopupSurface, positioner: PositionerState) {
        if crate::request_guards::popup_parent_loops(&surface) {
            crate::request_guards::refuse_popup_parent(&self.display, &surface);
            return;
        }
        surface.with_pending_state(|state| {
            state.geometry = crate::client_geometry::rectangle(positioner.get_geometry());
        });
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            tracing::debug!(%err, "popup not tracked");
        }
    }

    fn ack_configure(&mut self, surface: WlSurface, configure: Configure) {
        if let Configure::Popup(configure) = configure {
            crate::popup_placement::acknowledged(&surface, &configure);
            self.request_redraw();
        }
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        crate::input::pointer_leaves(self, surface.wl_surface());
        self.request_redraw();
    }

    fn grab(&mut self, surface: PopupSurface, _seat: WlSeat, serial: Serial) {
        crate::popup_grab::start(self, surface, serial);
    }

    fn move_request(&mut self, surface: ToplevelSurface, _seat: WlSeat, serial: Serial) {
        crate::interactive::start_move(self, &surface, serial);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        _seat: WlSeat,
        serial: Serial,
        edges: ResizeEdge,
    ) {
        crate::interactive::start_resize(self, &surface, serial, edges);
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        crate::toplevel_states::maximize(self, &surface);
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        crate::toplevel_states::restore(self, &surface, ToplevelState::Maximized);
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        crate::toplevel_states::fullscreen(self, &surface);
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        crate::toplevel_states::restore(self, &surface, ToplevelState::Fullscreen);
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = crate::client_geometry::rectangle(positioner.get_geometry());
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
    }
}

impl OutputHandler for State {}

impl SeatHandler for State {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<State> {
        &mut self.seat_state
    }

    fn focus_changed(&mut self, seat: &Seat<State>, focused: Option<&WlSurface>) {
        let client = focused.and_then(|surface| self.display.get_client(surface.id()).ok());
        set_data_device_focus(&self.display, seat, client.clone());
        crate::primary_selection::focus_changed(&self.display, seat, client);
        self.constraints_stale = true;
        self.request_redraw();
    }

    fn cursor_image(&mut self, _seat: &Seat<State>, image: CursorImageStatus) {
        self.cursor_status = image;
        self.request_redraw();
    }
}

impl SelectionHandler for State {
    type SelectionUserData = ();
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.data_device
    }
}

impl ClientDndGrabHandler for State {}
impl ServerDndGrabHandler for State {}

// wl_compositor, wl_shm and linux-dmabuf: in request_guards.rs.
delegate_xdg_shell!(State);
delegate_output!(State);
delegate_seat!(State);
delegate_data_device!(State);
delegate_viewporter!(State);
delegate_presentation!(State);
delegate_layer_shell!(State);
