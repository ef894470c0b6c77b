//! What each copy path has cost, per source GPU, target GPU, format and modifier: a running fit
//! of a fixed cost per copy plus a cost per byte to the copies measured, recent ones weighing
//! most.
//!
//! The [`GpuManager`](super::GpuManager) owns one [`PathCosts`]. `renderer::copy` measures every
//! shadow-slot and CPU copy it makes and, when a buffer needs a new entry on a GPU, asks which
//! working path is cheapest for that buffer's bytes: a path with too few measurements, or none
//! for a long while, is tried first so that the estimates stay true. An entry keeps its path while
//! it lives (no reallocation in steady frames). `GpuManager::copy_costs` reports the estimates
//! (`msg gpus` shows them).

use std::collections::HashMap;
use std::time::Duration;

use smithay::backend::allocator::{Fourcc, Modifier};

use super::GpuId;
use crate::texture::PathKind;

/// Measurements a path needs before its estimate is trusted.
const MIN_SAMPLES: u64 = 3;
/// Copies of other paths for the same buffers after which a path is measured again.
const STALE_AFTER: u64 = 600;
/// How much an old measurement still counts at each new one (an effective window of about 50).
const DECAY: f64 = 0.98;

/// What is copied: between which GPUs, in which layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CostKey {
    pub source: GpuId,
    pub target: GpuId,
    pub fourcc: Fourcc,
    pub modifier: Modifier,
}

/// Decayed sums for a least-squares line through (bytes, microseconds).
#[derive(Debug, Clone, Default)]
struct Fit {
    weight: f64,
    sum_x: f64,
    sum_y: f64,
    sum_xx: f64,
    sum_xy: f64,
    samples: u64,
    /// The key's copy count when this path was last measured.
    measured_at: u64,
}

impl Fit {
    fn add(&mut self, bytes: f64, micros: f64) {
        for sum in [
            &mut self.weight,
            &mut self.sum_x,
            &mut self.sum_y,
            &mut self.sum_xx,
            &mut self.sum_xy,
        ] {
            *sum *= DECAY;
        }
        self.weight += 1.0;
        self.sum_x += bytes;
        self.sum_y += micros;
        self.sum_xx += bytes * bytes;
        self.sum_xy += bytes * micros;
        self.samples += 1;
    }

    /// (fixed microseconds, microseconds per byte), neither negative.
    fn line(&self) -> (f64, f64) {
        if self.weight <= 0.0 {
            return (0.0, 0.0);
        }
        let (mean_x, mean_y) = (self.sum_x / self.weight, self.sum_y / self.weight);
        let var_x = self.sum_xx / self.weight - mean_x * mean_x;
        let cov = self.sum_xy / self.weight - mean_x * mean_y;
        // Too little spread in sizes to tell fixed from per-byte: all of it is per byte (the
        // cautious reading for larger copies).
        if var_x <= (mean_x * 1e-3).powi(2) {
            return (0.0, if mean_x > 0.0 { mean_y / mean_x } else { 0.0 });
        }
        let per_byte = (cov / var_x).max(0.0);
        ((mean_y - per_byte * mean_x).max(0.0), per_byte)
    }

    fn predict(&self, bytes: u64) -> f64 {
        let (fixed, per_byte) = self.line();
        fixed + per_byte * bytes as f64
    }
}

/// One path's estimate, as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyCost {
    /// The GPU the buffers live on.
    pub source: GpuId,
    /// The GPU that draws them.
    pub target: GpuId,
    /// The buffers' format.
    pub fourcc: Fourcc,
    /// The buffers' modifier.
    pub modifier: Modifier,
    /// The path.
    pub path: PathKind,
    /// Copies measured.
    pub samples: u64,
    /// Estimated cost of a copy regardless of its size, in microseconds.
    pub fixed_us: f64,
    /// Estimated cost per MiB copied, in microseconds.
    pub us_per_mib: f64,
}

/// Every estimate (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct PathCosts {
    fits: HashMap<(CostKey, PathKind), Fit>,
    /// Copies made per key, whatever the path.
    copies: HashMap<CostKey, u64>,
}

impl PathCosts {
    /// Records one copy of `bytes` by `path` that took `elapsed`.
    pub fn record(&mut self, key: CostKey, path: PathKind, bytes: u64, elapsed: Duration) {
        let copies = self.copies.entry(key).or_default();
        *copies += 1;
        let now = *copies;
        let fit = self.fits.entry((key, path)).or_default();
        fit.add(bytes as f64, elapsed.as_secs_f64() * 1e6);
        fit.measured_at = now;
    }

    /// The path to make a new entry with, among `candidates` (in order of preference when
    /// nothing is known): one that needs measuring, else the cheapest for `bytes`.
    pub fn choose(&self, key: CostKey, candidates: &[PathKind], bytes: u64) -> Option<PathKind> {
        let copies = self.copies.get(&key).copied().unwrap_or(0);
        let fit = |path: &PathKind| self.fits.get(&(key, *path));
        if let Some(unmeasured) = candidates.iter().find(|path| {
            fit(path).is_none_or(|fit| {
                fit.samples < MIN_SAMPLES || copies.saturating_sub(fit.measured_at) > STALE_AFTER
            })
        }) {
            return Some(*unmeasured);
        }
        candidates.iter().copied().min_by(|a, b| {
            let cost = |path: &PathKind| fit(path).map_or(f64::MAX, |fit| fit.predict(bytes));
            cost(a).total_cmp(&cost(b))
        })
    }

    /// Every estimate, ordered by GPUs, format and path.
    pub fn report(&self) -> Vec<CopyCost> {
        let mut costs: Vec<CopyCost> = self
            .fits
            .iter()
            .map(|((key, path), fit)| {
                let (fixed, per_byte) = fit.line();
                CopyCost {
                    source: key.source,
                    target: key.target,
                    fourcc: key.fourcc,
                    modifier: key.modifier,
                    path: *path,
                    samples: fit.samples,
                    fixed_us: fixed,
                    us_per_mib: per_byte * 1024.0 * 1024.0,
                }
            })
            .collect();
        costs.sort_by_key(|c| {
            (
                c.source.to_string(),
                c.target.to_string(),
                c.fourcc as u32,
                format!("{:?}", c.path),
            )
        });
        costs
    }

    /// Forgets everything measured with `gpu` (it went away).
    pub fn forget_gpu(&mut self, gpu: GpuId) {
        self.fits
            .retain(|(key, _), _| key.source != gpu && key.target != gpu);
        self.copies
            .retain(|key, _| key.source != gpu && key.target != gpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CostKey {
        CostKey {
            source: GpuId::Software(0),
            target: GpuId::Software(1),
            fourcc: Fourcc::Argb8888,
            modifier: Modifier::Linear,
        }
    }

    fn micros(us: f64) -> Duration {
        Duration::from_secs_f64(us / 1e6)
    }

    #[test]
    fn a_line_is_fitted_through_fixed_and_per_byte_costs() {
        let mut costs = PathCosts::default();
        // 200 us fixed, 1 us per KiB.
        for kib in [4u64, 64, 1024, 16, 256] {
            costs.record(
                key(),
                PathKind::Shadow,
                kib * 1024,
                micros(200.0 + kib as f64),
            );
        }
        let report = costs.report();
        assert_eq!(report.len(), 1);
        assert!((report[0].fixed_us - 200.0).abs() < 1.0, "{report:?}");
        assert!((report[0].us_per_mib - 1024.0).abs() < 5.0, "{report:?}");
    }

    #[test]
    fn unmeasured_paths_are_tried_then_the_cheapest_is_chosen() {
        let mut costs = PathCosts::default();
        let candidates = [PathKind::Shadow, PathKind::CpuCopy];
        assert_eq!(
            costs.choose(key(), &candidates, 1000),
            Some(PathKind::Shadow)
        );
        // Shadow: 300 us fixed, cheap per byte. CPU: 20 us fixed, dear per byte.
        for bytes in [1_000u64, 100_000, 8_000_000] {
            costs.record(
                key(),
                PathKind::Shadow,
                bytes,
                micros(300.0 + bytes as f64 * 0.001),
            );
        }
        assert_eq!(
            costs.choose(key(), &candidates, 1000),
            Some(PathKind::CpuCopy)
        );
        for bytes in [1_000u64, 100_000, 8_000_000] {
            costs.record(
                key(),
                PathKind::CpuCopy,
                bytes,
                micros(20.0 + bytes as f64 * 0.01),
            );
        }
        // Small copies: the fixed cost decides; large ones: the per-byte cost.
        assert_eq!(
            costs.choose(key(), &candidates, 1000),
            Some(PathKind::CpuCopy)
        );
        assert_eq!(
            costs.choose(key(), &candidates, 8_000_000),
            Some(PathKind::Shadow)
        );
        // A path not measured for a long while is measured again.
        for _ in 0..=STALE_AFTER {
            costs.record(key(), PathKind::Shadow, 8_000_000, micros(8300.0));
        }
        assert_eq!(
            costs.choose(key(), &candidates, 8_000_000),
            Some(PathKind::CpuCopy)
        );
        costs.forget_gpu(GpuId::Software(1));
        assert!(costs.report().is_empty());
    }
}
