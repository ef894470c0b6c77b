//! The demo: the compositor (nested in a window when a display exists, otherwise headless on
//! software GPUs) with demo clients opening and closing windows, and the VRAM table printed as
//! they go.
//!
//! Headless, every output shows the same area, so every window lands on every GPU. When the last
//! client is gone the demo checks that the ledger is back to zero and exits non-zero if it is not.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::backend::headless::{Headless, HeadlessOptions, Layout};
use crate::backend::winit::{Nested, WinitOptions};
use crate::backend::Backend;
use crate::server::Server;

/// Clients the demo starts, in turn; the ones that are installed are used.
const DEMO_CLIENTS: [&str; 2] = ["weston-simple-shm", "weston-simple-egl"];

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of software GPUs.
    #[arg(long, default_value_t = 2)]
    gpus: usize,
    /// How long clients keep opening and closing windows, in seconds.
    #[arg(long, default_value_t = 12.0)]
    duration: f64,
    /// Most clients alive at once.
    #[arg(long, default_value_t = 3)]
    concurrent: usize,
    /// Write each output as output-N.png into this directory.
    #[arg(long, value_name = "DIR")]
    screenshot_dir: Option<PathBuf>,
}

fn find_in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

pub fn run(args: DemoArgs) -> Result<ExitCode, String> {
    let clients: Vec<&str> = DEMO_CLIENTS
        .into_iter()
        .filter(|c| find_in_path(c))
        .collect();
    if clients.is_empty() {
        return Err(format!(
            "none of the demo clients ({}) is installed: run `just deps` (Debian package weston)",
            DEMO_CLIENTS.join(", ")
        ));
    }
    let _runtime = crate::server::ensure_runtime_dir()?;
    if let Some(dir) = &args.screenshot_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let nested = crate::resolve_backend(crate::BackendKind::Auto) == crate::BackendKind::Winit;
    let mut backend: Box<dyn Backend> = if nested {
        Box::new(
            Nested::start(&WinitOptions {
                gpus: args.gpus,
                terminal: Vec::new(),
            })
            .map_err(|e| e.to_string())?,
        )
    } else {
        Box::new(
            Headless::start(&HeadlessOptions {
                gpus: args.gpus,
                outputs: Vec::new(),
                layout: Layout::Mirror,
                refresh_hz: 60,
                screenshot_dir: args.screenshot_dir.clone(),
                terminal: Vec::new(),
                foreign_dmabuf_imports: true,
                textures: crate::backend::headless::TextureMode::Tandem,
            })
            .map_err(|e| e.to_string())?,
        )
    };
    println!(
        "demo: {} compositor on {} software GPUs, socket {}; clients: {}",
        if nested {
            "nested (winit)"
        } else {
            "headless (outputs mirrored, every window on every GPU)"
        },
        args.gpus,
        backend.server().socket_name(),
        clients.join(", ")
    );

    let start = Instant::now();
    let duration = Duration::from_secs_f64(args.duration);
    let mut running: Vec<Child> = Vec::new();
    let mut spawned = 0usize;
    let mut next_spawn = start;
    let mut next_table = start + Duration::from_secs(2);
    backend.run_until(&mut |server| {
        let now = Instant::now();
        running.retain_mut(|child| !matches!(child.try_wait(), Ok(Some(_))));
        if now < start + duration && now >= next_spawn {
            if running.len() >= args.concurrent {
                let mut oldest = running.remove(0);
                let _ = oldest.kill();
                let _ = oldest.wait();
            }
            let program = clients[spawned % clients.len()];
            match spawn(server, program) {
                Ok(child) => running.push(child),
                Err(err) => eprintln!("demo: {err}"),
            }
            spawned += 1;
            next_spawn = now + Duration::from_millis(1500);
        }
        if now >= next_table {
            print_table(server, now - start);
            next_table = now + Duration::from_secs(2);
        }
        if now >= start + duration {
            for mut child in running.drain(..) {
                let _ = child.kill();
                let _ = child.wait();
            }
            return server.state.space.elements().len() == 0
                || now >= start + duration + Duration::from_secs(5);
        }
        false
    });
    // A few more frames so that every freed texture goes through cleanup.
    for _ in 0..3 {
        backend.frame();
    }
    backend.screenshot_all();
    print_table(backend.server(), start.elapsed());
    let retained = backend
        .server()
        .state
        .gpus
        .ledger()
        .snapshot()
        .total
        .bytes();
    println!(
        "demo: {spawned} clients started; bytes retained after all clients exited: {retained}"
    );
    Ok(if retained == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn spawn(server: &Server, program: &str) -> Result<Child, String> {
    let mut command = Command::new(program);
    command
        .env("WAYLAND_DISPLAY", server.socket_name())
        .env("TANDEM_SOCKET", &server.ipc_path)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
        .spawn()
        .map_err(|e| format!("could not start {program}: {e}"))
}

fn print_table(server: &mut Server, elapsed: Duration) {
    let report = crate::vram::report(&server.state);
    println!("\n--- t={:.1}s ---", elapsed.as_secs_f64());
    println!("{}", crate::vram::table(&report));
}
