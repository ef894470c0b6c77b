//! linux-dmabuf: which GPU's global a client's buffer came through, the feedback each surface
//! gets, and every client dmabuf checked against its client's budget and Tandem's formats
//! (`GpuManager::accept_client_dmabuf`) before it is accepted.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer as _;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::dmabuf::{
    DmabufFeedback, DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier,
};

use crate::state::State;

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }

    fn new_surface_feedback(
        &mut self,
        _surface: &WlSurface,
        global: &DmabufGlobal,
    ) -> Option<DmabufFeedback> {
        let gpu = self.gpu_of_dmabuf_global(global)?;
        self.surface_feedback
            .iter()
            .find(|(g, _)| *g == gpu)
            .map(|(_, feedback)| feedback.clone())
    }

    fn dmabuf_imported(&mut self, global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        let Some(gpu) = self.gpu_of_dmabuf_global(global) else {
            notifier.failed();
            return;
        };
        let client = notifier.client().map(|c| c.id());
        if let Err(err) = self
            .gpus
            .check_budget(client.as_ref(), tandem::gpu::dmabuf_bytes(&dmabuf))
        {
            tracing::warn!(?client, %err, "refused a client's dmabuf");
            notifier.failed();
            return;
        }
        match self
            .gpus
            .accept_client_dmabuf(&dmabuf, gpu, client.as_ref())
        {
            Ok(()) => {
                let _ = notifier.successful::<State>();
            }
            Err(err) => {
                tracing::debug!(%gpu, format = ?dmabuf.format(), %err, "refused dmabuf");
                notifier.failed();
            }
        }
    }
}
