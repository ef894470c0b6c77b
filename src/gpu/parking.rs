//! Idle GPU parking: a GPU that nothing needs gives up its EGL context and device fds, and is
//! opened again when something needs it.
//!
//! The [`GpuManager`](super::GpuManager) owns one [`Parking`]: how to reopen each GPU (software
//! GPUs are reopened by the manager itself; DRM GPUs by a closure their opener registers with
//! [`GpuManager::set_reopen`](super::GpuManager::set_reopen)), which GPUs are parked, and how
//! long each has been idle. The compositor decides what "needed" means (an output, a client of
//! the GPU's socket) and calls [`GpuManager::park_idle`](super::GpuManager::park_idle) now and
//! then; any later use of a parked GPU through the manager wakes it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Gpu, GpuId, Quirks};
use crate::error::TandemError;

/// Opens a GPU again after it was parked.
pub type ReopenGpu = Box<dyn FnMut() -> Result<Gpu, TandemError>>;

/// A GPU that gave up its context.
pub(crate) struct ParkedGpu {
    pub quirks: Quirks,
    /// Its place in the manager's order, kept when it wakes.
    pub position: usize,
    pub since: Instant,
}

/// What the manager knows about parking (see the module docs).
#[derive(Default)]
pub(crate) struct Parking {
    pub reopen: HashMap<GpuId, ReopenGpu>,
    pub parked: HashMap<GpuId, ParkedGpu>,
    /// When each awake GPU was last seen idle with nothing before it.
    pub idle_since: HashMap<GpuId, Instant>,
    /// How long the last wake of each GPU took.
    pub last_wake: HashMap<GpuId, Duration>,
    pub parks: u64,
    pub wakes: u64,
}

impl Parking {
    /// Notes that `gpu` is idle now; true once it has been idle for `after`.
    pub fn idle_for(&mut self, gpu: GpuId, after: Duration, now: Instant) -> bool {
        let since = *self.idle_since.entry(gpu).or_insert(now);
        now.duration_since(since) >= after
    }

    /// Forgets everything about `gpu` (it left the manager, or a new GPU took its id).
    pub fn forget(&mut self, gpu: GpuId) {
        self.parked.remove(&gpu);
        self.idle_since.remove(&gpu);
        self.last_wake.remove(&gpu);
    }
}

/// Parking counters, for `msg gpus` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParkingStats {
    /// GPUs parked so far.
    pub parks: u64,
    /// Parked GPUs woken so far.
    pub wakes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_is_idle_long_enough_only_after_the_full_time_from_the_first_idle_sighting() {
        let mut parking = Parking::default();
        let gpu = GpuId::Software(1);
        let start = Instant::now();
        let after = Duration::from_secs(10);
        assert!(!parking.idle_for(gpu, after, start));
        assert!(!parking.idle_for(gpu, after, start + Duration::from_secs(9)));
        assert!(parking.idle_for(gpu, after, start + Duration::from_secs(10)));
        parking.idle_since.remove(&gpu);
        assert!(!parking.idle_for(gpu, after, start + Duration::from_secs(11)));
    }
}
