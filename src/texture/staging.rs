//! Staging memory for CPU copies: the bytes a readback on one GPU writes and the other GPU
//! reads.
//!
//! Where the kernel offers `/dev/udmabuf`, staging memory is a udmabuf: a sealed memfd that the
//! kernel also hands out as a linear dmabuf, so a target GPU that imports it samples the
//! readback in place instead of being sent an upload (what KWin and cosmic-comp moved to). A
//! target that refuses the import is uploaded from the same mapping. Elsewhere it is plain
//! process memory. The CPU copy paths ([`crate::renderer::copy`] for surfaces,
//! [`crate::renderer::intermediate`] for outputs) own one per copy and bracket their writes
//! with [`StagingBuffer::begin_write`] and [`StagingBuffer::end_write`].

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::ioctl::{opcode, Ioctl, IoctlOutput, Opcode};
use rustix::mm::{MapFlags, ProtFlags};
use smithay::backend::allocator::dmabuf::{Dmabuf, DmabufFlags};
use smithay::backend::allocator::{Fourcc, Modifier};

use super::pixel_format::bytes_per_pixel;
use crate::error::TandemError;

/// Whether this process can make udmabufs at all, learnt from the first error that says it
/// cannot (so that a missing device is not tried for every copy).
static UDMABUF: UdmabufAvailability = UdmabufAvailability(AtomicBool::new(false));

/// Whether udmabufs can be made: true once an error said they cannot.
#[derive(Default)]
struct UdmabufAvailability(AtomicBool);

impl UdmabufAvailability {
    fn usable(&self) -> bool {
        !self.0.load(Ordering::Relaxed)
    }

    /// Notes that making one failed with `error`.
    fn failed(&self, error: &UdmabufError) {
        if error.unavailable {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Why one udmabuf could not be made.
#[derive(Debug)]
struct UdmabufError {
    reason: String,
    /// The error says udmabufs cannot be made here at all (no device, no access, no driver),
    /// rather than not this one (the kernel's size limit, no memory).
    unavailable: bool,
}

impl UdmabufError {
    /// /dev/udmabuf did not open.
    fn open(errno: rustix::io::Errno) -> UdmabufError {
        use rustix::io::Errno;
        UdmabufError {
            reason: format!("/dev/udmabuf: {errno}"),
            unavailable: [
                Errno::NOENT,
                Errno::NODEV,
                Errno::NXIO,
                Errno::ACCESS,
                Errno::PERM,
            ]
            .contains(&errno),
        }
    }

    /// UDMABUF_CREATE failed (EINVAL for a buffer past the kernel's `size_limit_mb`).
    fn create(errno: rustix::io::Errno) -> UdmabufError {
        use rustix::io::Errno;
        UdmabufError {
            reason: format!("UDMABUF_CREATE: {errno}"),
            unavailable: [Errno::NOTTY, Errno::NOSYS, Errno::NODEV, Errno::OPNOTSUPP]
                .contains(&errno),
        }
    }

    /// Anything else that failed for this buffer.
    fn this_buffer(reason: impl Into<String>) -> UdmabufError {
        UdmabufError {
            reason: reason.into(),
            unavailable: false,
        }
    }
}

/// Where the staging bytes live.
enum Memory {
    Heap(Vec<u8>),
    Udmabuf {
        dmabuf: Dmabuf,
        ptr: *mut u8,
        len: usize,
    },
}

/// Staging memory for one image of `width`x`height` 4-byte pixels, rows tightly packed.
pub(crate) struct StagingBuffer {
    memory: Memory,
    /// Bytes of the image (the mapping may be longer: it is rounded up to whole pages).
    image_len: usize,
}

// SAFETY: the mapping is owned by this value alone and unmapped on drop; it is only touched
// through `&self` / `&mut self`.
unsafe impl Send for StagingBuffer {}

impl std::fmt::Debug for StagingBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagingBuffer")
            .field("udmabuf", &self.dmabuf().is_some())
            .field("len", &self.image_len)
            .finish()
    }
}

impl StagingBuffer {
    /// A udmabuf when the kernel offers one, process memory otherwise; fails (instead of
    /// aborting) when the memory cannot be had.
    pub fn new(width: i32, height: i32, fourcc: Fourcc) -> Result<StagingBuffer, TandemError> {
        let refused = |reason: &str| TandemError::Allocation {
            width: width.max(0) as u32,
            height: height.max(0) as u32,
            fourcc,
            reason: reason.into(),
        };
        let bpp = bytes_per_pixel(fourcc).ok_or_else(|| refused("not a staging format"))?;
        let image_len = (width.max(0) as usize)
            .checked_mul(height.max(0) as usize)
            .and_then(|pixels| pixels.checked_mul(bpp))
            .ok_or_else(|| refused("size overflows"))?;
        if UDMABUF.usable() {
            match udmabuf(width, height, fourcc, bpp as u32) {
                Ok((dmabuf, ptr, len)) => {
                    return Ok(StagingBuffer {
                        memory: Memory::Udmabuf { dmabuf, ptr, len },
                        image_len,
                    })
                }
                Err(error) => {
                    tracing::debug!(
                        reason = error.reason,
                        unavailable = error.unavailable,
                        "staging in process memory: no udmabuf"
                    );
                    UDMABUF.failed(&error);
                }
            }
        }
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(image_len)
            .map_err(|_| refused("no memory for the staging image"))?;
        bytes.resize(image_len, 0);
        Ok(StagingBuffer {
            memory: Memory::Heap(bytes),
            image_len,
        })
    }

    /// The staging memory as a linear dmabuf, when it is a udmabuf.
    pub fn dmabuf(&self) -> Option<&Dmabuf> {
        match &self.memory {
            Memory::Heap(_) => None,
            Memory::Udmabuf { dmabuf, .. } => Some(dmabuf),
        }
    }

    /// The image bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.memory {
            Memory::Heap(bytes) => bytes,
            // SAFETY: the mapping is at least `image_len` bytes and lives as long as `self`.
            Memory::Udmabuf { ptr, .. } => unsafe {
                std::slice::from_raw_parts(*ptr, self.image_len)
            },
        }
    }

    /// The image bytes, to write into between [`begin_write`](Self::begin_write) and
    /// [`end_write`](Self::end_write).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.memory {
            Memory::Heap(bytes) => bytes,
            // SAFETY: as in `bytes`, and `&mut self` makes this the only view.
            Memory::Udmabuf { ptr, .. } => unsafe {
                std::slice::from_raw_parts_mut(*ptr, self.image_len)
            },
        }
    }

    /// Tells the kernel the CPU is about to write (a dmabuf's cache coherency protocol).
    pub fn begin_write(&self) {
        self.sync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    }

    /// Tells the kernel the CPU's writes are done: a GPU that imported the buffer sees them.
    pub fn end_write(&self) {
        self.sync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    }

    fn sync(&self, flags: u64) {
        if let Some(dmabuf) = self.dmabuf() {
            dma_buf_sync(dmabuf, flags);
        }
    }
}

/// Tells the kernel that the CPU starts or ends reading or writing `dmabuf`'s memory
/// (DMA_BUF_IOCTL_SYNC); a file that is not a dma-buf (a memfd) has nothing to sync.
pub(crate) fn dma_buf_sync(dmabuf: &Dmabuf, flags: u64) {
    for fd in dmabuf.handles() {
        // SAFETY: DMA_BUF_IOCTL_SYNC reads one `dma_buf_sync` from the pointer.
        if let Err(err) = unsafe { rustix::ioctl::ioctl(fd, DmaBufSync { flags }) } {
            tracing::trace!(%err, "DMA_BUF_IOCTL_SYNC");
        }
    }
}

impl Drop for StagingBuffer {
    fn drop(&mut self) {
        if let Memory::Udmabuf { ptr, len, .. } = self.memory {
            // SAFETY: ptr/len are the mapping made in `udmabuf`.
            unsafe {
                let _ = rustix::mm::munmap(ptr.cast(), len);
            }
        }
    }
}

pub(crate) const DMA_BUF_SYNC_READ: u64 = 1;
pub(crate) const DMA_BUF_SYNC_WRITE: u64 = 2;
pub(crate) const DMA_BUF_SYNC_START: u64 = 0;
pub(crate) const DMA_BUF_SYNC_END: u64 = 4;

/// `struct udmabuf_create` of linux/udmabuf.h.
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

/// UDMABUF_CREATE: returns the new dmabuf's fd.
struct CreateUdmabuf(UdmabufCreate);

// SAFETY: the opcode is _IOW('u', 0x42, struct udmabuf_create), the pointer is to that struct,
// and the kernel returns a new file descriptor that this process now owns.
unsafe impl Ioctl for CreateUdmabuf {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        opcode::write::<UdmabufCreate>(b'u', 0x42)
    }

    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        (&mut self.0 as *mut UdmabufCreate).cast()
    }

    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _: *mut std::ffi::c_void,
    ) -> rustix::io::Result<OwnedFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: a successful UDMABUF_CREATE returns a fresh fd.
        Ok(unsafe { OwnedFd::from_raw_fd(out) })
    }
}

/// DMA_BUF_IOCTL_SYNC: _IOW('b', 0, struct dma_buf_sync).
struct DmaBufSync {
    flags: u64,
}

// SAFETY: the opcode matches the struct the pointer points to (one u64), which the kernel
// only reads.
unsafe impl Ioctl for DmaBufSync {
    type Output = ();
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        opcode::write::<u64>(b'b', 0)
    }

    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        (&mut self.flags as *mut u64).cast()
    }

    unsafe fn output_from_ptr(_: IoctlOutput, _: *mut std::ffi::c_void) -> rustix::io::Result<()> {
        Ok(())
    }
}

/// A udmabuf of `width`x`height` linear `bpp`-byte pixels, and its shared mapping.
fn udmabuf(
    width: i32,
    height: i32,
    fourcc: Fourcc,
    bpp: u32,
) -> Result<(Dmabuf, *mut u8, usize), UdmabufError> {
    let stride = u32::try_from(width)
        .ok()
        .and_then(|w| w.checked_mul(bpp))
        .filter(|s| *s > 0)
        .ok_or_else(|| UdmabufError::this_buffer("bad width"))?;
    let rows = u64::try_from(height)
        .ok()
        .filter(|h| *h > 0)
        .ok_or_else(|| UdmabufError::this_buffer("bad height"))?;
    let page = rustix::param::page_size() as u64;
    let len = (stride as u64 * rows).div_ceil(page) * page;
    let device = rustix::fs::open(
        "/dev/udmabuf",
        rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(UdmabufError::open)?;
    let memfd = rustix::fs::memfd_create(
        "tandem-staging",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| UdmabufError::this_buffer(format!("memfd: {e}")))?;
    rustix::fs::ftruncate(&memfd, len)
        .map_err(|e| UdmabufError::this_buffer(format!("ftruncate: {e}")))?;
    rustix::fs::fcntl_add_seals(&memfd, SealFlags::SHRINK)
        .map_err(|e| UdmabufError::this_buffer(format!("seal: {e}")))?;
    let create = CreateUdmabuf(UdmabufCreate {
        memfd: std::os::fd::AsRawFd::as_raw_fd(&memfd) as u32,
        // UDMABUF_FLAGS_CLOEXEC
        flags: 1,
        offset: 0,
        size: len,
    });
    // SAFETY: see the Ioctl impl.
    let fd = unsafe { rustix::ioctl::ioctl(&device, create) }.map_err(UdmabufError::create)?;
    // SAFETY: a fresh shared mapping of memory this process owns, unmapped on drop.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len as usize,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            memfd.as_fd(),
            0,
        )
    }
    .map_err(|e| UdmabufError::this_buffer(format!("mmap: {e}")))?;
    let mut builder = Dmabuf::builder(
        (width, height),
        fourcc,
        Modifier::Linear,
        DmabufFlags::empty(),
    );
    builder.add_plane(fd, 0, 0, stride);
    let dmabuf = builder
        .build()
        .ok_or_else(|| UdmabufError::this_buffer("dmabuf builder refused the plane"))?;
    Ok((dmabuf, ptr.cast(), len as usize))
}

#[cfg(test)]
mod tests {
    use rustix::io::Errno;

    use super::*;

    #[test]
    fn only_errors_that_mean_there_is_no_udmabuf_turn_it_off() {
        let availability = UdmabufAvailability::default();
        // Past the kernel's size_limit_mb, out of memory: only that buffer fails.
        availability.failed(&UdmabufError::create(Errno::INVAL));
        availability.failed(&UdmabufError::create(Errno::NOMEM));
        availability.failed(&UdmabufError::this_buffer("mmap: ENOMEM"));
        availability.failed(&UdmabufError::open(Errno::MFILE));
        assert!(
            availability.usable(),
            "a buffer's failure turned udmabuf off"
        );
        availability.failed(&UdmabufError::open(Errno::NOENT));
        assert!(!availability.usable(), "no device: udmabuf is off");
    }
}
