//! The frame of an output on another GPU: drawn by the render GPU's own `GlesFrame` straight
//! into the output's intermediate ([`super::intermediate`]), which reaches the output's buffer
//! when the frame finishes. [`MultiFrame`](super::MultiFrame) holds the `GlesFrame` and a
//! [`CrossTarget`], made together by [`begin`].
//!
//! smithay's `GlesFrame<'frame, 'buffer>` borrows the renderer and a `GlesTarget<'buffer>`,
//! which borrows the buffer it draws into; here the buffer (the intermediate's handle) and the
//! target are owned by the frame itself, and the renderer belongs to the manager the frame must
//! also reach when it finishes. The borrow checker cannot say that, so this module keeps them in
//! allocations of its own, reached through pointers, under these rules:
//! - the buffer and the target are allocated by [`begin`] and freed only by the
//!   [`CrossTarget`]'s `Drop`, target first;
//! - the `GlesFrame` is dropped or finished before its `CrossTarget` (`MultiFrame` declares it
//!   first, and `MultiFrame::finish` finishes it before it calls [`CrossTarget::finish`]);
//! - the manager is reached through its pointer only while no `GlesFrame` of it is alive (in
//!   [`begin`] before the frame is made, and after it is gone); the `MultiFrame` holds the
//!   manager's `&'frame mut` borrow meanwhile, so nothing else reaches it.

use std::marker::PhantomData;
use std::ptr::NonNull;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Buffer;
use smithay::backend::renderer::gles::{GlesFrame, GlesTarget};
use smithay::backend::renderer::sync::SyncPoint;
use smithay::backend::renderer::{Bind, Renderer};
use smithay::utils::{Buffer as BufferCoord, Physical, Rectangle, Size, Transform};

use super::intermediate::{self, OutputIntermediate, OutputKey};
use crate::error::TandemError;
use crate::gpu::GpuManager;

/// What a frame drawn into an output's intermediate holds besides its `GlesFrame` (see the
/// module docs).
pub(crate) struct CrossTarget<'frame, 'buffer> {
    manager: NonNull<GpuManager>,
    output: OutputKey,
    /// Taken out of the manager for the frame; given back when it finishes or is dropped.
    intermediate: Option<OutputIntermediate>,
    target_buffer: &'frame mut Dmabuf,
    transform: Transform,
    /// The intermediate's buffer handle, which `bound` borrows.
    buffer: NonNull<Dmabuf>,
    /// The render GPU's target of `buffer`, which the `GlesFrame` borrows.
    bound: Option<NonNull<GlesTarget<'buffer>>>,
    /// The output area the frame drew, in output coordinates.
    touched: Vec<Rectangle<i32, Physical>>,
    /// The `GlesFrame` was handed out: what it drew is unknown, the whole buffer is copied.
    touched_unknown: bool,
    _manager: PhantomData<&'frame mut GpuManager>,
}

/// Starts a frame of `size` for `output`, whose buffer `target_buffer` lives on another GPU:
/// the render GPU's `GlesFrame` into the output's intermediate, and what it needs to finish.
pub(crate) fn begin<'frame, 'buffer>(
    manager: &'frame mut GpuManager,
    output: &OutputKey,
    target_buffer: &'frame mut Dmabuf,
    size: Size<i32, Physical>,
    transform: Transform,
) -> Result<(GlesFrame<'frame, 'buffer>, CrossTarget<'frame, 'buffer>), TandemError>
where
    'buffer: 'frame,
{
    let (intermediate, buffer) = intermediate::prepare(
        manager,
        output,
        target_buffer.size(),
        target_buffer.format().code,
    )?;
    let render = output.render;
    let mut cross = CrossTarget {
        manager: NonNull::from(manager),
        output: output.clone(),
        intermediate: Some(intermediate),
        target_buffer,
        transform,
        buffer: NonNull::from(Box::leak(Box::new(buffer))),
        bound: None,
        touched: Vec::new(),
        touched_unknown: false,
        _manager: PhantomData,
    };
    // SAFETY: the manager's borrow is held by `cross` for 'frame; no other reference to it is
    // alive (the one `prepare` had is over), and none is made while the frame below lives.
    let manager: &'frame mut GpuManager = unsafe { &mut *cross.manager.as_ptr() };
    let renderer = manager.awake_gpu(render)?.renderer();
    // SAFETY: `buffer` is this frame's own allocation, freed by `cross` only after `bound`
    // (module docs), so it outlives every borrow of it.
    let buffer: &'buffer mut Dmabuf = unsafe { &mut *cross.buffer.as_ptr() };
    let bound = renderer.bind(buffer).map_err(TandemError::gles(render))?;
    let bound = NonNull::from(Box::leak(Box::new(bound)));
    cross.bound = Some(bound);
    // SAFETY: `bound` is this frame's own allocation, freed by `cross` only after the frame
    // made here is gone (module docs).
    let target: &'frame mut GlesTarget<'buffer> = unsafe { &mut *bound.as_ptr() };
    let frame = renderer
        .render(target, size, transform)
        .map_err(TandemError::gles(render))?;
    Ok((frame, cross))
}

impl CrossTarget<'_, '_> {
    /// Records that the frame drew `damage` (relative to `dst`) within `dst`.
    pub fn touch(&mut self, dst: Rectangle<i32, Physical>, damage: &[Rectangle<i32, Physical>]) {
        self.touched.extend(
            damage
                .iter()
                .filter_map(|d| Rectangle::new(d.loc + dst.loc, d.size).intersection(dst)),
        );
    }

    /// Records that the frame drew `at` (output coordinates).
    pub fn touch_at(&mut self, at: &[Rectangle<i32, Physical>]) {
        self.touched.extend_from_slice(at);
    }

    /// The `GlesFrame` is handed out: anything may be drawn.
    pub fn touch_anything(&mut self) {
        self.touched_unknown = true;
    }

    /// Copies what the frame drew into the output's buffer. Call it once the frame is
    /// finished and `drawn` (its end) is waited for.
    pub fn finish(mut self, drawn: SyncPoint) -> Result<SyncPoint, TandemError> {
        drawn.wait().map_err(|_| TandemError::Sync)?;
        self.free_target();
        let whole = Rectangle::from_size(self.target_buffer.size());
        let rects: Vec<Rectangle<i32, BufferCoord>> =
            if self.transform == Transform::Normal && !self.touched_unknown {
                self.touched
                    .iter()
                    .filter_map(|r| {
                        Rectangle::<i32, BufferCoord>::new(
                            (r.loc.x, r.loc.y).into(),
                            (r.size.w, r.size.h).into(),
                        )
                        .intersection(whole)
                    })
                    .filter(|r| !r.is_empty())
                    .collect()
            } else {
                // A turned output's damage is in output coordinates; the intermediate holds
                // the whole last frame, so the whole buffer is copied.
                vec![whole]
            };
        let Some(intermediate) = self.intermediate.take() else {
            return Ok(SyncPoint::signaled());
        };
        let output = self.output.clone();
        // SAFETY: the frame is gone (finished above by the caller) and its target freed: no
        // other reference to the manager is alive (module docs).
        let manager = unsafe { self.manager.as_mut() };
        intermediate::deliver(manager, output, intermediate, self.target_buffer, &rects)
    }

    /// Frees the render GPU's target of the intermediate (the frame drawing into it is gone).
    fn free_target(&mut self) {
        if let Some(bound) = self.bound.take() {
            // SAFETY: allocated by `begin` with `Box::leak` and freed only here; the frame that
            // borrowed it is gone (module docs).
            drop(unsafe { Box::from_raw(bound.as_ptr()) });
        }
    }
}

impl Drop for CrossTarget<'_, '_> {
    fn drop(&mut self) {
        self.free_target();
        if let Some(intermediate) = self.intermediate.take() {
            // A frame dropped unfinished: its output keeps its intermediate.
            // SAFETY: the frame is gone (dropped before this, module docs): no other reference
            // to the manager is alive.
            unsafe { self.manager.as_mut() }.put_intermediate(self.output.clone(), intermediate);
        }
        // SAFETY: allocated by `begin` with `Box::leak`, freed only here, after the target that
        // borrowed it.
        drop(unsafe { Box::from_raw(self.buffer.as_ptr()) });
    }
}
