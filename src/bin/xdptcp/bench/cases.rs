//! The workloads, each repeated and its metrics recorded: latency, small RPC, short
//! connections, bulk, sockperf, and the per-segment figures from criterion.

use super::facts::cycles_support;
use super::outputs::{criterion_median_ns, value};
use super::runs::{Ends, RunError};
use super::{s, workload, Bench, CONNECT_CONNECTIONS, DISCARD_PORT, HTTP_PORT, RPC_CONNECTIONS};

impl Bench<'_> {
    /// Runs `run` for every repetition and variant (the variants interleaved within each
    /// repetition, so drift of the machine hits them alike); `report` records a success's
    /// metrics and returns the line to print, a failure is recorded as such.
    pub(super) fn repeat<T>(
        &mut self,
        case: &'static str,
        variants: &[&'static str],
        mut run: impl FnMut(&mut Bench, &'static str, usize) -> Result<T, RunError>,
        mut report: impl FnMut(&mut Bench, &'static str, usize, T) -> String,
    ) {
        for rep in 1..=self.args.reps {
            for &variant in variants {
                match run(self, variant, rep) {
                    Ok(measured) => {
                        let line = report(self, variant, rep, measured);
                        self.note(case, variant, rep, &line);
                    }
                    Err(e) => self.fail(case, variant, rep, e),
                }
            }
        }
    }

    pub(super) fn latency(&mut self) {
        let secs = self.args.latency_seconds;
        let echo = workload("echo", "64", 1);
        self.repeat(
            "latency",
            &["xdptcp", "linux", "floor"],
            |b, variant, rep| {
                let hgrm = b.work.join(format!("latency-{variant}-{rep}.hgrm"));
                match variant {
                    "floor" => b.floor_ping(secs, &hgrm),
                    _ => b.echo_run(variant == "linux", &echo, secs, Some(&hgrm)),
                }
            },
            |b, variant, rep, m| {
                for (key, metric) in [
                    ("p50_us", "p50"),
                    ("p99_us", "p99"),
                    ("p99_9_us", "p99.9"),
                    ("max_us", "max"),
                ] {
                    if let Some(&v) = m.get(key) {
                        b.record("latency", variant, metric, rep, v);
                    }
                }
                format!(
                    "RTT p50 {:.2} µs  p99 {:.2}  p99.9 {:.2}  max {:.1}",
                    value(&m, "p50_us"),
                    value(&m, "p99_us"),
                    value(&m, "p99_9_us"),
                    value(&m, "max_us")
                )
            },
        );
        self.keep_median_latency_histograms();
    }

    /// Keeps the histogram of each latency variant's median repetition (by p50) for the
    /// chart, in the results directory.
    fn keep_median_latency_histograms(&mut self) {
        for variant in ["xdptcp", "linux", "floor"] {
            let reps: Vec<(usize, f64)> = self
                .samples
                .iter()
                .filter(|x| x.case == "latency" && x.variant == variant && x.metric == "p50")
                .map(|x| (x.rep, x.value))
                .collect();
            if reps.is_empty() {
                continue;
            }
            let mut sorted = reps.clone();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
            let median_rep = sorted[sorted.len() / 2].0;
            let from = self
                .work
                .join(format!("latency-{variant}-{median_rep}.hgrm"));
            let to = self.args.out.join(format!("latency-{variant}.hgrm"));
            if std::fs::copy(&from, &to).is_ok() {
                self.latency_hgrm.push((variant, to));
            }
        }
    }

    pub(super) fn rpc(&mut self) {
        let secs = self.args.seconds;
        let closed = workload("echo", "64", RPC_CONNECTIONS);
        self.repeat(
            "rpc",
            &["xdptcp", "linux"],
            |b, variant, _| b.echo_run(variant == "linux", &closed, secs, None),
            |b, variant, rep, m| {
                let rps = value(&m, "requests_per_second");
                b.record("rpc", variant, "requests/s", rep, rps);
                format!("{rps:.0} requests/s (closed loop)")
            },
        );
        let Some(peak) = self.stat("rpc", "xdptcp", "requests/s") else {
            return;
        };
        for (share, metric, rate_metric) in [
            (0.5, "p99 at 50%", "answered/s at 50%"),
            (0.9, "p99 at 90%", "answered/s at 90%"),
        ] {
            let rate = (peak.median * share).round();
            let mut open = workload("echo", "64", RPC_CONNECTIONS);
            open.extend([s("--rate"), rate.to_string()]);
            self.repeat(
                "rpc",
                &["xdptcp", "linux"],
                |b, variant, _| b.echo_run(variant == "linux", &open, secs, None),
                |b, variant, rep, m| {
                    let p99 = value(&m, "p99_us");
                    let answered = value(&m, "requests_per_second");
                    b.record("rpc", variant, metric, rep, p99);
                    b.record("rpc", variant, rate_metric, rep, answered);
                    format!(
                        "open loop {rate:.0}/s ({:.0}% of xdptcp's peak): p99 {p99:.1} µs, {answered:.0} answered/s",
                        share * 100.0
                    )
                },
            );
        }
    }

    pub(super) fn connect(&mut self) {
        let secs = self.args.seconds;
        let load = workload("connect", "64", CONNECT_CONNECTIONS);
        self.repeat(
            "connect",
            &["xdptcp", "linux"],
            |b, variant, _| {
                let ends = Ends::both(variant == "linux");
                b.server_run(ends, "http", HTTP_PORT, &load, secs, None)
            },
            |b, variant, rep, m| {
                let cps = value(&m, "requests_per_second");
                let p99 = value(&m, "p99_us");
                b.record("connect", variant, "connections/s", rep, cps);
                b.record("connect", variant, "p99", rep, p99);
                format!("{cps:.0} connections/s, p99 connect-to-response {p99:.1} µs")
            },
        );
    }

    pub(super) fn bulk(&mut self) {
        let secs = self.args.seconds;
        let load = workload("bulk", "64K", 1);
        self.repeat(
            "bulk",
            &["xdptcp", "linux-offloads-off", "linux-offloads-on", "floor"],
            |b, variant, _| match variant {
                "floor" => b.floor_blast(secs),
                _ => {
                    let ends = match variant {
                        "xdptcp" => Ends::Xdptcp,
                        _ => Ends::Linux {
                            offloads: variant == "linux-offloads-on",
                        },
                    };
                    b.server_run(ends, "discard", DISCARD_PORT, &load, secs, None)
                }
            },
            |b, variant, rep, m| {
                let gbit = value(&m, "gbit_per_second");
                b.record("bulk", variant, "Gbit/s", rep, gbit);
                format!("{gbit:.2} Gbit/s")
            },
        );
    }

    pub(super) fn sockperf(&mut self) {
        let secs = self.args.seconds;
        self.repeat(
            "sockperf",
            &["xdptcp", "linux"],
            |b, variant, _| b.sockperf_run(variant == "linux", secs),
            |b, variant, rep, (p50, p99)| {
                b.record("sockperf", variant, "p50", rep, p50);
                b.record("sockperf", variant, "p99", rep, p99);
                format!("sockperf latency p50 {p50:.3} µs  p99 {p99:.3} µs")
            },
        );
    }

    pub(super) fn segment(&mut self) {
        for (name, path) in [
            (
                "receive, in-order 1460 B, read in place",
                "tcp/receive_in_order_segment_direct_1460B",
            ),
            (
                "receive, in-order 1460 B, buffered",
                "tcp/receive_in_order_segment_1460B",
            ),
            ("send, in-order 1460 B", "tcp/send_in_order_segment_1460B"),
            (
                "64 B echo round trip, two whole stacks, frames and all",
                "stack/echo_round_trip_64B",
            ),
        ] {
            let file = self.args.criterion.join(path).join("new/estimates.json");
            let value = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| criterion_median_ns(&text));
            if value.is_none() {
                self.failures.push(format!(
                    "segment: no criterion result at {} (run `cargo bench --bench tcp` first)",
                    file.display()
                ));
            }
            println!(
                "  segment   {name:<42} {}",
                value.map_or("missing".into(), |v| format!("{v:.1} ns"))
            );
            self.segment.push((name.to_string(), value));
        }
        self.cycles_note = cycles_support();
        println!("  segment   cycles per request: {}", self.cycles_note);
    }
}
