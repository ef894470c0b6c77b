//! MultiRenderer: smithay 0.7's renderer traits over every GPU of a [`GpuManager`].
//!
//! A `MultiRenderer` borrows the manager mutably and draws on one GPU (the render GPU) for a
//! target whose buffers live on a GPU (the target GPU, often the same). smithay's damage tracker,
//! surface render elements and DrmCompositor use it unchanged: its `TextureId` is
//! [`MultiTexture`](crate::MultiTexture), and its import functions fill the render GPU's entry of the surface's
//! MultiTexture, moving pixels from other GPUs when needed (module `copy`). Frames draw only the
//! render GPU's own entry, so a texture is never drawn by a GPU that did not make it. A frame for
//! a target on another GPU draws into a per-output intermediate (modules `cross_frame`,
//! `intermediate`), copied to the target when it finishes.
//!
//! Beyond importing and drawing: render-to-texture (module `offscreen`), custom shaders and the
//! render GPU's own GLES renderer and frame (module `custom_gl`), `ImportEgl` for wl_drm buffers
//! with the `use_system_lib` feature (module `egl`), `ExportMem` (module `export`), and the
//! render GPU's own targets: GLES textures, renderbuffers and EGL surfaces, blits between them,
//! `AsRef`/`AsMut<GlesRenderer>` (module `gles_targets`); copies of finished frames into screen
//! captures' buffers (module `frame_copy`).

pub(crate) mod copy;
mod cross_frame;
mod custom_gl;
#[cfg(feature = "use_system_lib")]
mod egl;
mod export;
mod frame;
pub(crate) mod frame_copy;
mod gl_copy;
mod gles_targets;
mod import;
pub(crate) mod intermediate;
mod offscreen;
mod plane_copy;
pub(crate) mod plane_shader;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::format::FormatSet;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{
    Bind, ContextId, DebugFlags, Offscreen, Renderer, RendererSuper, TextureFilter,
};
use smithay::utils::{Buffer as BufferCoord, Physical, Size, Transform};

pub use self::export::MultiMapping;
pub use self::frame::{MultiFrame, MultiFramebuffer};
pub use self::frame_copy::{FrameCopyPath, MemoryImage};
pub use self::intermediate::OutputFeed;

use self::intermediate::OutputKey;
use crate::error::TandemError;
use crate::gpu::{Gpu, GpuId, GpuManager};

/// Draws on one GPU for a target on one GPU (see the module docs).
pub struct MultiRenderer<'a> {
    manager: &'a mut GpuManager,
    /// The render GPU's renderer context (what smithay's caches key textures by; Tandem keys
    /// them by GPU id).
    context: ContextId<GlesTexture>,
    output: OutputKey,
}

impl std::fmt::Debug for MultiRenderer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiRenderer")
            .field("render", &self.output.render)
            .field("target", &self.output.target)
            .finish()
    }
}

impl<'a> MultiRenderer<'a> {
    pub(crate) fn new(
        manager: &'a mut GpuManager,
        render: GpuId,
        target: GpuId,
        context: ContextId<GlesTexture>,
        output: Option<OutputKey>,
    ) -> MultiRenderer<'a> {
        let output = output.unwrap_or_else(|| OutputKey {
            name: String::new(),
            render,
            target,
        });
        MultiRenderer {
            manager,
            context,
            output,
        }
    }

    /// The GPU this renderer draws on.
    pub fn render_gpu(&self) -> GpuId {
        self.output.render
    }

    /// The GPU whose buffers this renderer's output ends up in.
    pub fn target_gpu(&self) -> GpuId {
        self.output.target
    }

    /// The render GPU (awake while this renderer lives: it was woken to make it, and nothing
    /// parks or removes a GPU while the renderer borrows the manager).
    fn render_gpu_mut(&mut self) -> Result<&mut Gpu, TandemError> {
        self.manager.awake_gpu(self.output.render)
    }

    fn render_gpu_ref(&self) -> Result<&Gpu, TandemError> {
        self.manager.awake_gpu_ref(self.output.render)
    }

    /// The render GPU's renderer. The render GPU is in the manager for as long as this renderer
    /// lives: it was awake when the renderer was made, and nothing parks or removes a GPU while
    /// the renderer borrows the manager (a lost GPU that its cleanup opens again keeps its id
    /// and place).
    fn render_gles_ref(&self) -> &GlesRenderer {
        match self.manager.awake_gpu_ref(self.output.render) {
            Ok(gpu) => gpu.renderer_ref(),
            Err(_) => unreachable!("the render GPU left the manager while a renderer borrowed it"),
        }
    }

    fn render_gles_mut(&mut self) -> &mut GlesRenderer {
        match self.manager.awake_gpu(self.output.render) {
            Ok(gpu) => gpu.renderer(),
            Err(_) => unreachable!("the render GPU left the manager while a renderer borrowed it"),
        }
    }

    fn gles_error(
        &self,
    ) -> impl FnOnce(smithay::backend::renderer::gles::GlesError) -> TandemError {
        TandemError::gles(self.output.render)
    }
}

impl RendererSuper for MultiRenderer<'_> {
    type Error = TandemError;
    type TextureId = crate::MultiTexture;
    type Framebuffer<'buffer> = MultiFramebuffer<'buffer>;
    type Frame<'frame, 'buffer>
        = MultiFrame<'frame, 'buffer>
    where
        'buffer: 'frame,
        Self: 'frame;
}

impl Renderer for MultiRenderer<'_> {
    fn context_id(&self) -> ContextId<crate::MultiTexture> {
        self.context.clone().map()
    }

    fn downscale_filter(&mut self, filter: TextureFilter) -> Result<(), TandemError> {
        let error = self.gles_error();
        self.render_gpu_mut()?
            .renderer()
            .downscale_filter(filter)
            .map_err(error)
    }

    fn upscale_filter(&mut self, filter: TextureFilter) -> Result<(), TandemError> {
        let error = self.gles_error();
        self.render_gpu_mut()?
            .renderer()
            .upscale_filter(filter)
            .map_err(error)
    }

    fn set_debug_flags(&mut self, flags: DebugFlags) {
        if let Ok(gpu) = self.render_gpu_mut() {
            gpu.renderer().set_debug_flags(flags);
        }
    }

    fn debug_flags(&self) -> DebugFlags {
        self.render_gpu_ref()
            .map(|gpu| gpu.renderer_ref().debug_flags())
            .unwrap_or(DebugFlags::empty())
    }

    fn render<'frame, 'buffer>(
        &'frame mut self,
        framebuffer: &'frame mut MultiFramebuffer<'buffer>,
        output_size: Size<i32, Physical>,
        dst_transform: Transform,
    ) -> Result<MultiFrame<'frame, 'buffer>, TandemError>
    where
        'buffer: 'frame,
    {
        MultiFrame::new(
            self.manager,
            &self.output,
            framebuffer,
            output_size,
            dst_transform,
        )
    }

    fn wait(&mut self, sync: &SyncPoint) -> Result<(), TandemError> {
        let error = self.gles_error();
        self.render_gpu_mut()?.renderer().wait(sync).map_err(error)
    }

    fn cleanup_texture_cache(&mut self) -> Result<(), TandemError> {
        self.manager.cleanup().map(drop)
    }
}

impl Bind<Dmabuf> for MultiRenderer<'_> {
    fn bind<'b>(&mut self, target: &'b mut Dmabuf) -> Result<MultiFramebuffer<'b>, TandemError> {
        let origin = self
            .manager
            .dmabuf_origin(target)
            .unwrap_or(self.output.target);
        // Drawn directly when the buffer is the render GPU's own, or when this renderer has no
        // other GPU to reach (the render GPU then binds the foreign buffer itself, or fails).
        if origin == self.output.render || self.output.render == self.output.target {
            let error = self.gles_error();
            let gpu = self.render_gpu_mut()?;
            gpu.track_import(target);
            let gles = gpu.renderer().bind(target).map_err(error)?;
            Ok(MultiFramebuffer::direct(gles))
        } else {
            Ok(MultiFramebuffer::cross(target))
        }
    }

    fn supported_formats(&self) -> Option<FormatSet> {
        let gpu = self.manager.awake_gpu_ref(self.output.target).ok()?;
        Some(
            gpu.renderer_ref()
                .egl_context()
                .dmabuf_render_formats()
                .clone(),
        )
    }
}

impl Offscreen<Dmabuf> for MultiRenderer<'_> {
    /// Allocates a dmabuf on the render GPU; binding it renders directly, with no copy.
    fn create_buffer(
        &mut self,
        format: Fourcc,
        size: Size<i32, BufferCoord>,
    ) -> Result<Dmabuf, TandemError> {
        let id = self.output.render;
        let gpu = self.render_gpu_mut()?;
        let mut modifiers = gpu.allocator().modifiers(format);
        if modifiers.is_empty() {
            modifiers.push(Modifier::Linear);
        }
        let dmabuf = gpu.allocator().allocate(
            size.w.max(0) as u32,
            size.h.max(0) as u32,
            format,
            &modifiers,
        )?;
        self.manager.set_dmabuf_origin(&dmabuf, id);
        Ok(dmabuf)
    }
}
