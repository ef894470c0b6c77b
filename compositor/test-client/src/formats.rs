//! Pixel formats of the test client's dmabufs and the known pattern painted in them.
//!
//! [`TestClient::dmabuf_window_in`](crate::TestClient::dmabuf_window_in) and
//! [`TestClient::try_create_dmabuf`](crate::TestClient::try_create_dmabuf) lay a buffer out with
//! [`layout`] and fill it with [`paint`]; tests then compare what the compositor shows with
//! [`expected`], to check that it keeps the depth and the colours of formats other than ARGB8888.
//!
//! # The pattern
//!
//! RGB formats (8-bit, 10-bit and RGB565, with `w`x`h` pixels and `max` the largest level of a
//! channel):
//!
//! - red is a horizontal ramp over the channel's whole range: level `x * max / (w - 1)` (integer
//!   division), so that a 1024-pixel-wide 10-bit buffer holds all 1024 levels;
//! - green is the vertical ramp `y * max / (h - 1)`;
//! - blue is the constant middle level `(max + 1) / 2` (128 of 255, 512 of 1023, 16 of 31);
//! - alpha, in the formats that have it, is fully opaque. Wayland buffers are premultiplied, so a
//!   red ramp up to 1.0 is only a valid pixel under an alpha of 1.0, and an opaque window shows the
//!   same colours over any background. The unused bits of the X formats are left zero: a
//!   compositor that read them as alpha would show the window transparent.
//!
//! Half-float formats (`AB4H`, `XB4H`): red ramps from 0.0 to 4.0 across the width
//! (`4 * x / (w - 1)`, rounded to the nearest f16), so that values above 1.0 exist; green ramps
//! from 0.0 to 1.0 down the height; blue is 0.5; alpha is 1.0 (`AB4H`) or 0.0 in the ignored
//! channel (`XB4H`).
//!
//! YUV formats (`NV12`, `P010`, `YU12`, `YUYV`): eight vertical colour bars at 75% intensity,
//! left to right white, yellow, cyan, green, magenta, red, blue and black, encoded as BT.601
//! limited ("TV") range, which a compositor assumes for YUV dmabufs that come without colour
//! hints. With R, G, B in 0..1 and `Y' = 0.299 R + 0.587 G + 0.114 B`:
//! `Y = 16 + 219 Y'`, `Cb = 128 + 224 (B - Y') / 1.772`, `Cr = 128 + 224 (R - Y') / 1.402`,
//! rounded to the nearest integer (8-bit). `P010` uses the 10-bit equivalents (`64 + 876 Y'`,
//! `512 + 896 ...`) in the high 10 bits of each 16-bit sample. A bar is `w / 8` pixels wide,
//! rounded down to an even number (at least 2), and the last bar takes the rest, so chroma is
//! constant within each 2x2 block. [`expected`] gives the bar's exact colour (0.75 or 0.0 per
//! channel); what a compositor decodes is within about 2/255 of it.

/// DRM fourcc of `code`, as the kernel's `fourcc_code` builds it (little-endian characters).
const fn fourcc(code: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*code)
}

/// 'AR24': 32-bit little-endian words, [31:24] A, [23:16] R, [15:8] G, [7:0] B.
pub const ARGB8888: u32 = fourcc(b"AR24");
/// 'XR24': as [`ARGB8888`] with [31:24] unused.
pub const XRGB8888: u32 = fourcc(b"XR24");
/// 'AB24': 32-bit little-endian words, [31:24] A, [23:16] B, [15:8] G, [7:0] R.
pub const ABGR8888: u32 = fourcc(b"AB24");
/// 'XB24': as [`ABGR8888`] with [31:24] unused.
pub const XBGR8888: u32 = fourcc(b"XB24");
/// 'AR30': 32-bit little-endian words, [31:30] A, [29:20] R, [19:10] G, [9:0] B.
pub const ARGB2101010: u32 = fourcc(b"AR30");
/// 'XR30': as [`ARGB2101010`] with [31:30] unused.
pub const XRGB2101010: u32 = fourcc(b"XR30");
/// 'AB30': 32-bit little-endian words, [31:30] A, [29:20] B, [19:10] G, [9:0] R.
pub const ABGR2101010: u32 = fourcc(b"AB30");
/// 'XB30': as [`ABGR2101010`] with [31:30] unused.
pub const XBGR2101010: u32 = fourcc(b"XB30");
/// 'AB4H': four little-endian half floats per pixel, in memory order R, G, B, A.
pub const ABGR16161616F: u32 = fourcc(b"AB4H");
/// 'XB4H': as [`ABGR16161616F`] with the fourth half float unused.
pub const XBGR16161616F: u32 = fourcc(b"XB4H");
/// 'RG16': 16-bit little-endian words, [15:11] R, [10:5] G, [4:0] B.
pub const RGB565: u32 = fourcc(b"RG16");
/// 'NV12': a plane of 8-bit Y, then one of interleaved 8-bit Cb, Cr at half resolution both ways.
pub const NV12: u32 = fourcc(b"NV12");
/// 'P010': as [`NV12`] with 16-bit little-endian samples holding the 10 bits in [15:6].
pub const P010: u32 = fourcc(b"P010");
/// 'YU12' (DRM_FORMAT_YUV420): three 8-bit planes Y, Cb, Cr, chroma at half resolution both ways.
pub const YUV420: u32 = fourcc(b"YU12");
/// 'YUYV': packed 8-bit Y0 Cb Y1 Cr for each pair of pixels.
pub const YUYV: u32 = fourcc(b"YUYV");

/// Every format this module lays out and paints.
pub const ALL: [u32; 15] = [
    ARGB8888,
    XRGB8888,
    ABGR8888,
    XBGR8888,
    ARGB2101010,
    XRGB2101010,
    ABGR2101010,
    XBGR2101010,
    ABGR16161616F,
    XBGR16161616F,
    RGB565,
    NV12,
    P010,
    YUV420,
    YUYV,
];

/// Rows of every plane start at a multiple of this many bytes, and so do the planes.
const ALIGN: u32 = 64;

/// Parses a DRM fourcc as DRM names it (four ASCII characters, case-sensitive: `XR30`), one of
/// [`ALL`].
pub fn parse_fourcc(text: &str) -> Result<u32, String> {
    let known = || {
        ALL.iter()
            .map(|&code| fourcc_name(code))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let code: [u8; 4] = text
        .as_bytes()
        .try_into()
        .ok()
        .filter(|_| text.is_ascii())
        .ok_or_else(|| format!("{text:?} is not a fourcc; known formats: {}", known()))?;
    let code = fourcc(&code);
    if ALL.contains(&code) {
        Ok(code)
    } else {
        Err(format!("unknown format {text}; known formats: {}", known()))
    }
}

/// The four characters of `fourcc` (`XR30`), or its hex value when they are not printable.
pub fn fourcc_name(fourcc: u32) -> String {
    let bytes = fourcc.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        format!("{fourcc:#010x}")
    }
}

/// Whether `fourcc` is one of the YUV formats of [`ALL`].
pub fn is_yuv(fourcc: u32) -> bool {
    matches!(Family::of(fourcc), Some(Family::Yuv(_)))
}

/// Where one plane of a buffer lies in its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plane {
    /// Bytes from the start of the memory to the plane's first row.
    pub offset: u32,
    /// Bytes from one row of the plane to the next.
    pub stride: u32,
}

/// The planes of a `width`x`height` buffer in `fourcc` and the bytes they take together: rows
/// and planes start at multiples of 64 bytes. `None` for a format not in [`ALL`], sizes that are
/// not positive, odd sizes of YUV formats, or a buffer whose offsets or strides do not fit the
/// protocol's 32 bits.
pub fn layout(fourcc: u32, width: i32, height: i32) -> Option<(Vec<Plane>, usize)> {
    let family = Family::of(fourcc)?;
    if width <= 0 || height <= 0 {
        return None;
    }
    let (width, height) = (u32::try_from(width).ok()?, u32::try_from(height).ok()?);
    if family.is_yuv() && (width % 2 != 0 || height % 2 != 0) {
        return None;
    }
    // (bytes of one row, rows) per plane.
    let planes: Vec<(u32, u32)> = match family {
        Family::Packed32 { .. } => vec![(width.checked_mul(4)?, height)],
        Family::Half { .. } => vec![(width.checked_mul(8)?, height)],
        Family::Rgb565 => vec![(width.checked_mul(2)?, height)],
        Family::Yuv(Yuv::Nv12) => vec![(width, height), (width, height / 2)],
        Family::Yuv(Yuv::P010) => {
            let row = width.checked_mul(2)?;
            vec![(row, height), (row, height / 2)]
        }
        Family::Yuv(Yuv::Yu12) => vec![
            (width, height),
            (width / 2, height / 2),
            (width / 2, height / 2),
        ],
        Family::Yuv(Yuv::Yuyv) => vec![(width.checked_mul(2)?, height)],
    };
    let mut end: u32 = 0;
    let mut layout = Vec::with_capacity(planes.len());
    for (row, rows) in planes {
        let offset = align(end)?;
        let stride = align(row)?;
        end = offset.checked_add(stride.checked_mul(rows)?)?;
        layout.push(Plane { offset, stride });
    }
    Some((layout, usize::try_from(end).ok()?))
}

fn align(bytes: u32) -> Option<u32> {
    Some(bytes.checked_add(ALIGN - 1)? / ALIGN * ALIGN)
}

/// Writes the pattern (see the module's documentation) of a `width`x`height` buffer in `fourcc`
/// into `memory`, laid out as `planes` (those of [`layout`], or any others of at least as many
/// planes, with strides at least as long). Does nothing for formats not in [`ALL`].
///
/// # Panics
///
/// When `planes` or `memory` are too small for the buffer.
pub fn paint(fourcc: u32, width: i32, height: i32, planes: &[Plane], memory: &mut [u8]) {
    let Some(family) = Family::of(fourcc) else {
        return;
    };
    let (width, height) = (width.max(0) as usize, height.max(0) as usize);
    let at = |plane: usize, x: usize, y: usize, size: usize| {
        let plane = planes[plane];
        plane.offset as usize + y * plane.stride as usize + x * size
    };
    match family {
        Family::Packed32 { .. } => {
            for y in 0..height {
                for x in 0..width {
                    let word = family.packed(width, height, x, y);
                    let start = at(0, x, y, 4);
                    memory[start..start + 4].copy_from_slice(&word.to_le_bytes());
                }
            }
        }
        Family::Rgb565 => {
            for y in 0..height {
                for x in 0..width {
                    let [r, g, b, _] = family.levels(width, height, x, y);
                    let word = ((r << 11) | (g << 5) | b) as u16;
                    let start = at(0, x, y, 2);
                    memory[start..start + 2].copy_from_slice(&word.to_le_bytes());
                }
            }
        }
        Family::Half { alpha } => {
            let blue = f32_to_f16(0.5);
            let alpha = if alpha { f32_to_f16(1.0) } else { 0 };
            for y in 0..height {
                let green = f32_to_f16(ramp_f32(y, height, 1.0));
                for x in 0..width {
                    let red = f32_to_f16(ramp_f32(x, width, 4.0));
                    let start = at(0, x, y, 8);
                    for (i, half) in [red, green, blue, alpha].into_iter().enumerate() {
                        memory[start + 2 * i..start + 2 * i + 2]
                            .copy_from_slice(&half.to_le_bytes());
                    }
                }
            }
        }
        Family::Yuv(yuv) => paint_yuv(yuv, width, height, at, memory),
    }
}

/// The colour (RGBA) a correct compositor shows at (`x`, `y`) of a `width`x`height` buffer in
/// `fourcc` painted by [`paint`]: levels divided by the channel's largest level for normalised
/// formats, the f16 values themselves for half floats (red up to 4.0), the bar's colour (exactly
/// 0.75 or 0.0) for YUV formats. Alpha is 1.0 in every format. Transparent black for formats
/// not in [`ALL`].
pub fn expected(fourcc: u32, width: i32, height: i32, x: i32, y: i32) -> [f32; 4] {
    let Some(family) = Family::of(fourcc) else {
        return [0.0; 4];
    };
    let (width, height) = (width.max(0) as usize, height.max(0) as usize);
    let (x, y) = (x.max(0) as usize, y.max(0) as usize);
    match family {
        Family::Packed32 { .. } | Family::Rgb565 => {
            let levels = family.levels(width, height, x, y);
            let maxima = family.maxima();
            let channel = |i: usize| levels[i] as f32 / maxima[i] as f32;
            [channel(0), channel(1), channel(2), 1.0]
        }
        Family::Half { .. } => [
            f16_to_f32(f32_to_f16(ramp_f32(x, width, 4.0))),
            f16_to_f32(f32_to_f16(ramp_f32(y, height, 1.0))),
            0.5,
            1.0,
        ],
        Family::Yuv(_) => {
            let [r, g, b] = BARS[bar(x, width)];
            [r, g, b, 1.0]
        }
    }
}

/// How a format stores its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// One little-endian u32 a pixel: three `bits`-bit colour channels, green at `bits`, red at
    /// `red_shift` and blue at the other end, and the rest (alpha or unused) on top.
    Packed32 {
        bits: u32,
        red_shift: u32,
        alpha: bool,
    },
    Rgb565,
    Half {
        alpha: bool,
    },
    Yuv(Yuv),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Yuv {
    Nv12,
    P010,
    Yu12,
    Yuyv,
}

impl Family {
    fn of(fourcc: u32) -> Option<Family> {
        let packed = |bits, argb: bool, alpha| Family::Packed32 {
            bits,
            red_shift: if argb { 2 * bits } else { 0 },
            alpha,
        };
        Some(match fourcc {
            ARGB8888 => packed(8, true, true),
            XRGB8888 => packed(8, true, false),
            ABGR8888 => packed(8, false, true),
            XBGR8888 => packed(8, false, false),
            ARGB2101010 => packed(10, true, true),
            XRGB2101010 => packed(10, true, false),
            ABGR2101010 => packed(10, false, true),
            XBGR2101010 => packed(10, false, false),
            ABGR16161616F => Family::Half { alpha: true },
            XBGR16161616F => Family::Half { alpha: false },
            RGB565 => Family::Rgb565,
            NV12 => Family::Yuv(Yuv::Nv12),
            P010 => Family::Yuv(Yuv::P010),
            YUV420 => Family::Yuv(Yuv::Yu12),
            YUYV => Family::Yuv(Yuv::Yuyv),
            _ => return None,
        })
    }

    fn is_yuv(self) -> bool {
        matches!(self, Family::Yuv(_))
    }

    /// The largest level of red, green, blue and alpha (integer RGB formats only).
    fn maxima(self) -> [u32; 4] {
        match self {
            Family::Packed32 { bits, .. } => {
                let max = (1 << bits) - 1;
                [max, max, max, (1 << (32 - 3 * bits)) - 1]
            }
            Family::Rgb565 => [31, 63, 31, 0],
            _ => [0; 4],
        }
    }

    /// The pattern's red, green, blue and alpha levels at (x, y) (integer RGB formats only).
    fn levels(self, width: usize, height: usize, x: usize, y: usize) -> [u32; 4] {
        let [r, g, b, a] = self.maxima();
        let alpha = match self {
            Family::Packed32 { alpha: true, .. } => a,
            _ => 0,
        };
        [ramp(x, width, r), ramp(y, height, g), b.div_ceil(2), alpha]
    }

    /// The pattern's 32-bit word at (x, y) (`Packed32` only).
    fn packed(self, width: usize, height: usize, x: usize, y: usize) -> u32 {
        let Family::Packed32 {
            bits, red_shift, ..
        } = self
        else {
            return 0;
        };
        let [r, g, b, a] = self.levels(width, height, x, y);
        let blue_shift = 2 * bits - red_shift;
        (r << red_shift) | (g << bits) | (b << blue_shift) | (a << (3 * bits))
    }
}

/// Level `position * max / (extent - 1)`: 0 at the first position, `max` at the last.
fn ramp(position: usize, extent: usize, max: u32) -> u32 {
    if extent <= 1 {
        return 0;
    }
    let position = position.min(extent - 1) as u64;
    (position * max as u64 / (extent - 1) as u64) as u32
}

/// `position * top / (extent - 1)` as a float: 0.0 at the first position, `top` at the last.
fn ramp_f32(position: usize, extent: usize, top: f32) -> f32 {
    if extent <= 1 {
        return 0.0;
    }
    top * position.min(extent - 1) as f32 / (extent - 1) as f32
}

/// The 75% colour bars, left to right: white, yellow, cyan, green, magenta, red, blue, black.
const BARS: [[f32; 3]; 8] = [
    [0.75, 0.75, 0.75],
    [0.75, 0.75, 0.0],
    [0.0, 0.75, 0.75],
    [0.0, 0.75, 0.0],
    [0.75, 0.0, 0.75],
    [0.75, 0.0, 0.0],
    [0.0, 0.0, 0.75],
    [0.0, 0.0, 0.0],
];

/// The bar under column `x` of a `width`-wide buffer: bars are `width / 8` rounded down to even
/// (at least 2) wide, and the last takes the rest.
fn bar(x: usize, width: usize) -> usize {
    let bar_width = ((width / 8) & !1).max(2);
    (x / bar_width).min(BARS.len() - 1)
}

/// BT.601 limited-range Y, Cb, Cr of `rgb` with `bits`-bit samples, rounded to the nearest
/// level.
fn bt601_limited(rgb: [f32; 3], bits: u32) -> [u32; 3] {
    let [r, g, b] = rgb.map(f64::from);
    let luma = 0.299 * r + 0.587 * g + 0.114 * b;
    let pb = (b - luma) / 1.772;
    let pr = (r - luma) / 1.402;
    let scale = f64::from(1u32 << (bits - 8));
    let level = |value: f64| value.round().clamp(0.0, f64::from((1u32 << bits) - 1)) as u32;
    [
        level(scale * (16.0 + 219.0 * luma)),
        level(scale * (128.0 + 224.0 * pb)),
        level(scale * (128.0 + 224.0 * pr)),
    ]
}

fn paint_yuv(
    yuv: Yuv,
    width: usize,
    height: usize,
    at: impl Fn(usize, usize, usize, usize) -> usize,
    memory: &mut [u8],
) {
    let bits = if yuv == Yuv::P010 { 10 } else { 8 };
    let codes = BARS.map(|rgb| bt601_limited(rgb, bits));
    // Samples of `size` bytes: 8-bit values as bytes, 10-bit ones in the high bits of a u16.
    let mut put = |start: usize, value: u32| {
        if bits == 8 {
            memory[start] = value as u8;
        } else {
            memory[start..start + 2].copy_from_slice(&((value << 6) as u16).to_le_bytes());
        }
    };
    let size = if bits == 8 { 1 } else { 2 };
    for y in 0..height {
        for x in 0..width {
            let [luma, cb, cr] = codes[bar(x, width)];
            if yuv == Yuv::Yuyv {
                // Y0 Cb Y1 Cr: luma at every other byte, chroma between.
                let pair = at(0, x / 2, y, 4);
                put(pair + 2 * (x % 2), luma);
                put(pair + 1 + 2 * (x % 2), if x % 2 == 0 { cb } else { cr });
                continue;
            }
            put(at(0, x, y, size), luma);
            if x % 2 != 0 || y % 2 != 0 {
                continue;
            }
            let (cx, cy) = (x / 2, y / 2);
            match yuv {
                Yuv::Nv12 | Yuv::P010 => {
                    let start = at(1, cx, cy, 2 * size);
                    put(start, cb);
                    put(start + size, cr);
                }
                Yuv::Yu12 => {
                    put(at(1, cx, cy, 1), cb);
                    put(at(2, cx, cy, 1), cr);
                }
                Yuv::Yuyv => {}
            }
        }
    }
}

/// `value` as an IEEE 754 half float, rounded to the nearest (ties to even); too large values
/// become infinity, NaN stays NaN.
fn f32_to_f16(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0xff {
        let nan = if mantissa != 0 { 0x200 } else { 0 };
        return sign | 0x7c00 | nan;
    }
    // The half's biased exponent.
    let half_exponent = exponent - 127 + 15;
    if half_exponent >= 0x1f {
        return sign | 0x7c00;
    }
    // The significand with its implicit leading one, and how far it shifts right into the half's
    // 10 mantissa bits (13 for normal halves, more for subnormal ones).
    let (significand, shift, base) = if half_exponent > 0 {
        (mantissa, 13, (half_exponent as u32) << 10)
    } else {
        let shift = (14 - half_exponent) as u32;
        if shift > 24 {
            return sign;
        }
        (mantissa | 0x80_0000, shift, 0)
    };
    let mut half = base + (significand >> shift);
    let rest = significand & ((1 << shift) - 1);
    let halfway = 1 << (shift - 1);
    if rest > halfway || (rest == halfway && half & 1 == 1) {
        // May carry into the exponent, up to infinity: both are the right rounding.
        half += 1;
    }
    sign | half as u16
}

/// The value of the half float `half`.
fn f16_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f32::from(half & 0x3ff);
    match exponent {
        0 => sign * mantissa * 2f32.powi(-24),
        0x1f if mantissa == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A painted buffer and its layout.
    struct Painted {
        fourcc: u32,
        planes: Vec<Plane>,
        memory: Vec<u8>,
    }

    fn painted(fourcc: u32, width: i32, height: i32) -> Painted {
        let (planes, len) = layout(fourcc, width, height).expect("layout");
        let mut memory = vec![0; len];
        paint(fourcc, width, height, &planes, &mut memory);
        Painted {
            fourcc,
            planes,
            memory,
        }
    }

    impl Painted {
        fn byte(&self, plane: usize, x: usize, y: usize) -> u8 {
            let plane = self.planes[plane];
            self.memory[plane.offset as usize + y * plane.stride as usize + x]
        }

        fn u16(&self, plane: usize, x: usize, y: usize) -> u16 {
            u16::from_le_bytes([self.byte(plane, x, y), self.byte(plane, x + 1, y)])
        }

        fn u32(&self, x: usize, y: usize) -> u32 {
            u32::from(self.u16(0, 4 * x, y)) | (u32::from(self.u16(0, 4 * x + 2, y)) << 16)
        }

        /// The RGBA a compositor would show at (x, y), decoded from the memory.
        fn decode(&self, x: i32, y: i32) -> [f32; 4] {
            let (x, y) = (x as usize, y as usize);
            let family = Family::of(self.fourcc).expect("known format");
            match family {
                Family::Packed32 {
                    bits,
                    red_shift,
                    alpha,
                } => {
                    let word = self.u32(x, y);
                    let max = (1u32 << bits) - 1;
                    let channel = |shift: u32| ((word >> shift) & max) as f32 / max as f32;
                    let alpha_max = (1u32 << (32 - 3 * bits)) - 1;
                    let a = if alpha {
                        (word >> (3 * bits)) as f32 / alpha_max as f32
                    } else {
                        assert_eq!(word >> (3 * bits), 0, "X bits are zero");
                        1.0
                    };
                    [
                        channel(red_shift),
                        channel(bits),
                        channel(2 * bits - red_shift),
                        a,
                    ]
                }
                Family::Rgb565 => {
                    let word = u32::from(self.u16(0, 2 * x, y));
                    [
                        (word >> 11) as f32 / 31.0,
                        ((word >> 5) & 63) as f32 / 63.0,
                        (word & 31) as f32 / 31.0,
                        1.0,
                    ]
                }
                Family::Half { alpha } => {
                    let half = |i: usize| f16_to_f32(self.u16(0, 8 * x + 2 * i, y));
                    let a = if alpha {
                        half(3)
                    } else {
                        assert_eq!(half(3), 0.0, "X channel is zero");
                        1.0
                    };
                    [half(0), half(1), half(2), a]
                }
                Family::Yuv(yuv) => {
                    let (cx, cy) = (x / 2, y / 2);
                    let [luma, cb, cr] = match yuv {
                        Yuv::Nv12 => [
                            self.byte(0, x, y),
                            self.byte(1, 2 * cx, cy),
                            self.byte(1, 2 * cx + 1, cy),
                        ]
                        .map(f32::from),
                        Yuv::P010 => [
                            self.u16(0, 2 * x, y),
                            self.u16(1, 4 * cx, cy),
                            self.u16(1, 4 * cx + 2, cy),
                        ]
                        .map(|sample| {
                            assert_eq!(sample & 0x3f, 0, "low bits are zero");
                            f32::from(sample >> 6) / 4.0
                        }),
                        Yuv::Yu12 => [
                            self.byte(0, x, y),
                            self.byte(1, cx, cy),
                            self.byte(2, cx, cy),
                        ]
                        .map(f32::from),
                        Yuv::Yuyv => [
                            self.byte(0, 2 * x, y),
                            self.byte(0, 4 * cx + 1, y),
                            self.byte(0, 4 * cx + 3, y),
                        ]
                        .map(f32::from),
                    };
                    let luma = (luma - 16.0) / 219.0;
                    let (pb, pr) = ((cb - 128.0) / 224.0, (cr - 128.0) / 224.0);
                    let r = luma + 1.402 * pr;
                    let b = luma + 1.772 * pb;
                    let g = (luma - 0.299 * r - 0.114 * b) / 0.587;
                    [r, g, b, 1.0]
                }
            }
        }
    }

    fn assert_close(got: [f32; 4], want: [f32; 4], tolerance: f32, what: &str) {
        for (channel, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance,
                "{what}: channel {channel}: got {got:?}, expected {want:?}"
            );
        }
    }

    #[test]
    fn layouts_align_rows_and_planes_to_64_bytes() {
        let plane = |offset, stride| Plane { offset, stride };
        assert_eq!(layout(ARGB8888, 100, 10), Some((vec![plane(0, 448)], 4480)));
        assert_eq!(
            layout(XRGB2101010, 1024, 2),
            Some((vec![plane(0, 4096)], 8192))
        );
        assert_eq!(
            layout(ABGR16161616F, 10, 3),
            Some((vec![plane(0, 128)], 384))
        );
        assert_eq!(layout(RGB565, 33, 1), Some((vec![plane(0, 128)], 128)));
        assert_eq!(
            layout(NV12, 100, 10),
            Some((vec![plane(0, 128), plane(1280, 128)], 1920))
        );
        assert_eq!(
            layout(P010, 100, 10),
            Some((vec![plane(0, 256), plane(2560, 256)], 3840))
        );
        assert_eq!(
            layout(YUV420, 64, 4),
            Some((vec![plane(0, 64), plane(256, 64), plane(384, 64)], 512))
        );
        // An odd-sized plane end is aligned before the next plane starts.
        assert_eq!(
            layout(YUV420, 2, 2),
            Some((vec![plane(0, 64), plane(128, 64), plane(192, 64)], 256))
        );
        assert_eq!(layout(YUYV, 30, 2), Some((vec![plane(0, 64)], 128)));
    }

    #[test]
    fn layouts_refuse_impossible_sizes() {
        assert_eq!(layout(ARGB8888, 0, 10), None);
        assert_eq!(layout(ARGB8888, 10, -1), None);
        assert_eq!(layout(NV12, 63, 64), None);
        assert_eq!(layout(YUYV, 64, 63), None);
        assert_eq!(layout(ABGR16161616F, i32::MAX, 1), None);
        assert_eq!(layout(ARGB8888, 65536, 65536), None);
        assert_eq!(layout(fourcc(b"YV12"), 64, 64), None);
        assert!(layout(ARGB8888, 1, 1).is_some());
        assert!(layout(NV12, 2, 2).is_some());
    }

    #[test]
    fn names_round_trip() {
        for code in ALL {
            let name = fourcc_name(code);
            assert_eq!(parse_fourcc(&name), Ok(code), "{name}");
        }
        assert_eq!(fourcc_name(XRGB2101010), "XR30");
        assert_eq!(fourcc_name(YUV420), "YU12");
        assert_eq!(fourcc_name(0), "0x00000000");
        let err = parse_fourcc("ZZ30").expect_err("unknown");
        assert!(err.contains("AR24") && err.contains("YUYV"), "{err}");
        assert!(parse_fourcc("xr30").is_err(), "case-sensitive");
        assert!(parse_fourcc("AR2").is_err());
        assert!(parse_fourcc("AR244").is_err());
        assert!(parse_fourcc("AR2é").is_err());
    }

    #[test]
    fn painted_pixels_decode_to_the_expected_colours() {
        for fourcc in ALL {
            for (width, height) in [(64, 32), (1024, 4), (2, 2), (130, 6)] {
                let buffer = painted(fourcc, width, height);
                let tolerance = if is_yuv(fourcc) { 2.0 / 255.0 } else { 1e-6 };
                for (x, y) in [
                    (0, 0),
                    (width - 1, height - 1),
                    (width / 3, height / 2),
                    ((width / 2 + 1).min(width - 1), 1),
                    (width - 1, 0),
                    (1, height - 1),
                ] {
                    let what = format!("{} {width}x{height} at {x},{y}", fourcc_name(fourcc));
                    assert_close(
                        buffer.decode(x, y),
                        expected(fourcc, width, height, x, y),
                        tolerance,
                        &what,
                    );
                }
            }
        }
    }

    #[test]
    fn every_column_of_a_yuv_buffer_shows_its_bar() {
        for fourcc in [NV12, P010, YUV420, YUYV] {
            let (width, height) = (100, 4);
            let buffer = painted(fourcc, width, height);
            for y in 0..height {
                for x in 0..width {
                    let what = format!("{} at {x},{y}", fourcc_name(fourcc));
                    let want = expected(fourcc, width, height, x, y);
                    assert_close(buffer.decode(x, y), want, 2.0 / 255.0, &what);
                }
            }
        }
        // 100 / 8 = 12 per bar; the last of the eight takes the rest.
        assert_eq!(bar(11, 100), 0);
        assert_eq!(bar(12, 100), 1);
        assert_eq!(bar(83, 100), 6);
        assert_eq!(bar(84, 100), 7);
        assert_eq!(bar(99, 100), 7);
        // 104 / 8 = 13, rounded down to 12.
        assert_eq!(bar(12, 104), 1);
    }

    #[test]
    fn bars_use_the_standard_bt601_codes() {
        let codes = BARS.map(|rgb| bt601_limited(rgb, 8));
        assert_eq!(
            codes,
            [
                [180, 128, 128],
                [162, 44, 142],
                [131, 156, 44],
                [112, 72, 58],
                [84, 184, 198],
                [65, 100, 212],
                [35, 212, 114],
                [16, 128, 128],
            ]
        );
        assert_eq!(bt601_limited([0.0; 3], 10), [64, 512, 512]);
        assert_eq!(bt601_limited([1.0; 3], 10), [940, 512, 512]);
    }

    #[test]
    fn a_1024_wide_10_bit_ramp_holds_every_level() {
        for fourcc in [ARGB2101010, XRGB2101010, ABGR2101010, XBGR2101010] {
            let buffer = painted(fourcc, 1024, 2);
            let mut reds: Vec<u32> = (0..1024)
                .map(|x| (buffer.decode(x, 0)[0] * 1023.0).round() as u32)
                .collect();
            reds.dedup();
            assert_eq!(
                reds,
                (0..1024).collect::<Vec<_>>(),
                "{}",
                fourcc_name(fourcc)
            );
        }
    }

    #[test]
    fn half_float_red_goes_above_one() {
        for fourcc in [ABGR16161616F, XBGR16161616F] {
            let buffer = painted(fourcc, 256, 2);
            assert_eq!(buffer.decode(255, 0)[0], 4.0);
            assert_eq!(expected(fourcc, 256, 2, 255, 0)[0], 4.0);
            let above_one = (0..256).filter(|&x| buffer.decode(x, 0)[0] > 1.0).count();
            assert!(above_one > 128, "{above_one} columns above 1.0");
        }
    }

    #[test]
    fn alpha_formats_are_opaque_and_x_bits_zero() {
        for fourcc in [ARGB8888, ABGR8888] {
            assert_eq!(painted(fourcc, 4, 4).u32(1, 1) >> 24, 0xff);
        }
        for fourcc in [ARGB2101010, ABGR2101010] {
            assert_eq!(painted(fourcc, 4, 4).u32(1, 1) >> 30, 3);
        }
        for fourcc in [XRGB8888, XBGR8888, XRGB2101010, XBGR2101010] {
            let buffer = painted(fourcc, 4, 4);
            assert_eq!((buffer.u32(3, 3) >> 24) & 0xc0, 0);
        }
    }

    #[test]
    fn argb_and_abgr_swap_red_and_blue() {
        let argb = painted(ARGB8888, 256, 2);
        let abgr = painted(ABGR8888, 256, 2);
        // Red 255 (the last column), green 0 (row 0), blue 128.
        assert_eq!(argb.u32(255, 0), 0xffff_0080);
        assert_eq!(abgr.u32(255, 0), 0xff80_00ff);
        let argb = painted(ARGB2101010, 1024, 2);
        assert_eq!(
            argb.u32(1023, 1),
            (3 << 30) | (1023 << 20) | (1023 << 10) | 512
        );
        let abgr = painted(ABGR2101010, 1024, 2);
        assert_eq!(abgr.u32(1, 0), (3 << 30) | (512 << 20) | 1);
    }

    #[test]
    fn halves_convert_like_ieee_754() {
        for (value, half) in [
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (0.5, 0x3800),
            (4.0, 0x4400),
            (-2.0, 0xc000),
            (0.1, 0x2e66),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00),
            (1e9, 0x7c00),
            (f32::INFINITY, 0x7c00),
            (2f32.powi(-24), 0x0001),
            (2f32.powi(-14), 0x0400),
            (2f32.powi(-25), 0x0000),
            (1e-10, 0x0000),
            // Ties go to even: 1 + 2^-11 is halfway between 1.0 and 1.0 + 2^-10.
            (1.0 + 2f32.powi(-11), 0x3c00),
            (1.0 + 3.0 * 2f32.powi(-11), 0x3c02),
        ] {
            assert_eq!(f32_to_f16(value), half, "{value}");
        }
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
        for half in (0..0x7c00).step_by(7) {
            assert_eq!(f32_to_f16(f16_to_f32(half)), half, "{half:#06x}");
        }
    }
}
