//! seed-compare.png: what each library still holds as its windows close, one line per library,
//! from every window shown (0 closed) to all closed and the output idle. Upper panel: bytes of
//! every dma-buf alive in the system (the kernel's bufinfo); lower panel: process RSS. Both
//! relative to the baseline taken before the windows opened.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{LibraryRun, Sample};

fn colour(library: &str) -> RGBColor {
    match library {
        "tandem" => RGBColor(0, 100, 210),
        _ => RGBColor(210, 50, 30),
    }
}

fn points(run: &LibraryRun, value: &dyn Fn(&Sample) -> u64) -> Vec<(f64, f64)> {
    let base = value(&run.baseline) as f64;
    let mib = |v: u64| (v as f64 - base) / (1024.0 * 1024.0);
    let mut points = vec![(0.0, mib(value(&run.shown)))];
    points.extend(
        run.closes
            .iter()
            .map(|s| (s.windows_closed as f64, mib(value(s)))),
    );
    points.push((run.windows as f64 + 0.5, mib(value(&run.after))));
    points
}

pub fn draw(path: &Path, runs: &[LibraryRun]) -> Result<(), String> {
    let root = BitMapBackend::new(path, (900, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (upper, lower) = root.split_vertically(380);
    panel(
        &upper,
        "dma-buf MiB alive in the system (kernel bufinfo), minus baseline",
        runs,
        &|s| s.system_dmabufs.bytes,
    )?;
    panel(&lower, "process RSS MiB, minus baseline", runs, &|s| {
        s.rss_bytes
    })?;
    root.present().map_err(|e| e.to_string())
}

fn panel(
    area: &DrawingArea<BitMapBackend, Shift>,
    caption: &str,
    runs: &[LibraryRun],
    value: &dyn Fn(&Sample) -> u64,
) -> Result<(), String> {
    let series: Vec<(&LibraryRun, Vec<(f64, f64)>)> =
        runs.iter().map(|r| (r, points(r, value))).collect();
    let all = || series.iter().flat_map(|(_, p)| p.iter());
    let x_max = all().map(|p| p.0).fold(1.0, f64::max);
    let y_max = all().map(|p| p.1).fold(0.1, f64::max) * 1.1;
    let y_min = all().map(|p| p.1).fold(0.0, f64::min) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("windows closed (last point: after the idle stretch)")
        .y_desc("MiB")
        .draw()
        .map_err(|e| e.to_string())?;
    for (run, points) in &series {
        let colour = colour(&run.library);
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(run.library.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, colour.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}
