//! The loss case: goodput and echo latency through the routed lab's impaired router, xdptcp
//! against Linux TCP through the same impairment.
//!
//! A lab of its own (routed: stack, router, peer namespaces) is made for the case and
//! removed after it. Linux peers (`ncat`, `xdptcp load --stack kernel`) run on the far side
//! of the router; in the stack's namespace runs xdptcp (`xdptcp nc`, `xdptcp serve`) or, for
//! the Linux-to-Linux baseline, a Linux endpoint (`ncat`, `xdptcp serve --stack kernel`).
//! Every run applies its impairment afresh (`Lab::impair`, which also makes every packet one
//! wire frame and zeroes the counters) and reads the router's counters after it.
//!
//! Bulk: 256 MiB of random bytes from a file in `/dev/shm`, once per direction, condition,
//! variant and repetition. Goodput is the bytes over the time from the first to the last byte
//! the receiving program writes to its standard output (read by this process), so start-up
//! (XDP attach, UMEM) is not counted for either stack. The received bytes' SHA-256 must equal
//! the sent file's, every run; a mismatch fails the run and is listed.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xdptcp::lab::{Direction, Impairment, Lab, PathImpairment, PEER_IP, STACK_IFACE, STACK_IP};

use super::outputs::{read_summary, value};
use super::process::listening;
use super::runs::RunError;
use super::{s, workload, Bench, ECHO_PORT};

/// Bytes of each bulk transfer.
pub(super) const LOSS_BYTES: u64 = 256 << 20;

/// How long one bulk transfer may take before it is taken for hung.
const TRANSFER_LIMIT: Duration = Duration::from_secs(600);

/// One impairment of the bulk runs (both directions of the router alike).
pub(super) struct Condition {
    pub(super) label: &'static str,
    pub(super) loss: f64,
    pub(super) duplicate: f64,
}

pub(super) const CONDITIONS: [Condition; 4] = [
    Condition {
        label: "clean (per-frame lab, counted)",
        loss: 0.0,
        duplicate: 0.0,
    },
    Condition {
        label: "0.2% loss",
        loss: 0.002,
        duplicate: 0.0,
    },
    Condition {
        label: "2% loss",
        loss: 0.02,
        duplicate: 0.0,
    },
    Condition {
        label: "0.2% loss + 1% duplication",
        loss: 0.002,
        duplicate: 0.01,
    },
];

/// The direction of the data.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) enum Flow {
    /// Linux peer → the stack's namespace (xdptcp receives).
    ToStack,
    /// The stack's namespace → Linux peer (xdptcp sends).
    ToPeer,
}

pub(super) const FLOWS: [Flow; 2] = [Flow::ToStack, Flow::ToPeer];

impl Flow {
    pub(super) fn label(self) -> &'static str {
        match self {
            Flow::ToStack => "peer → stack (xdptcp receives)",
            Flow::ToPeer => "stack → peer (xdptcp sends)",
        }
    }

    fn index(self) -> usize {
        match self {
            Flow::ToStack => 0,
            Flow::ToPeer => 1,
        }
    }

    fn direction(self) -> Direction {
        match self {
            Flow::ToStack => Direction::ToStack,
            Flow::ToPeer => Direction::ToPeer,
        }
    }
}

/// The goodput metric of a flow under a condition (Gbit/s).
pub(super) fn goodput_metric(flow: Flow, condition: usize) -> &'static str {
    const NAMES: [[&str; 4]; 2] = [
        [
            "to-stack clean Gbit/s",
            "to-stack 0.2% Gbit/s",
            "to-stack 2% Gbit/s",
            "to-stack 0.2%+dup1% Gbit/s",
        ],
        [
            "to-peer clean Gbit/s",
            "to-peer 0.2% Gbit/s",
            "to-peer 2% Gbit/s",
            "to-peer 0.2%+dup1% Gbit/s",
        ],
    ];
    NAMES[flow.index()][condition]
}

/// The router's measured loss share in the data direction of a flow under a condition (%).
fn lost_metric(flow: Flow, condition: usize) -> &'static str {
    const NAMES: [[&str; 4]; 2] = [
        [
            "to-stack clean lost%",
            "to-stack 0.2% lost%",
            "to-stack 2% lost%",
            "to-stack 0.2%+dup1% lost%",
        ],
        [
            "to-peer clean lost%",
            "to-peer 0.2% lost%",
            "to-peer 2% lost%",
            "to-peer 0.2%+dup1% lost%",
        ],
    ];
    NAMES[flow.index()][condition]
}

/// The loss of the echo latency runs.
pub(super) const LATENCY_LOSS: f64 = 0.002;

/// What one bulk transfer measured.
struct Transfer {
    bytes: u64,
    seconds: f64,
}

/// A process in a namespace, its standard error in a log file.
fn spawn_in(
    ns: &str,
    program: &str,
    args: &[String],
    stdin: Stdio,
    stdout: Stdio,
    log: &Path,
) -> Result<Child, RunError> {
    let err = File::create(log).map_err(|e| failure(format!("{}: {e}", log.display())))?;
    Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(err)
        .spawn()
        .map_err(|e| failure(format!("cannot start {program}: {e}")))
}

fn failure(text: String) -> RunError {
    RunError::Loss(text)
}

/// Waits for `child` until `deadline`; kills it past that.
fn wait_until(
    child: &mut Child,
    what: &str,
    deadline: Instant,
    log: &Path,
) -> Result<(), RunError> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                return Err(failure(format!("{what} failed ({status}):\n{output}")));
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let output = std::fs::read_to_string(log).unwrap_or_default();
                return Err(failure(format!(
                    "{what} did not finish within {TRANSFER_LIMIT:?}:\n{output}"
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failure(format!("{what}: {e}"))),
        }
    }
}

/// `sha256sum` of a file.
fn sha256(path: &Path) -> Result<String, RunError> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(|e| failure(format!("sha256sum: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(|| failure(format!("sha256sum {} printed nothing", path.display())))
}

/// Copies `from` into the file `to`, timing the first and the last byte; returns the bytes
/// and the seconds between them.
fn drain_timed(mut from: impl Read, to: &Path) -> std::io::Result<(u64, f64)> {
    let mut file = File::create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut first, mut last) = (0u64, None, None);
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last = Some(now);
        file.write_all(&buf[..n])?;
        bytes += n as u64;
    }
    let seconds = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    Ok((bytes, seconds))
}

impl Bench<'_> {
    /// The loss case: the bulk runs, then the echo latency runs, on a routed lab of its own.
    pub(super) fn loss(&mut self) {
        let Some(lab) = self.routed_lab("loss", "l") else {
            return;
        };
        let data = PathBuf::from(format!("/dev/shm/xdptcp-bench-{}.in", std::process::id()));
        let made = Command::new("head")
            .args(["-c", &LOSS_BYTES.to_string(), "/dev/urandom"])
            .stdout(
                File::create(&data)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .status();
        let want = match (made, sha256(&data)) {
            (Ok(st), Ok(sum)) if st.success() => sum,
            _ => {
                self.failures.push(format!(
                    "loss: cannot write {} bytes to {}",
                    LOSS_BYTES,
                    data.display()
                ));
                let _ = std::fs::remove_file(&data);
                return;
            }
        };
        println!(
            "  loss      {} MiB of random bytes, SHA-256 {}…",
            LOSS_BYTES >> 20,
            &want[..16]
        );
        let started = Instant::now();
        for (c, condition) in CONDITIONS.iter().enumerate() {
            let imp = Impairment::both(PathImpairment {
                loss: condition.loss,
                duplicate: condition.duplicate,
                ..PathImpairment::default()
            });
            for flow in FLOWS {
                let metric = goodput_metric(flow, c);
                let case = "loss";
                self.repeat(
                    case,
                    &["xdptcp", "linux"],
                    |b, variant, rep| {
                        let port = 5100 + (rep * 8 + c * 2 + flow.index()) as u16;
                        lab.impair(&imp)?;
                        let t = b.transfer(&lab, flow, variant == "linux", &data, &want, port)?;
                        let counters = lab.counters()?;
                        let d = counters.direction(flow.direction());
                        let lost = 100.0 * d.lost as f64 / d.tcp_packets.max(1) as f64;
                        Ok((t, lost, d.duplicated))
                    },
                    |b, variant, rep, (t, lost, duplicated)| {
                        let gbit = t.bytes as f64 * 8.0 / t.seconds / 1e9;
                        b.record("loss", variant, metric, rep, gbit);
                        b.record("loss", variant, lost_metric(flow, c), rep, lost);
                        format!(
                            "{}, {}: {gbit:.3} Gbit/s ({:.2} s), router lost {lost:.2}% duplicated {duplicated}, SHA-256 equal",
                            condition.label,
                            flow.label(),
                            t.seconds
                        )
                    },
                );
            }
        }
        let bulk_time = started.elapsed();
        self.facts.loss_bulk_minutes = Some(bulk_time.as_secs_f64() / 60.0);
        let _ = std::fs::remove_file(&data);
        let started = Instant::now();
        self.loss_latency(&lab);
        self.facts.loss_latency_minutes = Some(started.elapsed().as_secs_f64() / 60.0);
        drop(lab);
    }

    /// One bulk transfer of `data` in direction `flow`; the stack's end is xdptcp or
    /// (`linux`) ncat. Always ncat at the peer. The peer listens, the stack's end connects.
    fn transfer(
        &mut self,
        lab: &Lab,
        flow: Flow,
        linux: bool,
        data: &Path,
        want: &str,
        port: u16,
    ) -> Result<Transfer, RunError> {
        let (stack_ns, peer_ns) = (lab.stack_ns(), lab.peer_ns());
        let received = PathBuf::from(format!("/dev/shm/xdptcp-bench-{}.out", std::process::id()));
        let peer_log = self.log_path("loss-peer.log");
        let stack_log = self.log_path("loss-stack.log");
        let open = |p: &Path| File::open(p).map_err(|e| failure(format!("{}: {e}", p.display())));
        let load_core = self.args.load_core.to_string();
        let server_core = self.args.server_core.to_string();
        let mut listen = vec![s("-c"), load_core, s("ncat"), s("-l")];
        let (peer_in, peer_out) = match flow {
            Flow::ToStack => {
                listen.push(s("--send-only"));
                (Stdio::from(open(data)?), Stdio::null())
            }
            Flow::ToPeer => {
                listen.push(s("--recv-only"));
                (Stdio::null(), Stdio::piped())
            }
        };
        listen.push(port.to_string());
        let mut peer = spawn_in(&peer_ns, "taskset", &listen, peer_in, peer_out, &peer_log)?;
        let ready = Instant::now();
        while !listening(&peer_ns, port) {
            if ready.elapsed() > Duration::from_secs(10) {
                let _ = peer.kill();
                let _ = peer.wait();
                return Err(failure(format!(
                    "ncat -l {port} did not listen within 10 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let target = [PEER_IP.to_string(), port.to_string()];
        let exe = self.exe.display().to_string();
        let (program, mut args) = if linux {
            (
                "taskset",
                vec![
                    s("-c"),
                    server_core,
                    s("ncat"),
                    s(if flow == Flow::ToStack {
                        "--recv-only"
                    } else {
                        "--send-only"
                    }),
                ],
            )
        } else {
            (
                exe.as_str(),
                vec![
                    s("nc"),
                    s("--iface"),
                    s(STACK_IFACE),
                    s("--cores"),
                    server_core,
                    s("--stats"),
                ],
            )
        };
        args.extend(target);
        let (stack_in, stack_out) = match flow {
            Flow::ToStack => (Stdio::null(), Stdio::piped()),
            Flow::ToPeer => (Stdio::from(open(data)?), Stdio::null()),
        };
        let mut stack = match spawn_in(&stack_ns, program, &args, stack_in, stack_out, &stack_log) {
            Ok(child) => child,
            Err(e) => {
                let _ = peer.kill();
                let _ = peer.wait();
                return Err(e);
            }
        };
        let receiver_out = match flow {
            Flow::ToStack => stack.stdout.take(),
            Flow::ToPeer => peer.stdout.take(),
        };
        let to = received.clone();
        let drain = std::thread::spawn(move || match receiver_out {
            Some(out) => drain_timed(out, &to),
            None => Ok((0, 0.0)),
        });
        let deadline = Instant::now() + TRANSFER_LIMIT;
        let stack_what = if linux {
            "ncat (stack side)"
        } else {
            "xdptcp nc"
        };
        let stack_done = wait_until(&mut stack, stack_what, deadline, &stack_log);
        if stack_done.is_err() {
            let _ = peer.kill();
        }
        let peer_done = wait_until(&mut peer, "ncat -l (peer)", deadline, &peer_log);
        let drained = drain.join();
        stack_done?;
        peer_done?;
        let (bytes, seconds) = match drained {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return Err(failure(format!("reading the receiver's output: {e}"))),
            Err(_) => return Err(failure("the reading thread panicked".into())),
        };
        let got = sha256(&received)?;
        let _ = std::fs::remove_file(&received);
        if got != want || bytes != LOSS_BYTES {
            return Err(failure(format!(
                "SHA-256 MISMATCH: received {bytes} bytes with SHA-256 {got}, sent {LOSS_BYTES} with {want}"
            )));
        }
        if !linux {
            let stats = std::fs::read_to_string(&stack_log).unwrap_or_default();
            if let Some(line) = stats.lines().find(|l| l.starts_with("queue 0:")) {
                println!("    {line}");
            }
        }
        Ok(Transfer { bytes, seconds })
    }

    /// 64-byte echo, one connection, closed loop, through 0.2% loss each way: the server
    /// in the stack's namespace on xdptcp or Linux, the load from the Linux peer.
    fn loss_latency(&mut self, lab: &Lab) {
        let secs = self.args.latency_seconds;
        let imp = Impairment::both(PathImpairment {
            loss: LATENCY_LOSS,
            ..PathImpairment::default()
        });
        self.repeat(
            "loss-rtt",
            &["xdptcp", "linux"],
            |b, variant, _| {
                lab.impair(&imp)?;
                b.loss_echo(lab, variant == "linux", secs)
            },
            |b, variant, rep, m| {
                for (key, metric) in [
                    ("p50_us", "rtt p50"),
                    ("p99_us", "rtt p99"),
                    ("p99_9_us", "rtt p99.9"),
                    ("requests_per_second", "rtt requests/s"),
                ] {
                    if let Some(&v) = m.get(key) {
                        b.record("loss", variant, metric, rep, v);
                    }
                }
                format!(
                    "echo under 0.2% loss: RTT p50 {:.1} µs  p99 {:.1}  p99.9 {:.1}  ({:.0} round trips/s)",
                    value(&m, "p50_us"),
                    value(&m, "p99_us"),
                    value(&m, "p99_9_us"),
                    value(&m, "requests_per_second"),
                )
            },
        );
    }

    fn loss_echo(
        &mut self,
        lab: &Lab,
        linux: bool,
        seconds: f64,
    ) -> Result<std::collections::BTreeMap<String, f64>, RunError> {
        let mut args = vec![s("serve")];
        if linux {
            args.extend([s("--stack"), s("kernel")]);
        } else {
            args.extend([s("--iface"), s(STACK_IFACE)]);
        }
        args.extend([
            s("--port"),
            ECHO_PORT.to_string(),
            s("--app"),
            s("echo"),
            s("--cores"),
            self.args.server_core.to_string(),
        ]);
        let server = super::process::Server::start(
            &lab.stack_ns(),
            &self.exe,
            &args,
            self.log_path("loss-server.log"),
            super::process::Ready::Marker("serving"),
        )?;
        let summary = self.work.join("loss-load.summary");
        let _ = std::fs::remove_file(&summary);
        let mut load = vec![
            s("load"),
            s("--stack"),
            s("kernel"),
            s("--cores"),
            self.args.load_core.to_string(),
            s("--target"),
            format!("{STACK_IP}:{ECHO_PORT}"),
            s("--duration"),
            seconds.to_string(),
            s("--summary"),
            summary.display().to_string(),
            s("--quiet"),
        ];
        load.extend(workload("echo", "64", 1));
        let limit = Duration::from_secs_f64(seconds) + super::process::CLIENT_GRACE;
        let result = super::process::run_client(&lab.peer_ns(), &self.exe, &load, limit);
        let output = server.stop();
        result.map_err(|e| RunError::Loss(format!("{e}\nserver output:\n{output}")))?;
        Ok(read_summary(&summary)?)
    }
}
