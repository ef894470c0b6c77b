//! tandem-compositor: a Wayland compositor whose every pixel goes through Tandem's MultiRenderer.
//!
//! `main` parses the command line and hands over to a backend (`headless`) or to the `demo`.

mod demo;
mod headless;
mod screenshot;
mod state;
mod vram;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::headless::{Compositor, HeadlessOptions, OutputSpec};

/// A Wayland compositor on the Tandem multi-GPU texture layer.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Headless demo: software GPUs, demo clients opening and closing windows, the VRAM table
    /// printed as they go. Exits non-zero if any byte is retained after the clients are gone.
    Demo(demo::DemoArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Backend {
    /// headless unless a display or a VT is available (only headless is built so far)
    Auto,
    /// offscreen outputs on software GPUs
    Headless,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Which backend drives the outputs.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Number of software GPUs (headless).
    #[arg(long, default_value_t = 2)]
    gpus: usize,
    /// A virtual output WxH[@GPU]; repeat for more (default: one 1280x800 output per GPU).
    #[arg(long = "output", value_name = "WxH[@GPU]")]
    outputs: Vec<OutputSpec>,
    /// Output refresh rate in Hz (headless).
    #[arg(long, default_value_t = 60)]
    refresh: u32,
    /// Write each output as output-N.png into this directory about once a second.
    #[arg(long, value_name = "DIR")]
    screenshot_dir: Option<PathBuf>,
    /// Quit after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<f64>,
    /// Command to start as a client once the compositor is up.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Demo(args)) => demo::run(args),
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
    match args.backend {
        Backend::Auto | Backend::Headless => {}
    }
    if let Some(dir) = &args.screenshot_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let options = HeadlessOptions {
        gpus: args.gpus,
        outputs: args.outputs,
        refresh_hz: args.refresh,
        screenshot_dir: args.screenshot_dir,
    };
    let mut compositor = Compositor::new(&options).map_err(|e| e.to_string())?;
    println!("WAYLAND_DISPLAY={}", compositor.socket_name);
    let mut child = match args.command.split_first() {
        Some((program, rest)) => Some(
            std::process::Command::new(program)
                .args(rest)
                .env("WAYLAND_DISPLAY", &compositor.socket_name)
                .spawn()
                .map_err(|e| format!("could not start {program}: {e}"))?,
        ),
        None => None,
    };
    let deadline = args
        .exit_after
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s));
    compositor.run_until(options.refresh_hz, |_| {
        deadline.is_some_and(|d| std::time::Instant::now() >= d)
    });
    compositor.screenshot_all();
    if let Some(child) = &mut child {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(ExitCode::SUCCESS)
}
