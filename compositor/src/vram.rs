//! The VRAM table: per GPU by kind, and per window per GPU, from a ledger snapshot.

use std::fmt::Write;

use smithay::reexports::wayland_server::Resource;
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::XdgToplevelSurfaceData;
use tandem::{LedgerSnapshot, MemoryKind};

use crate::state::State;

/// A window's identity as shown in tables.
pub struct WindowInfo {
    pub app_id: String,
    pub title: String,
    pub pid: Option<i32>,
}

pub fn window_info(
    state: &State,
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
) -> WindowInfo {
    let (app_id, title) = with_states(surface, |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|data| {
                data.lock()
                    .ok()
                    .map(|d| (d.app_id.clone(), d.title.clone()))
            })
            .unwrap_or_default()
    });
    let pid = surface
        .client()
        .and_then(|client| client.get_credentials(&state.display).ok())
        .map(|credentials| credentials.pid);
    WindowInfo {
        app_id: app_id.unwrap_or_default(),
        title: title.unwrap_or_default(),
        pid,
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Renders the human table.
pub fn table(state: &State, snapshot: &LedgerSnapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>8}  by kind",
        "GPU", "bytes", "objects"
    );
    for (gpu, usage) in &snapshot.gpus {
        let kinds: Vec<String> = MemoryKind::ALL
            .iter()
            .filter(|kind| usage.kind(**kind).objects > 0)
            .map(|kind| format!("{}={}", kind.name(), mib(usage.kind(*kind).bytes)))
            .collect();
        let _ = writeln!(
            out,
            "{:<10} {:>12} {:>8}  {}",
            gpu.to_string(),
            mib(usage.bytes()),
            usage.objects(),
            kinds.join(" ")
        );
    }
    let gpus: Vec<_> = state.gpus.gpu_ids();
    let _ = write!(
        out,
        "{:<24} {:<20} {:>8}",
        "window (app_id)", "title", "pid"
    );
    for gpu in &gpus {
        let _ = write!(out, " {:>12}", gpu.to_string());
    }
    let _ = writeln!(out);
    for window in &state.windows {
        let surface = window.toplevel.wl_surface();
        let info = window_info(state, surface);
        let pid = info
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            out,
            "{:<24.24} {:<20.20} {:>8}",
            info.app_id, info.title, pid
        );
        for gpu in &gpus {
            let _ = write!(
                out,
                " {:>12}",
                mib(snapshot.surface_on(&surface.id(), *gpu).bytes())
            );
        }
        let _ = writeln!(out);
    }
    let _ = write!(
        out,
        "total: {} in {} objects",
        mib(snapshot.total.bytes()),
        snapshot.total.objects()
    );
    out
}
