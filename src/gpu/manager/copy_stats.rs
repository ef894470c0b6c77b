//! The copy path counters the manager keeps, for tests and the stress test.
//!
//! Incremented by the copy code in `renderer/` and `texture/` through
//! `GpuManager::copy_stats_mut`; read through [`GpuManager::stats`](super::GpuManager::stats).

/// Counters of the copy paths, for tests and the stress test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Shadow slots allocated (a steady window allocates one, then none).
    pub shadow_allocations: u64,
    /// Slot redraws on the source GPU.
    pub shadow_redraws: u64,
    /// Of those, the ones copied by a framebuffer blit (rows moved as memory) rather than drawn.
    pub shadow_blits: u64,
    /// Bytes drawn into shadow slots.
    pub shadow_bytes: u64,
    /// Damaged bytes (clipped to the buffer) of the frames that went through shadow slots.
    pub shadow_damaged_bytes: u64,
    /// Bytes read back by the CPU copy path, counted as they are copied out of each readback.
    pub cpu_copied_bytes: u64,
    /// Damaged bytes the CPU copy path was asked to move.
    pub cpu_damaged_bytes: u64,
    /// CPU copies read from the client buffer's own mapping (a linear buffer of memory that
    /// cannot shrink), with no GPU readback.
    pub cpu_mapped_reads: u64,
    /// Of those, the copies the target uploaded straight from the client's mapping, with no
    /// staging copy (staging not sampled in place, the client's rows tightly packed).
    pub cpu_mapped_uploads: u64,
    /// Client dmabufs imported directly by a GPU that did not allocate them.
    pub direct_foreign_imports: u64,
    /// Output intermediates allocated.
    pub intermediate_allocations: u64,
    /// Bytes copied from output intermediates to their target.
    pub intermediate_bytes: u64,
    /// Bytes of output intermediates read back for CPU copies (counted as they are copied).
    pub intermediate_readback_bytes: u64,
    /// Copy-path failures remembered (a key failing again while remembered is not counted
    /// again).
    pub path_failures: u64,
    /// Bytes copied out of shm pools before an upload (only the damaged rows of a texture
    /// updated in place).
    pub shm_copied_bytes: u64,
    /// Allocations that replaced a GPU's existing texture, slot or staging of a buffer, counted
    /// where they are made (a window whose size and format stay the same needs none).
    pub reallocations: u64,
    /// CPU copies of YUV buffers that moved their planes as they are, to be converted by the
    /// drawing GPU's frames (no conversion on the CPU).
    pub yuv_plane_copies: u64,
}
