//! The VRAM report (per GPU by kind, per window per GPU) built from a ledger snapshot, and the
//! tables `msg` and the demo print.

use std::collections::BTreeMap;
use std::fmt::Write;

use smithay::desktop::PopupManager;
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::compositor::{with_surface_tree_downward, TraversalAction};
use tandem::MemoryKind;

use crate::ipc::messages::{
    Amount, ClientVram, CompositorVram, GpuVram, GpusReply, OutputsReply, VramReport, WindowVram,
    WindowsReply,
};
use crate::state::State;

pub fn report(state: &State) -> VramReport {
    let snapshot = state.gpus.ledger().snapshot();
    let gpu_ids = state.gpus.gpu_ids();
    let gpus = gpu_ids
        .iter()
        .map(|id| {
            let usage = snapshot.gpu(*id);
            let kinds = MemoryKind::ALL
                .iter()
                .map(|kind| {
                    let amount = usage.kind(*kind);
                    (
                        kind.name().to_string(),
                        Amount {
                            bytes: amount.bytes,
                            objects: amount.objects,
                        },
                    )
                })
                .collect();
            GpuVram {
                id: id.to_string(),
                bytes: usage.bytes(),
                objects: usage.objects(),
                kinds,
            }
        })
        .collect();
    let windows = state
        .space
        .elements()
        .map(|window| {
            let identity = crate::shell::window::identity(state, window);
            let surfaces = crate::shell::window::main_surface(state.xwayland.as_ref(), window)
                .map(|surface| window_surfaces(&surface))
                .unwrap_or_default();
            let per_gpu: BTreeMap<String, u64> = gpu_ids
                .iter()
                .map(|gpu| {
                    let bytes = surfaces
                        .iter()
                        .map(|id| snapshot.surface_on(id, *gpu).bytes())
                        .sum();
                    (gpu.to_string(), bytes)
                })
                .collect();
            WindowVram {
                shell: identity.shell.to_owned(),
                app_id: identity.app_id,
                title: identity.title,
                pid: identity.pid,
                bytes: surfaces.iter().map(|id| snapshot.surface(id).bytes()).sum(),
                gpus: per_gpu,
            }
        })
        .collect();
    let backend = state.display.backend_handle();
    let mut clients: Vec<ClientVram> = snapshot
        .clients
        .iter()
        .filter(|(_, usage)| usage.bytes() > 0)
        .map(|(client, usage)| ClientVram {
            pid: backend
                .get_client_credentials(client.clone())
                .ok()
                .map(|credentials| credentials.pid),
            bytes: usage.bytes(),
            kinds: kinds_held(usage),
        })
        .collect();
    clients.sort_by_key(|client| client.pid);
    VramReport {
        gpus,
        windows,
        total_bytes: snapshot.total.bytes(),
        client_bytes: snapshot
            .surfaces
            .values()
            .map(|usage| usage.bytes())
            .sum::<u64>()
            + snapshot.total.kind(MemoryKind::CaptureBuffer).bytes,
        clients,
        compositor: snapshot
            .compositor
            .iter()
            .map(|usage| CompositorVram {
                gpu: usage.gpu.to_string(),
                purpose: usage.purpose.clone(),
                bytes: usage.amount.bytes,
                objects: usage.amount.objects,
            })
            .collect(),
    }
}

/// The kinds `usage` holds something of, by name.
fn kinds_held(usage: &tandem::Usage) -> BTreeMap<String, Amount> {
    MemoryKind::ALL
        .iter()
        .map(|kind| (kind, usage.kind(*kind)))
        .filter(|(_, amount)| amount.objects > 0)
        .map(|(kind, amount)| {
            (
                kind.name().to_string(),
                Amount {
                    bytes: amount.bytes,
                    objects: amount.objects,
                },
            )
        })
        .collect()
}

/// Every surface that belongs to a window: its subsurfaces and popups too.
fn window_surfaces(root: &WlSurface) -> Vec<ObjectId> {
    let mut ids = Vec::new();
    let mut collect = |surface: &WlSurface| {
        with_surface_tree_downward(
            surface,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |surface, _, _| ids.push(surface.id()),
            |_, _, _| true,
        );
    };
    collect(root);
    for (popup, _) in PopupManager::popups_for_surface(root) {
        collect(popup.wl_surface());
    }
    ids
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The human VRAM table, like nvtop's process list but per window.
pub fn table(report: &VramReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>8}  by kind",
        "GPU", "bytes", "objects"
    );
    for gpu in &report.gpus {
        let kinds: Vec<String> = gpu
            .kinds
            .iter()
            .filter(|(_, amount)| amount.objects > 0)
            .map(|(kind, amount)| format!("{kind}={}/{}", mib(amount.bytes), amount.objects))
            .collect();
        let _ = writeln!(
            out,
            "{:<10} {:>12} {:>8}  {}",
            gpu.id,
            mib(gpu.bytes),
            gpu.objects,
            kinds.join(" ")
        );
    }
    let app_width = column_width(
        "window (app_id)",
        report.windows.iter().map(|w| w.app_id.as_str()),
    );
    let _ = write!(
        out,
        "\n{:<app_width$} {:<8} {:<20} {:>8} {:>12}",
        "window (app_id)", "shell", "title", "pid", "total"
    );
    for gpu in &report.gpus {
        let _ = write!(out, " {:>12}", gpu.id);
    }
    let _ = writeln!(out);
    for window in &report.windows {
        let pid = window
            .pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            out,
            "{:<app_width$.app_width$} {:<8} {:<20.20} {:>8} {:>12}",
            window.app_id,
            window.shell,
            window.title,
            pid,
            mib(window.bytes)
        );
        for gpu in &report.gpus {
            let bytes = window.gpus.get(&gpu.id).copied().unwrap_or(0);
            let _ = write!(out, " {:>12}", mib(bytes));
        }
        let _ = writeln!(out);
    }
    if !report.compositor.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<10} {:<40} {:>12} {:>8}",
            "GPU", "compositor's own", "bytes", "objects"
        );
        for own in &report.compositor {
            let _ = writeln!(
                out,
                "{:<10} {:<40} {:>12} {:>8}",
                own.gpu,
                own.purpose,
                mib(own.bytes),
                own.objects
            );
        }
    }
    if !report.clients.is_empty() {
        let _ = writeln!(out, "\n{:<10} {:>12}  by kind", "client pid", "bytes");
        for client in &report.clients {
            let pid = client.pid.map_or_else(|| "-".into(), |pid| pid.to_string());
            let kinds: Vec<String> = client
                .kinds
                .iter()
                .map(|(kind, amount)| format!("{kind}={}/{}", mib(amount.bytes), amount.objects))
                .collect();
            let _ = writeln!(
                out,
                "{pid:<10} {:>12}  {}",
                mib(client.bytes),
                kinds.join(" ")
            );
        }
    }
    let _ = write!(
        out,
        "total: {} ({} bytes); clients: {} bytes; the compositor's own: {} bytes",
        mib(report.total_bytes),
        report.total_bytes,
        report.client_bytes,
        report.total_bytes.saturating_sub(report.client_bytes)
    );
    out
}

/// Widest app id cell: app ids are shown whole (reverse-DNS names run long) up to this many
/// characters, since a client chooses them.
const APP_ID_MAX_WIDTH: usize = 96;

/// A column as wide as its header and its widest value, at most [`APP_ID_MAX_WIDTH`].
fn column_width<'a>(header: &str, values: impl Iterator<Item = &'a str>) -> usize {
    values
        .map(|v| v.chars().count())
        .fold(header.len(), usize::max)
        .min(APP_ID_MAX_WIDTH)
}

pub fn windows_table(reply: &WindowsReply) -> String {
    let app_width = column_width("app_id", reply.windows.iter().map(|w| w.app_id.as_str()));
    let mut out = format!(
        "{:<app_width$} {:<8} {:<24} {:>8} {:>14} {:>11}\n",
        "app_id", "shell", "title", "pid", "position", "size"
    );
    for w in &reply.windows {
        let pid = w.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<app_width$.app_width$} {:<8} {:<24.24} {:>8} {:>14} {:>11}",
            w.app_id,
            w.shell,
            w.title,
            pid,
            format!("{},{}", w.x, w.y),
            format!("{}x{}", w.width, w.height)
        );
    }
    out
}

pub fn outputs_table(reply: &OutputsReply) -> String {
    let mut out = format!(
        "{:<12} {:>14} {:>11} {:>9} {:<12} {:<12} {:>8} {:>9} {:<6}\n",
        "output",
        "position",
        "size",
        "Hz",
        "render GPU",
        "shown by",
        "frames",
        "captured",
        "screen"
    );
    for o in &reply.outputs {
        let _ = writeln!(
            out,
            "{:<12} {:>14} {:>11} {:>9.2} {:<12} {:<12} {:>8} {:>9} {:<6}",
            o.name,
            format!("{},{}", o.x, o.y),
            format!("{}x{}", o.width, o.height),
            o.refresh_mhz as f64 / 1000.0,
            o.render_gpu,
            o.target_gpu,
            o.frames,
            o.captured_frames,
            if o.powered { "on" } else { "off" }
        );
    }
    out
}

pub fn gpus_table(reply: &GpusReply) -> String {
    let mut out = format!(
        "{:<10} {:<9} {:<16} {:<8} {:<8} outputs\n",
        "GPU", "kind", "socket", "imports", "exports"
    );
    for g in &reply.gpus {
        let _ = writeln!(
            out,
            "{:<10} {:<9} {:<16} {:<8} {:<8} {}",
            g.id,
            g.kind,
            g.socket.as_deref().unwrap_or("-"),
            g.imports_foreign_dmabufs,
            g.exports_dmabufs,
            g.outputs.join(",")
        );
    }
    for g in &reply.gpus {
        if g.parked {
            let _ = writeln!(out, "{}: parked (no EGL context, no device fd)", g.id);
        } else {
            let _ = writeln!(
                out,
                "{}: {} through its {}",
                g.id, g.renderer, g.draws_through
            );
        }
        if let Some(reason) = &g.lost {
            let _ = writeln!(out, "  LOST: {reason} (nothing is drawn through it)");
        }
        for failure in &g.path_failures {
            let _ = writeln!(out, "  held off: {failure}");
        }
        for cost in &g.copy_costs {
            let _ = writeln!(out, "  copy cost: {cost}");
        }
        if !g.offered_formats.is_empty() {
            let _ = writeln!(out, "  offered to clients: {}", g.offered_formats.join(" "));
        }
        for refused in &g.refused_formats {
            let _ = writeln!(out, "  not offered: {refused}");
        }
        if !g.mapped_reads.is_empty() {
            let _ = writeln!(out, "  mapped reads: {}", g.mapped_reads);
        }
        if let Some(ms) = g.last_wake_ms {
            let _ = writeln!(out, "  last woken from parking in {ms:.1} ms");
        }
        for feed in &g.feeds {
            let _ = writeln!(out, "  {}: {} ({})", feed.output, feed.how, feed.why);
        }
    }
    for line in &reply.sync {
        let _ = writeln!(out, "{line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::windows_table;
    use crate::ipc::messages::{WindowInfo, WindowsReply};

    fn window(app_id: &str) -> WindowInfo {
        WindowInfo {
            shell: "xdg".into(),
            app_id: app_id.into(),
            title: "t".into(),
            pid: Some(7),
            x: 0,
            y: 0,
            width: 250,
            height: 250,
            focused: false,
            content_type: "none".into(),
            presentation: "vsync".into(),
            parent: None,
        }
    }

    #[test]
    fn app_ids_are_shown_whole_and_bounded() {
        let weston = "org.freedesktop.weston.simple-shm";
        let table = windows_table(&WindowsReply {
            windows: vec![window(weston), window("foot")],
        });
        assert!(table.contains(&format!("{weston} ")), "{table}");
        let hostile = "x".repeat(10_000);
        let table = windows_table(&WindowsReply {
            windows: vec![window(&hostile)],
        });
        assert!(table.lines().all(|line| line.len() < 200), "{table}");
    }
}
