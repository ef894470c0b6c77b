//! Reading a client dmabuf through its CPU mapping: a linear, single-plane RGB buffer whose
//! mapping cannot fault (a memfd sealed against shrinking, or a udmabuf) is
//! read straight from its memory, with no GPU drawing or reading back: uploaded from the mapping
//! as it is, GL reading the mapping itself ([`with_mapped_image`]), or copied into CPU-copy
//! staging in the client's own byte order or GL's RGBA ([`read_mapped`]). The mapping is
//! memory the client can write meanwhile: it is only ever read through a
//! [`ClientMemory`](super::client_memory::ClientMemory), never through a Rust reference. A surface's CPU copy keeps the buffers it read mapped
//! ([`Mappings`]), so that a client cycling through its buffers is not mapped and faulted in
//! anew every frame.
//!
//! `renderer::copy` asks [`Mappings::readable`] before it chooses the staging's byte order for
//! the CPU copy path; a buffer that cannot be read this way is read back on its GPU.

use std::os::fd::BorrowedFd;

use rustix::fs::SealFlags;
use rustix::mm::{MapFlags, ProtFlags};
use smithay::backend::allocator::dmabuf::{Dmabuf, WeakDmabuf};
use smithay::backend::allocator::{Buffer, Fourcc, Modifier};
use smithay::utils::{Buffer as BufferCoord, Rectangle};

use super::client_memory::ClientMemory;
use super::pixel_format::{bytes_per_pixel, is_yuv, mapped_staging_fourcc, plane_extents};
use super::staging::{
    dma_buf_sync, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START, DMA_BUF_SYNC_WRITE,
};
use super::yuv::{convert_pixels, SampleRow};
use crate::renderer::MemoryImage;

/// `f_type` of a dma-buf file (DMA_BUF_MAGIC in linux/magic.h).
const DMA_BUF_MAGIC: i64 = 0x444d_4142;

/// How the mapped pixels become the staging format ([`mapped_staging_fourcc`]): the client's
/// own (a copy), or GL's RGBA order at the client's depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// Already the staging layout.
    Copy,
    /// 8-bit RGBA with the unused byte set to opaque.
    Opaque,
    /// 8-bit BGRA: red and blue swapped.
    Swap,
    /// 8-bit BGRX: red and blue swapped, the unused byte set to opaque.
    SwapOpaque,
    /// 10-bit RGBA with the unused bits set to opaque.
    Opaque10,
    /// 10-bit BGRA: red and blue swapped.
    Swap10,
    /// 10-bit BGRX: red and blue swapped, the unused bits set to opaque.
    SwapOpaque10,
    /// Half-float RGBX: the unused half set to 1.0.
    OpaqueHalf,
    /// RGB565 widened to 8-bit RGBA.
    Widen565,
}

/// The conversion from a client buffer in `from` into staging in `into`, if there is one.
fn conversion(from: Fourcc, into: Fourcc) -> Option<Conversion> {
    use Fourcc::*;
    if from == into {
        return (bytes_per_pixel(from).is_some() && mapped_staging_fourcc(from).is_some())
            .then_some(Conversion::Copy);
    }
    match (from, into) {
        (Xbgr8888, Abgr8888) => Some(Conversion::Opaque),
        (Argb8888, Abgr8888) => Some(Conversion::Swap),
        (Xrgb8888, Abgr8888) => Some(Conversion::SwapOpaque),
        (Rgb565, Abgr8888) => Some(Conversion::Widen565),
        (Xbgr2101010, Abgr2101010) => Some(Conversion::Opaque10),
        (Argb2101010, Abgr2101010) => Some(Conversion::Swap10),
        (Xrgb2101010, Abgr2101010) => Some(Conversion::SwapOpaque10),
        (Xbgr16161616f, Abgr16161616f) => Some(Conversion::OpaqueHalf),
        _ => None,
    }
}

/// The formats a mapped buffer can be read in: RGB with a staging layout, and YUV (converted).
fn supported(fourcc: Fourcc) -> bool {
    mapped_staging_fourcc(fourcc).is_some()
}

/// Memory whose mapping cannot fault: a memfd sealed against shrinking, or a udmabuf (a
/// dma-buf over such a memfd). Other dma-bufs are read through their GPU: an exporting
/// driver may revoke or move the pages under a CPU mapping (raising SIGBUS), and a linear
/// buffer in a discrete GPU's memory read through its BAR is slower than a GPU readback.
pub(crate) fn cannot_fault(fd: BorrowedFd<'_>) -> bool {
    match rustix::fs::fcntl_get_seals(fd) {
        Ok(seals) => seals.contains(SealFlags::SHRINK),
        Err(_) => dma_buf_exporter(fd).as_deref() == Some(UDMABUF_EXPORTER),
    }
}

/// The exporter name of udmabufs in a dma-buf's fdinfo.
const UDMABUF_EXPORTER: &str = "udmabuf";

/// The driver that exported the dma-buf `fd` (`exp_name` in its fdinfo), if it is one.
fn dma_buf_exporter(fd: BorrowedFd<'_>) -> Option<String> {
    use std::os::fd::AsRawFd;
    // f_type is i64 on some architectures and u32 on others.
    #[allow(clippy::unnecessary_cast)]
    let is_dma_buf = rustix::fs::fstatfs(fd).is_ok_and(|stat| stat.f_type as i64 == DMA_BUF_MAGIC);
    if !is_dma_buf {
        return None;
    }
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix("exp_name:"))
        .map(|name| name.trim().to_string())
}

/// How client dmabufs are read by the CPU copy path, for reports (`msg gpus`).
pub const MAPPED_READ_RULE: &str = "client dmabufs are read through their mapping only when \
     they are memfds sealed against shrinking or udmabufs; other dma-bufs are read back on \
     their GPU";

/// How many client buffers one surface keeps mapped (clients cycle through two or three).
const MAPPINGS_HELD: usize = 4;

/// Client buffers kept mapped between copies, for one surface on one target GPU: mapping a
/// buffer and faulting its pages in again every frame costs about as much as reading it.
/// A mapping goes when its buffer is gone (checked at each copy and at every
/// [`GpuManager::cleanup`](crate::GpuManager::cleanup), so a surface that commits nothing more
/// keeps no destroyed buffer mapped), when more than [`MAPPINGS_HELD`] buffers were read, and
/// when the surface's copy entry is dropped.
#[derive(Default)]
pub(crate) struct Mappings {
    held: Vec<Mapping>,
    /// The buffers are mapped for writing too (capture buffers frames are copied into).
    writable: bool,
}

impl std::fmt::Debug for Mappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mappings")
            .field("held", &self.held.len())
            .field("writable", &self.writable)
            .finish()
    }
}

/// One client buffer's memory, mapped read-only.
struct Mapping {
    buffer: WeakDmabuf,
    ptr: *mut std::ffi::c_void,
    len: usize,
    fourcc: Fourcc,
    width: usize,
    height: usize,
    stride: usize,
    offset: usize,
    /// (offset, stride) of every plane; the first is `offset` and `stride`.
    planes: Vec<(usize, usize)>,
}

// SAFETY: the mapping is owned by this value alone, only read, and unmapped on drop.
unsafe impl Send for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping `Mapping::new` made; nothing borrows it past `&self`.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr, self.len);
        }
    }
}

impl Mapping {
    /// Maps `client` if it can be read this way (and written, when `writable`).
    fn new(client: &Dmabuf, writable: bool) -> Option<Mapping> {
        let fourcc = client.format().code;
        if !supported(fourcc) || client.format().modifier != Modifier::Linear {
            return None;
        }
        let (width, height) = (client.width(), client.height());
        // Each plane's bytes per row and rows, as the format lays them out.
        let extents = plane_extents(fourcc, width, height)?;
        if client.num_planes() != extents.len() {
            return None;
        }
        let fd = client.handles().next()?;
        if !cannot_fault(fd) || !client.handles().all(|other| same_file(fd, other)) {
            return None;
        }
        let planes: Vec<(usize, usize)> = client
            .offsets()
            .zip(client.strides())
            .map(|(offset, stride)| (offset as usize, stride as usize))
            .collect();
        let mut len = 0usize;
        for (&(offset, stride), &(row, rows)) in planes.iter().zip(&extents) {
            let (row, rows) = (usize::try_from(row).ok()?, usize::try_from(rows).ok()?);
            if stride < row {
                return None;
            }
            let end = offset
                .checked_add(stride.checked_mul(rows - 1)?)?
                .checked_add(row)?;
            len = len.max(end);
        }
        let (width, height) = (width as usize, height as usize);
        let (offset, stride) = *planes.first()?;
        let size = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok()? as usize;
        if size < len || len == 0 {
            return None;
        }
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        // SAFETY: a shared mapping of `len` bytes of a file at least that long, which cannot
        // shrink (checked above); unmapped on drop, and only read (or written through
        // raw-pointer copies, when writable) in between.
        let ptr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0) }
                .map_err(|err| tracing::debug!(%err, "client dmabuf does not map"))
                .ok()?;
        Some(Mapping {
            buffer: client.weak(),
            ptr,
            len,
            fourcc,
            width,
            height,
            stride,
            offset,
            planes,
        })
    }

    fn memory(&self) -> ClientMemory {
        // SAFETY: the mapping made in `Mapping::new`, `len` bytes long, alive as long as `self`
        // (the returned value is used while `self` is borrowed).
        unsafe { ClientMemory::new(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Mappings {
    /// Unmaps the buffers that are gone.
    pub(crate) fn forget_gone(&mut self) {
        self.held.retain(|mapping| !mapping.buffer.is_gone());
    }

    /// The mapping of `client`, made now if it has none; `None` if it cannot be mapped.
    fn of(&mut self, client: &Dmabuf) -> Option<&Mapping> {
        self.forget_gone();
        let found = self
            .held
            .iter()
            .position(|mapping| mapping.buffer.upgrade().as_ref() == Some(client));
        let index = match found {
            Some(index) => index,
            None => {
                let mapping = Mapping::new(client, self.writable)?;
                if self.held.len() >= MAPPINGS_HELD {
                    self.held.remove(0);
                }
                self.held.push(mapping);
                self.held.len() - 1
            }
        };
        self.held.get(index)
    }

    /// Whether `client` can be read through its mapping (mapped now if it was not).
    pub(crate) fn readable(&mut self, client: &Dmabuf) -> bool {
        self.of(client).is_some()
    }
}

/// Whether `client` can be read through a CPU mapping at all (mapped and unmapped to see).
pub(crate) fn mappable(client: &Dmabuf) -> bool {
    Mapping::new(client, false).is_some()
}

impl Mappings {
    /// Mappings of buffers that are written too.
    pub(crate) fn writable() -> Mappings {
        Mappings {
            held: Vec::new(),
            writable: true,
        }
    }
}

/// Calls `write` with `target`'s image (a linear XRGB8888 or ARGB8888 buffer whose mapping
/// cannot fault, mapped for writing in `mappings`), between the dma-buf's write
/// synchronisation; `None` when the buffer cannot be written this way.
pub(crate) fn with_writable_image<R>(
    target: &Dmabuf,
    mappings: &mut Mappings,
    write: impl FnOnce(&MemoryImage) -> R,
) -> Option<R> {
    if !mappings.writable || !matches!(target.format().code, Fourcc::Xrgb8888 | Fourcc::Argb8888) {
        return None;
    }
    let mapping = mappings.of(target)?;
    // SAFETY: the mapping made writable in `Mapping::new`, `len` bytes long, alive while
    // `mapping` is borrowed here; no reference is made over it.
    let image = unsafe {
        MemoryImage::new(
            mapping.ptr.cast::<u8>(),
            mapping.len,
            mapping.offset,
            mapping.stride,
        )
    };
    dma_buf_sync(target, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    let result = write(&image);
    dma_buf_sync(target, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    Some(result)
}

/// Calls `read` with the client's memory and the offset of its whole image in it, when its rows
/// are tightly packed and its pixels are already in `layout` (a GPU upload of a texture in
/// that format can then read the client's memory as it is, with no staging); `None` when the
/// buffer cannot be read this way.
pub(crate) fn with_mapped_image<R>(
    client: &Dmabuf,
    mappings: &mut Mappings,
    layout: Fourcc,
    read: impl FnOnce(&ClientMemory, usize) -> R,
) -> Option<R> {
    let mapping = mappings.of(client)?;
    if conversion(mapping.fourcc, layout)? != Conversion::Copy
        || mapping.stride != mapping.width.checked_mul(bytes_per_pixel(layout)?)?
    {
        return None;
    }
    let memory = mapping.memory();
    memory.range_ptr(mapping.offset, mapping.stride.checked_mul(mapping.height)?)?;
    dma_buf_sync(client, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    let result = read(&memory, mapping.offset);
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(result)
}

/// Calls `read` with the client's memory and each plane's (offset, stride) in it, for a
/// buffer read through its mapping (every plane lies inside the memory: checked when it was
/// mapped); `None` when the buffer cannot be read this way.
pub(crate) fn with_mapped_planes<R>(
    client: &Dmabuf,
    mappings: &mut Mappings,
    read: impl FnOnce(&ClientMemory, &[(usize, usize)]) -> R,
) -> Option<R> {
    let mapping = mappings.of(client)?;
    let memory = mapping.memory();
    dma_buf_sync(client, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    let result = read(&memory, &mapping.planes);
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(result)
}

/// Copies `rects` of `client` from its mapping (kept in `mappings`) into `staging` (a tightly
/// packed image of the whole buffer in `into`: the client's own format, or RGBA at its depth);
/// the bytes written, or `None` when the buffer cannot be read this way.
pub(crate) fn read_mapped(
    client: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
    into: Fourcc,
    mappings: &mut Mappings,
) -> Option<u64> {
    let mapping = mappings.of(client)?;
    if is_yuv(mapping.fourcc) {
        return read_mapped_yuv(client, mapping, rects, staging, into);
    }
    let convert = conversion(mapping.fourcc, into)?;
    let (from_bpp, to_bpp) = (bytes_per_pixel(mapping.fourcc)?, bytes_per_pixel(into)?);
    let (width, height, stride, offset) = (
        mapping.width,
        mapping.height,
        mapping.stride,
        mapping.offset,
    );
    let row = width.checked_mul(to_bpp)?;
    if staging.len() < row.checked_mul(height)? {
        return None;
    }
    let memory = mapping.memory();
    let last_byte = stride
        .checked_mul(height.checked_sub(1)?)?
        .checked_add(width.checked_mul(from_bpp)?)?
        .checked_add(offset)?;
    if last_byte > memory.len() {
        return None;
    }
    dma_buf_sync(client, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    let mut written = 0u64;
    for rect in rects {
        let x = rect.loc.x.clamp(0, width as i32) as usize;
        let y = rect.loc.y.clamp(0, height as i32) as usize;
        let right = (rect.loc.x.saturating_add(rect.size.w)).clamp(0, width as i32) as usize;
        let bottom = (rect.loc.y.saturating_add(rect.size.h)).clamp(0, height as i32) as usize;
        if right <= x || bottom <= y {
            continue;
        }
        for line in y..bottom {
            let from = offset + line * stride + x * from_bpp;
            let to = line * row + x * to_bpp;
            let target = &mut staging[to..to + (right - x) * to_bpp];
            copy_row(&memory, from, target, convert, from_bpp, to_bpp)?;
            written += target.len() as u64;
        }
    }
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(written)
}

/// Whether two fds are the same file (every plane of a mapped buffer must be in one).
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (rustix::fs::fstat(a), rustix::fs::fstat(b)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// Converts `rects` of a mapped YUV buffer into RGB staging (`into`: 8-bit RGBA, or ABGR2101010
/// for P010), pixel pairs at a time; the bytes written.
fn read_mapped_yuv(
    client: &Dmabuf,
    mapping: &Mapping,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
    into: Fourcc,
) -> Option<u64> {
    let fourcc = mapping.fourcc;
    if mapped_staging_fourcc(fourcc)? != into {
        return None;
    }
    let (width, height) = (mapping.width, mapping.height);
    let row = width.checked_mul(4)?;
    if staging.len() < row.checked_mul(height)? {
        return None;
    }
    let memory = mapping.memory();
    let plane = |index: usize| mapping.planes.get(index).copied();
    dma_buf_sync(client, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    let mut written = 0u64;
    for rect in rects {
        // Whole pixel pairs: a pair shares its chroma.
        let x = (rect.loc.x.clamp(0, width as i32) as usize) & !1;
        let right = (rect.loc.x.saturating_add(rect.size.w)).clamp(0, width as i32) as usize;
        let right = (right + 1).min(width) & !1;
        let y = rect.loc.y.clamp(0, height as i32) as usize;
        let bottom = (rect.loc.y.saturating_add(rect.size.h)).clamp(0, height as i32) as usize;
        for line in y..bottom {
            let mut at = x;
            while at < right {
                let n = (right - at).min(BLOCK);
                let mut luma = [0u8; BLOCK * 2];
                let mut chroma = [0u8; BLOCK * 2];
                let mut chroma_v = [0u8; BLOCK / 2];
                let (luma_len, chroma_len, v_len) = match fourcc {
                    Fourcc::Nv12 => (n, n, 0),
                    Fourcc::P010 => (2 * n, 2 * n, 0),
                    Fourcc::Yuv420 => (n, n / 2, n / 2),
                    _ => (2 * n, 0, 0),
                };
                let (luma_bpp, chroma_bpp) = match fourcc {
                    Fourcc::Nv12 => (1, 1),
                    Fourcc::P010 => (2, 2),
                    Fourcc::Yuv420 => (1, 0),
                    _ => (2, 0),
                };
                let (offset, stride) = plane(0)?;
                memory.copy_to(
                    offset + line * stride + at * luma_bpp,
                    &mut luma[..luma_len],
                )?;
                if chroma_len > 0 {
                    let (offset, stride) = plane(1)?;
                    let start = if fourcc == Fourcc::Yuv420 {
                        at / 2
                    } else {
                        at * chroma_bpp
                    };
                    memory.copy_to(
                        offset + line / 2 * stride + start,
                        &mut chroma[..chroma_len],
                    )?;
                }
                if v_len > 0 {
                    let (offset, stride) = plane(2)?;
                    memory.copy_to(offset + line / 2 * stride + at / 2, &mut chroma_v[..v_len])?;
                }
                let out = &mut staging[line * row + at * 4..line * row + (at + n) * 4];
                let samples = SampleRow {
                    luma: &luma[..luma_len],
                    chroma: &chroma[..chroma_len],
                    chroma_v: &chroma_v[..v_len],
                };
                convert_pixels(fourcc, &samples, n, out);
                written += out.len() as u64;
                at += n;
            }
        }
    }
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(written)
}

/// Pixels converted together: a block the compiler turns into vector instructions.
const BLOCK: usize = 64;

/// Copies the row of pixels at `from` in the client's memory into `target`, converted; the
/// client's bytes pass through a block on the stack, never a reference into its memory.
fn copy_row(
    memory: &ClientMemory,
    from: usize,
    target: &mut [u8],
    convert: Conversion,
    from_bpp: usize,
    to_bpp: usize,
) -> Option<()> {
    if convert == Conversion::Copy {
        return memory.copy_to(from, target);
    }
    let mut block = [0u8; BLOCK * 8];
    for (index, out) in target.chunks_mut(BLOCK * to_bpp).enumerate() {
        let source = &mut block[..out.len() / to_bpp * from_bpp];
        memory.copy_to(from + index * BLOCK * from_bpp, source)?;
        convert_row(convert, source, out);
    }
    Some(())
}

/// Converts the pixels of `from` (the client's layout) into `to` (the staging layout).
fn convert_row(convert: Conversion, from: &[u8], to: &mut [u8]) {
    match convert {
        Conversion::Copy => to.copy_from_slice(from),
        Conversion::OpaqueHalf => {
            for (source, target) in from.chunks_exact(8).zip(to.chunks_exact_mut(8)) {
                target[..6].copy_from_slice(&source[..6]);
                target[6..].copy_from_slice(&HALF_ONE.to_le_bytes());
            }
        }
        Conversion::Widen565 => {
            for (source, target) in from.chunks_exact(2).zip(to.chunks_exact_mut(4)) {
                target.copy_from_slice(&widen_565(u16::from_le_bytes([source[0], source[1]])));
            }
        }
        // One loop per conversion, so that each is simple enough to be vectorized.
        Conversion::Swap => map_pixels(from, to, |p| convert_pixel(Conversion::Swap, p)),
        Conversion::SwapOpaque => {
            map_pixels(from, to, |p| convert_pixel(Conversion::SwapOpaque, p))
        }
        Conversion::Opaque => map_pixels(from, to, |p| convert_pixel(Conversion::Opaque, p)),
        Conversion::Swap10 => map_pixels(from, to, |p| convert_pixel(Conversion::Swap10, p)),
        Conversion::SwapOpaque10 => {
            map_pixels(from, to, |p| convert_pixel(Conversion::SwapOpaque10, p))
        }
        Conversion::Opaque10 => map_pixels(from, to, |p| convert_pixel(Conversion::Opaque10, p)),
    }
}

/// Writes `convert` of every little-endian 32-bit pixel of `from` into `to`.
#[inline(always)]
fn map_pixels(from: &[u8], to: &mut [u8], convert: impl Fn(u32) -> u32) {
    for (source, target) in from.chunks_exact(4).zip(to.chunks_exact_mut(4)) {
        let pixel = u32::from_le_bytes([source[0], source[1], source[2], source[3]]);
        target.copy_from_slice(&convert(pixel).to_le_bytes());
    }
}

/// 1.0 as a half float.
const HALF_ONE: u16 = 0x3c00;

/// An RGB565 pixel as opaque 8-bit RGBA, each channel's top bits repeated into its low bits.
fn widen_565(pixel: u16) -> [u8; 4] {
    let (r, g, b) = ((pixel >> 11) & 0x1f, (pixel >> 5) & 0x3f, pixel & 0x1f);
    [
        ((r << 3) | (r >> 2)) as u8,
        ((g << 2) | (g >> 4)) as u8,
        ((b << 3) | (b >> 2)) as u8,
        0xff,
    ]
}

/// One little-endian 32-bit pixel in the staging layout.
#[inline(always)]
fn convert_pixel(convert: Conversion, pixel: u32) -> u32 {
    match convert {
        Conversion::Swap | Conversion::SwapOpaque => {
            let swapped = (pixel & 0xff00_ff00) | ((pixel >> 16) & 0xff) | ((pixel & 0xff) << 16);
            if convert == Conversion::SwapOpaque {
                swapped | 0xff00_0000
            } else {
                swapped
            }
        }
        Conversion::Opaque => pixel | 0xff00_0000,
        Conversion::Swap10 | Conversion::SwapOpaque10 => {
            let swapped = (pixel & 0xc00f_fc00) | ((pixel >> 20) & 0x3ff) | ((pixel & 0x3ff) << 20);
            if convert == Conversion::SwapOpaque10 {
                swapped | 0xc000_0000
            } else {
                swapped
            }
        }
        Conversion::Opaque10 => pixel | 0xc000_0000,
        _ => pixel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_convert_to_rgba() {
        // ARGB8888 in memory: B, G, R, A.
        let bgra = [0x10, 0x20, 0x30, 0x40];
        let mut out = [0u8; 4];
        convert_row(Conversion::Swap, &bgra, &mut out);
        assert_eq!(out, [0x30, 0x20, 0x10, 0x40]);
        convert_row(Conversion::SwapOpaque, &bgra, &mut out);
        assert_eq!(out, [0x30, 0x20, 0x10, 0xff]);
        convert_row(Conversion::Opaque, &bgra, &mut out);
        assert_eq!(out, [0x10, 0x20, 0x30, 0xff]);
        convert_row(Conversion::Copy, &bgra, &mut out);
        assert_eq!(out, bgra);
    }

    #[test]
    fn staging_in_the_clients_format_is_a_copy() {
        assert_eq!(
            conversion(Fourcc::Argb8888, Fourcc::Argb8888),
            Some(Conversion::Copy)
        );
        assert_eq!(
            conversion(Fourcc::Xrgb8888, Fourcc::Xrgb8888),
            Some(Conversion::Copy)
        );
        assert_eq!(
            conversion(Fourcc::Argb8888, Fourcc::Abgr8888),
            Some(Conversion::Swap)
        );
        assert_eq!(conversion(Fourcc::Argb8888, Fourcc::Xrgb8888), None);
        assert_eq!(conversion(Fourcc::Nv12, Fourcc::Nv12), None);
    }

    #[test]
    fn deep_formats_convert_to_rgba_at_their_depth() {
        // ARGB2101010: A=3, R=0x3ff, G=0x155, B=0x001.
        let argb10: u32 = (3 << 30) | (0x3ff << 20) | (0x155 << 10) | 0x001;
        let abgr10: u32 = (3 << 30) | (0x001 << 20) | (0x155 << 10) | 0x3ff;
        let mut out = [0u8; 4];
        convert_row(Conversion::Swap10, &argb10.to_le_bytes(), &mut out);
        assert_eq!(u32::from_le_bytes(out), abgr10);
        convert_row(
            Conversion::SwapOpaque10,
            &(argb10 & !(3 << 30)).to_le_bytes(),
            &mut out,
        );
        assert_eq!(u32::from_le_bytes(out), abgr10);
        convert_row(
            Conversion::Opaque10,
            &(abgr10 & !(3 << 30)).to_le_bytes(),
            &mut out,
        );
        assert_eq!(u32::from_le_bytes(out), abgr10);
        // Half floats: 2.5 red is kept, the unused half becomes 1.0.
        let xbgr_half = [0x00, 0x41, 0x00, 0x38, 0x00, 0x00, 0x12, 0x34];
        let mut half = [0u8; 8];
        convert_row(Conversion::OpaqueHalf, &xbgr_half, &mut half);
        assert_eq!(half, [0x00, 0x41, 0x00, 0x38, 0x00, 0x00, 0x00, 0x3c]);
        // RGB565 full red, half green, no blue.
        let rgb565: u16 = (0x1f << 11) | (0x20 << 5);
        convert_row(Conversion::Widen565, &rgb565.to_le_bytes(), &mut out);
        assert_eq!(out, [0xff, 0x82, 0x00, 0xff]);
        assert_eq!(
            conversion(Fourcc::Xrgb2101010, Fourcc::Abgr2101010),
            Some(Conversion::SwapOpaque10)
        );
        assert_eq!(
            conversion(Fourcc::Abgr16161616f, Fourcc::Abgr16161616f),
            Some(Conversion::Copy)
        );
        assert_eq!(conversion(Fourcc::Xrgb2101010, Fourcc::Abgr8888), None);
    }

    #[test]
    fn every_carried_format_has_a_mapped_conversion() {
        for fourcc in crate::texture::pixel_format::CARRIED_FORMATS {
            let staging = mapped_staging_fourcc(fourcc).expect("a staging format");
            // RGB converts pixel by pixel; YUV through texture::yuv.
            assert_eq!(
                conversion(fourcc, staging).is_some(),
                !is_yuv(fourcc),
                "{fourcc:?}"
            );
        }
    }
}
