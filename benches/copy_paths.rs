//! Copy paths against memcpy: a client dmabuf on GPU A shown on GPU B through a shadow slot or
//! a CPU copy, at 1080p and 4K, with full and 1% damage. Each case is paired with a plain memcpy
//! of the same bytes in the same run, so the report can give ratios.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::utils::Rectangle;
use tandem::gpu::{DmabufAllocator, MemfdAllocator};
use tandem::{GpuManager, PathKind, Quirks};

const SIZES: [(&str, i32, i32); 2] = [("1080p", 1920, 1080), ("4K", 3840, 2160)];

fn damage(name: &str, w: i32, h: i32) -> Rectangle<i32, smithay::utils::Buffer> {
    match name {
        // 1% of the pixels: a square of w*h/100.
        "1%" => {
            let side = ((w * h) as f64 / 100.0).sqrt() as i32;
            Rectangle::new((w / 3, h / 3).into(), (side, side).into())
        }
        _ => Rectangle::from_size((w, h).into()),
    }
}

fn copy_paths(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy");
    group.sample_size(10);
    for path in ["shadow", "cpu"] {
        let mut manager = GpuManager::new();
        let source = manager
            .add_software_gpu(Quirks {
                exports_dmabufs: path == "shadow",
                ..Quirks::default()
            })
            .expect("gpu");
        let target = manager
            .add_software_gpu(Quirks {
                imports_foreign_dmabufs: false,
                ..Quirks::default()
            })
            .expect("gpu");
        // Each case times one path: new entries take it whatever the measured costs say.
        manager.pin_copy_path(Some(if path == "shadow" {
            PathKind::Shadow
        } else {
            PathKind::CpuCopy
        }));
        for (size_name, w, h) in SIZES {
            let client = MemfdAllocator
                .allocate(w as u32, h as u32, Fourcc::Argb8888, &[Modifier::Linear])
                .expect("client buffer");
            manager.set_dmabuf_origin(&client, source);
            let texture = manager.new_texture();
            manager
                .renderer(target)
                .expect("renderer")
                .update_dmabuf(&texture, &client, &[Rectangle::from_size((w, h).into())])
                .expect("first import");
            for damage_name in ["full", "1%"] {
                let rect = damage(damage_name, w, h);
                let bytes = (rect.size.w * rect.size.h * 4) as u64;
                group.throughput(Throughput::Bytes(bytes));
                let id = format!("{path}/{size_name}/{damage_name}");
                group.bench_function(BenchmarkId::new("tandem", &id), |b| {
                    b.iter(|| {
                        manager
                            .renderer(target)
                            .expect("renderer")
                            .update_dmabuf(&texture, &client, &[rect])
                            .expect("copy")
                    })
                });
                let from = vec![7u8; bytes as usize];
                let mut to = vec![0u8; bytes as usize];
                group.bench_function(BenchmarkId::new("memcpy", &id), |b| {
                    b.iter(|| to.copy_from_slice(std::hint::black_box(&from)))
                });
            }
        }
        let stats = manager.stats();
        assert_eq!(
            stats.shadow_allocations,
            if path == "shadow" { 2 } else { 0 }
        );
    }
    group.finish();
}

criterion_group!(benches, copy_paths);
criterion_main!(benches);
