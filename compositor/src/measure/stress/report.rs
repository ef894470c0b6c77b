//! The stress test's figures: samples per cycle, the per-mode summary (what stays behind per
//! window by each measure, allocations per steady frame, copied per damaged byte, frame times),
//! summary.json, samples.csv and the terminal table.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tandem::CopyStats;

use super::StressArgs;
use crate::backend::headless::TextureMode;

/// What was measured after one cycle.
#[derive(Debug, Clone)]
pub struct Sample {
    pub cycle: usize,
    pub windows_opened: usize,
    pub ledger_bytes: u64,
    pub gl_names: u64,
    pub rss_bytes: u64,
    /// Ledger bytes per GPU and kind, as `gpu/kind=bytes` pairs.
    pub ledger_detail: Vec<(String, u64)>,
    /// Live texture names per GPU context.
    pub gl_names_per_gpu: Vec<(String, u64)>,
}

/// One mode's run.
pub struct ModeSummary {
    pub mode: TextureMode,
    pub gpus: usize,
    /// Sample 0 is taken after the warm-up cycles and is the baseline.
    pub samples: Vec<Sample>,
    pub frame_times: Vec<Duration>,
    pub frame_times_from: usize,
    pub copy_stats: CopyStats,
    pub copy_stats_at_warmup: CopyStats,
    pub windows_measured: usize,
    pub frames_per_window: usize,
    /// Bytes of the largest window seen (4 bytes per pixel of its surface tree).
    pub largest_window_bytes: u64,
    /// How a dmabuf of one GPU is drawn on the other in this run: the frame times of two runs
    /// compare like with like only where this is the same.
    pub cross_gpu_dmabufs: &'static str,
}

impl ModeSummary {
    pub fn new(mode: TextureMode, gpus: usize) -> ModeSummary {
        ModeSummary {
            mode,
            gpus,
            samples: Vec::new(),
            frame_times: Vec::new(),
            frame_times_from: 0,
            copy_stats: CopyStats::default(),
            copy_stats_at_warmup: CopyStats::default(),
            windows_measured: 0,
            frames_per_window: 0,
            largest_window_bytes: 0,
            cross_gpu_dmabufs: "none drawn",
        }
    }

    /// Growth of a measure per window opened and closed: the least-squares slope over the
    /// samples, so that one noisy sample does not decide the figure.
    fn per_window(&self, measure: impl Fn(&Sample) -> f64) -> f64 {
        let points: Vec<(f64, f64)> = self
            .samples
            .iter()
            .map(|s| (s.windows_opened as f64, measure(s)))
            .collect();
        let n = points.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
        let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
        let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
        if variance == 0.0 {
            0.0
        } else {
            covariance / variance
        }
    }

    /// Does the ledger see this mode's textures? Only Tandem's are counted by it.
    pub fn ledger_counts(&self) -> bool {
        self.mode == TextureMode::Tandem
    }

    pub fn ledger_per_window(&self) -> f64 {
        self.per_window(|s| s.ledger_bytes as f64)
    }

    /// Live texture names left per window, in bytes of one window texture each.
    pub fn gl_names_per_window(&self, window_bytes: u64) -> f64 {
        self.per_window(|s| s.gl_names as f64 * window_bytes as f64)
    }

    pub fn rss_per_window(&self) -> f64 {
        self.per_window(|s| s.rss_bytes as f64)
    }

    /// Allocations that replaced a GPU's existing texture, slot or staging of a window, per
    /// client frame after warm-up, counted where they are made (Tandem only: the baseline's
    /// allocations are not counted by anyone).
    pub fn steady_allocations_per_frame(&self) -> Option<f64> {
        if self.mode != TextureMode::Tandem {
            return None;
        }
        let reallocations = self.copy_stats.reallocations - self.copy_stats_at_warmup.reallocations;
        let frames = (self.windows_measured * self.frames_per_window).max(1);
        Some(reallocations as f64 / frames as f64)
    }

    /// Bytes the CPU copy path read back (counted as they are copied) per damaged byte it was
    /// asked to move. Shadow copies are not in it: they are GPU draws of the damaged
    /// rectangles, whose bytes nothing on the CPU side can count.
    pub fn copied_per_damaged(&self) -> Option<f64> {
        let (now, then) = (self.copy_stats, self.copy_stats_at_warmup);
        let copied = now.cpu_copied_bytes - then.cpu_copied_bytes;
        let damaged = now.cpu_damaged_bytes - then.cpu_damaged_bytes;
        (damaged > 0).then(|| copied as f64 / damaged as f64)
    }

    pub fn frame_ms(&self, quantile: f64) -> f64 {
        let mut times: Vec<f64> = self
            .frame_times
            .iter()
            .map(|t| t.as_secs_f64() * 1000.0)
            .collect();
        if times.is_empty() {
            return 0.0;
        }
        times.sort_by(f64::total_cmp);
        times[((times.len() - 1) as f64 * quantile).round() as usize]
    }
}

pub fn mode_name(mode: TextureMode) -> &'static str {
    match mode {
        TextureMode::Tandem => "tandem",
        TextureMode::Smithay => "smithay",
        TextureMode::SmithayMultigpu => "smithay_multigpu",
        TextureMode::None => "control",
    }
}

fn mode_json(
    summary: &ModeSummary,
    control: Option<&ModeSummary>,
    args: &StressArgs,
    window_bytes: u64,
) -> Value {
    let surface_state = control.map(ModeSummary::rss_per_window).unwrap_or(0.0);
    json!({
        "mode": mode_name(summary.mode),
        "gpus": summary.gpus,
        "windows": summary.windows_measured,
        "window_bytes": window_bytes,
        "vram_per_window_bytes": {
            "ledger": summary.ledger_counts().then(|| summary.ledger_per_window()),
            "gl_names": summary.gl_names_per_window(window_bytes),
            "rss": net_rss_per_window(summary, surface_state),
        },
        "rss_per_window_raw": summary.rss_per_window(),
        "compositor_surface_state_per_window": surface_state,
        "steady_allocations_per_frame": summary.steady_allocations_per_frame(),
        "copied_bytes_per_damaged_byte": summary.copied_per_damaged(),
        "frame_ms": { "p50": summary.frame_ms(0.5), "p99": summary.frame_ms(0.99) },
        "cross_gpu_dmabufs": summary.cross_gpu_dmabufs,
        "nvml_used_bytes_per_window": Value::Null,
        "buffers": format!("{:?}", args.buffers).to_lowercase(),
        "retain_surfaces": args.retain_surfaces,
        "cycles": args.cycles,
        "size": match args.client_cmd {
            Some(_) => Value::Null,
            None => json!([args.size.0, args.size.1]),
        },
        "client_cmd": args.client_cmd,
    })
}

/// RSS growth per window beyond the compositor's own surface state (the control run's), floored
/// at zero: a control run that grew more than a textured one is noise, not negative memory.
/// summary.json keeps both raw figures.
pub fn net_rss_per_window(summary: &ModeSummary, surface_state: f64) -> f64 {
    (summary.rss_per_window() - surface_state).max(0.0)
}

/// The control run (no textures at all), if there was one.
pub fn control(summaries: &[ModeSummary]) -> Option<&ModeSummary> {
    summaries.iter().find(|s| s.mode == TextureMode::None)
}

/// summary.json: the first measured mode's object, with every measured mode's object under
/// "modes". RSS per window is net of the control run's: the compositor's own state for the
/// surfaces it retains is not texture memory.
pub fn summary_json(summaries: &[ModeSummary], args: &StressArgs, window_bytes: u64) -> Value {
    let control = control(summaries);
    let modes: Vec<Value> = summaries
        .iter()
        .filter(|s| s.mode != TextureMode::None)
        .map(|s| mode_json(s, control, args, window_bytes))
        .collect();
    let mut top = modes.first().cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut top {
        map.insert("modes".into(), Value::Array(modes));
    }
    top
}

pub fn write_csv(path: &Path, summaries: &[ModeSummary]) -> Result<(), String> {
    let mut text = String::from(
        "mode,cycle,windows_opened,ledger_bytes,gl_names,rss_bytes,ledger_by_gpu_and_kind,gl_names_by_gpu\n",
    );
    let pairs = |pairs: &[(String, u64)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    for summary in summaries {
        for s in &summary.samples {
            let _ = writeln!(
                text,
                "{},{},{},{},{},{},{},{}",
                mode_name(summary.mode),
                s.cycle,
                s.windows_opened,
                s.ledger_bytes,
                s.gl_names,
                s.rss_bytes,
                pairs(&s.ledger_detail),
                pairs(&s.gl_names_per_gpu)
            );
        }
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn optional(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.3}"))
        .unwrap_or_else(|| "n/a".into())
}

pub fn table(summaries: &[ModeSummary], window_bytes: u64) -> String {
    let surface_state = control(summaries)
        .map(ModeSummary::rss_per_window)
        .unwrap_or(0.0);
    let mut out = format!(
        "Memory left per closed window (window = {window_bytes} B per GPU; RSS net of the \
         compositor's own retained surface state, {surface_state:.0} B per window)\n\
         {:<8} {:>12} {:>12} {:>12} {:>10} {:>10} {:>9} {:>9}  cross-GPU dmabufs\n",
        "mode", "ledger B", "GL names B", "RSS B", "allocs/fr", "copy/dmg", "p50 ms", "p99 ms"
    );
    for s in summaries.iter().filter(|s| s.mode != TextureMode::None) {
        let _ = writeln!(
            out,
            "{:<8} {:>12} {:>12.0} {:>12.0} {:>10} {:>10} {:>9.2} {:>9.2}  {}",
            mode_name(s.mode),
            match s.ledger_counts() {
                true => format!("{:.0}", s.ledger_per_window()),
                false => "n/a".into(),
            },
            s.gl_names_per_window(window_bytes),
            net_rss_per_window(s, surface_state),
            optional(s.steady_allocations_per_frame()),
            optional(s.copied_per_damaged()),
            s.frame_ms(0.5),
            s.frame_ms(0.99),
            s.cross_gpu_dmabufs
        );
    }
    out
}
