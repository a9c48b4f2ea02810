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
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p99.9, xdptcp / Linux"),
                ratio: ratio("latency", "xdptcp", "linux", "p99.9"),
                bound: 0.5,
                at_most: true,
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p50, xdptcp / AF_XDP floor"),
                ratio: ratio("latency", "xdptcp", "floor", "p50"),
                bound: 1.5,
                at_most: true,
            },
            Target {
                case: Case::Rpc,
                what: s("small RPC: requests/s, xdptcp / Linux"),
                ratio: ratio("rpc", "xdptcp", "linux", "requests/s"),
                bound: 3.0,
                at_most: false,
            },
            Target {
                case: Case::Connect,
                what: s("short connections: connections/s, xdptcp / Linux"),
                ratio: ratio("connect", "xdptcp", "linux", "connections/s"),
                bound: 5.0,
                at_most: false,
            },
            Target {
                case: Case::Bulk,
                what: s("bulk: Gbit/s, xdptcp / Linux with offloads off"),
                ratio: ratio("bulk", "xdptcp", "linux-offloads-off", "Gbit/s"),
                bound: 1.0,
                at_most: false,
            },
            Target {
                case: Case::Sockperf,
                what: s("sockperf: p50, xdptcp server / Linux server"),
                ratio: ratio("sockperf", "xdptcp", "linux", "p50"),
                bound: 0.75,
                at_most: true,
            },
        ];
        let clean = goodput_metric(Flow::ToStack, 0);
        t.push(Target {
            case: Case::Loss,
            what: s("loss lab, clean: goodput peer → stack, Linux → xdptcp / Linux → Linux"),
            ratio: ratio("loss", "xdptcp", "linux", clean),
            bound: 1.0,
            at_most: false,
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
            });
        }
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
        };
        assert_eq!(t(0.3, 0.4, true).met(), Some(true));
        assert_eq!(t(0.5, 0.4, true).met(), Some(false));
        assert_eq!(t(3.5, 3.0, false).met(), Some(true));
        assert_eq!(t(2.0, 3.0, false).met(), Some(false));
    }
}
