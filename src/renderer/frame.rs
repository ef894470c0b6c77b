//! MultiFrame and MultiFramebuffer: one frame of a [`MultiRenderer`](super::MultiRenderer).
//!
//! Every frame is drawn by the render GPU's own `GlesFrame`: into the framebuffer itself when it
//! is a buffer of the render GPU, else into the output's intermediate, which reaches the buffer
//! when the frame finishes ([`super::cross_frame`]). Either way a [`MultiTexture`] is drawn with
//! the render GPU's own entry only; a YUV buffer carried plane by plane is converted as it is
//! drawn ([`super::plane_shader`]).

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::{GlesError, GlesFrame, GlesTarget, GlesTexture};
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{Color32F, ContextId, Frame, Renderer, Texture};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size, Transform};

use super::cross_frame::{self, CrossTarget};
use super::intermediate::OutputKey;
use super::plane_shader;
use crate::error::TandemError;
use crate::gpu::operations::{OperationKind, OperationLog};
use crate::gpu::{GpuId, GpuManager};
use crate::texture::{Drawable, FrameRead, MultiTexture};

/// Where a [`MultiRenderer`](super::MultiRenderer) draws.
pub struct MultiFramebuffer<'buffer>(FramebufferTarget<'buffer>);

enum FramebufferTarget<'buffer> {
    /// A buffer of the render GPU itself.
    Direct(GlesTarget<'buffer>),
    /// A buffer of another GPU, reached through the output's intermediate.
    Cross(&'buffer mut Dmabuf),
}

impl std::fmt::Debug for MultiFramebuffer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            FramebufferTarget::Direct(target) => f.debug_tuple("Direct").field(target).finish(),
            FramebufferTarget::Cross(dmabuf) => f.debug_tuple("Cross").field(dmabuf).finish(),
        }
    }
}

impl<'buffer> MultiFramebuffer<'buffer> {
    pub(crate) fn direct(target: GlesTarget<'buffer>) -> Self {
        MultiFramebuffer(FramebufferTarget::Direct(target))
    }

    pub(crate) fn cross(target: &'buffer mut Dmabuf) -> Self {
        MultiFramebuffer(FramebufferTarget::Cross(target))
    }

    /// The render GPU's target, when drawing directly.
    pub(crate) fn as_direct(&self) -> Option<&GlesTarget<'buffer>> {
        match &self.0 {
            FramebufferTarget::Direct(target) => Some(target),
            FramebufferTarget::Cross(_) => None,
        }
    }

    pub(crate) fn as_direct_mut(&mut self) -> Option<&mut GlesTarget<'buffer>> {
        match &mut self.0 {
            FramebufferTarget::Direct(target) => Some(target),
            FramebufferTarget::Cross(_) => None,
        }
    }

    /// The other GPU's buffer, when drawing through an intermediate.
    pub(crate) fn as_cross(&self) -> Option<&Dmabuf> {
        match &self.0 {
            FramebufferTarget::Direct(_) => None,
            FramebufferTarget::Cross(dmabuf) => Some(dmabuf),
        }
    }
}

impl Texture for MultiFramebuffer<'_> {
    fn size(&self) -> Size<i32, BufferCoord> {
        match &self.0 {
            FramebufferTarget::Direct(target) => target.size(),
            FramebufferTarget::Cross(dmabuf) => dmabuf.size(),
        }
    }

    fn width(&self) -> u32 {
        self.size().w as u32
    }

    fn height(&self) -> u32 {
        self.size().h as u32
    }

    fn format(&self) -> Option<Fourcc> {
        match &self.0 {
            FramebufferTarget::Direct(target) => target.format(),
            FramebufferTarget::Cross(dmabuf) => Some(dmabuf.format().code),
        }
    }
}

/// One frame of a [`MultiRenderer`](super::MultiRenderer): the render GPU's `GlesFrame`, into
/// the target buffer itself or, for a buffer of another GPU, into the output's intermediate.
pub struct MultiFrame<'frame, 'buffer> {
    gpu: GpuId,
    context: ContextId<GlesTexture>,
    transform: Transform,
    /// Declared before `cross`, which owns what it draws into: dropped first.
    frame: GlesFrame<'frame, 'buffer>,
    /// For a buffer of another GPU: the intermediate drawn into and how it reaches the buffer.
    cross: Option<CrossTarget<'frame, 'buffer>>,
    /// Textures drawn that another GPU writes: told when this frame's reads are over.
    shared_reads: Vec<MultiTexture>,
    /// Textures drawn that are the client's own buffer: told when this frame's reads are over.
    client_reads: Vec<MultiTexture>,
    operations: OperationLog,
}

impl<'frame, 'buffer> MultiFrame<'frame, 'buffer> {
    pub(crate) fn new(
        manager: &'frame mut GpuManager,
        output: &OutputKey,
        framebuffer: &'frame mut MultiFramebuffer<'buffer>,
        size: Size<i32, Physical>,
        transform: Transform,
    ) -> Result<Self, TandemError> {
        let id = output.render;
        let context = manager.awake_gpu_ref(id)?.context_id();
        let operations = manager.operation_log();
        let (frame, cross) = match &mut framebuffer.0 {
            FramebufferTarget::Direct(gles_target) => (
                manager
                    .awake_gpu(id)?
                    .renderer()
                    .render(gles_target, size, transform)
                    .map_err(TandemError::gles(id))?,
                None,
            ),
            FramebufferTarget::Cross(target_buffer) => {
                let (frame, cross) =
                    cross_frame::begin(manager, output, target_buffer, size, transform)?;
                (frame, Some(cross))
            }
        };
        Ok(MultiFrame {
            gpu: id,
            context,
            transform,
            frame,
            cross,
            shared_reads: Vec::new(),
            client_reads: Vec::new(),
            operations,
        })
    }

    /// The GPU this frame draws on.
    pub(crate) fn gpu(&self) -> GpuId {
        self.gpu
    }

    /// What this frame's GPU draws for `texture`, with its read recorded.
    fn own_texture(&mut self, texture: &MultiTexture) -> Result<Drawable, TandemError> {
        let drawable = texture
            .drawable_for(self.gpu)
            .ok_or(TandemError::NotImportedFor(self.gpu))?;
        if drawable.shared {
            self.operations.record(self.gpu, OperationKind::Read);
            if !self.shared_reads.contains(texture) {
                self.shared_reads.push(texture.clone());
            }
        } else if !self.client_reads.contains(texture) && texture.samples_client_buffer(self.gpu) {
            self.client_reads.push(texture.clone());
        }
        Ok(drawable)
    }

    /// Records that this frame draws `damage` (relative to `dst`) within `dst`.
    fn touch(&mut self, dst: Rectangle<i32, Physical>, damage: &[Rectangle<i32, Physical>]) {
        if let Some(cross) = &mut self.cross {
            cross.touch(dst, damage);
        }
    }
}

impl<'frame, 'buffer> MultiFrame<'frame, 'buffer> {
    /// The render GPU's own frame (for custom GL: smithay's `GlesFrame::render_pixel_shader_to`,
    /// `render_texture_from_to` with a custom program, `with_context`), as `AsMut` gives it.
    /// For a buffer of another GPU it draws into the output's intermediate, which is then
    /// copied whole to the buffer: [`MultiFrame::draw_with_gles`] copies only what it drew.
    pub fn as_gles_frame(&mut self) -> &mut GlesFrame<'frame, 'buffer> {
        self.as_mut()
    }

    /// The GPU this frame draws on.
    pub fn render_gpu(&self) -> GpuId {
        self.gpu
    }

    /// Draws `dst` (with `damage` relative to it) through the render GPU's `GlesFrame`: `draw`
    /// gets the frame and the rectangle to draw (and damage). For a buffer of another GPU only
    /// what `dst` and `damage` cover is copied to it. Custom programs (shaders) must belong to
    /// the render GPU's renderer.
    pub fn draw_with_gles<F>(
        &mut self,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        draw: F,
    ) -> Result<(), TandemError>
    where
        F: FnOnce(
            &mut GlesFrame<'_, '_>,
            Rectangle<i32, Physical>,
            &[Rectangle<i32, Physical>],
        ) -> Result<(), GlesError>,
    {
        self.touch(dst, damage);
        draw(&mut self.frame, dst, damage).map_err(TandemError::gles(self.gpu))
    }
}

impl<'frame, 'buffer> AsRef<GlesFrame<'frame, 'buffer>> for MultiFrame<'frame, 'buffer> {
    /// The render GPU's `GlesFrame` (see [`MultiFrame::as_gles_frame`]).
    fn as_ref(&self) -> &GlesFrame<'frame, 'buffer> {
        &self.frame
    }
}

impl<'frame, 'buffer> AsMut<GlesFrame<'frame, 'buffer>> for MultiFrame<'frame, 'buffer> {
    /// The render GPU's `GlesFrame` (see [`MultiFrame::as_gles_frame`]); for a buffer of
    /// another GPU, the whole buffer is copied when the frame finishes.
    fn as_mut(&mut self) -> &mut GlesFrame<'frame, 'buffer> {
        if let Some(cross) = &mut self.cross {
            cross.touch_anything();
        }
        &mut self.frame
    }
}

impl Frame for MultiFrame<'_, '_> {
    type Error = TandemError;
    type TextureId = MultiTexture;

    fn context_id(&self) -> ContextId<MultiTexture> {
        self.context.clone().map()
    }

    fn clear(
        &mut self,
        color: Color32F,
        at: &[Rectangle<i32, Physical>],
    ) -> Result<(), TandemError> {
        if let Some(cross) = &mut self.cross {
            cross.touch_at(at);
        }
        self.frame
            .clear(color, at)
            .map_err(TandemError::gles(self.gpu))
    }

    fn draw_solid(
        &mut self,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        color: Color32F,
    ) -> Result<(), TandemError> {
        self.touch(dst, damage);
        Frame::draw_solid(&mut self.frame, dst, damage, color).map_err(TandemError::gles(self.gpu))
    }

    fn render_texture_from_to(
        &mut self,
        texture: &MultiTexture,
        src: Rectangle<f64, BufferCoord>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        src_transform: Transform,
        alpha: f32,
    ) -> Result<(), TandemError> {
        let drawable = self.own_texture(texture)?;
        self.touch(dst, damage);
        let drawn = match &drawable.planes {
            Some(planes) => plane_shader::draw(
                &mut self.frame,
                &drawable.texture,
                planes,
                src,
                dst,
                damage,
                opaque_regions,
                src_transform,
                alpha,
            ),
            None => Frame::render_texture_from_to(
                &mut self.frame,
                &drawable.texture,
                src,
                dst,
                damage,
                opaque_regions,
                src_transform,
                alpha,
            ),
        };
        drawn.map_err(TandemError::gles(self.gpu))
    }

    fn transformation(&self) -> Transform {
        self.transform
    }

    fn wait(&mut self, sync: &SyncPoint) -> Result<(), TandemError> {
        Frame::wait(&mut self.frame, sync).map_err(TandemError::gles(self.gpu))
    }

    fn finish(self) -> Result<SyncPoint, TandemError> {
        let drawn = self.frame.finish().map_err(TandemError::gles(self.gpu))?;
        let sync = match self.cross {
            Some(cross) => cross.finish(drawn)?,
            None => drawn,
        };
        let reads = (self
            .shared_reads
            .iter()
            .map(|t| (t, FrameRead::SharedBuffer)))
        .chain(
            self.client_reads
                .iter()
                .map(|t| (t, FrameRead::ClientBuffer)),
        );
        for (texture, read) in reads {
            texture.lock().record_read(self.gpu, read, &sync);
        }
        Ok(sync)
    }
}
