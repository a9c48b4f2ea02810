//! The targets: ratios of xdptcp to the reference measured in the same run, and their bounds.

use super::loss::{goodput_metric, Flow, CONDITIONS, FLOWS, LATENCY_LOSS};
use super::{s, Bench, Case};

/// A target: `ratio` (xdptcp over the reference) must be at most or at least `bound`.
#[derive(Clone, Debug)]
pub(super) struct Target {
    pub(super) case: Case,
    pub(super) what: String,
    pub(super) ratio: Option<f64>,
    pub(super) bound: f64,
    pub(super) at_most: bool,
    pub(super) unit: TargetUnit,
}

/// What a target's measured value and bound are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum TargetUnit {
    /// A ratio of two measurements of this run (shown as ×).
    Ratio,
    Nanos,
    Percent,
    Mebibytes,
    Count,
}

impl TargetUnit {
    pub(super) fn format(self, v: f64) -> String {
        match self {
            TargetUnit::Ratio => format!("{v:.2}×"),
            TargetUnit::Nanos => format!("{v:.0} ns"),
            TargetUnit::Percent => format!("{v:.1}%"),
            TargetUnit::Mebibytes => format!("{v:.1} MiB"),
            TargetUnit::Count => format!("{v:.0}"),
        }
    }
}

impl Target {
    pub(super) fn met(&self) -> Option<bool> {
        let r = self.ratio?;
        Some(if self.at_most {
            r <= self.bound
        } else {
            r >= self.bound
        })
    }
}

impl Bench<'_> {
    pub(super) fn targets(&self) -> Vec<Target> {
        let ratio = |case: &str, a: &str, b: &str, metric: &str| -> Option<f64> {
            let x = self.stat(case, a, metric)?.median;
            let y = self.stat(case, b, metric)?.median;
            (y > 0.0).then(|| x / y)
        };
        let mut t = vec![
            Target {
                case: Case::Latency,
                what: s("latency: RTT p50, xdptcp / Linux"),
                ratio: ratio("latency", "xdptcp", "linux", "p50"),
                bound: 0.4,
                at_most: true,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p99.9, xdptcp / Linux"),
                ratio: ratio("latency", "xdptcp", "linux", "p99.9"),
                bound: 0.5,
                at_most: true,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p50, xdptcp / AF_XDP floor"),
                ratio: ratio("latency", "xdptcp", "floor", "p50"),
                bound: 1.5,
                at_most: true,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Rpc,
                what: s("small RPC: requests/s, xdptcp / Linux"),
                ratio: ratio("rpc", "xdptcp", "linux", "requests/s"),
                bound: 3.0,
                at_most: false,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Connect,
                what: s("short connections: connections/s, xdptcp / Linux"),
                ratio: ratio("connect", "xdptcp", "linux", "connections/s"),
                bound: 5.0,
                at_most: false,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Bulk,
                what: s("bulk: Gbit/s, xdptcp / Linux with offloads off"),
                ratio: ratio("bulk", "xdptcp", "linux-offloads-off", "Gbit/s"),
                bound: 1.0,
                at_most: false,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Sockperf,
                what: s("sockperf: p50, xdptcp server / Linux server"),
                ratio: ratio("sockperf", "xdptcp", "linux", "p50"),
                bound: 0.75,
                at_most: true,
                unit: TargetUnit::Ratio,
            },
        ];
        let clean = goodput_metric(Flow::ToStack, 0);
        t.push(Target {
            case: Case::Loss,
            what: s("loss lab, clean: goodput peer → stack, Linux → xdptcp / Linux → Linux"),
            ratio: ratio("loss", "xdptcp", "linux", clean),
            bound: 1.0,
            at_most: false,
            unit: TargetUnit::Ratio,
        });
        for (c, condition) in CONDITIONS.iter().enumerate().skip(1).take(2) {
            for flow in FLOWS {
                t.push(Target {
                    case: Case::Loss,
                    what: format!(
                        "loss lab, {}: goodput {}, xdptcp / Linux",
                        condition.label,
                        flow.label()
                    ),
                    ratio: ratio("loss", "xdptcp", "linux", goodput_metric(flow, c)),
                    bound: 1.0,
                    at_most: false,
                    unit: TargetUnit::Ratio,
                });
            }
        }
        for m in ["rtt p99", "rtt p99.9"] {
            t.push(Target {
                case: Case::Loss,
                what: format!(
                    "loss lab, {}% loss: echo {}, xdptcp server / Linux server",
                    LATENCY_LOSS * 100.0,
                    m.trim_start_matches("rtt ")
                ),
                ratio: ratio("loss", "xdptcp", "linux", m),
                bound: 1.0,
                at_most: true,
                unit: TargetUnit::Ratio,
            });
        }
        let xdptcp_flood = |metric: &str| Some(self.stat("flood", "xdptcp", metric)?.median);
        t.extend([
            Target {
                case: Case::Flood,
                what: s("SYN flood: established echo p99 flooded / quiet, xdptcp"),
                ratio: xdptcp_flood("p99 flood/quiet"),
                bound: 1.5,
                at_most: true,
                unit: TargetUnit::Ratio,
            },
            Target {
                case: Case::Flood,
                what: s("SYN flood: new connections echoed exactly, xdptcp"),
                ratio: xdptcp_flood("completed %"),
                bound: 99.0,
                at_most: false,
                unit: TargetUnit::Percent,
            },
            Target {
                case: Case::Flood,
                what: s("SYN flood: server resident memory growth, xdptcp"),
                ratio: xdptcp_flood("RSS growth MiB"),
                bound: 16.0,
                at_most: true,
                unit: TargetUnit::Mebibytes,
            },
            Target {
                case: Case::Flood,
                what: s("SYN flood: SYN cookies sent by the XDP program"),
                ratio: xdptcp_flood("XDP cookies"),
                bound: 1.0,
                at_most: false,
                unit: TargetUnit::Count,
            },
        ]);
        for (name, value) in &self.segment {
            if name.starts_with("receive, in-order 1460 B, read in place")
                || name.starts_with("send")
            {
                t.push(Target {
                    case: Case::Segment,
                    what: format!("TCP path per segment ({name}), ns"),
                    ratio: *value,
                    bound: 150.0,
                    at_most: true,
                    unit: TargetUnit::Nanos,
                });
            }
        }
        t.retain(|x| self.selected(x.case));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_in_the_right_direction() {
        let t = |ratio, bound, at_most| Target {
            case: Case::Rpc,
            what: String::new(),
            ratio: Some(ratio),
            bound,
            at_most,
            unit: TargetUnit::Ratio,
        };
        assert_eq!(t(0.3, 0.4, true).met(), Some(true));
        assert_eq!(t(0.5, 0.4, true).met(), Some(false));
        assert_eq!(t(3.5, 3.0, false).met(), Some(true));
        assert_eq!(t(2.0, 3.0, false).met(), Some(false));
        assert_eq!(TargetUnit::Percent.format(99.0), "99.0%");
        assert_eq!(TargetUnit::Mebibytes.format(1.41), "1.4 MiB");
        assert_eq!(TargetUnit::Nanos.format(150.0), "150 ns");
    }
}
