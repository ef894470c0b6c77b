//! The order of operations on buffers that two GPUs share (shadow slots, udmabuf staging,
//! output intermediates), recorded on request so that tests can check the coherency rule: a
//! shared buffer is written only after the last read of it has finished, and the reading GPU
//! re-binds it after every write before it reads again.
//!
//! The [`GpuManager`](super::GpuManager) owns the log ([`GpuManager::record_operations`]
//! starts it); the copy code, the output intermediates and [`MultiFrame`](crate::MultiFrame)
//! append to it. Nothing is recorded unless asked.

use std::sync::{Arc, Mutex};

use super::GpuId;

/// What was done to a shared buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// The reading GPU's last read of the buffer was waited for.
    WaitForReads,
    /// The buffer was written (drawn into, or filled by the CPU).
    Write,
    /// The reading GPU bound the buffer's new content (its EGLImage re-bound).
    Rebind,
    /// The reading GPU sampled the buffer in a frame.
    Read,
}

/// One operation, on the GPU that did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The GPU that did it (for a CPU write into staging memory, the GPU read back).
    pub gpu: GpuId,
    /// What was done.
    pub kind: OperationKind,
}

/// The shared log (see the module docs).
#[derive(Clone, Default)]
pub(crate) struct OperationLog(Arc<Mutex<Option<Vec<Operation>>>>);

impl OperationLog {
    pub fn start(&self) {
        *self.lock() = Some(Vec::new());
    }

    pub fn take(&self) -> Vec<Operation> {
        self.lock().as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub fn record(&self, gpu: GpuId, kind: OperationKind) {
        if let Some(log) = self.lock().as_mut() {
            log.push(Operation { gpu, kind });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<Operation>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
