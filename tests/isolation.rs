//! GPU isolation and idle GPUs: a texture is drawn only by the GPU that made it, and cleanup never
//! wakes a GPU that has nothing to free.

mod common;

use common::*;
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::{Bind, ExportMem, Frame, ImportMem, Offscreen, Renderer};
use smithay::utils::{Rectangle, Transform};
use tandem::{GpuId, GpuManager, MultiTexture, TandemError};

/// Fills a 16x16 texture with one colour on `gpu`.
fn solid_texture(manager: &mut GpuManager, gpu: GpuId, argb: u32) -> MultiTexture {
    let pixels: Vec<u8> = std::iter::repeat_n(argb.to_le_bytes(), 16 * 16)
        .flatten()
        .collect();
    let mut renderer = manager.renderer(gpu).expect("renderer");
    renderer
        .import_memory(&pixels, Fourcc::Argb8888, (16, 16).into(), false)
        .expect("upload")
}

/// Draws `texture` on `gpu` into a fresh 16x16 buffer; returns the top-left pixel or the error.
fn draw(
    manager: &mut GpuManager,
    gpu: GpuId,
    texture: &MultiTexture,
) -> Result<[u8; 4], TandemError> {
    let mut renderer = manager.renderer(gpu)?;
    let mut buffer: Dmabuf = renderer.create_buffer(Fourcc::Argb8888, (16, 16).into())?;
    let mut framebuffer = renderer.bind(&mut buffer)?;
    let full = Rectangle::from_size((16, 16).into());
    let result = {
        let mut frame = renderer.render(&mut framebuffer, (16, 16).into(), Transform::Normal)?;
        frame.clear([0.0, 0.0, 0.0, 1.0].into(), &[full])?;
        let drawn = frame.render_texture_at(
            texture,
            (0, 0).into(),
            1,
            1.0,
            Transform::Normal,
            &[full],
            &[],
            1.0,
        );
        frame.finish()?.wait().expect("sync");
        drawn
    };
    result?;
    let mapping = renderer.copy_framebuffer(
        &framebuffer,
        Rectangle::from_size((16, 16).into()),
        Fourcc::Abgr8888,
    )?;
    let pixels = renderer.map_texture(&mapping)?;
    Ok(pixel(pixels, 16, 0, 0))
}

#[test]
fn a_texture_is_never_drawn_by_another_gpu() {
    let mut manager = GpuManager::new();
    let gpu_a = manager.add_software_gpu(Default::default()).expect("gpu a");
    let gpu_b = manager.add_software_gpu(Default::default()).expect("gpu b");
    // Both contexts hand out the same first texture name; identity must come from the context.
    let red_on_a = solid_texture(&mut manager, gpu_a, RED);
    let blue_on_b = solid_texture(&mut manager, gpu_b, BLUE);

    assert_eq!(
        draw(&mut manager, gpu_a, &red_on_a).expect("a draws its own"),
        rgba(RED)
    );
    assert_eq!(
        draw(&mut manager, gpu_b, &blue_on_b).expect("b draws its own"),
        rgba(BLUE)
    );
    for (gpu, texture) in [(gpu_b, &red_on_a), (gpu_a, &blue_on_b)] {
        match draw(&mut manager, gpu, texture) {
            Err(TandemError::NotImportedFor(refused)) => assert_eq!(refused, gpu),
            other => panic!("{gpu} drew another GPU's texture: {other:?}"),
        }
    }
}

#[test]
fn cleanup_leaves_idle_gpus_asleep() {
    let (mut server, mut client) = setup(3);
    let [gpu0, gpu1, gpu2] = [0, 1, 2].map(|i| server.gpu(i));
    let mut out0 = server.output(gpu0, (64, 64));
    let mut out1 = server.output(gpu1, (64, 64));
    server.render(&mut out0, &[], 0).expect("frame");
    server.render(&mut out1, &[], 0).expect("frame");
    let baseline = gl_names(&mut server);
    server.state.gpus.cleanup().expect("settle");
    let passes =
        |server: &mut Server, gpu| server.state.gpus.gpu(gpu).expect("gpu").cleanup_passes();
    let idle_before = [gpu1, gpu2].map(|gpu| passes(&mut server, gpu));

    let mut window = client.shm_window((32, 32));
    window.pixels().fill((0, 0, 32, 32), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("frame");
    assert_eq!(pixel(&pixels, 64, 1, 1), rgba(RED));
    assert_eq!(
        server.state.gpus.cleanup().expect("cleanup"),
        vec![gpu0],
        "the frame's readback buffer is freed on the GPU that read it"
    );
    assert_eq!(
        server.state.gpus.cleanup().expect("cleanup"),
        Vec::<GpuId>::new(),
        "nothing else to free yet"
    );

    window.destroy();
    roundtrip(&mut server, &mut client);
    assert_eq!(
        server.state.gpus.cleanup().expect("cleanup"),
        vec![gpu0],
        "only the GPU that held it"
    );
    assert_eq!(
        server.state.gpus.cleanup().expect("cleanup"),
        Vec::<GpuId>::new(),
        "drained"
    );
    for _ in 0..50 {
        server.state.gpus.cleanup().expect("cleanup");
    }
    assert_eq!(
        [gpu1, gpu2].map(|gpu| passes(&mut server, gpu)),
        idle_before,
        "the contexts of GPUs with nothing to free were never made current"
    );
    assert_eq!(
        idle_before[1], 1,
        "GPU 2 had nothing but the format probe's test imports, freed in one pass at setup"
    );
    assert_released(&mut server, &baseline);
}
