//! The TTY plan: every GPU udev finds, their connectors, and which GPU renders.
//!
//! The primary render GPU is `TANDEM_RENDER_GPU` if set, else the GPU with a built-in panel,
//! else the boot VGA device, else the first one. Outputs on other GPUs are rendered on the
//! primary and copied with Tandem's output path. `--dry-run` prints that plan and exits.

use std::fmt::Write;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use smithay::reexports::drm::control::{connector, Device as ControlDevice};
use smithay::reexports::drm::Device;

/// What the plan needs to know about one GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuCandidate {
    pub path: PathBuf,
    pub driver: Option<String>,
    pub boot_vga: bool,
    pub connectors: Vec<ConnectorInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorInfo {
    pub name: String,
    pub connected: bool,
    pub builtin_panel: bool,
}

impl GpuCandidate {
    fn has_builtin_panel(&self) -> bool {
        self.connectors.iter().any(|c| c.builtin_panel)
    }
}

/// Why a GPU was chosen to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Override,
    BuiltinPanel,
    BootVga,
    First,
    /// The first choice draws only with Mesa's CPU rasterizer (a display-only device); this
    /// one renders in hardware.
    RendersInHardware,
}

/// Picks the primary render GPU (see the module docs). `render_override` is
/// `TANDEM_RENDER_GPU`: a device path or its file name (`card1`, `renderD129`).
pub fn choose_render_gpu(
    candidates: &[GpuCandidate],
    render_override: Option<&str>,
) -> Option<(usize, Reason)> {
    if let Some(wanted) = render_override.filter(|w| !w.is_empty()) {
        let matches = |c: &GpuCandidate| {
            c.path == Path::new(wanted) || c.path.file_name().is_some_and(|n| n == wanted)
        };
        if let Some(index) = candidates.iter().position(matches) {
            return Some((index, Reason::Override));
        }
        tracing::warn!(wanted, "TANDEM_RENDER_GPU names no GPU found; choosing one");
    }
    if let Some(index) = candidates.iter().position(GpuCandidate::has_builtin_panel) {
        return Some((index, Reason::BuiltinPanel));
    }
    if let Some(index) = candidates.iter().position(|c| c.boot_vga) {
        return Some((index, Reason::BootVga));
    }
    (!candidates.is_empty()).then_some((0, Reason::First))
}

/// Once the GPUs are open: a display-only first choice (`renders_on_cpu`) gives way to the
/// first GPU that renders in hardware, unless the user named it.
pub fn prefer_hardware(chosen: (usize, Reason), renders_on_cpu: &[bool]) -> (usize, Reason) {
    let (index, reason) = chosen;
    if reason == Reason::Override || !renders_on_cpu.get(index).copied().unwrap_or(false) {
        return chosen;
    }
    match renders_on_cpu.iter().position(|on_cpu| !on_cpu) {
        Some(hardware) => (hardware, Reason::RendersInHardware),
        None => chosen,
    }
}

struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Device for Card {}
impl ControlDevice for Card {}

fn connectors(path: &Path) -> Vec<ConnectorInfo> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let card = Card(file);
    let Ok(resources) = card.resource_handles() else {
        return Vec::new();
    };
    resources
        .connectors()
        .iter()
        .filter_map(|handle| card.get_connector(*handle, false).ok())
        .map(|info| {
            let interface = info.interface();
            ConnectorInfo {
                name: format!("{}-{}", interface.as_str(), info.interface_id()),
                connected: info.state() == connector::State::Connected,
                builtin_panel: matches!(
                    interface,
                    connector::Interface::EmbeddedDisplayPort
                        | connector::Interface::LVDS
                        | connector::Interface::DSI
                ),
            }
        })
        .collect()
}

fn boot_vga(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    let flag = Path::new("/sys/class/drm")
        .join(name)
        .join("device/boot_vga");
    std::fs::read_to_string(flag).is_ok_and(|v| v.trim() == "1")
}

/// The kernel driver of a DRM device (`i915`, `amdgpu`, `nvidia-drm`, ...).
pub fn driver_of(path: &Path) -> Option<String> {
    let name = path.file_name()?;
    let link =
        std::fs::read_link(Path::new("/sys/class/drm").join(name).join("device/driver")).ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// Every GPU of `seat` that udev knows, with its connectors.
pub fn discover(seat: &str) -> Result<Vec<GpuCandidate>, String> {
    let paths = smithay::backend::udev::all_gpus(seat).map_err(|e| format!("udev: {e}"))?;
    Ok(paths
        .into_iter()
        .map(|path| GpuCandidate {
            driver: driver_of(&path),
            boot_vga: boot_vga(&path),
            connectors: connectors(&path),
            path,
        })
        .collect())
}

/// The plan, as `--dry-run` prints it.
pub fn plan(candidates: &[GpuCandidate], render_override: Option<&str>) -> String {
    let mut out = String::new();
    let Some((primary, reason)) = choose_render_gpu(candidates, render_override) else {
        let _ = writeln!(
            out,
            "tty plan: no GPU found (no DRM device under /dev/dri for this seat); nothing to drive.\n\
             On a machine without GPUs use --backend headless."
        );
        return out;
    };
    let _ = writeln!(out, "tty plan: {} GPU(s)", candidates.len());
    for (index, gpu) in candidates.iter().enumerate() {
        let role = if index == primary {
            format!("primary render GPU ({reason:?})")
        } else {
            "outputs rendered on the primary, copied by Tandem's output path".into()
        };
        let _ = writeln!(
            out,
            "  {} [{}] boot_vga={}: {role}",
            gpu.path.display(),
            gpu.driver.as_deref().unwrap_or("unknown driver"),
            gpu.boot_vga
        );
        for connector in &gpu.connectors {
            let _ = writeln!(
                out,
                "    {} {}{}",
                connector.name,
                if connector.connected {
                    "connected"
                } else {
                    "disconnected"
                },
                if connector.builtin_panel {
                    " (built-in panel)"
                } else {
                    ""
                }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(name: &str, boot_vga: bool, panel: bool) -> GpuCandidate {
        GpuCandidate {
            path: PathBuf::from(format!("/dev/dri/{name}")),
            driver: None,
            boot_vga,
            connectors: vec![ConnectorInfo {
                name: if panel {
                    "eDP-1".into()
                } else {
                    "HDMI-A-1".into()
                },
                connected: true,
                builtin_panel: panel,
            }],
        }
    }

    #[test]
    fn override_wins_by_path_or_name() {
        let gpus = [gpu("card0", true, true), gpu("card1", false, false)];
        assert_eq!(
            choose_render_gpu(&gpus, Some("card1")),
            Some((1, Reason::Override))
        );
        assert_eq!(
            choose_render_gpu(&gpus, Some("/dev/dri/card1")),
            Some((1, Reason::Override))
        );
    }

    #[test]
    fn unknown_override_falls_back() {
        let gpus = [gpu("card0", false, false), gpu("card1", true, false)];
        assert_eq!(
            choose_render_gpu(&gpus, Some("card9")),
            Some((1, Reason::BootVga))
        );
    }

    #[test]
    fn builtin_panel_beats_boot_vga() {
        let gpus = [gpu("card0", true, false), gpu("card1", false, true)];
        assert_eq!(
            choose_render_gpu(&gpus, None),
            Some((1, Reason::BuiltinPanel))
        );
    }

    #[test]
    fn boot_vga_beats_order_and_first_is_last_resort() {
        let gpus = [gpu("card0", false, false), gpu("card1", true, false)];
        assert_eq!(choose_render_gpu(&gpus, None), Some((1, Reason::BootVga)));
        let plain = [gpu("card0", false, false), gpu("card1", false, false)];
        assert_eq!(choose_render_gpu(&plain, None), Some((0, Reason::First)));
        assert_eq!(choose_render_gpu(&[], None), None);
    }

    #[test]
    fn a_display_only_choice_gives_way_to_a_hardware_renderer() {
        assert_eq!(
            prefer_hardware((0, Reason::BootVga), &[true, false]),
            (1, Reason::RendersInHardware)
        );
        assert_eq!(
            prefer_hardware((0, Reason::Override), &[true, false]),
            (0, Reason::Override)
        );
        assert_eq!(
            prefer_hardware((1, Reason::First), &[true, true]),
            (1, Reason::First)
        );
        assert_eq!(
            prefer_hardware((0, Reason::First), &[false, false]),
            (0, Reason::First)
        );
    }

    #[test]
    fn plan_says_when_nothing_was_found() {
        assert!(plan(&[], None).contains("no GPU found"));
        let text = plan(&[gpu("card0", true, true)], None);
        assert!(text.contains("primary render GPU (BuiltinPanel)") && text.contains("eDP-1"));
    }
}
