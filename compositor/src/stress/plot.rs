//! memory.png: memory left behind against windows opened, one line per measure and mode.

use std::path::Path;

use plotters::prelude::*;

use super::report::ModeSummary;
use crate::backend::headless::TextureMode;

/// A line: its label, its points (windows, MiB) and its colour.
type Series = (String, Vec<(f64, f64)>, RGBColor);

pub fn draw(path: &Path, summaries: &[ModeSummary], window_bytes: u64) -> Result<(), String> {
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let mut series: Vec<Series> = Vec::new();
    for summary in summaries {
        let Some(base) = summary.samples.first() else {
            continue;
        };
        let mode = super::report::mode_name(summary.mode);
        let palette = match summary.mode {
            TextureMode::Tandem => [
                RGBColor(0, 110, 220),
                RGBColor(0, 170, 120),
                RGBColor(90, 60, 200),
            ],
            TextureMode::Smithay => [
                RGBColor(220, 60, 40),
                RGBColor(230, 140, 0),
                RGBColor(160, 40, 120),
            ],
            TextureMode::None => [RGBColor(150, 150, 150); 3],
        };
        let points = |f: &dyn Fn(&super::report::Sample) -> f64| -> Vec<(f64, f64)> {
            summary
                .samples
                .iter()
                .map(|s| ((s.windows_opened - base.windows_opened) as f64, mib(f(s))))
                .collect()
        };
        if summary.mode != TextureMode::None {
            series.push((
                format!("{mode} ledger"),
                points(&|s| s.ledger_bytes as f64 - base.ledger_bytes as f64),
                palette[0],
            ));
            series.push((
                format!("{mode} GL names x window size"),
                points(&|s| (s.gl_names as f64 - base.gl_names as f64) * window_bytes as f64),
                palette[1],
            ));
        }
        series.push((
            format!("{mode} RSS"),
            points(&|s| s.rss_bytes as f64 - base.rss_bytes as f64),
            palette[2],
        ));
    }
    let x_max = series
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let y_min = series
        .iter()
        .flat_map(|(_, p, _)| p.iter().map(|p| p.1))
        .fold(0.0, f64::min);

    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Memory left behind vs windows opened and closed",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, (y_min * 1.1)..(y_max * 1.1))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("windows opened and closed (after warm-up)")
        .y_desc("MiB retained")
        .draw()
        .map_err(|e| e.to_string())?;
    for (label, points, colour) in series {
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
