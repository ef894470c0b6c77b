//! tandem-compositor as a library: the compositor's parts, for its own binary (`main.rs`: the
//! command line) and for embedders that drive it from another program (the WLCS conformance
//! integration in `wlcs/`).
//!
//! `server` owns the Wayland display and the event loop, `state` what the compositor knows of
//! clients, windows and outputs (`clients`: what it keeps per client) (`output_registry`: every output and its GPUs), `backend` what
//! drives the outputs (tty, winit, headless), `render` how an output's frame is drawn through
//! Tandem. The handlers that change the state live by concern: `protocols` (one file per
//! protocol that is not a shell), `shell` (xdg, layer and X11 windows), `input` (the seat and
//! the key bindings), `gpu` (sockets, per-GPU services, parking, the VRAM report), `capture`
//! (screencopy and screenshots), `screens` (outputs off and on, the idle timeout), `ipc`
//! (`tandem-compositor msg`), and `measure` (stress test, copy costs, frame overhead, the
//! allocation counter).

pub mod backend;
pub mod capture;
pub mod children;
pub mod clients;
pub mod config;
pub mod demo;
pub mod gpu;
pub mod input;
pub mod ipc;
pub mod logging;
pub mod measure;
pub mod monitor;
pub mod output_registry;
pub mod protocols;
pub mod render;
pub mod runtime_dir;
pub mod screens;
pub mod screenshot;
pub mod server;
pub mod shell;
pub mod state;

use clap::ValueEnum;

/// Which backend drives the outputs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BackendKind {
    /// winit if DISPLAY or WAYLAND_DISPLAY is set, tty if started on a VT, else headless
    Auto,
    /// DRM/KMS on every GPU udev finds (see --dry-run)
    Tty,
    /// a window on the current display
    Winit,
    /// offscreen outputs on software GPUs
    Headless,
}

/// Software GPUs the compositor may be asked for: at least one, at most 16.
pub fn parse_gpu_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=16) => Ok(n),
        Ok(_) => Err("between 1 and 16 GPUs".into()),
        Err(_) => Err(format!("not a number: {text:?}")),
    }
}

/// The backend `auto` stands for here.
pub fn resolve_backend(kind: BackendKind) -> BackendKind {
    if kind != BackendKind::Auto {
        return kind;
    }
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if has_display {
        return BackendKind::Winit;
    }
    let on_vt = std::fs::read_link("/proc/self/fd/0")
        .ok()
        .and_then(|p| p.to_str().map(str::to_owned))
        .is_some_and(|p| {
            p.strip_prefix("/dev/tty")
                .is_some_and(|n| n.parse::<u32>().is_ok())
        });
    if on_vt {
        BackendKind::Tty
    } else {
        BackendKind::Headless
    }
}
