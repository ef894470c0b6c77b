//! Backends: what drives the outputs. `headless` renders offscreen on software GPUs (or on DRM
//! devices, `drm_gpus`, with Tandem or smithay's own multi-GPU renderer, `smithay_multigpu`), `winit`
//! shows the compositor in a window on another display, `tty` plans (and on real hardware runs)
//! DRM/KMS outputs on every GPU udev finds.

pub mod drm_gpus;
pub mod headless;
pub mod smithay_multigpu;
pub mod tty;
pub mod winit;

use crate::ipc::messages::{Reply, Request};
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

    /// Answers an IPC request that needs the backend (`Request::is_for_backend`).
    fn apply(&mut self, request: &Request) -> Reply {
        let _ = request;
        Reply::Error {
            message: "virtual outputs are added and removed on --backend headless only".into(),
        }
    }

    /// Removes the GPU named `id` (`msg gpu-remove`): by default its outputs move to another GPU
    /// in the output registry, which every backend draws from.
    fn remove_gpu(&mut self, id: &str) -> Result<(), String> {
        crate::ipc::server::remove_gpu(&mut self.server().state, id)
    }

    /// Lets go of what the backend itself holds of a GPU that was just parked (the TTY backend
    /// closes the KMS side of a device that drives no monitor).
    fn gpu_parked(&mut self, gpu: tandem::GpuId) {
        let _ = gpu;
    }

    /// Answers the backend's IPC requests waiting since the last dispatch, hears of GPUs parked
    /// meanwhile and tells output managers what changed; run loops call it after each dispatch.
    fn answer_requests(&mut self) {
        let pending = std::mem::take(&mut self.server().state.backend_requests);
        for (request, stream) in pending {
            let reply = match &request {
                Request::GpuRemove { id } => match self.remove_gpu(id) {
                    Ok(()) => Reply::Ok,
                    Err(message) => Reply::Error { message },
                },
                request => self.apply(request),
            };
            crate::ipc::server::send_reply(&self.server().state, stream, &reply);
        }
        let parked = std::mem::take(&mut self.server().state.newly_parked);
        for gpu in parked {
            self.gpu_parked(gpu);
        }
        crate::config::apply_new_outputs(&mut self.server().state);
        crate::protocols::output_management::refresh(&mut self.server().state);
        crate::protocols::output_power::forget_gone(&mut self.server().state);
    }
}
