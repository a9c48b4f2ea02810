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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use plotters::prelude::*;
use xdptcp::lab::{Lab, Topology, PEER_IFACE, STACK_IFACE, STACK_IP};

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
}

const ECHO_PORT: u16 = 7;
const DISCARD_PORT: u16 = 9;
const HTTP_PORT: u16 = 80;
const SOCKPERF_PORT: u16 = 11111;
const FLOOR_PORT: u16 = 7;
const RPC_CONNECTIONS: usize = 64;
const CONNECT_CONNECTIONS: usize = 16;

/// One measured value.
#[derive(Clone, Debug)]
struct Sample {
    case: &'static str,
    variant: &'static str,
    metric: &'static str,
    rep: usize,
    value: f64,
}

/// Median and spread of a metric over the repetitions.
#[derive(Copy, Clone, Debug)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
    count: usize,
}

fn stat(values: &[f64]) -> Option<Stat> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stat {
        median,
        min: v[0],
        max: v[n - 1],
        count: n,
    })
}

/// A server process in a namespace.
struct Server {
    child: Child,
    log: PathBuf,
    what: String,
}

enum Ready {
    /// A line of its output contains this.
    Marker(&'static str),
    /// A TCP socket listens on this port in its namespace.
    Listening(u16),
}

impl Server {
    fn start(
        ns: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        ready: Ready,
    ) -> Result<Server, String> {
        let what = format!("{} {}", program.display(), args.join(" "));
        let file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let mut server = Server { child, log, what };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before it was ready:\n{}",
                    server.what,
                    server.output()
                ));
            }
            let ready_now = match ready {
                Ready::Marker(marker) => server.output().contains(marker),
                Ready::Listening(port) => listening(ns, port),
            };
            if ready_now {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(10) {
                let output = server.output();
                server.kill();
                return Err(format!(
                    "{} was not ready after 10 s:\n{output}",
                    server.what
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ctrl-C, then waits up to 10 s (then kills). Returns its output.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.output();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        let mut output = self.output();
        output.push_str("\n(killed: did not stop within 10 s of Ctrl-C)\n");
        output
    }
}

/// Whether a TCP socket listens on `port` in namespace `ns`.
fn listening(ns: &str, port: u16) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-Hltn"])
        .arg(format!("sport = :{port}"))
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty())
        .unwrap_or(false)
}

/// How long a client may run past the seconds it was asked to work (start-up, a server's
/// grace period, the summary) before it is taken for hung.
const CLIENT_GRACE: Duration = Duration::from_secs(30);

/// The file a case's profile is written to, in the results directory.
fn profile_file(case: Case) -> String {
    format!("profile-{}.txt", format!("{case:?}").to_lowercase())
}

/// `--stack kernel`, or the interface xdptcp runs on.
fn stack_args(kernel: bool, iface: &str) -> [String; 2] {
    if kernel {
        [s("--stack"), s("kernel")]
    } else {
        [s("--iface"), s(iface)]
    }
}

/// Runs a client to completion (killed after `limit`); returns its standard output.
fn run_client(
    ns: &str,
    program: &Path,
    args: &[String],
    limit: Duration,
) -> Result<String, String> {
    let what = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// "name value" lines.
fn read_summary(path: &Path) -> Result<BTreeMap<String, f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((key.to_string(), value))
        })
        .collect())
}

/// sockperf's "---> percentile 50.000 =   12.553" lines (µs, half round trip).
fn sockperf_percentile(output: &str, percentile: &str) -> Option<f64> {
    output.lines().find_map(|line| {
        let rest = line.split("percentile").nth(1)?;
        let (p, value) = rest.split_once('=')?;
        (p.trim() == percentile).then(|| value.trim().parse().ok())?
    })
}

/// A target: `ratio` (xdptcp over the reference) must be at most or at least `bound`.
#[derive(Clone, Debug)]
struct Target {
    case: Case,
    what: String,
    ratio: Option<f64>,
    bound: f64,
    at_most: bool,
}

impl Target {
    fn met(&self) -> Option<bool> {
        let r = self.ratio?;
        Some(if self.at_most {
            r <= self.bound
        } else {
            r >= self.bound
        })
    }
}

/// Facts printed with the results.
#[derive(Default)]
struct Facts {
    xdptcp_modes: Option<String>,
    floor_modes: Option<String>,
}

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

fn s(text: impl Into<String>) -> String {
    text.into()
}

/// The stack both ends of a run use.
#[derive(Clone, Copy)]
enum Ends {
    Xdptcp,
    /// Linux sockets, with the lab's segmentation offloads on or off.
    Linux {
        offloads: bool,
    },
}

impl Ends {
    /// xdptcp, or Linux with its offloads (how Linux is measured unless stated).
    fn both(kernel: bool) -> Ends {
        if kernel {
            Ends::Linux { offloads: true }
        } else {
            Ends::Xdptcp
        }
    }

    fn kernel(self) -> bool {
        matches!(self, Ends::Linux { .. })
    }

    /// xdptcp runs with them off: the kernel's side of its veth must not coalesce.
    fn offloads(self) -> bool {
        matches!(self, Ends::Linux { offloads: true })
    }
}

/// One xdptcp run of a case, repeated under `perf record` to profile it.
type ProfiledRun = dyn FnMut(&mut Bench) -> Result<(), String>;

impl Bench<'_> {
    fn stack_ns(&self) -> String {
        self.lab.stack_ns()
    }

    fn peer_ns(&self) -> String {
        self.lab.peer_ns()
    }

    fn target(&self, port: u16) -> String {
        format!("{STACK_IP}:{port}")
    }

    fn record(
        &mut self,
        case: &'static str,
        variant: &'static str,
        metric: &'static str,
        rep: usize,
        value: f64,
    ) {
        self.samples.push(Sample {
            case,
            variant,
            metric,
            rep,
            value,
        });
    }

    fn values(&self, case: &str, variant: &str, metric: &str) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|x| x.case == case && x.variant == variant && x.metric == metric)
            .map(|x| x.value)
            .collect()
    }

    fn stat(&self, case: &str, variant: &str, metric: &str) -> Option<Stat> {
        stat(&self.values(case, variant, metric))
    }

    /// Kernel offloads (TSO, GSO, GRO) on the veth pair: on for Linux-to-Linux runs, off
    /// where a kernel talks to xdptcp (AF_XDP frames hold one MTU).
    fn offloads(&mut self, on: bool) -> Result<(), String> {
        if self.offloads_on != Some(on) {
            self.lab
                .set_segmentation_offloads(on)
                .map_err(|e| e.to_string())?;
            self.offloads_on = Some(on);
        }
        Ok(())
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// `xdptcp serve --app <app>` in the stack namespace, on xdptcp or (`kernel`) on Linux
    /// sockets; the first xdptcp server's start line gives the datapath modes reported.
    fn start_server(&mut self, kernel: bool, app: &str, port: u16) -> Result<Server, String> {
        let mut args = vec![s("serve")];
        args.extend(stack_args(kernel, STACK_IFACE));
        args.extend([
            s("--port"),
            port.to_string(),
            s("--app"),
            s(app),
            s("--cores"),
            self.args.server_core.to_string(),
        ]);
        let server = Server::start(
            &self.stack_ns(),
            &self.exe,
            &args,
            self.log_path("server.log"),
            Ready::Marker("serving"),
        )?;
        if !kernel && self.facts.xdptcp_modes.is_none() {
            self.facts.xdptcp_modes = parenthesized(&server.output(), "serving");
        }
        Ok(server)
    }

    /// `xdptcp load` from the peer namespace; returns its summary.
    fn load(
        &self,
        kernel: bool,
        port: u16,
        extra: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, String> {
        let summary = self.work.join("load.summary");
        let _ = std::fs::remove_file(&summary);
        let mut args = vec![s("load")];
        args.extend(stack_args(kernel, PEER_IFACE));
        args.extend([
            s("--cores"),
            self.args.load_core.to_string(),
            s("--target"),
            self.target(port),
            s("--duration"),
            seconds.to_string(),
            s("--summary"),
            summary.display().to_string(),
            s("--quiet"),
        ]);
        if let Some(h) = hgrm {
            args.extend([s("--hgrm"), h.display().to_string()]);
        }
        args.extend(extra.iter().cloned());
        self.run_in_peer(&self.exe, &args, seconds)?;
        read_summary(&summary)
    }

    /// Runs a client that works for `seconds` in the peer namespace to completion, killed if
    /// it is not done `CLIENT_GRACE` after that; returns its standard output.
    fn run_in_peer(&self, program: &Path, args: &[String], seconds: f64) -> Result<String, String> {
        let limit = Duration::from_secs_f64(seconds) + CLIENT_GRACE;
        run_client(&self.peer_ns(), program, args, limit)
    }

    fn note(&self, case: &str, variant: &str, rep: usize, text: &str) {
        println!(
            "  {case:<9} {variant:<20} rep {rep}/{}  {text}",
            self.args.reps
        );
    }

    fn fail(&mut self, case: &str, variant: &str, rep: usize, error: String) {
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

    // ------------------------------------------------------------------------------------
    // Workloads
    // ------------------------------------------------------------------------------------

    /// Runs `run` for every repetition and variant (the variants interleaved within each
    /// repetition, so drift of the machine hits them alike); `report` records a success's
    /// metrics and returns the line to print, a failure is recorded as such.
    fn repeat<T>(
        &mut self,
        case: &'static str,
        variants: &[&'static str],
        mut run: impl FnMut(&mut Bench, &'static str, usize) -> Result<T, String>,
        mut report: impl FnMut(&mut Bench, &'static str, usize, T) -> String,
    ) {
        for rep in 1..=self.args.reps {
            for &variant in variants {
                match run(self, variant, rep) {
                    Ok(measured) => {
                        let line = report(self, variant, rep, measured);
                        self.note(case, variant, rep, &line);
                    }
                    Err(e) => self.fail(case, variant, rep, e),
                }
            }
        }
    }

    fn latency(&mut self) {
        let secs = self.args.latency_seconds;
        let echo = [
            s("--workload"),
            s("echo"),
            s("--size"),
            s("64"),
            s("--connections"),
            s("1"),
        ];
        self.repeat(
            "latency",
            &["xdptcp", "linux", "floor"],
            |b, variant, rep| {
                let hgrm = b.work.join(format!("latency-{variant}-{rep}.hgrm"));
                match variant {
                    "floor" => b.floor_ping(secs, &hgrm),
                    _ => b.echo_run(variant == "linux", &echo, secs, Some(&hgrm)),
                }
            },
            |b, variant, rep, m| {
                for (key, metric) in [
                    ("p50_us", "p50"),
                    ("p99_us", "p99"),
                    ("p99_9_us", "p99.9"),
                    ("max_us", "max"),
                ] {
                    if let Some(&v) = m.get(key) {
                        b.record("latency", variant, metric, rep, v);
                    }
                }
                format!(
                    "RTT p50 {:.2} µs  p99 {:.2}  p99.9 {:.2}  max {:.1}",
                    value(&m, "p50_us"),
                    value(&m, "p99_us"),
                    value(&m, "p99_9_us"),
                    value(&m, "max_us")
                )
            },
        );
        // Keep the histogram of each variant's median repetition (by p50) for the chart.
        for variant in ["xdptcp", "linux", "floor"] {
            let reps: Vec<(usize, f64)> = self
                .samples
                .iter()
                .filter(|x| x.case == "latency" && x.variant == variant && x.metric == "p50")
                .map(|x| (x.rep, x.value))
                .collect();
            if reps.is_empty() {
                continue;
            }
            let mut sorted = reps.clone();
            sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
            let median_rep = sorted[sorted.len() / 2].0;
            let from = self
                .work
                .join(format!("latency-{variant}-{median_rep}.hgrm"));
            let to = self.args.out.join(format!("latency-{variant}.hgrm"));
            if std::fs::copy(&from, &to).is_ok() {
                self.latency_hgrm.push((variant, to));
            }
        }
    }

    /// One echo-server run: the server on `kernel` or xdptcp, the load likewise.
    fn echo_run(
        &mut self,
        kernel: bool,
        load_args: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, String> {
        self.server_run(
            Ends::both(kernel),
            "echo",
            ECHO_PORT,
            load_args,
            seconds,
            hgrm,
        )
    }

    /// One run of `app` with the load on the same stack as the server (`ends`).
    fn server_run(
        &mut self,
        ends: Ends,
        app: &str,
        port: u16,
        load_args: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, String> {
        self.offloads(ends.offloads())?;
        let server = self.start_server(ends.kernel(), app, port)?;
        let result = self.load(ends.kernel(), port, load_args, seconds, hgrm);
        let output = server.stop();
        result.map_err(|e| format!("{e}\nserver output:\n{output}"))
    }

    /// `xdptcp floor <mode>` on the stack side, on the server core and the floor port; ready
    /// when it prints `marker`.
    fn start_floor_server(
        &self,
        mode: &str,
        marker: &'static str,
        extra: &[String],
    ) -> Result<Server, String> {
        let mut args = vec![
            s("floor"),
            s(mode),
            s("--iface"),
            s(STACK_IFACE),
            s("--core"),
            self.args.server_core.to_string(),
            s("--port"),
            FLOOR_PORT.to_string(),
        ];
        args.extend(extra.iter().cloned());
        Server::start(
            &self.stack_ns(),
            &self.exe,
            &args,
            self.log_path("floor.log"),
            Ready::Marker(marker),
        )
    }

    fn floor_ping(&mut self, seconds: f64, hgrm: &Path) -> Result<BTreeMap<String, f64>, String> {
        self.offloads(false)?;
        let server = self.start_floor_server("reflect", "reflecting", &[])?;
        if self.facts.floor_modes.is_none() {
            self.facts.floor_modes = parenthesized(&server.output(), "reflecting");
        }
        let summary = self.work.join("floor.summary");
        let _ = std::fs::remove_file(&summary);
        let client = vec![
            s("floor"),
            s("ping"),
            s("--iface"),
            s(PEER_IFACE),
            s("--core"),
            self.args.load_core.to_string(),
            s("--target"),
            self.target(FLOOR_PORT),
            s("--size"),
            s("64"),
            s("--duration"),
            seconds.to_string(),
            s("--summary"),
            summary.display().to_string(),
            s("--hgrm"),
            hgrm.display().to_string(),
        ];
        let result = self.run_in_peer(&self.exe, &client, seconds);
        let output = server.stop();
        result.map_err(|e| format!("{e}\nreflector output:\n{output}"))?;
        read_summary(&summary)
    }

    fn rpc(&mut self) {
        let secs = self.args.seconds;
        let closed = [
            s("--workload"),
            s("echo"),
            s("--size"),
            s("64"),
            s("--connections"),
            RPC_CONNECTIONS.to_string(),
        ];
        self.repeat(
            "rpc",
            &["xdptcp", "linux"],
            |b, variant, _| b.echo_run(variant == "linux", &closed, secs, None),
            |b, variant, rep, m| {
                let rps = value(&m, "requests_per_second");
                b.record("rpc", variant, "requests/s", rep, rps);
                format!("{rps:.0} requests/s (closed loop)")
            },
        );
        let Some(peak) = self.stat("rpc", "xdptcp", "requests/s") else {
            return;
        };
        for (share, metric, rate_metric) in [
            (0.5, "p99 at 50%", "answered/s at 50%"),
            (0.9, "p99 at 90%", "answered/s at 90%"),
        ] {
            let rate = (peak.median * share).round();
            let open = [
                s("--workload"),
                s("echo"),
                s("--size"),
                s("64"),
                s("--connections"),
                RPC_CONNECTIONS.to_string(),
                s("--rate"),
                rate.to_string(),
            ];
            self.repeat(
                "rpc",
                &["xdptcp", "linux"],
                |b, variant, _| b.echo_run(variant == "linux", &open, secs, None),
                |b, variant, rep, m| {
                    let p99 = value(&m, "p99_us");
                    let answered = value(&m, "requests_per_second");
                    b.record("rpc", variant, metric, rep, p99);
                    b.record("rpc", variant, rate_metric, rep, answered);
                    format!(
                        "open loop {rate:.0}/s ({:.0}% of xdptcp's peak): p99 {p99:.1} µs, {answered:.0} answered/s",
                        share * 100.0
                    )
                },
            );
        }
    }

    fn connect(&mut self) {
        let secs = self.args.seconds;
        let load = [
            s("--workload"),
            s("connect"),
            s("--size"),
            s("64"),
            s("--connections"),
            CONNECT_CONNECTIONS.to_string(),
        ];
        self.repeat(
            "connect",
            &["xdptcp", "linux"],
            |b, variant, _| {
                let ends = Ends::both(variant == "linux");
                b.server_run(ends, "http", HTTP_PORT, &load, secs, None)
            },
            |b, variant, rep, m| {
                let cps = value(&m, "requests_per_second");
                let p99 = value(&m, "p99_us");
                b.record("connect", variant, "connections/s", rep, cps);
                b.record("connect", variant, "p99", rep, p99);
                format!("{cps:.0} connections/s, p99 connect-to-response {p99:.1} µs")
            },
        );
    }

    fn bulk(&mut self) {
        let secs = self.args.seconds;
        let load = [
            s("--workload"),
            s("bulk"),
            s("--size"),
            s("64K"),
            s("--connections"),
            s("1"),
        ];
        self.repeat(
            "bulk",
            &["xdptcp", "linux-offloads-off", "linux-offloads-on", "floor"],
            |b, variant, _| match variant {
                "floor" => b.floor_blast(secs),
                _ => {
                    let ends = match variant {
                        "xdptcp" => Ends::Xdptcp,
                        _ => Ends::Linux {
                            offloads: variant == "linux-offloads-on",
                        },
                    };
                    b.server_run(ends, "discard", DISCARD_PORT, &load, secs, None)
                }
            },
            |b, variant, rep, m| {
                let gbit = value(&m, "gbit_per_second");
                b.record("bulk", variant, "Gbit/s", rep, gbit);
                format!("{gbit:.2} Gbit/s")
            },
        );
    }

    fn floor_blast(&mut self, seconds: f64) -> Result<BTreeMap<String, f64>, String> {
        self.offloads(false)?;
        let summary = self.work.join("sink.summary");
        let _ = std::fs::remove_file(&summary);
        let server = self.start_floor_server(
            "sink",
            "sinking",
            &[s("--summary"), summary.display().to_string()],
        )?;
        let client = vec![
            s("floor"),
            s("blast"),
            s("--iface"),
            s(PEER_IFACE),
            s("--core"),
            self.args.load_core.to_string(),
            s("--target"),
            self.target(FLOOR_PORT),
            s("--duration"),
            seconds.to_string(),
        ];
        let result = self.run_in_peer(&self.exe, &client, seconds);
        let output = server.stop();
        result.map_err(|e| format!("{e}\nsink output:\n{output}"))?;
        read_summary(&summary).map_err(|e| format!("{e}\nsink output:\n{output}"))
    }

    fn sockperf(&mut self) {
        let secs = self.args.seconds;
        self.repeat(
            "sockperf",
            &["xdptcp", "linux"],
            |b, variant, _| b.sockperf_run(variant == "linux", secs),
            |b, variant, rep, (p50, p99)| {
                b.record("sockperf", variant, "p50", rep, p50);
                b.record("sockperf", variant, "p99", rep, p99);
                format!("sockperf latency p50 {p50:.3} µs  p99 {p99:.3} µs")
            },
        );
    }

    fn sockperf_run(&mut self, kernel: bool, seconds: f64) -> Result<(f64, f64), String> {
        // The client is the kernel's either way: offloads off toward xdptcp, on otherwise.
        self.offloads(kernel)?;
        let server = if kernel {
            let args = vec![
                s("-c"),
                self.args.server_core.to_string(),
                s("sockperf"),
                s("server"),
                s("--tcp"),
                s("-i"),
                STACK_IP.to_string(),
                s("-p"),
                SOCKPERF_PORT.to_string(),
            ];
            Server::start(
                &self.stack_ns(),
                Path::new("taskset"),
                &args,
                self.log_path("sockperf-server.log"),
                Ready::Listening(SOCKPERF_PORT),
            )?
        } else {
            self.start_server(false, "sockperf", SOCKPERF_PORT)?
        };
        let client = vec![
            s("-c"),
            self.args.load_core.to_string(),
            s("sockperf"),
            s("ping-pong"),
            s("--tcp"),
            s("-i"),
            STACK_IP.to_string(),
            s("-p"),
            SOCKPERF_PORT.to_string(),
            s("-t"),
            format!("{}", seconds.ceil() as u64),
            s("-m"),
            s("64"),
        ];
        let result = self.run_in_peer(Path::new("taskset"), &client, seconds);
        let output = server.stop();
        let text = result.map_err(|e| format!("{e}\nserver output:\n{output}"))?;
        let p50 = sockperf_percentile(&text, "50.000");
        let p99 = sockperf_percentile(&text, "99.000");
        match (p50, p99) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(format!("no percentiles in sockperf's output:\n{text}")),
        }
    }

    fn segment(&mut self) {
        for (name, path) in [
            (
                "receive, in-order 1460 B, read in place",
                "tcp/receive_in_order_segment_direct_1460B",
            ),
            (
                "receive, in-order 1460 B, buffered",
                "tcp/receive_in_order_segment_1460B",
            ),
            ("send, in-order 1460 B", "tcp/send_in_order_segment_1460B"),
            (
                "64 B echo round trip, two whole stacks, frames and all",
                "stack/echo_round_trip_64B",
            ),
        ] {
            let file = self.args.criterion.join(path).join("new/estimates.json");
            let value = std::fs::read_to_string(&file)
                .ok()
                .and_then(|text| criterion_median_ns(&text));
            if value.is_none() {
                self.failures.push(format!(
                    "segment: no criterion result at {} (run `cargo bench --bench tcp` first)",
                    file.display()
                ));
            }
            println!(
                "  segment   {name:<42} {}",
                value.map_or("missing".into(), |v| format!("{v:.1} ns"))
            );
            self.segment.push((name.to_string(), value));
        }
        self.cycles_note = cycles_support();
        println!("  segment   cycles per request: {}", self.cycles_note);
    }

    // ------------------------------------------------------------------------------------
    // Results
    // ------------------------------------------------------------------------------------

    fn targets(&self) -> Vec<Target> {
        let ratio = |case: &str, a: &str, b: &str, metric: &str| -> Option<f64> {
            let x = self.stat(case, a, metric)?.median;
            let y = self.stat(case, b, metric)?.median;
            (y > 0.0).then(|| x / y)
        };
        let mut t = vec![
            Target {
                case: Case::Latency,
                what: s("latency: RTT p50, xdptcp / Linux"),
                ratio: ratio("latency", "xdptcp", "linux", "p50"),
                bound: 0.4,
                at_most: true,
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p99.9, xdptcp / Linux"),
                ratio: ratio("latency", "xdptcp", "linux", "p99.9"),
                bound: 0.5,
                at_most: true,
            },
            Target {
                case: Case::Latency,
                what: s("latency: RTT p50, xdptcp / AF_XDP floor"),
                ratio: ratio("latency", "xdptcp", "floor", "p50"),
                bound: 1.5,
                at_most: true,
            },
            Target {
                case: Case::Rpc,
                what: s("small RPC: requests/s, xdptcp / Linux"),
                ratio: ratio("rpc", "xdptcp", "linux", "requests/s"),
                bound: 3.0,
                at_most: false,
            },
            Target {
                case: Case::Connect,
                what: s("short connections: connections/s, xdptcp / Linux"),
                ratio: ratio("connect", "xdptcp", "linux", "connections/s"),
                bound: 5.0,
                at_most: false,
            },
            Target {
                case: Case::Bulk,
                what: s("bulk: Gbit/s, xdptcp / Linux with offloads off"),
                ratio: ratio("bulk", "xdptcp", "linux-offloads-off", "Gbit/s"),
                bound: 1.0,
                at_most: false,
            },
            Target {
                case: Case::Sockperf,
                what: s("sockperf: p50, xdptcp server / Linux server"),
                ratio: ratio("sockperf", "xdptcp", "linux", "p50"),
                bound: 0.75,
                at_most: true,
            },
        ];
        for (name, value) in &self.segment {
            if name.starts_with("receive, in-order 1460 B, read in place")
                || name.starts_with("send")
            {
                t.push(Target {
                    case: Case::Segment,
                    what: format!("TCP path per segment ({name}), ns"),
                    ratio: *value,
                    bound: 150.0,
                    at_most: true,
                });
            }
        }
        t.retain(|x| self.selected(x.case));
        t
    }

    fn selected(&self, case: Case) -> bool {
        self.args.only.is_empty() || self.args.only.contains(&case)
    }

    fn cell(&self, case: &str, variant: &str, metric: &str, unit: Unit) -> String {
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

    fn markdown(&self, command: &str, elapsed: Duration, profiles: &[(Case, String)]) -> String {
        let mut md = String::new();
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
        let _ = writeln!(
            md,
            "- Server on core {}, load generator on core {}\n",
            self.args.server_core, self.args.load_core
        );

        let _ = writeln!(md, "| Workload | Metric | xdptcp | Linux | AF_XDP floor |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        let us = Unit::Micros;
        if self.selected(Case::Latency) {
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
        if self.selected(Case::Rpc) {
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
        if self.selected(Case::Connect) {
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
        if self.selected(Case::Bulk) {
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
        if self.selected(Case::Sockperf) {
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
        if self.selected(Case::Segment) {
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

        let _ = writeln!(md, "\n| Target | Measured | Goal | Met |");
        let _ = writeln!(md, "|---|---|---|---|");
        for t in self.targets() {
            let measured = match (t.case, t.ratio) {
                (_, None) => "—".to_string(),
                (Case::Segment, Some(r)) => format!("{r:.0} ns"),
                (_, Some(r)) => format!("{r:.2}×"),
            };
            let goal = match t.case {
                Case::Segment => format!("≤ {:.0} ns", t.bound),
                _ if t.at_most => format!("≤ {}×", t.bound),
                _ => format!("≥ {}×", t.bound),
            };
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
        if !self.failures.is_empty() {
            let _ = writeln!(md, "\nFailed runs:\n");
            for f in &self.failures {
                let _ = writeln!(md, "- {f}");
            }
        }
        md
    }

    /// Profiles one more xdptcp run of `case` with `perf record` (all CPUs, call graphs);
    /// writes the top of the report to `profile-<case>.txt` and returns that name.
    fn profile(&mut self, case: Case) -> Result<String, String> {
        let name = profile_file(case);
        let data = self.work.join("perf.data");
        let seconds = 4.0f64.min(self.args.seconds.max(2.0));
        // perf starts a second into the run (after the server's start-up) and records for
        // `seconds`; the run lasts two seconds longer.
        let record = |bench: &mut Bench, run: &mut dyn FnMut(&mut Bench) -> Result<(), String>| {
            let mut perf = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "sleep 1; exec perf record -e cpu-clock -a -g -o '{}' -- sleep {}",
                    data.display(),
                    seconds as u64
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run perf: {e}"))?;
            let r = run(bench);
            let _ = perf.wait();
            r
        };
        let mut run: Box<ProfiledRun> = match case {
            Case::Latency => Box::new(move |b: &mut Bench| {
                let echo = [s("--workload"), s("echo"), s("--connections"), s("1")];
                b.echo_run(false, &echo, seconds + 2.0, None).map(|_| ())
            }),
            Case::Rpc => Box::new(move |b: &mut Bench| {
                let echo = [
                    s("--workload"),
                    s("echo"),
                    s("--connections"),
                    RPC_CONNECTIONS.to_string(),
                ];
                b.echo_run(false, &echo, seconds + 2.0, None).map(|_| ())
            }),
            Case::Connect => Box::new(move |b: &mut Bench| {
                let load = [
                    s("--workload"),
                    s("connect"),
                    s("--connections"),
                    CONNECT_CONNECTIONS.to_string(),
                ];
                b.server_run(Ends::Xdptcp, "http", HTTP_PORT, &load, seconds + 2.0, None)
                    .map(|_| ())
            }),
            Case::Bulk => Box::new(move |b: &mut Bench| {
                let load = [s("--workload"), s("bulk"), s("--size"), s("64K")];
                b.server_run(
                    Ends::Xdptcp,
                    "discard",
                    DISCARD_PORT,
                    &load,
                    seconds + 2.0,
                    None,
                )
                .map(|_| ())
            }),
            Case::Sockperf => {
                Box::new(move |b: &mut Bench| b.sockperf_run(false, seconds + 2.0).map(|_| ()))
            }
            Case::Segment => return profile_segment(&self.args.out, &name),
        };
        record(self, &mut *run)?;
        let top = perf_report_top(&data, "comm,dso,sym", 45)?;
        let header = format!(
            "# perf record -e cpu-clock -a -g, {seconds} s of one more xdptcp {case:?} run (both ends\n\
             # on xdptcp: server on core {}, load on core {}); perf report --no-children\n\
             # --sort comm,dso,sym. Threads are named xdptcp-q<queue> in both processes; the\n\
             # kernel's share is the copy-mode AF_XDP path (skb build, veth, XDP, copy).\n",
            self.args.server_core, self.args.load_core
        );
        std::fs::write(self.args.out.join(&name), format!("{header}{top}\n"))
            .map_err(|e| e.to_string())?;
        Ok(name)
    }
}

/// The first `lines` entries of `perf report --no-children --sort <sort>` of `data`.
fn perf_report_top(data: &Path, sort: &str, lines: usize) -> Result<String, String> {
    let report = Command::new("perf")
        .args(["report", "--no-children", "--sort", sort])
        .args(["--stdio", "-g", "none", "-i"])
        .arg(data)
        .output()
        .map_err(|e| format!("perf report: {e}"))?;
    let text = String::from_utf8_lossy(&report.stdout);
    let top: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .take(lines)
        .collect();
    Ok(top.join("\n"))
}

/// Profiles the criterion TCP benchmark binary for the per-segment figures.
fn profile_segment(out: &Path, name: &str) -> Result<String, String> {
    let deps = Path::new("target/release/deps");
    let binary = std::fs::read_dir(deps)
        .map_err(|e| format!("{}: {e}", deps.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tcp-") && !n.contains('.'))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or("no criterion tcp benchmark binary in target/release/deps")?;
    let data = std::env::temp_dir().join("xdptcp-bench-segment.perf");
    let status = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-g", "-o"])
        .arg(&data)
        .arg("--")
        .arg(&binary)
        .args(["--bench", "--profile-time", "3", "tcp/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("perf: {e}"))?;
    if !status.success() {
        return Err(format!("perf record of {} failed", binary.display()));
    }
    let top = perf_report_top(&data, "sym", 30)?;
    let header = "# perf record -e cpu-clock -g of the criterion TCP benchmarks (bench/tcp.rs,\n\
                  # --profile-time 3); perf report --no-children --sort sym\n";
    std::fs::write(out.join(name), format!("{header}{top}\n")).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&data);
    Ok(name.to_string())
}

#[derive(Copy, Clone)]
enum Unit {
    Micros,
    Count,
    Gbit,
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
            Unit::Gbit => format!("{v:.2}"),
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Unit::Micros => format!("{} µs", self.bare(v)),
            Unit::Count => self.bare(v),
            Unit::Gbit => format!("{} Gbit/s", self.bare(v)),
        }
    }
}

/// The parenthesized part of the first line of `output` that contains `marker`: the
/// datapath modes a server prints when it starts.
fn parenthesized(output: &str, marker: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains(marker))?;
    let (a, b) = (line.find('(')?, line.rfind(')')?);
    (a < b).then(|| line[a + 1..b].to_string())
}

/// A measured value from a run's summary; NaN (shown as missing) when it has none.
fn value(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(f64::NAN)
}

/// The median of a criterion `estimates.json`, in ns.
fn criterion_median_ns(json: &str) -> Option<f64> {
    let at = json.find("\"median\"")?;
    let rest = &json[at..];
    let p = rest.find("\"point_estimate\"")?;
    let rest = &rest[p + "\"point_estimate\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')
        })
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Whether `perf stat` can count cycles here.
fn cycles_support() -> String {
    match Command::new("perf")
        .args(["stat", "-x,", "-e", "cycles", "--", "true"])
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            if text.contains("<not supported>")
                || text.contains("<not counted>")
                || !o.status.success()
            {
                "not measured: this machine exposes no hardware cycle counter (`perf stat -e cycles` says <not supported>)".into()
            } else {
                "counters available but not yet wired into the bench".into()
            }
        }
        Err(_) => "not measured: perf is not installed".into(),
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU".to_string(), |(_, m)| m.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let virt = if cpuinfo.contains(" hypervisor") {
        ", virtual machine"
    } else {
        ""
    };
    format!("{model}, {cores} cores, {mem_gib:.0} GiB{virt}")
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Today's date (UTC), from the system clock.
fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// The targets as a chart: xdptcp's advantage (the factor it is better by, so that higher
/// is better for every target) against the advantage each target asks for.
fn plot_targets(path: &Path, targets: &[Target]) -> Result<(), String> {
    let bars: Vec<(String, f64, f64)> = targets
        .iter()
        .filter(|t| t.case != Case::Segment)
        .filter_map(|t| {
            let r = t.ratio?;
            let (adv, goal) = if t.at_most {
                (1.0 / r, 1.0 / t.bound)
            } else {
                (r, t.bound)
            };
            Some((t.what.clone(), adv, goal))
        })
        .collect();
    if bars.is_empty() {
        return Ok(());
    }
    let y_max = bars.iter().map(|b| b.1.max(b.2)).fold(1.0, f64::max) * 1.6;
    let y_min = bars.iter().map(|b| b.1.min(b.2)).fold(1.0, f64::min) / 1.6;
    let n = bars.len();
    let root = SVGBackend::new(path, (960, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "xdptcp's advantage over Linux TCP (and the AF_XDP floor): bars measured, ticks = target",
            ("sans-serif", 17),
        )
        .margin(14)
        .margin_bottom(8)
        .x_label_area_size(120)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n as f64, (y_min..y_max).log_scale())
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = bars.iter().map(|b| short_label(&b.0)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (x - 0.5).round();
            if (x - 0.5 - i).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 11))
        .y_desc("factor better than the reference (log)")
        .y_label_formatter(&|y| format!("{y:.1}×"))
        .draw()
        .map_err(|e| e.to_string())?;
    let green = RGBColor(0x2c, 0xa0, 0x2c);
    let red = RGBColor(0xd6, 0x27, 0x28);
    for (i, (_, adv, goal)) in bars.iter().enumerate() {
        let x0 = i as f64 + 0.2;
        let x1 = i as f64 + 0.8;
        let color = if adv >= goal { green } else { red };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, y_min), (x1, *adv)],
                color.mix(0.8).filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0 - 0.08, *goal), (x1 + 0.08, *goal)],
                BLACK.stroke_width(3),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{adv:.2}×"),
                (x0, *adv * 1.08),
                ("sans-serif", 13),
            )))
            .map_err(|e| e.to_string())?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 1.0), (n as f64, 1.0)],
            BLACK.mix(0.4).stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

fn short_label(what: &str) -> String {
    match what {
        w if w.contains("RTT p50, xdptcp / Linux") => "RTT p50 vs Linux".into(),
        w if w.contains("p99.9") => "RTT p99.9 vs Linux".into(),
        w if w.contains("floor") => "RTT p50 vs floor".into(),
        w if w.contains("small RPC") => "RPC req/s".into(),
        w if w.contains("short connections") => "conn/s".into(),
        w if w.contains("bulk") => "bulk (offl. off)".into(),
        w if w.contains("sockperf") => "sockperf p50".into(),
        w => w.chars().take(18).collect(),
    }
}

/// Replaces the text between the README's bench markers.
fn update_readme(path: &Path, section: &str) -> Result<(), String> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!(
            "{} has no {BEGIN} ... {END} section",
            path.display()
        ));
    };
    if b < a {
        return Err(format!("{}: {END} comes before {BEGIN}", path.display()));
    }
    let updated = format!("{}{BEGIN}\n{section}{}", &text[..a], &text[b..]);
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(args: &BenchArgs) -> Result<(), String> {
    if !xdptcp::host::is_root() {
        return Err("the benchmark needs root (network namespaces, XDP, AF_XDP)".into());
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if args.reps == 0 || !positive(args.seconds) || !positive(args.latency_seconds) {
        return Err("--reps and the durations must be positive".into());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if args.server_core >= cores || args.load_core >= cores || args.server_core == args.load_core {
        return Err(format!(
            "--server-core and --load-core must be two different cores of the {cores} here"
        ));
    }
    for tool in ["ip", "ethtool", "ss", "taskset", "sockperf", "perf"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
        if !found {
            return Err(format!(
                "{tool} is not installed (deploy/install-deps.sh installs what the benchmark needs)"
            ));
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let work = std::env::temp_dir().join(format!("xdptcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let lab = Lab::up_with(&args.lab, 1, Topology::Direct).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut bench = Bench {
        args,
        exe,
        lab,
        work: work.clone(),
        samples: Vec::new(),
        failures: Vec::new(),
        facts: Facts::default(),
        segment: Vec::new(),
        cycles_note: String::new(),
        offloads_on: Some(false),
        latency_hgrm: Vec::new(),
    };
    println!(
        "xdptcp bench: {} repetitions; server on core {}, load on core {}; lab {} (direct veth)",
        args.reps, args.server_core, args.load_core, args.lab
    );
    for case in [
        Case::Segment,
        Case::Latency,
        Case::Rpc,
        Case::Connect,
        Case::Bulk,
        Case::Sockperf,
    ] {
        if !bench.selected(case) {
            continue;
        }
        println!("== {case:?}");
        match case {
            Case::Segment => bench.segment(),
            Case::Latency => bench.latency(),
            Case::Rpc => bench.rpc(),
            Case::Connect => bench.connect(),
            Case::Bulk => bench.bulk(),
            Case::Sockperf => bench.sockperf(),
        }
    }
    let mut profiles = Vec::new();
    if !args.no_profile {
        let mut unmet: Vec<Case> = bench
            .targets()
            .iter()
            .filter(|t| t.met() == Some(false))
            .map(|t| t.case)
            .collect();
        unmet.dedup();
        // A profile left from an earlier run whose target is now met would be read as
        // this run's.
        for target in bench.targets() {
            if !unmet.contains(&target.case) {
                let _ = std::fs::remove_file(args.out.join(profile_file(target.case)));
            }
        }
        for case in unmet {
            println!("== profiling {case:?} (target not met)");
            match bench.profile(case) {
                Ok(file) => profiles.push((case, file)),
                Err(e) => println!("  profile of {case:?} failed: {e}"),
            }
        }
    }
    let elapsed = started.elapsed();
    let command = std::env::var("XDPTCP_BENCH_COMMAND").unwrap_or_else(|_| "make bench".into());
    let md = bench.markdown(&command, elapsed, &profiles);
    // The README sits above the results directory: point its links into it.
    let out_dir = args.out.display().to_string();
    let mut section = md.replace("](profile-", &format!("]({out_dir}/profile-"));
    let targets = bench.targets();
    plot_targets(&args.out.join("targets.svg"), &targets)?;
    if !bench.latency_hgrm.is_empty() {
        let mut series = Vec::new();
        for (variant, path) in &bench.latency_hgrm {
            let label = match *variant {
                "xdptcp" => "xdptcp (both ends)",
                "linux" => "Linux TCP (both ends)",
                _ => "AF_XDP floor (no TCP)",
            };
            let points = xdptcp::load::report::read_hgrm(path).map_err(|e| e.to_string())?;
            series.push((label.to_string(), points));
        }
        xdptcp::load::report::plot_svg(
            &args.out.join("latency.svg"),
            "64-byte ping-pong round trip over veth, one connection (median repetition)",
            &series,
        )?;
    }
    let _ = writeln!(section, "\n![targets]({out_dir}/targets.svg)");
    if !bench.latency_hgrm.is_empty() {
        let _ = writeln!(section, "\n![latency]({out_dir}/latency.svg)");
    }
    std::fs::write(args.out.join("bench.md"), &md).map_err(|e| e.to_string())?;
    let mut csv = String::from("case,variant,metric,rep,value\n");
    for x in &bench.samples {
        let _ = writeln!(
            csv,
            "{},{},{},{},{}",
            x.case, x.variant, x.metric, x.rep, x.value
        );
    }
    std::fs::write(args.out.join("runs.csv"), csv).map_err(|e| e.to_string())?;
    println!("\n{md}");
    println!(
        "results: {}/bench.md, targets.svg, latency.svg, runs.csv",
        args.out.display()
    );
    if let Some(readme) = &args.readme {
        update_readme(readme, &section)?;
        println!("{} updated", readme.display());
    }
    drop(bench);
    let _ = std::fs::remove_dir_all(&work);
    let failed = targets.iter().filter(|t| t.met().is_none()).count();
    if failed > 0 || !md.contains("| Target |") {
        return Err(format!(
            "{failed} target(s) could not be measured; see above"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let st = stat(&[3.0, 1.0, 2.0, 10.0, 4.0]).unwrap();
        assert_eq!((st.median, st.min, st.max, st.count), (3.0, 1.0, 10.0, 5));
        assert_eq!(stat(&[1.0, 2.0]).unwrap().median, 1.5);
        assert!(stat(&[]).is_none());
    }

    #[test]
    fn reads_the_modes_a_server_prints() {
        let out = "log line\nxdptcp: serving Echo on 10.77.1.2:7 via xdp0 (1 queue(s), XDP generic (SKB), AF_XDP copy mode); Ctrl-C stops\n";
        assert_eq!(
            parenthesized(out, "serving").as_deref(),
            Some("1 queue(s), XDP generic (SKB), AF_XDP copy mode")
        );
        assert_eq!(parenthesized(out, "reflecting"), None);
        assert_eq!(parenthesized("serving )(", "serving"), None);
    }

    #[test]
    fn parses_sockperf_and_criterion_output() {
        let out = "sockperf: ---> percentile 99.000 =   21.369\nsockperf: ---> percentile 50.000 =   12.553\n";
        assert_eq!(sockperf_percentile(out, "50.000"), Some(12.553));
        assert_eq!(sockperf_percentile(out, "99.000"), Some(21.369));
        assert_eq!(sockperf_percentile(out, "99.900"), None);
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":1.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":120.1,"upper_bound":125.0},"point_estimate":122.75,"standard_error":0.2}}"#;
        assert_eq!(criterion_median_ns(json), Some(122.75));
    }

    #[test]
    fn targets_compare_in_the_right_direction() {
        let t = |ratio, bound, at_most| Target {
            case: Case::Rpc,
            what: String::new(),
            ratio: Some(ratio),
            bound,
            at_most,
        };
        assert_eq!(t(0.3, 0.4, true).met(), Some(true));
        assert_eq!(t(0.5, 0.4, true).met(), Some(false));
        assert_eq!(t(3.5, 3.0, false).met(), Some(true));
        assert_eq!(t(2.0, 3.0, false).met(), Some(false));
    }

    #[test]
    fn dates_are_civil() {
        let d = utc_date();
        assert_eq!(d.len(), 10);
        assert!(d.starts_with("20"));
    }

    #[test]
    fn readme_section_is_replaced() {
        let dir = std::env::temp_dir().join(format!("xdptcp-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("README.md");
        std::fs::write(
            &path,
            "a\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nb\n",
        )
        .unwrap();
        update_readme(&path, "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nb\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
