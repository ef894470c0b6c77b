//! The client pixel formats Tandem carries between GPUs, and what each copy path moves them in.
//!
//! One table for the copy code (`renderer::copy`, `renderer::gl_copy`), the mapped reads
//! (`texture::mapped`), staging (`texture::staging`), the memfd allocator and the format probe
//! ([`GpuManager::carried_formats`](crate::GpuManager::carried_formats)). Depth is kept end to end: a 10-bit buffer travels
//! in 10-bit slots, staging and textures, a half-float one in half floats. YUV buffers are drawn
//! by a GPU that can sample them into an RGB slot of their depth, or converted on the CPU from
//! their mapping into RGB staging of their depth (no GPU binds them to read back).
//!
//! | formats                 | slot and staging  | readback (GL format, type)         |
//! |-------------------------|-------------------|------------------------------------|
//! | AR24 XR24               | AR24 (BGRA reads) | BGRA, or RGBA into AB24            |
//! | AB24 XB24               | AB24              | RGBA, UNSIGNED_BYTE                |
//! | AR30 XR30 AB30 XB30     | AB30 (AR30 slot for AR30/XR30) | RGBA, UNSIGNED_INT_2_10_10_10_REV |
//! | AB4H XB4H               | AB4H              | RGBA, HALF_FLOAT                   |
//! | RG16 (RGB565)           | AR24 slot, AB24 staging | RGBA, UNSIGNED_BYTE          |
//! | NV12 YU12 YUYV          | AR24 slot, AB24 staging (mapped, converted) | none     |
//! | P010                    | AB30 slot, AB30 staging (mapped, converted) | none     |

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::ffi;

/// Every format a client buffer may have that Tandem knows how to carry, in the order
/// they are probed and advertised.
pub const CARRIED_FORMATS: [Fourcc; 15] = [
    Fourcc::Argb8888,
    Fourcc::Xrgb8888,
    Fourcc::Abgr8888,
    Fourcc::Xbgr8888,
    Fourcc::Argb2101010,
    Fourcc::Xrgb2101010,
    Fourcc::Abgr2101010,
    Fourcc::Xbgr2101010,
    Fourcc::Abgr16161616f,
    Fourcc::Xbgr16161616f,
    Fourcc::Rgb565,
    Fourcc::Nv12,
    Fourcc::P010,
    Fourcc::Yuv420,
    Fourcc::Yuyv,
];

/// How much of each colour a format holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// 5 or 6 bits per channel (RGB565).
    Low,
    /// 8 bits per channel, RGB or YUV.
    Eight,
    /// 10 bits per channel, RGB or YUV.
    Ten,
    /// 16-bit floats: values outside 0..1 are kept.
    HalfFloat,
}

/// The depth of `fourcc`, if Tandem carries it.
pub fn depth(fourcc: Fourcc) -> Option<Depth> {
    use Fourcc::*;
    match fourcc {
        Rgb565 => Some(Depth::Low),
        Argb8888 | Xrgb8888 | Abgr8888 | Xbgr8888 | Nv12 | Yuv420 | Yuyv => Some(Depth::Eight),
        Argb2101010 | Xrgb2101010 | Abgr2101010 | Xbgr2101010 | P010 => Some(Depth::Ten),
        Abgr16161616f | Xbgr16161616f => Some(Depth::HalfFloat),
        _ => None,
    }
}

/// Whether `fourcc` is a YUV format (sampled through an external image, never bound to draw).
pub fn is_yuv(fourcc: Fourcc) -> bool {
    matches!(
        fourcc,
        Fourcc::Nv12 | Fourcc::P010 | Fourcc::Yuv420 | Fourcc::Yuyv
    )
}

/// Bytes per pixel of a single-plane RGB format (YUV formats have none: see [`plane_layout`]).
pub fn bytes_per_pixel(fourcc: Fourcc) -> Option<usize> {
    use Fourcc::*;
    match fourcc {
        Rgb565 => Some(2),
        Argb8888 | Xrgb8888 | Abgr8888 | Xbgr8888 | Argb2101010 | Xrgb2101010 | Abgr2101010
        | Xbgr2101010 => Some(4),
        Abgr16161616f | Xbgr16161616f => Some(8),
        _ => None,
    }
}

/// The format a shadow slot of a `source` buffer has: at least the source's depth, alpha kept,
/// the channel order kept where a format of that depth has it. 10-bit buffers keep their own
/// format: a blit between identical formats is a copy, where a change of format (even of the
/// unused alpha bits alone) is a conversion per pixel on GPUs that blit in software.
pub fn transfer_fourcc(source: Fourcc) -> Fourcc {
    use Fourcc::*;
    match source {
        Abgr8888 | Xbgr8888 => Abgr8888,
        Argb2101010 | Xrgb2101010 | Abgr2101010 | Xbgr2101010 => source,
        P010 => Abgr2101010,
        Abgr16161616f | Xbgr16161616f => Abgr16161616f,
        _ => Argb8888,
    }
}

/// The format CPU-copy staging holds when the source GPU reads `source` back: GL's RGBA order
/// at the source's depth, or BGRA for 8-bit BGRA buffers where the GPU reads that order.
/// `None` for formats no GPU binds to read (YUV).
pub fn readback_fourcc(source: Fourcc, reads_bgra: bool) -> Option<Fourcc> {
    use Fourcc::*;
    match source {
        Argb8888 | Xrgb8888 if reads_bgra => Some(source),
        Abgr8888 | Xbgr8888 => Some(source),
        Argb8888 | Xrgb8888 | Rgb565 => Some(Abgr8888),
        Argb2101010 | Xrgb2101010 | Abgr2101010 | Xbgr2101010 => Some(Abgr2101010),
        Abgr16161616f | Xbgr16161616f => Some(Abgr16161616f),
        _ => None,
    }
}

/// The format CPU-copy staging holds when `source` is read from its mapping: its own where GL
/// uploads that layout, else RGBA at its depth (YUV converted on the CPU: `texture::yuv`).
/// `None` for formats Tandem does not carry.
pub fn mapped_staging_fourcc(source: Fourcc) -> Option<Fourcc> {
    use Fourcc::*;
    match source {
        Argb8888 | Xrgb8888 | Abgr8888 | Xbgr8888 => Some(source),
        Rgb565 | Nv12 | Yuv420 | Yuyv => Some(Abgr8888),
        Argb2101010 | Xrgb2101010 | Abgr2101010 | Xbgr2101010 | P010 => Some(Abgr2101010),
        Abgr16161616f | Xbgr16161616f => Some(Abgr16161616f),
        _ => None,
    }
}

/// The `glReadPixels` format and type that write staging of `fourcc`.
pub(crate) fn gl_read_format(fourcc: Fourcc) -> Option<(ffi::types::GLenum, ffi::types::GLenum)> {
    use Fourcc::*;
    match fourcc {
        Abgr8888 | Xbgr8888 => Some((ffi::RGBA, ffi::UNSIGNED_BYTE)),
        Argb8888 | Xrgb8888 => Some((ffi::BGRA_EXT, ffi::UNSIGNED_BYTE)),
        Abgr2101010 => Some((ffi::RGBA, ffi::UNSIGNED_INT_2_10_10_10_REV)),
        Abgr16161616f => Some((ffi::RGBA, ffi::HALF_FLOAT)),
        _ => None,
    }
}

/// One plane of a linear buffer: where it starts and how far apart its rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneLayout {
    /// Bytes from the start of the memory to the plane's first row.
    pub offset: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
}

/// Row and plane alignment of the linear buffers Tandem lays out.
const ALIGN: u64 = 64;

/// The planes of a linear `width`x`height` buffer of `fourcc` laid out in one piece of memory
/// (rows and planes 64-byte aligned), and its length; `None` for unknown formats, odd sizes of
/// subsampled formats, and sizes that overflow.
pub fn plane_layout(fourcc: Fourcc, width: u32, height: u32) -> Option<(Vec<PlaneLayout>, u64)> {
    let planes = plane_extents(fourcc, width, height)?;
    let mut layout = Vec::with_capacity(planes.len());
    let mut offset = 0u64;
    for (row, rows) in planes {
        let stride = row.div_ceil(ALIGN).checked_mul(ALIGN)?;
        layout.push(PlaneLayout {
            offset: u32::try_from(offset).ok()?,
            stride: u32::try_from(stride).ok()?,
        });
        offset = offset
            .checked_add(stride.checked_mul(rows)?)?
            .div_ceil(ALIGN)
            .checked_mul(ALIGN)?;
    }
    Some((layout, offset))
}

/// The bytes of an image of `fourcc` with no padding between rows or planes: what a copy of
/// the whole image moves.
pub fn image_bytes(fourcc: Fourcc, width: u32, height: u32) -> Option<u64> {
    plane_extents(fourcc, width, height)?
        .into_iter()
        .try_fold(0u64, |sum, (row, rows)| {
            sum.checked_add(row.checked_mul(rows)?)
        })
}

/// (bytes per row, rows) of each plane of a `width`x`height` image of `fourcc`.
pub(crate) fn plane_extents(fourcc: Fourcc, width: u32, height: u32) -> Option<Vec<(u64, u64)>> {
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return None;
    }
    let (w, h) = (u64::from(width), u64::from(height));
    let subsampled = matches!(fourcc, Fourcc::Nv12 | Fourcc::P010 | Fourcc::Yuv420);
    if (subsampled && (w % 2 != 0 || h % 2 != 0)) || (fourcc == Fourcc::Yuyv && w % 2 != 0) {
        return None;
    }
    Some(match fourcc {
        Fourcc::Nv12 => vec![(w, h), (w, h / 2)],
        Fourcc::P010 => vec![(w * 2, h), (w * 2, h / 2)],
        Fourcc::Yuv420 => vec![(w, h), (w / 2, h / 2), (w / 2, h / 2)],
        Fourcc::Yuyv => vec![(w * 2, h)],
        other => vec![(w * bytes_per_pixel(other)? as u64, h)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every carried format has a depth, and its slot and staging are at least that deep.
    #[test]
    fn depth_is_kept_by_every_path() {
        let rank = |fourcc| match depth(fourcc) {
            Some(Depth::Low) => 0,
            Some(Depth::Eight) => 1,
            Some(Depth::Ten) => 2,
            Some(Depth::HalfFloat) => 3,
            None => panic!("{fourcc:?} has no depth"),
        };
        for fourcc in CARRIED_FORMATS {
            let slot = transfer_fourcc(fourcc);
            assert!(rank(slot) >= rank(fourcc), "{fourcc:?} slot {slot:?}");
            assert!(!is_yuv(slot) && bytes_per_pixel(slot).is_some());
            for staging in [
                readback_fourcc(fourcc, false),
                readback_fourcc(fourcc, true),
                mapped_staging_fourcc(fourcc),
            ]
            .into_iter()
            .flatten()
            {
                assert!(
                    rank(staging) >= rank(fourcc),
                    "{fourcc:?} staging {staging:?}"
                );
            }
            if let Some(readback) = readback_fourcc(fourcc, false) {
                assert!(gl_read_format(readback).is_some(), "{readback:?}");
            }
            assert_eq!(is_yuv(fourcc), readback_fourcc(fourcc, false).is_none());
            assert!(plane_layout(fourcc, 64, 32).is_some(), "{fourcc:?}");
        }
        assert_eq!(depth(Fourcc::Bgr888), None);
    }

    #[test]
    fn planes_are_laid_out_one_after_another() {
        let (planes, len) = plane_layout(Fourcc::Nv12, 100, 50).expect("nv12");
        assert_eq!(
            planes,
            [
                PlaneLayout {
                    offset: 0,
                    stride: 128
                },
                PlaneLayout {
                    offset: 6400,
                    stride: 128
                }
            ]
        );
        assert_eq!(len, 6400 + 3200);
        let (planes, _) = plane_layout(Fourcc::Yuv420, 64, 64).expect("yuv420");
        assert_eq!(planes.len(), 3);
        assert_eq!(planes[1].stride, 64);
        let (planes, len) = plane_layout(Fourcc::Abgr16161616f, 10, 3).expect("ab4h");
        assert_eq!(planes[0].stride, 128);
        assert_eq!(len, 384);
        assert!(plane_layout(Fourcc::Nv12, 101, 50).is_none());
        assert!(plane_layout(Fourcc::Yuyv, 3, 2).is_none());
        assert!(plane_layout(Fourcc::Argb8888, 0, 2).is_none());
        assert!(plane_layout(Fourcc::Abgr16161616f, i32::MAX as u32, i32::MAX as u32).is_none());
        assert_eq!(
            image_bytes(Fourcc::Nv12, 1920, 1080),
            Some(1920 * 1080 * 3 / 2)
        );
        assert_eq!(image_bytes(Fourcc::Abgr16161616f, 10, 3), Some(240));
    }
}
