//! `xdptcp ss`: a running server's connections as `ss -tni` shows a kernel's, asked over its
//! management socket; each worker lists its part between two batches, at most `--limit`
//! rows, and says how many more matched.

use std::fmt::Write as _;

use clap::Args;
use xdptcp::management::{self, Answer, ConnectionsReport, Request, MAX_ROWS_PER_WORKER};
use xdptcp::stack::{ConnectionFilter, ConnectionInfo};
use xdptcp::tcp::State;

use crate::stats::{ObserveError, SocketArgs};

#[derive(Args)]
pub struct SsArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// Only connections in this state (established, syn-recv, fin-wait-1, time-wait, ...).
    #[arg(long)]
    state: Option<State>,
    /// Only connections with this local or remote port.
    #[arg(long)]
    port: Option<u16>,
    /// At most this many rows per worker (at most 1024).
    #[arg(long, default_value_t = MAX_ROWS_PER_WORKER)]
    limit: usize,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

/// The state as ss(8) writes it in its State column.
fn ss_state(state: State) -> &'static str {
    match state {
        State::Closed => "UNCONN",
        State::Listen => "LISTEN",
        State::SynSent => "SYN-SENT",
        State::SynReceived => "SYN-RECV",
        State::Established => "ESTAB",
        State::FinWait1 => "FIN-WAIT-1",
        State::FinWait2 => "FIN-WAIT-2",
        State::CloseWait => "CLOSE-WAIT",
        State::Closing => "CLOSING",
        State::LastAck => "LAST-ACK",
        State::TimeWait => "TIME-WAIT",
    }
}

/// Milliseconds with three decimals, as ss writes rtt.
fn ms(micros: u64) -> String {
    format!("{}.{:03}", micros / 1000, micros % 1000)
}

/// The details line of a connection, in ss's `-i` words: cwnd and ssthresh in segments
/// (ssthresh left out while it is still "infinite", as ss does), rtt as srtt/rttvar.
fn details(queue: u32, c: &ConnectionInfo) -> String {
    let mss = u32::from(c.mss.max(1));
    let mut line = format!(" {}", c.congestion);
    let _ = write!(line, " rto:{}", c.rto_us / 1000);
    if let Some(srtt) = c.srtt_us {
        let _ = write!(line, " rtt:{}/{}", ms(srtt), ms(c.rttvar_us));
    }
    let _ = write!(line, " mss:{} cwnd:{}", c.mss, c.cwnd.div_ceil(mss));
    if c.ssthresh < u32::MAX / 2 {
        let _ = write!(line, " ssthresh:{}", c.ssthresh / mss);
    }
    let s = &c.stats;
    let _ = write!(
        line,
        " bytes_sent:{} bytes_retrans:{} bytes_acked:{} bytes_received:{} segs_out:{} segs_in:{} \
         retrans:{} rtos:{} snd_wnd:{} queue:{}",
        s.bytes_out,
        s.retransmitted_bytes,
        s.bytes_acked,
        s.bytes_in,
        s.segments_out,
        s.segments_in,
        s.retransmitted_segments,
        s.timeouts,
        c.send_window,
        queue
    );
    line
}

/// The listing as `ss -tni` prints it: a header, then each connection on a line and its
/// details on the next; a last line counts what was listed and what was left off.
pub fn format_listing(report: &ConnectionsReport) -> String {
    let rows: Vec<(u32, &ConnectionInfo)> = report
        .workers
        .iter()
        .flat_map(|w| w.rows.iter().map(move |r| (w.queue, r)))
        .collect();
    let addr_width = rows
        .iter()
        .flat_map(|(_, r)| [r.local.to_string().len(), r.remote.to_string().len()])
        .chain([18])
        .max()
        .unwrap_or(18);
    let mut out = format!(
        "{:<11}{:>7} {:>7} {:<w$} {:<w$}\n",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local Address:Port",
        "Peer Address:Port",
        w = addr_width
    );
    for (queue, r) in &rows {
        let _ = writeln!(
            out,
            "{:<11}{:>7} {:>7} {:<w$} {:<w$}\n\t{}",
            ss_state(r.state),
            r.recv_queue,
            r.send_queue,
            r.local.to_string(),
            r.remote.to_string(),
            details(*queue, r).trim_start(),
            w = addr_width
        );
    }
    let left_off: usize = report.workers.iter().map(|w| w.left_off).sum();
    let _ = write!(out, "{} connection(s)", rows.len());
    if left_off > 0 {
        let _ = write!(
            out,
            "; {left_off} more matched and were left off (at most {} per worker: --limit, \
             --state, --port)",
            report
                .workers
                .iter()
                .map(|w| w.rows.len())
                .max()
                .unwrap_or(0)
        );
    }
    if report.workers_missing > 0 {
        let _ = write!(
            out,
            "; {} worker(s) did not answer in time",
            report.workers_missing
        );
    }
    out.push('\n');
    // The padded address columns leave trailing blanks on the last column.
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

pub fn run(args: &SsArgs) -> Result<(), ObserveError> {
    let request = Request::Connections {
        filter: ConnectionFilter {
            state: args.state,
            port: args.port,
        },
        limit: args.limit,
    };
    let Answer::Connections(report) = management::request(&args.socket.socket, &request)? else {
        return Err(ObserveError::UnexpectedAnswer);
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", format_listing(&report));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptcp::management::RuntimeSummary;
    use xdptcp::runtime::ConnectionListing;
    use xdptcp::tcp::congestion::Algorithm;
    use xdptcp::tcp::ConnStats;

    fn connection() -> ConnectionInfo {
        ConnectionInfo {
            local: "10.77.1.2:7".parse().unwrap(),
            remote: "10.77.2.2:45678".parse().unwrap(),
            state: State::Established,
            srtt_us: Some(512),
            rttvar_us: 256,
            rto_us: 201_000,
            mss: 1460,
            cwnd: 14600,
            ssthresh: u32::MAX,
            send_window: 64240,
            send_queue: 3,
            recv_queue: 0,
            congestion: Algorithm::Cubic,
            stats: ConnStats {
                bytes_out: 9,
                bytes_acked: 6,
                bytes_in: 9,
                segments_out: 5,
                segments_in: 7,
                ..ConnStats::default()
            },
        }
    }

    fn report(left_off: usize) -> ConnectionsReport {
        ConnectionsReport {
            runtime: RuntimeSummary {
                iface: "xdp0".into(),
                ipv4: "10.77.1.2".parse().unwrap(),
                queues: 1,
                xdp_mode: "generic".into(),
                bind_mode: "copy".into(),
                idle: "poll".into(),
                pid: 1,
                uptime_ms: 1,
            },
            workers: vec![ConnectionListing {
                queue: 0,
                rows: vec![connection()],
                left_off,
            }],
            workers_missing: 0,
        }
    }

    #[test]
    fn a_connection_reads_as_ss_tni_prints_one() {
        let text = format_listing(&report(0));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "State",
                "Recv-Q",
                "Send-Q",
                "Local",
                "Address:Port",
                "Peer",
                "Address:Port"
            ]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["ESTAB", "0", "3", "10.77.1.2:7", "10.77.2.2:45678"]
        );
        assert_eq!(
            lines[2],
            "\tcubic rto:201 rtt:0.512/0.256 mss:1460 cwnd:10 bytes_sent:9 bytes_retrans:0 \
             bytes_acked:6 bytes_received:9 segs_out:5 segs_in:7 retrans:0 rtos:0 \
             snd_wnd:64240 queue:0"
        );
        assert_eq!(lines[3], "1 connection(s)");
    }

    #[test]
    fn rows_left_off_are_counted_and_ssthresh_shown_once_set() {
        let mut r = report(7);
        r.workers[0].rows[0].ssthresh = 7300;
        let text = format_listing(&r);
        assert!(text.contains(" cwnd:10 ssthresh:5 "), "{text}");
        assert!(
            text.ends_with(
                "1 connection(s); 7 more matched and were left off (at most 1 per worker: \
                 --limit, --state, --port)\n"
            ),
            "{text}"
        );
    }
}
