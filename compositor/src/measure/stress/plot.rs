//! memory.png: memory left behind against windows opened, in two panels. The upper one holds
//! the exact measures (Tandem's ledger, live GL texture names times the window size), the lower
//! one process RSS, which also moves with the driver's and the allocator's own caches. Colour
//! says the mode, line style and marker say the measure, so lines that coincide (every exact
//! measure of Tandem is zero) stay visible. Only measured figures are drawn: smithay's textures
//! are not in Tandem's ledger, so the baseline has no ledger line.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{mode_name, ModeSummary, Sample};
use crate::backend::headless::TextureMode;

/// What a line measures; it decides the line's style and marker.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Ledger,
    GlNames,
    Rss,
}

struct Series {
    label: String,
    measure: Measure,
    /// The control run's RSS: drawn dotted over the others, which it usually follows.
    control: bool,
    colour: RGBColor,
    points: Vec<(f64, f64)>,
}

fn colour(mode: TextureMode) -> RGBColor {
    match mode {
        TextureMode::Tandem => RGBColor(0, 100, 210),
        TextureMode::Smithay | TextureMode::SmithayMultigpu => RGBColor(210, 50, 30),
        TextureMode::None => RGBColor(120, 120, 120),
    }
}

/// The GL-names shade of a mode's colour, so that it stands out on the ledger line.
fn lighter(colour: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = colour;
    let lift = |c: u8| c + (255 - c) / 2;
    RGBColor(lift(r), lift(g).max(160), lift(b))
}

fn collect(summaries: &[ModeSummary], window_bytes: u64) -> Vec<Series> {
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let mut series = Vec::new();
    for summary in summaries {
        let Some(base) = summary.samples.first() else {
            continue;
        };
        let points = |f: &dyn Fn(&Sample) -> f64| -> Vec<(f64, f64)> {
            summary
                .samples
                .iter()
                .map(|s| ((s.windows_opened - base.windows_opened) as f64, mib(f(s))))
                .collect()
        };
        let mode = mode_name(summary.mode);
        let colour = colour(summary.mode);
        if summary.mode == TextureMode::Tandem {
            series.push(Series {
                label: format!("{mode} ledger"),
                measure: Measure::Ledger,
                control: false,
                colour,
                points: points(&|s| s.ledger_bytes as f64 - base.ledger_bytes as f64),
            });
        }
        if summary.mode != TextureMode::None {
            series.push(Series {
                label: format!("{mode} live GL names x window size"),
                measure: Measure::GlNames,
                control: false,
                colour: lighter(colour),
                points: points(&|s| {
                    (s.gl_names as f64 - base.gl_names as f64) * window_bytes as f64
                }),
            });
        }
        series.push(Series {
            label: format!("{mode} RSS"),
            measure: Measure::Rss,
            control: summary.mode == TextureMode::None,
            colour,
            points: points(&|s| s.rss_bytes as f64 - base.rss_bytes as f64),
        });
    }
    series
}

pub fn draw(path: &Path, summaries: &[ModeSummary], window_bytes: u64) -> Result<(), String> {
    let series = collect(summaries, window_bytes);
    let root = BitMapBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (upper, lower) = root.split_vertically(450);
    let (exact, rss): (Vec<&Series>, Vec<&Series>) =
        series.iter().partition(|s| s.measure != Measure::Rss);
    panel(
        &upper,
        "Exact: Tandem's ledger and live GL texture names",
        &exact,
    )?;
    panel(&lower, "Process RSS (includes driver caches)", &rss)?;
    root.present().map_err(|e| e.to_string())
}

fn panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    caption: &str,
    series: &[&Series],
) -> Result<(), String> {
    let values = || series.iter().flat_map(|s| s.points.iter());
    let x_max = values().map(|p| p.0).fold(1.0, f64::max);
    let y_max = values().map(|p| p.1).fold(1.0, f64::max);
    let y_min = values().map(|p| p.1).fold(0.0, f64::min);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max * 1.02, (y_min * 1.1 - 0.05)..(y_max * 1.15))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("windows opened and closed (after warm-up)")
        .y_desc("MiB retained")
        .draw()
        .map_err(|e| e.to_string())?;
    // Thick lines first, thin and dashed ones over them, so that coinciding lines stay visible.
    let mut ordered: Vec<&&Series> = series.iter().collect();
    ordered.sort_by_key(|s| (s.measure != Measure::Ledger, s.control));
    for s in ordered {
        let colour = s.colour;
        let line = match s.measure {
            Measure::Ledger => colour.stroke_width(5),
            Measure::GlNames | Measure::Rss => colour.stroke_width(2),
        };
        if s.measure == Measure::GlNames || s.control {
            chart
                .draw_series(DashedLineSeries::new(s.points.clone(), 8, 6, line))
                .map_err(|e| e.to_string())?;
        } else {
            chart
                .draw_series(LineSeries::new(s.points.clone(), line))
                .map_err(|e| e.to_string())?;
        }
        draw_markers(&mut chart, s)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| e.to_string())
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Each point's marker, and the series' legend entry: a hollow circle for the ledger, a filled
/// triangle for GL names (it shows inside the ledger's circle when both are zero), a cross for
/// RSS, a dot for the control run's RSS.
fn draw_markers<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, s: &Series) -> Result<(), String> {
    let colour = s.colour;
    let stroke = colour.stroke_width(2);
    let line = move || PathElement::new(vec![(-4, 0), (22, 0)], stroke);
    let drawn = match (s.measure, s.control) {
        (Measure::Ledger, _) => chart
            .draw_series(s.points.iter().map(|p| Circle::new(*p, 9, stroke)))
            .map_err(|e| e.to_string())?
            .legend(move |at| EmptyElement::at(at) + line() + Circle::new((9, 0), 7, stroke)),
        (Measure::GlNames, _) => chart
            .draw_series(
                s.points
                    .iter()
                    .map(|p| TriangleMarker::new(*p, 7, colour.filled())),
            )
            .map_err(|e| e.to_string())?
            .legend(move |at| {
                EmptyElement::at(at) + line() + TriangleMarker::new((9, 0), 7, colour.filled())
            }),
        (Measure::Rss, false) => chart
            .draw_series(s.points.iter().map(|p| Cross::new(*p, 6, stroke)))
            .map_err(|e| e.to_string())?
            .legend(move |at| EmptyElement::at(at) + line() + Cross::new((9, 0), 6, stroke)),
        (Measure::Rss, true) => chart
            .draw_series(s.points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
            .map_err(|e| e.to_string())?
            .legend(move |at| {
                EmptyElement::at(at) + line() + Circle::new((9, 0), 3, colour.filled())
            }),
    };
    drawn.label(s.label.as_str());
    Ok(())
}
