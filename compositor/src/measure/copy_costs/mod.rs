//! `tandem-compositor copy-costs`: what showing a window's buffer from one GPU on another costs
//! per frame on this machine, path by path (shadow slot, CPU copy through a GPU readback, CPU
//! copy from the buffer's own mapping), at 1080p, 1440p and 4K with 100%, 10% and 1% of it
//! damaged, beside a memcpy of the same bytes timed in the same run. Prints the table, writes it
//! as Markdown when `--out` is given (`just copy-costs` writes docs/copy-costs.md), and ends
//! stdout with one JSON line holding every row. Beside the paths: other formats, what
//! converting NV12 planes costs a frame ([`crate::measure::plane_draw`]), the 64-window
//! frame comparison ([`crate::measure::frame_overhead`]) and screen captures of a finished
//! frame (`capture`); `report` writes the Markdown.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::utils::{Buffer as BufferCoord, Rectangle};
use tandem::gpu::{DmabufAllocator, MemfdAllocator};
use tandem::texture::pixel_format::{image_bytes, is_yuv};
use tandem::{CopyStats, GpuManager, PathKind, Quirks};

use crate::measure::allocation_counter::{allocations, counting};
use crate::measure::frame_overhead::{self, FrameOverhead};
use crate::measure::plane_draw::{self, PlaneDraw};

mod capture;
mod report;

use self::report::{machine, markdown};

#[derive(Debug, clap::Args)]
pub struct CopyCostsArgs {
    /// Write the table as Markdown to this file.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Timed copies per row (after one untimed); the median is reported.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub samples: u32,
    /// Measured frames per renderer in the 64-window comparison (after a warm-up).
    #[arg(long, default_value_t = 61, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub frames: u32,
}

/// A frame size: its name, width and height.
pub type FrameSize = (&'static str, i32, i32);

const SIZES: [FrameSize; 3] = [
    ("1080p", 1920, 1080),
    ("1440p", 2560, 1440),
    ("4K", 3840, 2160),
];
const DAMAGES: [(&str, f64); 3] = [("100%", 1.0), ("10%", 0.1), ("1%", 0.01)];

/// One way pixels cross from GPU A to GPU B, and how to force it.
struct Path {
    name: &'static str,
    /// The source GPU exports dmabufs (shadow slots possible).
    shadow: bool,
    /// CPU copies may read the client buffer's own mapping.
    mapped: bool,
    /// What the stats must show for the figures to be this path's.
    used: fn(&CopyStats) -> bool,
}

const PATHS: [Path; 3] = [
    Path {
        name: "shadow slot",
        shadow: true,
        mapped: false,
        used: |stats| stats.shadow_redraws > 0 && stats.cpu_damaged_bytes == 0,
    },
    Path {
        name: "CPU copy, GPU readback",
        shadow: false,
        mapped: false,
        used: |stats| stats.cpu_copied_bytes > 0 && stats.cpu_mapped_reads == 0,
    },
    Path {
        name: "CPU copy, mapped buffer",
        shadow: false,
        mapped: true,
        used: |stats| stats.cpu_mapped_reads > 0 && stats.shadow_redraws == 0,
    },
];

/// The formats beside ARGB8888 the format table measures, each at [`FORMAT_SIZES`] with the
/// whole buffer damaged.
const FORMATS: [Fourcc; 4] = [
    Fourcc::Xrgb2101010,
    Fourcc::Abgr16161616f,
    Fourcc::Nv12,
    Fourcc::Yuyv,
];
const FORMAT_SIZES: [FrameSize; 2] = [("1080p", 1920, 1080), ("4K", 3840, 2160)];
const FULL_DAMAGE: [(&str, f64); 1] = [("100%", 1.0)];

/// One line of the table.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The client buffer's format.
    pub format: String,
    pub path: &'static str,
    pub size: &'static str,
    pub damage: &'static str,
    /// Bytes damaged (moved) per copy.
    pub bytes: u64,
    /// Median time of one copy.
    pub ms: f64,
    /// Median time of a memcpy of `bytes`, in the same run.
    pub memcpy_ms: f64,
    pub ratio: f64,
    /// Heap allocations per copy (the copy's samples, mean), when this process counts them.
    pub allocations: Option<f64>,
}

impl Row {
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / (self.ms / 1000.0)
    }

    /// The share of a frame at `hz` this copy takes, in percent.
    fn frame_share(&self, hz: f64) -> f64 {
        self.ms / (1000.0 / hz) * 100.0
    }
}

/// A centred rectangle holding `share` of the buffer's pixels.
fn damage_rect(w: i32, h: i32, share: f64) -> Rectangle<i32, BufferCoord> {
    let scale = share.sqrt();
    let (dw, dh) = (
        ((w as f64 * scale) as i32).max(1),
        ((h as f64 * scale) as i32).max(1),
    );
    Rectangle::new(((w - dw) / 2, (h - dh) / 2).into(), (dw, dh).into())
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// Memcpy of `bytes`, timed `samples` times: both sides touched (and one copy made) before
/// timing, so no page faults are measured, and each sample repeats the copy for at least
/// [`MEMCPY_SAMPLE`] (one small copy is below the clock's resolution and its noise), reported
/// per copy.
fn memcpy_times(bytes: usize, samples: u32) -> Vec<Duration> {
    let from = vec![0x5au8; bytes];
    let mut to = vec![0xa5u8; bytes];
    to.copy_from_slice(&from);
    let mut repeats = 1u32;
    (0..samples)
        .map(|_| loop {
            let started = Instant::now();
            for _ in 0..repeats {
                to.copy_from_slice(std::hint::black_box(&from));
                std::hint::black_box(&mut to);
            }
            let elapsed = started.elapsed();
            if elapsed >= MEMCPY_SAMPLE || repeats >= 1 << 20 {
                return elapsed / repeats;
            }
            repeats *= 2;
        })
        .collect()
}

/// The shortest a memcpy sample runs.
const MEMCPY_SAMPLE: Duration = Duration::from_micros(200);

/// Every path at each of `sizes` and damage share, `samples` timed copies per row.
pub fn measure_rows(samples: u32, sizes: &[FrameSize]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for path in &PATHS {
        let what = Measured {
            fourcc: Fourcc::Argb8888,
            sizes,
            damages: &DAMAGES,
            samples,
        };
        measure_path(path, &what, &mut rows)?;
    }
    Ok(rows)
}

/// The format rows: every path that carries each of [`FORMATS`], whole buffers; formats the
/// software GPU does not carry, and paths that do not carry a format, are returned with why.
pub fn measure_format_rows(
    samples: u32,
    sizes: &[FrameSize],
) -> Result<(Vec<Row>, Vec<String>), String> {
    let mut rows = Vec::new();
    let mut not_carried = Vec::new();
    let carried = {
        let mut manager = GpuManager::new();
        let source = manager
            .add_software_gpu(Quirks::default())
            .map_err(|e| e.to_string())?;
        manager
            .add_software_gpu(Quirks::default())
            .map_err(|e| e.to_string())?;
        manager.carried_formats(source).map_err(|e| e.to_string())?;
        manager
    };
    for fourcc in FORMATS {
        let source = carried.gpu_ids()[0];
        if !carried
            .offered_formats(source)
            .iter()
            .any(|f| f.code == fourcc)
        {
            let why = carried
                .refused_formats(source)
                .into_iter()
                .find(|(f, _)| f.code == fourcc)
                .map_or_else(|| "not listed by the GPU".to_string(), |(_, why)| why);
            not_carried.push(format!("{fourcc}: {why}"));
            continue;
        }
        // YUV is never read back; a path that does not carry the format says why.
        for path in PATHS
            .iter()
            .filter(|p| p.mapped || p.shadow || !is_yuv(fourcc))
        {
            let what = Measured {
                fourcc,
                sizes,
                damages: &FULL_DAMAGE,
                samples,
            };
            if let Err(why) = measure_path(path, &what, &mut rows) {
                not_carried.push(format!("{fourcc} by {}: {why}", path.name));
            }
        }
    }
    Ok((rows, not_carried))
}

/// What one path is measured with.
struct Measured<'a> {
    fourcc: Fourcc,
    sizes: &'a [FrameSize],
    damages: &'a [(&'static str, f64)],
    samples: u32,
}

fn measure_path(path: &Path, what: &Measured<'_>, rows: &mut Vec<Row>) -> Result<(), String> {
    let &Measured {
        fourcc,
        sizes,
        damages,
        samples,
    } = what;
    let counting = counting();
    let mut manager = GpuManager::new();
    manager.set_mapped_reads(path.mapped);
    manager.pin_copy_path(Some(if path.shadow {
        PathKind::Shadow
    } else {
        PathKind::CpuCopy
    }));
    let source = manager
        .add_software_gpu(Quirks {
            exports_dmabufs: path.shadow,
            ..Quirks::default()
        })
        .map_err(|e| e.to_string())?;
    let target = manager
        .add_software_gpu(Quirks {
            imports_foreign_dmabufs: false,
            ..Quirks::default()
        })
        .map_err(|e| e.to_string())?;
    for &(size, w, h) in sizes {
        let client = MemfdAllocator
            .allocate(w as u32, h as u32, fourcc, &[Modifier::Linear])
            .map_err(|e| format!("client buffer {fourcc} {size}: {e}"))?;
        manager.set_dmabuf_origin(&client, source);
        let texture = manager.new_texture();
        // One copy: its time and the allocations made during it.
        let copy = |manager: &mut GpuManager, rect| -> Result<(Duration, u64), String> {
            let allocations_before = allocations();
            let started = Instant::now();
            manager
                .renderer(target)
                .and_then(|mut renderer| renderer.update_dmabuf(&texture, &client, &[rect]))
                .map_err(|e| format!("{} {size}: {e}", path.name))?;
            Ok((started.elapsed(), allocations() - allocations_before))
        };
        copy(&mut manager, Rectangle::from_size((w, h).into()))?;
        for &(damage, share) in damages {
            let rect = damage_rect(w, h, share);
            let bytes = if share >= 1.0 {
                image_bytes(fourcc, w as u32, h as u32).unwrap_or(0)
            } else {
                rect.size.w as u64 * rect.size.h as u64 * 4
            };
            copy(&mut manager, rect)?;
            let copies = (0..samples)
                .map(|_| copy(&mut manager, rect))
                .collect::<Result<Vec<_>, _>>()?;
            let allocated: u64 = copies.iter().map(|(_, allocated)| allocated).sum();
            let allocations = counting.then(|| allocated as f64 / f64::from(samples));
            let times = copies.into_iter().map(|(time, _)| time).collect();
            let memcpy_times = memcpy_times(bytes as usize, samples.max(3));
            let (ms, memcpy_ms) = (median(times), median(memcpy_times));
            rows.push(Row {
                format: fourcc.to_string(),
                path: path.name,
                size,
                damage,
                bytes,
                ms,
                memcpy_ms,
                ratio: ms / memcpy_ms.max(1e-6),
                allocations,
            });
        }
        drop(texture);
        manager.cleanup().map_err(|e| e.to_string())?;
    }
    if !(path.used)(&manager.stats()) {
        return Err(format!(
            "the copies did not take the {} path ({:?}): the figures would be another path's",
            path.name,
            manager.stats()
        ));
    }
    Ok(())
}

/// Every table of one run.
pub(crate) struct Measurements {
    pub rows: Vec<Row>,
    /// The format rows, and the formats or paths not carried (with why).
    pub formats: (Vec<Row>, Vec<String>),
    pub plane_draws: Vec<PlaneDraw>,
    pub frames: FrameOverhead,
    /// Copies of a finished frame into screen captures' buffers.
    pub captures: Vec<Row>,
}

pub fn run(args: CopyCostsArgs) -> Result<ExitCode, String> {
    let renderer = {
        let mut manager = GpuManager::new();
        let id = manager
            .add_software_gpu(Quirks::default())
            .map_err(|e| e.to_string())?;
        manager
            .gpu(id)
            .map(|gpu| gpu.renderer_name().to_string())
            .unwrap_or_default()
    };
    let measured = Measurements {
        rows: measure_rows(args.samples, &SIZES)?,
        formats: measure_format_rows(args.samples, &FORMAT_SIZES)?,
        plane_draws: plane_draw::measure(args.samples, &FORMAT_SIZES)?,
        frames: frame_overhead::measure(args.frames as usize)?,
        captures: capture::measure_capture_rows(args.samples, &FORMAT_SIZES)?,
    };
    let table = markdown(&measured, args.frames, &machine(), &renderer, args.samples);
    println!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("written to {}", out.display());
    }
    let json = serde_json::json!({
        "rows": measured.rows,
        "format_rows": measured.formats.0,
        "not_carried": measured.formats.1,
        "nv12_frames": measured.plane_draws,
        "frames": measured.frames,
        "capture_rows": measured.captures,
    });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each format of the table is measured by every path that carries it, and every other path
    /// (YUV has no readback) is listed with why; the bytes are the client buffer's.
    #[test]
    fn every_format_is_measured_or_said_not_carried() {
        let (rows, not_carried) =
            measure_format_rows(1, &[("64x64", 64, 64)]).expect("format rows");
        for fourcc in FORMATS {
            let name = fourcc.to_string();
            let measured: Vec<&str> = rows
                .iter()
                .filter(|row| row.format == name)
                .map(|row| row.path)
                .collect();
            let whole = format!("{name}:");
            if let Some(line) = not_carried.iter().find(|line| line.starts_with(&whole)) {
                assert!(measured.is_empty(), "{line}");
                continue;
            }
            let paths = if is_yuv(fourcc) { 2 } else { PATHS.len() };
            let said = not_carried
                .iter()
                .filter(|line| line.starts_with(&format!("{name} by ")))
                .count();
            assert_eq!(
                measured.len() + said,
                paths,
                "{name}: {measured:?} {not_carried:?}"
            );
            assert!(!measured.is_empty(), "{name} is carried by some path");
            let bytes = rows.iter().find(|row| row.format == name).map(|r| r.bytes);
            assert_eq!(bytes, image_bytes(fourcc, 64, 64), "{name}");
        }
        assert!(rows.iter().any(|row| row.format == "XR30"), "{rows:?}");
    }
}
