//! The render GPU's own render targets through a [`MultiRenderer`]: `Offscreen` and `Bind` for
//! `GlesTexture` and `GlesRenderbuffer`, `Bind<EGLSurface>`, `Blit` between framebuffers of the
//! render GPU, `BlitFrame` for frames drawn directly on it, and `AsRef`/`AsMut<GlesRenderer>`.
//!
//! These are what smithay compositors use for effects and screen capture (a blurred
//! background, a cached window, `RenderFrameResult::blit_frame_result`): the targets are the
//! render GPU's, drawn and blitted by it alone. Framebuffers of another GPU (bound through
//! `Bind<Dmabuf>` and drawn through the output's intermediate) are refused by `Blit` and
//! `BlitFrame` ([`TandemError::NotOnRenderGpu`]). Textures and renderbuffers made here are
//! plain GL objects the caller owns: the ledger does not count them (use
//! `Offscreen<MultiTexture>` for a counted texture), the live-texture diagnostics do.

use smithay::backend::allocator::format::FormatSet;
use smithay::backend::allocator::Fourcc;
use smithay::backend::egl::EGLSurface;
use smithay::backend::renderer::gles::{GlesRenderbuffer, GlesRenderer, GlesTexture};
use smithay::backend::renderer::{Bind, Blit, BlitFrame, Offscreen, TextureFilter};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size};

use super::{MultiFrame, MultiFramebuffer, MultiRenderer};
use crate::error::TandemError;

macro_rules! render_gpu_target {
    ($target:ty) => {
        impl Offscreen<$target> for MultiRenderer<'_> {
            /// Made on the render GPU (see the module docs).
            fn create_buffer(
                &mut self,
                format: Fourcc,
                size: Size<i32, BufferCoord>,
            ) -> Result<$target, TandemError> {
                let error = self.gles_error();
                Offscreen::<$target>::create_buffer(self.render_gpu_mut()?.renderer(), format, size)
                    .map_err(error)
            }
        }

        impl Bind<$target> for MultiRenderer<'_> {
            fn bind<'b>(
                &mut self,
                target: &'b mut $target,
            ) -> Result<MultiFramebuffer<'b>, TandemError> {
                let error = self.gles_error();
                let gles = self
                    .render_gpu_mut()?
                    .renderer()
                    .bind(target)
                    .map_err(error)?;
                Ok(MultiFramebuffer::direct(gles))
            }

            fn supported_formats(&self) -> Option<FormatSet> {
                Bind::<$target>::supported_formats(self.render_gpu_ref().ok()?.renderer_ref())
            }
        }
    };
}

render_gpu_target!(GlesTexture);
render_gpu_target!(GlesRenderbuffer);

impl Bind<EGLSurface> for MultiRenderer<'_> {
    fn bind<'b>(
        &mut self,
        target: &'b mut EGLSurface,
    ) -> Result<MultiFramebuffer<'b>, TandemError> {
        let error = self.gles_error();
        let gles = self
            .render_gpu_mut()?
            .renderer()
            .bind(target)
            .map_err(error)?;
        Ok(MultiFramebuffer::direct(gles))
    }
}

impl Blit for MultiRenderer<'_> {
    /// Blits between two framebuffers of the render GPU.
    fn blit(
        &mut self,
        from: &MultiFramebuffer<'_>,
        to: &mut MultiFramebuffer<'_>,
        src: Rectangle<i32, Physical>,
        dst: Rectangle<i32, Physical>,
        filter: TextureFilter,
    ) -> Result<(), TandemError> {
        let render = self.render_gpu();
        let error = self.gles_error();
        let from = from
            .as_direct()
            .ok_or(TandemError::NotOnRenderGpu(render))?;
        let to = to
            .as_direct_mut()
            .ok_or(TandemError::NotOnRenderGpu(render))?;
        self.render_gpu_mut()?
            .renderer()
            .blit(from, to, src, dst, filter)
            .map_err(error)
    }
}

impl<'buffer> BlitFrame<MultiFramebuffer<'buffer>> for MultiFrame<'_, 'buffer> {
    fn blit_to(
        &mut self,
        to: &mut MultiFramebuffer<'buffer>,
        src: Rectangle<i32, Physical>,
        dst: Rectangle<i32, Physical>,
        filter: TextureFilter,
    ) -> Result<(), TandemError> {
        let gpu = self.gpu();
        let to = to.as_direct_mut().ok_or(TandemError::NotOnRenderGpu(gpu))?;
        self.as_gles_frame()
            .blit_to(to, src, dst, filter)
            .map_err(TandemError::gles(gpu))
    }

    fn blit_from(
        &mut self,
        from: &MultiFramebuffer<'buffer>,
        src: Rectangle<i32, Physical>,
        dst: Rectangle<i32, Physical>,
        filter: TextureFilter,
    ) -> Result<(), TandemError> {
        let gpu = self.gpu();
        let from = from.as_direct().ok_or(TandemError::NotOnRenderGpu(gpu))?;
        self.as_gles_frame()
            .blit_from(from, src, dst, filter)
            .map_err(TandemError::gles(gpu))
    }
}

impl AsRef<GlesRenderer> for MultiRenderer<'_> {
    /// The render GPU's renderer (anvil's device code reaches EGL and GL through it).
    fn as_ref(&self) -> &GlesRenderer {
        self.render_gles_ref()
    }
}

impl AsMut<GlesRenderer> for MultiRenderer<'_> {
    fn as_mut(&mut self) -> &mut GlesRenderer {
        self.render_gles_mut()
    }
}
