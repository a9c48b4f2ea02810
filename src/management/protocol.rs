//! What a management client asks and what the server answers: one JSON document per line
//! in each direction, one request per connection.

use std::io::{self, BufRead, Read, Write};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::runtime::{ConnectionListing, RuntimeObserver, WorkerStats};
use crate::stack::ConnectionFilter;
use crate::xdp::QueueCounters;

/// The most connection rows one worker puts in one answer; more that match are counted as
/// left off.
pub const MAX_ROWS_PER_WORKER: usize = 1024;

/// The longest request line the server reads.
pub const MAX_REQUEST_LINE: usize = 4096;

/// The longest answer line a client reads (64 workers of full listings fit).
pub const MAX_ANSWER_LINE: usize = 256 << 20;

/// A client's request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Every worker's counters and the XDP program's.
    Stats,
    /// The connections `filter` matches, at most `limit` per worker (and at most
    /// [`MAX_ROWS_PER_WORKER`]).
    Connections {
        filter: ConnectionFilter,
        limit: usize,
    },
    /// The frames the workers receive and send (only those with TCP port `port`, if given),
    /// streamed after the [`Answer::Capturing`] line (see `capture_stream`) until the client
    /// shuts down its side.
    Capture { port: Option<u16> },
}

/// The server's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Stats(StatsReport),
    Connections(ConnectionsReport),
    /// A capture runs; its frames follow.
    Capturing(CaptureStarted),
    /// The request could not be read or served.
    Refused {
        reason: String,
    },
}

/// What runs, for the first line of `xdptcp stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    pub iface: String,
    pub ipv4: Ipv4Addr,
    pub queues: u32,
    pub xdp_mode: String,
    pub bind_mode: String,
    pub idle: String,
    pub pid: u32,
    pub uptime_ms: u64,
}

impl RuntimeSummary {
    pub fn of(observer: &RuntimeObserver) -> RuntimeSummary {
        let info = observer.info();
        RuntimeSummary {
            iface: info.iface.clone(),
            ipv4: info.ipv4,
            queues: info.queues,
            xdp_mode: info.xdp_mode.to_string(),
            bind_mode: info.bind_mode.to_string(),
            idle: info.idle.to_string(),
            pid: std::process::id(),
            uptime_ms: u64::try_from(observer.uptime().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// One worker's counters with its queue's XDP program counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    pub stats: WorkerStats,
    pub program: QueueCounters,
}

/// The answer to [`Request::Stats`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatsReport {
    pub runtime: RuntimeSummary,
    pub workers: Vec<WorkerReport>,
}

impl StatsReport {
    /// Asks every worker (see [`RuntimeObserver::stats`]).
    pub fn of(observer: &RuntimeObserver) -> StatsReport {
        let program = observer.program_counters();
        let workers = observer
            .stats()
            .into_iter()
            .map(|stats| WorkerReport {
                program: program
                    .get(stats.queue as usize)
                    .copied()
                    .unwrap_or_default(),
                stats,
            })
            .collect();
        StatsReport {
            runtime: RuntimeSummary::of(observer),
            workers,
        }
    }
}

/// The answer to [`Request::Connections`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectionsReport {
    pub runtime: RuntimeSummary,
    /// The rows each worker gave.
    pub workers: Vec<ConnectionListing>,
    /// Workers that did not answer in time (a handler blocking its loop) or have ended.
    pub workers_missing: usize,
}

/// The answer to [`Request::Capture`], before the frames.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureStarted {
    pub runtime: RuntimeSummary,
    /// Workers that had not started capturing when this was sent (a handler blocking its
    /// loop); they start when they next turn.
    pub workers_waiting: usize,
    /// The most frames each worker holds for the capture before it drops them.
    pub ring_frames: usize,
}

/// Reads one line of at most `limit` bytes (the newline excluded) and parses it.
pub fn read_line<T: for<'de> Deserialize<'de>>(
    reader: &mut impl BufRead,
    limit: usize,
) -> io::Result<T> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the other end closed without a line",
        ));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if line.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a line longer than {limit} bytes"),
        ));
    }
    serde_json::from_slice(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes `value` as one line.
pub fn write_line<T: Serialize>(writer: &mut impl Write, value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::State;

    #[test]
    fn requests_go_over_one_line_and_come_back_equal() {
        let requests = [
            Request::Stats,
            Request::Connections {
                filter: ConnectionFilter {
                    state: Some(State::FinWait1),
                    port: Some(7),
                },
                limit: 10,
            },
            Request::Capture { port: Some(7) },
            Request::Capture { port: None },
        ];
        for request in requests {
            let mut wire = Vec::new();
            write_line(&mut wire, &request).unwrap();
            assert_eq!(wire.iter().filter(|&&b| b == b'\n').count(), 1);
            let back: Request = read_line(&mut wire.as_slice(), MAX_REQUEST_LINE).unwrap();
            assert_eq!(back, request);
        }
        let text = String::from_utf8({
            let mut wire = Vec::new();
            write_line(&mut wire, &requests_example()).unwrap();
            wire
        })
        .unwrap();
        assert_eq!(
            text,
            "{\"request\":\"connections\",\"filter\":{\"state\":\"established\",\"port\":null},\"limit\":5}\n"
        );
    }

    fn requests_example() -> Request {
        Request::Connections {
            filter: ConnectionFilter {
                state: Some(State::Established),
                port: None,
            },
            limit: 5,
        }
    }

    #[test]
    fn a_long_or_broken_line_is_refused() {
        let long = format!("{}\n", "x".repeat(MAX_REQUEST_LINE + 10));
        let err = read_line::<Request>(&mut long.as_bytes(), MAX_REQUEST_LINE).unwrap_err();
        assert!(err.to_string().contains("longer than 4096"), "{err}");
        let err =
            read_line::<Request>(&mut "{\"request\":\"reboot\"}\n".as_bytes(), 100).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `reboot`"),
            "{err}"
        );
        let err = read_line::<Request>(&mut "".as_bytes(), 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
