//! `xdptcp stats`: a running server's counters, per worker and in total, asked over its
//! management socket; `--watch` refreshes them as watch(1) does, `--json` prints the answer.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use xdptcp::management::{
    self, Answer, ClientError, Request, StatsReport, WorkerReport, DROP_REASONS, WORKER_METRICS,
};
use xdptcp::tcp::State;

/// Why `xdptcp stats` (or `ss`) failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the management socket answered something else than was asked")]
    UnexpectedAnswer,
    #[error("--watch: must be a number of seconds from 0.1 to 86400, got {0}")]
    BadInterval(f64),
    #[error("writing the answer as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Where the management socket is.
#[derive(Args, Clone)]
pub struct SocketArgs {
    /// The management socket of the running `xdptcp serve`.
    #[arg(long, default_value = management::DEFAULT_SOCKET_PATH)]
    pub socket: PathBuf,
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// Refresh every SECS seconds (default 2) until interrupted, as watch(1).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    watch: Option<f64>,
    /// Print the answer as JSON (one document; with --watch one a line).
    #[arg(long)]
    json: bool,
}

/// `12.3 s`, `4 min 5 s`, `2 h 3 min`.
fn uptime(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{}.{} s", secs, (ms % 1000) / 100),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs / 60) % 60),
    }
}

/// The table of `xdptcp stats`: a column per worker (queue) and the total; drop reasons
/// and connection states only where a worker has a non-zero count.
pub fn format_report(report: &StatsReport) -> String {
    let r = &report.runtime;
    let mut out = format!(
        "xdptcp on {} ({}): {} queue(s), XDP {}, AF_XDP {} mode, idle {}; pid {}, up {}\n",
        r.iface,
        r.ipv4,
        r.queues,
        r.xdp_mode,
        r.bind_mode,
        r.idle,
        r.pid,
        uptime(r.uptime_ms)
    );
    let mut rows: Vec<(String, Vec<u64>)> = Vec::new();
    let column = |value: &dyn Fn(&WorkerReport) -> u64| -> Vec<u64> {
        report.workers.iter().map(value).collect()
    };
    for metric in WORKER_METRICS {
        rows.push((metric.label.to_string(), column(&|w| (metric.value)(w))));
        if metric.name != "connections" {
            continue;
        }
        // Connections by state follow the connections row.
        for state in State::ALL {
            let values = column(&|w| w.stats.states.get(state));
            if values.iter().any(|&v| v > 0) {
                rows.push((format!("  {}", state.name()), values));
            }
        }
    }
    rows.push((
        "dropped".to_string(),
        column(&|w| management::dropped(&w.stats.stack)),
    ));
    for reason in DROP_REASONS {
        let values = column(&|w| (reason.value)(&w.stats.stack));
        if values.iter().any(|&v| v > 0) {
            rows.push((format!("  {}", reason.reason.replace('_', " ")), values));
        }
    }

    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let headers: Vec<String> = report
        .workers
        .iter()
        .map(|w| format!("queue {}", w.stats.queue))
        .chain(std::iter::once("total".to_string()))
        .collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, values)| {
            values
                .iter()
                .copied()
                .chain(std::iter::once(values.iter().sum()))
                .map(|v: u64| v.to_string())
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain(std::iter::once(headers[i].len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = write!(out, "{:width$}", "");
    for (header, w) in headers.iter().zip(&widths) {
        let _ = write!(out, "  {header:>w$}");
    }
    out.push('\n');
    for ((label, _), cells) in rows.iter().zip(&cells) {
        let _ = write!(out, "{label:width$}");
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    out
}

/// Asks for the counters once.
fn ask(args: &StatsArgs) -> Result<StatsReport, ObserveError> {
    match management::request(&args.socket.socket, &Request::Stats)? {
        Answer::Stats(report) => Ok(report),
        _ => Err(ObserveError::UnexpectedAnswer),
    }
}

fn print(args: &StatsArgs, report: &StatsReport) -> Result<(), ObserveError> {
    if args.json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        print!("{}", format_report(report));
    }
    Ok(())
}

pub fn run(args: &StatsArgs) -> Result<(), ObserveError> {
    let Some(every) = args.watch else {
        return print(args, &ask(args)?);
    };
    if !(0.1..=86400.0).contains(&every) {
        return Err(ObserveError::BadInterval(every));
    }
    loop {
        let report = ask(args)?;
        if !args.json {
            // As watch(1): clear the screen, a header with the interval, then the output.
            print!("\x1b[H\x1b[2JEvery {every:.1}s: xdptcp stats\n\n");
        }
        print(args, &report)?;
        std::thread::sleep(Duration::from_secs_f64(every));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xdptcp::management::RuntimeSummary;

    fn report() -> StatsReport {
        let mut workers = vec![WorkerReport::default(), WorkerReport::default()];
        for (i, w) in workers.iter_mut().enumerate() {
            let n = i as u64 + 1;
            w.stats.queue = i as u32;
            w.stats.stack.rx_frames = 100 * n;
            w.stats.stack.tx_frames = 90 * n;
            w.stats.stack.drop_bad_tcp_checksum = n - 1;
            w.program.steered = 100 * n;
            w.stats.connections = i;
            w.stats.states.0[State::Established.index()] = i as u64;
        }
        StatsReport {
            runtime: RuntimeSummary {
                iface: "xdp0".into(),
                ipv4: "10.77.1.2".parse().unwrap(),
                queues: 2,
                xdp_mode: "native".into(),
                bind_mode: "copy".into(),
                idle: "hybrid (50 µs spin)".into(),
                pid: 42,
                uptime_ms: 65_400,
            },
            workers,
        }
    }

    fn row<'a>(table: &'a str, label: &str) -> Vec<&'a str> {
        let line = table
            .lines()
            .find(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"));
        line[label.len()..].split_whitespace().collect()
    }

    #[test]
    fn the_table_has_a_column_per_queue_and_the_total() {
        let table = format_report(&report());
        assert!(table.starts_with(
            "xdptcp on xdp0 (10.77.1.2): 2 queue(s), XDP native, AF_XDP copy mode, idle hybrid \
             (50 µs spin); pid 42, up 1 min 5 s\n"
        ));
        assert_eq!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["queue", "0", "queue", "1", "total"]
        );
        assert_eq!(row(&table, "frames in"), ["100", "200", "300"]);
        assert_eq!(
            row(&table, "XDP steered to the socket"),
            ["100", "200", "300"]
        );
        assert_eq!(row(&table, "dropped"), ["0", "1", "1"]);
        assert_eq!(row(&table, "  bad tcp checksum"), ["0", "1", "1"]);
        assert!(!table.contains("  truncated"), "zero reasons are left out");
        // The states follow the connections row.
        let lines: Vec<&str> = table.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("connections  "))
            .unwrap();
        assert!(lines[at + 1].starts_with("  established"), "{table}");
        assert_eq!(row(&table, "  established"), ["0", "1", "1"]);
    }

    #[test]
    fn uptime_reads_as_a_person_would_say_it() {
        assert_eq!(uptime(12_345), "12.3 s");
        assert_eq!(uptime(245_000), "4 min 5 s");
        assert_eq!(uptime(7_380_000), "2 h 3 min");
    }
}
