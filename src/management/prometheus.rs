//! The counters in the Prometheus text exposition format (version 0.0.4, "Exposition
//! formats" of the Prometheus documentation): per metric family a `# HELP` and a `# TYPE`
//! line, then one sample per worker labelled with its `queue`; counters end in `_total`.

use std::fmt::Write as _;

use super::{MetricKind, StatsReport, DROP_REASONS, WORKER_METRICS};
use crate::tcp::State;

/// The `Content-Type` of what [`render`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn kind(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
    }
}

/// Writes one family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, help: &str, metric_kind: MetricKind) {
    let _ = writeln!(out, "# HELP xdptcp_{name} {help}");
    let _ = writeln!(out, "# TYPE xdptcp_{name} {}", kind(metric_kind));
}

/// Every counter of `report` in the text format.
pub fn render(report: &StatsReport) -> String {
    let mut out = String::new();
    let r = &report.runtime;
    family(
        &mut out,
        "info",
        "The running stack: interface, address and modes (the value is always 1).",
        MetricKind::Gauge,
    );
    let _ = writeln!(
        out,
        "xdptcp_info{{iface=\"{}\",ipv4=\"{}\",xdp_mode=\"{}\",bind_mode=\"{}\",idle=\"{}\"}} 1",
        escape(&r.iface),
        r.ipv4,
        escape(&r.xdp_mode),
        escape(&r.bind_mode),
        escape(&r.idle)
    );
    family(
        &mut out,
        "uptime_seconds",
        "Seconds since the runtime started.",
        MetricKind::Gauge,
    );
    let _ = writeln!(
        out,
        "xdptcp_uptime_seconds {}.{:03}",
        r.uptime_ms / 1000,
        r.uptime_ms % 1000
    );
    for metric in WORKER_METRICS {
        family(&mut out, metric.name, metric.help, metric.kind);
        for w in &report.workers {
            let _ = writeln!(
                out,
                "xdptcp_{}{{queue=\"{}\"}} {}",
                metric.name,
                w.stats.queue,
                (metric.value)(w)
            );
        }
    }
    family(
        &mut out,
        "dropped_frames_total",
        "Frames the stack dropped, by reason (each dropped frame under exactly one).",
        MetricKind::Counter,
    );
    for w in &report.workers {
        for reason in DROP_REASONS {
            let _ = writeln!(
                out,
                "xdptcp_dropped_frames_total{{queue=\"{}\",reason=\"{}\"}} {}",
                w.stats.queue,
                reason.reason,
                (reason.value)(&w.stats.stack)
            );
        }
    }
    family(
        &mut out,
        "tcp_connections",
        "Connections held, by TCP state (RFC 9293).",
        MetricKind::Gauge,
    );
    for w in &report.workers {
        for state in State::ALL {
            let _ = writeln!(
                out,
                "xdptcp_tcp_connections{{queue=\"{}\",state=\"{}\"}} {}",
                w.stats.queue,
                state.name(),
                w.stats.states.get(state)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::{RuntimeSummary, WorkerReport};

    fn report() -> StatsReport {
        let mut worker = WorkerReport::default();
        worker.stats.queue = 3;
        worker.stats.stack.rx_frames = 42;
        worker.stats.stack.drop_no_connection = 2;
        worker.stats.states.0[State::TimeWait.index()] = 5;
        StatsReport {
            runtime: RuntimeSummary {
                iface: "xdp\"0".into(),
                ipv4: "10.77.1.2".parse().unwrap(),
                queues: 1,
                xdp_mode: "generic (SKB)".into(),
                bind_mode: "copy".into(),
                idle: "poll".into(),
                pid: 1,
                uptime_ms: 12_345,
            },
            workers: vec![worker],
        }
    }

    #[test]
    fn each_family_has_help_and_type_then_samples_labelled_by_queue() {
        let text = render(&report());
        assert!(text.contains(
            "# HELP xdptcp_rx_frames_total Frames the stack received from its AF_XDP socket.\n\
             # TYPE xdptcp_rx_frames_total counter\n\
             xdptcp_rx_frames_total{queue=\"3\"} 42\n"
        ));
        assert!(text.contains("# TYPE xdptcp_umem_tx_frames_free gauge\n"));
        assert!(
            text.contains("xdptcp_dropped_frames_total{queue=\"3\",reason=\"no_connection\"} 2\n")
        );
        assert!(text.contains("xdptcp_tcp_connections{queue=\"3\",state=\"time-wait\"} 5\n"));
        assert!(text.contains("xdptcp_uptime_seconds 12.345\n"));
        assert!(
            text.contains("xdptcp_info{iface=\"xdp\\\"0\","),
            "label values are escaped"
        );
        // Every sample line belongs to the family declared last before it.
        let mut declared = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                declared = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, declared, "{line}");
            }
        }
    }
}
