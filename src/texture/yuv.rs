//! YUV to RGB on the CPU, for YUV client buffers that no GPU on their way can sample (llvmpipe
//! imports none of NV12, P010 and YU12): the CPU copy path reads them from their mapping and
//! converts the damaged rows into RGB staging of their depth (8-bit RGBA for 8-bit YUV, 10-bit
//! RGBA for P010), which the drawing GPU uploads or samples in place.
//!
//! The conversion is the one a buffer without colour hints gets by default, as GPUs sample such
//! external images: BT.601, limited range. [`Conversion::new`] also makes BT.709 and full-range
//! ones. Chroma is sited as the formats define it, one sample per 2x2 pixels (NV12, P010, YU12)
//! or per 2x1 (YUYV), without interpolation. `texture::mapped` reads the client's memory into
//! blocks on the stack (never a reference into it) and calls [`convert_pixels`] on each.

use smithay::backend::allocator::Fourcc;

/// The matrix a YUV buffer was encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matrix {
    /// ITU-R BT.601 (standard definition; what buffers without hints are taken to be).
    Bt601,
    /// ITU-R BT.709 (high definition).
    Bt709,
}

/// The range of a YUV buffer's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Y in 16..235, chroma in 16..240 (scaled for deeper samples).
    Limited,
    /// Every code used.
    Full,
}

/// Fixed-point fractional bits of the coefficients.
const SHIFT: u32 = 16;

/// `value` in fixed point with [`SHIFT`] fractional bits, rounded.
const fn fixed(value: f64) -> i32 {
    (value * (1u32 << SHIFT) as f64 + 0.5) as i32
}

/// One YUV to RGB conversion, exact: offsets in sample codes, scales per code. The CPU path
/// makes fixed-point [`Conversion`]s of it, the GPU path shader uniforms
/// ([`Coefficients::normalized`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// The code of black luma.
    pub y_offset: f64,
    /// The code of zero chroma.
    pub c_offset: f64,
    /// Scale of luma above its offset.
    pub y: f64,
    /// R from V.
    pub r_v: f64,
    /// G from U (subtracted).
    pub g_u: f64,
    /// G from V (subtracted).
    pub g_v: f64,
    /// B from U.
    pub b_u: f64,
    /// The largest code.
    pub max: f64,
}

impl Coefficients {
    /// The conversion of `bits`-deep samples encoded with `matrix` in `range`.
    pub const fn new(matrix: Matrix, range: Range, bits: u32) -> Coefficients {
        let (kr, kb) = match matrix {
            Matrix::Bt601 => (0.299f64, 0.114f64),
            Matrix::Bt709 => (0.2126, 0.0722),
        };
        let kg = 1.0 - kr - kb;
        let scale = (1u32 << (bits - 8)) as f64;
        let max = ((1u32 << bits) - 1) as f64;
        let (y_offset, y_range, c_range) = match range {
            Range::Limited => (16.0 * scale, 219.0 * scale, 224.0 * scale),
            Range::Full => (0.0, max, max),
        };
        let c = max / c_range;
        Coefficients {
            y_offset,
            c_offset: 128.0 * scale,
            y: max / y_range,
            r_v: 2.0 * (1.0 - kr) * c,
            g_u: 2.0 * (1.0 - kb) * kb / kg * c,
            g_v: 2.0 * (1.0 - kr) * kr / kg * c,
            b_u: 2.0 * (1.0 - kb) * c,
            max,
        }
    }

    /// The same conversion for samples normalized to 0..=1 (as a GPU samples them): the luma
    /// and chroma offsets, then the scales (luma, R from V, G from U, G from V, B from U).
    pub fn normalized(&self) -> ([f32; 2], [f32; 5]) {
        (
            [
                (self.y_offset / self.max) as f32,
                (self.c_offset / self.max) as f32,
            ],
            [
                self.y as f32,
                self.r_v as f32,
                self.g_u as f32,
                self.g_v as f32,
                self.b_u as f32,
            ],
        )
    }
}

/// Fixed-point coefficients of one YUV to RGB conversion at one sample depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    y_offset: i32,
    c_offset: i32,
    y: i32,
    r_v: i32,
    g_u: i32,
    g_v: i32,
    b_u: i32,
    max: i32,
}

impl Conversion {
    /// The conversion of `bits`-deep samples (8 or 10) encoded with `matrix` in `range`.
    pub const fn new(matrix: Matrix, range: Range, bits: u32) -> Conversion {
        let c = Coefficients::new(matrix, range, bits);
        Conversion {
            y_offset: c.y_offset as i32,
            c_offset: c.c_offset as i32,
            y: fixed(c.y),
            r_v: fixed(c.r_v),
            g_u: fixed(c.g_u),
            g_v: fixed(c.g_v),
            b_u: fixed(c.b_u),
            max: c.max as i32,
        }
    }

    /// The RGB of one sample triple, each channel in 0..=max.
    #[inline(always)]
    pub fn rgb(&self, y: i32, u: i32, v: i32) -> [i32; 3] {
        let y = (y - self.y_offset) * self.y;
        let (u, v) = (u - self.c_offset, v - self.c_offset);
        let round = 1 << (SHIFT - 1);
        let clamp = |value: i32| ((value + round) >> SHIFT).clamp(0, self.max);
        [
            clamp(y + self.r_v * v),
            clamp(y - self.g_u * u - self.g_v * v),
            clamp(y + self.b_u * u),
        ]
    }
}

/// What a buffer without colour hints is converted with: BT.601, limited range.
pub const DEFAULT_8: Conversion = Conversion::new(Matrix::Bt601, Range::Limited, 8);
/// The same for 10-bit samples (P010).
pub const DEFAULT_10: Conversion = Conversion::new(Matrix::Bt601, Range::Limited, 10);

/// One row of samples as read from a YUV buffer, for pixels `x0..x0 + n` (x0 even): luma, and
/// chroma as the format stores it for that row.
pub struct SampleRow<'a> {
    /// NV12: n luma bytes. P010: n little-endian u16. YUYV: 2n bytes of Y0 U Y1 V.
    /// YU12: n luma bytes.
    pub luma: &'a [u8],
    /// NV12: n bytes of U V pairs. P010: n little-endian u16 of U V pairs. YU12: n/2 U bytes.
    /// YUYV: empty.
    pub chroma: &'a [u8],
    /// YU12: n/2 V bytes; otherwise empty.
    pub chroma_v: &'a [u8],
}

/// Converts `n` pixels of `fourcc` from `row` into `out`: 8-bit RGBA bytes (4 per pixel) for
/// 8-bit YUV, little-endian ABGR2101010 (4 bytes per pixel) for P010; alpha opaque.
pub fn convert_pixels(fourcc: Fourcc, row: &SampleRow<'_>, n: usize, out: &mut [u8]) {
    // Pixels come in pairs sharing their chroma: the chroma terms are computed once a pair.
    let pairs = out.chunks_exact_mut(8).take(n / 2);
    match fourcc {
        Fourcc::P010 => {
            let sample = |bytes: &[u8]| i32::from(u16::from_le_bytes([bytes[0], bytes[1]]) >> 6);
            for ((pixels, luma), chroma) in pairs
                .zip(row.luma.chunks_exact(4))
                .zip(row.chroma.chunks_exact(4))
            {
                let terms = ChromaTerms::of(&DEFAULT_10, sample(chroma), sample(&chroma[2..]));
                for (pixel, y) in pixels.chunks_exact_mut(4).zip(luma.chunks_exact(2)) {
                    let [r, g, b] = terms.rgb(&DEFAULT_10, sample(y));
                    let packed = (3u32 << 30) | ((b as u32) << 20) | ((g as u32) << 10) | r as u32;
                    pixel.copy_from_slice(&packed.to_le_bytes());
                }
            }
        }
        Fourcc::Nv12 => {
            for ((pixels, luma), chroma) in pairs
                .zip(row.luma.chunks_exact(2))
                .zip(row.chroma.chunks_exact(2))
            {
                pair_8(pixels, luma[0], luma[1], chroma[0], chroma[1]);
            }
        }
        Fourcc::Yuyv => {
            for (pixels, packed) in pairs.zip(row.luma.chunks_exact(4)) {
                pair_8(pixels, packed[0], packed[2], packed[1], packed[3]);
            }
        }
        _ => {
            for (((pixels, luma), u), v) in pairs
                .zip(row.luma.chunks_exact(2))
                .zip(row.chroma)
                .zip(row.chroma_v)
            {
                pair_8(pixels, luma[0], luma[1], *u, *v);
            }
        }
    }
}

/// The chroma part of a pixel pair's conversion, with the rounding folded in.
struct ChromaTerms {
    r: i32,
    g: i32,
    b: i32,
}

impl ChromaTerms {
    // Samples are at most 10 bits and coefficients under 2^18, so no sum here can overflow:
    // the arithmetic is written wrapping so that builds with overflow checks keep it branch-free.
    #[inline(always)]
    fn of(conversion: &Conversion, u: i32, v: i32) -> ChromaTerms {
        let (u, v) = (
            u.wrapping_sub(conversion.c_offset),
            v.wrapping_sub(conversion.c_offset),
        );
        let round = 1 << (SHIFT - 1);
        ChromaTerms {
            r: conversion.r_v.wrapping_mul(v).wrapping_add(round),
            g: round
                .wrapping_sub(conversion.g_u.wrapping_mul(u))
                .wrapping_sub(conversion.g_v.wrapping_mul(v)),
            b: conversion.b_u.wrapping_mul(u).wrapping_add(round),
        }
    }

    #[inline(always)]
    fn rgb(&self, conversion: &Conversion, y: i32) -> [i32; 3] {
        let y = y
            .wrapping_sub(conversion.y_offset)
            .wrapping_mul(conversion.y);
        let clamp = |value: i32| (value >> SHIFT).clamp(0, conversion.max);
        [
            clamp(y.wrapping_add(self.r)),
            clamp(y.wrapping_add(self.g)),
            clamp(y.wrapping_add(self.b)),
        ]
    }
}

/// Two 8-bit pixels sharing `u` and `v`, as RGBA.
#[inline(always)]
fn pair_8(out: &mut [u8], y0: u8, y1: u8, u: u8, v: u8) {
    let terms = ChromaTerms::of(&DEFAULT_8, i32::from(u), i32::from(v));
    for (pixel, y) in out.chunks_exact_mut(4).zip([y0, y1]) {
        let [r, g, b] = terms.rgb(&DEFAULT_8, i32::from(y));
        pixel.copy_from_slice(&[r as u8, g as u8, b as u8, 0xff]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 limited-range codes of the 75% colour bars decode to 75% (191) within one step.
    #[test]
    fn colour_bars_decode_to_their_rgb() {
        // (Y, U, V) of 75% white, yellow, cyan, green, magenta, red, blue, black.
        let bars = [
            ((180, 128, 128), [191, 191, 191]),
            ((162, 44, 142), [191, 191, 0]),
            ((131, 156, 44), [0, 191, 191]),
            ((112, 72, 58), [0, 191, 0]),
            ((84, 184, 198), [191, 0, 191]),
            ((65, 100, 212), [191, 0, 0]),
            ((35, 212, 114), [0, 0, 191]),
            ((16, 128, 128), [0, 0, 0]),
        ];
        for ((y, u, v), expected) in bars {
            let rgb = DEFAULT_8.rgb(y, u, v);
            for c in 0..3 {
                assert!((rgb[c] - expected[c]).abs() <= 2, "{y} {u} {v}: {rgb:?}");
            }
        }
        assert_eq!(DEFAULT_8.rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(DEFAULT_10.rgb(940, 512, 512), [1023, 1023, 1023]);
        assert_eq!(DEFAULT_10.rgb(64, 512, 512), [0, 0, 0]);
    }

    #[test]
    fn full_range_and_bt709_differ_where_they_should() {
        let full = Conversion::new(Matrix::Bt601, Range::Full, 8);
        assert_eq!(full.rgb(255, 128, 128), [255, 255, 255]);
        assert_eq!(full.rgb(0, 128, 128), [0, 0, 0]);
        let bt709 = Conversion::new(Matrix::Bt709, Range::Limited, 8);
        // Pure red encoded with BT.709 (Y 63, U 102, V 240) is red only there.
        let red = bt709.rgb(63, 102, 240);
        assert!(red[0] > 250 && red[1] < 5 && red[2] < 5, "{red:?}");
        // Decoded with BT.601 instead, the same codes are a duller red.
        let seen_as_601 = DEFAULT_8.rgb(63, 102, 240);
        assert!(red[0] - seen_as_601[0] > 10, "{red:?} {seen_as_601:?}");
    }

    #[test]
    fn rows_of_each_format_convert() {
        let mut out = [0u8; 8];
        // NV12: two pixels sharing one U V pair.
        convert_pixels(
            Fourcc::Nv12,
            &SampleRow {
                luma: &[81, 145],
                chroma: &[90, 240],
                chroma_v: &[],
            },
            2,
            &mut out,
        );
        assert!(out[0] > 230 && out[1] < 10 && out[3] == 0xff, "{out:?}");
        // YUYV: Y0 U Y1 V.
        convert_pixels(
            Fourcc::Yuyv,
            &SampleRow {
                luma: &[235, 128, 16, 128],
                chroma: &[],
                chroma_v: &[],
            },
            2,
            &mut out,
        );
        assert_eq!(out, [255, 255, 255, 255, 0, 0, 0, 255]);
        // P010: white, 10 bits in the high bits of each u16.
        let white = (940u16 << 6).to_le_bytes();
        let grey = (512u16 << 6).to_le_bytes();
        convert_pixels(
            Fourcc::P010,
            &SampleRow {
                luma: &[white[0], white[1], white[0], white[1]],
                chroma: &[grey[0], grey[1], grey[0], grey[1]],
                chroma_v: &[],
            },
            2,
            &mut out,
        );
        assert_eq!(
            u32::from_le_bytes([out[0], out[1], out[2], out[3]]),
            u32::MAX
        );
    }
}
