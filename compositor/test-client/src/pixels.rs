//! The client's pixels: memfds (sealed against shrinking, or not for hostile cases) or udmabufs,
//! mapped for the CPU to paint, in ARGB8888 or any layout of [`formats`].
//!
//! Windows ([`crate::Window`]) own one per buffer and hand its fd to the compositor as shm or
//! dmabuf; tests paint through [`Pixels::fill`] and read through [`Pixels::bytes`].

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

use crate::formats::{self, Plane};
use crate::late_fence;

/// CPU-writable memory shared with the compositor.
pub struct Pixels {
    pub(crate) fd: OwnedFd,
    ptr: *mut u8,
    pub(crate) len: usize,
    pub width: i32,
    pub height: i32,
    /// Bytes between rows (of the first plane).
    pub stride: i32,
    /// DRM fourcc of the pixels: ARGB8888 unless made by [`Pixels::with_format`].
    pub(crate) fourcc: u32,
    pub(crate) planes: Vec<Plane>,
    /// A udmabuf over the memfd, which dmabuf windows then hand the compositor instead.
    udmabuf: Option<OwnedFd>,
}

impl Pixels {
    /// A memfd sealed against shrinking (as a compositor may require of memfd dmabufs).
    pub fn new(width: i32, height: i32) -> Pixels {
        Pixels::with_stride(width, height, width * 4)
    }

    /// Like [`Pixels::new`], with rows `stride` bytes apart.
    pub fn with_stride(width: i32, height: i32, stride: i32) -> Pixels {
        let pixels = Pixels::unsealed_with_stride(width, height, stride);
        rustix::fs::fcntl_add_seals(&pixels.fd, SealFlags::SHRINK).expect("seal");
        pixels
    }

    /// A memfd sealed like [`Pixels::new`] holding a `width`x`height` buffer in `fourcc`, laid out
    /// by [`formats::layout`] and painted with [`formats::paint`]; `None` when the format has no
    /// layout for that size.
    pub fn with_format(fourcc: u32, width: i32, height: i32) -> Option<Pixels> {
        let (planes, len) = formats::layout(fourcc, width, height)?;
        let stride = i32::try_from(planes.first()?.stride).ok()?;
        let (fd, ptr) = mapped_memfd(len);
        let mut pixels = Pixels {
            fd,
            ptr,
            len,
            width,
            height,
            stride,
            fourcc,
            planes: planes.clone(),
            udmabuf: None,
        };
        formats::paint(fourcc, width, height, &planes, pixels.bytes_mut());
        rustix::fs::fcntl_add_seals(&pixels.fd, SealFlags::SHRINK).expect("seal");
        Some(pixels)
    }

    /// A sealed memfd of `width`x`height` pixels that is never mapped nor touched, so that it
    /// costs the client no memory (hostile cases only).
    pub fn sparse(width: i32, height: i32) -> SparseBuffer {
        let fd = rustix::fs::memfd_create(
            "tandem-sparse",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .expect("memfd");
        rustix::fs::ftruncate(&fd, width as u64 * height as u64 * 4).expect("ftruncate");
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK).expect("seal");
        SparseBuffer { fd }
    }

    /// A memfd the client may still truncate (hostile cases only).
    pub fn unsealed(width: i32, height: i32) -> Pixels {
        Pixels::unsealed_with_stride(width, height, width * 4)
    }

    fn unsealed_with_stride(width: i32, height: i32, stride: i32) -> Pixels {
        let len = (stride * height) as usize;
        let (fd, ptr) = mapped_memfd(len);
        Pixels {
            fd,
            ptr,
            len,
            width,
            height,
            stride,
            fourcc: formats::ARGB8888,
            planes: vec![Plane {
                offset: 0,
                stride: stride as u32,
            }],
            udmabuf: None,
        }
    }

    /// ARGB8888 pixels in a sealed memfd of whole pages, handed out as a udmabuf (a real
    /// dma-buf; see [`late_fence`]).
    pub fn udmabuf(width: i32, height: i32) -> Result<Pixels, String> {
        let stride = width * 4;
        let page = rustix::param::page_size();
        let len = ((stride * height) as usize).div_ceil(page) * page;
        let (fd, ptr) = mapped_memfd(len);
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK).map_err(|e| format!("seal: {e}"))?;
        let udmabuf = late_fence::udmabuf(fd.as_fd(), len)?;
        Ok(Pixels {
            fd,
            ptr,
            len,
            width,
            height,
            stride,
            fourcc: formats::ARGB8888,
            planes: vec![Plane {
                offset: 0,
                stride: stride as u32,
            }],
            udmabuf: Some(udmabuf),
        })
    }

    /// The fd a dmabuf of these pixels is announced with: the udmabuf if there is one, else
    /// the memfd.
    pub fn buffer_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.udmabuf.as_ref().unwrap_or(&self.fd).as_fd()
    }

    /// The pixels as bytes, rows `stride` apart (planes as [`Pixels::planes`] says).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes long and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes long, lives as long as `self` and is only reached
        // through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// DRM fourcc of the pixels ([`formats::ARGB8888`] unless made by [`Pixels::with_format`]).
    pub fn fourcc(&self) -> u32 {
        self.fourcc
    }

    /// Where the planes lie in [`Pixels::bytes`].
    pub fn planes(&self) -> &[Plane] {
        &self.planes
    }

    /// Fills the part of `rect` (x, y, w, h) inside the image with `argb`. Does nothing to pixels
    /// in another format than ARGB8888 (see [`crate::TestClient::dmabuf_window_in`]): they keep their
    /// pattern.
    pub fn fill(&mut self, rect: (i32, i32, i32, i32), argb: u32) {
        if self.fourcc != formats::ARGB8888 {
            return;
        }
        let (x, y, w, h) = rect;
        let (right, bottom) = (x.saturating_add(w), y.saturating_add(h));
        for row in y.max(0)..bottom.min(self.height) {
            for col in x.max(0)..right.min(self.width) {
                let offset = (row * self.stride + col * 4) as usize;
                // SAFETY: offset is inside the mapping (row < height, col < width).
                unsafe { (self.ptr.add(offset) as *mut u32).write_unaligned(argb) };
            }
        }
    }
}

impl Pixels {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A memfd of `len` bytes that may be sealed, mapped shared for reading and writing.
fn mapped_memfd(len: usize) -> (OwnedFd, *mut u8) {
    let fd = rustix::fs::memfd_create(
        "tandem-test",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .expect("memfd");
    rustix::fs::ftruncate(&fd, len as u64).expect("ftruncate");
    // SAFETY: a fresh shared mapping of a memfd we own, unmapped when the Pixels holding it drop.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            &fd,
            0,
        )
        .expect("mmap")
    } as *mut u8;
    (fd, ptr)
}

impl Drop for Pixels {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `new`.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr as *mut _, self.len);
        }
    }
}

/// A sealed memfd nobody mapped (see [`Pixels::sparse`]).
pub struct SparseBuffer {
    fd: OwnedFd,
}

impl SparseBuffer {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
