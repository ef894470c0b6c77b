//! Measuring tools, each a subcommand of the binary: the VRAM-per-window stress test
//! (`stress`), smithay 0.7's own multigpu against Tandem on DRM devices (`seed_compare`), the
//! cost of each cross-GPU copy path against memcpy (`copy_costs`), Tandem's
//! per-frame overhead against smithay's own renderer (`frame_overhead`), what converting YUV
//! planes in the frame costs (`plane_draw`), and the heap
//! allocation counter the binary installs as its global allocator (`allocation_counter`).

pub mod allocation_counter;
pub mod copy_costs;
pub mod frame_overhead;
pub mod plane_draw;
pub mod seed_compare;
pub mod stress;

/// Process RSS once it has settled: the smallest of 5 samples 20 ms apart (0 when it cannot be
/// read).
pub fn settled_rss_bytes() -> u64 {
    (0..5)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tandem::diagnostics::rss_bytes().unwrap_or(0)
        })
        .min()
        .unwrap_or(0)
}
