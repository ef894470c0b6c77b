//! A small but complete Wayland compositor on Tandem: xdg-shell toplevels, a seat with keyboard
//! focus, wl_shm and linux-dmabuf buffers, one output. It runs headless on two software GPUs and
//! draws its output on GPU 0 into buffers of GPU 1, so every frame crosses GPUs the way a laptop's
//! external monitor does; smithay's damage tracker and surface elements draw through
//! `MultiRenderer` unchanged. With `--features use_system_lib` it also offers wl_drm through
//! `ImportEgl`.
//!
//! ```text
//! just example --client weston-simple-shm --until-windows 1 --frames 30 --screenshot shot.png
//! ```
//!
//! The compositor author's part of Tandem is all here: a `GpuManager` with the GPUs, the
//! `SurfaceTracker` hook in `new_surface`, `accept_client_dmabuf` for linux-dmabuf,
//! `cross_renderer` for the output, `cleanup` once per loop, and the ledger for what is held.

use std::os::unix::net::UnixStream;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Format, Fourcc, Modifier};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::utils::{import_surface_tree, on_commit_buffer_handler};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::input::keyboard::XkbConfig;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Display, ListeningSocket};
use smithay::utils::{Rectangle, Serial, Transform, SERIAL_COUNTER};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    with_states, with_surface_tree_downward, CompositorClientState, CompositorHandler,
    CompositorState, SurfaceAttributes, TraversalAction,
};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
use smithay::wayland::output::OutputHandler;
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
    XdgToplevelSurfaceData,
};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{
    delegate_compositor, delegate_dmabuf, delegate_output, delegate_seat, delegate_shm,
    delegate_xdg_shell,
};
use tandem::{GpuId, GpuManager, MultiRenderer, SurfaceTracker};

const USAGE: &str = "\
headless_compositor: a small Wayland compositor on Tandem (two software GPUs, one output)

USAGE: headless_compositor [OPTIONS]

OPTIONS:
  --client CMD          start CMD (through sh -c) as a client of this compositor; repeatable
  --size WxH            output size (default 800x600)
  --until-windows N     count frames only once N windows have shown a buffer (default 0)
  --frames N            quit after N counted frames (default: run until interrupted)
  --screenshot PATH     write the last frame as PNG to PATH on quit
  -h, --help            this text

Clients find the compositor through WAYLAND_DISPLAY, set for the clients it starts.";

/// What the command line asked for.
struct Options {
    clients: Vec<String>,
    size: (i32, i32),
    until_windows: usize,
    frames: Option<u64>,
    screenshot: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        clients: Vec::new(),
        size: (800, 600),
        until_windows: 0,
        frames: None,
        screenshot: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--client" => options.clients.push(value()?),
            "--size" => {
                let text = value()?;
                let (w, h) = text
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    .filter(|&(w, h): &(i32, i32)| {
                        (1..=8192).contains(&w) && (1..=8192).contains(&h)
                    })
                    .ok_or_else(|| format!("--size takes WxH (1 to 8192 each), not {text}"))?;
                options.size = (w, h);
            }
            "--until-windows" => {
                options.until_windows = value()?
                    .parse()
                    .map_err(|e| format!("--until-windows: {e}"))?
            }
            "--frames" => {
                options.frames = Some(value()?.parse().map_err(|e| format!("--frames: {e}"))?)
            }
            "--screenshot" => options.screenshot = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The compositor's state: smithay's protocol states, Tandem's GPUs, and the windows.
struct App {
    compositor: CompositorState,
    xdg_shell: XdgShellState,
    shm: ShmState,
    dmabuf: DmabufState,
    dmabuf_global: DmabufGlobal,
    seat_state: SeatState<App>,
    seat: Seat<App>,
    gpus: GpuManager,
    tracker: SurfaceTracker,
    /// The GPU that draws (and whose linux-dmabuf global clients get).
    render_gpu: GpuId,
    toplevels: Vec<ToplevelSurface>,
}

#[derive(Default)]
struct ClientState {
    compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, _reason: DisconnectReason) {}
}

impl CompositorHandler for App {
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
        // Tandem's destruction hook: a closed window's GPU memory goes with its surface.
        self.tracker.new_surface::<App>(surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<App>(surface);
        if let Some(toplevel) = self.toplevels.iter().find(|t| t.wl_surface() == surface) {
            let configured = with_states(surface, |states| {
                states
                    .data_map
                    .get::<XdgToplevelSurfaceData>()
                    .and_then(|data| data.lock().ok().map(|data| data.initial_configure_sent))
                    .unwrap_or(true)
            });
            if !configured {
                toplevel.send_configure();
            }
        }
    }
}

impl XdgShellHandler for App {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        surface.with_pending_state(|state| state.states.set(xdg_toplevel::State::Activated));
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(
                self,
                Some(surface.wl_surface().clone()),
                SERIAL_COUNTER.next_serial(),
            );
        }
        self.toplevels.push(surface);
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.toplevels.retain(|t| t != &surface);
    }

    fn new_popup(&mut self, surface: PopupSurface, positioner: PositionerState) {
        surface.with_pending_state(|state| state.geometry = positioner.get_geometry());
        if let Err(err) = surface.send_configure() {
            eprintln!("popup configure: {err}");
        }
    }

    fn grab(&mut self, _surface: PopupSurface, _seat: WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| state.geometry = positioner.get_geometry());
        surface.send_repositioned(token);
    }
}

impl SeatHandler for App {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<App> {
        &mut self.seat_state
    }
}

impl BufferHandler for App {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for App {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}

impl DmabufHandler for App {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }

    fn dmabuf_imported(&mut self, global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        // Tandem checks the buffer on the GPU the global belongs to and remembers its origin.
        if *global == self.dmabuf_global
            && self
                .gpus
                .accept_client_dmabuf(&dmabuf, self.render_gpu, None)
                .is_ok()
        {
            let _ = notifier.successful::<App>();
        } else {
            notifier.failed();
        }
    }
}

impl OutputHandler for App {}

delegate_compositor!(App);
delegate_xdg_shell!(App);
delegate_shm!(App);
delegate_dmabuf!(App);
delegate_seat!(App);
delegate_output!(App);

/// Where the `index`th window goes: rows of four, 280 pixels apart.
fn window_position(index: usize) -> (i32, i32) {
    let (column, row) = ((index % 4) as i32, (index / 4) as i32);
    (20 + 280 * column, 20 + 280 * row)
}

/// Has the surface shown a buffer yet?
fn has_buffer(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .get::<smithay::backend::renderer::utils::RendererSurfaceStateUserData>()
            .is_some_and(|data| data.lock().is_ok_and(|data| data.buffer().is_some()))
    })
}

/// Tells every surface of every window that a frame went out.
fn send_frame_callbacks(toplevels: &[ToplevelSurface], time: Duration) {
    for toplevel in toplevels {
        with_surface_tree_downward(
            toplevel.wl_surface(),
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |_, states, _| {
                let callbacks = std::mem::take(
                    &mut states
                        .cached_state
                        .get::<SurfaceAttributes>()
                        .current()
                        .frame_callbacks,
                );
                for callback in callbacks {
                    callback.done(time.as_millis() as u32);
                }
            },
            |_, _, _| true,
        );
    }
}

/// One output: its buffer on the target GPU and smithay's damage tracker.
struct HeadlessOutput {
    name: String,
    target_gpu: GpuId,
    buffer: Dmabuf,
    damage: OutputDamageTracker,
    size: (i32, i32),
}

/// Draws every window into the output through Tandem; returns the frame's pixels (RGBA) when
/// `read_back` is set.
fn render(
    app: &mut App,
    output: &mut HeadlessOutput,
    read_back: bool,
) -> Result<Option<Vec<u8>>, tandem::TandemError> {
    let mut renderer: MultiRenderer<'_> =
        app.gpus
            .cross_renderer(app.render_gpu, output.target_gpu, Some(&output.name))?;
    let mut elements: Vec<WaylandSurfaceRenderElement<MultiRenderer<'_>>> = Vec::new();
    // Topmost first, as smithay's damage tracker expects.
    for (index, toplevel) in app.toplevels.iter().enumerate().rev() {
        let surface = toplevel.wl_surface();
        if let Err(err) = import_surface_tree(&mut renderer, surface) {
            eprintln!("import failed for a window: {err}");
            continue;
        }
        elements.extend(render_elements_from_surface_tree(
            &mut renderer,
            surface,
            window_position(index),
            1.0,
            1.0,
            Kind::Unspecified,
        ));
    }
    let mut framebuffer = renderer.bind(&mut output.buffer)?;
    output
        .damage
        .render_output(
            &mut renderer,
            &mut framebuffer,
            0,
            &elements,
            [0.1, 0.1, 0.15, 1.0],
        )
        .map_err(|err| match err {
            smithay::backend::renderer::damage::Error::Rendering(err) => err,
            smithay::backend::renderer::damage::Error::OutputNoMode(_) => {
                tandem::TandemError::NotImportedFor(app.render_gpu)
            }
        })?;
    if !read_back {
        return Ok(None);
    }
    let region = Rectangle::from_size(output.size.into());
    let mapping = renderer.copy_framebuffer(&framebuffer, region, Fourcc::Abgr8888)?;
    Ok(Some(renderer.map_texture(&mapping)?.to_vec()))
}

fn write_png(path: &str, size: (i32, i32), rgba: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut encoder =
        png::Encoder::new(std::io::BufWriter::new(file), size.0 as u32, size.1 as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgba).map_err(|e| e.to_string())
}

fn main() {
    if let Err(err) = run() {
        eprintln!("headless_compositor: {err}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let options = parse_options()?;
    let mut display = Display::<App>::new().map_err(|e| format!("wayland display: {e}"))?;
    let handle = display.handle();

    let mut gpus = GpuManager::new();
    let render_gpu = gpus
        .add_software_gpu(Default::default())
        .map_err(|e| format!("software GPU 0: {e}"))?;
    let target_gpu = gpus
        .add_software_gpu(Default::default())
        .map_err(|e| format!("software GPU 1: {e}"))?;
    let tracker = gpus.surface_tracker();

    let mut dmabuf = DmabufState::new();
    let formats = [Fourcc::Argb8888, Fourcc::Xrgb8888].map(|code| Format {
        code,
        modifier: Modifier::Linear,
    });
    let dmabuf_global = dmabuf.create_global::<App>(&handle, formats);
    let mut seat_state = SeatState::new();
    let mut seat = seat_state.new_wl_seat(&handle, "seat0");
    seat.add_keyboard(XkbConfig::default(), 200, 25)
        .map_err(|e| format!("keyboard: {e}"))?;
    seat.add_pointer();

    let output = Output::new(
        "HEADLESS-1".into(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Tandem".into(),
            model: "example".into(),
        },
    );
    let mode = Mode {
        size: options.size.into(),
        refresh: 60_000,
    };
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        None,
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
    let _output_global = output.create_global::<App>(&handle);

    let mut app = App {
        compositor: CompositorState::new::<App>(&handle),
        xdg_shell: XdgShellState::new::<App>(&handle),
        shm: ShmState::new::<App>(&handle, []),
        dmabuf,
        dmabuf_global,
        seat_state,
        seat,
        gpus,
        tracker,
        render_gpu,
        toplevels: Vec::new(),
    };

    #[cfg(feature = "use_system_lib")]
    {
        use smithay::backend::renderer::ImportEgl;
        match app
            .gpus
            .renderer(render_gpu)
            .map(|mut r| r.bind_wl_display(&handle))
        {
            Ok(Ok(())) => println!("wl_drm offered through {render_gpu}"),
            Ok(Err(err)) => println!("wl_drm not offered: {err}"),
            Err(err) => println!("wl_drm not offered: {err}"),
        }
    }

    let buffer: Dmabuf = app
        .gpus
        .renderer(target_gpu)
        .and_then(|mut r| r.create_buffer(Fourcc::Xrgb8888, options.size.into()))
        .map_err(|e| format!("output buffer: {e}"))?;
    let mut headless = HeadlessOutput {
        name: output.name(),
        target_gpu,
        buffer,
        damage: OutputDamageTracker::from_output(&output),
        size: options.size,
    };

    let socket =
        ListeningSocket::bind_auto("tandem-example", 0..32).map_err(|e| format!("socket: {e}"))?;
    let socket_name = socket
        .socket_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_string();
    println!("listening on WAYLAND_DISPLAY={socket_name}; drawing on {render_gpu} for an output of {target_gpu}");
    let mut children: Vec<Child> = Vec::new();
    for command in &options.clients {
        let child = Command::new("sh")
            .args(["-c", &format!("exec {command}")])
            .env("WAYLAND_DISPLAY", &socket_name)
            .spawn()
            .map_err(|e| format!("starting {command}: {e}"))?;
        children.push(child);
    }

    let started = Instant::now();
    let mut counted_frames = 0u64;
    let mut last_frame: Option<Vec<u8>> = None;
    loop {
        while let Some(stream) = socket.accept().map_err(|e| format!("accept: {e}"))? {
            accept(&mut display, stream);
        }
        display
            .dispatch_clients(&mut app)
            .map_err(|e| format!("dispatch: {e}"))?;
        display.flush_clients().map_err(|e| format!("flush: {e}"))?;

        let shown = app
            .toplevels
            .iter()
            .filter(|t| has_buffer(t.wl_surface()))
            .count();
        let counting = shown >= options.until_windows;
        let last = counting
            && options
                .frames
                .is_some_and(|frames| counted_frames + 1 >= frames);
        let pixels = render(
            &mut app,
            &mut headless,
            last && options.screenshot.is_some(),
        )
        .map_err(|e| format!("frame: {e}"))?;
        send_frame_callbacks(&app.toplevels, started.elapsed());
        // Frees what closed windows left behind on every GPU (deferred GL deletes).
        app.gpus.cleanup().map_err(|e| format!("cleanup: {e}"))?;
        if counting {
            counted_frames += 1;
        }
        if pixels.is_some() {
            last_frame = pixels;
        }
        if last {
            break;
        }
        if children
            .iter_mut()
            .all(|c| matches!(c.try_wait(), Ok(Some(_))))
            && !children.is_empty()
            && app.toplevels.is_empty()
            && options.frames.is_none()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(16));
    }

    let snapshot = app.gpus.ledger().snapshot();
    println!(
        "{counted_frames} frames; {} windows; ledger: {} bytes held for clients' surfaces, {} bytes in all",
        app.toplevels.len(),
        snapshot.surfaces.values().map(|u| u.bytes()).sum::<u64>(),
        snapshot.total.bytes()
    );
    if let (Some(path), Some(pixels)) = (&options.screenshot, &last_frame) {
        write_png(path, options.size, pixels)?;
        println!("screenshot: {path}");
    }

    // The clients go; what they held goes with their surfaces.
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.toplevels.is_empty() && Instant::now() < deadline {
        display
            .dispatch_clients(&mut app)
            .map_err(|e| format!("dispatch: {e}"))?;
        std::thread::sleep(Duration::from_millis(10));
    }
    app.gpus.cleanup().map_err(|e| format!("cleanup: {e}"))?;
    let after = app.gpus.ledger().snapshot();
    println!(
        "after the clients left: {} bytes held for clients' surfaces",
        after.surfaces.values().map(|u| u.bytes()).sum::<u64>()
    );
    Ok(())
}

fn accept(display: &mut Display<App>, stream: UnixStream) {
    if let Err(err) = display
        .handle()
        .insert_client(stream, Arc::new(ClientState::default()))
    {
        eprintln!("client refused: {err}");
    }
}
