//! Reading a client dmabuf through its CPU mapping: a linear, single-plane, 32-bit buffer whose
//! memory cannot shrink under the mapping (a dma-buf, or a memfd sealed against shrinking) is
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
use super::staging::{dma_buf_sync, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START};

/// `f_type` of a dma-buf file (DMA_BUF_MAGIC in linux/magic.h).
const DMA_BUF_MAGIC: i64 = 0x444d_4142;

/// How the mapped pixels become the staging format: the client's own (a copy), or GL's RGBA
/// byte order (`Abgr8888`), which readbacks write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// Already RGBA.
    Copy,
    /// RGBA with the unused byte set to opaque.
    Opaque,
    /// BGRA: red and blue swapped.
    Swap,
    /// BGRX: red and blue swapped, the unused byte set to opaque.
    SwapOpaque,
}

/// The conversion from a client buffer in `from` into staging in `into`, if there is one.
fn conversion(from: Fourcc, into: Fourcc) -> Option<Conversion> {
    if from == into {
        return supported(from).then_some(Conversion::Copy);
    }
    if into != Fourcc::Abgr8888 {
        return None;
    }
    match from {
        Fourcc::Abgr8888 => Some(Conversion::Copy),
        Fourcc::Xbgr8888 => Some(Conversion::Opaque),
        Fourcc::Argb8888 => Some(Conversion::Swap),
        Fourcc::Xrgb8888 => Some(Conversion::SwapOpaque),
        _ => None,
    }
}

/// The 32-bit formats a mapped buffer can be read in.
fn supported(fourcc: Fourcc) -> bool {
    matches!(
        fourcc,
        Fourcc::Abgr8888 | Fourcc::Xbgr8888 | Fourcc::Argb8888 | Fourcc::Xrgb8888
    )
}

/// Memory that cannot shrink while it is mapped: reading it never raises SIGBUS.
fn cannot_shrink(fd: BorrowedFd<'_>) -> bool {
    match rustix::fs::fcntl_get_seals(fd) {
        Ok(seals) => seals.contains(SealFlags::SHRINK),
        // f_type is i64 on some architectures and u32 on others.
        #[allow(clippy::unnecessary_cast)]
        Err(_) => rustix::fs::fstatfs(fd).is_ok_and(|stat| stat.f_type as i64 == DMA_BUF_MAGIC),
    }
}

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
}

impl std::fmt::Debug for Mappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mappings")
            .field("held", &self.held.len())
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
    /// Maps `client` if it can be read this way.
    fn new(client: &Dmabuf) -> Option<Mapping> {
        let fourcc = client.format().code;
        if !supported(fourcc)
            || client.format().modifier != Modifier::Linear
            || client.num_planes() != 1
        {
            return None;
        }
        let fd = client.handles().next()?;
        if !cannot_shrink(fd) {
            return None;
        }
        let (width, height) = (client.width() as usize, client.height() as usize);
        let stride = client.strides().next()? as usize;
        let offset = client.offsets().next()? as usize;
        if stride < width.checked_mul(4)? {
            return None;
        }
        let len = offset.checked_add(stride.checked_mul(height)?)?;
        let size = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok()? as usize;
        if size < len || len == 0 {
            return None;
        }
        // SAFETY: a read-only shared mapping of `len` bytes of a file at least that long, which
        // cannot shrink (checked above); unmapped on drop and only read in between.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                fd,
                0,
            )
        }
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
                let mapping = Mapping::new(client)?;
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

/// Calls `read` with the client's memory and the offset of its whole image in it, when its rows
/// are tightly packed (a GPU upload can then read the client's memory as it is, with no
/// staging); `None` when the buffer cannot be read this way.
pub(crate) fn with_mapped_image<R>(
    client: &Dmabuf,
    mappings: &mut Mappings,
    read: impl FnOnce(&ClientMemory, usize) -> R,
) -> Option<R> {
    let mapping = mappings.of(client)?;
    if mapping.stride != mapping.width * 4 {
        return None;
    }
    let memory = mapping.memory();
    memory.range_ptr(mapping.offset, mapping.stride.checked_mul(mapping.height)?)?;
    dma_buf_sync(client, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    let result = read(&memory, mapping.offset);
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(result)
}

/// Copies `rects` of `client` from its mapping (kept in `mappings`) into `staging` (a tightly
/// packed image of the whole buffer in `into`: the client's own format, or RGBA); the bytes
/// written, or `None` when the buffer cannot be read this way.
pub(crate) fn read_mapped(
    client: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
    into: Fourcc,
    mappings: &mut Mappings,
) -> Option<u64> {
    let mapping = mappings.of(client)?;
    let convert = conversion(mapping.fourcc, into)?;
    let (width, height, stride, offset) = (
        mapping.width,
        mapping.height,
        mapping.stride,
        mapping.offset,
    );
    let row = width * 4;
    if staging.len() < row.checked_mul(height)? {
        return None;
    }
    let memory = mapping.memory();
    let last_byte = stride
        .checked_mul(height.checked_sub(1)?)?
        .checked_add(row)?
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
        let bytes = (right - x) * 4;
        for line in y..bottom {
            let from = offset + line * stride + x * 4;
            let to = line * row + x * 4;
            let target = &mut staging[to..to + bytes];
            memory.copy_to(from, target)?;
            convert_in_place(convert, target);
            written += bytes as u64;
        }
    }
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    Some(written)
}

/// Converts a row of pixels already copied into Tandem's memory.
fn convert_in_place(convert: Conversion, row: &mut [u8]) {
    if convert == Conversion::Copy {
        return;
    }
    for chunk in row.chunks_mut(BLOCK * 4) {
        let mut block = [0u8; BLOCK * 4];
        let block = &mut block[..chunk.len()];
        block.copy_from_slice(chunk);
        convert_row(convert, block, chunk);
    }
}

/// Pixels converted together: a block the compiler turns into vector instructions.
const BLOCK: usize = 64;

fn convert_row(convert: Conversion, from: &[u8], to: &mut [u8]) {
    if convert == Conversion::Copy {
        to.copy_from_slice(from);
        return;
    }
    let mut from_blocks = from.chunks_exact(BLOCK * 4);
    let mut to_blocks = to.chunks_exact_mut(BLOCK * 4);
    for (source, target) in (&mut from_blocks).zip(&mut to_blocks) {
        let mut pixels = [0u32; BLOCK];
        for (pixel, bytes) in pixels.iter_mut().zip(source.chunks_exact(4)) {
            *pixel = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        for pixel in &mut pixels {
            *pixel = convert_pixel(convert, *pixel);
        }
        for (pixel, bytes) in pixels.iter().zip(target.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&pixel.to_le_bytes());
        }
    }
    let rest = from_blocks.remainder();
    for (source, target) in rest
        .chunks_exact(4)
        .zip(to_blocks.into_remainder().chunks_exact_mut(4))
    {
        let pixel = u32::from_le_bytes([source[0], source[1], source[2], source[3]]);
        target.copy_from_slice(&convert_pixel(convert, pixel).to_le_bytes());
    }
}

/// One little-endian pixel in the staging byte order.
#[inline(always)]
fn convert_pixel(convert: Conversion, pixel: u32) -> u32 {
    let swapped = match convert {
        Conversion::Swap | Conversion::SwapOpaque => {
            (pixel & 0xff00_ff00) | ((pixel >> 16) & 0xff) | ((pixel & 0xff) << 16)
        }
        _ => pixel,
    };
    match convert {
        Conversion::Opaque | Conversion::SwapOpaque => swapped | 0xff00_0000,
        _ => swapped,
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
    fn long_rows_convert_like_single_pixels() {
        let pixels = BLOCK * 2 + 7;
        let from: Vec<u8> = (0..pixels * 4).map(|i| (i * 37 % 251) as u8).collect();
        for convert in [
            Conversion::Swap,
            Conversion::SwapOpaque,
            Conversion::Opaque,
            Conversion::Copy,
        ] {
            let mut row = vec![0u8; from.len()];
            convert_row(convert, &from, &mut row);
            for (i, source) in from.chunks_exact(4).enumerate() {
                let mut one = [0u8; 4];
                convert_row(convert, source, &mut one);
                assert_eq!(&row[i * 4..i * 4 + 4], &one, "pixel {i} of {convert:?}");
            }
        }
    }
}
