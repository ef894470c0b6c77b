//! tandem-compositor: a Wayland compositor whose every pixel goes through Tandem's MultiRenderer.
//!
//! `main` parses the command line and hands over to a backend (`backend/`), the `demo`, or the
//! IPC client (`msg`); the parts live in the library (`lib.rs`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

use tandem_compositor::backend::headless::{
    Headless, HeadlessOptions, Layout, OutputSpec, TextureMode,
};
use tandem_compositor::backend::winit::{Nested, WinitOptions};
use tandem_compositor::gpu::{parking, vram};
use tandem_compositor::ipc::messages::{Reply, Request};
use tandem_compositor::measure::{copy_costs, seed_compare, stress};
use tandem_compositor::shell::x11;
use tandem_compositor::shell::x11::XwaylandMode;
use tandem_compositor::{
    backend, config, demo, ipc, logging, resolve_backend, runtime_dir, BackendKind,
};

/// Counts heap allocations for `copy-costs`' per-copy and steady-frame figures.
#[global_allocator]
static ALLOCATOR: tandem_compositor::measure::allocation_counter::CountingAllocator =
    tandem_compositor::measure::allocation_counter::CountingAllocator;

/// A Wayland compositor on the Tandem multi-GPU texture layer.
///
/// Every window is drawn through Tandem: per-GPU textures, shadow copies between GPUs, exact VRAM
/// accounting (see `tandem-compositor msg vram`). Sockets: the main one (tandem-N) and one per
/// GPU (tandem-N-gpuK) whose clients get GPU K as their dmabuf device.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Demo: software GPUs, weston's demo clients opening and closing windows on every GPU, and
    /// the VRAM table printed as they go. Exits non-zero if any byte is retained afterwards.
    Demo(demo::DemoArgs),
    /// VRAM-per-window stress test: windows opened and closed across GPUs, what stays behind
    /// measured by the ledger, live GL names and RSS; `--compare` adds smithay's stock import.
    Stress(stress::StressArgs),
    /// Ask the running compositor (found through TANDEM_SOCKET or XDG_RUNTIME_DIR).
    Msg(MsgArgs),
    /// What moving a window's pixels between two software GPUs costs per frame, path by path,
    /// against memcpy of the same bytes; the last line of stdout is JSON.
    CopyCosts(copy_costs::CopyCostsArgs),
    /// smithay 0.7's own multi-GPU renderer against Tandem on real DRM devices (run as root in
    /// the VM by `just seed-compare`): what a closed window leaves, dma-bufs made per frame,
    /// copy time; the last line of stdout is JSON.
    SeedCompare(seed_compare::SeedCompareArgs),
    /// The configuration file ($XDG_CONFIG_HOME/tandem/config.toml): print the documented
    /// default, or check a file.
    Config(ConfigArgs),
}

#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// Print the documented default configuration.
    #[arg(long, conflicts_with = "check")]
    default: bool,
    /// Check FILE (default: the configuration file the compositor would read): "FILE: ok", or
    /// the first error with its line and column and exit status 1.
    #[arg(long)]
    check: bool,
    /// The file --check checks.
    #[arg(value_name = "FILE", requires = "check")]
    file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct MsgArgs {
    #[arg(value_enum)]
    what: MsgKind,
    /// Print the reply as JSON.
    #[arg(long)]
    json: bool,
    /// The GPU for gpu-remove, or the GPU that draws output-add's or output-render's output (an
    /// id from `msg gpus`, e.g. soft1).
    #[arg(long, required_if_eq_any([("what", "gpu-remove"), ("what", "output-render")]))]
    gpu: Option<String>,
    /// output-add: the new output's size.
    #[arg(long, value_name = "WxH", default_value = "1280x800")]
    size: String,
    /// output-add: the serial number of the virtual monitor (its name when absent); a monitor
    /// that comes again with the same serial gets its last settings back.
    #[arg(long)]
    serial: Option<String>,
    /// output-remove: the output's name (see `msg outputs`); screenshot: the output to take
    /// (the first when absent); power: the output to turn on or off (every one when absent).
    #[arg(long, required_if_eq_any([("what", "output-remove"), ("what", "output-render")]))]
    output: Option<String>,
    /// screenshot: the PNG file to write; action: what to do, as a key binding names it
    /// (focus-next, maximize, "spawn foot", ...); power: on or off.
    #[arg(
        value_name = "FILE.png | ACTION | on|off",
        required_if_eq_any([("what", "screenshot"), ("what", "action"), ("what", "power")])
    )]
    target: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MsgKind {
    /// Mapped windows: app_id, title, client pid, position and size.
    Windows,
    /// Outputs: position, size, render and display GPU, frames shown.
    Outputs,
    /// GPUs: kind, socket, quirks, outputs.
    Gpus,
    /// GPU memory per GPU (by kind) and per window (per GPU).
    Vram,
    /// Ask the compositor to exit.
    Quit,
    /// Remove the GPU named by --gpu (its outputs move to another GPU; on the TTY backend the
    /// monitors of its device go, as when it is unplugged).
    GpuRemove,
    /// Add a software GPU with its own socket.
    GpuAdd,
    /// Add a virtual output of --size, drawn by --gpu (headless backend).
    OutputAdd,
    /// Remove the virtual output named by --output (headless backend).
    OutputRemove,
    /// Draw an output (--output NAME, else the first) again and write it to FILE.png; every
    /// backend.
    Screenshot,
    /// Whether the session is locked (and by a live locker), whether idleness is inhibited,
    /// the configuration file and its last error.
    Session,
    /// Connected clients: pid, GPU, Xwayland, and the sandbox (security context) each came
    /// from; a sandboxed client does not see the privileged globals.
    Clients,
    /// Read the configuration file again (it is also read whenever it changes).
    Reload,
    /// Do what a key binding does: ACTION as the configuration file names actions.
    Action,
    /// Turn screens on or off (on|off): --output NAME, else every output. Input turns them
    /// on again.
    Power,
    /// Draw the output named by --output with the GPU named by --gpu (hybrid laptops: the
    /// integrated or the discrete GPU per monitor).
    OutputRender,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The configuration file (default: $XDG_CONFIG_HOME/tandem/config.toml; `config
    /// --default` prints a documented one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which backend drives the outputs.
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    backend: BackendKind,
    /// tty: print the GPUs, connectors and render plan, then exit.
    #[arg(long)]
    dry_run: bool,
    /// Number of software GPUs, 1 to 16 (headless; winit renders on the first and serves
    /// clients of the others' sockets).
    #[arg(long, default_value_t = 2, value_parser = tandem_compositor::parse_gpu_count)]
    gpus: usize,
    /// headless: a virtual output WxH[@GPU]; repeat for more (default: 1280x800 per GPU).
    #[arg(long = "output", value_name = "WxH[@GPU]")]
    outputs: Vec<OutputSpec>,
    /// headless and tty: how outputs are placed.
    #[arg(long, value_enum, default_value_t = Layout::Row)]
    layout: Layout,
    /// headless: no GPU imports dmabufs allocated by another GPU (as with NVIDIA), so client
    /// buffers from another GPU go through shadow copies.
    #[arg(long)]
    no_foreign_dmabuf_imports: bool,
    /// How a window's buffer from another GPU is copied: as the measured costs choose (auto),
    /// or always through a shadow slot or a CPU copy while that path works (for diagnosing a
    /// path, and for measuring one).
    #[arg(long, value_enum, default_value_t = CopyPath::Auto)]
    copy_path: CopyPath,
    /// headless: the GPU (index) that draws every output, as one render GPU does on a TTY;
    /// outputs of the other GPUs are fed from it. Default: each output's own GPU draws it.
    #[arg(long, value_name = "INDEX")]
    render_gpu: Option<usize>,
    /// headless: output refresh rate in Hz.
    #[arg(long, default_value_t = 60)]
    refresh: u32,
    /// headless: write each output as output-N.png into this directory about once a second.
    #[arg(long, value_name = "DIR")]
    screenshot_dir: Option<PathBuf>,
    /// Quit after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<f64>,
    /// Terminal started by Super+Return.
    #[arg(long, default_value = "foot", value_name = "COMMAND")]
    terminal: String,
    /// Park a GPU (close its EGL context and device fds) once it has had no output, no
    /// client and no buffer for this many seconds; it is reopened when something needs it.
    /// 0 keeps every GPU open.
    /// Default: `[gpus] park_after` in the configuration file, else 10.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    park_after: Option<f64>,
    /// The most GPU memory one client's windows may hold, in MiB (0: no limit). A buffer that
    /// would take a client past it is refused (a linux-dmabuf error for that buffer; an shm
    /// window is not drawn) and logged; the rest of the client is untouched.
    /// Default: `[gpus] client_budget_mib` in the configuration file, else 512.
    #[arg(long, value_name = "MIB")]
    client_budget_mib: Option<u64>,
    /// X11 programs: `lazy` starts Xwayland when the first X11 client connects to the
    /// compositor's display (DISPLAY is set for the programs it starts) and stops it once no
    /// X11 client is left; `keep` keeps it running once started; `off` offers no X11 display.
    /// Default: lazy when Xwayland is installed, otherwise off with a warning.
    #[arg(long, value_enum)]
    xwayland: Option<XwaylandMode>,
    /// Command to start as a client once the compositor is up.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=86_400.0).contains(&s) => Ok(s),
        Ok(_) => Err("between 0 and 86400 seconds".into()),
        Err(_) => Err(format!("not a number: {text:?}")),
    }
}

/// `--copy-path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CopyPath {
    Auto,
    Shadow,
    Cpu,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(matches!(
        cli.command,
        Some(
            Command::Demo(_)
                | Command::Stress(_)
                | Command::Msg(_)
                | Command::CopyCosts(_)
                | Command::SeedCompare(_)
                | Command::Config(_)
        )
    ));
    let result = match cli.command {
        Some(Command::Demo(args)) => demo::run(args),
        Some(Command::Msg(args)) => msg(args),
        Some(Command::Stress(args)) => stress::run(args),
        Some(Command::CopyCosts(args)) => copy_costs::run(args),
        Some(Command::SeedCompare(args)) => seed_compare::run(args),
        Some(Command::Config(args)) => config_command(args),
        None => run(cli.run),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tandem-compositor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    if !args.dry_run {
        runtime_dir::for_session()?;
    }
    let terminal: Vec<String> = args
        .terminal
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut backend: Box<dyn backend::Backend> = match resolve_backend(args.backend) {
        BackendKind::Tty => {
            if args.dry_run {
                let candidates = backend::tty::plan::discover("seat0")?;
                let render_override = std::env::var("TANDEM_RENDER_GPU").ok();
                print!(
                    "{}",
                    backend::tty::plan::plan(&candidates, render_override.as_deref())
                );
                return Ok(ExitCode::SUCCESS);
            }
            Box::new(backend::tty::Tty::start(terminal, args.layout).map_err(|e| e.to_string())?)
        }
        BackendKind::Winit => Box::new(
            Nested::start(&WinitOptions {
                gpus: args.gpus,
                terminal,
            })
            .map_err(|e| e.to_string())?,
        ),
        BackendKind::Headless | BackendKind::Auto => {
            if let Some(dir) = &args.screenshot_dir {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Box::new(
                Headless::start(&HeadlessOptions {
                    gpus: args.gpus,
                    outputs: args.outputs,
                    layout: args.layout,
                    refresh_hz: args.refresh,
                    screenshot_dir: args.screenshot_dir,
                    terminal,
                    foreign_dmabuf_imports: !args.no_foreign_dmabuf_imports,
                    textures: TextureMode::Tandem,
                    render_gpu: args.render_gpu,
                    drm_devices: Vec::new(),
                })
                .map_err(|e| e.to_string())?,
            )
        }
    };
    let server = backend.server();
    server.state.gpus.pin_copy_path(match args.copy_path {
        CopyPath::Auto => None,
        CopyPath::Shadow => Some(tandem::PathKind::Shadow),
        CopyPath::Cpu => Some(tandem::PathKind::CpuCopy),
    });
    server.state.gpu_flags = config::GpuFlags {
        park_after: args.park_after,
        client_budget_mib: args.client_budget_mib,
    };
    config::apply_gpus(&mut server.state);
    parking::install(&server.state.display_loop_handle())?;
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        println!("XDG_RUNTIME_DIR={}", PathBuf::from(dir).display());
    }
    let x11_display = match x11::enable(
        &mut server.state,
        args.xwayland.unwrap_or(XwaylandMode::Lazy),
    ) {
        Ok(display) => display,
        Err(err) if args.xwayland.is_none() => {
            tracing::warn!("X11 programs cannot run: {err}");
            None
        }
        Err(err) => return Err(err),
    };
    println!("WAYLAND_DISPLAY={}", server.socket_name());
    if let Some(display) = x11_display {
        println!("DISPLAY={display}");
    }
    println!("TANDEM_SOCKET={}", server.ipc_path.display());
    start_configuration(&mut server.state, args.config.clone());
    let child = match args.command.is_empty() {
        true => None,
        false => Some(
            server
                .spawn(&args.command)
                .map_err(|e| format!("could not start {}: {e}", args.command[0]))?,
        ),
    };
    let deadline = args
        .exit_after
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    backend.run_until(&mut |_| deadline.is_some_and(|d| Instant::now() >= d));
    backend.screenshot_all();
    if let Some(pid) = child {
        backend.server().state.children.kill(pid);
    }
    Ok(ExitCode::SUCCESS)
}

/// `tandem-compositor config`: prints the default, or checks a file.
fn config_command(args: ConfigArgs) -> Result<ExitCode, String> {
    if args.default || !args.check {
        print!("{}", config::DEFAULT);
        return Ok(ExitCode::SUCCESS);
    }
    let path = match args.file {
        Some(path) => path,
        None => config::default_path()
            .ok_or("no configuration file: neither XDG_CONFIG_HOME nor HOME is set")?,
    };
    if !path.exists() {
        println!(
            "{}: not there; the default applies (tandem-compositor config --default)",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    config::load(&path)?;
    println!("{}: ok", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Loads the configuration file (reporting an error in it: the default is then in effect),
/// starts its startup programs and watches the file for changes.
fn start_configuration(state: &mut tandem_compositor::state::State, path: Option<PathBuf>) {
    state.config_path = path.or_else(config::default_path);
    if let Err(err) = config::reload(state) {
        eprintln!("tandem-compositor: {err}; the default configuration is in effect");
        config::apply_gpus(state);
    }
    for command in state.config.startup.clone() {
        let words: Vec<String> = command.split_whitespace().map(String::from).collect();
        if words.is_empty() {
            continue;
        }
        if let Err(err) = tandem_compositor::server::spawn_client(state, &words) {
            tracing::warn!(%err, %command, "a startup program could not start");
        }
    }
    config::watch(state);
}

fn msg(args: MsgArgs) -> Result<ExitCode, String> {
    // A reader that stops early (`msg windows | head -1`, `| grep -q`) ends this process quietly,
    // as it ends other command-line tools, instead of a failed print.
    // SAFETY: restores the default disposition of one signal before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let request = match args.what {
        MsgKind::Windows => Request::Windows,
        MsgKind::Outputs => Request::Outputs,
        MsgKind::Gpus => Request::Gpus,
        MsgKind::Vram => Request::Vram,
        MsgKind::Quit => Request::Quit,
        MsgKind::Session => Request::Session,
        MsgKind::Clients => Request::Clients,
        MsgKind::Reload => Request::Reload,
        MsgKind::Action => Request::Action {
            action: args.target.clone().unwrap_or_default(),
        },
        MsgKind::OutputRender => Request::OutputRender {
            output: args.output.clone().unwrap_or_default(),
            gpu: args.gpu.clone().unwrap_or_default(),
        },
        MsgKind::Power => Request::Power {
            on: match args.target.as_deref() {
                Some("on") => true,
                Some("off") => false,
                other => return Err(format!("power: on or off, not {other:?}")),
            },
            output: args.output.clone(),
        },
        MsgKind::GpuRemove => Request::GpuRemove {
            id: args.gpu.clone().unwrap_or_default(),
        },
        MsgKind::GpuAdd => Request::GpuAdd,
        MsgKind::OutputAdd => {
            let (width, height) = args
                .size
                .split_once('x')
                .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                .ok_or_else(|| format!("--size {:?}: expected WxH, e.g. 1280x800", args.size))?;
            Request::OutputAdd {
                width,
                height,
                gpu: args.gpu.clone(),
                serial: args.serial.clone(),
            }
        }
        MsgKind::OutputRemove => Request::OutputRemove {
            name: args.output.clone().unwrap_or_default(),
        },
        MsgKind::Screenshot => {
            let file = args
                .target
                .clone()
                .map(PathBuf::from)
                .ok_or("screenshot: give the PNG file to write")?;
            // The compositor writes the file: a relative path is the caller's.
            let file = std::env::current_dir()
                .map(|dir| dir.join(&file))
                .unwrap_or(file);
            Request::Screenshot {
                output: args.output.clone(),
                path: file.to_string_lossy().into_owned(),
            }
        }
    };
    let reply = ipc::client::send(&request)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reply).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    match reply {
        Reply::Windows(windows) => print!("{}", vram::windows_table(&windows)),
        Reply::Outputs(outputs) => print!("{}", vram::outputs_table(&outputs)),
        Reply::Gpus(gpus) => print!("{}", vram::gpus_table(&gpus)),
        Reply::Vram(report) => println!("{}", vram::table(&report)),
        Reply::Session(session) => {
            let locked = match (session.locked, session.locker) {
                (false, _) => "no",
                (true, true) => "yes",
                (true, false) => "yes (its locker went away: another locker can unlock it)",
            };
            println!("locked: {locked}");
            let inhibited = if session.idle_inhibited { "yes" } else { "no" };
            println!("idle inhibited: {inhibited}");
            if let Some(path) = &session.config {
                println!("configuration: {path}");
            }
            if let Some(error) = &session.config_error {
                println!("configuration not loaded (the one before it is in effect): {error}");
            }
        }
        Reply::Clients(clients) => print!("{}", ipc::client::clients_table(&clients)),
        Reply::Ok => println!("ok"),
        Reply::GpuAdded { id, socket } => println!("added {id}, socket {socket}"),
        Reply::OutputAdded { name } => println!("added {name}"),
        Reply::Screenshot {
            path,
            output,
            width,
            height,
        } => println!("wrote {path} ({output}, {width}x{height})"),
        Reply::Error { message } => return Err(message),
    }
    Ok(ExitCode::SUCCESS)
}
