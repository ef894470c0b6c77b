//! Render-to-texture on the render GPU: `Offscreen<MultiTexture>` and `Bind<MultiTexture>`.
//!
//! A compositor makes a texture for an effect (a blurred background, a screen capture, a cached
//! window) with [`Offscreen::create_buffer`], draws into it with `bind` + `render` as with any
//! smithay renderer, and shows it with smithay's `TextureRenderElement<MultiTexture>`. The texture
//! lives on the GPU that made it and is counted in the ledger as the compositor's own
//! ([`PURPOSE_OFFSCREEN_TEXTURE`]). Another GPU draws it once
//! [`MultiRenderer::import_texture`] gave it a copy; drawing into the texture again drops those
//! copies, so the next `import_texture` copies the new pixels.

use smithay::backend::allocator::format::{get_bpp, FormatSet};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen, TextureMapping};
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};

use super::{MultiFramebuffer, MultiRenderer};
use crate::error::TandemError;
use crate::ledger::PURPOSE_OFFSCREEN_TEXTURE;
use crate::texture::{EntryContent, GpuEntry, MultiTexture};

impl Offscreen<MultiTexture> for MultiRenderer<'_> {
    /// A texture on the render GPU to draw into; see the module docs.
    fn create_buffer(
        &mut self,
        format: Fourcc,
        size: Size<i32, BufferCoord>,
    ) -> Result<MultiTexture, TandemError> {
        let id = self.render_gpu();
        let ledger = self.manager.ledger().clone();
        let mut texture = MultiTexture::new(None);
        self.manager.texture_registry().register(&texture);
        let gpu = self.render_gpu_mut()?;
        let gles: GlesTexture =
            Offscreen::<GlesTexture>::create_buffer(gpu.renderer(), format, size)
                .map_err(TandemError::gles(id))?;
        let bytes_per_pixel = get_bpp(format).unwrap_or(32).div_ceil(8) as u64;
        let bytes = size.w.max(0) as u64 * size.h.max(0) as u64 * bytes_per_pixel;
        let account = ledger.record_for_compositor(
            id,
            PURPOSE_OFFSCREEN_TEXTURE,
            bytes,
            gpu.released_counter(),
        );
        texture.lock().store_memory_import(
            GpuEntry {
                gpu: id,
                texture: gles.clone(),
                fourcc: format,
                content: EntryContent::Native { pinned: None },
                _account: Some(account),
            },
            size,
            format,
        );
        texture.set_render_target(id, gles);
        Ok(texture)
    }
}

impl Bind<MultiTexture> for MultiRenderer<'_> {
    fn bind<'b>(
        &mut self,
        target: &'b mut MultiTexture,
    ) -> Result<MultiFramebuffer<'b>, TandemError> {
        let id = self.render_gpu();
        // Copies other GPUs hold are stale once the texture is drawn into.
        let stale = target.lock().take_other_gpus(id);
        drop(stale);
        let gles = target
            .render_target_mut(id)
            .ok_or(TandemError::NotRenderTarget(id))?;
        let framebuffer = self
            .render_gpu_mut()?
            .renderer()
            .bind(gles)
            .map_err(TandemError::gles(id))?;
        Ok(MultiFramebuffer::direct(framebuffer))
    }

    fn supported_formats(&self) -> Option<FormatSet> {
        Bind::<GlesTexture>::supported_formats(self.render_gpu_ref().ok()?.renderer_ref())
    }
}

impl MultiRenderer<'_> {
    /// Gives the render GPU a copy of a texture another GPU made (render-to-texture, a memory
    /// import), so that this renderer's frames can draw it. Nothing happens when the render GPU
    /// already has one. The pixels are read back on the GPU that made the texture and uploaded
    /// here; the copy is counted as the compositor's own.
    pub fn import_texture(&mut self, texture: &MultiTexture) -> Result<(), TandemError> {
        let render = self.render_gpu();
        let (source_gpu, source_texture, fourcc, size) = {
            let state = texture.lock();
            if state.entry(render).is_some() {
                return Ok(());
            }
            let source = state
                .entries()
                .find(|entry| matches!(entry.content, EntryContent::Native { .. }))
                .ok_or(TandemError::NotImportedFor(self.render_gpu()))?;
            (
                source.gpu,
                source.texture.clone(),
                source.fourcc,
                state.size,
            )
        };
        let source = self.manager.gpu(source_gpu)?;
        let mapping = source
            .renderer()
            .copy_texture(&source_texture, Rectangle::from_size(size), fourcc)
            .map_err(TandemError::gles(source_gpu))?;
        let flipped = mapping.flipped();
        let rows = source
            .renderer()
            .map_texture(&mapping)
            .map_err(TandemError::gles(source_gpu))?;
        let pixels = if flipped {
            let row = rows.len() / size.h.max(1) as usize;
            rows.chunks_exact(row.max(1))
                .rev()
                .flatten()
                .copied()
                .collect()
        } else {
            rows.to_vec()
        };
        self.upload(texture, &pixels, fourcc, size, &[])
    }
}
