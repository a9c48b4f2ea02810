//! The charts of the results (SVG, plotters): the targets, and the latency distributions.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::targets::{Target, TargetUnit};
use super::{BenchError, Case};
use crate::common::file_error;
use xdptcp::load::report::ChartError;

/// The targets as a chart: xdptcp's advantage (the factor it is better by, so that higher
/// is better for every target) against the advantage each target asks for.
pub(super) fn plot_targets(path: &Path, targets: &[Target]) -> Result<(), ChartError> {
    let bars: Vec<(String, f64, f64)> = targets
        .iter()
        // Ratios against Linux or the floor only: absolute goals (ns, %, MiB, counts) and
        // the flood's ratio of the server to itself have no bar here.
        .filter(|t| t.unit == TargetUnit::Ratio && t.case != Case::Flood)
        .filter_map(|t| {
            let r = t.ratio?;
            let (adv, goal) = if t.at_most {
                (1.0 / r, 1.0 / t.bound)
            } else {
                (r, t.bound)
            };
            Some((t.what.clone(), adv, goal))
        })
        .collect();
    if bars.is_empty() {
        return Ok(());
    }
    let y_max = bars.iter().map(|b| b.1.max(b.2)).fold(1.0, f64::max) * 1.6;
    let y_min = bars.iter().map(|b| b.1.min(b.2)).fold(1.0, f64::min) / 1.6;
    let n = bars.len();
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "xdptcp's advantage over Linux TCP (and the AF_XDP floor): bars measured, ticks = target",
            ("sans-serif", 17),
        )
        .margin(14)
        .margin_bottom(8)
        .x_label_area_size(120)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, (y_min..y_max).log_scale())?;
    let labels: Vec<String> = bars.iter().map(|b| short_label(&b.0)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 11))
        .y_desc("factor better than the reference (log)")
        .y_label_formatter(&|y| format!("{y:.1}×"))
        .draw()?;
    let green = RGBColor(0x2c, 0xa0, 0x2c);
    let red = RGBColor(0xd6, 0x27, 0x28);
    for (i, (_, adv, goal)) in bars.iter().enumerate() {
        let x0 = i as f64 + 0.2;
        let x1 = i as f64 + 0.8;
        let color = if adv >= goal { green } else { red };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, y_min), (x1, *adv)],
            color.mix(0.8).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x0 - 0.08, *goal), (x1 + 0.08, *goal)],
            BLACK.stroke_width(3),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{adv:.2}×"),
            (x0, *adv * 1.08),
            ("sans-serif", 13),
        )))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (n as f64, 1.0)],
        BLACK.mix(0.4).stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}

/// A target's name short enough for the chart's axis.
fn short_label(what: &str) -> String {
    match what {
        w if w.contains("RTT p50, xdptcp / Linux") => "RTT p50 vs Linux".into(),
        w if w.contains("p99.9") => "RTT p99.9 vs Linux".into(),
        w if w.contains("floor") => "RTT p50 vs floor".into(),
        w if w.contains("small RPC") => "RPC req/s".into(),
        w if w.contains("short connections") => "conn/s".into(),
        w if w.contains("bulk") => "bulk (offl. off)".into(),
        w if w.contains("sockperf") => "sockperf p50".into(),
        w => w.chars().take(18).collect(),
    }
}

/// The latency distribution of each variant's median repetition, from its `.hgrm` file.
pub(super) fn plot_latency(
    path: &Path,
    hgrms: &[(&'static str, PathBuf)],
) -> Result<(), BenchError> {
    let mut series = Vec::new();
    for (variant, hgrm) in hgrms {
        let label = match *variant {
            "xdptcp" => "xdptcp (both ends)",
            "linux" => "Linux TCP (both ends)",
            _ => "AF_XDP floor (no TCP)",
        };
        let points = xdptcp::load::report::read_hgrm(hgrm).map_err(file_error(hgrm))?;
        series.push((label.to_string(), points));
    }
    xdptcp::load::report::plot_svg(
        path,
        "64-byte ping-pong round trip over veth, one connection (median repetition)",
        &series,
    )
    .map_err(|source| BenchError::Chart {
        path: path.to_path_buf(),
        source,
    })
}
