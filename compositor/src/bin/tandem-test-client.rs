//! tandem-test-client: opens windows whose pixels it paints itself, in shm, linear memfd
//! dmabufs or linear GBM buffer objects of a render node (announced through whatever linux-dmabuf global its socket shows, so a client of a
//! compositor's per-GPU socket puts its buffers on that GPU), commits damaged frames, and
//! exits after a number of frames or when its windows are closed. Memfd dmabufs may be in other
//! formats than ARGB8888 (`--format`), holding the known pattern of
//! `tandem_test_client::formats`. `--fuzz SECONDS` runs the protocol fuzzer instead
//! (`tandem_test_client::fuzz`).

use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tandem_test_client::late_fence::LateFence;
use tandem_test_client::{formats, TestClient, Window};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Buffers {
    Shm,
    Dmabuf,
    /// A linear buffer object a GPU allocated through GBM on --gbm-device.
    Gbm,
    /// ARGB8888 in a udmabuf: a real dma-buf over the client's memfd (needs /dev/udmabuf).
    Udmabuf,
}

/// Tandem's own Wayland test client.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where the window's pixels live.
    #[arg(long, value_enum, default_value_t = Buffers::Shm)]
    buffers: Buffers,
    /// The render node GBM buffers are allocated on (--buffers gbm). When the compositor's
    /// dmabuf feedback later names another main device (its GPU went away), the buffers move to
    /// a node of that device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/renderD128")]
    gbm_device: std::path::PathBuf,
    /// Window size WxH.
    #[arg(long, default_value = "200x150", value_parser = parse_size)]
    size: (i32, i32),
    /// Fill colour, ARGB hex (e.g. ffff0000 for red).
    #[arg(long, default_value = "ff3366cc", value_parser = parse_colour)]
    colour: u32,
    /// DRM fourcc of the windows' buffers, for --buffers dmabuf (the other buffers are always
    /// AR24): AR24, XR24, AB24, XB24 (8-bit), AR30, XR30, AB30, XB30 (10-bit), AB4H, XB4H (half
    /// float), RG16 (RGB565), NV12, P010, YU12, YUYV (YUV). Formats other than AR24 show the
    /// known pattern of tandem_test_client::formats (ramps, or colour bars for YUV) instead of
    /// --colour, and their frames re-commit that pattern.
    #[arg(
        long,
        value_name = "FOURCC",
        default_value = "AR24",
        value_parser = formats::parse_fourcc
    )]
    format: u32,
    /// Number of windows.
    #[arg(long, default_value_t = 1)]
    windows: usize,
    /// Frames to commit after the first (each damages a 16x16 square); then wait to be killed
    /// or closed, or exit after --exit-after.
    #[arg(long, default_value_t = 0)]
    frames: u32,
    /// With --buffers udmabuf: the first frame is committed while its buffer still carries an
    /// unsignalled write fence (a vgem fence; needs the vgem module), signalled this many
    /// seconds later, as a client whose GPU is still drawing would commit.
    #[arg(long, value_name = "SECONDS")]
    late_fence: Option<f64>,
    /// Explicit sync (wp_linux_drm_syncobj_manager_v1): one window whose two linear GBM buffers
    /// on --gbm-device take turns, each commit with an acquire and a release point on timelines
    /// of that device, each buffer written again only once its release point is signalled.
    /// Frames alternate between --colour and its inverse; exits after --frames more frames.
    #[arg(long)]
    explicit_sync: bool,
    /// With --explicit-sync: the first frame's acquire point is signalled this many seconds
    /// after its commit (as a GPU still drawing would).
    #[arg(long, value_name = "SECONDS", requires = "explicit_sync")]
    late_acquire: Option<f64>,
    /// With --explicit-sync: write when each acquire point was signalled, each frame shown and
    /// each release observed (`KIND FRAME MS`, milliseconds since the Unix epoch) to FILE.
    #[arg(long, value_name = "FILE", requires = "explicit_sync")]
    sync_log: Option<std::path::PathBuf>,
    /// Commit each frame with a frame callback and wait for it, then write the time of every
    /// callback (milliseconds since the Unix epoch, one per line) to FILE when the client
    /// exits.
    #[arg(long, value_name = "FILE")]
    frame_log: Option<std::path::PathBuf>,
    /// Exit once the frames are committed (and shown: one more roundtrip).
    #[arg(long)]
    quit_after_frames: bool,
    /// Inhibit idleness (zwp_idle_inhibit_manager_v1) while the first window lives.
    #[arg(long)]
    inhibit_idle: bool,
    /// Lock the session (ext-session-lock-v1) instead of opening windows: a lock surface of
    /// --colour on every output, held this many seconds, then unlocked. Prints "locked", or
    /// "finished" when the compositor refuses the lock, and "unlocked".
    #[arg(long, value_name = "SECONDS")]
    lock: Option<f64>,
    /// With --lock: when the lock is refused, send unlock_and_destroy anyway (the compositor
    /// must answer with a protocol error and stay locked).
    #[arg(long, requires = "lock")]
    lock_unlock_refused: bool,
    /// Set an output's power (wlr-output-power-management) instead of opening windows:
    /// NAME=on or NAME=off. Prints the mode it was ("was mode on"), then every mode event
    /// ("mode off", "mode on", "failed") while it holds the power object (--power-hold).
    #[arg(long, value_name = "NAME=on|off", value_parser = parse_power)]
    output_power: Option<(String, bool)>,
    /// Open one window of --size (logical) drawn at the scale the compositor prefers for it
    /// (wp_fractional_scale_v1, its buffer sized back with wp_viewporter), following that scale
    /// for this many seconds; prints "scale S buffer WxH" for each buffer.
    #[arg(long, value_name = "SECONDS")]
    fractional_scale: Option<f64>,
    /// Lease the first connector a wp_drm_lease_device_v1 offers, light it in --colour through
    /// the lease (a modeset of its own) and hold it this many seconds; prints "lease: ..." lines.
    #[arg(long, value_name = "SECONDS")]
    lease: Option<f64>,
    /// Give the first window a zwp_text_input_v3 that enables itself whenever it enters (with
    /// surrounding text and a content type); prints each of its events as "text input: ...".
    #[arg(long)]
    text_field: bool,
    /// Once the windows are up, set a selection to TEXT (`text/plain;charset=utf-8`, serial 0):
    /// KIND is clipboard (wl_data_device), primary (zwp_primary_selection) or gtk
    /// (gtk_primary_selection); with --windows 0 the client has no keyboard focus. Serves
    /// every read and prints "selection: set KIND", "selection: sent MIME",
    /// "selection: cancelled".
    #[arg(long, value_name = "KIND:TEXT")]
    selection: Option<String>,
    /// Read every primary selection this client's gtk_primary_selection device is offered;
    /// prints "gtk offer: MIME" and "gtk paste: TEXT" lines.
    #[arg(long)]
    gtk_paste: bool,
    /// Once the windows are up, export the first through xdg-foreign v2 and print
    /// "exported HANDLE".
    #[arg(long)]
    export_first: bool,
    /// Import the window HANDLE names (xdg-foreign v2) and make it the parent of each window,
    /// before their first buffer.
    #[arg(long, value_name = "HANDLE")]
    parent_handle: Option<String>,
    /// Make each window after the first a dialog of the first (xdg_toplevel.set_parent),
    /// before their first buffer.
    #[arg(long)]
    dialog: bool,
    /// Ask that the first window take the compositor's key bindings while it has the keyboard
    /// (keyboard-shortcuts-inhibit); prints "shortcuts inhibitor active" and every key this
    /// client gets ("key CODE pressed", "modifiers DEPRESSED").
    #[arg(long)]
    inhibit_shortcuts: bool,
    /// Run as the seat's input method (zwp_input_method_v2) for --hold seconds: once
    /// activated, grab the keyboard, commit TEXT to the focused field and show a candidate
    /// popup. Prints each event as "input method: ...".
    #[arg(long, value_name = "TEXT")]
    input_method: Option<String>,
    /// This many seconds after its windows are shown, ask for an xdg-activation token and
    /// activate the first window with it; prints "activation token TOKEN".
    #[arg(long, value_name = "SECONDS")]
    activate_first_after: Option<f64>,
    /// Open one window of --size whose only buffer is a single pixel of --colour stretched by
    /// a viewport (wp_single_pixel_buffer_v1), held this many seconds.
    #[arg(long, value_name = "SECONDS")]
    single_pixel: Option<f64>,
    /// Open one window of --size and --colour that asks for this cursor shape (default, text,
    /// wait, pointer, crosshair, move, not-allowed) each time the pointer enters it
    /// (wp_cursor_shape_v1), for --hold seconds; prints "shape NAME set".
    #[arg(long, value_name = "NAME")]
    cursor_shape: Option<String>,
    /// With --cursor-shape: how long to keep the window; with --input-method: how long to run.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    hold: f64,
    /// Move the pointer to X,Y of a desktop --size large through a wlr virtual pointer, then
    /// exit.
    #[arg(long, value_name = "X,Y")]
    pointer_to: Option<String>,
    /// Drag with the pointer's left button from X1,Y1 to X2,Y2 of a desktop --size large
    /// through a wlr virtual pointer (press, move in steps, release), then exit.
    #[arg(long, value_name = "X1,Y1,X2,Y2")]
    pointer_drag: Option<String>,
    /// Ask for server-side or client-side decorations (xdg-decoration) for each window before
    /// its first commit; prints "decoration MODE" for each mode the compositor configures.
    #[arg(long, value_name = "server|client")]
    decorations: Option<String>,
    /// Give each window this content type (none, photo, video, game: wp_content_type_v1)
    /// before its first buffer.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
    /// Give each window this presentation hint (vsync, async: wp_tearing_control_v1) before
    /// its first buffer.
    #[arg(long, value_name = "HINT")]
    tearing: Option<String>,
    /// Redraw a window at the size each configure gives it (maximize, resize), or at --size
    /// when a configure leaves the size to the client, in --colour.
    #[arg(long)]
    follow_size: bool,
    /// Act as a sandbox instead of opening windows: list the globals offered, make a
    /// wp_security_context_v1 listener, connect through it and list the globals that connection
    /// sees, then hold it this many seconds (`tandem_test_client::sandbox`).
    #[arg(long, value_name = "SECONDS")]
    sandbox: Option<f64>,
    /// With --output-power: how long to hold the power object, printing its events.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0.0,
        requires = "output_power"
    )]
    power_hold: f64,
    /// Exit after this many seconds.
    #[arg(long)]
    exit_after: Option<f64>,
    /// Run one hostile case (see --list-hostile) and print what the compositor answered.
    #[arg(long, value_name = "CASE")]
    hostile: Option<String>,
    /// List the hostile cases with the answer each expects.
    #[arg(long)]
    list_hostile: bool,
    /// List the hostile uses of explicit sync (they need a compositor that offers it; run one
    /// with --hostile CASE, timelines and buffers on --gbm-device).
    #[arg(long)]
    list_hostile_explicit_sync: bool,
    /// app_id of the windows (their WM_CLASS class with --x11).
    #[arg(long, default_value = "tandem-test-client")]
    app_id: String,
    /// Open X11 windows on $DISPLAY instead of Wayland ones, filled with --colour by the X
    /// server (--buffers and --frames do not apply).
    #[arg(long)]
    x11: bool,
    /// With --x11: override-redirect windows (as menus and tooltips are), placed at --position.
    #[arg(long, requires = "x11")]
    override_redirect: bool,
    /// With --x11: where the windows ask to be, X,Y in the X screen.
    #[arg(long, default_value = "0,0", value_parser = parse_position)]
    position: (i16, i16),
    /// With --x11: once the windows are mapped, rewrite their titles this many times as fast as
    /// the X server takes them, then grab the X server (no other X client is served meanwhile)
    /// for --grab-seconds (0: no grab).
    #[arg(long, requires = "x11", value_name = "TIMES")]
    retitle_then_grab: Option<u32>,
    /// With --x11: a button press in a window asks the window manager to move it with the
    /// pointer (_NET_WM_MOVERESIZE), as programs with their own title bar do; prints
    /// "moveresize N".
    #[arg(long, requires = "x11")]
    drag_moves: bool,
    /// How long --retitle-then-grab holds the server grabbed.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    grab_seconds: f64,
    /// Capture the first output this many times (one frame each) instead of opening windows;
    /// prints one line with the count, size and the last damage.
    #[arg(long, value_name = "TIMES")]
    capture: Option<u32>,
    /// Where --capture writes: shm, or a memfd dmabuf made through GPU N's linux-dmabuf global
    /// (dmabuf:N).
    #[arg(long, default_value = "shm", value_parser = parse_capture_into)]
    capture_into: tandem_test_client::screencopy::CaptureInto,
    /// --capture with copy_with_damage (each copy waits for a change).
    #[arg(long, requires = "capture")]
    capture_damage: bool,
    /// --capture a logical rectangle X,Y,W,H of the output.
    #[arg(long, requires = "capture", value_parser = parse_rect)]
    capture_region: Option<(i32, i32, i32, i32)>,
    /// --capture into a new buffer every time (else one buffer is used again).
    #[arg(long, requires = "capture")]
    capture_new_buffers: bool,
    /// Write the last capture to this file as a binary PPM.
    #[arg(long, value_name = "FILE.ppm", requires = "capture")]
    capture_out: Option<std::path::PathBuf>,
    /// --capture through wlr-screencopy (wlr) or ext-image-copy-capture (ext: one session, its
    /// frames after the first waiting for a change).
    #[arg(long, default_value = "wlr", value_parser = ["wlr", "ext"])]
    capture_protocol: String,
    /// --capture (ext) the window with this app id instead of the first output.
    #[arg(long, value_name = "APP_ID", requires = "capture")]
    capture_toplevel: Option<String>,
    /// --capture with the pointer drawn in (wlr: overlay_cursor; ext: paint_cursors).
    #[arg(long, requires = "capture")]
    capture_cursor: bool,
    /// --capture (ext) the pointer's image alone through a cursor session over the output (or
    /// the --capture-toplevel window); prints where the session said the pointer is and how
    /// many of the image's pixels are opaque.
    #[arg(long, requires = "capture", conflicts_with = "capture_cursor")]
    capture_pointer: bool,
    /// --capture (ext) with a new session for every frame.
    #[arg(long, requires = "capture")]
    capture_new_sessions: bool,
    /// How long --capture (ext) waits for each frame; one that is not ready by then ends the
    /// run with "waiting".
    #[arg(
        long,
        default_value_t = 10.0,
        value_name = "SECONDS",
        requires = "capture"
    )]
    capture_wait: f64,
    /// After --capture, stay connected with the last buffer for SECONDS before exiting.
    #[arg(long, value_name = "SECONDS", requires = "capture")]
    capture_hold: Option<f64>,
}

fn parse_capture_into(text: &str) -> Result<tandem_test_client::screencopy::CaptureInto, String> {
    use tandem_test_client::screencopy::CaptureInto;
    match text.split_once(':') {
        None if text == "shm" => Ok(CaptureInto::Shm),
        Some(("dmabuf", gpu)) => Ok(CaptureInto::Dmabuf {
            gpu: gpu.parse().map_err(|_| "dmabuf:N, N a GPU index")?,
        }),
        _ => Err("shm or dmabuf:N".into()),
    }
}

fn parse_rect(text: &str) -> Result<(i32, i32, i32, i32), String> {
    let parts: Vec<i32> = text
        .split(',')
        .map(|v| v.parse::<i32>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [x, y, w, h] => Ok((x, y, w, h)),
        _ => Err("expected X,Y,W,H".into()),
    }
}

/// `--capture`: captures output 0 (or a window) `times` times as the capture flags say.
fn capture(args: &Args, times: u32) -> Result<(), String> {
    use tandem_test_client::image_copy::{ExtSource, FrameOutcome};
    let mut client = TestClient::connect_env()?;
    client.roundtrip()?;
    let mut buffer = None;
    let mut last = None;
    let ext =
        args.capture_protocol == "ext" || args.capture_toplevel.is_some() || args.capture_pointer;
    let source = match &args.capture_toplevel {
        Some(app_id) => ExtSource::Toplevel(app_id.clone()),
        None => ExtSource::Output(0),
    };
    let mut session = None;
    let mut cursor = None;
    for _ in 0..times {
        if args.capture_new_buffers {
            buffer = None;
        }
        if !ext {
            last = Some(client.capture(
                0,
                args.capture_region,
                args.capture_into,
                args.capture_damage,
                args.capture_cursor,
                &mut buffer,
            )?);
            continue;
        }
        if args.capture_new_sessions {
            session = None;
            cursor = None;
        }
        if args.capture_pointer {
            if cursor.is_none() {
                cursor = Some(client.ext_pointer_session(&source)?);
            }
        } else if session.is_none() {
            session = Some(client.ext_session(&source, args.capture_cursor)?);
        }
        let Some(current) = cursor.as_ref().map(|c| &c.session).or(session.as_ref()) else {
            return Err("no capture session".into());
        };
        if current.stopped() {
            return Err("the capture session stopped".into());
        }
        let (outcome, captured) = client.ext_capture(
            current,
            args.capture_into,
            &mut buffer,
            std::time::Duration::from_secs_f64(args.capture_wait.clamp(0.0, 3600.0)),
        )?;
        if outcome != FrameOutcome::Ready {
            return Err(format!("the frame did not become ready: {outcome:?}"));
        }
        last = Some(captured);
    }
    let Some(last) = last else {
        return Ok(());
    };
    println!(
        "captured {times} times: {}x{}, damage {:?}",
        last.width, last.height, last.damage
    );
    if let (Some(cursor), Some(buffer)) = (&cursor, &buffer) {
        client.roundtrip()?;
        let said = cursor.state();
        let (w, h) = (last.width as usize, last.height as usize);
        let opaque = buffer
            .bytes()
            .chunks(buffer.stride())
            .take(h)
            .flat_map(|row| row.chunks_exact(4).take(w))
            .filter(|pixel| pixel[3] > 0)
            .count();
        println!(
            "pointer: entered {}, left {}, position {:?}, hotspot {:?}, opaque pixels {opaque} of {}",
            said.entered,
            said.left,
            said.position,
            said.hotspot,
            w * h
        );
    }
    if let (Some(path), Some(buffer)) = (&args.capture_out, &buffer) {
        let (w, h) = (last.width as usize, last.height as usize);
        let mut ppm = format!("P6\n{w} {h}\n255\n").into_bytes();
        for row in buffer.bytes().chunks(buffer.stride()).take(h) {
            for pixel in row.chunks_exact(4).take(w) {
                ppm.extend_from_slice(&[pixel[2], pixel[1], pixel[0]]);
            }
        }
        std::fs::write(path, ppm).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(seconds) = args.capture_hold {
        std::thread::sleep(std::time::Duration::from_secs_f64(
            seconds.clamp(0.0, 3600.0),
        ));
        drop(buffer);
    }
    Ok(())
}

/// `--lock`: locks the session with --colour on every output, holds it, then unlocks.
fn lock(args: &Args, seconds: f64) -> Result<(), String> {
    use tandem_test_client::session_lock::LockAnswer;
    let mut client = TestClient::connect_env()?;
    client.roundtrip()?;
    let (mut lock, answer) = client.lock_session(args.colour)?;
    if answer == LockAnswer::Finished {
        println!("finished: the compositor refused the lock");
        if args.lock_unlock_refused {
            lock.unlock(&mut client)?;
            println!("unlocked");
        }
        return Ok(());
    }
    println!("locked");
    lock.hold(
        &mut client,
        Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)),
    )?;
    lock.unlock(&mut client)?;
    println!("unlocked");
    Ok(())
}

fn parse_power(text: &str) -> Result<(String, bool), String> {
    match text.rsplit_once('=') {
        Some((name, "on")) if !name.is_empty() => Ok((name.to_string(), true)),
        Some((name, "off")) if !name.is_empty() => Ok((name.to_string(), false)),
        _ => Err(format!("expected NAME=on or NAME=off, got {text:?}")),
    }
}

fn parse_position(text: &str) -> Result<(i16, i16), String> {
    let (x, y) = text.split_once(',').ok_or("expected X,Y")?;
    let parse = |v: &str| v.parse::<i16>().map_err(|e| e.to_string());
    Ok((parse(x)?, parse(y)?))
}

fn parse_size(text: &str) -> Result<(i32, i32), String> {
    let (w, h) = text.split_once('x').ok_or("expected WxH")?;
    let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (1..=8192).contains(v));
    Ok((parse(w).ok_or("bad width")?, parse(h).ok_or("bad height")?))
}

fn parse_colour(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

fn main() {
    // The protocol fuzzer has options of its own (`--fuzz SECONDS --help` lists them).
    if std::env::args().any(|arg| arg == "--fuzz" || arg.starts_with("--fuzz=")) {
        std::process::exit(tandem_test_client::fuzz::main(std::env::args().skip(1)));
    }
    let args = Args::parse();
    if let Err(err) = run(&args) {
        eprintln!("tandem-test-client: {err}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if let Some(times) = args.capture {
        return capture(args, times);
    }
    if let Some(seconds) = args.lock {
        return lock(args, seconds);
    }
    if let Some(seconds) = args.fractional_scale {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        let hold = Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        return client.fractional_window(args.size, args.colour, hold);
    }
    if let Some(seconds) = args.lease {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        return client.lease(
            args.colour,
            Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)),
        );
    }
    if let Some(text) = &args.input_method {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        let hold = Duration::from_secs_f64(args.hold.clamp(0.0, 3600.0));
        return client.input_method(text, hold);
    }
    if let Some(shape) = &args.cursor_shape {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        let hold = Duration::from_secs_f64(args.hold.clamp(0.0, 3600.0));
        return client.cursor_shape_window(args.size, args.colour, shape, hold);
    }
    if let Some(point) = &args.pointer_to {
        let (x, y) = point
            .split_once(',')
            .and_then(|(x, y)| Some((x.trim().parse().ok()?, y.trim().parse().ok()?)))
            .ok_or_else(|| format!("--pointer-to {point}: expected X,Y"))?;
        let extent = (args.size.0.max(1) as u32, args.size.1.max(1) as u32);
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        return client.pointer_to(x, y, extent);
    }
    if let Some(path) = &args.pointer_drag {
        let numbers: Vec<u32> = path
            .split(',')
            .map(|n| n.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("--pointer-drag {path}: expected X1,Y1,X2,Y2"))?;
        let [x1, y1, x2, y2] = numbers[..] else {
            return Err(format!("--pointer-drag {path}: expected X1,Y1,X2,Y2"));
        };
        let extent = (args.size.0.max(1) as u32, args.size.1.max(1) as u32);
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        return client.pointer_drag((x1, y1), (x2, y2), extent);
    }
    if let Some(seconds) = args.single_pixel {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        let hold = Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        return client.single_pixel_window(args.size, args.colour, hold);
    }
    if let Some(seconds) = args.sandbox {
        let hold = Duration::from_secs_f64(seconds.clamp(0.0, 3600.0));
        return tandem_test_client::sandbox::run(hold, args.selection.as_deref());
    }
    if let Some((name, on)) = &args.output_power {
        let mut client = TestClient::connect_env()?;
        client.roundtrip()?;
        let hold = Duration::from_secs_f64(args.power_hold.clamp(0.0, 3600.0));
        return client.set_output_power(name, *on, hold);
    }
    if args.list_hostile {
        for (case, expect) in tandem_test_client::hostile::cases() {
            println!("{case}\t{expect:?}");
        }
        return Ok(());
    }
    if args.list_hostile_explicit_sync {
        for (case, expect) in tandem_test_client::hostile_syncobj::CASES {
            println!("{case}\t{expect:?}");
        }
        return Ok(());
    }
    if let Some(case) = &args.hostile {
        use tandem_test_client::hostile::Outcome;
        use tandem_test_client::hostile_syncobj;
        let expect = tandem_test_client::hostile::cases()
            .chain(hostile_syncobj::CASES)
            .find(|(name, _)| name == case)
            .map(|(_, expect)| *expect)
            .ok_or_else(|| {
                format!("unknown case {case}; see --list-hostile and --list-hostile-explicit-sync")
            })?;
        let outcome = if case.starts_with("syncobj-") {
            hostile_syncobj::run(case, &args.gbm_device)?
        } else {
            tandem_test_client::hostile::run(case)?
        };
        let verdict = if expect.allows(&outcome) {
            "as expected"
        } else {
            "UNEXPECTED"
        };
        match outcome {
            Outcome::ProtocolError {
                interface,
                code,
                message,
            } => println!("{case}: {verdict}: error {interface} {code} {message}"),
            Outcome::NoError => println!("{case}: {verdict}: no error"),
        }
        return Ok(());
    }
    // The pattern of --format instead of --colour (AR24 windows are filled as ever).
    let pattern = args.format != formats::ARGB8888;
    if pattern && (args.x11 || !matches!(args.buffers, Buffers::Dmabuf)) {
        return Err(format!(
            "--format {} needs --buffers dmabuf (other buffers are always AR24)",
            formats::fourcc_name(args.format)
        ));
    }
    if pattern && formats::layout(args.format, args.size.0, args.size.1).is_none() {
        return Err(format!(
            "no {} buffer of {}x{} (YUV formats need an even width and height)",
            formats::fourcc_name(args.format),
            args.size.0,
            args.size.1
        ));
    }
    if args.x11 {
        return tandem_test_client::x11::run(&tandem_test_client::x11::X11Options {
            size: args.size,
            colour: args.colour,
            windows: args.windows,
            override_redirect: args.override_redirect,
            position: args.position,
            class: args.app_id.clone(),
            exit_after: args.exit_after.map(Duration::from_secs_f64),
            retitle_then_grab: args
                .retitle_then_grab
                .map(|times| (times, Duration::from_secs_f64(args.grab_seconds))),
            drag_moves: args.drag_moves,
        });
    }
    let mut client = TestClient::connect_env()?;
    if client.globals.wm_base.is_none() {
        return Err("the compositor has no xdg_wm_base".into());
    }
    if args.explicit_sync {
        let options = tandem_test_client::explicit_sync::ExplicitSyncOptions {
            size: args.size,
            colours: [args.colour, !args.colour | 0xff00_0000],
            frames: args.frames,
            late_acquire: args.late_acquire.map(Duration::from_secs_f64),
            log: args.sync_log.clone(),
            app_id: args.app_id.clone(),
        };
        let started = Instant::now();
        tandem_test_client::explicit_sync::run(&mut client, &args.gbm_device, &options)?;
        if let Some(seconds) = args.exit_after {
            let left = Duration::from_secs_f64(seconds).saturating_sub(started.elapsed());
            std::thread::sleep(left);
        }
        return Ok(());
    }
    if matches!(args.buffers, Buffers::Gbm) {
        client.open_gbm(&args.gbm_device)?;
    }
    if args.late_fence.is_some() && !matches!(args.buffers, Buffers::Udmabuf) {
        return Err("--late-fence needs --buffers udmabuf".into());
    }
    if matches!(
        args.buffers,
        Buffers::Dmabuf | Buffers::Gbm | Buffers::Udmabuf
    ) && client.globals.dmabufs.is_empty()
    {
        return Err("the compositor shows no zwp_linux_dmabuf_v1 on this socket".into());
    }
    if pattern {
        // As a video player would: send only what the compositor advertises (version 3
        // globals list it; version 4 ones only in their feedback, which is not read here).
        client.roundtrip()?;
        let advertised = client.advertised_formats_on(0);
        if !advertised.is_empty() && !advertised.iter().any(|(code, _)| *code == args.format) {
            let mut names: Vec<String> = advertised
                .iter()
                .map(|(code, _)| formats::fourcc_name(*code))
                .collect();
            names.dedup();
            return Err(format!(
                "this socket's linux-dmabuf global does not advertise {}; not sending it (advertised: {})",
                formats::fourcc_name(args.format),
                names.join(" ")
            ));
        }
    }
    let mut windows: Vec<Window> = (0..args.windows)
        .map(|i| {
            let mut window = match args.buffers {
                Buffers::Shm => client.shm_window(args.size),
                Buffers::Dmabuf if pattern => client.dmabuf_window_in(args.size, 0, args.format),
                Buffers::Dmabuf => client.dmabuf_window(args.size, 0),
                Buffers::Gbm => client.gbm_window(args.size),
                Buffers::Udmabuf => client.udmabuf_window(args.size, 0),
            };
            window.make_toplevel(&client, &args.app_id, &format!("window {i}"));
            window
        })
        .collect();
    if let Some(mode) = &args.decorations {
        use tandem_test_client::decoration::Mode;
        let mode = match mode.as_str() {
            "server" => Mode::ServerSide,
            "client" => Mode::ClientSide,
            other => return Err(format!("--decorations {other}: expected server or client")),
        };
        for window in &windows {
            if let Some((_, toplevel)) = &window.xdg {
                client.ask_decoration(toplevel, mode)?;
            }
        }
    }
    if args.dialog {
        if let Some((first, rest)) = windows.split_first() {
            let parent = first.xdg.as_ref().map(|(_, toplevel)| toplevel);
            for (_, toplevel) in rest.iter().filter_map(|window| window.xdg.as_ref()) {
                toplevel.set_parent(parent);
            }
        }
    }
    let _imported = match &args.parent_handle {
        Some(handle) => {
            let surfaces: Vec<_> = windows.iter().map(|window| &window.surface).collect();
            Some(client.import_parent(handle, &surfaces)?)
        }
        None => None,
    };
    if args.content_type.is_some() || args.tearing.is_some() {
        use tandem_test_client::presentation_hints::{content_type, presentation_hint};
        let kind = args.content_type.as_deref().map(content_type).transpose()?;
        let hint = args.tearing.as_deref().map(presentation_hint).transpose()?;
        for window in &windows {
            client.presentation_hints(&window.surface, kind, hint)?;
        }
    }
    client.roundtrip()?;
    let (w, h) = args.size;
    let mut late_fence = None;
    for window in &mut windows {
        if !pattern {
            window.pixels().fill((0, 0, w, h), args.colour);
        }
        if args.late_fence.is_some() && late_fence.is_none() {
            late_fence = Some(LateFence::attach(window.pixels().buffer_fd())?);
        }
        window.commit(None);
    }
    client.roundtrip()?;
    let _text_field = if args.text_field {
        Some(client.text_field()?)
    } else {
        None
    };
    let _exported = match (args.export_first, windows.first()) {
        (true, Some(first)) => {
            let (handle, exported) = client.export_window(&first.surface)?;
            println!("exported {handle}");
            Some(exported)
        }
        _ => None,
    };
    let _inhibitor = match (args.inhibit_shortcuts, windows.first()) {
        (true, Some(first)) => Some(client.inhibit_shortcuts(&first.surface)?),
        _ => None,
    };
    let _gtk_paste = if args.gtk_paste {
        Some(client.gtk_paste()?)
    } else {
        None
    };
    let _selection = match &args.selection {
        Some(selection) => {
            let (kind, text) = selection
                .split_once(':')
                .ok_or_else(|| format!("--selection {selection}: expected KIND:TEXT"))?;
            Some(client.set_selection(kind, text)?)
        }
        None => None,
    };
    let _inhibitor = match (args.inhibit_idle, windows.first()) {
        (true, Some(window)) => Some(client.inhibit_idle(&window.surface)?),
        _ => None,
    };
    if let (Some(seconds), Some(first)) = (args.activate_first_after, windows.first()) {
        std::thread::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)));
        let requesting = windows.last().map(|window| &window.surface);
        let token = client.activate(&first.surface, requesting)?;
        println!("activation token {token}");
    }
    if let (Some(fence), Some(seconds)) = (late_fence, args.late_fence) {
        println!(
            "late fence: first frame committed at {} ms; its fence signals in {seconds} s",
            unix_millis()
        );
        std::thread::sleep(Duration::from_secs_f64(seconds));
        fence.signal()?;
        println!("late fence: signalled at {} ms", unix_millis());
        client.roundtrip()?;
    }
    let started = Instant::now();
    let mut frame_times = Vec::new();
    let result = frames(
        args,
        &mut client,
        &mut windows,
        pattern,
        started,
        &mut frame_times,
    );
    if let Some(path) = &args.frame_log {
        let lines: String = frame_times.iter().map(|ms| format!("{ms:.1}\n")).collect();
        std::fs::write(path, lines).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    result
}

/// Commits `args.frames` damaged frames (paced by frame callbacks with --frame-log, recording
/// their times in `frame_times`), then waits until the client is told to go.
fn frames(
    args: &Args,
    client: &mut TestClient,
    windows: &mut [Window],
    pattern: bool,
    started: Instant,
    frame_times: &mut Vec<f64>,
) -> Result<(), String> {
    let (w, h) = args.size;
    let mut frame = 0;
    loop {
        if frame < args.frames {
            let x = (frame as i32 * 4) % (w - 16).max(1);
            let y = (frame as i32 * 3) % (h - 16).max(1);
            for (index, window) in windows.iter_mut().enumerate() {
                // Windows with a pattern commit it again, with the same damage.
                if !pattern {
                    window
                        .pixels()
                        .fill((x, y, 16, 16), !args.colour | 0xff00_0000);
                }
                let damage = Some((x, y, 16, 16));
                if args.frame_log.is_some() && index == 0 {
                    if client.commit_and_wait_frame(window, damage, Duration::from_secs(5))? {
                        frame_times.push(unix_millis() as f64);
                    }
                } else {
                    window.commit(damage);
                }
            }
            frame += 1;
        }
        client.roundtrip()?;
        if args.follow_size {
            for (toplevel, size) in std::mem::take(&mut client.globals.configured_sizes) {
                let size = match size {
                    (w, h) if w > 0 && h > 0 => (w, h),
                    _ => args.size,
                };
                let Some(window) = windows
                    .iter_mut()
                    .find(|w| w.xdg.as_ref().is_some_and(|(_, t)| *t == toplevel))
                else {
                    continue;
                };
                window.set_buffer(client, size);
                window.pixels().fill((0, 0, size.0, size.1), args.colour);
                window.commit(None);
            }
        }
        for window in windows.iter_mut() {
            if let Some(node) = client.follow_feedback(window)? {
                println!("dmabuf feedback named another main device: buffers now on {node}");
                window.pixels().fill((0, 0, w, h), args.colour);
                window.commit(None);
            }
        }
        if args.quit_after_frames && frame >= args.frames {
            return Ok(());
        }
        if !client.globals.close_requested.is_empty() {
            return Ok(());
        }
        if args
            .exit_after
            .is_some_and(|s| started.elapsed() >= Duration::from_secs_f64(s))
        {
            return Ok(());
        }
        if args.frame_log.is_none() || frame >= args.frames {
            std::thread::sleep(Duration::from_millis(16));
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch: the time base shared with the VM's scripts.
fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}
