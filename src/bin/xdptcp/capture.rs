//! `xdptcp capture -w FILE.pcap`: the frames a running server receives and sends, written
//! as a pcap file, asked over its management socket. It captures until `--count` frames are
//! written, `--seconds` pass, or Ctrl-C; the server captures only while this runs.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use xdptcp::management::{CaptureClient, ClientError, PcapWriter, StreamMessage};
use xdptcp::runtime::Direction;

use crate::common::{file_error, install_stop_handler, FileError, SetupError};
use crate::stats::SocketArgs;

/// Why `xdptcp capture` failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot write the capture file {0}")]
    File(#[from] FileError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("--seconds: must be more than 0 and at most 86400, got {0}")]
    BadDuration(f64),
    #[error("--count: must be at least 1")]
    BadCount,
}

#[derive(Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// The pcap file to write (replaced if it exists).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    file: PathBuf,
    /// Only frames with this TCP port (either end, or quoted by an ICMP error).
    #[arg(long)]
    port: Option<u16>,
    /// Stop after this many frames.
    #[arg(short = 'c', long, conflicts_with = "seconds")]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
}

/// What one capture wrote.
#[derive(Default)]
struct Written {
    received: u64,
    sent: u64,
}

pub fn run(args: &CaptureArgs) -> Result<(), CaptureError> {
    let deadline = match args.seconds {
        Some(s) if s > 0.0 && s <= 86_400.0 => Some(Instant::now() + Duration::from_secs_f64(s)),
        Some(s) => return Err(CaptureError::BadDuration(s)),
        None => None,
    };
    if args.count == Some(0) {
        return Err(CaptureError::BadCount);
    }
    // The file first: a path that cannot be written fails before the server captures.
    let path = &args.file;
    let file = File::create(path).map_err(file_error(path))?;
    let mut client = match CaptureClient::start(&args.socket.socket, args.port) {
        Ok(client) => client,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
    };
    let interrupted = install_stop_handler(Arc::new(AtomicBool::new(false)))?;
    let mut pcap = PcapWriter::new(BufWriter::new(file)).map_err(file_error(path))?;
    let started = client.started();
    eprintln!(
        "capturing on {} ({} queue(s)){}{}; writing {}; Ctrl-C stops",
        started.runtime.iface,
        started.runtime.queues,
        args.port
            .map_or(String::new(), |p| format!(", TCP port {p}")),
        match started.workers_waiting {
            0 => String::new(),
            n => format!(" ({n} worker(s) not yet answering)"),
        },
        path.display()
    );
    let mut written = Written::default();
    let mut stopping = false;
    let summary = loop {
        let enough = args
            .count
            .is_some_and(|c| written.received + written.sent >= c);
        let late = deadline.is_some_and(|d| Instant::now() >= d);
        if !stopping && (enough || late || interrupted.load(Ordering::SeqCst)) {
            client.stop()?;
            stopping = true;
        }
        match client.next_message()? {
            StreamMessage::Frame(frame) => {
                // Frames that come after the count was reached are not written.
                if args
                    .count
                    .is_some_and(|c| written.received + written.sent >= c)
                {
                    continue;
                }
                pcap.write(frame.unix_nanos, &frame.data)
                    .map_err(file_error(path))?;
                match frame.direction {
                    Direction::Received => written.received += 1,
                    Direction::Sent => written.sent += 1,
                }
            }
            StreamMessage::Tick { .. } => pcap.flush().map_err(file_error(path))?,
            StreamMessage::End(summary) => break summary,
        }
    };
    pcap.flush().map_err(file_error(path))?;
    eprintln!(
        "{} frame(s) written to {} ({} received, {} sent); {} dropped by capture",
        written.received + written.sent,
        path.display(),
        written.received,
        written.sent,
        summary.dropped
    );
    Ok(())
}
