//! Log output: what a person sees at the default level, and how `RUST_LOG` opens it up.
//!
//! `main` calls [`init`] once. Without `RUST_LOG` the compositor logs its own steps at info and
//! only warnings from smithay (whose info level lists every EGL and GL extension, kilobytes
//! per GPU); the demo, whose stdout is a report, logs warnings only. `RUST_LOG` replaces the
//! default entirely (`RUST_LOG=debug` shows everything). Colours only go to a terminal, and
//! never when `NO_COLOR` is set.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset.
pub fn default_filter(report: bool) -> &'static str {
    if report {
        "warn,smithay=error"
    } else {
        // smithay warns for every render node that it cannot become DRM master of it, which
        // no render node can be.
        "info,smithay=warn,smithay::backend::drm::device::fd=error"
    }
}

/// Installs the global subscriber unless one is installed already; `report` is true for
/// commands whose stdout is a report.
pub fn init(report: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(report)));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _already_installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}
