//! MultiFrame and MultiFramebuffer: one frame of a [`MultiRenderer`](super::MultiRenderer).
//!
//! A framebuffer on the render GPU is drawn directly through that GPU's `GlesFrame`. A
//! framebuffer on another GPU is drawn by recording the frame's commands and replaying them into
//! the output's intermediate when the frame finishes ([`super::intermediate::present`]). Either
//! way a [`MultiTexture`] is drawn with the render GPU's own entry only; a YUV buffer carried
//! plane by plane is converted as it is drawn ([`super::plane_shader`]).

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Buffer, Fourcc};
use smithay::backend::renderer::gles::{
    GlesError, GlesFrame, GlesRenderer, GlesTarget, GlesTexture,
};
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{Bind, Color32F, ContextId, Frame, Offscreen, Renderer, Texture};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size, Transform};

use super::intermediate::{self, DrawCommand, OutputKey};
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

/// A frame being recorded for a target on another GPU.
pub(crate) struct RecordedFrame<'frame> {
    pub manager: &'frame mut GpuManager,
    pub output: OutputKey,
    pub target_buffer: &'frame mut Dmabuf,
    pub size: Size<i32, Physical>,
    pub transform: Transform,
    pub commands: Vec<DrawCommand>,
}

enum FrameInner<'frame, 'buffer> {
    Direct(GlesFrame<'frame, 'buffer>),
    Recorded(RecordedFrame<'frame>),
}

/// One frame of a [`MultiRenderer`](super::MultiRenderer).
pub struct MultiFrame<'frame, 'buffer> {
    gpu: GpuId,
    context: ContextId<GlesTexture>,
    transform: Transform,
    inner: FrameInner<'frame, 'buffer>,
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
        let inner = match &mut framebuffer.0 {
            FramebufferTarget::Direct(gles_target) => FrameInner::Direct(
                manager
                    .awake_gpu(id)?
                    .renderer()
                    .render(gles_target, size, transform)
                    .map_err(TandemError::gles(id))?,
            ),
            FramebufferTarget::Cross(target_buffer) => FrameInner::Recorded(RecordedFrame {
                manager,
                output: output.clone(),
                target_buffer,
                size,
                transform,
                commands: Vec::new(),
            }),
        };
        Ok(MultiFrame {
            gpu: id,
            context,
            transform,
            inner,
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
            .drawable_for(&self.context)
            .ok_or(TandemError::NotImportedFor(self.gpu))?;
        if drawable.shared {
            self.operations.record(self.gpu, OperationKind::Read);
            if !self.shared_reads.contains(texture) {
                self.shared_reads.push(texture.clone());
            }
        } else if !self.client_reads.contains(texture)
            && texture.samples_client_buffer(&self.context)
        {
            self.client_reads.push(texture.clone());
        }
        Ok(drawable)
    }
}

impl<'frame, 'buffer> MultiFrame<'frame, 'buffer> {
    /// The render GPU's own frame, when this frame draws directly into a buffer of the render GPU
    /// (`None` when it is recorded for an output of another GPU; use [`MultiFrame::draw_with_gles`]
    /// there). For custom GL work: smithay's `GlesFrame::render_pixel_shader_to`,
    /// `render_texture_from_to` with a custom program, `with_context`.
    pub fn as_gles_frame(&mut self) -> Option<&mut GlesFrame<'frame, 'buffer>> {
        match &mut self.inner {
            FrameInner::Direct(frame) => Some(frame),
            FrameInner::Recorded(_) => None,
        }
    }

    /// The GPU this frame draws on.
    pub fn render_gpu(&self) -> GpuId {
        self.gpu
    }

    /// Draws `dst` (with `damage` relative to it) through the render GPU's `GlesFrame`, whatever
    /// the frame's target: `draw` gets the frame and the rectangle to draw (and damage) in it.
    /// For a buffer of the render GPU it is this frame and `dst` itself. For an output of another
    /// GPU, `draw` runs at once into a transparent texture of `dst`'s size on the render GPU,
    /// which the recorded frame then blends at `dst` (premultiplied blending gives the same
    /// pixels). Custom programs (shaders) must belong to the render GPU's renderer.
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
        let gpu = self.gpu;
        match &mut self.inner {
            FrameInner::Direct(frame) => draw(frame, dst, damage).map_err(TandemError::gles(gpu)),
            FrameInner::Recorded(recorded) => {
                if dst.is_empty() {
                    return Ok(());
                }
                let renderer = recorded
                    .manager
                    .awake_gpu(recorded.output.render)?
                    .renderer();
                let (texture, sync) = draw_into_texture(renderer, dst.size, damage, draw)
                    .map_err(TandemError::gles(gpu))?;
                recorded.commands.push(DrawCommand::Wait(sync));
                recorded.commands.push(DrawCommand::Texture {
                    texture,
                    src: Rectangle::from_size((dst.size.w, dst.size.h).into()).to_f64(),
                    dst,
                    damage: damage.to_vec(),
                    opaque: Vec::new(),
                    transform: Transform::Normal,
                    alpha: 1.0,
                });
                Ok(())
            }
        }
    }
}

/// Runs `draw` into a new transparent texture of `size` on `renderer`; returns the texture and
/// the end of its drawing.
fn draw_into_texture<F>(
    renderer: &mut GlesRenderer,
    size: Size<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
    draw: F,
) -> Result<(GlesTexture, SyncPoint), GlesError>
where
    F: FnOnce(
        &mut GlesFrame<'_, '_>,
        Rectangle<i32, Physical>,
        &[Rectangle<i32, Physical>],
    ) -> Result<(), GlesError>,
{
    let mut texture: GlesTexture = Offscreen::<GlesTexture>::create_buffer(
        renderer,
        Fourcc::Abgr8888,
        (size.w, size.h).into(),
    )?;
    let sync = {
        let mut target = renderer.bind(&mut texture)?;
        let mut frame = renderer.render(&mut target, size, Transform::Normal)?;
        let whole = Rectangle::from_size(size);
        frame.clear(Color32F::TRANSPARENT, &[whole])?;
        draw(&mut frame, whole, damage)?;
        frame.finish()?
    };
    Ok((texture, sync))
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
        match &mut self.inner {
            FrameInner::Direct(frame) => {
                frame.clear(color, at).map_err(TandemError::gles(self.gpu))
            }
            FrameInner::Recorded(recorded) => {
                recorded.commands.push(DrawCommand::Clear {
                    color,
                    at: at.to_vec(),
                });
                Ok(())
            }
        }
    }

    fn draw_solid(
        &mut self,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        color: Color32F,
    ) -> Result<(), TandemError> {
        match &mut self.inner {
            FrameInner::Direct(frame) => {
                Frame::draw_solid(frame, dst, damage, color).map_err(TandemError::gles(self.gpu))
            }
            FrameInner::Recorded(recorded) => {
                recorded.commands.push(DrawCommand::Solid {
                    dst,
                    damage: damage.to_vec(),
                    color,
                });
                Ok(())
            }
        }
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
        if let Some(planes) = &drawable.planes {
            let luma = &drawable.texture;
            return self.draw_with_gles(dst, damage, |frame, dst, damage| {
                plane_shader::draw(
                    frame,
                    luma,
                    planes,
                    src,
                    dst,
                    damage,
                    opaque_regions,
                    src_transform,
                    alpha,
                )
            });
        }
        let gles = drawable.texture;
        match &mut self.inner {
            FrameInner::Direct(frame) => Frame::render_texture_from_to(
                frame,
                &gles,
                src,
                dst,
                damage,
                opaque_regions,
                src_transform,
                alpha,
            )
            .map_err(TandemError::gles(self.gpu)),
            FrameInner::Recorded(recorded) => {
                recorded.commands.push(DrawCommand::Texture {
                    texture: gles,
                    src,
                    dst,
                    damage: damage.to_vec(),
                    opaque: opaque_regions.to_vec(),
                    transform: src_transform,
                    alpha,
                });
                Ok(())
            }
        }
    }

    fn transformation(&self) -> Transform {
        self.transform
    }

    fn wait(&mut self, sync: &SyncPoint) -> Result<(), TandemError> {
        match &mut self.inner {
            FrameInner::Direct(frame) => {
                Frame::wait(frame, sync).map_err(TandemError::gles(self.gpu))
            }
            FrameInner::Recorded(recorded) => {
                recorded.commands.push(DrawCommand::Wait(sync.clone()));
                Ok(())
            }
        }
    }

    fn finish(self) -> Result<SyncPoint, TandemError> {
        let sync = match self.inner {
            FrameInner::Direct(frame) => frame.finish().map_err(TandemError::gles(self.gpu))?,
            FrameInner::Recorded(recorded) => intermediate::present(recorded)?,
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
            texture.lock().record_read(&self.context, read, &sync);
        }
        Ok(sync)
    }
}
