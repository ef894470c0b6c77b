//! Recovery of lost GPUs: a GPU whose context failed (a GPU reset, a driver that gave up) is
//! marked lost by its cleanup and never made current again; the
//! [`GpuManager`](super::GpuManager) then opens it anew, through the same means it wakes parked
//! GPUs by, while its device still answers. The first try comes a second after the loss was
//! seen, each failed one doubles the wait, up to 5 minutes.
//!
//! The manager owns one [`Recovery`] and asks it at every
//! [`GpuManager::cleanup`](super::GpuManager::cleanup) which lost GPUs are due.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::GpuId;

const FIRST_TRY_AFTER: Duration = Duration::from_secs(1);
const LONGEST_WAIT: Duration = Duration::from_secs(300);

/// When each lost GPU is tried next, and how long the wait after that will be.
#[derive(Default)]
pub(crate) struct Recovery {
    next_try: HashMap<GpuId, (Instant, Duration)>,
    /// Lost GPUs opened again so far.
    pub recovered: u64,
}

impl Recovery {
    /// Whether `gpu`, lost, is due for a try now (a loss seen for the first time is tried a
    /// second later).
    pub fn due(&mut self, gpu: GpuId, now: Instant) -> bool {
        let (at, _) = *self
            .next_try
            .entry(gpu)
            .or_insert((now + FIRST_TRY_AFTER, FIRST_TRY_AFTER));
        now >= at
    }

    /// A try failed: the next one waits twice as long.
    pub fn failed(&mut self, gpu: GpuId, now: Instant) {
        let wait = self
            .next_try
            .get(&gpu)
            .map_or(FIRST_TRY_AFTER, |(_, wait)| (*wait * 2).min(LONGEST_WAIT));
        self.next_try.insert(gpu, (now + wait, wait));
    }

    /// `gpu` was opened again, or left.
    pub fn forget(&mut self, gpu: GpuId) {
        self.next_try.remove(&gpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_start_a_second_after_the_loss_and_back_off() {
        let mut recovery = Recovery::default();
        let gpu = GpuId::Software(1);
        let start = Instant::now();
        assert!(!recovery.due(gpu, start), "seen lost just now");
        assert!(recovery.due(gpu, start + FIRST_TRY_AFTER));
        recovery.failed(gpu, start + FIRST_TRY_AFTER);
        let after_failure = start + FIRST_TRY_AFTER;
        assert!(!recovery.due(gpu, after_failure + FIRST_TRY_AFTER));
        assert!(recovery.due(gpu, after_failure + 2 * FIRST_TRY_AFTER));
        for _ in 0..20 {
            recovery.failed(gpu, after_failure);
        }
        assert!(recovery.due(gpu, after_failure + LONGEST_WAIT));
        recovery.forget(gpu);
        assert!(
            !recovery.due(gpu, after_failure + LONGEST_WAIT),
            "a new loss starts over"
        );
    }
}
