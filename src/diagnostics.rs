//! Measures Tandem does not control, used to cross-check the ledger: live GL texture names per
//! context and process RSS.

use smithay::backend::renderer::gles::GlesRenderer;

use crate::error::TandemError;

/// Names past the last live one that are probed before the scan stops.
const PROBE_TAIL: u32 = 4096;

/// Counts texture names alive in `renderer`'s context with `glIsTexture`, from 1 up to
/// a few names (`PROBE_TAIL`) past the highest live one.
pub fn live_texture_names(renderer: &mut GlesRenderer) -> Result<u32, TandemError> {
    Ok(renderer.with_context(|gl| {
        let mut live = 0;
        let mut name = 1u32;
        let mut limit = PROBE_TAIL;
        while name <= limit {
            // SAFETY: glIsTexture only reads the name table of the current context.
            if unsafe { gl.IsTexture(name) } != 0 {
                live += 1;
                limit = name.saturating_add(PROBE_TAIL);
            }
            name += 1;
        }
        live
    })?)
}

/// Resident set size of this process in bytes, after returning freed heap to the system.
pub fn rss_bytes() -> Option<u64> {
    trim_heap();
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// Makes process RSS follow allocations closely: blocks of 64 KiB and more get their own mapping
/// (returned to the system when freed) and every thread shares one heap. Call it first thing in a
/// process that samples RSS, before other threads start.
pub fn use_exact_heap() {
    // SAFETY: mallopt only changes glibc's allocation policy for later allocations.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// glibc keeps freed memory in its arenas; `malloc_trim(0)` hands it back so RSS tells the truth.
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases free heap pages; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
