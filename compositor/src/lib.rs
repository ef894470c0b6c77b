//! tandem-compositor as a library: the compositor's parts, for its own binary (`main.rs`: the
//! command line) and for embedders that drive it from another program (the WLCS conformance
//! integration in `wlcs/`).
//!
//! `server` owns the Wayland display and the per-GPU sockets, `state` what the compositor knows
//! of clients, windows and outputs, `backend` what drives the outputs, `input` the seat.

pub mod allocation_counter;
pub mod backend;
pub mod buffer_readiness;
pub mod buffer_release;
pub mod children;
pub mod client_geometry;
pub mod copy_costs;
pub mod cursor;
pub mod demo;
pub mod explicit_sync;
pub mod frame_overhead;
pub mod gpu_service;
pub mod input;
pub mod interactive;
pub mod ipc;
pub mod layer_keyboard;
pub mod layer_layout;
pub mod layers;
pub mod logging;
pub mod parking;
pub mod pointer_constraints;
pub mod popup_grab;
pub mod popup_placement;
pub mod primary_selection;
pub mod render;
pub mod request_guards;
pub mod runtime_dir;
pub mod screenshot;
pub mod server;
pub mod state;
pub mod stress;
pub mod subsurface_position;
pub mod toplevel_states;
pub mod vram;
pub mod window;
pub mod xwayland;

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
