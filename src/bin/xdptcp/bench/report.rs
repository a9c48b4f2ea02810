//! The results as markdown: the setup, a table of every workload's medians (min–max), the
//! targets and whether they are met, the failed runs.

use std::fmt::Write as _;
use std::time::Duration;

use super::facts::{kernel_release, machine, utc_date};
use super::loss::{goodput_metric, CONDITIONS, FLOWS, LATENCY_LOSS, LOSS_BYTES};
use super::{Bench, Case, CONNECT_CONNECTIONS, RPC_CONNECTIONS};

#[derive(Copy, Clone)]
pub(super) enum Unit {
    Micros,
    Count,
    Gbit,
    /// A plain number with two decimals (ratios, shares, MiB).
    Ratio,
}

impl Unit {
    fn bare(self, v: f64) -> String {
        match self {
            Unit::Micros if v >= 1000.0 => format!("{:.0}", v),
            Unit::Micros if v >= 100.0 => format!("{v:.0}"),
            Unit::Micros => format!("{v:.1}"),
            Unit::Count if v >= 1e6 => format!("{:.2}M", v / 1e6),
            Unit::Count if v >= 1e3 => format!("{:.0}k", v / 1e3),
            Unit::Count => format!("{v:.0}"),
            Unit::Gbit | Unit::Ratio => format!("{v:.2}"),
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Unit::Micros => format!("{} µs", self.bare(v)),
            Unit::Count => self.bare(v),
            Unit::Gbit => format!("{} Gbit/s", self.bare(v)),
            Unit::Ratio => self.bare(v),
        }
    }
}

impl Bench<'_> {
    /// A table cell: the median of a metric over the repetitions, with min–max if there were
    /// several; a dash if it was not measured.
    pub(super) fn cell(&self, case: &str, variant: &str, metric: &str, unit: Unit) -> String {
        match self.stat(case, variant, metric) {
            Some(st) if st.count > 1 => format!(
                "{} ({}–{})",
                unit.format(st.median),
                unit.bare(st.min),
                unit.bare(st.max)
            ),
            Some(st) => unit.format(st.median),
            None => "—".into(),
        }
    }

    /// The results as markdown: the setup, the table of workloads, the targets, the failed
    /// runs.
    pub(super) fn markdown(
        &self,
        command: &str,
        elapsed: Duration,
        profiles: &[(Case, String)],
    ) -> String {
        let mut md = String::new();
        self.setup(&mut md, command, elapsed);
        let _ = writeln!(md, "| Workload | Metric | xdptcp | Linux | AF_XDP floor |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        if self.selected(Case::Latency) {
            self.latency_rows(&mut md);
        }
        if self.selected(Case::Rpc) {
            self.rpc_rows(&mut md);
        }
        if self.selected(Case::Connect) {
            self.connect_rows(&mut md);
        }
        if self.selected(Case::Bulk) {
            self.bulk_rows(&mut md);
        }
        if self.selected(Case::Sockperf) {
            self.sockperf_rows(&mut md);
        }
        if self.selected(Case::Loss) {
            self.loss_rows(&mut md);
        }
        if self.selected(Case::Flood) {
            self.flood_rows(&mut md);
        }
        if self.selected(Case::Segment) {
            self.segment_rows(&mut md);
        }
        self.targets_table(&mut md, profiles);
        if !self.failures.is_empty() {
            let _ = writeln!(md, "\nFailed runs:\n");
            for f in &self.failures {
                let _ = writeln!(md, "- {f}");
            }
        }
        md
    }

    /// The setup: when, by what command, how long; the machine, the kernel, the lab, the
    /// datapath modes, the cores.
    fn setup(&self, md: &mut String, command: &str, elapsed: Duration) {
        let _ = writeln!(
            md,
            "Measured {} by `{command}` in {:.1} min ({} repetitions; latency runs {} s, others {} s each). \
             Cells: median (min–max).\n",
            utc_date(),
            elapsed.as_secs_f64() / 60.0,
            self.args.reps,
            self.args.latency_seconds,
            self.args.seconds
        );
        let _ = writeln!(md, "- Machine: {}", machine());
        let _ = writeln!(md, "- Kernel: Linux {}", kernel_release());
        let _ = writeln!(
            md,
            "- Lab: two network namespaces joined by one veth pair (driver veth), MTU 1500; 1 queue"
        );
        if let Some(m) = &self.facts.xdptcp_modes {
            let _ = writeln!(md, "- xdptcp: {m}");
        }
        if let Some(m) = &self.facts.floor_modes {
            let _ = writeln!(md, "- AF_XDP floor (`xdptcp floor`, spinning): {m}");
        }
        let _ = writeln!(
            md,
            "- Linux: `xdptcp serve/load --stack kernel` (epoll, TCP_NODELAY), TSO/GSO/GRO on unless stated"
        );
        if self.selected(Case::Loss) {
            let minutes = |m: Option<f64>| m.map_or("?".to_string(), |m| format!("{m:.1}"));
            let _ = writeln!(
                md,
                "- Loss case: a routed lab of its own (stack, router, peer); `lab impair` per run \
                 (nftables loss/duplication on the router, TSO/GSO/GRO off along the path, RPS on); \
                 goodput = bytes / (last − first byte written by the receiving program), \
                 SHA-256 checked every run; its bulk runs took {} min, its latency runs {} min",
                minutes(self.facts.loss_bulk_minutes),
                minutes(self.facts.loss_latency_minutes)
            );
        }
        let _ = writeln!(
            md,
            "- Server on core {}, load generator on core {}\n",
            self.args.server_core, self.args.load_core
        );
    }

    /// The latency rows: RTT percentiles of the 64 B echo on one connection.
    fn latency_rows(&self, md: &mut String) {
        let us = Unit::Micros;
        let title = format!(
            "Latency: 64 B echo, 1 connection, closed loop, {} s",
            self.args.latency_seconds
        );
        for (i, m) in ["p50", "p99", "p99.9", "max"].iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | RTT {m} | {} | {} | {} |",
                if i == 0 { title.as_str() } else { "" },
                self.cell("latency", "xdptcp", m, us),
                self.cell("latency", "linux", m, us),
                self.cell("latency", "floor", m, us)
            );
        }
    }

    /// The small-RPC rows: closed-loop requests/s, then p99 and answers at 50% and 90% of xdptcp's peak.
    fn rpc_rows(&self, md: &mut String) {
        let us = Unit::Micros;
        let peak = self.stat("rpc", "xdptcp", "requests/s");
        let _ = writeln!(
            md,
            "| Small RPC: {RPC_CONNECTIONS} connections, 64 B echo, one server core | requests/s (closed loop) | {} | {} | |",
            self.cell("rpc", "xdptcp", "requests/s", Unit::Count),
            self.cell("rpc", "linux", "requests/s", Unit::Count)
        );
        for (share, metric, rate_metric) in [
            (0.5, "p99 at 50%", "answered/s at 50%"),
            (0.9, "p99 at 90%", "answered/s at 90%"),
        ] {
            let rate = peak.map_or(String::from("?"), |p| {
                Unit::Count.format((p.median * share).round())
            });
            let _ = writeln!(
                md,
                "| | p99, open loop at {rate}/s ({:.0}% of xdptcp's peak); answered/s | {}; {} | {}; {} | |",
                share * 100.0,
                self.cell("rpc", "xdptcp", metric, us),
                self.cell("rpc", "xdptcp", rate_metric, Unit::Count),
                self.cell("rpc", "linux", metric, us),
                self.cell("rpc", "linux", rate_metric, Unit::Count)
            );
        }
    }

    /// The short-connection rows: connections/s and p99 connect-to-response.
    fn connect_rows(&self, md: &mut String) {
        let us = Unit::Micros;
        let _ = writeln!(
            md,
            "| Short connections: connect, 64 B request, response, close ({CONNECT_CONNECTIONS} at a time) | connections/s | {} | {} | |",
            self.cell("connect", "xdptcp", "connections/s", Unit::Count),
            self.cell("connect", "linux", "connections/s", Unit::Count)
        );
        let _ = writeln!(
            md,
            "| | p99 connect-to-response | {} | {} | |",
            self.cell("connect", "xdptcp", "p99", us),
            self.cell("connect", "linux", "p99", us)
        );
    }

    /// The bulk rows: Gbit/s of one connection, Linux with offloads off and on.
    fn bulk_rows(&self, md: &mut String) {
        let g = Unit::Gbit;
        let _ = writeln!(
            md,
            "| Bulk: 1 connection, MTU 1500 | Gbit/s (Linux: offloads off) | {} | {} | {} |",
            self.cell("bulk", "xdptcp", "Gbit/s", g),
            self.cell("bulk", "linux-offloads-off", "Gbit/s", g),
            self.cell("bulk", "floor", "Gbit/s", g)
        );
        let _ = writeln!(
            md,
            "| | Gbit/s (Linux: TSO/GSO/GRO on) | | {} | |",
            self.cell("bulk", "linux-offloads-on", "Gbit/s", g)
        );
    }

    /// The sockperf rows: the client's half round trips against both servers.
    fn sockperf_rows(&self, md: &mut String) {
        let us = Unit::Micros;
        for (i, m) in ["p50", "p99"].iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | sockperf latency {m} (half round trip) | {} | {} | |",
                if i == 0 {
                    "sockperf ping-pong --tcp, 64 B (Debian's client; server: `xdptcp serve --app sockperf` / `sockperf server`)"
                } else {
                    ""
                },
                self.cell("sockperf", "xdptcp", m, us),
                self.cell("sockperf", "linux", m, us)
            );
        }
    }

    /// The loss rows: goodput per direction and condition (with xdptcp / Linux), then echo
    /// latency at 0.2% loss.
    fn loss_rows(&self, md: &mut String) {
        let g = Unit::Gbit;
        let mut first = true;
        for flow in FLOWS {
            for (c, condition) in CONDITIONS.iter().enumerate() {
                let metric = goodput_metric(flow, c);
                let ratio = match (
                    self.stat("loss", "xdptcp", metric),
                    self.stat("loss", "linux", metric),
                ) {
                    (Some(x), Some(y)) if y.median > 0.0 => {
                        format!("; {:.2}× Linux", x.median / y.median)
                    }
                    _ => String::new(),
                };
                let title = if first {
                    format!(
                        "Loss: {} MiB bulk through the lab's impaired router (both directions impaired), Linux `ncat` beyond it; the stack's end xdptcp `nc` or Linux `ncat`",
                        LOSS_BYTES >> 20
                    )
                } else {
                    String::new()
                };
                first = false;
                let _ = writeln!(
                    md,
                    "| {title} | {}, {}: goodput | {}{ratio} | {} | |",
                    flow.label(),
                    condition.label,
                    self.cell("loss", "xdptcp", metric, g),
                    self.cell("loss", "linux", metric, g)
                );
            }
        }
        let us = Unit::Micros;
        for (i, m) in ["p50", "p99", "p99.9"].iter().enumerate() {
            let metric = format!("rtt {m}");
            let _ = writeln!(
                md,
                "| {} | RTT {m} | {} | {} | |",
                if i == 0 {
                    format!(
                        "Latency under {}% loss each way: 64 B echo, 1 connection, closed loop, {} s; server xdptcp or Linux, client Linux beyond the router",
                        LATENCY_LOSS * 100.0,
                        self.args.latency_seconds
                    )
                } else {
                    String::new()
                },
                self.cell("loss", "xdptcp", &metric, us),
                self.cell("loss", "linux", &metric, us)
            );
        }
        let _ = writeln!(
            md,
            "| | round trips/s | {} | {} | |",
            self.cell("loss", "xdptcp", "rtt requests/s", Unit::Count),
            self.cell("loss", "linux", "rtt requests/s", Unit::Count)
        );
    }

    /// The per-segment rows: the criterion medians and the cycles note.
    /// The flood rows: the established connection's p99 quiet and flooded, the new
    /// connections, memory, the flood's rate and who answered it.
    fn flood_rows(&self, md: &mut String) {
        let (us, n) = (Unit::Micros, Unit::Count);
        let rows: [(&str, &str, Unit); 9] = [
            ("quiet p99", "established 64 B echo p99, quiet", us),
            ("flood p99", "established 64 B echo p99, flooded", us),
            ("p99 flood/quiet", "p99 flooded / quiet (×)", Unit::Ratio),
            (
                "new connections",
                "new connections made during the flood",
                n,
            ),
            ("completed %", "of them echoed exactly (%)", Unit::Ratio),
            (
                "RSS growth MiB",
                "server resident memory growth (MiB)",
                Unit::Ratio,
            ),
            ("SYNs/s", "SYNs/s the peer sent", n),
            ("XDP cookies", "SYN cookies sent by the XDP program", n),
            ("stack cookies", "SYN cookies sent by the stack", n),
        ];
        for (i, (metric, label, unit)) in rows.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {label} | {} | {} | |",
                if i == 0 {
                    "SYN flood: `hping3 -S --flood --rand-source` from the peer; `xdptcp probe` beside it (1 connection, 1,000 echoes/s; new connections one after another, each echo checked); server xdptcp or Linux (`tcp_syncookies=1`)"
                } else {
                    ""
                },
                self.cell("flood", "xdptcp", metric, *unit),
                self.cell("flood", "linux", metric, *unit)
            );
        }
    }

    fn segment_rows(&self, md: &mut String) {
        for (i, (name, value)) in self.segment.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {} | {name} | {} | | |",
                if i == 0 {
                    "Per-segment cost (criterion, median)"
                } else {
                    ""
                },
                value.map_or("missing".into(), |v| format!("{v:.0} ns"))
            );
        }
        let _ = writeln!(md, "| | cycles per request | {} | | |", self.cycles_note);
    }

    /// The targets: measured, goal, met (a link to the profile where not).
    fn targets_table(&self, md: &mut String, profiles: &[(Case, String)]) {
        let _ = writeln!(md, "\n| Target | Measured | Goal | Met |");
        let _ = writeln!(md, "|---|---|---|---|");
        for t in self.targets() {
            let measured = t.ratio.map_or("—".to_string(), |r| t.unit.format(r));
            let goal = format!(
                "{} {}",
                if t.at_most { "≤" } else { "≥" },
                t.unit.format(t.bound)
            );
            let met = match t.met() {
                Some(true) => "yes".to_string(),
                Some(false) => {
                    let profile = profiles
                        .iter()
                        .find(|(c, _)| *c == t.case)
                        .map(|(_, file)| format!(" — [profile]({file})"))
                        .unwrap_or_default();
                    format!("**no**{profile}")
                }
                None => "not measured".to_string(),
            };
            let _ = writeln!(md, "| {} | {measured} | {goal} | {met} |", t.what);
        }
    }
}
