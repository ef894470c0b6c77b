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

/// Clients the demo starts, in turn; the ones that are installed are used. On software GPUs
/// both commit wl_shm buffers (Mesa's EGL falls back to shm on llvmpipe).
const DEMO_CLIENTS: [&str; 2] = ["weston-simple-shm", "weston-simple-egl"];

/// One client the demo can start.
#[derive(Debug, Clone)]
struct DemoClient {
    program: PathBuf,
    args: Vec<String>,
    /// Socket suffix (`-gpuN`), empty for the main socket.
    socket_suffix: String,
    label: String,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of software GPUs, 1 to 16.
    #[arg(long, default_value_t = 2, value_parser = crate::parse_gpu_count)]
    gpus: usize,
    /// How long clients keep opening and closing windows, in seconds.
    #[arg(long, default_value_t = 12.0)]
    duration: f64,
    /// Most clients alive at once.
    #[arg(long, default_value_t = 3)]
    concurrent: usize,
    /// Write each output as output-N.png into this directory (the last picture is taken while
    /// the last clients are still shown).
    #[arg(long, value_name = "DIR")]
    screenshot_dir: Option<PathBuf>,
    /// Also start tandem-test-client windows whose memfd dmabufs live on the last GPU, which no
    /// other GPU may import: the table then shows shadow buffers, the cross-GPU copy path.
    #[arg(long)]
    dmabuf: bool,
}

fn find_in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The clients to rotate through: weston's demos, and with `--dmabuf` the test client on the
/// last GPU's socket.
fn demo_clients(args: &DemoArgs) -> Result<Vec<DemoClient>, String> {
    let mut clients: Vec<DemoClient> = DEMO_CLIENTS
        .into_iter()
        .filter(|c| find_in_path(c))
        .map(|c| DemoClient {
            program: PathBuf::from(c),
            args: Vec::new(),
            socket_suffix: String::new(),
            label: c.to_string(),
        })
        .collect();
    if clients.is_empty() {
        return Err(format!(
            "none of the demo clients ({}) is installed: run `just deps` (Debian package weston)",
            DEMO_CLIENTS.join(", ")
        ));
    }
    if args.dmabuf {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let program = exe.with_file_name("tandem-test-client");
        if !program.is_file() {
            return Err(format!(
                "{} is missing: build it with `just build`",
                program.display()
            ));
        }
        let gpu = args.gpus - 1;
        let test_client = |colour: &str| DemoClient {
            program: program.clone(),
            args: [
                "--buffers",
                "dmabuf",
                "--size",
                "320x200",
                "--frames",
                "100000",
            ]
            .into_iter()
            .map(str::to_owned)
            .chain(["--colour".into(), colour.into()])
            .collect(),
            socket_suffix: format!("-gpu{gpu}"),
            label: format!("tandem-test-client (dmabuf on GPU {gpu})"),
        };
        // Every other client is a dmabuf one.
        let mut mixed = Vec::new();
        for (index, client) in clients.into_iter().enumerate() {
            mixed.push(client);
            mixed.push(test_client(["ffe05020", "ff20a060"][index % 2]));
        }
        clients = mixed;
    }
    Ok(clients)
}

pub fn run(args: DemoArgs) -> Result<ExitCode, String> {
    let clients = demo_clients(&args)?;
    let _runtime = crate::runtime_dir::Private::ensure()?;
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
                foreign_dmabuf_imports: !args.dmabuf,
                render_gpu: None,
                textures: crate::backend::headless::TextureMode::Tandem,
                drm_devices: Vec::new(),
            })
            .map_err(|e| e.to_string())?,
        )
    };
    let server = backend.server();
    let gpu_count = server.state.gpus.gpu_ids().len();
    let output_count = server.state.outputs.len();
    println!(
        "demo: {} compositor, {gpu_count} software GPU{}, {output_count} output{}; socket {}; \
         clients: {}",
        if nested {
            "nested (winit)"
        } else {
            "headless (outputs mirrored: every window on every GPU)"
        },
        if gpu_count == 1 { "" } else { "s" },
        if output_count == 1 { "" } else { "s" },
        server.socket_name(),
        clients
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
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
        if now >= next_spawn {
            if running.len() >= args.concurrent {
                let mut oldest = running.remove(0);
                let _ = oldest.kill();
                let _ = oldest.wait();
            }
            match spawn(server, &clients[spawned % clients.len()]) {
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
        now >= start + duration
    });
    // The last picture shows the clients; what follows is their windows going away.
    backend.screenshot_all();
    backend.stop_screenshots();
    for mut child in running.drain(..) {
        let _ = child.kill();
        let _ = child.wait();
    }
    let closing = Instant::now();
    backend.run_until(&mut |server| {
        server.state.space.elements().len() == 0 || closing.elapsed() > Duration::from_secs(5)
    });
    // A few more frames so that every freed texture goes through cleanup.
    for _ in 0..3 {
        backend.frame();
    }
    println!("\n=== after all clients exited ===");
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
    if let Some(dir) = &args.screenshot_dir {
        println!(
            "demo: screenshots of the outputs with the last clients shown: {}",
            dir.display()
        );
    }
    Ok(if retained == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn spawn(server: &Server, client: &DemoClient) -> Result<Child, String> {
    let mut command = Command::new(&client.program);
    command
        .args(&client.args)
        .env(
            "WAYLAND_DISPLAY",
            format!("{}{}", server.socket_name(), client.socket_suffix),
        )
        .env("TANDEM_SOCKET", &server.ipc_path)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", client.label))
}

fn print_table(server: &mut Server, elapsed: Duration) {
    let report = crate::gpu::vram::report(&server.state);
    println!("\n--- t={:.1}s ---", elapsed.as_secs_f64());
    println!("{}", crate::gpu::vram::table(&report));
}
