//! Custom GL through a [`MultiRenderer`]: the render GPU's `GlesRenderer` for compiling shaders,
//! and smithay's shader elements (`PixelShaderElement`, `TextureShaderElement`) drawn by
//! MultiRenderer frames.
//!
//! Programs belong to the renderer that compiled them: compile them with
//! [`MultiRenderer::gles_renderer`] of the GPU that draws, and keep one per render GPU. A frame
//! for an output on another GPU draws them through [`MultiFrame::draw_with_gles`].

use smithay::backend::renderer::element::{RenderElement, UnderlyingStorage};
use smithay::backend::renderer::gles::element::{PixelShaderElement, TextureShaderElement};
use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle};

use super::{MultiFrame, MultiRenderer};
use crate::error::TandemError;
use crate::texture::MultiTexture;

impl MultiRenderer<'_> {
    /// The render GPU's own renderer: compile custom shaders
    /// (`compile_custom_pixel_shader`, `compile_custom_texture_shader`), or run GL with its
    /// context. Textures made here directly are not in Tandem's ledger; make textures with
    /// `Offscreen<MultiTexture>` to have them counted.
    pub fn gles_renderer(&mut self) -> Result<&mut GlesRenderer, TandemError> {
        Ok(self.render_gpu_mut()?.renderer())
    }

    /// The render GPU's own texture of `texture` (for custom GL on a client's pixels), if this
    /// GPU imported one. It is valid with [`MultiRenderer::gles_renderer`] of this GPU only.
    pub fn gles_texture(&self, texture: &MultiTexture) -> Option<GlesTexture> {
        texture.texture_for(self.render_gpu()).map(|(gles, _)| gles)
    }
}

/// Draws a smithay element made for `GlesRenderer` into a MultiRenderer frame.
fn draw_gles_element<E: RenderElement<GlesRenderer>>(
    element: &E,
    frame: &mut MultiFrame<'_, '_>,
    src: Rectangle<f64, BufferCoord>,
    dst: Rectangle<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
    opaque_regions: &[Rectangle<i32, Physical>],
) -> Result<(), TandemError> {
    frame.draw_with_gles(dst, damage, |gles, dst, damage| {
        RenderElement::<GlesRenderer>::draw(element, gles, src, dst, damage, opaque_regions)
    })
}

impl<'r> RenderElement<MultiRenderer<'r>> for PixelShaderElement {
    fn draw(
        &self,
        frame: &mut MultiFrame<'_, '_>,
        src: Rectangle<f64, BufferCoord>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), TandemError> {
        draw_gles_element(self, frame, src, dst, damage, opaque_regions)
    }

    fn underlying_storage(
        &self,
        _renderer: &mut MultiRenderer<'r>,
    ) -> Option<UnderlyingStorage<'_>> {
        None
    }
}

impl<'r> RenderElement<MultiRenderer<'r>> for TextureShaderElement {
    fn draw(
        &self,
        frame: &mut MultiFrame<'_, '_>,
        src: Rectangle<f64, BufferCoord>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), TandemError> {
        draw_gles_element(self, frame, src, dst, damage, opaque_regions)
    }

    fn underlying_storage(
        &self,
        _renderer: &mut MultiRenderer<'r>,
    ) -> Option<UnderlyingStorage<'_>> {
        None
    }
}
