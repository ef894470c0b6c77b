//! smithay's own render elements and render-to-texture through MultiRenderer, on the render GPU's
//! own output and on an output of another GPU: pixel and texture shaders, textures rendered into,
//! solid colours. Each cross-GPU output must show exactly what the render GPU's own output shows,
//! which must show what the element draws.

mod common;

use common::*;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::solid::SolidColorRenderElement;
use smithay::backend::renderer::element::texture::TextureRenderElement;
use smithay::backend::renderer::element::{Id, Kind, RenderElement};
use smithay::backend::renderer::gles::element::{PixelShaderElement, TextureShaderElement};
use smithay::backend::renderer::gles::GlesTexture;
use smithay::backend::renderer::utils::CommitCounter;
use smithay::backend::renderer::{
    Bind, Color32F, ExportMem, Frame, ImportMem, Offscreen, Renderer, Texture,
};
use smithay::utils::{Rectangle, Transform};
use tandem::ledger::PURPOSE_OFFSCREEN_TEXTURE;
use tandem::{GpuId, GpuManager, MemoryKind, MultiRenderer, MultiTexture, PathKind};

const OUT: (i32, i32) = (64, 48);
const BLACK: [u8; 4] = [0, 0, 0, 255];

/// Where the elements are drawn: 32x24 at (16, 12).
const AREA: (i32, i32, i32, i32) = (16, 12, 32, 24);

/// Top half red, bottom half green (in the element's own coordinates).
const SPLIT_SHADER: &str = r#"
precision mediump float;
uniform vec2 size;
varying vec2 v_coords;
uniform float alpha;
#if defined(DEBUG_FLAGS)
uniform float tint;
#endif
void main() {
    vec4 colour = v_coords.y < 0.5 ? vec4(1.0, 0.0, 0.0, 1.0) : vec4(0.0, 1.0, 0.0, 1.0);
    gl_FragColor = colour * alpha;
}
"#;

/// Samples the texture with red and blue swapped.
const SWAP_SHADER: &str = r#"
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
    vec4 colour = texture2D(tex, v_coords);
#if defined(NO_ALPHA)
    colour = vec4(colour.rgb, 1.0);
#endif
    gl_FragColor = colour.bgra * alpha;
}
"#;

fn two_gpus() -> (GpuManager, GpuId, GpuId) {
    let mut manager = GpuManager::new();
    let gpu0 = manager.add_software_gpu(Default::default()).expect("gpu 0");
    let gpu1 = manager.add_software_gpu(Default::default()).expect("gpu 1");
    (manager, gpu0, gpu1)
}

/// Draws what `elements` makes on `render` into a new output buffer of `target` (the damage
/// tracker's full first frame on black) and reads the output back as RGBA.
fn draw_output<E, F>(manager: &mut GpuManager, render: GpuId, target: GpuId, elements: F) -> Vec<u8>
where
    E: for<'a> RenderElement<MultiRenderer<'a>>,
    F: FnOnce(&mut MultiRenderer<'_>) -> Vec<E>,
{
    let mut buffer: Dmabuf = manager
        .renderer(target)
        .expect("target renderer")
        .create_buffer(Fourcc::Argb8888, OUT.into())
        .expect("output buffer");
    let name = format!("out-{render}-{target}");
    let mut renderer = manager
        .cross_renderer(render, target, Some(&name))
        .expect("renderer");
    let elements = elements(&mut renderer);
    let mut framebuffer = renderer.bind(&mut buffer).expect("bind output");
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

/// The RGBA pixel at (x, y) inside AREA.
fn at(pixels: &[u8], x: i32, y: i32) -> [u8; 4] {
    pixel(pixels, OUT.0, AREA.0 + x, AREA.1 + y)
}

/// Asserts the direct output is what the element should draw and the cross-GPU one matches it.
fn assert_same(direct: &[u8], cross: &[u8], what: &str) {
    let differing = direct
        .chunks_exact(4)
        .zip(cross.chunks_exact(4))
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        differing, 0,
        "{what}: the cross-GPU output differs in {differing} pixels"
    );
    assert_eq!(
        pixel(direct, OUT.0, 2, 2),
        BLACK,
        "{what}: outside the element"
    );
}

fn area() -> Rectangle<i32, smithay::utils::Logical> {
    Rectangle::new((AREA.0, AREA.1).into(), (AREA.2, AREA.3).into())
}

#[test]
fn a_pixel_shader_element_draws_on_its_gpu_and_on_another_gpus_output() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    let program = manager
        .renderer(gpu0)
        .expect("renderer")
        .gles_renderer()
        .expect("the render GPU")
        .compile_custom_pixel_shader(SPLIT_SHADER, &[])
        .expect("shader compiles");
    let element = PixelShaderElement::new(program, area(), None, 1.0, vec![], Kind::Unspecified);

    let direct = draw_output(&mut manager, gpu0, gpu0, |_| vec![element.clone()]);
    assert_eq!(at(&direct, 16, 2), rgba(RED), "top half");
    assert_eq!(at(&direct, 16, AREA.3 - 3), rgba(GREEN), "bottom half");
    let cross = draw_output(&mut manager, gpu0, gpu1, |_| vec![element.clone()]);
    assert_same(&direct, &cross, "pixel shader");
}

#[test]
fn a_texture_shader_element_draws_on_its_gpu_and_on_another_gpus_output() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    // Left half red, right half blue, in memory order B, G, R, A.
    let (w, h) = (AREA.2, AREA.3);
    let pixels: Vec<u8> = (0..w * h)
        .flat_map(|i| if i % w < w / 2 { RED } else { BLUE }.to_le_bytes())
        .collect();
    let (program, texture) = {
        let mut renderer = manager.renderer(gpu0).expect("renderer");
        let gles = renderer.gles_renderer().expect("the render GPU");
        let program = gles
            .compile_custom_texture_shader(SWAP_SHADER, &[])
            .expect("shader compiles");
        let texture: GlesTexture = gles
            .import_memory(&pixels, Fourcc::Argb8888, (w, h).into(), false)
            .expect("upload");
        (program, texture)
    };
    let context = manager
        .renderer(gpu0)
        .expect("renderer")
        .gles_renderer()
        .expect("the render GPU")
        .context_id();
    let make = || {
        let inner = TextureRenderElement::from_static_texture(
            Id::new(),
            context.clone(),
            (AREA.0 as f64, AREA.1 as f64),
            texture.clone(),
            1,
            Transform::Normal,
            None,
            None,
            None,
            None,
            Kind::Unspecified,
        );
        vec![TextureShaderElement::new(inner, program.clone(), vec![])]
    };

    let direct = draw_output(&mut manager, gpu0, gpu0, |_| make());
    // The shader swaps red and blue.
    assert_eq!(at(&direct, 2, 2), rgba(BLUE), "left half, swapped");
    assert_eq!(at(&direct, w - 3, 2), rgba(RED), "right half, swapped");
    let cross = draw_output(&mut manager, gpu0, gpu1, |_| make());
    assert_same(&direct, &cross, "texture shader");
}

/// Renders into `texture`: left half `left`, right half `right`.
fn paint(manager: &mut GpuManager, gpu: GpuId, texture: &mut MultiTexture, left: u32, right: u32) {
    let size = texture.size();
    let mut renderer = manager.renderer(gpu).expect("renderer");
    let mut target = renderer.bind(texture).expect("bind the texture");
    let mut frame = renderer
        .render(&mut target, (size.w, size.h).into(), Transform::Normal)
        .expect("frame");
    let colour = |argb: u32| {
        let [r, g, b, a] = rgba(argb);
        Color32F::new(
            r as f32 / 255.0,
            g as f32 / 255.0,
            b as f32 / 255.0,
            a as f32 / 255.0,
        )
    };
    let half = (size.w / 2, size.h);
    frame
        .clear(colour(left), &[Rectangle::from_size(half.into())])
        .expect("left");
    frame
        .clear(
            colour(right),
            &[Rectangle::new((half.0, 0).into(), half.into())],
        )
        .expect("right");
    frame.finish().expect("finish").wait().expect("wait");
}

fn show(
    texture: &MultiTexture,
    context: smithay::backend::renderer::ContextId<MultiTexture>,
) -> Vec<TextureRenderElement<MultiTexture>> {
    vec![TextureRenderElement::from_static_texture(
        Id::new(),
        context,
        (AREA.0 as f64, AREA.1 as f64),
        texture.clone(),
        1,
        Transform::Normal,
        None,
        None,
        None,
        None,
        Kind::Unspecified,
    )]
}

#[test]
fn a_texture_rendered_into_is_counted_and_drawn_on_every_gpu() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    let mut texture: MultiTexture = manager
        .renderer(gpu0)
        .expect("renderer")
        .create_buffer(Fourcc::Abgr8888, (AREA.2, AREA.3).into())
        .expect("offscreen texture");
    let bytes = (AREA.2 * AREA.3 * 4) as u64;
    let snapshot = manager.ledger().snapshot();
    assert_eq!(snapshot.compositor.len(), 1, "{:?}", snapshot.compositor);
    assert_eq!(snapshot.compositor[0].purpose, PURPOSE_OFFSCREEN_TEXTURE);
    assert_eq!(snapshot.compositor[0].amount.bytes, bytes);
    assert_eq!(
        snapshot.gpu(gpu0).kind(MemoryKind::CompositorBuffer).bytes,
        bytes
    );

    paint(&mut manager, gpu0, &mut texture, RED, BLUE);
    let on_gpu0 = draw_output(&mut manager, gpu0, gpu0, |r| show(&texture, r.context_id()));
    assert_eq!(at(&on_gpu0, 2, 2), rgba(RED), "left half");
    assert_eq!(
        at(&on_gpu0, AREA.2 - 3, AREA.3 - 3),
        rgba(BLUE),
        "right half"
    );
    assert_eq!(pixel(&on_gpu0, OUT.0, 2, 2), BLACK);

    // GPU 1 draws it once it has its copy; without one it refuses.
    let refused = {
        let renderer = manager.renderer(gpu1).expect("renderer");
        renderer.gles_texture(&texture).is_none()
    };
    assert!(refused, "GPU 1 has no texture of it before import_texture");
    manager
        .renderer(gpu1)
        .expect("renderer")
        .import_texture(&texture)
        .expect("copy to GPU 1");
    let on_gpu1 = draw_output(&mut manager, gpu1, gpu1, |r| show(&texture, r.context_id()));
    assert_same(&on_gpu0, &on_gpu1, "render-to-texture on GPU 1");
    // And through GPU 0 for an output of GPU 1.
    let cross = draw_output(&mut manager, gpu0, gpu1, |r| show(&texture, r.context_id()));
    assert_same(&on_gpu0, &cross, "render-to-texture across");

    // Drawing into it again drops GPU 1's stale copy; the next import copies the new pixels.
    paint(&mut manager, gpu0, &mut texture, GREEN, GREEN);
    assert_eq!(texture.paths(), vec![(gpu0, PathKind::Native)]);
    manager
        .renderer(gpu1)
        .expect("renderer")
        .import_texture(&texture)
        .expect("copy to GPU 1 again");
    let repainted = draw_output(&mut manager, gpu1, gpu1, |r| show(&texture, r.context_id()));
    assert_eq!(at(&repainted, AREA.2 - 3, 2), rgba(GREEN));

    // Binding it on a GPU that did not make it is refused with a clear error.
    let mut renderer = manager.renderer(gpu1).expect("renderer");
    match renderer.bind(&mut texture) {
        Err(tandem::TandemError::NotRenderTarget(gpu)) => assert_eq!(gpu, gpu1),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("GPU 1 bound GPU 0's render target"),
    }
    drop(renderer);

    drop(texture);
    manager.cleanup().expect("cleanup");
    let snapshot = manager.ledger().snapshot();
    assert_eq!(snapshot.total.bytes(), 0, "{snapshot}");
    assert!(snapshot.compositor.is_empty());
}

#[test]
fn solid_colours_and_memory_textures_draw_across_gpus_and_are_the_compositors_own() {
    let (mut manager, gpu0, gpu1) = two_gpus();
    let colour: Color32F = [0.0, 0.0, 1.0, 1.0].into();
    let solid = || {
        vec![SolidColorRenderElement::new(
            Id::new(),
            Rectangle::new((AREA.0, AREA.1).into(), (AREA.2, AREA.3).into()),
            CommitCounter::default(),
            colour,
            Kind::Unspecified,
        )]
    };
    let direct = draw_output(&mut manager, gpu0, gpu0, |_| solid());
    assert_eq!(at(&direct, 3, 3), rgba(BLUE));
    let cross = draw_output(&mut manager, gpu0, gpu1, |_| solid());
    assert_same(&direct, &cross, "solid colour");

    // A texture the compositor uploads from its own memory is its own in the ledger.
    let pixels = vec![0xffu8; 16 * 16 * 4];
    let texture = manager
        .renderer(gpu1)
        .expect("renderer")
        .import_memory(&pixels, Fourcc::Argb8888, (16, 16).into(), false)
        .expect("upload");
    let snapshot = manager.ledger().snapshot();
    assert_eq!(
        snapshot.compositor[0].purpose,
        tandem::ledger::PURPOSE_MEMORY_TEXTURE
    );
    assert_eq!(snapshot.compositor[0].gpu, gpu1);
    assert_eq!(
        snapshot.gpu(gpu1).kind(MemoryKind::NativeTexture).objects,
        0
    );
    drop(texture);
    manager.cleanup().expect("cleanup");
    assert_eq!(manager.ledger().snapshot().total.bytes(), 0);
}
