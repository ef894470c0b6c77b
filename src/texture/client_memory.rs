//! Memory a client process can write while Tandem reads it: an shm pool, or the mapping of a
//! client's dmabuf. No Rust reference is ever made over it; bytes leave it only through
//! raw-pointer copies into memory Tandem owns, or through GL reading the pointer itself.
//!
//! Made by the shm import (`renderer::import`, over the pool smithay maps) and by the mappings
//! of client dmabufs ([`super::mapped`]); read by their copies and uploads.

/// `len` bytes of a client's memory at `ptr` (see the module docs).
pub(crate) struct ClientMemory {
    ptr: *const u8,
    len: usize,
}

impl ClientMemory {
    /// # Safety
    /// `ptr` must be valid for reads of `len` bytes for as long as the value lives; the bytes
    /// may change under it at any time.
    pub unsafe fn new(ptr: *const u8, len: usize) -> ClientMemory {
        ClientMemory { ptr, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The address of byte `offset`, for GL to read from; `None` unless `len` bytes from there
    /// lie inside.
    pub fn range_ptr(&self, offset: usize, len: usize) -> Option<*const u8> {
        let end = offset.checked_add(len)?;
        // SAFETY: `offset` is within the `len` bytes `new` was given.
        (end <= self.len).then(|| unsafe { self.ptr.add(offset) })
    }

    /// Copies the `to.len()` bytes at `offset` into `to`; `None` (and nothing copied) unless
    /// they all lie inside.
    pub fn copy_to(&self, offset: usize, to: &mut [u8]) -> Option<()> {
        let from = self.range_ptr(offset, to.len())?;
        // SAFETY: `from` is valid for `to.len()` bytes (checked above) and is the client's
        // memory, which never overlaps `to`, memory Tandem owns.
        unsafe { std::ptr::copy_nonoverlapping(from, to.as_mut_ptr(), to.len()) };
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::ClientMemory;

    #[test]
    fn copies_stay_inside_the_memory() {
        let bytes: Vec<u8> = (0..16).collect();
        // SAFETY: `bytes` outlives `memory` and is not written meanwhile.
        let memory = unsafe { ClientMemory::new(bytes.as_ptr(), bytes.len()) };
        let mut to = [0u8; 4];
        assert_eq!(memory.copy_to(12, &mut to), Some(()));
        assert_eq!(to, [12, 13, 14, 15]);
        assert_eq!(memory.copy_to(13, &mut to), None, "one byte past the end");
        assert_eq!(memory.copy_to(usize::MAX, &mut to), None);
        assert!(memory.range_ptr(0, 16).is_some());
        assert!(memory.range_ptr(1, 16).is_none());
    }
}
