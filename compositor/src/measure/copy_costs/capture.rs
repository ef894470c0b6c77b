//! The screen-capture rows of `copy-costs`: copying a whole output's finished frame (XRGB8888,
//! drawn by GPU A) into a capture's buffer, the way captures served after a frame do
//! (`GpuManager::copy_frame` and `read_frame`): into memory the CPU reads (a client's shm
//! buffer), into a dmabuf of GPU A, and into a dmabuf of GPU B, both where GPU B imports GPU
//! A's buffers and where no GPU imports another's (as with NVIDIA).

use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::{Bind, Color32F, Frame, Offscreen, Renderer};
use smithay::utils::{Rectangle, Transform};
use tandem::{FrameCopyPath, GpuId, GpuManager, MemoryImage, Quirks};

use super::{median, memcpy_times, FrameSize, Row};
use crate::measure::allocation_counter::{allocations, counting};

/// Where a capture goes, and which path must serve it for the figures to be that path's.
#[derive(Clone, Copy)]
enum Destination {
    /// XRGB8888 memory the CPU reads, rows copied from the frame's mapping.
    Memory,
    /// ARGB8888 memory the CPU reads, rows copied from the frame's mapping with alpha set.
    OpaqueMemory,
    /// A dmabuf of the frame's own GPU.
    OwnGpu,
    /// A dmabuf of the other GPU, which imports the frame's GPU's buffers.
    OtherGpuImporting,
    /// A dmabuf of the other GPU, neither GPU importing the other's buffers.
    OtherGpuNoImports,
}

impl Destination {
    const ALL: [Destination; 5] = [
        Destination::Memory,
        Destination::OpaqueMemory,
        Destination::OwnGpu,
        Destination::OtherGpuImporting,
        Destination::OtherGpuNoImports,
    ];

    fn name(self) -> &'static str {
        match self {
            Destination::Memory => "capture into XR24 shm (frame's mapping)",
            Destination::OpaqueMemory => "capture into AR24 shm (frame's mapping, alpha set)",
            Destination::OwnGpu => "capture into GPU A's dmabuf (blit)",
            Destination::OtherGpuImporting => "capture into GPU B's dmabuf (GPU B blits)",
            Destination::OtherGpuNoImports => {
                "capture into GPU B's dmabuf, no foreign imports (mappings)"
            }
        }
    }

    fn expected(self, a: GpuId, b: GpuId) -> FrameCopyPath {
        match self {
            Destination::Memory | Destination::OpaqueMemory | Destination::OtherGpuNoImports => {
                FrameCopyPath::Mapped
            }
            Destination::OwnGpu => FrameCopyPath::Blit(a),
            Destination::OtherGpuImporting => FrameCopyPath::Blit(b),
        }
    }
}

/// The frame's colour: the copy must carry it (B, G, R in memory).
const FRAME_COLOUR: [f32; 4] = [0.2, 0.4, 0.6, 1.0];
const FRAME_BGR: [u8; 3] = [0x99, 0x66, 0x33];

/// Every destination at each of `sizes`, whole frames, `samples` timed copies per row.
pub fn measure_capture_rows(samples: u32, sizes: &[FrameSize]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for destination in Destination::ALL {
        for &(size, w, h) in sizes {
            rows.push(measure(destination, samples, size, w, h)?);
        }
    }
    Ok(rows)
}

fn measure(
    destination: Destination,
    samples: u32,
    size: &'static str,
    w: i32,
    h: i32,
) -> Result<Row, String> {
    let err = |e: tandem::TandemError| format!("{} {size}: {e}", destination.name());
    let mut manager = GpuManager::new();
    let a = manager
        .add_software_gpu(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        })
        .map_err(err)?;
    let b = manager
        .add_software_gpu(Quirks {
            imports_foreign_dmabufs: !matches!(destination, Destination::OtherGpuNoImports),
            ..Quirks::default()
        })
        .map_err(err)?;
    let frame = drawn_frame(&mut manager, a, w, h).map_err(err)?;
    let whole = Rectangle::from_size((w, h).into());
    let bytes = w as u64 * h as u64 * 4;
    let mut memory = vec![0u8; bytes as usize];
    let mut target = match destination {
        Destination::Memory | Destination::OpaqueMemory => None,
        Destination::OwnGpu => Some(new_target(&mut manager, a, w, h).map_err(err)?),
        _ => Some(new_target(&mut manager, b, w, h).map_err(err)?),
    };
    let image = {
        let len = memory.len();
        // SAFETY: `memory` outlives `image` and no reference to it is made while `image` is in
        // use (it is read again only after the last copy).
        unsafe { MemoryImage::new(memory.as_mut_ptr(), len, 0, w as usize * 4) }
    };
    let counting = counting();
    let mut copy = |manager: &mut GpuManager| -> Result<(Duration, u64, FrameCopyPath), String> {
        let allocations_before = allocations();
        let started = Instant::now();
        let path = match target.as_mut() {
            None => {
                let opaque = matches!(destination, Destination::OpaqueMemory);
                manager
                    .read_frame(&frame, &[whole], &image, opaque)
                    .map(|(path, _)| path)
            }
            Some(target) => manager.copy_frame(&frame, target, &[whole], None),
        }
        .map_err(err)?;
        Ok((started.elapsed(), allocations() - allocations_before, path))
    };
    let (_, _, path) = copy(&mut manager)?;
    let expected = destination.expected(a, b);
    if path != expected {
        return Err(format!(
            "{} {size}: served by {path:?}, not {expected:?}: the figures would be another path's",
            destination.name()
        ));
    }
    let copies = (0..samples)
        .map(|_| copy(&mut manager))
        .collect::<Result<Vec<_>, _>>()?;
    let in_memory = matches!(destination, Destination::Memory | Destination::OpaqueMemory);
    if in_memory && memory[..3] != FRAME_BGR {
        return Err(format!(
            "{} {size}: the copy holds {:?}, not the frame's {FRAME_BGR:?}",
            destination.name(),
            &memory[..3]
        ));
    }
    let allocated: u64 = copies.iter().map(|(_, allocated, _)| allocated).sum();
    let times = copies.into_iter().map(|(time, _, _)| time).collect();
    let (ms, memcpy_ms) = (
        median(times),
        median(memcpy_times(bytes as usize, samples.max(3))),
    );
    Ok(Row {
        format: "XR24".into(),
        path: destination.name(),
        size,
        damage: "100%",
        bytes,
        ms,
        memcpy_ms,
        ratio: ms / memcpy_ms.max(1e-6),
        allocations: counting.then(|| allocated as f64 / f64::from(samples)),
    })
}

/// A `w` x `h` XRGB8888 frame drawn by `gpu` in [`FRAME_COLOUR`], its drawing ended.
fn drawn_frame(
    manager: &mut GpuManager,
    gpu: GpuId,
    w: i32,
    h: i32,
) -> Result<Dmabuf, tandem::TandemError> {
    let mut renderer = manager.renderer(gpu)?;
    let mut frame = renderer.create_buffer(Fourcc::Xrgb8888, (w, h).into())?;
    {
        let mut framebuffer = renderer.bind(&mut frame)?;
        let mut drawing = renderer.render(&mut framebuffer, (w, h).into(), Transform::Normal)?;
        drawing.clear(
            Color32F::from(FRAME_COLOUR),
            &[Rectangle::from_size((w, h).into())],
        )?;
        let sync = drawing.finish()?;
        sync.wait().map_err(|_| tandem::TandemError::Sync)?;
    }
    Ok(frame)
}

/// A `w` x `h` XRGB8888 capture buffer of `gpu`.
fn new_target(
    manager: &mut GpuManager,
    gpu: GpuId,
    w: i32,
    h: i32,
) -> Result<Dmabuf, tandem::TandemError> {
    manager
        .renderer(gpu)?
        .create_buffer(Fourcc::Xrgb8888, (w, h).into())
}
