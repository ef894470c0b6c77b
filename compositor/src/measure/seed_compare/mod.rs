//! `tandem-compositor seed-compare`: smithay 0.7's own multi-GPU renderer
//! (`GpuManager<GbmGlesBackend>`) against Tandem, on the same DRM devices, in one run.
//!
//! Run as root on a real kernel (`just seed-compare` boots the VM): windows whose buffers one GPU
//! allocated (`--buffers-on`, the test client's GBM buffers) are shown on an output another GPU
//! draws (`--shown-on`), so every frame copies them across. Each library runs in a process of
//! its own (this command started again with `--library`): a warm-up window, the baseline, N
//! windows drawn for a steady stretch, closed one by one while the compositor keeps their
//! WlSurface handles, then a stretch with no output drawn. `kernel` reads what is left from the
//! kernel, not from either library; `report` prints the table, the plot and the JSON line.

mod kernel;
mod plot;
mod report;

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use tandem::diagnostics::use_exact_heap;

use self::kernel::ExportCounter;
pub use self::report::{LibraryRun, Sample};
use super::allocation_counter;
use crate::backend::headless::{Headless, HeadlessOptions, Layout, OutputSpec, TextureMode};
use crate::backend::Backend;

/// The multi-GPU layer a run draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Library {
    /// smithay 0.7's `GpuManager<GbmGlesBackend>` MultiRenderer.
    SmithayMultigpu,
    /// Tandem's MultiRenderer.
    Tandem,
}

impl Library {
    pub fn key(self) -> &'static str {
        match self {
            Library::SmithayMultigpu => "smithay_multigpu",
            Library::Tandem => "tandem",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct SeedCompareArgs {
    /// The DRM device whose GBM allocates the windows' buffers (a render node).
    #[arg(long, value_name = "NODE", default_value = "/dev/dri/renderD128")]
    pub buffers_on: PathBuf,
    /// The DRM device whose output shows the windows, and which draws it.
    #[arg(long, value_name = "NODE", default_value = "/dev/dri/card1")]
    pub shown_on: PathBuf,
    /// Run one library only (both, one process each, when absent).
    #[arg(long, value_enum)]
    pub library: Option<Library>,
    /// Windows opened, drawn and closed.
    #[arg(long, default_value_t = 8)]
    pub windows: usize,
    /// Window size WxH.
    #[arg(long, default_value = "256x256", value_parser = crate::measure::stress::parse_size)]
    pub size: (i32, i32),
    /// Frames measured while every window draws.
    #[arg(long, default_value_t = 120)]
    pub steady_frames: usize,
    /// Seconds with no output drawn after the windows closed.
    #[arg(long, default_value_t = 3.0)]
    pub idle_seconds: f64,
    /// Directory for summary.json, table.md and seed-compare.png.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: SeedCompareArgs) -> Result<ExitCode, String> {
    if let Some(library) = args.library {
        use_exact_heap();
        let run = run_library(&args, library)?;
        println!(
            "{}",
            serde_json::to_string(&run).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut runs = Vec::new();
    for library in [Library::SmithayMultigpu, Library::Tandem] {
        runs.push(run_child(&args, library)?);
    }
    report::finish(&args, &runs)
}

/// This command again, for one library, in a process of its own; its last stdout line is the
/// run's JSON.
fn run_child(args: &SeedCompareArgs, library: Library) -> Result<LibraryRun, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(exe)
        .arg("seed-compare")
        .arg("--buffers-on")
        .arg(&args.buffers_on)
        .arg("--shown-on")
        .arg(&args.shown_on)
        .args(["--library", library.key().replace('_', "-").as_str()])
        .args(["--windows", &args.windows.to_string()])
        .args(["--size", &format!("{}x{}", args.size.0, args.size.1)])
        .args(["--steady-frames", &args.steady_frames.to_string()])
        .args(["--idle-seconds", &args.idle_seconds.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run seed-compare for {}: {e}", library.key()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "seed-compare --library {} failed ({})",
            library.key(),
            output.status
        ));
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("{}'s result {line:?}: {e}", library.key()))
}

/// Seconds a step may take before the run gives up (TCG is slow, not this slow).
const STEP_LIMIT: Duration = Duration::from_secs(240);

fn run_library(args: &SeedCompareArgs, library: Library) -> Result<LibraryRun, String> {
    if std::env::var_os("LP_NUM_THREADS").is_none() {
        // llvmpipe's rasterizer threads keep per-thread memory that comes and goes with load.
        std::env::set_var("LP_NUM_THREADS", "0");
    }
    let _runtime = crate::runtime_dir::Private::ensure()?;
    let exports = ExportCounter::install()?;
    kernel::system_dmabufs()?;
    let mut backend = Headless::start(&HeadlessOptions {
        gpus: 2,
        outputs: vec![OutputSpec {
            size: (640, 480),
            gpu: Some(1),
        }],
        layout: Layout::Mirror,
        refresh_hz: 60,
        screenshot_dir: None,
        terminal: Vec::new(),
        foreign_dmabuf_imports: false,
        textures: match library {
            Library::SmithayMultigpu => TextureMode::SmithayMultigpu,
            Library::Tandem => TextureMode::Tandem,
        },
        render_gpu: None,
        drm_devices: vec![args.buffers_on.clone(), args.shown_on.clone()],
    })
    .map_err(|e| e.to_string())?;
    backend.server.state.retain_surfaces = true;
    backend.record_import_times = true;
    let mut run = LibraryRun::new(library, args);
    for id in backend.server.state.gpus.gpu_ids() {
        let name = backend
            .server
            .state
            .gpus
            .gpu(id)
            .map(|gpu| gpu.renderer_name().to_owned())
            .unwrap_or_default();
        run.gpus.push(format!("{id}: {name}"));
    }
    let progress = |what: &str| eprintln!("[{}] {what}", library.key());

    // Warm-up: one window through the whole cycle, so that shader caches, staging buffers and
    // pools are in the baseline rather than in the first measured window.
    let mut warm_up = spawn_clients(&backend, args, 1)?;
    frames_until(&mut backend, "the warm-up window is drawn", |b| {
        windows_drawn(b) == 1
    })?;
    steady_frames(&mut backend, 20)?;
    close(&mut backend, &mut warm_up)?;
    steady_frames(&mut backend, 10)?;
    run.baseline = sample(&mut backend, 0)?;
    progress(&format!("baseline: {}", run.baseline.describe()));

    let mut clients = spawn_clients(&backend, args, args.windows)?;
    frames_until(&mut backend, "every window is drawn", |b| {
        windows_drawn(b) == args.windows
    })?;
    steady_frames(&mut backend, 20)?;
    exports.reset()?;
    let imports_from = backend.import_times.len();
    let frames = steady_frames(&mut backend, args.steady_frames)?;
    run.steady_exports = exports.count()?;
    run.steady_frames = frames.len();
    run.frame_ms = frames.iter().map(|f| f.time.as_secs_f64() * 1e3).collect();
    run.heap_allocations = frames.iter().map(|f| f.allocations).collect();
    run.import_ms = backend.import_times[imports_from..]
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    progress(&format!(
        "{} steady frames: {} dma-bufs created",
        run.steady_frames, run.steady_exports
    ));
    run.shown = sample(&mut backend, 0)?;

    for closed in 1..=clients.0.len() {
        let mut one = Clients(vec![clients.0.remove(0)]);
        close(&mut backend, &mut one)?;
        steady_frames(&mut backend, 5)?;
        run.closes.push(sample(&mut backend, closed)?);
    }
    backend.rendering_paused = true;
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < args.idle_seconds {
        backend.server.dispatch(Duration::from_millis(16))?;
        backend.frame();
    }
    run.after = sample(&mut backend, args.windows)?;
    progress(&format!(
        "after the windows closed: {}",
        run.after.describe()
    ));
    Ok(run)
}

/// Client processes, killed if the run ends before they were closed.
struct Clients(Vec<Child>);

impl Drop for Clients {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Clients of the `--buffers-on` GPU's socket, drawing until they are closed.
fn spawn_clients(
    backend: &Headless,
    args: &SeedCompareArgs,
    count: usize,
) -> Result<Clients, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let program = exe.with_file_name("tandem-test-client");
    let socket = format!("{}-gpu0", backend.server.socket_name());
    (0..count)
        .map(|index| {
            Command::new(&program)
                .args(["--buffers", "gbm", "--gbm-device"])
                .arg(&args.buffers_on)
                .args(["--size", &format!("{}x{}", args.size.0, args.size.1)])
                .args(["--frames", "1000000"])
                .args([
                    "--colour",
                    &format!("ff{:06x}", (index as u32 * 0x3f_5b_17) & 0xff_ffff),
                ])
                .env("WAYLAND_DISPLAY", &socket)
                .env_remove("DISPLAY")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("{}: {e}", program.display()))
        })
        .try_fold(Clients(Vec::new()), |mut clients, child| {
            clients.0.push(child?);
            Ok(clients)
        })
}

/// Windows mapped with a buffer drawn.
fn windows_drawn(backend: &Headless) -> usize {
    backend
        .server
        .state
        .space
        .elements()
        .filter(|w| w.bbox().size.w > 0)
        .count()
}

/// One drawn frame: its time (every output drawn and finished) and the heap allocations made
/// while it was drawn.
struct Frame {
    time: Duration,
    allocations: u64,
}

/// One frame: events first (clients' commits), then every output drawn and finished.
fn frame(backend: &mut Headless) -> Result<Frame, String> {
    backend.server.dispatch(Duration::from_millis(16))?;
    let allocations = allocation_counter::allocations();
    let started = Instant::now();
    backend.frame();
    backend.finish_gpus()?;
    Ok(Frame {
        time: started.elapsed(),
        allocations: allocation_counter::allocations() - allocations,
    })
}

fn steady_frames(backend: &mut Headless, count: usize) -> Result<Vec<Frame>, String> {
    (0..count).map(|_| frame(backend)).collect()
}

fn frames_until(
    backend: &mut Headless,
    what: &str,
    done: impl Fn(&Headless) -> bool,
) -> Result<(), String> {
    let started = Instant::now();
    while !done(backend) {
        if started.elapsed() > STEP_LIMIT {
            return Err(format!("gave up waiting until {what}"));
        }
        frame(backend)?;
    }
    Ok(())
}

/// Closes `clients` (SIGTERM, as a window manager's close ends a client) and draws until their
/// windows are gone.
fn close(backend: &mut Headless, clients: &mut Clients) -> Result<(), String> {
    let before = windows_drawn(backend);
    for child in clients.0.iter_mut() {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).ok_or("no pid")?,
            rustix::process::Signal::TERM,
        )
        .map_err(|e| e.to_string())?;
        let _ = child.wait();
    }
    let gone = clients.0.len();
    clients.0.clear();
    frames_until(backend, "the closed windows are gone", |b| {
        windows_drawn(b) + gone <= before
    })
}

/// What the kernel says is held now, after GPU work finished.
fn sample(backend: &mut Headless, windows_closed: usize) -> Result<Sample, String> {
    backend.finish_gpus()?;
    let rss = super::settled_rss_bytes();
    Ok(Sample {
        windows_closed,
        system_dmabufs: kernel::system_dmabufs()?,
        process_dmabufs: kernel::process_dmabufs()?,
        drm_fdinfo: kernel::drm_fdinfo_memory()?,
        gl_names: backend.live_texture_names()?,
        rss_bytes: rss,
        resident: kernel::resident_by_mapping()?,
    })
}
