//! Renderer code shaped like smithay 0.7's anvil (and the compositors that grew from it),
//! compiled against MultiRenderer with nothing changed but the renderer type: an element enum
//! made with `render_elements!` (space elements, memory buffers, solid colours, pixel shaders),
//! `space_render_elements`, `OutputDamageTracker`, `DrmCompositor::render_frame` and
//! `RenderFrameResult::blit_frame_result`. The frame is drawn on a software GPU's output and on
//! an output of another GPU, and its pixels checked.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::gbm::GbmAllocator;
use smithay::backend::allocator::Fourcc;
use smithay::backend::drm::compositor::{DrmCompositor, FrameFlags};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::DrmDeviceFd;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::SolidColorRenderElement;
use smithay::backend::renderer::element::texture::TextureRenderElement;
use smithay::backend::renderer::element::{Id, Kind};
use smithay::backend::renderer::gles::element::{PixelShaderElement, TextureShaderElement};
use smithay::backend::renderer::utils::CommitCounter;
use smithay::backend::renderer::{Bind, ExportMem, ImportAll, ImportMem, Offscreen, Renderer};
use smithay::desktop::space::{space_render_elements, SpaceRenderElements};
use smithay::desktop::{Space, Window};
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::utils::{Physical, Rectangle, Transform};
use tandem::{GpuId, GpuManager, MultiRenderer};

const OUT: (i32, i32) = (64, 48);

/// The RGBA bytes of pixel (x, y) of an RGBA readback `width` pixels wide.
fn pixel(pixels: &[u8], width: i32, x: i32, y: i32) -> [u8; 4] {
    let at = ((y * width + x) * 4) as usize;
    [pixels[at], pixels[at + 1], pixels[at + 2], pixels[at + 3]]
}

smithay::backend::renderer::element::render_elements! {
    pub OutputElements<R, E> where R: ImportAll + ImportMem;
    Space=SpaceRenderElements<R, E>,
    Memory=MemoryRenderBufferRenderElement<R>,
    Solid=SolidColorRenderElement,
}

smithay::backend::renderer::element::render_elements! {
    pub EffectElements<R, P, T> where R: ImportAll + ImportMem;
    Pixel=P,
    Texture=T,
    Memory=MemoryRenderBufferRenderElement<R>,
}

/// What anvil's udev backend asks of its renderer to present a frame through DrmCompositor and
/// to blit the result for a screen capture; compiled for MultiRenderer, not run (it needs a DRM
/// device).
#[allow(dead_code)]
fn present<'r>(
    compositor: &mut DrmCompositor<
        GbmAllocator<DrmDeviceFd>,
        GbmFramebufferExporter<DrmDeviceFd>,
        (),
        DrmDeviceFd,
    >,
    renderer: &mut MultiRenderer<'r>,
    elements: &[OutputElements<
        MultiRenderer<'r>,
        smithay::backend::renderer::element::surface::WaylandSurfaceRenderElement<
            MultiRenderer<'r>,
        >,
    >],
    capture: &mut Dmabuf,
) {
    let Ok(result) = compositor.render_frame(
        renderer,
        elements,
        [0.0, 0.0, 0.0, 1.0],
        FrameFlags::DEFAULT,
    ) else {
        return;
    };
    if let Ok(mut framebuffer) = renderer.bind(capture) {
        let _ = result.blit_frame_result(
            OUT,
            Transform::Normal,
            1.0,
            renderer,
            &mut framebuffer,
            [Rectangle::<i32, Physical>::from_size(OUT.into())],
            [],
        );
    }
}

fn output() -> Output {
    let output = Output::new(
        "anvil-shaped".into(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Tandem".into(),
            model: "test".into(),
        },
    );
    let mode = Mode {
        size: OUT.into(),
        refresh: 60_000,
    };
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        None,
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
    output
}

/// Draws the anvil-shaped elements on `render` into a buffer of `target` and reads it back.
fn draw(manager: &mut GpuManager, render: GpuId, target: GpuId) -> Vec<u8> {
    let mut buffer: Dmabuf = manager
        .renderer(target)
        .expect("target renderer")
        .create_buffer(Fourcc::Argb8888, OUT.into())
        .expect("output buffer");
    let name = format!("anvil-{render}-{target}");
    let mut renderer = manager
        .cross_renderer(render, target, Some(&name))
        .expect("renderer");
    let output = output();
    let mut space: Space<Window> = Space::default();
    space.map_output(&output, (0, 0));
    let mut memory = MemoryRenderBuffer::new(Fourcc::Argb8888, (8, 8), 1, Transform::Normal, None);
    {
        let mut context = memory.render();
        context
            .draw(|pixels| {
                for chunk in pixels.chunks_exact_mut(4) {
                    chunk.copy_from_slice(&[0, 0, 255, 255]); // ARGB8888 red, in memory B G R A
                }
                Ok::<_, ()>(vec![Rectangle::from_size((8, 8).into())])
            })
            .expect("draw the memory buffer");
    }
    let mut elements: Vec<OutputElements<MultiRenderer<'_>, _>> = Vec::new();
    elements.push(OutputElements::Memory(
        MemoryRenderBufferRenderElement::from_buffer(
            &mut renderer,
            (4.0, 4.0),
            &memory,
            None,
            None,
            None,
            Kind::Unspecified,
        )
        .expect("memory element"),
    ));
    elements.push(OutputElements::Solid(SolidColorRenderElement::new(
        Id::new(),
        Rectangle::new((32, 24).into(), (16, 16).into()),
        CommitCounter::default(),
        [0.0, 1.0, 0.0, 1.0],
        Kind::Unspecified,
    )));
    elements.extend(
        space_render_elements(&mut renderer, [&space], &output, 1.0)
            .expect("space elements")
            .into_iter()
            .map(OutputElements::Space),
    );
    let mut framebuffer = renderer.bind(&mut buffer).expect("bind the output");
    let mut damage = OutputDamageTracker::from_output(&output);
    damage
        .render_output(
            &mut renderer,
            &mut framebuffer,
            0,
            &elements,
            [0.0, 0.0, 0.0, 1.0],
        )
        .expect("frame");
    let mapping = renderer
        .copy_framebuffer(
            &framebuffer,
            Rectangle::from_size(OUT.into()),
            Fourcc::Abgr8888,
        )
        .expect("read back");
    let pixels = renderer.map_texture(&mapping).expect("map").to_vec();
    drop(framebuffer);
    drop(renderer);
    manager.remove_output(&name);
    pixels
}

#[test]
fn anvil_shaped_elements_draw_through_multirenderer_on_two_gpus() {
    let mut manager = GpuManager::new();
    let gpu0 = manager.add_software_gpu(Default::default()).expect("gpu 0");
    let gpu1 = manager.add_software_gpu(Default::default()).expect("gpu 1");
    for (render, target) in [(gpu0, gpu0), (gpu0, gpu1)] {
        let pixels = draw(&mut manager, render, target);
        let at = |x, y| pixel(&pixels, OUT.0, x, y);
        assert_eq!(
            at(6, 6),
            [255, 0, 0, 255],
            "{render} -> {target}: the memory buffer"
        );
        assert_eq!(
            at(40, 30),
            [0, 255, 0, 255],
            "{render} -> {target}: the solid colour"
        );
        assert_eq!(
            at(1, 40),
            [0, 0, 0, 255],
            "{render} -> {target}: the background"
        );
    }
}

/// A texture shader in smithay's template: the texture with red and blue swapped.
const SWAP_RED_BLUE: &str = r#"#version 100
//_DEFINES_
#if defined(EXTERNAL)
#extension GL_OES_EGL_image_external : require
#endif
precision mediump float;
#if defined(EXTERNAL)
uniform samplerExternalOES tex;
#else
uniform sampler2D tex;
#endif
uniform float alpha;
varying vec2 v_coords;
#if defined(DEBUG_FLAGS)
uniform float tint;
#endif
void main() {
    vec4 color = texture2D(tex, v_coords);
    gl_FragColor = vec4(color.b, color.g, color.r, 1.0) * alpha;
}
"#;

/// Draws a pixel shader (green) and a texture shader (a red texture, shown blue) made on
/// `render`'s own renderer into a buffer of `target` and reads it back.
fn draw_effects(manager: &mut GpuManager, render: GpuId, target: GpuId) -> Vec<u8> {
    let mut buffer: Dmabuf = manager
        .renderer(target)
        .expect("target renderer")
        .create_buffer(Fourcc::Argb8888, OUT.into())
        .expect("output buffer");
    let name = format!("effects-{render}-{target}");
    let mut renderer = manager
        .cross_renderer(render, target, Some(&name))
        .expect("renderer");
    let gles = renderer.gles_renderer().expect("the render GPU");
    let pixel_program = gles
        .compile_custom_pixel_shader(
            "precision mediump float;\nuniform float alpha;\nvoid main() { gl_FragColor = vec4(0.0, 1.0, 0.0, 1.0) * alpha; }",
            &[],
        )
        .expect("pixel shader compiles");
    let texture_program = gles
        .compile_custom_texture_shader(SWAP_RED_BLUE, &[])
        .expect("texture shader compiles");
    let red: Vec<u8> = [255u8, 0, 0, 255].repeat(64);
    let texture = gles
        .import_memory(&red, Fourcc::Abgr8888, (8, 8).into(), false)
        .expect("texture");
    let context = gles.context_id();
    let elements: Vec<EffectElements<MultiRenderer<'_>, PixelShaderElement, TextureShaderElement>> = vec![
        EffectElements::Pixel(PixelShaderElement::new(
            pixel_program,
            Rectangle::new((8, 8).into(), (16, 16).into()),
            None,
            1.0,
            vec![],
            Kind::Unspecified,
        )),
        EffectElements::Texture(TextureShaderElement::new(
            TextureRenderElement::from_static_texture(
                Id::new(),
                context,
                (40.0, 8.0),
                texture,
                1,
                Transform::Normal,
                None,
                None,
                None,
                None,
                Kind::Unspecified,
            ),
            texture_program,
            vec![],
        )),
    ];
    let mut framebuffer = renderer.bind(&mut buffer).expect("bind");
    let mut damage = OutputDamageTracker::new(OUT, 1.0, Transform::Normal);
    damage
        .render_output(
            &mut renderer,
            &mut framebuffer,
            0,
            &elements,
            [0.0, 0.0, 0.0, 1.0],
        )
        .expect("frame");
    let mapping = renderer
        .copy_framebuffer(
            &framebuffer,
            Rectangle::from_size(OUT.into()),
            Fourcc::Abgr8888,
        )
        .expect("read back");
    let pixels = renderer.map_texture(&mapping).expect("map").to_vec();
    drop(framebuffer);
    drop(renderer);
    manager.remove_output(&name);
    pixels
}

#[test]
fn an_effect_enum_for_multirenderer_holds_shader_elements() {
    let mut manager = GpuManager::new();
    let gpu0 = manager.add_software_gpu(Default::default()).expect("gpu 0");
    let gpu1 = manager.add_software_gpu(Default::default()).expect("gpu 1");
    for (render, target) in [(gpu0, gpu0), (gpu0, gpu1)] {
        let pixels = draw_effects(&mut manager, render, target);
        let at = |x, y| pixel(&pixels, OUT.0, x, y);
        assert_eq!(
            at(12, 12),
            [0, 255, 0, 255],
            "{render} -> {target}: the pixel shader"
        );
        assert_eq!(
            at(44, 12),
            [0, 0, 255, 255],
            "{render} -> {target}: the texture shader"
        );
        assert_eq!(
            at(1, 40),
            [0, 0, 0, 255],
            "{render} -> {target}: the background"
        );
    }
}
