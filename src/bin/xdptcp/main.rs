//! The `xdptcp` command.

mod bench;
mod capture;
mod common;
mod floor;
mod impair;
mod lab;
mod load;
mod nc;
mod plot;
mod probe;
mod serve;
mod sim;
mod ss;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xdptcp",
    version,
    about = "A kernel-bypass TCP/IP stack over AF_XDP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The benchmark: every workload with both ends on xdptcp, both ends on Linux TCP, and
    /// on the bare AF_XDP floor, repeated; medians, ratios against the targets, charts.
    Bench(bench::BenchArgs),
    /// Write the frames a running server receives and sends to a pcap file, from its
    /// management socket (only while this runs).
    Capture(capture::CaptureArgs),
    /// The bare AF_XDP floor (no TCP): frame ping-pong and frame blast over the same XDP
    /// program and sockets, to measure what the machine allows.
    Floor(floor::FloorArgs),
    /// Create, impair or remove a lab of network namespaces (stack, router, Linux peer) over
    /// veth.
    Lab(lab::LabArgs),
    /// Load generator: echo, sockperf, http, connect or bulk, closed or open loop, over xdptcp
    /// or Linux sockets, with a HdrHistogram latency report.
    Load(load::LoadArgs),
    /// Netcat over the stack: stdin to a connection, the connection to stdout.
    Nc(nc::NcArgs),
    /// Draw latency-by-percentile charts (SVG) from .hgrm files.
    Plot(plot::PlotArgs),
    /// Watch an echo server over Linux sockets: one connection's round trips and new
    /// connections one after another, each echo checked (for example during a SYN flood).
    Probe(probe::ProbeArgs),
    /// Run a server (echo, http, sockperf, discard) on the stack over AF_XDP (or, for
    /// comparison, over Linux sockets).
    Serve(serve::ServeArgs),
    /// A running server's connections as `ss -tni` shows them, from its management socket.
    Ss(ss::SsArgs),
    /// A running server's counters per worker and in total, from its management socket.
    Stats(stats::StatsArgs),
    /// Run a bulk transfer between two xdptcp stacks over a simulated, impaired link and
    /// report what the link and the stacks did (deterministic: the seed replays it).
    Sim(sim::SimArgs),
}

/// Why a command failed: printed as one line, `xdptcp: <why>`, with exit status 1.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    #[error(transparent)]
    Bench(#[from] bench::BenchError),
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
    #[error(transparent)]
    Floor(#[from] floor::FloorError),
    #[error(transparent)]
    Lab(#[from] lab::LabCommandError),
    #[error(transparent)]
    Load(#[from] load::LoadCommandError),
    #[error(transparent)]
    Nc(#[from] nc::NcError),
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    #[error(transparent)]
    Observe(#[from] stats::ObserveError),
}

/// Runs the command the arguments name.
fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Bench(args) => bench::run(&args)?,
        Command::Capture(args) => capture::run(&args)?,
        Command::Floor(args) => floor::run(&args)?,
        Command::Lab(args) => lab::run(&args)?,
        Command::Load(args) => load::run(&args)?,
        Command::Nc(args) => nc::run(&args)?,
        Command::Plot(args) => plot::run(&args)?,
        Command::Probe(args) => probe::run(&args)?,
        Command::Serve(args) => serve::run(&args)?,
        Command::Sim(args) => sim::run(&args)?,
        Command::Ss(args) => ss::run(&args)?,
        Command::Stats(args) => stats::run(&args)?,
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    // `sim --trace` shows the TCP core's state changes beside the frames.
    let filter = match &cli.command {
        Command::Sim(args) if args.traces() => "info,xdptcp::tcp=trace",
        _ => "info",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter))
        .format_target(false)
        .init();
    if let Err(why) = run(cli.command) {
        eprintln!("xdptcp: {why}");
        std::process::exit(1);
    }
}

// Byte counts on the command line are written as in the configuration file.
pub use xdptcp::config::parse_size;
