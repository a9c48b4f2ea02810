//! `xdptcp load`: the load generator (see `xdptcp::load`).

use std::io::Write;
use std::net::SocketAddrV4;
use std::num::TryFromIntError;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use xdptcp::load::report::ChartError;
use xdptcp::load::{self, report, LoadError, LoadSpec, Progress, Report, SpecError, Workload};

use crate::common::{file_error, DatapathArgs, FileError, SetupError, StackKind};

/// Why `xdptcp load` failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadCommandError {
    #[error("--{option} must be a positive number of seconds")]
    Seconds { option: &'static str },
    #[error("--size is too large")]
    Size(#[from] TryFromIntError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("drawing {}: {source}", path.display())]
    Chart { path: PathBuf, source: ChartError },
    #[error("no request was answered")]
    NoAnswer,
    #[error("--hold runs on the xdptcp stack only (a Linux client is limited to 20,000 descriptors here)")]
    HoldOnKernel,
}

#[derive(Args)]
pub struct LoadArgs {
    /// The stack the load generator runs on.
    #[arg(long, value_enum, default_value = "xdptcp")]
    stack: StackKind,
    #[command(flatten)]
    datapath: DatapathArgs,
    /// Server address, IP:PORT.
    #[arg(long)]
    target: SocketAddrV4,
    /// echo, sockperf, http, connect (a new connection per request) or bulk (one-way stream).
    #[arg(long, default_value = "echo")]
    workload: Workload,
    /// Request size in bytes (bulk: write size); suffixes K, M.
    #[arg(long, default_value = "64", value_parser = crate::parse_size)]
    size: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Requests outstanding per connection.
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// Open loop: requests per second over all connections (latency from each request's
    /// intended send time). Closed loop without it.
    #[arg(long)]
    rate: Option<f64>,
    /// Idle connections to open first and hold open through the run (xdptcp stack): the
    /// server carries them while the workload is measured; the report gives their setup
    /// rate. Raise --connections-per-worker (and give --more-ips) for many.
    #[arg(long, default_value_t = 0)]
    hold: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to wait for outstanding answers afterwards.
    #[arg(long, default_value_t = 2.0)]
    grace: f64,
    /// Threads (kernel stack; the xdptcp stack runs one worker per --queues).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write the HdrHistogram percentile distribution here.
    #[arg(long)]
    hgrm: Option<PathBuf>,
    /// Write a latency-by-percentile chart (SVG) here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Write a machine-readable summary ("name value" lines, latencies in µs) here.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Print no progress line.
    #[arg(long)]
    quiet: bool,
    /// Print per-queue counters (xdptcp stack) to standard error at the end.
    #[arg(long)]
    stats: bool,
}

pub fn run(args: &LoadArgs) -> Result<(), LoadCommandError> {
    let seconds = |s: f64, option: &'static str| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(LoadCommandError::Seconds { option })
        }
    };
    let spec = LoadSpec {
        workload: args.workload,
        size: usize::try_from(args.size)?,
        connections: args.connections,
        depth: args.depth,
        rate: args.rate,
        duration: seconds(args.duration, "duration")?,
        grace: seconds(args.grace, "grace")?,
        target: args.target,
        hold: args.hold,
    };
    spec.validate()?;
    if spec.hold > 0 && args.stack == StackKind::Kernel {
        return Err(LoadCommandError::HoldOnKernel);
    }
    let quiet = args.quiet;
    let progress = move |elapsed: Duration, p: &Progress| {
        if quiet {
            return;
        }
        eprint!(
            "\r  {:5.1} s  {} answered  {} errors  {:.1} MB written   ",
            elapsed.as_secs_f64(),
            p.answered.load(Ordering::Relaxed),
            p.errors.load(Ordering::Relaxed),
            p.bytes.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = std::io::stderr().flush();
    };
    let report: Report = match args.stack {
        StackKind::Xdptcp => {
            let stats = args.stats;
            load::xdptcp::run(
                &spec,
                args.datapath.runtime_config()?,
                progress,
                |runtime| {
                    if stats {
                        crate::common::print_stats(runtime);
                    }
                },
            )?
        }
        StackKind::Kernel => load::linux::run(&spec, args.threads, &args.datapath.cores, progress)?,
    };
    if !quiet {
        eprintln!();
    }
    print!("{}", report.to_text());
    if let Some(path) = &args.hgrm {
        let file = std::fs::File::create(path).map_err(file_error(path))?;
        report
            .write_hgrm(std::io::BufWriter::new(file))
            .map_err(file_error(path))?;
    }
    if let Some(path) = &args.summary {
        std::fs::write(path, report.summary()).map_err(file_error(path))?;
    }
    if let Some(path) = &args.plot {
        let series = vec![(report.stack.clone(), report.curve())];
        report::plot_svg(path, &report.title(), &series).map_err(|source| {
            LoadCommandError::Chart {
                path: path.clone(),
                source,
            }
        })?;
    }
    if report.tally.answered == 0 && args.workload != Workload::Bulk {
        return Err(LoadCommandError::NoAnswer);
    }
    Ok(())
}
