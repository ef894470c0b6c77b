//! Client buffers as the manager sees them: which GPU's memory a dmabuf lives in, whether a
//! GPU accepts it (what linux-dmabuf's `create` asks), and how much GPU memory a client may hold.
//!
//! The compositor's linux-dmabuf handler calls [`GpuManager::accept_client_dmabuf`]; its client
//! bookkeeping sets budgets and exemptions; imports read origins and budgets.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::wayland_server::backend::ClientId;

use super::GpuManager;
use crate::error::TandemError;
use crate::gpu::budget::ClientBudget;
use crate::gpu::failures::FailureKey;
use crate::gpu::{Gpu, GpuId};
use crate::texture::PathKind;

impl GpuManager {
    /// Records which GPU's memory a client dmabuf lives in (the compositor knows it from the
    /// socket or linux-dmabuf global the client used). Unknown dmabufs are taken to live on the
    /// GPU of their DRM node, or on the GPU that imports them.
    pub fn set_dmabuf_origin(&mut self, dmabuf: &Dmabuf, gpu: GpuId) {
        self.origins.insert(dmabuf.weak(), gpu);
    }

    /// Checks that `gpu` can import a client's dmabuf (what linux-dmabuf's `create` must know
    /// before it answers) and records that the buffer lives there. The buffer's format must be
    /// one `gpu`'s clients are offered ([`carried_formats`](Self::carried_formats)); an import
    /// that fails anyway is remembered for `client`'s buffers of that format on that GPU, which
    /// are refused while it is held off. The test import stays in the renderer's cache while the
    /// buffer lives and is freed by [`cleanup`](Self::cleanup) after.
    pub fn accept_client_dmabuf(
        &mut self,
        dmabuf: &Dmabuf,
        gpu: GpuId,
        client: Option<&ClientId>,
    ) -> Result<(), TandemError> {
        use smithay::backend::allocator::Buffer;
        use smithay::backend::renderer::ImportDma;

        if matches!(gpu, GpuId::Software(_)) {
            crate::gpu::soft::check_client_memfd(dmabuf)?;
        }
        let format = dmabuf.format();
        let not_offered = |reason| TandemError::FormatNotOffered {
            gpu,
            format,
            reason,
        };
        if !self.offers_format(gpu, format)? {
            return Err(not_offered(
                "not among the formats this GPU's clients are offered",
            ));
        }
        let failed_import = FailureKey {
            source: gpu,
            target: gpu,
            fourcc: format.code,
            modifier: format.modifier,
            path: PathKind::Native,
            client: client.cloned(),
        };
        if self.path_failed(&failed_import) {
            return Err(not_offered(
                "a buffer of this format failed to import a moment ago",
            ));
        }
        // A format the GPU shows only by converting it on the CPU is checked by mapping it.
        if self.converts_format(gpu, format) {
            return if crate::texture::mapped::mappable(dmabuf) {
                self.set_dmabuf_origin(dmabuf, gpu);
                Ok(())
            } else {
                Err(not_offered(
                    "its memory cannot be read by the CPU, which converts this format",
                ))
            };
        }
        let target = self.gpu(gpu)?;
        let imported = target.renderer().import_dmabuf(dmabuf, None);
        if let Err(err) = imported {
            let err = TandemError::Gles { gpu, source: err };
            self.remember_failure(failed_import, err.to_string());
            return Err(err);
        }
        target.track_import(dmabuf);
        self.set_dmabuf_origin(dmabuf, gpu);
        Ok(())
    }

    /// The GPU whose memory `dmabuf` lives in, as recorded or as its DRM node says.
    pub fn dmabuf_origin(&self, dmabuf: &Dmabuf) -> Option<GpuId> {
        if let Some(gpu) = self.origins.get(&dmabuf.weak()) {
            return Some(*gpu);
        }
        // GBM buffers carry their device's primary node; GPUs are named by render node.
        let node = dmabuf.node()?;
        let render = node
            .node_with_type(smithay::backend::drm::NodeType::Render)
            .and_then(Result::ok)
            .unwrap_or(node);
        self.gpus
            .iter()
            .map(Gpu::id)
            .find(|id| matches!(id, GpuId::Drm(n) if n.dev_id() == render.dev_id()))
    }

    /// Forgets the copy-path failures of `client`'s buffers, for a compositor that learns of a
    /// client's departure first; [`cleanup`](Self::cleanup) forgets them by itself once every
    /// surface of the client is destroyed.
    pub fn forget_client(&mut self, client: &ClientId) {
        self.failed_paths.forget_client(client);
    }

    /// Limits the GPU memory one client's surfaces may hold (`None`: no limit). An import or
    /// copy that would take a client past it fails with [`TandemError::OverBudget`]; what the
    /// client holds already stays.
    pub fn set_client_budget(&mut self, bytes: Option<u64>) {
        self.budget.set_limit(bytes);
    }

    /// Exempts `client` from the budget: a client that shows many programs' windows, such as
    /// Xwayland (each X11 program would otherwise share one program's budget). Ended with
    /// [`GpuManager::end_budget_exemption`] when the client goes.
    pub fn exempt_from_budget(&mut self, client: ClientId) {
        self.budget.exempt(client);
    }

    /// Ends `client`'s exemption from the budget.
    pub fn end_budget_exemption(&mut self, client: &ClientId) {
        self.budget.end_exemption(client);
    }

    /// Fails if `client` may not hold `wanted` more bytes.
    pub fn check_budget(&self, client: Option<&ClientId>, wanted: u64) -> Result<(), TandemError> {
        self.client_budget(client).allow(wanted)
    }

    /// `client`'s budget, asked before each allocation made for it.
    pub(crate) fn client_budget(&self, client: Option<&ClientId>) -> ClientBudget {
        self.budget.of(&self.ledger, client)
    }
}
