//! `xdptcp bench`: xdptcp against Linux TCP and against the bare AF_XDP floor, in one run.
//!
//! On a direct lab (two namespaces joined by one veth pair, nothing in between), every
//! workload runs with both ends on xdptcp (`serve` and `load` over AF_XDP), with both ends on
//! Linux sockets (`serve --stack kernel`, `load --stack kernel`: epoll, `TCP_NODELAY`, the
//! kernel's offloads on), and, where it has a meaning, on the floor (`xdptcp floor`: frames
//! over the same XDP program and AF_XDP sockets, no TCP). The server is pinned to one core and
//! the load generator to another. Repetitions interleave the variants, so drift of the
//! machine hits them alike; medians and min–max are reported. Targets are ratios measured in
//! this same run. A target not met gets a profile of the xdptcp run (`perf record`).

mod cases;
mod charts;
mod facts;
mod flood;
mod loss;
mod outputs;
mod process;
mod profile;
mod readme;
mod report;
mod runs;
mod samples;
mod targets;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use xdptcp::lab::{Lab, LabError, Topology, STACK_IP};
use xdptcp::load::report::ChartError;

use crate::common::{file_error, FileError};
use facts::Facts;
use profile::profile_file;
use readme::ReadmeError;
use runs::RunError;
use samples::Sample;
use targets::Target;

/// Why `xdptcp bench` could not run, or ran with targets it could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the benchmark needs root (network namespaces, XDP, AF_XDP)")]
    NotRoot,
    #[error("--reps and the durations must be positive")]
    NotPositive,
    #[error("--server-core and --load-core must be two different cores of the {0} here")]
    Cores(usize),
    #[error("{0} is not installed (deploy/install-deps.sh installs what the benchmark needs)")]
    ToolMissing(&'static str),
    #[error("cannot find this program's path: {0}")]
    OwnPath(#[source] std::io::Error),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error("drawing {}: {source}", path.display())]
    Chart { path: PathBuf, source: ChartError },
    #[error(transparent)]
    Readme(#[from] ReadmeError),
    #[error("{0} target(s) could not be measured; see above")]
    Unmeasured(usize),
}

#[derive(Args)]
pub struct BenchArgs {
    /// Repetitions of every measurement (medians and min–max over them).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Seconds of each latency run.
    #[arg(long, default_value_t = 20.0)]
    latency_seconds: f64,
    /// Seconds of each run of the other workloads.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Seconds of each SYN flood (after a quiet probe of 3 s).
    #[arg(long, default_value_t = 7.0)]
    flood_seconds: f64,
    /// Only these workloads (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Case>,
    /// Directory for the results (table, charts, histograms, profiles).
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Criterion's output directory, for the per-segment figures (`cargo bench` first).
    #[arg(long, default_value = "target/criterion")]
    criterion: PathBuf,
    /// Core of the servers.
    #[arg(long, default_value_t = 1)]
    server_core: usize,
    /// Core of the load generators.
    #[arg(long, default_value_t = 0)]
    load_core: usize,
    /// Do not profile the workloads whose target is not met.
    #[arg(long)]
    no_profile: bool,
    /// Replace the section between `<!-- bench:begin -->` and `<!-- bench:end -->` of this
    /// file (the README) with the results.
    #[arg(long)]
    readme: Option<PathBuf>,
    /// Name of the lab (its namespaces are <name>-stack and <name>-peer).
    #[arg(long, default_value = "xbench")]
    lab: String,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
enum Case {
    /// Per-segment cost (criterion) and cycles per request.
    Segment,
    /// 64-byte echo over one connection, closed loop.
    Latency,
    /// 64 connections of 64-byte echo: peak, then open loop at 50% and 90% of it.
    Rpc,
    /// A connection per request.
    Connect,
    /// One connection, one-way stream.
    Bulk,
    /// The Debian sockperf client against both servers.
    Sockperf,
    /// Through the routed lab's impaired router: 256 MiB each way at 0.2% and 2% loss (and
    /// clean, and 0.2% loss with 1% duplication), and 64 B echo latency at 0.2% loss,
    /// against Linux through the same impairment.
    Loss,
    /// A SYN flood (hping3 --flood --rand-source) from the peer while one connection echoes
    /// 64 B and new connections are made one after another; xdptcp and Linux servers.
    Flood,
}

/// The servers' ports (RFC 862 echo, RFC 863 discard, HTTP, sockperf's default, the floor).
const ECHO_PORT: u16 = 7;
const DISCARD_PORT: u16 = 9;
const HTTP_PORT: u16 = 80;
const SOCKPERF_PORT: u16 = 11111;
const FLOOR_PORT: u16 = 7;
/// Connections of the small-RPC case.
const RPC_CONNECTIONS: usize = 64;
/// Connections open at a time in the short-connection case.
const CONNECT_CONNECTIONS: usize = 16;

/// One benchmark run: its settings, its lab and what it measured.
struct Bench<'a> {
    args: &'a BenchArgs,
    exe: PathBuf,
    lab: Lab,
    work: PathBuf,
    samples: Vec<Sample>,
    failures: Vec<String>,
    facts: Facts,
    /// Per-segment criterion figures: (name, ns).
    segment: Vec<(String, Option<f64>)>,
    cycles_note: String,
    offloads_on: Option<bool>,
    /// The latency histogram of each variant's median repetition: (variant, path).
    latency_hgrm: Vec<(&'static str, PathBuf)>,
}

/// An owned argument.
fn s(text: impl Into<String>) -> String {
    text.into()
}

/// The `xdptcp load` arguments for `workload` with requests (bulk: writes) of `size` bytes
/// over `connections` connections.
fn workload(workload: &str, size: &str, connections: usize) -> Vec<String> {
    vec![
        s("--workload"),
        s(workload),
        s("--size"),
        s(size),
        s("--connections"),
        connections.to_string(),
    ]
}

/// The tools the benchmark runs.
const TOOLS: [&str; 10] = [
    "ip",
    "ethtool",
    "ss",
    "taskset",
    "sockperf",
    "perf",
    "ncat",
    "nft",
    "sha256sum",
    "hping3",
];

/// The cases in the order they run.
const CASES: [Case; 8] = [
    Case::Segment,
    Case::Latency,
    Case::Rpc,
    Case::Connect,
    Case::Bulk,
    Case::Sockperf,
    Case::Loss,
    Case::Flood,
];

/// Root, sensible arguments and the tools the benchmark runs.
fn check(args: &BenchArgs) -> Result<(), BenchError> {
    if !xdptcp::host::is_root() {
        return Err(BenchError::NotRoot);
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if args.reps == 0
        || !positive(args.seconds)
        || !positive(args.latency_seconds)
        || !positive(args.flood_seconds)
    {
        return Err(BenchError::NotPositive);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.server_core >= cores || args.load_core >= cores || args.server_core == args.load_core {
        return Err(BenchError::Cores(cores));
    }
    for tool in TOOLS {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
        if !found {
            return Err(BenchError::ToolMissing(tool));
        }
    }
    Ok(())
}

/// Runs the benchmark: every selected case, profiles of the targets not met, the results
/// written (and the README section, if asked).
pub fn run(args: &BenchArgs) -> Result<(), BenchError> {
    check(args)?;
    std::fs::create_dir_all(&args.out).map_err(file_error(&args.out))?;
    let exe = std::env::current_exe().map_err(BenchError::OwnPath)?;
    let work = std::env::temp_dir().join(format!("xdptcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(file_error(&work))?;
    let lab = Lab::up_with(&args.lab, 1, Topology::Direct)?;
    let started = Instant::now();
    let mut bench = Bench::new(args, exe, lab, work.clone());
    println!(
        "xdptcp bench: {} repetitions; server on core {}, load on core {}; lab {} (direct veth)",
        args.reps, args.server_core, args.load_core, args.lab
    );
    bench.run_cases();
    let profiles = if args.no_profile {
        Vec::new()
    } else {
        bench.profile_unmet()
    };
    let command = std::env::var("XDPTCP_BENCH_COMMAND").unwrap_or_else(|_| "make bench".into());
    let md = bench.markdown(&command, started.elapsed(), &profiles);
    let targets = bench.targets();
    let section = bench.write_results(&md, &targets)?;
    if let Some(readme) = &args.readme {
        readme::update_readme(readme, &section)?;
        println!("{} updated", readme.display());
    }
    drop(bench);
    let _ = std::fs::remove_dir_all(&work);
    let failed = targets.iter().filter(|t| t.met().is_none()).count();
    if failed > 0 || !md.contains("| Target |") {
        return Err(BenchError::Unmeasured(failed));
    }
    Ok(())
}

impl<'a> Bench<'a> {
    fn new(args: &'a BenchArgs, exe: PathBuf, lab: Lab, work: PathBuf) -> Bench<'a> {
        Bench {
            args,
            exe,
            lab,
            work,
            samples: Vec::new(),
            failures: Vec::new(),
            facts: Facts::default(),
            segment: Vec::new(),
            cycles_note: String::new(),
            offloads_on: Some(false),
            latency_hgrm: Vec::new(),
        }
    }
}

impl Bench<'_> {
    /// Every selected case, in order.
    fn run_cases(&mut self) {
        for case in CASES {
            if !self.selected(case) {
                continue;
            }
            println!("== {case:?}");
            match case {
                Case::Segment => self.segment(),
                Case::Latency => self.latency(),
                Case::Rpc => self.rpc(),
                Case::Connect => self.connect(),
                Case::Bulk => self.bulk(),
                Case::Sockperf => self.sockperf(),
                Case::Loss => self.loss(),
                Case::Flood => self.flood(),
            }
        }
    }

    /// Profiles each case with a target not met; returns (case, profile file) of those that
    /// worked.
    fn profile_unmet(&mut self) -> Vec<(Case, String)> {
        let mut unmet: Vec<Case> = self
            .targets()
            .iter()
            .filter(|t| t.met() == Some(false))
            .map(|t| t.case)
            // A CPU profile does not explain goodput lost to loss recovery; the loss case's
            // gaps are read from the router's counters, `ss -tni` and captures instead. A
            // flood's cost lies in softirq (the XDP program, the kernel's SYN handling),
            // which a profile of the server does not see.
            .filter(|&c| c != Case::Loss && c != Case::Flood)
            .collect();
        unmet.dedup();
        // A profile left from an earlier run whose target is now met would be read as
        // this run's.
        for target in self.targets() {
            if !unmet.contains(&target.case) {
                let _ = std::fs::remove_file(self.args.out.join(profile_file(target.case)));
            }
        }
        let mut profiles = Vec::new();
        for case in unmet {
            println!("== profiling {case:?} (target not met)");
            match self.profile(case) {
                Ok(file) => profiles.push((case, file)),
                Err(e) => println!("  profile of {case:?} failed: {e}"),
            }
        }
        profiles
    }

    /// Writes the charts, `bench.md` and `runs.csv` to the results directory and prints the
    /// table; returns the README section (the table, its links pointing into the results
    /// directory, and the charts).
    fn write_results(&self, md: &str, targets: &[Target]) -> Result<String, BenchError> {
        let out = &self.args.out;
        // The README sits above the results directory: point its links into it.
        let out_dir = out.display().to_string();
        let mut section = md.replace("](profile-", &format!("]({out_dir}/profile-"));
        let chart = out.join("targets.svg");
        charts::plot_targets(&chart, targets).map_err(|source| BenchError::Chart {
            path: chart,
            source,
        })?;
        if !self.latency_hgrm.is_empty() {
            charts::plot_latency(&out.join("latency.svg"), &self.latency_hgrm)?;
        }
        let _ = writeln!(section, "\n![targets]({out_dir}/targets.svg)");
        if !self.latency_hgrm.is_empty() {
            let _ = writeln!(section, "\n![latency]({out_dir}/latency.svg)");
        }
        let (table, runs) = (out.join("bench.md"), out.join("runs.csv"));
        std::fs::write(&table, md).map_err(file_error(&table))?;
        std::fs::write(&runs, self.csv()).map_err(file_error(&runs))?;
        println!("\n{md}");
        println!(
            "results: {}/bench.md, targets.svg, latency.svg, runs.csv",
            out.display()
        );
        Ok(section)
    }

    /// Every sample, one line each.
    fn csv(&self) -> String {
        let mut csv = String::from("case,variant,metric,rep,value\n");
        for x in &self.samples {
            let _ = writeln!(
                csv,
                "{},{},{},{},{}",
                x.case, x.variant, x.metric, x.rep, x.value
            );
        }
        csv
    }

    fn stack_ns(&self) -> String {
        self.lab.stack_ns()
    }

    fn peer_ns(&self) -> String {
        self.lab.peer_ns()
    }

    fn target(&self, port: u16) -> String {
        format!("{STACK_IP}:{port}")
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    fn note(&self, case: &str, variant: &str, rep: usize, text: &str) {
        println!(
            "  {case:<9} {variant:<20} rep {rep}/{}  {text}",
            self.args.reps
        );
    }

    /// Records a failed run: its first lines printed, its first line kept for the report.
    fn fail(&mut self, case: &str, variant: &str, rep: usize, error: RunError) {
        let error = error.to_string();
        println!(
            "  {case:<9} {variant:<20} rep {rep}/{}  FAILED",
            self.args.reps
        );
        let first = error.lines().take(12).collect::<Vec<_>>().join("\n    ");
        println!("    {first}");
        self.failures.push(format!(
            "{case} / {variant} / rep {rep}: {}",
            error.lines().next().unwrap_or("")
        ));
    }

    fn selected(&self, case: Case) -> bool {
        self.args.only.is_empty() || self.args.only.contains(&case)
    }
}
