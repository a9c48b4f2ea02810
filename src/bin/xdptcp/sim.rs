//! `xdptcp sim`: one transfer through the simulated network, reported.

use std::time::Duration;

use clap::Args;
use xdptcp::sim::transfer::{run_transfer, TransferSpec};
use xdptcp::sim::LinkConfig;

/// Why `xdptcp sim` failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{option} {value} is not a probability (0 to 1)")]
    NotAProbability { option: &'static str, value: f64 },
    #[error("--loss 1 loses every frame; nothing could ever arrive")]
    LosesEverything,
    /// The simulated transfer did not complete (`run_transfer` says why, as text).
    #[error("{0}")]
    Transfer(String),
    #[error("{0} bytes arrived corrupted")]
    Corrupted(u64),
}

impl SimArgs {
    /// True with `--trace`: the frames, and each connection's state changes (logged at
    /// `trace` level by the TCP core), are printed.
    pub fn traces(&self) -> bool {
        self.trace
    }
}

#[derive(Args)]
pub struct SimArgs {
    /// Seed of every random choice; the same seed replays the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Bytes from client to server (suffixes K, M, G).
    #[arg(long, default_value = "4M", value_parser = crate::parse_size)]
    upload: u64,
    /// Bytes from server to client (suffixes K, M, G).
    #[arg(long, default_value = "1M", value_parser = crate::parse_size)]
    download: u64,
    /// One-way delay in microseconds.
    #[arg(long, default_value_t = 500)]
    delay_us: u64,
    /// Extra delay per frame, uniform in [0, jitter], in microseconds.
    #[arg(long, default_value_t = 200)]
    jitter_us: u64,
    /// Probability a frame is lost.
    #[arg(long, default_value_t = 0.05)]
    loss: f64,
    /// Probability a frame is held back 2 ms so later frames overtake it.
    #[arg(long, default_value_t = 0.10)]
    reorder: f64,
    /// Probability a frame is delivered twice.
    #[arg(long, default_value_t = 0.01)]
    duplicate: f64,
    /// Probability one byte of a frame is changed.
    #[arg(long, default_value_t = 0.001)]
    corrupt: f64,
    /// Print every frame delivered, and every connection state change.
    #[arg(long)]
    trace: bool,
}

pub fn run(args: &SimArgs) -> Result<(), SimError> {
    for (option, value) in [
        ("--loss", args.loss),
        ("--reorder", args.reorder),
        ("--duplicate", args.duplicate),
        ("--corrupt", args.corrupt),
    ] {
        if !(0.0..=1.0).contains(&value) {
            return Err(SimError::NotAProbability { option, value });
        }
    }
    if args.loss >= 1.0 {
        return Err(SimError::LosesEverything);
    }
    let spec = TransferSpec {
        seed: args.seed,
        upload: args.upload,
        download: args.download,
        link: LinkConfig {
            delay: Duration::from_micros(args.delay_us),
            jitter: Duration::from_micros(args.jitter_us),
            loss: args.loss,
            reorder: args.reorder,
            reorder_delay: Duration::from_millis(2),
            duplicate: args.duplicate,
            corrupt: args.corrupt,
        },
        msl: Duration::from_secs(1),
        time_limit: Duration::from_secs(24 * 3600),
        trace: args.trace,
    };
    let r = run_transfer(&spec).map_err(SimError::Transfer)?;
    let secs = r.virtual_time.as_secs_f64();
    println!(
        "transfer: {} bytes up, {} bytes down, {} mismatched, done (both ends CLOSED and freed) after {:.3} s virtual",
        r.upload, r.download, r.mismatches, secs
    );
    println!(
        "link:     {} frames sent, {} lost, {} duplicated, {} reordered, {} corrupted; {} rejected by checks",
        r.net.sent,
        r.net.lost,
        r.net.duplicated,
        r.net.reordered,
        r.net.corrupted,
        r.frames_rejected()
    );
    for (name, s) in [("client", &r.client), ("server", &r.server)] {
        println!(
            "{name}:   {} TCP segments out, {} in; {} resets sent; {} malformed dropped",
            s.tx_tcp_segments,
            s.rx_tcp_segments,
            s.rst_sent,
            s.malformed()
        );
    }
    if r.mismatches > 0 {
        return Err(SimError::Corrupted(r.mismatches));
    }
    Ok(())
}
