//! The render GPU's own render targets through MultiRenderer, on each of two GPUs: GLES textures
//! and renderbuffers made by `Offscreen`, drawn through `Bind`, copied by `Blit` and by a
//! frame's `BlitFrame`, read back by `ExportMem`; `AsRef`/`AsMut<GlesRenderer>` reach the render
//! GPU's own renderer, `AsRef`/`AsMut<GlesFrame>` its own frame (for an output of another GPU,
//! the frame drawing into that output's intermediate); a framebuffer of another GPU is refused
//! by a blit.

mod common;

use common::*;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::egl::EGLSurface;
use smithay::backend::renderer::gles::{GlesFrame, GlesRenderbuffer, GlesRenderer, GlesTexture};
use smithay::backend::renderer::{
    Bind, Blit, BlitFrame, Color32F, ExportMem, Frame, Offscreen, Renderer, TextureFilter,
};
use smithay::utils::{Physical, Rectangle, Size, Transform};
use tandem::{GpuId, GpuManager, MultiFramebuffer, MultiRenderer, TandemError};

const SIZE: (i32, i32) = (32, 24);
const RED: Color32F = Color32F::new(1.0, 0.0, 0.0, 1.0);
const GREEN: Color32F = Color32F::new(0.0, 1.0, 0.0, 1.0);
const BLUE: Color32F = Color32F::new(0.0, 0.0, 1.0, 1.0);

fn two_gpus() -> (GpuManager, GpuId, GpuId) {
    let mut manager = GpuManager::new();
    let gpu0 = manager.add_software_gpu(Default::default()).expect("gpu 0");
    let gpu1 = manager.add_software_gpu(Default::default()).expect("gpu 1");
    (manager, gpu0, gpu1)
}

fn whole() -> Rectangle<i32, Physical> {
    Rectangle::from_size(SIZE.into())
}

/// Left half `left`, right half `right`.
fn paint(
    renderer: &mut MultiRenderer<'_>,
    target: &mut MultiFramebuffer<'_>,
    left: Color32F,
    right: Color32F,
) {
    let mut frame = renderer
        .render(target, SIZE.into(), Transform::Normal)
        .expect("frame");
    let half: Size<i32, Physical> = (SIZE.0 / 2, SIZE.1).into();
    frame
        .clear(left, &[Rectangle::from_size(half)])
        .expect("left");
    frame
        .clear(right, &[Rectangle::new((half.w, 0).into(), half)])
        .expect("right");
    frame.finish().expect("finish").wait().expect("wait");
}

/// The framebuffer's pixels as RGBA.
fn read(renderer: &mut MultiRenderer<'_>, framebuffer: &MultiFramebuffer<'_>) -> Vec<u8> {
    let mapping = renderer
        .copy_framebuffer(
            framebuffer,
            Rectangle::from_size(SIZE.into()),
            Fourcc::Abgr8888,
        )
        .expect("read back");
    renderer.map_texture(&mapping).expect("map").to_vec()
}

fn at(pixels: &[u8], x: i32, y: i32) -> [u8; 4] {
    pixel(pixels, SIZE.0, x, y)
}

const RED_PX: [u8; 4] = [255, 0, 0, 255];
const GREEN_PX: [u8; 4] = [0, 255, 0, 255];
const BLUE_PX: [u8; 4] = [0, 0, 255, 255];

#[test]
fn gles_textures_and_renderbuffers_are_drawn_blitted_and_read_on_each_gpu() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    for gpu in [gpu0, gpu1] {
        let mut renderer = manager.renderer(gpu).expect("renderer");
        let mut texture: GlesTexture =
            Offscreen::<GlesTexture>::create_buffer(&mut renderer, Fourcc::Abgr8888, SIZE.into())
                .expect("texture");
        let mut renderbuffer: GlesRenderbuffer = Offscreen::<GlesRenderbuffer>::create_buffer(
            &mut renderer,
            Fourcc::Abgr8888,
            SIZE.into(),
        )
        .expect("renderbuffer");

        let mut from = renderer.bind(&mut texture).expect("bind the texture");
        paint(&mut renderer, &mut from, RED, GREEN);
        let drawn = read(&mut renderer, &from);
        assert_eq!(at(&drawn, 2, 2), RED_PX, "{gpu}: texture, left");
        assert_eq!(at(&drawn, SIZE.0 - 2, 2), GREEN_PX, "{gpu}: texture, right");

        let mut to = renderer
            .bind(&mut renderbuffer)
            .expect("bind the renderbuffer");
        paint(&mut renderer, &mut to, BLUE, BLUE);
        assert_eq!(
            at(&read(&mut renderer, &to), 2, 2),
            BLUE_PX,
            "{gpu}: renderbuffer"
        );

        // Blit: the texture's left half onto the renderbuffer's right half (both were read
        // back first, which must not leave them unreadable to a blit).
        let half = Rectangle::<i32, Physical>::from_size((SIZE.0 / 2, SIZE.1).into());
        let right = Rectangle::new((SIZE.0 / 2, 0).into(), (SIZE.0 / 2, SIZE.1).into());
        renderer
            .blit(&from, &mut to, half, right, TextureFilter::Nearest)
            .expect("blit");
        let blitted = read(&mut renderer, &to);
        assert_eq!(at(&blitted, 2, 2), BLUE_PX, "{gpu}: blit leaves the rest");
        assert_eq!(at(&blitted, SIZE.0 - 2, 2), RED_PX, "{gpu}: blit copies");

        // BlitFrame: a frame on the texture takes the renderbuffer whole, then gives its own
        // pixels to it.
        {
            let mut frame = renderer
                .render(&mut from, SIZE.into(), Transform::Normal)
                .expect("frame");
            frame
                .blit_from(&to, whole(), whole(), TextureFilter::Nearest)
                .expect("blit from");
            frame
                .clear(GREEN, &[Rectangle::from_size((4, 4).into())])
                .expect("corner");
            frame
                .blit_to(&mut to, whole(), whole(), TextureFilter::Nearest)
                .expect("blit to");
            frame.finish().expect("finish").wait().expect("wait");
        }
        let framed = read(&mut renderer, &to);
        assert_eq!(
            at(&framed, 1, 1),
            GREEN_PX,
            "{gpu}: blit_to copies the frame"
        );
        assert_eq!(
            at(&framed, 8, 8),
            BLUE_PX,
            "{gpu}: blit_from copied the renderbuffer"
        );
        assert_eq!(
            at(&framed, SIZE.0 - 2, 8),
            RED_PX,
            "{gpu}: and its blitted half"
        );
    }
}

#[test]
fn as_ref_reaches_the_render_gpus_own_renderer() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    let context = |manager: &mut GpuManager, gpu: GpuId| {
        manager.gpu(gpu).expect("gpu").renderer().context_id()
    };
    let (own0, own1) = (context(&mut manager, gpu0), context(&mut manager, gpu1));
    assert_ne!(own0, own1);
    for (gpu, own) in [(gpu0, own0), (gpu1, own1)] {
        let mut renderer = manager.cross_renderer(gpu, gpu0, None).expect("renderer");
        let by_ref = AsRef::<GlesRenderer>::as_ref(&renderer).context_id();
        assert_eq!(by_ref, own, "{gpu}: as_ref");
        let by_mut = AsMut::<GlesRenderer>::as_mut(&mut renderer).context_id();
        assert_eq!(by_mut, own, "{gpu}: as_mut");
    }
}

#[test]
fn a_framebuffer_of_another_gpu_is_refused_by_a_blit() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    let mut output: Dmabuf = manager
        .renderer(gpu1)
        .expect("gpu 1")
        .create_buffer(Fourcc::Argb8888, SIZE.into())
        .expect("gpu 1's buffer");
    let mut renderer = manager
        .cross_renderer(gpu0, gpu1, Some("out"))
        .expect("renderer");
    let mut texture: GlesTexture =
        Offscreen::<GlesTexture>::create_buffer(&mut renderer, Fourcc::Abgr8888, SIZE.into())
            .expect("texture");
    let from = renderer.bind(&mut texture).expect("bind the texture");
    let mut to = renderer.bind(&mut output).expect("bind gpu 1's buffer");
    let refused = renderer.blit(&from, &mut to, whole(), whole(), TextureFilter::Nearest);
    assert!(
        matches!(refused, Err(TandemError::NotOnRenderGpu(gpu)) if gpu == gpu0),
        "{refused:?}"
    );
}

/// `AsRef`/`AsMut<GlesFrame>` on a frame for an output of the render GPU and for an output of
/// another GPU (drawn into its intermediate): what the `GlesFrame` draws reaches the output,
/// also when nothing else drew in that frame.
#[test]
fn the_gles_frame_draws_into_outputs_of_either_gpu() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    for target in [gpu0, gpu1] {
        let mut output: Dmabuf = manager
            .renderer(target)
            .expect("target")
            .create_buffer(Fourcc::Argb8888, SIZE.into())
            .expect("output buffer");
        let name = format!("gles-frame-{target}");
        let mut renderer = manager
            .cross_renderer(gpu0, target, Some(&name))
            .expect("renderer");
        let mut framebuffer = renderer.bind(&mut output).expect("bind");
        paint(&mut renderer, &mut framebuffer, BLUE, BLUE);
        {
            let mut frame = renderer
                .render(&mut framebuffer, SIZE.into(), Transform::Normal)
                .expect("frame");
            let by_ref: &GlesFrame<'_, '_> = frame.as_ref();
            assert_eq!(Frame::transformation(by_ref), Transform::Normal);
            let gles: &mut GlesFrame<'_, '_> = frame.as_mut();
            let left = Rectangle::from_size((SIZE.0 / 2, SIZE.1).into());
            Frame::draw_solid(gles, left, &[left], RED).expect("drawn by the GlesFrame");
            frame.finish().expect("finish").wait().expect("wait");
        }
        let pixels = read(&mut renderer, &framebuffer);
        assert_eq!(
            at(&pixels, 2, 2),
            [255, 0, 0, 255],
            "{target}: drawn through as_mut"
        );
        assert_eq!(
            at(&pixels, SIZE.0 - 2, 2),
            [0, 0, 255, 255],
            "{target}: kept"
        );
        drop(framebuffer);
        drop(renderer);
        manager.remove_output(&name);
    }
}

/// `Bind<EGLSurface>` needs a native window to make a surface; the bound is what anvil's winit
/// backend asks of its renderer.
#[allow(dead_code)]
fn binds_egl_surfaces<R: for<'b> Bind<EGLSurface>>() {}
#[allow(dead_code)]
fn multi_renderer_binds_egl_surfaces() {
    binds_egl_surfaces::<MultiRenderer<'static>>();
}
