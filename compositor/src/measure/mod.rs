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
