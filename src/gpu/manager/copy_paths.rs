//! What the manager remembers of the copy paths: failures held off with back-off, a pinned
//! path, the measured costs, and the log of operations on buffers two GPUs share.
//!
//! The copy code in `renderer/` and `texture/` records failures and successes here; the
//! compositor reads costs and failures for `msg gpus`, and tests read the operation log.

use super::GpuManager;
use crate::gpu::failures::{FailureKey, PathFailure};
use crate::gpu::operations::Operation;
use crate::gpu::path_costs::CopyCost;
use crate::texture::PathKind;

impl GpuManager {
    pub(crate) fn path_failed(&self, key: &FailureKey) -> bool {
        self.failed_paths.holds_off(key, self.clock.now())
    }

    /// A path that failed before and whose back-off is over: due to be tried again.
    pub(crate) fn path_retry_due(&self, key: &FailureKey) -> bool {
        self.failed_paths.remembers(key) && !self.path_failed(key)
    }

    /// Makes new entries take `path` (a shadow slot or a CPU copy) while it works, instead of
    /// the path the measured costs choose; `None` lets the costs choose again. For benchmarks
    /// that time one path, and for comparing paths by hand.
    pub fn pin_copy_path(&mut self, path: Option<PathKind>) {
        self.pinned_copy_path = path;
    }

    /// What each copy path has cost so far, per GPU pair, format and modifier: a fixed cost and
    /// a cost per MiB fitted to the copies measured (recent ones weigh most). New entries take
    /// the cheaper path for their damage once both are measured.
    pub fn copy_costs(&self) -> Vec<CopyCost> {
        self.path_costs.report()
    }

    pub(crate) fn remember_failure(&mut self, key: FailureKey, reason: String) {
        if self.probing_formats {
            // The probe reports what it could not carry itself (format_probe).
            tracing::debug!(source = %key.source, target = %key.target, fourcc = ?key.fourcc,
                modifier = ?key.modifier, path = ?key.path, %reason, "probe: path failed");
        } else {
            tracing::warn!(source = %key.source, target = %key.target, fourcc = ?key.fourcc,
                modifier = ?key.modifier, path = ?key.path, client = ?key.client, %reason,
                "copy path failed; held off for a while");
        }
        if self.failed_paths.record(key, reason, self.clock.now()) {
            self.stats.path_failures += 1;
        }
    }

    /// Remembers a failure that holds the path off until either GPU goes (`FailureMemory`).
    pub(crate) fn remember_lasting_failure(&mut self, key: FailureKey, reason: String) {
        if !self.probing_formats {
            tracing::warn!(source = %key.source, target = %key.target, fourcc = ?key.fourcc,
                modifier = ?key.modifier, path = ?key.path, %reason,
                "copy path failed; held off while both GPUs stay");
        }
        if self.failed_paths.record_lasting(key, reason) {
            self.stats.path_failures += 1;
        }
    }

    pub(crate) fn path_succeeded(&mut self, key: &FailureKey) {
        self.failed_paths.succeeded(key);
    }

    /// Starts recording the operations on buffers two GPUs share ([`Operation`]: who waited,
    /// wrote, re-bound and read, in order); for tests of the coherency rule.
    pub fn record_operations(&self) {
        self.operations.start();
    }

    /// The operations recorded since the last call.
    pub fn take_operations(&self) -> Vec<Operation> {
        self.operations.take()
    }

    /// The copy-path failures remembered now, each with when it will be tried again.
    pub fn path_failures(&self) -> Vec<PathFailure> {
        self.failed_paths.list(self.clock.now())
    }
}
