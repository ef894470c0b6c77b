//! The CPU copy of a YUV buffer plane by plane ([`crate::texture::planes`]): the damaged rows
//! of each plane go from the client's mapping straight into the target GPU's plane textures
//! (one copy, no staging, no conversion), and the target converts as it draws.
//!
//! Called by `copy::cpu_copy` for a buffer of [`PLANE_CARRIED`] read through its mapping, when
//! the target samples R8 and RG8 textures; a kept entry of the same size is updated in place.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::{ffi, GlesTexture};
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};

use crate::error::TandemError;
use crate::gpu::budget::ClientBudget;
use crate::gpu::{CopyStats, Gpu};
use crate::ledger::{Ledger, MemoryKind};
use crate::texture::client_memory::ClientMemory;
use crate::texture::mapped::{with_mapped_planes, Mappings};
use crate::texture::planes::{default_conversion, PlanarDraw, PlaneCopy, PLANE_CARRIED};
use crate::texture::slot::clip_damage;
use crate::texture::{EntryContent, GpuEntry};

use super::copy::DmabufImport;

/// One plane of a format carried plane by plane: its GL texture format, bytes per texel, and
/// how many buffer pixels share a texel across and down.
struct PlaneFormat {
    internal: ffi::types::GLenum,
    format: ffi::types::GLenum,
    bytes: usize,
    subsampling: i32,
}

/// NV12: luma, then U and V interleaved at half resolution both ways.
const NV12_PLANES: [PlaneFormat; 2] = [
    PlaneFormat {
        internal: ffi::R8,
        format: ffi::RED,
        bytes: 1,
        subsampling: 1,
    },
    PlaneFormat {
        internal: ffi::RG8,
        format: ffi::RG,
        bytes: 2,
        subsampling: 2,
    },
];

/// Whether `client` is carried plane by plane to `target`.
pub(crate) fn carries(client: &Dmabuf, target: &Gpu) -> bool {
    PLANE_CARRIED.contains(&client.format().code) && target.samples_planes()
}

/// Copies the damage of `job`'s buffer, read through `mappings`, into `target`'s planes: the
/// planes of `existing` when it holds them at this size, new ones otherwise.
pub(crate) fn copy(
    target: &mut Gpu,
    job: &DmabufImport<'_>,
    budget: &ClientBudget,
    ledger: &Ledger,
    stats: &mut CopyStats,
    existing: Option<GpuEntry>,
    mut mappings: Mappings,
) -> Result<GpuEntry, TandemError> {
    let size = job.dmabuf.size();
    let (mut entry, damage) = match existing {
        Some(entry) if holds_planes(&entry, job, size) => (entry, clip_damage(job.damage, size)),
        replaced => {
            stats.reallocations += u64::from(replaced.is_some());
            drop(replaced);
            let whole = [Rectangle::from_size(size)];
            (
                new_entry(target, job, budget, ledger, size)?,
                clip_damage(&whole, size),
            )
        }
    };
    let EntryContent::Planes(planes) = &mut entry.content else {
        unreachable!("made or kept with planes above");
    };
    let textures = [&entry.texture, &planes.draw.chroma];
    let uploaded = with_mapped_planes(job.dmabuf, &mut mappings, |memory, layout| {
        upload_planes(target, &textures, memory, layout, &damage)
    })
    .ok_or(TandemError::NoCopyPath {
        source_gpu: job.source,
        target_gpu: job.target,
        fourcc: job.dmabuf.format().code,
    })??;
    planes.mappings = mappings;
    stats.cpu_damaged_bytes += uploaded;
    stats.cpu_copied_bytes += uploaded;
    stats.cpu_mapped_reads += 1;
    stats.cpu_mapped_uploads += 1;
    stats.yuv_plane_copies += 1;
    Ok(entry)
}

/// Whether `entry` holds planes of `job`'s buffer at `size`, read from the same GPU.
fn holds_planes(entry: &GpuEntry, job: &DmabufImport<'_>, size: Size<i32, BufferCoord>) -> bool {
    matches!(&entry.content, EntryContent::Planes(planes) if planes.source_gpu == job.source)
        && entry.fourcc == job.dmabuf.format().code
        && smithay::backend::renderer::Texture::size(&entry.texture) == size
}

/// Plane textures for a buffer of `size` on `target`, counted in the ledger as one texture.
fn new_entry(
    target: &mut Gpu,
    job: &DmabufImport<'_>,
    budget: &ClientBudget,
    ledger: &Ledger,
    size: Size<i32, BufferCoord>,
) -> Result<GpuEntry, TandemError> {
    let fourcc = job.dmabuf.format().code;
    let bytes: u64 = NV12_PLANES
        .iter()
        .map(|plane| {
            let (w, h) = plane_size(plane, size);
            w as u64 * h as u64 * plane.bytes as u64
        })
        .sum();
    budget.allow(bytes)?;
    let program = target.plane_program()?;
    let luma = plane_texture(target, fourcc, 0, size)?;
    let chroma = plane_texture(target, fourcc, 1, size)?;
    let account = ledger.record(
        target.id(),
        MemoryKind::NativeTexture,
        bytes,
        job.owner,
        target.released_counter(),
    );
    Ok(GpuEntry {
        gpu: target.id(),
        texture: luma,
        fourcc,
        content: EntryContent::Planes(PlaneCopy {
            source_gpu: job.source,
            draw: PlanarDraw {
                chroma,
                program,
                conversion: default_conversion(fourcc),
            },
            mappings: Mappings::default(),
        }),
        _account: Some(account),
    })
}

/// Texels across and down of `plane` of a buffer of `size`.
fn plane_size(plane: &PlaneFormat, size: Size<i32, BufferCoord>) -> (i32, i32) {
    let s = plane.subsampling;
    ((size.w + s - 1) / s, (size.h + s - 1) / s)
}

/// An empty texture for plane `index` of a `fourcc` buffer of `size` on `gpu`, owned by its
/// renderer.
fn plane_texture(
    gpu: &mut Gpu,
    fourcc: Fourcc,
    index: usize,
    size: Size<i32, BufferCoord>,
) -> Result<GlesTexture, TandemError> {
    let id = gpu.id();
    let plane = &NV12_PLANES[index];
    let (w, h) = plane_size(plane, size);
    let renderer = gpu.renderer();
    let made = renderer
        .with_context(|gl| {
            // SAFETY: GL calls on the context `with_context` made current; the texture is
            // allocated with no data (a null pointer) and handed to the renderer below.
            unsafe {
                // Errors an earlier call left (smithay does not always read them) would be
                // taken for this allocation's.
                for _ in 0..16 {
                    if gl.GetError() == ffi::NO_ERROR {
                        break;
                    }
                }
                let mut tex = 0;
                gl.GenTextures(1, &mut tex);
                gl.BindTexture(ffi::TEXTURE_2D, tex);
                for (name, value) in [
                    (ffi::TEXTURE_MIN_FILTER, ffi::LINEAR),
                    (ffi::TEXTURE_MAG_FILTER, ffi::LINEAR),
                    (ffi::TEXTURE_WRAP_S, ffi::CLAMP_TO_EDGE),
                    (ffi::TEXTURE_WRAP_T, ffi::CLAMP_TO_EDGE),
                ] {
                    gl.TexParameteri(ffi::TEXTURE_2D, name, value as i32);
                }
                gl.TexImage2D(
                    ffi::TEXTURE_2D,
                    0,
                    plane.internal as i32,
                    w,
                    h,
                    0,
                    plane.format,
                    ffi::UNSIGNED_BYTE,
                    std::ptr::null(),
                );
                gl.BindTexture(ffi::TEXTURE_2D, 0);
                let error = gl.GetError();
                if error != ffi::NO_ERROR {
                    gl.DeleteTextures(1, &tex);
                    return Err(error);
                }
                Ok(tex)
            }
        })
        .map_err(TandemError::gles(id))?;
    let tex = made.map_err(|code| TandemError::Allocation {
        width: w as u32,
        height: h as u32,
        fourcc,
        reason: format!("GL error {code:#x} for a texture of plane {index}"),
    })?;
    // smithay picks a texture program's variant by the texture's format and knows RGB ones
    // only: an opaque RGBA8 selects the variant whose alpha is the draw's alpha. The planes are
    // never read as RGB (`MultiTexture::texture_for` hides them from exports).
    // SAFETY: `tex` is a texture of this renderer's context, made above and owned by nothing
    // else; the renderer deletes it when the last handle goes.
    Ok(unsafe { GlesTexture::from_raw(renderer, Some(ffi::RGBA8), true, tex, (w, h).into()) })
}

/// One plane's texture and where its rows start in the client's memory.
struct PlaneUpload<'a> {
    texture: &'a GlesTexture,
    plane: &'a PlaneFormat,
    rows: *const u8,
    row_texels: i32,
}

/// Uploads the rows of `rects` (buffer pixels) of every plane from the client's memory into
/// its texture; returns the bytes uploaded.
fn upload_planes(
    gpu: &mut Gpu,
    textures: &[&GlesTexture; 2],
    memory: &ClientMemory,
    layout: &[(usize, usize)],
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<u64, TandemError> {
    let id = gpu.id();
    let refused = || TandemError::Gles {
        gpu: id,
        source: smithay::backend::renderer::gles::GlesError::UnsupportedPixelLayout,
    };
    let mut planes: [Option<PlaneUpload<'_>>; 2] = [None, None];
    for (((slot, plane), texture), &(offset, stride)) in planes
        .iter_mut()
        .zip(&NV12_PLANES)
        .zip(textures)
        .zip(layout)
    {
        let size = smithay::backend::renderer::Texture::size(*texture);
        let (width, rows) = (
            usize::try_from(size.w).map_err(|_| refused())?,
            usize::try_from(size.h).map_err(|_| refused())?,
        );
        let row_bytes = width.checked_mul(plane.bytes).ok_or_else(refused)?;
        if stride % plane.bytes != 0 || stride < row_bytes || rows == 0 {
            return Err(refused());
        }
        let plane_len = stride
            .checked_mul(rows - 1)
            .and_then(|len| len.checked_add(row_bytes))
            .ok_or_else(refused)?;
        *slot = Some(PlaneUpload {
            texture,
            plane,
            rows: memory.range_ptr(offset, plane_len).ok_or_else(refused)?,
            row_texels: i32::try_from(stride / plane.bytes).map_err(|_| refused())?,
        });
    }
    let mut bytes = 0u64;
    gpu.renderer()
        .with_context(|gl| {
            for upload in planes.iter().flatten() {
                let size = smithay::backend::renderer::Texture::size(upload.texture);
                let s = upload.plane.subsampling;
                for rect in rects {
                    let (x, y) = (
                        (rect.loc.x / s).clamp(0, size.w),
                        (rect.loc.y / s).clamp(0, size.h),
                    );
                    let right = (rect.loc.x.saturating_add(rect.size.w).saturating_add(s - 1) / s)
                        .clamp(x, size.w);
                    let bottom = (rect.loc.y.saturating_add(rect.size.h).saturating_add(s - 1) / s)
                        .clamp(y, size.h);
                    let (w, h) = (right - x, bottom - y);
                    if w == 0 || h == 0 {
                        continue;
                    }
                    // SAFETY: GL calls on the context `with_context` made current. The
                    // rectangle lies inside the plane's texture, whose rows (`row_texels`
                    // apart) lie inside the client's memory from `rows` on: checked above.
                    unsafe {
                        gl.BindTexture(ffi::TEXTURE_2D, upload.texture.tex_id());
                        gl.PixelStorei(ffi::UNPACK_ALIGNMENT, 1);
                        gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, upload.row_texels);
                        gl.PixelStorei(ffi::UNPACK_SKIP_PIXELS, x);
                        gl.PixelStorei(ffi::UNPACK_SKIP_ROWS, y);
                        gl.TexSubImage2D(
                            ffi::TEXTURE_2D,
                            0,
                            x,
                            y,
                            w,
                            h,
                            upload.plane.format,
                            ffi::UNSIGNED_BYTE,
                            upload.rows.cast(),
                        );
                    }
                    bytes += w as u64 * h as u64 * upload.plane.bytes as u64;
                }
            }
            // SAFETY: as above; the unpack state goes back to GL's defaults.
            unsafe {
                gl.PixelStorei(ffi::UNPACK_ALIGNMENT, 4);
                gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, 0);
                gl.PixelStorei(ffi::UNPACK_SKIP_PIXELS, 0);
                gl.PixelStorei(ffi::UNPACK_SKIP_ROWS, 0);
                gl.BindTexture(ffi::TEXTURE_2D, 0);
            }
        })
        .map_err(TandemError::gles(id))?;
    Ok(bytes)
}
