//! `tandem-compositor copy-costs`: what showing a window's buffer from one GPU on another costs
//! per frame on this machine, path by path (shadow slot, CPU copy through a GPU readback, CPU
//! copy from the buffer's own mapping), at 1080p, 1440p and 4K with 100%, 10% and 1% of it
//! damaged, beside a memcpy of the same bytes timed in the same run. Prints the table, writes it
//! as Markdown when `--out` is given (`just copy-costs` writes docs/copy-costs.md), and ends
//! stdout with one JSON line holding every row.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::utils::{Buffer as BufferCoord, Rectangle};
use tandem::gpu::{DmabufAllocator, MemfdAllocator};
use tandem::{CopyStats, GpuManager, PathKind, Quirks};

#[derive(Debug, clap::Args)]
pub struct CopyCostsArgs {
    /// Write the table as Markdown to this file.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Timed copies per row (after one untimed); the median is reported.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub samples: u32,
}

const SIZES: [(&str, i32, i32); 3] = [
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

/// One line of the table.
#[derive(Debug, Serialize)]
struct Row {
    path: &'static str,
    size: &'static str,
    damage: &'static str,
    /// Bytes damaged (moved) per copy.
    bytes: u64,
    /// Median time of one copy.
    ms: f64,
    /// Median time of a memcpy of `bytes`, in the same run.
    memcpy_ms: f64,
    ratio: f64,
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

fn measure_path(path: &Path, samples: u32, rows: &mut Vec<Row>) -> Result<(), String> {
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
    for (size, w, h) in SIZES {
        let client = MemfdAllocator
            .allocate(w as u32, h as u32, Fourcc::Argb8888, &[Modifier::Linear])
            .map_err(|e| format!("client buffer {size}: {e}"))?;
        manager.set_dmabuf_origin(&client, source);
        let texture = manager.new_texture();
        let copy = |manager: &mut GpuManager, rect| -> Result<Duration, String> {
            let started = Instant::now();
            manager
                .renderer(target)
                .and_then(|mut renderer| renderer.update_dmabuf(&texture, &client, &[rect]))
                .map_err(|e| format!("{} {size}: {e}", path.name))?;
            Ok(started.elapsed())
        };
        copy(&mut manager, Rectangle::from_size((w, h).into()))?;
        for (damage, share) in DAMAGES {
            let rect = damage_rect(w, h, share);
            let bytes = rect.size.w as u64 * rect.size.h as u64 * 4;
            copy(&mut manager, rect)?;
            let times = (0..samples)
                .map(|_| copy(&mut manager, rect))
                .collect::<Result<Vec<_>, _>>()?;
            // Both sides touched (and one copy made) before timing: no page faults measured.
            let from = vec![0x5au8; bytes as usize];
            let mut to = vec![0xa5u8; bytes as usize];
            to.copy_from_slice(&from);
            let memcpy_times = (0..samples.max(3))
                .map(|_| {
                    let started = Instant::now();
                    to.copy_from_slice(std::hint::black_box(&from));
                    std::hint::black_box(&to);
                    started.elapsed()
                })
                .collect();
            let (ms, memcpy_ms) = (median(times), median(memcpy_times));
            rows.push(Row {
                path: path.name,
                size,
                damage,
                bytes,
                ms,
                memcpy_ms,
                ratio: ms / memcpy_ms.max(1e-6),
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

fn markdown(rows: &[Row], machine: &str, renderer: &str, samples: u32) -> String {
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
         in the same run. The share of a frame is the copy's time against a frame at 60 Hz \
         (16.7 ms) and 144 Hz (6.9 ms).\n"
    );
    let _ = writeln!(out, "Paths:\n");
    let _ = writeln!(
        out,
        "- **shadow slot**: GPU A draws the damage into a buffer GPU B imports (src/renderer/copy.rs).\n\
         - **CPU copy, GPU readback**: GPU A reads the damage back, GPU B uploads it.\n\
         - **CPU copy, mapped buffer**: the damage is read from the client buffer's own \
         mapping (no GPU A work), GPU B uploads it (src/texture/mapped.rs).\n"
    );
    let _ = writeln!(
        out,
        "| path | size | damage | ms per copy | MiB/s | memcpy ms | × memcpy | of a 60 Hz frame | of a 144 Hz frame |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.0} | {:.3} | {:.1} | {:.1}% | {:.1}% |",
            row.path,
            row.size,
            row.damage,
            row.ms,
            row.mib_per_s(),
            row.memcpy_ms,
            row.ratio,
            row.frame_share(60.0),
            row.frame_share(144.0)
        );
    }
    out
}

pub fn run(args: CopyCostsArgs) -> Result<ExitCode, String> {
    let mut rows = Vec::new();
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
    for path in &PATHS {
        measure_path(path, args.samples, &mut rows)?;
    }
    let table = markdown(&rows, &machine(), &renderer, args.samples);
    println!("{table}");
    if let Some(out) = &args.out {
        std::fs::write(out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("written to {}", out.display());
    }
    let json = serde_json::json!({ "rows": rows });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
