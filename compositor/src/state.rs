//! The compositor's state: Wayland globals, windows, and the Tandem GPU manager.
//!
//! `State` is owned by the event loop (`headless::run`). Protocol handlers here keep the window
//! list; the backend renders it. Every surface is registered with Tandem when it is created, so
//! its GPU memory is released when it is destroyed.

use std::sync::Arc;
use std::time::Instant;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Logical, Point, Serial};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    with_states, CompositorClientState, CompositorHandler, CompositorState,
};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
use smithay::wayland::output::{OutputHandler, OutputManagerState};
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
    XdgToplevelSurfaceData,
};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{
    delegate_compositor, delegate_dmabuf, delegate_output, delegate_seat, delegate_shm,
    delegate_xdg_shell,
};
use tandem::{GpuId, GpuManager, SurfaceTracker};

/// A mapped toplevel and where it sits in the global space.
pub struct Window {
    pub toplevel: ToplevelSurface,
    pub location: Point<i32, Logical>,
}

pub struct State {
    pub display: DisplayHandle,
    pub compositor: CompositorState,
    pub shm: ShmState,
    pub dmabuf: DmabufState,
    pub dmabuf_globals: Vec<(DmabufGlobal, GpuId)>,
    pub xdg_shell: XdgShellState,
    /// Kept alive for its xdg-output global.
    _output_manager: OutputManagerState,
    pub seat_state: SeatState<State>,
    /// The seat's global; input is routed to it by the backends that have input.
    _seat: Seat<State>,
    pub gpus: GpuManager,
    pub tracker: SurfaceTracker,
    pub windows: Vec<Window>,
    pub running: bool,
    started: Instant,
}

impl State {
    pub fn new(display: DisplayHandle, gpus: GpuManager) -> State {
        let tracker = gpus.surface_tracker();
        let mut seat_state = SeatState::new();
        let seat = seat_state.new_wl_seat(&display, "seat0");
        State {
            compositor: CompositorState::new::<State>(&display),
            shm: ShmState::new::<State>(&display, []),
            dmabuf: DmabufState::new(),
            dmabuf_globals: Vec::new(),
            xdg_shell: XdgShellState::new::<State>(&display),
            _output_manager: OutputManagerState::new_with_xdg_output::<State>(&display),
            seat_state,
            _seat: seat,
            gpus,
            tracker,
            windows: Vec::new(),
            running: true,
            started: Instant::now(),
            display,
        }
    }

    /// Milliseconds since the compositor started, for frame callbacks.
    pub fn clock_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// Where the next window goes: cascading from the top-left corner.
    fn next_location(&self) -> Point<i32, Logical> {
        let step = (self.windows.len() % 8) as i32 * 32;
        (16 + step, 16 + step).into()
    }
}

/// Per-client data the compositor keeps.
#[derive(Default)]
pub struct ClientState {
    pub compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, client: ClientId) {
        tracing::debug!(?client, "client connected");
    }

    fn disconnected(&self, client: ClientId, reason: DisconnectReason) {
        tracing::debug!(?client, ?reason, "client disconnected");
    }
}

pub fn client_data() -> Arc<ClientState> {
    Arc::new(ClientState::default())
}

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
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<State>(surface);
        let Some(window) = self
            .windows
            .iter()
            .find(|w| w.toplevel.wl_surface() == surface)
        else {
            return;
        };
        let initial_configure_sent = with_states(surface, |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .map(|data| {
                    data.lock()
                        .map(|d| d.initial_configure_sent)
                        .unwrap_or(true)
                })
                .unwrap_or(true)
        });
        if !initial_configure_sent {
            window.toplevel.send_configure();
        }
    }
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

    fn dmabuf_imported(&mut self, global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        let gpu = self
            .dmabuf_globals
            .iter()
            .find(|(g, _)| g == global)
            .map(|(_, gpu)| *gpu);
        let importable = gpu.is_some_and(|gpu| {
            self.gpus
                .renderer(gpu)
                .map(|renderer| {
                    smithay::backend::renderer::ImportDma::has_dmabuf_format(
                        &renderer,
                        smithay::backend::allocator::Buffer::format(&dmabuf),
                    )
                })
                .unwrap_or(false)
        });
        match gpu {
            Some(gpu) if importable => {
                self.gpus.set_dmabuf_origin(&dmabuf, gpu);
                let _ = notifier.successful::<State>();
            }
            _ => notifier.failed(),
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
        self.windows.push(Window { toplevel, location });
    }

    fn toplevel_destroyed(&mut self, toplevel: ToplevelSurface) {
        self.windows.retain(|w| w.toplevel != toplevel);
    }

    fn new_popup(&mut self, _surface: PopupSurface, _positioner: PositionerState) {}

    fn grab(&mut self, _surface: PopupSurface, _seat: WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        _surface: PopupSurface,
        _positioner: PositionerState,
        _token: u32,
    ) {
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
}

delegate_compositor!(State);
delegate_shm!(State);
delegate_dmabuf!(State);
delegate_xdg_shell!(State);
delegate_output!(State);
delegate_seat!(State);
