//! The compositor's state: Wayland globals, the window space, the seat, and the Tandem GPU
//! manager.
//!
//! `State` is owned by the event loop that `server::Server` builds; the backends (`backend/`)
//! add outputs to its space and render it through Tandem. The protocol handlers that keep it up
//! to date live in `protocols/` and `shell/`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smithay::desktop::{PopupGrab, PopupManager, Space, Window};
use smithay::input::keyboard::XkbConfig;
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatState};
use smithay::output::Output;
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::utils::{Logical, Point, Serial};
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::dmabuf::{DmabufFeedback, DmabufGlobal, DmabufState};
use smithay::wayland::fractional_scale::FractionalScaleManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::pointer_constraints::PointerConstraintsState;
use smithay::wayland::presentation::PresentationState;
use smithay::wayland::relative_pointer::RelativePointerManagerState;
use smithay::wayland::security_context::SecurityContextState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::selection::primary_selection::PrimarySelectionState;
use smithay::wayland::shell::wlr_layer::WlrLayerShellState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::viewporter::ViewporterState;
use tandem::{GpuId, GpuManager, Quirks, SurfaceTracker};

use crate::children::Children;
pub use crate::clients::{
    client_data, client_gpu, is_xwayland, sandboxed_client_data, xwayland_client_data, ClientState,
    ConnectedClients,
};
pub use crate::gpu::sockets::{SocketInfo, Sockets};
pub use crate::output_registry::{OutputInfo, OutputRegistry};

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
    pub retired_dmabuf_globals: Vec<crate::gpu::service::RetiredGlobal>,
    /// The connected clients of each GPU's sockets.
    pub client_attachments: Vec<(GpuId, ConnectedClients)>,
    /// wp_linux_drm_syncobj_manager_v1, when a DRM GPU can import timelines.
    pub explicit_sync: crate::protocols::explicit_sync::ExplicitSync,
    /// Client buffers kept until the GPU frames that sampled them end.
    pub retired_buffers: crate::protocols::buffer_release::RetiredBuffers,
    /// GPUs parked since the backend last looked (see `gpu::parking`).
    pub newly_parked: Vec<GpuId>,
    /// IPC requests only the backend can answer, with the `msg` client waiting for the reply
    /// (see `Backend::answer_requests`).
    pub backend_requests: Vec<(
        crate::ipc::messages::Request,
        std::os::unix::net::UnixStream,
    )>,
    pub xdg_shell: XdgShellState,
    /// xdg-decoration's global (`shell::decorations`).
    pub xdg_decoration: smithay::wayland::shell::xdg::decoration::XdgDecorationState,
    pub layer_shell: WlrLayerShellState,
    pub data_device: DataDeviceState,
    pub seat_state: SeatState<State>,
    pub seat: Seat<State>,
    /// The surface the pointer was last sent into, and where its origin was then.
    pub pointer_under: Option<crate::shell::window::SurfaceAt>,
    /// Touch points that are down, and the surface each went down on.
    pub touch_points: Vec<(Option<u32>, WlSurface)>,
    pub space: Space<Window>,
    pub popups: PopupManager,
    /// The popup grab on, if any (`shell::popup_grab`).
    pub popup_grab: Option<PopupGrab<State>>,
    /// Every output a backend shows (`output_registry`).
    pub outputs: OutputRegistry,
    pub gpus: GpuManager,
    pub tracker: SurfaceTracker,
    /// The main socket and one per GPU (`gpu::sockets`).
    pub sockets: Sockets,
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
    /// Screen captures: kept buffers, damage trackers, copies waiting for a frame (`capture`).
    pub captures: crate::capture::Captures,
    /// What the pointer looks like, as the focused client last set it.
    pub cursor_status: CursorImageStatus,
    /// The pointer's default image, drawn where the compositor draws the pointer (the TTY's
    /// outputs, captures that ask for it).
    pub pointer_image: crate::input::cursor::Cursor,
    /// ext-session-lock: whether the session is locked, and what outputs show meanwhile.
    pub session_lock: crate::protocols::session_lock::SessionLock,
    /// ext-idle-notify and idle inhibitors.
    pub idle: crate::protocols::idle::Idle,
    /// wlr-output-management: the managers bound and what each was told.
    pub output_management: crate::protocols::output_management::OutputManagement,
    /// wlr-output-power-management: the power objects clients hold.
    pub output_power: crate::protocols::output_power::OutputPower,
    /// Screens off after idle time (`screens`).
    pub screens: crate::screens::Screens,
    /// The backend's outputs are its own buffers (headless): any mode can be set, and an
    /// output can be turned off.
    pub virtual_outputs: bool,
    /// The configuration in effect (`config`), the file it comes from, and the error of the
    /// last load that failed (the configuration before it stays).
    pub config: crate::config::Config,
    pub config_path: Option<std::path::PathBuf>,
    pub config_error: Option<String>,
    /// Counts configuration loads; an output the current one was applied to carries it
    /// (`config::apply_new_outputs`).
    pub config_generation: u64,
    /// What the command line set of the configuration's `[gpus]`.
    pub gpu_flags: crate::config::GpuFlags,
    /// How long a GPU nothing needs stays open before it parks (`None`: never).
    pub park_after: Option<Duration>,
    /// The libinput devices the TTY backend reads, configured by `input::devices`.
    pub input_devices: Vec<smithay::reexports::input::Device>,
    /// The last settings of each monitor seen this session.
    pub monitor_settings: crate::monitor::MonitorSettings,
    /// ext-foreign-toplevel-list: a handle per window (`protocols::foreign_toplevel_list`).
    pub toplevel_list: crate::protocols::foreign_toplevel_list::ToplevelList,
    /// Windows out of the space until they are restored (`shell::minimize`).
    pub minimized: Vec<crate::shell::minimize::MinimizedWindow>,
    /// wlr-foreign-toplevel-management: taskbars (`protocols::foreign_toplevel_management`).
    pub toplevel_management: crate::protocols::foreign_toplevel_management::ToplevelManagement,
    /// xdg-activation's tokens (`protocols::activation`).
    pub activation: smithay::wayland::xdg_activation::XdgActivationState,
    /// Every client accepted on a socket, Xwayland's connection included, until `msg clients`
    /// or the next accept finds it gone.
    pub clients: Vec<Client>,
    /// wp_security_context_v1 (`protocols::security_context`).
    pub security_context: SecurityContextState,
    /// wp_single_pixel_buffer_v1 (`protocols::single_pixel_buffer`).
    pub single_pixel_buffer: smithay::wayland::single_pixel_buffer::SinglePixelBufferState,
    /// wp_content_type_v1 and wp_tearing_control_v1 (`protocols::presentation_hints`).
    pub content_type: smithay::wayland::content_type::ContentTypeState,
    pub tearing_control: crate::protocols::presentation_hints::TearingControlState,
    /// wp_cursor_shape_v1 (`protocols::cursor_shape`).
    pub cursor_shape: smithay::wayland::cursor_shape::CursorShapeManagerState,
    /// The seat's input method and its popups (`protocols::input_method`).
    pub input_method: crate::protocols::input_method::InputMethods,
    /// Connectors offered for leasing and the leases held (`backend::tty::lease`).
    pub drm_leases: crate::backend::tty::lease::Leases,
    /// Programs' text fields, following the keyboard focus (`protocols::text_input`).
    pub text_inputs: crate::protocols::text_input::TextInputs,
    /// The virtual keyboards clients made (`protocols::virtual_input`).
    pub virtual_keyboard: smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState,
    /// wlr and ext data-control: clipboard managers (`protocols::data_control`).
    pub data_control: crate::protocols::data_control::DataControl,
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
    /// How long the last output drawn through Tandem took to import its surfaces (where
    /// cross-GPU copies happen); read by `seed-compare`.
    pub last_imports: Duration,
    pub retained_surfaces: Vec<WlSurface>,
    /// The X11 display and Xwayland, once `shell::x11::enable` ran (`--xwayland`).
    pub xwayland: Option<crate::shell::x11::Xwayland>,
    /// For backends that add event sources from inside callbacks (DRM devices on hotplug).
    loop_handle: LoopHandle<'static, State>,
    started: Instant,
    _globals: (
        OutputManagerState,
        ViewporterState,
        PresentationState,
        RelativePointerManagerState,
        PointerConstraintsState,
        FractionalScaleManagerState,
    ),
    /// keyboard-shortcuts-inhibit: windows that take the key bindings
    /// (`protocols::shortcuts_inhibit`).
    pub shortcuts_inhibit:
        smithay::wayland::keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitState,
    /// xdg-foreign v2: windows exported by one client and named as a parent by another
    /// (`protocols::xdg_foreign`).
    pub xdg_foreign: smithay::wayland::xdg_foreign::XdgForeignState,
    /// The primary selection's global and its offers (`protocols::primary_selection`).
    pub primary_selection: PrimarySelectionState,
    /// The client sources the compositor holds, and the gtk_primary_selection devices
    /// (`protocols::selection`).
    pub selections: crate::protocols::selection::Selections,
    /// Positioners with a zero-size anchor rectangle (`protocols::xdg_rules`).
    pub zero_size_anchors: crate::protocols::xdg_rules::ZeroSizeAnchors,
    /// The surface whose pointer constraint is in force (`protocols::pointer_constraints`).
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
            FractionalScaleManagerState::new::<State>(&display),
        );
        crate::capture::screencopy::init(&display);
        crate::capture::sources::init(&display);
        crate::capture::image_copy::init(&display);
        crate::protocols::foreign_toplevel_management::init(&display);
        crate::protocols::text_input::init(&display);
        crate::protocols::input_method::init(&display);
        crate::protocols::selection::gtk::init(&display);
        let primary_selection = PrimarySelectionState::new::<State>(&display);
        let data_control =
            crate::protocols::data_control::DataControl::new(&display, &primary_selection);
        let pointer_image = crate::input::cursor::Cursor::load();
        tracing::info!(source = %pointer_image.source, "pointer image");
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
            xdg_decoration: smithay::wayland::shell::xdg::decoration::XdgDecorationState::new::<
                State,
            >(&display),
            layer_shell: WlrLayerShellState::new::<State>(&display),
            data_device: DataDeviceState::new::<State>(&display),
            primary_selection,
            selections: Default::default(),
            xdg_foreign: smithay::wayland::xdg_foreign::XdgForeignState::new::<State>(&display),
            shortcuts_inhibit:
                smithay::wayland::keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitState::new::<
                    State,
                >(&display),
            zero_size_anchors: Default::default(),
            constrained: None,
            constraints_stale: false,
            seat_state,
            seat,
            space: Space::default(),
            pointer_under: None,
            touch_points: Vec::new(),
            popups: PopupManager::default(),
            popup_grab: None,
            outputs: OutputRegistry::default(),
            gpus,
            tracker,
            sockets: Sockets::default(),
            ipc_path: std::path::PathBuf::new(),
            pointer_location: (0.0, 0.0).into(),
            unfocused_new_windows: Vec::new(),
            terminal,
            running: true,
            redraw_requested: true,
            captures: Default::default(),
            cursor_status: CursorImageStatus::default_named(),
            pointer_image,
            session_lock: crate::protocols::session_lock::SessionLock::new(&display),
            idle: crate::protocols::idle::Idle::new(&display, loop_handle.clone()),
            output_management: crate::protocols::output_management::OutputManagement::new(&display),
            output_power: crate::protocols::output_power::OutputPower::new(&display),
            screens: crate::screens::Screens::default(),
            virtual_outputs: false,
            config: crate::config::Config::default(),
            config_path: None,
            config_error: None,
            config_generation: 0,
            gpu_flags: Default::default(),
            park_after: None,
            input_devices: Vec::new(),
            monitor_settings: Default::default(),
            toplevel_list: crate::protocols::foreign_toplevel_list::ToplevelList::new(&display),
            activation: smithay::wayland::xdg_activation::XdgActivationState::new::<State>(
                &display,
            ),
            clients: Vec::new(),
            toplevel_management: Default::default(),
            minimized: Vec::new(),
            security_context: crate::protocols::security_context::global(&display),
            data_control,
            virtual_keyboard: crate::protocols::virtual_input::init(&display),
            input_method: Default::default(),
            text_inputs: Default::default(),
            drm_leases: Default::default(),
            single_pixel_buffer: crate::protocols::single_pixel_buffer::global(&display),
            content_type: smithay::wayland::content_type::ContentTypeState::new::<State>(&display),
            tearing_control: crate::protocols::presentation_hints::TearingControlState::new(
                &display,
            ),
            cursor_shape: smithay::wayland::cursor_shape::CursorShapeManagerState::new::<State>(
                &display,
            ),
            frames_shown: HashMap::new(),
            frame_latency: HashMap::new(),
            children: Children::default(),
            new_gpu_quirks: Quirks::default(),
            retain_surfaces: false,
            last_imports: Duration::ZERO,
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
        self.outputs.get(output)
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
        // On the output under the pointer, else the first one that is on, so that a new window
        // is seen wherever the outputs were placed.
        let pointer = self.pointer_location.to_i32_round();
        let origin = self
            .space
            .outputs()
            .filter_map(|output| self.space.output_geometry(output))
            .find(|area| area.contains(pointer))
            .or_else(|| {
                self.space
                    .outputs()
                    .find_map(|output| self.space.output_geometry(output))
            })
            .map(|area| area.loc)
            .unwrap_or_default();
        let step = (self.space.elements().len() % 8) as i32 * 32;
        origin + Point::from((16 + step, 16 + step))
    }

    /// The window whose main surface is `surface` (a toplevel's, or an X11 window's).
    pub fn window_for(&self, surface: &WlSurface) -> Option<Window> {
        let xwayland = self.xwayland.as_ref();
        self.space
            .elements()
            .find(|w| crate::shell::window::main_surface(xwayland, w).as_ref() == Some(surface))
            .cloned()
    }

    /// Keeps `client` in the list `msg clients` reads, dropping those that disconnected.
    pub fn client_accepted(&mut self, client: Client) {
        self.forget_gone_clients();
        self.clients.push(client);
    }

    /// Drops the clients that disconnected from `clients`.
    pub fn forget_gone_clients(&mut self) {
        let backend = self.display.backend_handle();
        self.clients
            .retain(|client| backend.get_client_data(client.id()).is_ok());
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
            crate::shell::dialog::center_over_parent(self, &window);
            crate::shell::popup_grab::dismiss(self);
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
            .find(|w| {
                !crate::shell::window::x11_window(xwayland, w).is_some_and(|x| x.override_redirect)
            })
            .cloned();
        let serial = smithay::utils::SERIAL_COUNTER.next_serial();
        self.focus(next, serial);
    }

    /// Gives keyboard focus to `window` (or nobody) and raises it. X11 menus and tooltips
    /// never take it.
    pub fn focus(&mut self, window: Option<Window>, serial: Serial) {
        if self.session_lock.is_locked() {
            // The locker holds the keyboard until the session is unlocked.
            return;
        }
        let x11 = window
            .as_ref()
            .and_then(|w| crate::shell::window::x11_window(self.xwayland.as_ref(), w))
            .map(|x| (x.id, x.override_redirect));
        if x11.is_some_and(|(_, override_redirect)| override_redirect) {
            return;
        }
        if let Some(window) = &window {
            self.space.raise_element(window, true);
            crate::shell::dialog::raise_dialogs_of(&mut self.space, window);
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
        let surface = crate::shell::layer::keyboard::exclusive_holder(self).or_else(|| {
            window.and_then(|w| crate::shell::window::main_surface(self.xwayland.as_ref(), &w))
        });
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, surface, serial);
        }
    }
}

/// Linux's CLOCK_MONOTONIC, the clock presentation times are given in.
const CLOCK_MONOTONIC: u32 = 1;
