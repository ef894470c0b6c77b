//! Copies of a finished frame: a buffer the compositor drew on one GPU (an output's frame),
//! copied as it is, without drawing the scene again, into a screen capture's buffer: a dmabuf
//! of any GPU ([`GpuManager::copy_frame`]) or memory the CPU reads, such as a client's shm
//! buffer ([`GpuManager::read_frame`]).
//!
//! Into a dmabuf: a framebuffer blit on a GPU that reaches both buffers (its own, or another
//! GPU's where it imports foreign dmabufs), the target's GPU first; where none does, the CPU
//! writes the target through its mapping when that cannot fault. Into memory: rows copied
//! from the frame's own mapping when it cannot fault (a sealed memfd or a udmabuf, as software
//! GPUs allocate), else read back on the frame's GPU. Which path served is returned, for
//! reports.
//!
//! Called by a compositor's capture code once the frame's drawing has ended (its sync point
//! reached). The GPU objects a copy leaves behind, the target dmabuf bound as a framebuffer, are
//! counted in the ledger as [`MemoryKind::CaptureBuffer`] of the capture's client until the
//! buffer is gone (pruned at each [`GpuManager::cleanup`]); the frame's mapping is kept while
//! the frame lives.

use smithay::backend::allocator::dmabuf::{Dmabuf, WeakDmabuf};
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::ImportDma;
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::utils::{Buffer as BufferCoord, Rectangle};

use crate::error::TandemError;
use crate::gpu::{dmabuf_bytes, GpuId, GpuManager};
use crate::ledger::{LedgerEntry, MemoryKind};
use crate::texture::mapped::{with_mapped_planes, with_writable_image, Mappings};

use super::gl_copy::{blit, read_back};

/// How a frame reached a capture's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCopyPath {
    /// A framebuffer blit on this GPU.
    Blit(GpuId),
    /// Rows copied by the CPU from the frame's own mapping (into memory, or into the target
    /// dmabuf's mapping where no GPU reaches both buffers).
    Mapped,
    /// Read back on this GPU, then copied by the CPU.
    Readback(GpuId),
}

/// An image in memory a frame is copied into, four bytes a pixel in memory order B, G, R, A
/// (XRGB8888 and ARGB8888): `len` bytes at `ptr`, its first row at `offset`, rows `stride`
/// bytes apart. Only written through raw-pointer copies, each checked to lie inside: the
/// memory may be another process's (a client's shm pool), read and written under it.
pub struct MemoryImage {
    ptr: *mut u8,
    len: usize,
    offset: usize,
    stride: usize,
}

impl MemoryImage {
    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes for as long as the value lives, and no
    /// Rust reference to those bytes may be held meanwhile.
    pub unsafe fn new(ptr: *mut u8, len: usize, offset: usize, stride: usize) -> MemoryImage {
        MemoryImage {
            ptr,
            len,
            offset,
            stride,
        }
    }

    /// Copies `pixels` pixels from `from` to pixel (`x`, `y`), in one pass, every alpha byte
    /// set to opaque when `opaque`; `None` (and nothing written) unless they lie inside.
    ///
    /// # Safety
    /// `from` must be valid for reads of `pixels * 4` bytes, outside this image's memory.
    unsafe fn write_pixels(
        &self,
        x: usize,
        y: usize,
        from: *const u8,
        pixels: usize,
        opaque: bool,
    ) -> Option<()> {
        let len = pixels.checked_mul(4)?;
        let start = self
            .offset
            .checked_add(y.checked_mul(self.stride)?)?
            .checked_add(x.checked_mul(4)?)?;
        if start.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: `start + len <= self.len` (checked above): inside the memory `new` was given
        // for writes; `from` is valid for `len` bytes and does not overlap it (the caller's
        // promise).
        unsafe {
            let to = self.ptr.add(start);
            if opaque {
                copy_opaque(from, to, pixels);
            } else {
                std::ptr::copy_nonoverlapping(from, to, len);
            }
        }
        Some(())
    }
}

/// Copies `pixels` pixels (B, G, R, A in memory) from `from` to `to` in one pass, every alpha
/// byte set to opaque: sixteen bytes at a time where the CPU has SSE2.
///
/// # Safety
/// `from` must be valid for reads and `to` for writes of `pixels * 4` bytes; they must not
/// overlap.
unsafe fn copy_opaque(from: *const u8, to: *mut u8, pixels: usize) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86_64; each load and store covers 16 bytes from `done * 4`
    // on, below `pixels * 4` (the loops' bounds), unaligned accesses allowed.
    unsafe {
        use std::arch::x86_64::{_mm_loadu_si128, _mm_or_si128, _mm_set1_epi32, _mm_storeu_si128};
        let alpha = _mm_set1_epi32(i32::from_ne_bytes([0, 0, 0, 0xff]));
        while done + 4 <= pixels {
            let at = done * 4;
            let quad = _mm_loadu_si128(from.add(at).cast());
            _mm_storeu_si128(to.add(at).cast(), _mm_or_si128(quad, alpha));
            done += 4;
        }
    }
    let alpha = u32::from_ne_bytes([0, 0, 0, 0xff]);
    for i in done..pixels {
        // SAFETY: pixel `i` is below `pixels` (the caller's promise covers it).
        unsafe {
            let pixel = from.add(i * 4).cast::<u32>().read_unaligned() | alpha;
            to.add(i * 4).cast::<u32>().write_unaligned(pixel);
        }
    }
}

/// A capture's dmabuf a GPU bound to copy frames into, counted for its client while it lives.
pub(crate) struct CaptureTarget {
    buffer: WeakDmabuf,
    gpu: GpuId,
    _account: LedgerEntry,
}

/// What the manager keeps for frame copies: the frames' mappings, the capture targets bound
/// and those mapped for writing.
pub(crate) struct FrameCopies {
    mappings: Mappings,
    targets: Vec<CaptureTarget>,
    target_mappings: Mappings,
}

impl Default for FrameCopies {
    fn default() -> FrameCopies {
        FrameCopies {
            mappings: Mappings::default(),
            targets: Vec::new(),
            target_mappings: Mappings::writable(),
        }
    }
}

impl FrameCopies {
    /// Forgets what belongs to buffers that are gone (the GPUs free their objects at their next
    /// cleanup, as for any dmabuf they imported).
    pub(crate) fn forget_gone(&mut self) {
        self.mappings.forget_gone();
        self.target_mappings.forget_gone();
        self.targets.retain(|target| !target.buffer.is_gone());
    }

    /// Forgets what was bound on `gpu` (it went away).
    pub(crate) fn forget_gpu(&mut self, gpu: GpuId) {
        self.targets.retain(|target| target.gpu != gpu);
    }

    /// Capture targets bound, for tests and reports.
    pub(crate) fn targets(&self) -> usize {
        self.targets.len()
    }
}

impl std::fmt::Debug for FrameCopies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCopies")
            .field("targets", &self.targets.len())
            .finish()
    }
}

impl GpuManager {
    /// Copies `rects` of `frame` (a dmabuf made by one of this manager's GPUs) into the same
    /// places of `target`, a dmabuf of the same size and any GPU, for `client` (whose ledger
    /// counts the target while a GPU holds it bound). Waits until the copy is done. Fails with
    /// [`TandemError::NoFrameCopy`] when no GPU reaches both buffers and the target cannot be
    /// written through a mapping: draw the scene into the target instead.
    pub fn copy_frame(
        &mut self,
        frame: &Dmabuf,
        target: &mut Dmabuf,
        rects: &[Rectangle<i32, BufferCoord>],
        client: Option<&ClientId>,
    ) -> Result<FrameCopyPath, TandemError> {
        if frame.size() != target.size() {
            return Err(TandemError::NoFrameCopy(format!(
                "a {:?} frame into a {:?} buffer",
                frame.size(),
                target.size()
            )));
        }
        let frame_gpu = self.frame_gpu(frame)?;
        let target_gpu = self.dmabuf_origin(target).unwrap_or(frame_gpu);
        let mut candidates = vec![target_gpu];
        if frame_gpu != target_gpu {
            candidates.push(frame_gpu);
        }
        let reaches = |manager: &GpuManager, gpu: GpuId, owner: GpuId| {
            gpu == owner
                || manager
                    .quirks_of(gpu)
                    .is_some_and(|quirks| quirks.imports_foreign_dmabufs)
        };
        let mut last_error = None;
        for gpu in candidates {
            if !reaches(self, gpu, frame_gpu) || !reaches(self, gpu, target_gpu) {
                continue;
            }
            match self.blit_frame(gpu, frame, target, rects) {
                Ok(()) => {
                    self.count_capture_target(target, gpu, client);
                    return Ok(FrameCopyPath::Blit(gpu));
                }
                Err(err) => {
                    tracing::debug!(%gpu, %err, "a frame blit failed");
                    last_error = Some(err);
                }
            }
        }
        // No GPU reaches both: the CPU writes the target through its mapping, where it cannot
        // fault, reading the frame as `read_frame` does.
        let mut target_mappings = std::mem::take(&mut self.frame_copies.target_mappings);
        let written = with_writable_image(target, &mut target_mappings, |image| {
            self.read_frame(frame, rects, image, false)
        });
        self.frame_copies.target_mappings = target_mappings;
        match written {
            Some(Ok((path, _))) => Ok(path),
            Some(Err(err)) => Err(err),
            None => Err(last_error.unwrap_or_else(|| {
                TandemError::NoFrameCopy(format!(
                    "no GPU reaches both {frame_gpu}'s frame and {target_gpu}'s buffer, and \
                     the buffer cannot be written through a mapping"
                ))
            })),
        }
    }

    /// Copies `rects` of `frame` (an XRGB8888 or ARGB8888 dmabuf made by one of this manager's
    /// GPUs) into the same places of `into`, every pixel's alpha set to opaque when `opaque`;
    /// the path taken and the bytes written.
    pub fn read_frame(
        &mut self,
        frame: &Dmabuf,
        rects: &[Rectangle<i32, BufferCoord>],
        into: &MemoryImage,
        opaque: bool,
    ) -> Result<(FrameCopyPath, u64), TandemError> {
        let fourcc = frame.format().code;
        if !matches!(fourcc, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
            return Err(TandemError::NoFrameCopy(format!(
                "frames of {fourcc} are not read into memory"
            )));
        }
        let frame_gpu = self.frame_gpu(frame)?;
        let rects = clipped(rects, frame.width() as i32, frame.height() as i32);
        let mapped =
            with_mapped_planes(frame, &mut self.frame_copies.mappings, |memory, planes| {
                let &(offset, stride) = planes.first()?;
                let mut written = 0u64;
                for rect in &rects {
                    let (x, w) = (rect.loc.x as usize, rect.size.w as usize);
                    for y in rect.loc.y as usize..(rect.loc.y + rect.size.h) as usize {
                        let from = memory.range_ptr(offset + y * stride + x * 4, w * 4)?;
                        // SAFETY: `from` holds `w * 4` bytes of the frame's mapping (checked by
                        // `range_ptr`), which is not the memory written.
                        unsafe { into.write_pixels(x, y, from, w, opaque)? };
                        written += w as u64 * 4;
                    }
                }
                Some(written)
            });
        match mapped {
            Some(Some(written)) => return Ok((FrameCopyPath::Mapped, written)),
            Some(None) => {
                return Err(TandemError::ShmAccess(
                    "a rectangle of the frame lies outside the memory it is copied into".into(),
                ))
            }
            None => {}
        }
        let (width, height) = (frame.width() as usize, frame.height() as usize);
        let mut staging = self.take_shm_scratch();
        staging.resize(width * height * 4, 0);
        let read = read_back(
            self.awake_gpu(frame_gpu)?,
            frame,
            &rects,
            &mut staging,
            Fourcc::Argb8888,
        )
        .and_then(|_| {
            let mut written = 0u64;
            for rect in &rects {
                let (x, w) = (rect.loc.x as usize, rect.size.w as usize);
                for y in rect.loc.y as usize..(rect.loc.y + rect.size.h) as usize {
                    let start = (y * width + x) * 4;
                    let row = &staging[start..start + w * 4];
                    // SAFETY: `row` holds `w * 4` bytes of Tandem's own staging.
                    unsafe { into.write_pixels(x, y, row.as_ptr(), w, opaque) }.ok_or_else(
                        || {
                            TandemError::ShmAccess(
                            "a rectangle of the frame lies outside the memory it is copied into"
                                .into(),
                        )
                        },
                    )?;
                    written += row.len() as u64;
                }
            }
            Ok(written)
        });
        self.return_shm_scratch(staging);
        Ok((FrameCopyPath::Readback(frame_gpu), read?))
    }

    /// Capture buffers a GPU holds bound for frame copies now.
    pub fn capture_targets(&self) -> usize {
        self.frame_copies.targets()
    }

    fn frame_gpu(&self, frame: &Dmabuf) -> Result<GpuId, TandemError> {
        self.dmabuf_origin(frame).ok_or_else(|| {
            TandemError::NoFrameCopy("the frame was not made by one of Tandem's GPUs".into())
        })
    }

    fn blit_frame(
        &mut self,
        gpu: GpuId,
        frame: &Dmabuf,
        target: &mut Dmabuf,
        rects: &[Rectangle<i32, BufferCoord>],
    ) -> Result<(), TandemError> {
        let gpu = self.awake_gpu(gpu)?;
        let id = gpu.id();
        gpu.track_import(frame);
        let texture = gpu
            .renderer()
            .import_dmabuf(frame, None)
            .map_err(TandemError::gles(id))?;
        blit(gpu, target, &texture, Some(frame), rects).map(drop)
    }

    fn count_capture_target(&mut self, target: &Dmabuf, gpu: GpuId, client: Option<&ClientId>) {
        let copies = &mut self.frame_copies;
        copies.forget_gone();
        let known = copies
            .targets
            .iter()
            .any(|kept| kept.gpu == gpu && kept.buffer.upgrade().as_ref() == Some(target));
        if known {
            return;
        }
        let account = self.ledger().record_client_object(
            gpu,
            MemoryKind::CaptureBuffer,
            dmabuf_bytes(target),
            client,
        );
        self.frame_copies.targets.push(CaptureTarget {
            buffer: target.weak(),
            gpu,
            _account: account,
        });
    }
}

/// `rects` clipped to a `width` x `height` frame, empty ones left out.
fn clipped(
    rects: &[Rectangle<i32, BufferCoord>],
    width: i32,
    height: i32,
) -> Vec<Rectangle<i32, BufferCoord>> {
    let whole = Rectangle::from_size((width, height).into());
    rects
        .iter()
        .filter_map(|rect| rect.intersection(whole))
        .filter(|rect| !rect.is_empty())
        .collect()
}
