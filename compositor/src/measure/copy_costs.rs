//! `tandem-compositor copy-costs`: what showing a window's buffer from one GPU on another costs
//! per frame on this machine, path by path (shadow slot, CPU copy through a GPU readback, CPU
//! copy from the buffer's own mapping), at 1080p, 1440p and 4K with 100%, 10% and 1% of it
//! damaged, beside a memcpy of the same bytes timed in the same run. Prints the table, writes it
//! as Markdown when `--out` is given (`just copy-costs` writes docs/copy-costs.md), and ends
//! stdout with one JSON line holding every row. The table ends with the 64-window frame
//! comparison of [`crate::measure::frame_overhead`].

use std::fmt::Write as _;
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
use crate::measure::frame_overhead::{self, FrameOverhead, OUTPUT, WINDOW, WINDOWS};
use crate::measure::plane_draw::{self, PlaneDraw};

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

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// Every table of one run.
struct Measurements {
    rows: Vec<Row>,
    /// The format rows, and the formats or paths not carried (with why).
    formats: (Vec<Row>, Vec<String>),
    plane_draws: Vec<PlaneDraw>,
    frames: FrameOverhead,
}

fn markdown(
    measured: &Measurements,
    frame_count: u32,
    machine: &str,
    renderer: &str,
    samples: u32,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Copy costs\n");
    let _ = writeln!(
        out,
        "Generated by `just copy-costs` (`tandem-compositor copy-costs --out docs/copy-costs.md`); \
         do not edit by hand.\n"
    );
    let _ = writeln!(
        out,
        "What showing a window's buffer from GPU A on GPU B costs per frame, on {machine}, two \
         software GPUs ({renderer}). A client buffer (ARGB8888, linear, in a sealed memfd) lives \
         on GPU A; GPU B refuses foreign dmabufs, as NVIDIA's driver does, so every frame is \
         copied. Each row is the median of {samples} copies of the damaged rectangle (a centred \
         rectangle holding that share of the pixels), beside the median memcpy of the same bytes \
         in the same run (each memcpy sample repeats the copy for at least 0.2 ms and is \
         reported per copy: the source is in cache, as the damage a client just drew often \
         is). The share of a frame is the copy's time against a frame at 60 Hz \
         (16.7 ms) and 144 Hz (6.9 ms). Allocations are the Rust heap allocations per copy (Tandem \
         and smithay, through a `MultiRenderer` made for each copy as a compositor makes one per \
         frame), counted by the binary's allocator.\n"
    );
    let _ = writeln!(out, "Paths:\n");
    let _ = writeln!(
        out,
        "- **shadow slot**: GPU A draws the damage into a buffer GPU B imports (src/renderer/copy.rs).\n\
         - **CPU copy, GPU readback**: GPU A reads the damage back, GPU B uploads it.\n\
         - **CPU copy, mapped buffer**: GPU B uploads the damage straight from the client \
         buffer's own mapping (no GPU A work, no staging copy; where the kernel offers \
         udmabuf, the damage is copied into staging memory GPU B samples in place instead) \
         (src/texture/mapped.rs).\n"
    );
    let _ = writeln!(
        out,
        "| path | size | damage | ms per copy | MiB/s | memcpy ms | × memcpy | of a 60 Hz frame | of a 144 Hz frame | allocations per copy |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    rows_markdown(&mut out, &measured.rows, false);
    formats_markdown(&mut out, &measured.formats);
    plane_draw_markdown(&mut out, &measured.plane_draws, samples);
    frames_markdown(&mut out, &measured.frames, frame_count);
    out
}

/// The rows as Markdown table lines, with the format first when `with_format`.
fn rows_markdown(out: &mut String, rows: &[Row], with_format: bool) {
    for row in rows {
        if with_format {
            let _ = write!(out, "| {} ", row.format);
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.0} | {:.3} | {:.1} | {:.1}% | {:.1}% | {} |",
            row.path,
            row.size,
            row.damage,
            row.ms,
            row.mib_per_s(),
            row.memcpy_ms,
            row.ratio,
            row.frame_share(60.0),
            row.frame_share(144.0),
            row.allocations
                .map_or_else(|| "not counted".to_string(), |a| format!("{a:.1}"))
        );
    }
}

/// The format rows, and the formats the software GPU does not carry.
fn formats_markdown(out: &mut String, (rows, not_carried): &(Vec<Row>, Vec<String>)) {
    let _ = writeln!(out, "\n## Formats beside ARGB8888\n");
    let _ = writeln!(
        out,
        "Whole buffers of other formats, each path that carries them, against a memcpy of the \
         client buffer's bytes (10-bit: 4 bytes a pixel; half float: 8; NV12: 1.5; YUYV: 2). \
         Depth is kept: a 10-bit buffer moves through 10-bit slots and staging, a half-float \
         one through half floats. YUV is drawn by the source GPU into an RGB slot where that GPU \
         samples it; otherwise it is read from the buffer's mapping, NV12 plane by plane into \
         textures the drawing GPU converts as its frames draw them (src/texture/planes.rs, \
         src/renderer/plane_shader.rs; what that costs the frame is the next table), the other \
         YUV formats converted on the CPU (src/texture/yuv.rs). YUV is never read back.\n"
    );
    let _ = writeln!(
        out,
        "| format | path | size | damage | ms per copy | MiB/s | memcpy ms | × memcpy | of a 60 Hz frame | of a 144 Hz frame | allocations per copy |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    rows_markdown(out, rows, true);
    for format in not_carried {
        let _ = writeln!(out, "\nNot measured: {format}.");
    }
}

/// The frame cost of converting NV12 planes as they are drawn.
fn plane_draw_markdown(out: &mut String, rows: &[PlaneDraw], samples: u32) {
    let _ = writeln!(out, "\n## NV12 converted in the frame\n");
    let _ = writeln!(
        out,
        "An NV12 buffer carried as its planes, drawn over a whole output of its size on one \
         software GPU (converted to RGB by the frame's shader), against an ARGB8888 buffer of \
         the same size drawn the same way: median of {samples} frames each, in turn, submitted \
         and waited for (compositor/src/measure/plane_draw.rs).\n"
    );
    let _ = writeln!(
        out,
        "| size | NV12 frame ms | ARGB8888 frame ms | × ARGB8888 |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {:.2} |",
            row.size, row.nv12_frame_ms, row.argb_frame_ms, row.ratio
        );
    }
}

fn frames_markdown(out: &mut String, frames: &FrameOverhead, frame_count: u32) {
    let _ = writeln!(out, "\n## 64 windows: MultiRenderer against GlesRenderer\n");
    let _ = writeln!(
        out,
        "The same {windows} windows ({ww}x{wh} textures) drawn into a {ow}x{oh} buffer on one \
         software GPU, by Tandem's `MultiRenderer` and by that GPU's smithay `GlesRenderer` \
         directly, one frame of each in turn ({frame_count} measured frames each, after a \
         warm-up; compositor/src/measure/frame_overhead.rs). A frame is bound, drawn, submitted and \
         waited for; \"draw calls\" is the renderer's own CPU work from binding the buffer to \
         the last draw, before `finish` (llvmpipe rasterizes during `finish`). Allocations are the \
         Rust heap allocations per steady frame (Tandem and smithay), counted by the binary's \
         allocator; the GL driver's own (C) allocations are not counted.\n",
        windows = WINDOWS,
        ww = WINDOW.0,
        wh = WINDOW.1,
        ow = OUTPUT.0,
        oh = OUTPUT.1,
    );
    let _ = writeln!(
        out,
        "| renderer | frame ms (median) | draw calls ms (median) | allocations per frame |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for side in [&frames.tandem, &frames.gles] {
        let allocations = side
            .allocations
            .map_or_else(|| "not counted".to_string(), |a| format!("{a:.1}"));
        let _ = writeln!(
            out,
            "| {} | {:.3} | {:.3} | {allocations} |",
            side.renderer, side.frame_ms, side.draw_calls_ms
        );
    }
    let _ = writeln!(
        out,
        "\nTandem's frame against GlesRenderer's: {:.3}x.",
        frames.ratio
    );
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
