//! Every client format Tandem carries, path by path, with pixels checked at full depth: a
//! window of GPU 0 in each format is shown on a half-float output of GPU 1 (shadow slot, CPU
//! copy read from the buffer's mapping, CPU copy read back on GPU 0) and of GPU 0 itself (the
//! native import). 10-bit windows must arrive with at least 1000 distinct levels of their red
//! ramp, half-float ones with values above 1.0. YUV windows show their colour bars, sampled by a
//! GPU or converted on the CPU; the global advertises exactly what the probe carried.

mod common;

use common::client::formats;
use common::*;
use tandem::smithay::backend::allocator::{Fourcc, Modifier};
use tandem::{PathKind, Quirks};

/// Wide enough for every level of a 10-bit ramp.
const SIZE: (i32, i32) = (1024, 4);

/// How one test moves the window's pixels to the output's GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Route {
    Native,
    Shadow,
    CpuMapped,
    CpuReadback,
}

const ROUTES: [Route; 4] = [
    Route::Native,
    Route::Shadow,
    Route::CpuMapped,
    Route::CpuReadback,
];

/// The RGB formats every route carries on software GPUs.
const RGB_FORMATS: [Fourcc; 11] = [
    Fourcc::Argb8888,
    Fourcc::Xrgb8888,
    Fourcc::Abgr8888,
    Fourcc::Xbgr8888,
    Fourcc::Argb2101010,
    Fourcc::Xrgb2101010,
    Fourcc::Abgr2101010,
    Fourcc::Xbgr2101010,
    Fourcc::Abgr16161616f,
    Fourcc::Xbgr16161616f,
    Fourcc::Rgb565,
];

/// A half float's value.
fn half(bits: u16) -> f32 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f32::from(bits & 0x3ff);
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 => f32::INFINITY,
        e => (1.0 + mantissa / 1024.0) * 2f32.powi(e - 15),
    }
}

/// The RGBA of pixel (x, y) of a half-float readback of width `width`.
fn deep_pixel(pixels: &[u8], width: i32, x: i32, y: i32) -> [f32; 4] {
    let offset = ((y * width + x) * 8) as usize;
    let channel = |i: usize| {
        half(u16::from_le_bytes([
            pixels[offset + i * 2],
            pixels[offset + i * 2 + 1],
        ]))
    };
    [channel(0), channel(1), channel(2), channel(3)]
}

/// How far a shown channel may be from the painted one: half a step of the format's depth,
/// and a half float's rounding.
fn tolerance(fourcc: Fourcc) -> f32 {
    match fourcc {
        Fourcc::Rgb565 => 0.5 / 31.0 + 0.002,
        Fourcc::Abgr16161616f | Fourcc::Xbgr16161616f => 0.004,
        Fourcc::Argb2101010 | Fourcc::Xrgb2101010 | Fourcc::Abgr2101010 | Fourcc::Xbgr2101010 => {
            0.5 / 1023.0 + 0.0006
        }
        _ => 0.5 / 255.0 + 0.001,
    }
}

/// Shows a window of `fourcc` on GPU 0 by `route` on a half-float output and returns the
/// output's pixels, after checking the route the texture took.
fn show(fourcc: Fourcc, route: Route) -> Vec<u8> {
    let (pixels, paths, expected, _) = show_by(fourcc, route);
    assert_eq!(paths, expected, "{fourcc:?} by {route:?}");
    pixels
}

/// The texture paths a window took, by GPU.
type Paths = Vec<(tandem::GpuId, PathKind)>;

/// Shows a window of `fourcc` by `route` as [`show`] does; returns the pixels, the texture's
/// paths, the paths the route should have given and the copy counters.
fn show_by(fourcc: Fourcc, route: Route) -> (Vec<u8>, Paths, Paths, tandem::CopyStats) {
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let shown_on = if route == Route::Native { gpu0 } else { gpu1 };
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    match route {
        Route::Native => {}
        Route::Shadow => server.state.gpus.pin_copy_path(Some(PathKind::Shadow)),
        Route::CpuMapped | Route::CpuReadback => {
            server.state.gpus.pin_copy_path(Some(PathKind::CpuCopy));
            server
                .state
                .gpus
                .set_mapped_reads(route == Route::CpuMapped);
        }
    }
    let mut out = server.deep_output(shown_on, SIZE);
    let mut window = client.dmabuf_window_in(SIZE, 0, fourcc as u32);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 1)
        .unwrap_or_else(|e| panic!("{fourcc:?} by {route:?}: {e}"));
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    let path = match route {
        Route::Native => PathKind::Native,
        Route::Shadow => PathKind::Shadow,
        Route::CpuMapped | Route::CpuReadback => PathKind::CpuCopy,
    };
    let stats = server.state.gpus.stats();
    match route {
        Route::CpuMapped => assert!(stats.cpu_mapped_reads > 0, "{fourcc:?} mapped: {stats:?}"),
        Route::CpuReadback => assert_eq!(stats.cpu_mapped_reads, 0, "{fourcc:?}: {stats:?}"),
        _ => {}
    }
    (pixels, texture.paths(), vec![(shown_on, path)], stats)
}

/// Every RGB format by every route: each pixel as painted, within half a step of its depth.
#[test]
fn every_rgb_format_arrives_as_painted_by_every_route() {
    let mut failures = Vec::new();
    for fourcc in RGB_FORMATS {
        for route in ROUTES {
            let pixels = show(fourcc, route);
            let tolerance = tolerance(fourcc);
            'pixels: for y in 0..SIZE.1 {
                for x in (0..SIZE.0).step_by(7) {
                    let expected = formats::expected(fourcc as u32, SIZE.0, SIZE.1, x, y);
                    let shown = deep_pixel(&pixels, SIZE.0, x, y);
                    for channel in 0..3 {
                        if (shown[channel] - expected[channel]).abs() > tolerance {
                            failures.push(format!(
                                "{fourcc:?} by {route:?} at ({x}, {y}): shown {shown:?}, painted {expected:?}"
                            ));
                            break 'pixels;
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A 10-bit ramp keeps at least 1000 distinct levels and a half-float one its values above
/// 1.0, by every route (an 8-bit slot or staging anywhere would leave 256 levels and clamp).
#[test]
fn depth_survives_every_route() {
    for route in ROUTES {
        for fourcc in [Fourcc::Xrgb2101010, Fourcc::Abgr2101010] {
            let pixels = show(fourcc, route);
            let mut levels: Vec<u32> = (0..SIZE.0)
                .map(|x| (deep_pixel(&pixels, SIZE.0, x, 1)[0] * 1023.0).round() as u32)
                .collect();
            levels.dedup();
            println!(
                "{fourcc:?} by {route:?}: {} distinct red levels",
                levels.len()
            );
            assert!(
                levels.len() >= 1000,
                "{fourcc:?} by {route:?}: {} levels",
                levels.len()
            );
        }
        let pixels = show(Fourcc::Abgr16161616f, route);
        let brightest = (0..SIZE.0)
            .map(|x| deep_pixel(&pixels, SIZE.0, x, 1)[0])
            .fold(0.0f32, f32::max);
        println!("AB4H by {route:?}: brightest red {brightest}");
        assert!(
            brightest > 3.9,
            "AB4H by {route:?}: brightest red {brightest}"
        );
    }
}

/// What the probe offers on software GPUs: every format Tandem carries, linear and implicit,
/// exactly as the global advertises it, and the client's next window of an offered format
/// shows.
#[test]
fn only_carried_formats_are_offered() {
    let (mut server, mut client) = setup(2);
    let gpu0 = server.gpu(0);
    let offered = server.state.gpus.offered_formats(gpu0);
    let refused = server.state.gpus.refused_formats(gpu0);
    println!("offered: {offered:?}\nrefused: {refused:?}");
    for fourcc in RGB_FORMATS {
        for modifier in [Modifier::Linear, Modifier::Invalid] {
            assert!(
                offered
                    .iter()
                    .any(|f| f.code == fourcc && f.modifier == modifier),
                "{fourcc:?} {modifier:?} not offered: {refused:?}"
            );
        }
    }
    let advertised = client.advertised_formats_on(0);
    let mut offered_pairs: Vec<(u32, u64)> = offered
        .iter()
        .map(|f| (f.code as u32, u64::from(f.modifier)))
        .collect();
    offered_pairs.sort_unstable();
    let mut advertised_sorted = advertised.clone();
    advertised_sorted.sort_unstable();
    assert_eq!(
        advertised_sorted, offered_pairs,
        "the global advertises what was carried"
    );
    assert!(
        refused.is_empty(),
        "nothing refused on llvmpipe: {refused:?}"
    );
    let mut out = server.deep_output(gpu0, SIZE);
    let mut window = client.dmabuf_window_in(SIZE, 0, Fourcc::Xrgb2101010 as u32);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces.last().expect("a surface").clone();
    server
        .render(&mut out, &[(&surface, (0, 0))], 1)
        .expect("the window shows");
}

/// Every YUV format shows its colour bars (BT.601, limited range, the default for YUV buffers
/// without colour hints) on its own GPU and on the other: through the GPU where it samples the
/// format (llvmpipe: YUYV), else read from the buffer's mapping: NV12 plane by plane into
/// textures the drawing GPU converts as it draws, P010 and YU12 converted on the CPU. A YUV
/// buffer is never read back (no GPU binds it to draw).
#[test]
fn yuv_formats_show_their_colour_bars() {
    let (server, _client) = setup(2);
    let offered = server.state.gpus.offered_formats(server.gpu(0));
    let mut failures = Vec::new();
    for fourcc in [Fourcc::Nv12, Fourcc::P010, Fourcc::Yuv420, Fourcc::Yuyv] {
        assert!(
            offered.iter().any(|f| f.code == fourcc),
            "{fourcc:?} offered: {offered:?}"
        );
        for route in [Route::Native, Route::Shadow, Route::CpuMapped] {
            let (pixels, paths, _, stats) = show_by(fourcc, route);
            println!("{fourcc:?} by {route:?}: {paths:?}");
            // NV12 travels as its planes by every route (no GPU here imports or blits it, its
            // own included); the others are converted on the CPU.
            let by_planes = fourcc == Fourcc::Nv12;
            if (stats.yuv_plane_copies > 0) != by_planes {
                failures.push(format!(
                    "{fourcc:?} by {route:?}: {} plane copies, expected {}",
                    stats.yuv_plane_copies,
                    if by_planes { "some" } else { "none" }
                ));
            }
            for bar in 0..8 {
                let x = bar * (SIZE.0 / 8) + SIZE.0 / 16;
                let expected = formats::expected(fourcc as u32, SIZE.0, SIZE.1, x, 1);
                let shown = deep_pixel(&pixels, SIZE.0, x, 1);
                if (0..3).any(|c| (shown[c] - expected[c]).abs() > 0.02) {
                    failures.push(format!(
                        "{fourcc:?} by {route:?} ({paths:?}), bar {bar}: shown {shown:?}, painted {expected:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An NV12 window drawn for an output of another GPU (the frame is recorded on the render GPU
/// and replayed into the output's buffer): its planes are converted on the render GPU as they
/// are drawn, and the output shows the colour bars.
#[test]
fn yuv_planes_are_converted_for_an_output_of_another_gpu() {
    const CROSS: (i32, i32) = (256, 16);
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    server
        .state
        .gpus
        .gpu(gpu1)
        .expect("gpu1")
        .set_quirks(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        });
    let mut out = server.cross_output(gpu1, gpu0, CROSS);
    let mut window = client.dmabuf_window_in(CROSS, 0, Fourcc::Nv12 as u32);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out, &[(&surface, (0, 0))], 1)
        .expect("NV12 drawn for another GPU's output");
    let texture = tandem::SurfaceTracker::texture(&surface).expect("registered");
    assert_eq!(texture.paths(), vec![(gpu1, PathKind::CpuCopy)]);
    assert!(server.state.gpus.stats().yuv_plane_copies > 0);
    {
        use tandem::smithay::backend::renderer::ExportMem;
        let mut renderer = server.state.gpus.renderer(gpu1).expect("gpu1 renderer");
        assert!(!renderer.can_read_texture(&texture).expect("asked"));
        let read = renderer.copy_texture(
            &texture,
            tandem::smithay::utils::Rectangle::from_size((4, 4).into()),
            Fourcc::Abgr8888,
        );
        assert!(
            matches!(read, Err(tandem::TandemError::CarriedAsPlanes(gpu)) if gpu == gpu1),
            "a texture carried as planes is not read as RGB: {read:?}"
        );
    }
    // Both planes are counted on the drawing GPU, and released with the window.
    let planes_on = |server: &Server| {
        server
            .state
            .gpus
            .ledger()
            .snapshot()
            .gpu(gpu1)
            .kind(tandem::MemoryKind::NativeTexture)
    };
    let counted = planes_on(&server);
    assert_eq!(
        (counted.objects, counted.bytes),
        (1, (CROSS.0 * CROSS.1 * 3 / 2) as u64),
        "luma and chroma, 1.5 bytes a pixel"
    );
    window.destroy();
    roundtrip(&mut server, &mut client);
    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(planes_on(&server).objects, 0, "planes released");
    for bar in 0..8 {
        let x = bar * (CROSS.0 / 8) + CROSS.0 / 16;
        let expected = formats::expected(Fourcc::Nv12 as u32, CROSS.0, CROSS.1, x, 1);
        let offset = ((CROSS.0 + x) * 4) as usize;
        let shown: Vec<f32> = pixels[offset..offset + 4]
            .iter()
            .map(|&byte| f32::from(byte) / 255.0)
            .collect();
        for channel in 0..3 {
            assert!(
                (shown[channel] - expected[channel]).abs() < 0.02,
                "bar {bar}: shown {shown:?}, painted {expected:?}"
            );
        }
    }
}
