//! Reading a client dmabuf through its CPU mapping: a linear, single-plane, 32-bit buffer whose
//! memory cannot shrink under the mapping (a dma-buf, or a memfd sealed against shrinking) is
//! copied straight from its memory into CPU-copy staging, with no GPU drawing or reading back.
//!
//! `renderer::copy` tries [`read_mapped`] before a GPU readback for the CPU copy path; `None`
//! means the buffer cannot be read this way and the readback is used.

use std::os::fd::BorrowedFd;

use rustix::fs::SealFlags;
use rustix::mm::{MapFlags, ProtFlags};
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc, Modifier};
use smithay::utils::{Buffer as BufferCoord, Rectangle};

use super::staging::{dma_buf_sync, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_START};

/// `f_type` of a dma-buf file (DMA_BUF_MAGIC in linux/magic.h).
const DMA_BUF_MAGIC: i64 = 0x444d_4142;

/// How the mapped pixels become the staging format (GL's RGBA byte order, `Abgr8888`).
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

fn conversion(fourcc: Fourcc) -> Option<Conversion> {
    match fourcc {
        Fourcc::Abgr8888 => Some(Conversion::Copy),
        Fourcc::Xbgr8888 => Some(Conversion::Opaque),
        Fourcc::Argb8888 => Some(Conversion::Swap),
        Fourcc::Xrgb8888 => Some(Conversion::SwapOpaque),
        _ => None,
    }
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

/// Copies `rects` of `client` from its mapping into `staging` (a tightly packed RGBA image of
/// the whole buffer); the bytes written, or `None` when the buffer cannot be read this way.
pub(crate) fn read_mapped(
    client: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
) -> Option<u64> {
    let convert = conversion(client.format().code)?;
    if client.format().modifier != Modifier::Linear || client.num_planes() != 1 {
        return None;
    }
    let fd = client.handles().next()?;
    if !cannot_shrink(fd) {
        return None;
    }
    let (width, height) = (client.width() as usize, client.height() as usize);
    let stride = client.strides().next()? as usize;
    let offset = client.offsets().next()? as usize;
    let row = width.checked_mul(4)?;
    if stride < row || staging.len() < row.checked_mul(height)? {
        return None;
    }
    let needed = offset.checked_add(stride.checked_mul(height)?)?;
    let size = rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok()? as usize;
    if size < needed || needed == 0 {
        return None;
    }
    // SAFETY: a read-only shared mapping of `needed` bytes of a file at least that long, which
    // cannot shrink (checked above); it is unmapped below and only read in between.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            needed,
            ProtFlags::READ,
            MapFlags::SHARED,
            fd,
            0,
        )
    }
    .map_err(|err| tracing::debug!(%err, "client dmabuf does not map"))
    .ok()?;
    // SAFETY: the mapping made above, `needed` bytes long.
    let memory = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), needed) };
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
            convert_row(
                convert,
                &memory[from..from + bytes],
                &mut staging[to..to + bytes],
            );
            written += bytes as u64;
        }
    }
    dma_buf_sync(client, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    // SAFETY: unmaps the mapping made above; `memory` is not used after this.
    unsafe {
        let _ = rustix::mm::munmap(ptr, needed);
    }
    Some(written)
}

fn convert_row(convert: Conversion, from: &[u8], to: &mut [u8]) {
    if convert == Conversion::Copy {
        to.copy_from_slice(from);
        return;
    }
    for (source, target) in from.chunks_exact(4).zip(to.chunks_exact_mut(4)) {
        let pixel = u32::from_le_bytes([source[0], source[1], source[2], source[3]]);
        let swapped = match convert {
            Conversion::Swap | Conversion::SwapOpaque => {
                (pixel & 0xff00_ff00) | ((pixel >> 16) & 0xff) | ((pixel & 0xff) << 16)
            }
            _ => pixel,
        };
        let opaque = match convert {
            Conversion::Opaque | Conversion::SwapOpaque => swapped | 0xff00_0000,
            _ => swapped,
        };
        target.copy_from_slice(&opaque.to_le_bytes());
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
}
