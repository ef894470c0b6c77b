//! Frame time with 64 windows on one GPU: Tandem's MultiRenderer against drawing the same
//! textures with smithay's GlesRenderer directly.

use criterion::{criterion_group, criterion_main, Criterion};
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::{Bind, Color32F, Frame, ImportMem, Offscreen, Renderer};
use smithay::utils::{Physical, Rectangle, Transform};
use tandem::{GpuManager, Quirks};

const WINDOWS: usize = 64;
const OUTPUT: (i32, i32) = (1920, 1080);
const WINDOW: (i32, i32) = (320, 240);

fn position(i: usize) -> (i32, i32) {
    ((i as i32 % 8) * 200, (i as i32 / 8) * 110)
}

/// One frame: clear, then the textures at their window positions, waited until done. The same
/// code for both renderers, so the comparison measures only the renderer.
fn draw_frame<R>(renderer: &mut R, target: &mut Dmabuf, textures: &[R::TextureId])
where
    R: Renderer + Bind<Dmabuf>,
{
    let full: [Rectangle<i32, Physical>; 1] = [Rectangle::from_size(OUTPUT.into())];
    let mut framebuffer = renderer.bind(target).expect("bind");
    let mut frame = renderer
        .render(&mut framebuffer, OUTPUT.into(), Transform::Normal)
        .expect("frame");
    frame.clear(Color32F::BLACK, &full).expect("clear");
    for (i, texture) in textures.iter().enumerate() {
        Frame::render_texture_at(
            &mut frame,
            texture,
            position(i).into(),
            1,
            1.0,
            Transform::Normal,
            &full,
            &[],
            1.0,
        )
        .expect("draw");
    }
    frame.finish().expect("finish").wait().expect("sync");
}

fn frames(c: &mut Criterion) {
    let mut manager = GpuManager::new();
    let gpu = manager.add_software_gpu(Quirks::default()).expect("gpu");
    let pixels = vec![0x80u8; (WINDOW.0 * WINDOW.1 * 4) as usize];
    let mut group = c.benchmark_group("frame_64_windows");
    group.sample_size(20);

    let textures: Vec<_> = {
        let mut renderer = manager.renderer(gpu).expect("renderer");
        (0..WINDOWS)
            .map(|_| {
                renderer
                    .import_memory(&pixels, Fourcc::Argb8888, WINDOW.into(), false)
                    .expect("upload")
            })
            .collect()
    };
    let mut target: Dmabuf = manager
        .renderer(gpu)
        .expect("renderer")
        .create_buffer(Fourcc::Argb8888, OUTPUT.into())
        .expect("target");
    group.bench_function("tandem_multirenderer", |b| {
        b.iter(|| {
            let mut renderer = manager.renderer(gpu).expect("renderer");
            draw_frame(&mut renderer, &mut target, &textures);
        })
    });

    let gles = manager.gpu(gpu).expect("gpu").renderer();
    let gles_textures: Vec<_> = (0..WINDOWS)
        .map(|_| {
            gles.import_memory(&pixels, Fourcc::Argb8888, WINDOW.into(), false)
                .expect("upload")
        })
        .collect();
    group.bench_function("gles_renderer_direct", |b| {
        b.iter(|| {
            draw_frame(gles, &mut target, &gles_textures);
        })
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
