//! Load results: the terminal report, the HdrHistogram percentile-distribution text (`.hgrm`),
//! and latency-by-percentile charts in SVG.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use super::held::HeldTally;
use super::{LoadSpec, Tally, Workload};

/// Percentiles on the terminal report.
const PERCENTILES: [(f64, &str); 6] = [
    (50.0, "p50"),
    (90.0, "p90"),
    (99.0, "p99"),
    (99.9, "p99.9"),
    (99.99, "p99.99"),
    (100.0, "max"),
];

/// The result of one load run.
#[derive(Clone, Debug)]
pub struct Report {
    /// What ran the load ("xdptcp on xdp0 (1 queue, copy mode)", "Linux sockets").
    pub stack: String,
    pub spec: LoadSpec,
    pub tally: Tally,
    /// The idle connections held through the run, when any were asked for.
    pub held: Option<HeldTally>,
}

/// A latency in the unit that reads best.
pub fn format_latency(ns: f64) -> String {
    if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else {
        format!("{:.2} s", ns / 1_000_000_000.0)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Report {
    /// Answered requests per second of the measured period.
    pub fn requests_per_second(&self) -> f64 {
        self.tally.answered as f64 / self.spec.duration.as_secs_f64()
    }

    /// Requests that were due per second (the offered rate).
    pub fn offered_per_second(&self) -> f64 {
        self.tally.requests as f64 / self.spec.duration.as_secs_f64()
    }

    /// Written payload in Gbit/s (bulk).
    pub fn gbit_per_second(&self) -> f64 {
        self.tally.bytes_written as f64 * 8.0 / self.spec.duration.as_secs_f64() / 1e9
    }

    /// The latency at `percentile` (0 to 100) in nanoseconds.
    pub fn latency_ns(&self, percentile: f64) -> f64 {
        if percentile >= 100.0 {
            return self.tally.latency.max() as f64;
        }
        self.tally.latency.value_at_quantile(percentile / 100.0) as f64
    }

    /// The description of the run (first line of the report).
    pub fn title(&self) -> String {
        let s = &self.spec;
        let shape = match s.rate {
            Some(rate) => format!("open loop at {} requests/s", thousands(rate as u64)),
            None => format!("closed loop, depth {}", s.depth),
        };
        format!(
            "{} {}-byte requests to {}, {} connection(s), {shape}, {} s, over {}",
            s.workload,
            s.size,
            s.target,
            s.connections,
            s.duration.as_secs_f64(),
            self.stack
        )
    }

    /// The terminal report: counts, rate and the percentile table.
    pub fn to_text(&self) -> String {
        let t = &self.tally;
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title());
        if let Some(h) = &self.held {
            let _ = writeln!(
                out,
                "  held        {} of {} idle connections established ({} failed) in {:.2} s: {:.0} connections/s",
                thousands(h.established),
                thousands(h.wanted),
                thousands(h.failed),
                h.setup.as_secs_f64(),
                h.per_second()
            );
        }
        if self.spec.workload == Workload::Bulk {
            let _ = writeln!(
                out,
                "  throughput  {:.3} Gbit/s ({} bytes written)",
                self.gbit_per_second(),
                thousands(t.bytes_written)
            );
            let _ = writeln!(out, "  errors      {}", t.errors);
            return out;
        }
        let _ = writeln!(
            out,
            "  requests    {} due, {} answered ({:.0}/s), {} errors, {} unanswered",
            thousands(t.requests),
            thousands(t.answered),
            self.requests_per_second(),
            thousands(t.errors),
            thousands(t.unanswered)
        );
        let mut line = String::from("  latency    ");
        for (p, name) in PERCENTILES {
            let _ = write!(line, " {name} {}  ", format_latency(self.latency_ns(p)));
        }
        let _ = writeln!(out, "{}", line.trim_end());
        out
    }

    /// Writes the latency histogram as a `.hgrm` percentile distribution (see [`write_hgrm`]).
    pub fn write_hgrm(&self, w: impl Write) -> io::Result<()> {
        write_hgrm(&self.tally.latency, w)
    }

    /// Machine-readable summary: one `name value` pair per line (latencies in µs).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "requests {}", self.tally.requests);
        let _ = writeln!(out, "answered {}", self.tally.answered);
        let _ = writeln!(out, "errors {}", self.tally.errors);
        let _ = writeln!(out, "unanswered {}", self.tally.unanswered);
        let _ = writeln!(out, "requests_per_second {:.1}", self.requests_per_second());
        let _ = writeln!(out, "gbit_per_second {:.4}", self.gbit_per_second());
        if let Some(h) = &self.held {
            let _ = writeln!(out, "held_wanted {}", h.wanted);
            let _ = writeln!(out, "held_established {}", h.established);
            let _ = writeln!(out, "held_failed {}", h.failed);
            let _ = writeln!(out, "held_setup_seconds {:.3}", h.setup.as_secs_f64());
            let _ = writeln!(out, "held_connections_per_second {:.1}", h.per_second());
        }
        for (p, name) in PERCENTILES {
            let name = name.replace('.', "_");
            let _ = writeln!(out, "{name}_us {:.2}", self.latency_ns(p) / 1e3);
        }
        out
    }

    /// (percentile, latency in µs) points for a chart.
    pub fn curve(&self) -> Vec<(f64, f64)> {
        self.tally
            .latency
            .iter_quantiles(5)
            .map(|v| {
                (
                    v.quantile_iterated_to() * 100.0,
                    v.value_iterated_to() as f64 / 1e3,
                )
            })
            .collect()
    }
}

/// Writes a histogram of nanoseconds as the HdrHistogram percentile distribution (values in
/// milliseconds, five ticks per half distance), the format `HistogramLogProcessor` and wrk2
/// print.
pub fn write_hgrm(h: &hdrhistogram::Histogram<u64>, mut w: impl Write) -> io::Result<()> {
    writeln!(
        w,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let value = v.value_iterated_to() as f64 / 1e6;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            writeln!(
                w,
                "{value:12.3} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            )?;
        } else {
            writeln!(w, "{value:12.3} {q:2.12} {total:10}")?;
        }
    }
    writeln!(
        w,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / 1e6,
        h.stdev() / 1e6
    )?;
    writeln!(
        w,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / 1e6,
        h.len()
    )?;
    writeln!(
        w,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values()
    )?;
    Ok(())
}

/// Reads a `.hgrm` file back as (percentile, latency in µs) points.
pub fn read_hgrm(path: &Path) -> io::Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path)?;
    let mut points = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || line.starts_with('#') {
            continue;
        }
        if let (Ok(ms), Ok(q)) = (fields[0].parse::<f64>(), fields[1].parse::<f64>()) {
            points.push((q * 100.0, ms * 1000.0));
        }
    }
    if points.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} holds no percentile distribution", path.display()),
        ));
    }
    Ok(points)
}

/// The x coordinate of a percentile on a "nines" axis: log10(1 / (1 - p)).
fn nines(percentile: f64) -> f64 {
    let q = (percentile / 100.0).min(0.999_999);
    (1.0 / (1.0 - q)).log10()
}

/// Why a chart could not be drawn (the SVG backend writes through `std::io`).
pub type ChartError = DrawingAreaErrorKind<io::Error>;

/// Draws latency by percentile for each `(label, points)` into an SVG file.
pub fn plot_svg(
    path: &Path,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), ChartError> {
    let max_nines = 5.0; // up to 99.999%
    let visible = || {
        series
            .iter()
            .flat_map(|(_, pts)| pts.iter())
            .filter(|(p, _)| nines(*p) <= max_nines)
            .map(|&(_, us)| us)
    };
    // A log axis: the median and the far tail differ by orders of magnitude.
    let y_max = visible().fold(1.0f64, f64::max) * 1.5;
    let y_min = visible().fold(f64::MAX, f64::min).clamp(0.1, y_max / 10.0) / 1.5;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .margin_right(40)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..max_nines, (y_min..y_max).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs, log scale)")
        .y_label_formatter(&|y| {
            if *y >= 10.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .x_labels(6)
        .x_label_formatter(&|x| match x.round() as i64 {
            0 => "0%".into(),
            1 => "90%".into(),
            2 => "99%".into(),
            3 => "99.9%".into(),
            4 => "99.99%".into(),
            _ => "99.999%".into(),
        })
        .draw()?;
    let colors = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
    ];
    for (i, (label, points)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|&(p, us)| (nines(p), us))
            .filter(|&(x, _)| x <= max_nines)
            .collect();
        chart
            .draw_series(LineSeries::new(line, color.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

/// How long to wait for outstanding answers after the measured period by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn report() -> Report {
        let mut tally = Tally::new();
        for us in 1..=1000u64 {
            tally.latency.record(us * 1000).unwrap();
        }
        tally.requests = 1000;
        tally.answered = 1000;
        Report {
            stack: "test".into(),
            spec: LoadSpec {
                workload: Workload::Echo,
                size: 64,
                connections: 1,
                depth: 1,
                rate: None,
                duration: Duration::from_secs(10),
                grace: DEFAULT_GRACE,
                target: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7),
                hold: 0,
            },
            tally,
            held: None,
        }
    }

    #[test]
    fn text_hgrm_and_svg() {
        let r = report();
        let text = r.to_text();
        assert!(text.contains("1,000 answered (100/s)"), "{text}");
        assert!(
            text.contains("p50 500.") && text.contains("max 1.00 ms"),
            "{text}"
        );
        let mut hgrm = Vec::new();
        r.write_hgrm(&mut hgrm).unwrap();
        let hgrm = String::from_utf8(hgrm).unwrap();
        assert!(hgrm.contains("Total count    =         1000"), "{hgrm}");
        let dir = std::env::temp_dir().join(format!("xdptcp-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.hgrm");
        std::fs::write(&path, &hgrm).unwrap();
        let points = read_hgrm(&path).unwrap();
        assert!((points.last().unwrap().1 - 1000.0).abs() < 2.0);
        let svg = dir.join("r.svg");
        plot_svg(
            &svg,
            "test",
            &[("a".into(), points.clone()), ("b".into(), r.curve())],
        )
        .unwrap();
        let drawn = std::fs::read_to_string(&svg).unwrap();
        assert!(
            drawn.starts_with("<svg") && drawn.contains("polyline"),
            "{}",
            &drawn[..200.min(drawn.len())]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
