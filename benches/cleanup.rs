//! Cleanup cost against the number of textures freed, and when nothing was freed.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::ImportMem;
use tandem::{GpuManager, Quirks};

fn cleanup(c: &mut Criterion) {
    let mut manager = GpuManager::new();
    let gpu = manager.add_software_gpu(Quirks::default()).expect("gpu");
    let _idle = manager
        .add_software_gpu(Quirks::default())
        .expect("idle gpu");
    let pixels = vec![0u8; 64 * 64 * 4];
    let manager = std::cell::RefCell::new(manager);
    let mut group = c.benchmark_group("cleanup");
    group.sample_size(30);
    for freed in [0usize, 1, 16, 256] {
        group.bench_function(BenchmarkId::new("textures_freed", freed), |b| {
            b.iter_batched(
                || {
                    let mut manager = manager.borrow_mut();
                    let mut renderer = manager.renderer(gpu).expect("renderer");
                    let textures: Vec<_> = (0..freed)
                        .map(|_| {
                            renderer
                                .import_memory(&pixels, Fourcc::Argb8888, (64, 64).into(), false)
                                .expect("upload")
                        })
                        .collect();
                    drop(textures);
                },
                |()| manager.borrow_mut().cleanup().expect("cleanup"),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, cleanup);
criterion_main!(benches);
