//! Backends: what drives the outputs. `headless` renders offscreen on software GPUs, `winit`
//! shows the compositor in a window on another display, `tty` plans (and on real hardware runs)
//! DRM/KMS outputs on every GPU udev finds.

pub mod headless;
pub mod tty;
pub mod winit;

use crate::server::Server;

/// What every backend offers to `main` and the demo.
pub trait Backend {
    fn server(&mut self) -> &mut Server;

    /// Runs the event loop and frames until `stop` says so or the compositor is asked to quit.
    fn run_until(&mut self, stop: &mut dyn FnMut(&mut Server) -> bool);

    /// Renders every output once and frees deferred GL deletes.
    fn frame(&mut self);

    /// Writes every output as a PNG where the backend has been asked to.
    fn screenshot_all(&mut self);

    /// Writes no more screenshots from now on (the demo keeps the last one that showed clients).
    fn stop_screenshots(&mut self) {}
}
