//! YUV carried plane by plane: a GPU that cannot sample a client's YUV buffer is given its
//! planes as textures of their own (NV12: luma in an R8 texture of the buffer's size, chroma
//! in an RG8 texture of half its width and height), which its frames convert to RGB as they
//! draw them (`renderer::plane_shader`). The copy moves the buffer's own 1.5 bytes a pixel and
//! no conversion runs on the CPU.
//!
//! Made by `renderer::plane_copy` (the CPU copy path, reading the client's mapping); the entry's
//! `texture` is the luma plane, this content holds the rest; drawn by `MultiFrame`.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::{GlesTexProgram, GlesTexture};

use super::mapped::Mappings;
use super::yuv::{Coefficients, Matrix, Range};
use crate::gpu::GpuId;

/// The formats carried plane by plane, where the drawing GPU samples R8 and RG8 textures.
pub const PLANE_CARRIED: [Fourcc; 1] = [Fourcc::Nv12];

/// What a frame needs besides the luma texture to draw a buffer carried plane by plane.
#[derive(Debug, Clone)]
pub(crate) struct PlanarDraw {
    pub chroma: GlesTexture,
    /// The drawing GPU's conversion program (compiled by its renderer).
    pub program: GlesTexProgram,
    pub conversion: Coefficients,
}

/// The planes of a YUV buffer on one GPU (see the module docs).
pub(crate) struct PlaneCopy {
    pub source_gpu: GpuId,
    pub draw: PlanarDraw,
    /// The client buffers read through their own mappings, kept mapped.
    pub mappings: Mappings,
}

/// The conversion a buffer of `fourcc` without colour hints is drawn with: BT.601, limited
/// range, at the format's depth (as `texture::yuv` converts on the CPU).
pub(crate) fn default_conversion(fourcc: Fourcc) -> Coefficients {
    let bits = if fourcc == Fourcc::P010 { 10 } else { 8 };
    Coefficients::new(Matrix::Bt601, Range::Limited, bits)
}
