//! ExportMem of [`MultiRenderer`]: reading pixels back from framebuffers and textures.
//!
//! A mapping remembers the GPU that made it, because a PBO name means nothing in another GPU's
//! context: a framebuffer on another GPU is read by that GPU.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::gles::{ffi, GlesMapping, GlesRenderer};
use smithay::backend::renderer::{Bind, ExportMem, Texture, TextureMapping};
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};

use super::{MultiFramebuffer, MultiRenderer};
use crate::error::TandemError;
use crate::gpu::{Gpu, GpuId};
use crate::texture::MultiTexture;

/// Pixels read back by one GPU. Dropping it queues the delete of its pixel buffer on that GPU and
/// tells the GPU's cleanup so.
#[derive(Debug)]
pub struct MultiMapping {
    gpu: GpuId,
    mapping: GlesMapping,
    released: Arc<AtomicUsize>,
}

impl Drop for MultiMapping {
    fn drop(&mut self) {
        self.released.fetch_add(1, Ordering::Release);
    }
}

impl MultiMapping {
    fn new(gpu: &Gpu, mapping: GlesMapping) -> MultiMapping {
        MultiMapping {
            gpu: gpu.id(),
            mapping,
            released: gpu.released_counter(),
        }
    }
}

impl Texture for MultiMapping {
    fn size(&self) -> Size<i32, BufferCoord> {
        self.mapping.size()
    }

    fn width(&self) -> u32 {
        self.mapping.width()
    }

    fn height(&self) -> u32 {
        self.mapping.height()
    }

    fn format(&self) -> Option<Fourcc> {
        Texture::format(&self.mapping)
    }
}

impl TextureMapping for MultiMapping {
    fn flipped(&self) -> bool {
        self.mapping.flipped()
    }
}

impl ExportMem for MultiRenderer<'_> {
    type TextureMapping = MultiMapping;

    fn copy_framebuffer(
        &mut self,
        target: &MultiFramebuffer<'_>,
        region: Rectangle<i32, BufferCoord>,
        format: Fourcc,
    ) -> Result<MultiMapping, TandemError> {
        if let Some(gles_target) = target.as_direct() {
            let gpu = self.render_gpu_mut()?;
            let mapping = gpu
                .renderer()
                .copy_framebuffer(gles_target, region, format)
                .map_err(TandemError::gles(gpu.id()))?;
            restore_read_buffer(gpu.renderer());
            return Ok(MultiMapping::new(gpu, mapping));
        }
        let Some(buffer) = target.as_cross() else {
            unreachable!("a framebuffer is direct or cross");
        };
        let gpu = self.manager.awake_gpu(self.output.target)?;
        let id = gpu.id();
        let mut buffer = buffer.clone();
        gpu.track_import(&buffer);
        let renderer = gpu.renderer();
        let framebuffer = renderer.bind(&mut buffer).map_err(TandemError::gles(id))?;
        let mapping = renderer
            .copy_framebuffer(&framebuffer, region, format)
            .map_err(TandemError::gles(id))?;
        drop(framebuffer);
        restore_read_buffer(renderer);
        Ok(MultiMapping::new(gpu, mapping))
    }

    fn copy_texture(
        &mut self,
        texture: &MultiTexture,
        region: Rectangle<i32, BufferCoord>,
        format: Fourcc,
    ) -> Result<MultiMapping, TandemError> {
        let drawable = texture
            .drawable_for(self.render_gpu())
            .ok_or(TandemError::NotImportedFor(self.render_gpu()))?;
        if drawable.planes.is_some() {
            return Err(TandemError::CarriedAsPlanes(self.render_gpu()));
        }
        let gpu = self.render_gpu_mut()?;
        let mapping = gpu
            .renderer()
            .copy_texture(&drawable.texture, region, format)
            .map_err(TandemError::gles(gpu.id()))?;
        Ok(MultiMapping::new(gpu, mapping))
    }

    fn can_read_texture(&mut self, texture: &MultiTexture) -> Result<bool, TandemError> {
        let gpu = self.render_gpu();
        match texture.texture_for(self.render_gpu()) {
            Some((gles, _)) => self
                .render_gpu_mut()?
                .renderer()
                .can_read_texture(&gles)
                .map_err(TandemError::gles(gpu)),
            None => Ok(false),
        }
    }

    fn map_texture<'a>(&mut self, mapping: &'a MultiMapping) -> Result<&'a [u8], TandemError> {
        let gpu = self.manager.gpu(mapping.gpu)?;
        gpu.renderer()
            .map_texture(&mapping.mapping)
            .map_err(TandemError::gles(mapping.gpu))
    }
}

/// smithay 0.7's `copy_framebuffer` sets the read buffer of the framebuffer it read to none,
/// and a read buffer is state of that framebuffer object: a later blit from it would copy
/// nothing. Sets it back (the colour attachment of a framebuffer object, the back buffer of a
/// surface) while that framebuffer is still the one bound for reading.
fn restore_read_buffer(renderer: &mut GlesRenderer) {
    let restored = renderer.with_context(|gl| unsafe {
        let mut bound = 0;
        gl.GetIntegerv(ffi::READ_FRAMEBUFFER_BINDING, &mut bound);
        gl.ReadBuffer(if bound == 0 {
            ffi::BACK
        } else {
            ffi::COLOR_ATTACHMENT0
        });
    });
    if let Err(err) = restored {
        tracing::debug!(%err, "could not restore the read buffer after a readback");
    }
}
