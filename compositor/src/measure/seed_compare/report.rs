//! The samples one library's run takes, and what `seed-compare` makes of both runs: the table,
//! summary.json, the plot, the closing JSON line and the verdict.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::kernel::DmabufTotal;
use super::{Library, SeedCompareArgs};

/// What the kernel and the GL drivers report at one moment of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sample {
    pub windows_closed: usize,
    /// Every dma-buf alive in the system (debugfs bufinfo).
    pub system_dmabufs: DmabufTotal,
    /// The dma-bufs the compositor holds fds to (/proc/self/fdinfo).
    pub process_dmabufs: DmabufTotal,
    /// DRM fdinfo memory keys of the compositor's device fds (empty: the driver reports none).
    pub drm_fdinfo: BTreeMap<String, u64>,
    /// Live GL texture names per context.
    pub gl_names: Vec<(String, u64)>,
    pub rss_bytes: u64,
    /// Resident bytes by kind of mapping (/proc/self/smaps).
    pub resident: BTreeMap<String, u64>,
}

impl Sample {
    pub fn describe(&self) -> String {
        format!(
            "{} dma-bufs alive ({} B), {} held by fd ({} B), GL names {:?}, RSS {} B",
            self.system_dmabufs.count,
            self.system_dmabufs.bytes,
            self.process_dmabufs.count,
            self.process_dmabufs.bytes,
            self.gl_names,
            self.rss_bytes
        )
    }

    fn gl_name_total(&self) -> u64 {
        self.gl_names.iter().map(|(_, n)| n).sum()
    }
}

/// One library's run, as its process prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LibraryRun {
    pub library: String,
    pub gpus: Vec<String>,
    pub windows: usize,
    pub window_size: (i32, i32),
    pub baseline: Sample,
    /// Every window shown, after the steady frames.
    pub shown: Sample,
    /// After each window closed.
    pub closes: Vec<Sample>,
    /// After the stretch with no output drawn.
    pub after: Sample,
    pub steady_frames: usize,
    /// dma-bufs the compositor created during the steady frames (kprobe on dma_buf_export).
    pub steady_exports: u64,
    pub frame_ms: Vec<f64>,
    pub import_ms: Vec<f64>,
    /// Rust heap allocations made while each steady frame was drawn (the binary's counting
    /// allocator; the GL drivers' own allocations are not counted).
    pub heap_allocations: Vec<u64>,
}

impl LibraryRun {
    pub fn new(library: Library, args: &SeedCompareArgs) -> LibraryRun {
        LibraryRun {
            library: library.key().into(),
            gpus: Vec::new(),
            windows: args.windows,
            window_size: args.size,
            baseline: Sample::default(),
            shown: Sample::default(),
            closes: Vec::new(),
            after: Sample::default(),
            steady_frames: 0,
            steady_exports: 0,
            frame_ms: Vec::new(),
            import_ms: Vec::new(),
            heap_allocations: Vec::new(),
        }
    }

    fn per_window(&self, bytes: impl Fn(&Sample) -> u64) -> f64 {
        (bytes(&self.after) as f64 - bytes(&self.baseline) as f64) / self.windows.max(1) as f64
    }

    /// dma-buf bytes still alive per closed window, by the kernel's count of every dma-buf.
    pub fn retained_bytes_per_window(&self) -> f64 {
        self.per_window(|s| s.system_dmabufs.bytes)
    }

    fn dmabufs_created_per_steady_frame(&self) -> f64 {
        self.steady_exports as f64 / self.steady_frames.max(1) as f64
    }

    fn heap_allocations_per_steady_frame(&self) -> f64 {
        self.heap_allocations.iter().sum::<u64>() as f64 / self.heap_allocations.len().max(1) as f64
    }

    fn summary(&self) -> serde_json::Value {
        json!({
            "retained_bytes_per_window": self.retained_bytes_per_window(),
            "dmabufs_created_per_steady_frame": self.dmabufs_created_per_steady_frame(),
            "copy_ms_p50": median(&self.import_ms),
            "frame_ms_p50": median(&self.frame_ms),
            "heap_allocations_per_steady_frame": self.heap_allocations_per_steady_frame(),
            "retained_dmabufs_per_window": self.per_window(|s| s.system_dmabufs.count),
            "retained_fd_held_bytes_per_window": self.per_window(|s| s.process_dmabufs.bytes),
            "retained_gl_names_per_window": self.per_window(Sample::gl_name_total),
            "retained_rss_bytes_per_window": self.per_window(|s| s.rss_bytes),
            "drm_fdinfo_memory_reported": !self.after.drm_fdinfo.is_empty(),
            "steady_frames": self.steady_frames,
            "windows": self.windows,
            "window_size": format!("{}x{}", self.window_size.0, self.window_size.1),
            "gpus": self.gpus,
        })
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn table(runs: &[LibraryRun]) -> String {
    let mut text = String::from(
        "| measure (kernel and GL driver, not the libraries) | smithay 0.7 multigpu | Tandem |\n\
         |---|---|---|\n",
    );
    let row = |text: &mut String, name: &str, value: &dyn Fn(&LibraryRun) -> String| {
        let cells: Vec<String> = runs.iter().map(value).collect();
        text.push_str(&format!("| {name} | {} |\n", cells.join(" | ")));
    };
    row(
        &mut text,
        "dma-buf bytes retained per closed window",
        &|r| format!("{:.0}", r.retained_bytes_per_window()),
    );
    row(&mut text, "dma-bufs retained per closed window", &|r| {
        format!("{:.2}", r.per_window(|s| s.system_dmabufs.count))
    });
    row(
        &mut text,
        "of those bytes, held through fds, per window",
        &|r| format!("{:.0}", r.per_window(|s| s.process_dmabufs.bytes)),
    );
    row(&mut text, "GL texture names retained per window", &|r| {
        format!("{:.2}", r.per_window(Sample::gl_name_total))
    });
    row(&mut text, "RSS retained per window (bytes)", &|r| {
        format!("{:.0}", r.per_window(|s| s.rss_bytes))
    });
    for kind in ["anonymous", "drm", "dmabuf", "memfd"] {
        row(
            &mut text,
            &format!("of that RSS, in {kind} mappings (bytes)"),
            &|r| {
                format!(
                    "{:.0}",
                    r.per_window(|s| s.resident.get(kind).copied().unwrap_or(0))
                )
            },
        );
    }
    row(&mut text, "dma-bufs created per steady frame", &|r| {
        format!("{:.2}", r.dmabufs_created_per_steady_frame())
    });
    row(&mut text, "Rust heap allocations per steady frame", &|r| {
        format!("{:.1}", r.heap_allocations_per_steady_frame())
    });
    row(
        &mut text,
        "surface import and copy per frame, p50 (ms)",
        &|r| format!("{:.2}", median(&r.import_ms)),
    );
    row(&mut text, "whole frame, finished, p50 (ms)", &|r| {
        format!("{:.2}", median(&r.frame_ms))
    });
    row(&mut text, "DRM fdinfo memory", &|r| {
        if r.after.drm_fdinfo.is_empty() {
            "not reported by the driver".into()
        } else {
            format!("{:?}", r.after.drm_fdinfo)
        }
    });
    text
}

/// Prints the table and the JSON line, writes `--out`, and says whether the targets hold:
/// smithay 0.7 retains bytes per closed window, Tandem none and creates no dma-buf per steady
/// frame.
pub fn finish(args: &SeedCompareArgs, runs: &[LibraryRun]) -> Result<ExitCode, String> {
    let table = table(runs);
    let by_library: serde_json::Map<String, serde_json::Value> = runs
        .iter()
        .map(|r| (r.library.clone(), r.summary()))
        .collect();
    let line = serde_json::Value::Object(by_library);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let full = json!({ "summary": line, "runs": runs });
        let pretty = serde_json::to_string_pretty(&full).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("summary.json"), pretty).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("table.md"), &table).map_err(|e| e.to_string())?;
        super::plot::draw(&dir.join("seed-compare.png"), runs)?;
    }
    println!("{table}");
    let mut failures = Vec::new();
    for run in runs {
        let retained = run.retained_bytes_per_window();
        match run.library.as_str() {
            "tandem" if retained != 0.0 => failures.push(format!(
                "Tandem left {retained:.0} dma-buf bytes per closed window"
            )),
            "tandem" if run.steady_exports > 0 => failures.push(format!(
                "Tandem created {} dma-bufs in {} steady frames",
                run.steady_exports, run.steady_frames
            )),
            "smithay_multigpu" if retained <= 0.0 => failures.push(format!(
                "smithay 0.7's multigpu retained {retained:.0} bytes per closed window: the \
                 measure did not see what it is there to see"
            )),
            _ => {}
        }
    }
    for failure in &failures {
        eprintln!("seed-compare: FAIL {failure}");
    }
    println!("{line}");
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
