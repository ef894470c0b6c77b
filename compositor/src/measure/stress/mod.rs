//! `tandem-compositor stress`: the VRAM-per-window stress test.
//!
//! Starts the headless compositor in-process on software GPUs (one output per GPU, mirrored so
//! every window lands on every GPU), spawns client processes that open windows, commit damaged
//! frames and exit, cycle after cycle, and samples what stays behind after each cycle: the
//! ledger, live GL texture names per context and process RSS. `--textures smithay` renders with
//! each GPU's own GlesRenderer and smithay's stock import instead of Tandem: the baseline.
//! `report` turns the samples into summary.json, samples.csv and the table; `plot` draws them.

mod plot;
mod report;

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use tandem::diagnostics::use_exact_heap;

use self::report::{ModeSummary, Sample};
use crate::backend::headless::{Headless, HeadlessOptions, Layout, TextureMode};
use crate::backend::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Buffers {
    Shm,
    Dmabuf,
    Mixed,
}

#[derive(Debug, clap::Args)]
pub struct StressArgs {
    /// Software GPUs (one output each), 1 to 16.
    #[arg(long, default_value_t = 2, value_parser = crate::parse_gpu_count)]
    pub gpus: usize,
    /// Windows opened (and closed) per cycle.
    #[arg(long, default_value_t = 50)]
    pub windows: usize,
    /// Window size WxH.
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    pub size: (i32, i32),
    /// Where window pixels live; dmabufs are placed on GPU i % N through that GPU's socket.
    #[arg(long, value_enum, default_value_t = Buffers::Mixed)]
    pub buffers: Buffers,
    /// Windows open at once.
    #[arg(long, default_value_t = 8)]
    pub concurrent: usize,
    /// Measured cycles (after two warm-up cycles, whose end is the baseline).
    #[arg(long, default_value_t = 6)]
    pub cycles: usize,
    /// Damaged frames each window commits after its first.
    #[arg(long, default_value_t = 10)]
    pub frames: u32,
    /// Keep every WlSurface handle ever seen, as real compositors do (the condition under
    /// which smithay 0.7 leaks).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub retain_surfaces: bool,
    /// Let GPUs import each other's dmabufs directly (off: shadow copies, as with NVIDIA).
    #[arg(long)]
    pub foreign_dmabuf_imports: bool,
    /// Texture handling to measure.
    #[arg(long, value_enum, default_value_t = TextureMode::Tandem)]
    pub textures: TextureMode,
    /// Run both Tandem and the smithay baseline, one after the other, in this run.
    #[arg(long)]
    pub compare: bool,
    /// Client to run instead of the project's test client (one window per process), e.g.
    /// `weston-simple-shm`; it is killed after --frames frame times.
    #[arg(long, value_name = "CMD")]
    pub client_cmd: Option<String>,
    /// Directory for samples.csv, memory.png and summary.json.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print summary.json on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn parse_size(text: &str) -> Result<(i32, i32), String> {
    let (w, h) = text.split_once('x').ok_or("expected WxH")?;
    let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (16..=4096).contains(v));
    Ok((parse(w).ok_or("bad width")?, parse(h).ok_or("bad height")?))
}

pub fn run(args: StressArgs) -> Result<ExitCode, String> {
    use_exact_heap();
    if std::env::var_os("LP_NUM_THREADS").is_none() {
        // llvmpipe's rasterizer threads keep per-thread scene memory that comes and goes with
        // load; rendering on the calling thread makes RSS follow what is really held.
        std::env::set_var("LP_NUM_THREADS", "0");
    }
    let _runtime = crate::runtime_dir::Private::ensure()?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut modes = if args.compare {
        vec![TextureMode::Tandem, TextureMode::Smithay]
    } else {
        vec![args.textures]
    };
    if args.retain_surfaces && !modes.contains(&TextureMode::None) {
        // The compositor's own state for retained surfaces, measured without any texture.
        modes.insert(0, TextureMode::None);
    }
    let mut summaries = Vec::new();
    for mode in modes {
        summaries.push(run_mode(&args, mode)?);
    }
    let window_bytes = match &args.client_cmd {
        // Another client chooses its own size: the largest window seen stands for all.
        Some(_) => summaries
            .iter()
            .map(|s| s.largest_window_bytes)
            .max()
            .unwrap_or(0),
        None => args.size.0 as u64 * args.size.1 as u64 * 4,
    };
    let summary = report::summary_json(&summaries, &args, window_bytes);
    if let Some(dir) = &args.out {
        report::write_csv(&dir.join("samples.csv"), &summaries)?;
        plot::draw(&dir.join("memory.png"), &summaries, window_bytes)?;
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    }
    eprintln!("\n{}", report::table(&summaries, window_bytes));
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
        );
    }
    let surface_state = report::control(&summaries)
        .map(ModeSummary::rss_per_window)
        .unwrap_or(0.0);
    let failed = summaries
        .iter()
        .filter(|s| s.mode == TextureMode::Tandem)
        .any(|s| {
            s.ledger_per_window() > 0.0
                || report::net_rss_per_window(s, surface_state) > window_bytes as f64 * 0.01
        });
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn client_command(args: &StressArgs, index: usize) -> Result<(Command, String), String> {
    if let Some(cmd) = &args.client_cmd {
        let mut parts = cmd.split_whitespace();
        let program = parts.next().ok_or("empty --client-cmd")?;
        let mut command = Command::new(program);
        command.args(parts);
        return Ok((command, "main".into()));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let client = exe.with_file_name("tandem-test-client");
    if !client.is_file() {
        return Err(format!(
            "{} is missing: build it with cargo build -p tandem-compositor",
            client.display()
        ));
    }
    let dmabuf = match args.buffers {
        Buffers::Shm => false,
        Buffers::Dmabuf => true,
        Buffers::Mixed => index % 2 == 1,
    };
    let mut command = Command::new(client);
    command.args([
        "--buffers",
        if dmabuf { "dmabuf" } else { "shm" },
        "--size",
        &format!("{}x{}", args.size.0, args.size.1),
        "--frames",
        &args.frames.to_string(),
        "--quit-after-frames",
        "--colour",
        &format!("ff{:06x}", (index as u32 * 0x3f_5b_17) & 0xff_ffff),
    ]);
    let socket = if dmabuf {
        format!("gpu{}", index % args.gpus.max(1))
    } else {
        "main".into()
    };
    Ok((command, socket))
}

/// Cycles run before the baseline sample, so that allocator pools and shader caches settle.
const WARM_UP_CYCLES: usize = 2;

fn run_mode(args: &StressArgs, mode: TextureMode) -> Result<ModeSummary, String> {
    let mut backend = Headless::start(&HeadlessOptions {
        gpus: args.gpus,
        outputs: Vec::new(),
        layout: Layout::Mirror,
        refresh_hz: 60,
        screenshot_dir: None,
        terminal: Vec::new(),
        foreign_dmabuf_imports: args.foreign_dmabuf_imports,
        textures: mode,
        render_gpu: None,
        drm_devices: Vec::new(),
    })
    .map_err(|e| e.to_string())?;
    backend.server.state.retain_surfaces = args.retain_surfaces;
    let mut summary = ModeSummary::new(mode, args.gpus);
    summary.cross_gpu_dmabufs = match mode {
        TextureMode::Tandem if args.foreign_dmabuf_imports => "imported directly",
        TextureMode::Tandem => "shadow copies (GPUs import no other GPU's dmabufs)",
        TextureMode::Smithay => "imported directly (smithay has no such setting)",
        TextureMode::SmithayMultigpu => "smithay's multigpu module",
        TextureMode::None => "none drawn",
    };
    let mut opened = 0usize;
    for cycle in 0..WARM_UP_CYCLES + args.cycles {
        let started = Instant::now();
        let largest = run_cycle(args, &mut backend, opened)?;
        summary.largest_window_bytes = summary.largest_window_bytes.max(largest);
        opened += args.windows;
        for _ in 0..3 {
            backend.frame();
        }
        if cycle + 1 < WARM_UP_CYCLES {
            continue;
        }
        let cycle = cycle + 1 - WARM_UP_CYCLES;
        let sample = sample(&mut backend, cycle, opened)?;
        eprintln!(
            "[{}] cycle {cycle}/{}{}: {opened} windows opened in {:.1}s; ledger {}, GL names {}, RSS {} B",
            report::mode_name(mode),
            args.cycles,
            if cycle == 0 { " (end of warm-up: baseline)" } else { "" },
            started.elapsed().as_secs_f64(),
            match mode {
                TextureMode::Tandem => format!("{} B", sample.ledger_bytes),
                _ => "n/a".into(),
            },
            sample.gl_names,
            sample.rss_bytes
        );
        summary.samples.push(sample);
        if cycle == 0 {
            summary.frame_times_from = backend.frame_times.len();
            summary.copy_stats_at_warmup = backend.server.state.gpus.stats();
        }
    }
    summary.frame_times = backend.frame_times[summary.frame_times_from..].to_vec();
    summary.copy_stats = backend.server.state.gpus.stats();
    summary.windows_measured = args.windows * args.cycles;
    summary.frames_per_window = args.frames as usize + 1;
    Ok(summary)
}

/// Opens `args.windows` windows, at most `args.concurrent` at a time, and waits until every
/// client has exited and its windows are gone. Returns the bytes of the largest window seen
/// (its whole surface tree at 4 bytes per pixel).
fn run_cycle(args: &StressArgs, backend: &mut Headless, first_index: usize) -> Result<u64, String> {
    let mut running: Vec<(Child, Instant)> = Vec::new();
    let mut largest = 0u64;
    let mut spawned = 0;
    let mut error = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    let frame_budget = Duration::from_millis(16 * (args.frames as u64 + 30));
    backend.run_until(&mut |server| {
        for window in server.state.space.elements() {
            let size = window.bbox().size;
            largest = largest.max(size.w.max(0) as u64 * size.h.max(0) as u64 * 4);
        }
        running.retain_mut(|(child, since)| {
            let done = matches!(child.try_wait(), Ok(Some(_)));
            if !done && args.client_cmd.is_some() && since.elapsed() > frame_budget {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            !done
        });
        while spawned < args.windows && running.len() < args.concurrent.max(1) {
            match client_command(args, first_index + spawned) {
                Ok((mut command, socket)) => {
                    let name = if socket == "main" {
                        server.socket_name().to_string()
                    } else {
                        format!("{}-{socket}", server.socket_name())
                    };
                    command
                        .env("WAYLAND_DISPLAY", name)
                        .env_remove("DISPLAY")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    match command.spawn() {
                        Ok(child) => running.push((child, Instant::now())),
                        Err(err) => {
                            error = Some(format!("could not start the client: {err}"));
                            return true;
                        }
                    }
                }
                Err(err) => {
                    error = Some(err);
                    return true;
                }
            }
            spawned += 1;
        }
        if Instant::now() > deadline {
            error = Some("a cycle took more than 300 s".into());
            return true;
        }
        spawned == args.windows && running.is_empty() && server.state.space.elements().len() == 0
    });
    for (mut child, _) in running {
        let _ = child.kill();
        let _ = child.wait();
    }
    match error {
        Some(err) => Err(err),
        None => Ok(largest),
    }
}

fn sample(backend: &mut Headless, cycle: usize, opened: usize) -> Result<Sample, String> {
    let gpus = &mut backend.server.state.gpus;
    gpus.cleanup().map_err(|e| e.to_string())?;
    let snapshot = gpus.ledger().snapshot();
    let mut gl_names_per_gpu = Vec::new();
    let mut ledger_detail = Vec::new();
    for gpu in gpus.gpu_ids() {
        let names = gpus.live_texture_names(gpu).map_err(|e| e.to_string())? as u64;
        gl_names_per_gpu.push((gpu.to_string(), names));
        let usage = snapshot.gpu(gpu);
        for kind in tandem::MemoryKind::ALL {
            ledger_detail.push((format!("{gpu}/{}", kind.name()), usage.kind(kind).bytes));
        }
    }
    let gl_names = gl_names_per_gpu.iter().map(|(_, n)| n).sum();
    let rss = super::settled_rss_bytes();
    Ok(Sample {
        cycle,
        windows_opened: opened,
        ledger_bytes: snapshot.total.bytes(),
        gl_names,
        rss_bytes: rss,
        ledger_detail,
        gl_names_per_gpu,
    })
}
