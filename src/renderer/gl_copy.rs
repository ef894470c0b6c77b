//! GL-level copies on one GPU, for the copy paths of [`super::copy`] and the output
//! intermediates of [`super::intermediate`]: [`blit`] replaces rectangles of a dmabuf with those
//! of a texture (a framebuffer blit where it can, a draw otherwise) and [`read_back`] reads
//! rectangles of a client dmabuf into CPU staging. Both wait until the GPU is done.
//! [`upload_from_client`] uploads rectangles of an image in a client's memory into a texture,
//! GL reading that memory itself.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::{ffi, GlesRenderer, GlesTarget, GlesTexture};
use smithay::backend::renderer::{Bind, Color32F, ExportMem, Frame, Renderer};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size, Transform};

use crate::error::TandemError;
use crate::gpu::Gpu;
use crate::texture::client_memory::ClientMemory;
use crate::texture::pixel_format::{bytes_per_pixel, gl_read_format};
use crate::texture::slot::damaged_bytes;

/// Uploads `rects` of the tightly packed image of `texture`'s size that starts `offset` bytes
/// into `memory` (a client's) into `texture`. GL reads the client's memory through its pointer,
/// so no Rust reference spans it; the pixels are the texture's own format, as smithay's
/// `update_memory` takes them.
pub(crate) fn upload_from_client(
    gpu: &mut Gpu,
    texture: &GlesTexture,
    memory: &ClientMemory,
    offset: usize,
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<(), TandemError> {
    use smithay::backend::renderer::gles::format::fourcc_to_gl_formats;
    use smithay::backend::renderer::Texture;

    let id = gpu.id();
    let unsupported = || TandemError::Gles {
        gpu: id,
        source: smithay::backend::renderer::gles::GlesError::UnknownPixelFormat,
    };
    let size = texture.size();
    let (width, height) = (
        usize::try_from(size.w).map_err(|_| unsupported())?,
        usize::try_from(size.h).map_err(|_| unsupported())?,
    );
    let bpp = texture
        .format()
        .and_then(bytes_per_pixel)
        .ok_or_else(unsupported)?;
    let image_len = width
        .checked_mul(height)
        .and_then(|pixels| pixels.checked_mul(bpp))
        .ok_or_else(unsupported)?;
    let image = memory
        .range_ptr(offset, image_len)
        .ok_or_else(unsupported)?;
    let (_, format, type_) = texture
        .format()
        .and_then(fourcc_to_gl_formats)
        .ok_or_else(unsupported)?;
    let inside = Rectangle::<i32, BufferCoord>::from_size(size);
    let tex = texture.tex_id();
    gpu.renderer()
        .with_context(|gl| {
            // SAFETY: GL calls on the context `with_context` made current; every rectangle is
            // clipped to the texture, so GL reads only within the image's `image_len` bytes,
            // which lie inside the client's memory (checked above).
            unsafe {
                gl.BindTexture(ffi::TEXTURE_2D, tex);
                gl.PixelStorei(ffi::UNPACK_ALIGNMENT, bpp.min(4) as i32);
                gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, size.w);
                for rect in rects.iter().filter_map(|rect| rect.intersection(inside)) {
                    gl.PixelStorei(ffi::UNPACK_SKIP_PIXELS, rect.loc.x);
                    gl.PixelStorei(ffi::UNPACK_SKIP_ROWS, rect.loc.y);
                    gl.TexSubImage2D(
                        ffi::TEXTURE_2D,
                        0,
                        rect.loc.x,
                        rect.loc.y,
                        rect.size.w,
                        rect.size.h,
                        format,
                        type_,
                        image.cast(),
                    );
                }
                gl.PixelStorei(ffi::UNPACK_ROW_LENGTH, 0);
                gl.PixelStorei(ffi::UNPACK_SKIP_PIXELS, 0);
                gl.PixelStorei(ffi::UNPACK_SKIP_ROWS, 0);
                gl.BindTexture(ffi::TEXTURE_2D, 0);
            }
        })
        .map_err(TandemError::gles(id))
}

fn to_physical(rects: &[Rectangle<i32, BufferCoord>]) -> Vec<Rectangle<i32, Physical>> {
    rects
        .iter()
        .map(|r| Rectangle::new((r.loc.x, r.loc.y).into(), (r.size.w, r.size.h).into()))
        .collect()
}

/// Replaces `rects` of `target` (a dmabuf `gpu` can render to) with the same rectangles of
/// `texture`, which has the target's size, and waits until the GPU is done. When `texture` is
/// `buffer`'s and the GPU can bind that buffer as a framebuffer, the rectangles are copied with
/// `glBlitFramebuffer` (same-format rows are moved as memory, no shading); otherwise they are
/// drawn. True when they were copied by the framebuffer blit.
pub(crate) fn blit(
    gpu: &mut Gpu,
    target: &mut Dmabuf,
    texture: &GlesTexture,
    buffer: Option<&Dmabuf>,
    rects: &[Rectangle<i32, BufferCoord>],
) -> Result<bool, TandemError> {
    let id = gpu.id();
    let size = target.size();
    let physical_size: Size<i32, Physical> = (size.w, size.h).into();
    gpu.track_import(target);
    let renderer = gpu.renderer();
    let mut source = buffer.cloned();
    let read = source
        .as_mut()
        .and_then(|source| read_framebuffer(renderer, source));
    let mut framebuffer = renderer.bind(target).map_err(TandemError::gles(id))?;
    let mut frame = renderer
        .render(&mut framebuffer, physical_size, Transform::Normal)
        .map_err(TandemError::gles(id))?;
    let copied = read.as_ref().is_some_and(|(_, read)| {
        frame
            .with_context(|gl| blit_framebuffer(gl, *read, rects))
            .unwrap_or(false)
    });
    if !copied {
        let damage = to_physical(rects);
        frame
            .clear(Color32F::TRANSPARENT, &damage)
            .map_err(TandemError::gles(id))?;
        // The whole destination is declared opaque so that pixels are replaced, alpha
        // included, not blended (damage rectangles may overlap).
        Frame::render_texture_from_to(
            &mut frame,
            texture,
            Rectangle::from_size(size).to_f64(),
            Rectangle::from_size(physical_size),
            &damage,
            &[Rectangle::from_size(physical_size)],
            Transform::Normal,
            1.0,
        )
        .map_err(TandemError::gles(id))?;
    }
    let sync = frame.finish().map_err(TandemError::gles(id))?;
    sync.wait().map_err(|_| TandemError::Sync)?;
    Ok(copied)
}

/// The framebuffer `renderer` binds `buffer` to (smithay keeps one per buffer), alive as long as
/// the returned target; `None` when the buffer cannot be bound.
fn read_framebuffer<'buffer>(
    renderer: &mut GlesRenderer,
    buffer: &'buffer mut Dmabuf,
) -> Option<(GlesTarget<'buffer>, ffi::types::GLuint)> {
    let size = buffer.size();
    let mut target = renderer.bind(buffer).ok()?;
    let framebuffer = {
        let mut frame = renderer
            .render(&mut target, (size.w, size.h).into(), Transform::Normal)
            .ok()?;
        let bound = frame
            .with_context(|gl| {
                let mut bound = 0;
                // SAFETY: a query on the context `with_context` made current.
                unsafe { gl.GetIntegerv(ffi::FRAMEBUFFER_BINDING, &mut bound) };
                bound
            })
            .ok()?;
        let _nothing_drawn = frame.finish().ok()?;
        bound
    };
    Some((
        target,
        u32::try_from(framebuffer).ok().filter(|&id| id > 0)?,
    ))
}

/// Copies `rects` of the framebuffer `read` into the framebuffer bound for drawing, row for
/// row; false (with nothing drawn) when GL refuses.
fn blit_framebuffer(
    gl: &ffi::Gles2,
    read: ffi::types::GLuint,
    rects: &[Rectangle<i32, BufferCoord>],
) -> bool {
    // SAFETY: plain GL calls on the current context (made current by `with_context`); the read
    // binding and the scissor state are restored before returning.
    unsafe {
        let mut draw = 0;
        gl.GetIntegerv(ffi::DRAW_FRAMEBUFFER_BINDING, &mut draw);
        if draw <= 0 || draw as ffi::types::GLuint == read {
            return false;
        }
        while gl.GetError() != ffi::NO_ERROR {}
        gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, read);
        let complete =
            gl.CheckFramebufferStatus(ffi::READ_FRAMEBUFFER) == ffi::FRAMEBUFFER_COMPLETE;
        if complete {
            let scissor = gl.IsEnabled(ffi::SCISSOR_TEST) == ffi::TRUE;
            gl.Disable(ffi::SCISSOR_TEST);
            for rect in rects {
                let (x, y) = (rect.loc.x, rect.loc.y);
                let (right, bottom) = (x + rect.size.w, y + rect.size.h);
                gl.BlitFramebuffer(
                    x,
                    y,
                    right,
                    bottom,
                    x,
                    y,
                    right,
                    bottom,
                    ffi::COLOR_BUFFER_BIT,
                    ffi::NEAREST,
                );
            }
            if scissor {
                gl.Enable(ffi::SCISSOR_TEST);
            }
        }
        gl.BindFramebuffer(ffi::READ_FRAMEBUFFER, draw as ffi::types::GLuint);
        complete && gl.GetError() == ffi::NO_ERROR
    }
}

/// Reads `rects` of `client` on the source GPU into `staging`, a tightly packed image of the
/// whole buffer in `into` (a readback format of [`crate::texture::pixel_format`]: RGBA at the
/// client's depth, or BGRA where the GPU reads it); returns the bytes written into `staging`
/// (counted as they are copied).
/// GL writes the rectangles straight into `staging` ([`read_pixels`]); where it cannot, each
/// is read into a pixel buffer of smithay's and copied out of its mapping.
pub(crate) fn read_back(
    source: &mut Gpu,
    client: &Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
    into: Fourcc,
) -> Result<u64, TandemError> {
    let id = source.id();
    let bpp = bytes_per_pixel(into).ok_or(TandemError::Gles {
        gpu: id,
        source: smithay::backend::renderer::gles::GlesError::UnknownPixelFormat,
    })?;
    let row_bytes = client.size().w as usize * bpp;
    source.track_import(client);
    source.count_readbacks(rects.len() as u64);
    let mut buffer = client.clone();
    let renderer = source.renderer();
    if let Some(written) = read_pixels(renderer, &mut buffer, rects, staging, into) {
        return Ok(written);
    }
    // smithay's pixel-buffer mapping holds 4 bytes per pixel.
    if bpp != 4 {
        return Err(TandemError::Gles {
            gpu: id,
            source: smithay::backend::renderer::gles::GlesError::UnsupportedPixelFormat(into),
        });
    }
    let framebuffer = renderer.bind(&mut buffer).map_err(TandemError::gles(id))?;
    let mut written = 0u64;
    for rect in rects {
        let mapping = renderer
            .copy_framebuffer(&framebuffer, *rect, into)
            .map_err(TandemError::gles(id))?;
        let pixels = renderer
            .map_texture(&mapping)
            .map_err(TandemError::gles(id))?;
        let rect_row = rect.size.w as usize * bpp;
        for (row, line) in pixels
            .chunks_exact(rect_row)
            .take(rect.size.h as usize)
            .enumerate()
        {
            let start = (rect.loc.y as usize + row) * row_bytes + rect.loc.x as usize * bpp;
            staging[start..start + rect_row].copy_from_slice(line);
            written += line.len() as u64;
        }
    }
    // Each rectangle's pixel buffer was queued for deletion when its mapping dropped.
    source.mark_released();
    Ok(written)
}

/// Reads `rects` of `buffer` with `glReadPixels` straight into their place in `staging` (rows of
/// the buffer's width, byte order `into`): one copy, no pixel buffer. The bytes written, or
/// `None` (with nothing written) when the byte order is not one GL reads, the buffer cannot be
/// bound, a rectangle falls outside `staging`, or GL refuses.
fn read_pixels(
    renderer: &mut GlesRenderer,
    buffer: &mut Dmabuf,
    rects: &[Rectangle<i32, BufferCoord>],
    staging: &mut [u8],
    into: Fourcc,
) -> Option<u64> {
    let (format, type_) = gl_read_format(into)?;
    let bpp = bytes_per_pixel(into)?;
    let size = buffer.size();
    let width = usize::try_from(size.w).ok()?;
    let row_bytes = width * bpp;
    // Where a rectangle starts in `staging`, if it lies within it.
    let staging_len = staging.len();
    let start = |rect: &Rectangle<i32, BufferCoord>| -> Option<usize> {
        let (x, y) = (
            usize::try_from(rect.loc.x).ok()?,
            usize::try_from(rect.loc.y).ok()?,
        );
        let (w, h) = (
            usize::try_from(rect.size.w).ok()?,
            usize::try_from(rect.size.h).ok()?,
        );
        let end = (y + h.checked_sub(1)?) * row_bytes + (x + w) * bpp;
        (x + w <= width && end <= staging_len).then_some(y * row_bytes + x * bpp)
    };
    if !rects.iter().all(|rect| start(rect).is_some()) {
        return None;
    }
    let mut target = renderer.bind(buffer).ok()?;
    let mut frame = renderer
        .render(&mut target, (size.w, size.h).into(), Transform::Normal)
        .ok()?;
    let read = frame
        .with_context(|gl| {
            // SAFETY: GL calls on the current context with the buffer's framebuffer bound; each
            // rectangle's rows (of the buffer's width) end within `staging`, checked above.
            unsafe {
                while gl.GetError() != ffi::NO_ERROR {}
                gl.BindBuffer(ffi::PIXEL_PACK_BUFFER, 0);
                gl.PixelStorei(ffi::PACK_ALIGNMENT, bpp.min(4) as i32);
                gl.PixelStorei(ffi::PACK_ROW_LENGTH, size.w);
                for (rect, start) in rects.iter().filter_map(|r| Some((r, start(r)?))) {
                    gl.ReadPixels(
                        rect.loc.x,
                        rect.loc.y,
                        rect.size.w,
                        rect.size.h,
                        format,
                        type_,
                        staging.as_mut_ptr().add(start).cast(),
                    );
                }
                gl.PixelStorei(ffi::PACK_ROW_LENGTH, 0);
                gl.GetError() == ffi::NO_ERROR
            }
        })
        .unwrap_or(false);
    let _nothing_drawn = frame.finish().ok()?;
    read.then(|| damaged_bytes(rects, bpp as u64))
}
