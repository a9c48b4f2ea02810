//! `xdptcp probe`: is an echo server still serving? Over Linux sockets, one established
//! connection echoes small messages at a steady rate (round-trip percentiles, HdrHistogram),
//! while new connections are made one after another, each sending a message of its own and
//! checking that exactly it comes back. Made to watch a server under attack (a SYN flood),
//! beside the attack; `--summary` writes the figures as `key value` lines.

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;

use crate::common::{file_error, FileError};

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("--duration, --rate, --size, --connect-every-ms and --timeout must be positive")]
    NotPositive,
    #[error("the established connection to {target}: {source}")]
    Established {
        target: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("the established connection's echo came back different after {0} round trips")]
    EchoMismatch(u64),
    #[error(transparent)]
    File(#[from] FileError),
}

#[derive(Args)]
pub struct ProbeArgs {
    /// The echo server.
    #[arg(long)]
    target: SocketAddrV4,
    /// Seconds to probe.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Round trips per second on the established connection.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Bytes of each message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// A new connection is started this often (each after the one before has ended).
    #[arg(long, default_value_t = 25)]
    connect_every_ms: u64,
    /// Seconds a new connection may take to connect, echo and close before it counts as
    /// failed (a SYN lost to the flood is resent by Linux after 1 s, then 3 s).
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Write the figures to this file as `key value` lines.
    #[arg(long)]
    summary: Option<PathBuf>,
}

/// What the established connection measured.
struct Established {
    round_trips: Histogram<u64>,
}

/// What the new connections did.
#[derive(Default)]
struct NewConnections {
    attempted: u64,
    completed: u64,
    failed: u64,
    mismatched: u64,
    first_failure: Option<String>,
    took: Option<Histogram<u64>>,
}

pub fn run(args: &ProbeArgs) -> Result<(), ProbeError> {
    if !(args.duration > 0.0 && args.timeout > 0.0)
        || args.rate == 0
        || args.size == 0
        || args.connect_every_ms == 0
    {
        return Err(ProbeError::NotPositive);
    }
    let duration = Duration::from_secs_f64(args.duration);
    let timeout = Duration::from_secs_f64(args.timeout);
    let target = args.target;
    let size = args.size;
    let every = Duration::from_millis(args.connect_every_ms);
    let news = std::thread::spawn(move || new_connections(target, size, duration, every, timeout));
    let established = established(target, size, args.rate, duration);
    let news = news
        .join()
        .expect("the new-connection thread does not panic");
    let established = established?;
    let summary = summary(&established, &news);
    print!("{}", report(target, &established, &news));
    if let Some(path) = &args.summary {
        std::fs::write(path, summary).map_err(file_error(path))?;
    }
    Ok(())
}

/// Bytes no other message of this run has: `seed` spread over `size` bytes.
fn message(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..size)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One connection, `rate` round trips a second for `duration`: send, read the echo whole,
/// compare, record the time.
fn established(
    target: SocketAddrV4,
    size: usize,
    rate: u32,
    duration: Duration,
) -> Result<Established, ProbeError> {
    let io = |source| ProbeError::Established { target, source };
    let mut stream = TcpStream::connect(target).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let mut round_trips = Histogram::<u64>::new(3).expect("3 significant digits");
    let mut echo = vec![0u8; size];
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < duration {
        let due = start + interval * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = message(n, size);
        let t = Instant::now();
        stream.write_all(&sent).map_err(io)?;
        stream.read_exact(&mut echo).map_err(io)?;
        round_trips.saturating_record(t.elapsed().as_micros() as u64);
        if echo != sent {
            return Err(ProbeError::EchoMismatch(n));
        }
        n += 1;
    }
    Ok(Established { round_trips })
}

/// New connections one after another for `duration`, one started every `every` (or as soon
/// as the one before ends): connect, send a message of its own, read it back, close.
fn new_connections(
    target: SocketAddrV4,
    size: usize,
    duration: Duration,
    every: Duration,
    timeout: Duration,
) -> NewConnections {
    let mut news = NewConnections {
        took: Some(Histogram::<u64>::new(3).expect("3 significant digits")),
        ..NewConnections::default()
    };
    let start = Instant::now();
    while start.elapsed() < duration {
        let due = start + every * news.attempted as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let sent = message(u64::MAX - news.attempted, size);
        news.attempted += 1;
        let t = Instant::now();
        match exchange(target, &sent, timeout) {
            Ok(true) => {
                news.completed += 1;
                if let Some(h) = &mut news.took {
                    h.saturating_record(t.elapsed().as_millis() as u64);
                }
            }
            Ok(false) => news.mismatched += 1,
            Err(e) => {
                news.failed += 1;
                news.first_failure.get_or_insert(e.to_string());
            }
        }
    }
    news
}

/// One new connection's exchange: true if exactly `sent` came back within `timeout`.
fn exchange(target: SocketAddrV4, sent: &[u8], timeout: Duration) -> std::io::Result<bool> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut))
    };
    let mut stream = TcpStream::connect_timeout(&SocketAddr::V4(target), left()?)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(left()?))?;
    stream.write_all(sent)?;
    let mut echo = vec![0u8; sent.len()];
    let mut got = 0;
    while got < echo.len() {
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut echo[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(echo == sent)
}

fn percentiles(h: &Histogram<u64>) -> [(&'static str, u64); 5] {
    [
        ("p50", h.value_at_quantile(0.5)),
        ("p90", h.value_at_quantile(0.9)),
        ("p99", h.value_at_quantile(0.99)),
        ("p99.9", h.value_at_quantile(0.999)),
        ("max", h.max()),
    ]
}

fn summary(established: &Established, news: &NewConnections) -> String {
    let mut out = format!("round_trips {}\n", established.round_trips.len());
    for (name, value) in percentiles(&established.round_trips) {
        out += &format!("rtt_{}_us {value}\n", name.replace('.', "_"));
    }
    out += &format!(
        "connections_attempted {}\nconnections_completed {}\nconnections_failed {}\n\
         connections_mismatched {}\n",
        news.attempted, news.completed, news.failed, news.mismatched
    );
    if let Some(h) = news.took.as_ref().filter(|h| !h.is_empty()) {
        out += &format!("connection_p99_ms {}\n", h.value_at_quantile(0.99));
    }
    out
}

fn report(target: SocketAddrV4, established: &Established, news: &NewConnections) -> String {
    let h = &established.round_trips;
    let mut out = format!(
        "probe of {target}: {} round trips on one connection, RTT µs",
        h.len()
    );
    for (name, value) in percentiles(h) {
        out += &format!(" {name} {value}");
    }
    out += &format!(
        "\n  new connections: {} attempted, {} echoed exactly, {} failed, {} echoed wrong",
        news.attempted, news.completed, news.failed, news.mismatched
    );
    if let Some(h) = news.took.as_ref().filter(|h| !h.is_empty()) {
        out += &format!(
            " (connect + echo p50 {} ms, p99 {} ms)",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99)
        );
    }
    if let Some(why) = &news.first_failure {
        out += &format!("; first failure: {why}");
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_differ_by_seed_and_repeat_by_seed() {
        assert_eq!(message(7, 64), message(7, 64));
        assert_ne!(message(7, 64), message(8, 64));
        assert_eq!(message(1, 10).len(), 10);
    }

    #[test]
    fn the_summary_names_every_figure() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [10, 20, 30] {
            h.record(v).unwrap();
        }
        let news = NewConnections {
            attempted: 3,
            completed: 2,
            failed: 1,
            ..NewConnections::default()
        };
        let text = summary(&Established { round_trips: h }, &news);
        for key in [
            "round_trips 3",
            "rtt_p99_us 30",
            "rtt_p99_9_us 30",
            "connections_attempted 3",
            "connections_completed 2",
            "connections_failed 1",
            "connections_mismatched 0",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
    }
}
