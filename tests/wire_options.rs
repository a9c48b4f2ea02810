//! What xdptcp negotiates, seen on the wire: frames captured with `tshark` on the routed
//! lab's router interface facing the stack (`rt-stack`) while Linux peers talk to xdptcp,
//! then read back from the capture file.
//!
//! - Passive open: our SYN,ACK carries SACK-permitted (RFC 2018) and timestamps (RFC 7323)
//!   when the Linux SYN offers them, neither when the peer's namespace turns them off
//!   (`net.ipv4.tcp_sack=0`, `tcp_timestamps=0`, which are per network namespace), and
//!   neither when our configuration turns them off (`[tcp] sack = false, timestamps =
//!   false`). Our TSvals are not the raw clock and differ between 4-tuples (RFC 7323 §7.1).
//! - Active open: `xdptcp nc`'s SYN offers both to a Linux `ncat -l`.
//! - D-SACK (RFC 2883): segments the router duplicates toward the stack draw ACKs whose first
//!   SACK block names the duplicate.
//!
//! Why on the router: AF_XDP takes the stack's frames before the kernel's packet taps see
//! them, in both directions, so a capture on `xdp0` itself is empty.
//!
//! These tests need root (namespaces, XDP, AF_XDP, nftables). Without it they say so and
//! skip; in `make test`, run as root, they run. They take a lock so they run one at a time.

use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xdptcp::lab::{Impairment, Lab, PathImpairment, PEER_IP, STACK_IFACE, STACK_IP};

const BIN: &str = env!("CARGO_BIN_EXE_xdptcp");
static SERIAL: Mutex<()> = Mutex::new(());
/// The router's interface toward the stack (see `xdptcp::lab`).
const ROUTER_STACK_IFACE: &str = "rt-stack";
/// TCP option kinds (IANA): SACK-permitted, SACK, timestamps.
const SACK_PERMITTED: u8 = 4;
const SACK: u8 = 5;
const TIMESTAMPS: u8 = 8;

/// Takes the serial lock and builds a routed lab, or says why the test is skipped.
fn setup(tag: &str) -> Option<(MutexGuard<'static, ()>, Lab)> {
    if !xdptcp::host::is_root() {
        eprintln!("skipped: needs root (network namespaces, XDP, AF_XDP and nftables)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("w{}{tag}", std::process::id() % 100_000);
    Some((serial, Lab::up(&name, 1).expect("lab up")))
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xdptcp-wiretest-{}-{name}", std::process::id()))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `program args` in namespace `ns` with a time limit of 60 s.
fn run_in(ns: &str, program: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "60", program])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn read_to_string(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// A process started under `ip netns exec` (which execs it, so the pid is the program's),
/// its output in a file; killed on drop.
struct Background {
    child: Child,
    log: PathBuf,
}

impl Background {
    /// Starts `program args` in `ns` and waits until `ready` appears in its output.
    fn start(ns: &str, program: &str, args: &[&str], ready: &str) -> Background {
        let log = temp_path(&format!("{ns}-{}.log", program.rsplit('/').next().unwrap()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let mut started = Background { child, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = read_to_string(&started.log);
            if out.contains(ready) {
                return started;
            }
            if let Ok(Some(status)) = started.child.try_wait() {
                panic!("{program} {args:?} exited with {status} before it was ready:\n{out}");
            }
            assert!(
                Instant::now() < deadline,
                "{program} {args:?} not ready:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit (at most `limit`); returns whether it succeeded and its output.
    fn wait(mut self, limit: Duration) -> (bool, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), read_to_string(&self.log));
            }
            assert!(Instant::now() < deadline, "{:?} did not exit", self.log);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGINT, then waits for the exit; returns whether it succeeded and its output.
    fn stop(self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait(Duration::from_secs(15))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `xdptcp serve` in the stack's namespace.
fn serve(lab: &Lab, args: &[&str]) -> Background {
    let mut all = vec!["serve", "--iface", STACK_IFACE];
    all.extend_from_slice(args);
    Background::start(&lab.stack_ns(), BIN, &all, "serving")
}

/// A tshark capture of TCP `port` on the router's interface toward the stack.
struct Capture {
    tshark: Background,
    file: PathBuf,
}

impl Capture {
    fn start(lab: &Lab, port: u16) -> Capture {
        let file = temp_path(&format!("{}-{port}.pcap", lab.name()));
        let _ = std::fs::remove_file(&file);
        let filter = format!("tcp port {port}");
        let tshark = Background::start(
            &lab.router_ns(),
            "tshark",
            &[
                "-i",
                ROUTER_STACK_IFACE,
                "-n",
                // Headers and options are all the test reads.
                "-s",
                "128",
                "-f",
                &filter,
                // A capture this test forgets cannot outlive it by much.
                "-a",
                "duration:120",
                "-w",
                file.to_str().unwrap(),
            ],
            "Capturing on",
        );
        Capture { tshark, file }
    }

    /// Stops the capture (after a moment for the last frames) and parses what it holds.
    fn finish(self) -> Vec<Frame> {
        std::thread::sleep(Duration::from_millis(300));
        let (ok, out) = self.tshark.stop();
        assert!(ok, "tshark failed:\n{out}");
        let frames = parse_capture(&self.file);
        let _ = std::fs::remove_file(&self.file);
        frames
    }
}

/// The fields of one captured TCP frame that the tests read (sequence numbers absolute).
#[derive(Clone, Debug)]
struct Frame {
    time: f64,
    src: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    flags: u16,
    seq: u32,
    ack: u32,
    len: u32,
    /// Option kinds in the order they appear (NOPs included).
    kinds: Vec<u8>,
    tsval: Option<u32>,
    tsecr: Option<u32>,
    /// SACK blocks, first first.
    sack: Vec<(u32, u32)>,
    /// What tshark calls a D-SACK (a first block below the ACK or inside the second).
    tshark_dsack: Option<(u32, u32)>,
}

impl Frame {
    fn has(&self, kind: u8) -> bool {
        self.kinds.contains(&kind)
    }
    fn syn(&self) -> bool {
        self.flags & 0x02 != 0
    }
    fn is_ack(&self) -> bool {
        self.flags & 0x10 != 0
    }
    fn sent_by_stack(&self) -> bool {
        self.src == STACK_IP
    }
    /// The option kinds, named, NOPs left out.
    fn options(&self) -> String {
        let names: Vec<&str> = self
            .kinds
            .iter()
            .filter(|&&k| k != 1)
            .map(|&k| match k {
                2 => "mss",
                3 => "wscale",
                SACK_PERMITTED => "sack-permitted",
                SACK => "sack",
                TIMESTAMPS => "timestamps",
                _ => "other",
            })
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(",")
        }
    }
    /// RFC 2883 §4: the first SACK block reports a duplicate if it lies below the cumulative
    /// ACK or inside the second block.
    fn dsack(&self) -> Option<(u32, u32)> {
        let &(left, right) = self.sack.first()?;
        let below_ack = (self.ack.wrapping_sub(right) as i32) >= 0;
        let inside_second = self.sack.get(1).is_some_and(|&(l2, r2)| {
            (left.wrapping_sub(l2) as i32) >= 0 && (r2.wrapping_sub(right) as i32) >= 0
        });
        (below_ack || inside_second).then_some((left, right))
    }
}

const FIELDS: [&str; 15] = [
    "frame.time_relative",
    "ip.src",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq",
    "tcp.ack",
    "tcp.len",
    "tcp.option_kind",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "tcp.options.sack.dsack_le",
    "tcp.options.sack.dsack_re",
];

/// Reads a capture file with `tshark -T fields`.
fn parse_capture(file: &Path) -> Vec<Frame> {
    let mut args: Vec<&str> = vec![
        "-r",
        file.to_str().unwrap(),
        "-n",
        "-o",
        "tcp.relative_sequence_numbers:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ];
    for field in FIELDS {
        args.extend(["-e", field]);
    }
    let out = Command::new("tshark").args(&args).output().expect("tshark");
    assert!(out.status.success(), "tshark -r: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| parse_frame(line).unwrap_or_else(|| panic!("cannot parse {line:?}")))
        .collect()
}

fn parse_frame(line: &str) -> Option<Frame> {
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != FIELDS.len() {
        return None;
    }
    fn list<T: std::str::FromStr>(s: &str) -> Option<Vec<T>> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().ok())
            .collect()
    }
    fn one(s: &str) -> Option<Option<u32>> {
        Some(list::<u32>(s)?.first().copied())
    }
    let lefts: Vec<u32> = list(f[11])?;
    let rights: Vec<u32> = list(f[12])?;
    let dsack = match (one(f[13])?, one(f[14])?) {
        (Some(l), Some(r)) => Some((l, r)),
        _ => None,
    };
    Some(Frame {
        time: f[0].parse().ok()?,
        src: f[1].parse().ok()?,
        src_port: f[2].parse().ok()?,
        dst_port: f[3].parse().ok()?,
        flags: u16::from_str_radix(f[4].trim_start_matches("0x"), 16).ok()?,
        seq: f[5].parse().ok()?,
        ack: f[6].parse().unwrap_or(0),
        len: f[7].parse().ok()?,
        kinds: list(f[8])?,
        tsval: one(f[9])?,
        tsecr: one(f[10])?,
        sack: lefts.into_iter().zip(rights).collect(),
        tshark_dsack: dsack,
    })
}

/// The handshake of the connection from `client_port` in `frames`: (SYN, SYN,ACK).
fn handshake(frames: &[Frame], client_port: u16, client: Ipv4Addr) -> (&Frame, &Frame) {
    let syn = frames
        .iter()
        .find(|f| f.syn() && !f.is_ack() && f.src == client && f.src_port == client_port)
        .unwrap_or_else(|| panic!("no SYN from {client}:{client_port} in {frames:#?}"));
    let syn_ack = frames
        .iter()
        .find(|f| f.syn() && f.is_ack() && f.src != client && f.dst_port == client_port)
        .unwrap_or_else(|| panic!("no SYN,ACK to {client}:{client_port} in {frames:#?}"));
    (syn, syn_ack)
}

/// The client ports of the SYNs from `client` in `frames`, in order, each once.
fn client_ports(frames: &[Frame], client: Ipv4Addr) -> Vec<u16> {
    let mut ports = Vec::new();
    for f in frames {
        if f.syn() && !f.is_ack() && f.src == client && !ports.contains(&f.src_port) {
            ports.push(f.src_port);
        }
    }
    ports
}

/// The net.ipv4 sysctl `name` of the namespace this process runs in.
fn own_sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
        .unwrap()
        .trim()
        .to_string()
}

fn curl(lab: &Lab, url: &str) {
    let out = run_in(
        &lab.peer_ns(),
        "curl",
        &["-sS", "--max-time", "10", "-o", "/dev/null", url],
    );
    assert!(out.status.success(), "curl {url}: {}", text(&out));
}

/// Asserts that `tsval` is not the raw timestamp clock: neither milliseconds since boot (the
/// monotonic clock the stack reads) nor milliseconds since the stack started. A keyed
/// 32-bit offset lands within a minute of either with a probability of about 6 in 10⁵.
fn assert_not_raw_clock(what: &str, tsval: u32) {
    let uptime_ms = (xdptcp::Instant::now_monotonic().as_nanos() / 1_000_000) as u32;
    let near = |a: u32, b: u32| (a.wrapping_sub(b) as i32).unsigned_abs() < 60_000;
    assert!(
        !near(tsval, uptime_ms) && !near(tsval, 0),
        "{what}: TSval {tsval} is the raw clock (uptime {uptime_ms} ms)"
    );
}

#[test]
fn passive_open_syn_ack_answers_the_linux_offers_and_our_config() {
    let Some((_serial, lab)) = setup("pass") else {
        return;
    };
    let url = format!("http://{STACK_IP}:8080/");
    let capture = Capture::start(&lab, 8080);
    let server = serve(&lab, &["--port", "8080", "--app", "http"]);
    // Two connections with Linux's defaults (both options offered), then two with the peer's
    // namespace offering neither.
    curl(&lab, &url);
    curl(&lab, &url);
    let host_before = (own_sysctl("tcp_sack"), own_sysctl("tcp_timestamps"));
    let off = run_in(
        &lab.peer_ns(),
        "sysctl",
        &["-qw", "net.ipv4.tcp_sack=0", "net.ipv4.tcp_timestamps=0"],
    );
    assert!(off.status.success(), "sysctl: {}", text(&off));
    let peer = run_in(
        &lab.peer_ns(),
        "sysctl",
        &["-n", "net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps"],
    );
    assert_eq!(
        text(&peer).split_whitespace().collect::<Vec<_>>(),
        ["0", "0"]
    );
    // Per namespace: the host's (this process's) settings did not change.
    assert_eq!(
        (own_sysctl("tcp_sack"), own_sysctl("tcp_timestamps")),
        host_before
    );
    curl(&lab, &url);
    let (ok, out) = server.stop();
    assert!(ok, "serve failed:\n{out}");

    // Our side turned off by configuration, the peer's on again.
    let on = run_in(
        &lab.peer_ns(),
        "sysctl",
        &["-qw", "net.ipv4.tcp_sack=1", "net.ipv4.tcp_timestamps=1"],
    );
    assert!(on.status.success(), "sysctl: {}", text(&on));
    let config = temp_path("no-options.toml");
    std::fs::write(
        &config,
        "interface = \"xdp0\"\n[[listen]]\nport = 8080\napp = \"http\"\n\
         [tcp]\ntimestamps = false\nsack = false\n",
    )
    .unwrap();
    let server = serve(&lab, &["--config", config.to_str().unwrap()]);
    curl(&lab, &url);
    let (ok, out) = server.stop();
    assert!(ok, "serve --config failed:\n{out}");
    let _ = std::fs::remove_file(&config);
    let frames = capture.finish();

    let ports = client_ports(&frames, PEER_IP);
    assert_eq!(ports.len(), 4, "four connections: {frames:#?}");
    let conn = |i: usize| handshake(&frames, ports[i], PEER_IP);

    // 1. Linux offers both: our SYN,ACK carries both, echoing the peer's TSval.
    let mut our_tsvals = Vec::new();
    for &port in &ports[..2] {
        let (syn, syn_ack) = handshake(&frames, port, PEER_IP);
        assert!(syn.has(SACK_PERMITTED) && syn.has(TIMESTAMPS), "{syn:?}");
        assert!(
            syn_ack.has(SACK_PERMITTED) && syn_ack.has(TIMESTAMPS),
            "SYN,ACK options {} (Linux SYN: {})",
            syn_ack.options(),
            syn.options()
        );
        assert_eq!(syn_ack.tsecr, syn.tsval, "TSecr echoes the SYN's TSval");
        let tsval = syn_ack.tsval.unwrap();
        assert_not_raw_clock("our SYN,ACK", tsval);
        our_tsvals.push((syn_ack.time, tsval));
        // Timestamps on every later segment of ours (RFC 7323 §3.2).
        let later: Vec<&Frame> = frames
            .iter()
            .filter(|f| f.sent_by_stack() && f.dst_port == port && !f.syn())
            .collect();
        assert!(!later.is_empty());
        assert!(later.iter().all(|f| f.has(TIMESTAMPS)), "{later:#?}");
    }
    let (syn, syn_ack) = conn(0);
    println!(
        "passive open, Linux SYN offers {}: our SYN,ACK carries {} (TSval {}, TSecr {} = Linux's TSval)",
        syn.options(),
        syn_ack.options(),
        syn_ack.tsval.unwrap(),
        syn_ack.tsecr.unwrap()
    );
    // Keyed per 4-tuple (RFC 7323 §7.1): the two connections' TSvals differ by far more than
    // the time between them (1 ms ticks), unless the two offsets are within a second.
    let [(t0, ts0), (t1, ts1)] = [our_tsvals[0], our_tsvals[1]];
    let elapsed_ms = ((t1 - t0) * 1000.0).round() as i64;
    let skew = i64::from(ts1.wrapping_sub(ts0) as i32) - elapsed_ms;
    assert!(
        skew.abs() > 1000,
        "two 4-tuples, TSvals {ts0} and {ts1} {elapsed_ms} ms apart: one clock offset"
    );
    println!(
        "TSval offsets: not the raw clock (uptime {} ms); two 4-tuples {elapsed_ms} ms apart have TSvals {ts0} and {ts1}",
        xdptcp::Instant::now_monotonic().as_nanos() / 1_000_000
    );

    // 2. The peer offers neither: our SYN,ACK carries neither.
    let (syn, syn_ack) = conn(2);
    assert!(!syn.has(SACK_PERMITTED) && !syn.has(TIMESTAMPS), "{syn:?}");
    assert!(
        !syn_ack.has(SACK_PERMITTED) && !syn_ack.has(TIMESTAMPS),
        "SYN,ACK options {} to a SYN with {}",
        syn_ack.options(),
        syn.options()
    );
    assert!(frames
        .iter()
        .filter(|f| f.dst_port == ports[2] || f.src_port == ports[2])
        .all(|f| !f.has(TIMESTAMPS) && !f.has(SACK)));
    println!(
        "passive open, peer netns tcp_sack=0 tcp_timestamps=0, Linux SYN offers {}: our SYN,ACK carries {}",
        syn.options(),
        syn_ack.options()
    );

    // 3. Our configuration says no: neither, though Linux offers both.
    let (syn, syn_ack) = conn(3);
    assert!(syn.has(SACK_PERMITTED) && syn.has(TIMESTAMPS), "{syn:?}");
    assert!(
        !syn_ack.has(SACK_PERMITTED) && !syn_ack.has(TIMESTAMPS),
        "SYN,ACK options {} with [tcp] sack = false, timestamps = false",
        syn_ack.options()
    );
    println!(
        "passive open, [tcp] sack = false, timestamps = false, Linux SYN offers {}: our SYN,ACK carries {}",
        syn.options(),
        syn_ack.options()
    );
}

#[test]
fn active_open_syn_offers_sack_and_timestamps() {
    let Some((_serial, lab)) = setup("act") else {
        return;
    };
    let port = 5000;
    let capture = Capture::start(&lab, port);
    let received = temp_path("active-received");
    let listener = Background::start(
        &lab.peer_ns(),
        "sh",
        &[
            "-c",
            &format!(
                "ncat -l {port} --recv-only > {} & sleep 0.01; \
                 while ! ss -Hltn 'sport = :{port}' | grep -q .; do sleep 0.05; done; \
                 echo listening; wait",
                received.display()
            ),
        ],
        "listening",
    );
    let input = temp_path("active-input");
    std::fs::write(&input, b"options on the wire\n").unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.stack_ns(), "timeout", "60", BIN])
        .args(["nc", "--iface", STACK_IFACE, "-w", "5"])
        .args([&PEER_IP.to_string(), &port.to_string()])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "xdptcp nc: {}", text(&out));
    let (ok, out) = listener.wait(Duration::from_secs(10));
    assert!(ok, "ncat -l failed: {out}");
    let frames = capture.finish();
    assert_eq!(
        std::fs::read(&received).unwrap(),
        b"options on the wire\n",
        "ncat received"
    );
    let _ = std::fs::remove_file(&received);
    let _ = std::fs::remove_file(&input);

    let ports = client_ports(&frames, STACK_IP);
    assert_eq!(ports.len(), 1, "one connection: {frames:#?}");
    let (syn, syn_ack) = handshake(&frames, ports[0], STACK_IP);
    assert!(
        syn.has(SACK_PERMITTED) && syn.has(TIMESTAMPS),
        "our SYN carries {}",
        syn.options()
    );
    assert_eq!(syn.tsecr, Some(0), "a SYN's TSecr is 0 (RFC 7323 §3.2)");
    let tsval = syn.tsval.unwrap();
    assert_not_raw_clock("our SYN", tsval);
    assert!(syn_ack.has(SACK_PERMITTED) && syn_ack.has(TIMESTAMPS));
    assert_eq!(syn_ack.tsecr, syn.tsval, "Linux echoes our TSval");
    let later: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.sent_by_stack() && !f.syn())
        .collect();
    assert!(!later.is_empty());
    assert!(later.iter().all(|f| f.has(TIMESTAMPS)), "{later:#?}");
    println!(
        "active open, xdptcp nc to Linux ncat -l: our SYN carries {} (TSval {tsval}); Linux's SYN,ACK carries {}; all {} later segments of ours carry timestamps",
        syn.options(),
        syn_ack.options(),
        later.len()
    );
}

#[test]
fn duplicated_segments_draw_d_sack_blocks() {
    let Some((_serial, lab)) = setup("dsack") else {
        return;
    };
    let share = 0.05;
    lab.impair(&Impairment {
        to_stack: PathImpairment {
            duplicate: share,
            ..PathImpairment::default()
        },
        ..Impairment::none()
    })
    .expect("impair");
    let port = 9;
    let capture = Capture::start(&lab, port);
    let server = serve(&lab, &["--port", "9", "--app", "discard"]);
    let data = temp_path("dsack-input");
    std::fs::write(&data, vec![0x5a; 2 << 20]).unwrap();
    let sender = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "timeout", "60", "ncat"])
        .args(["--send-only", &STACK_IP.to_string(), &port.to_string()])
        .stdin(std::fs::File::open(&data).unwrap())
        .output()
        .expect("ncat");
    assert!(sender.status.success(), "ncat: {}", text(&sender));
    let _ = std::fs::remove_file(&data);
    let frames = capture.finish();
    let (ok, out) = server.stop();
    assert!(ok, "serve failed:\n{out}");
    let counters = lab.counters().expect("counters");

    // The data segments the capture holds twice or more.
    let mut seen = std::collections::HashMap::<(u32, u32), u32>::new();
    for f in frames.iter().filter(|f| !f.sent_by_stack() && f.len > 0) {
        *seen.entry((f.seq, f.seq.wrapping_add(f.len))).or_default() += 1;
    }
    let duplicated: Vec<(u32, u32)> = seen
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(&range, _)| range)
        .collect();
    let copies: u32 = seen.values().map(|n| n - 1).sum();
    let acks: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.sent_by_stack() && f.is_ack() && !f.syn())
        .collect();
    let dsacks: Vec<(u32, u32, u32)> = acks
        .iter()
        .filter_map(|f| f.dsack().map(|(l, r)| (f.ack, l, r)))
        .collect();
    let by_tshark = acks.iter().filter(|f| f.tshark_dsack.is_some()).count();
    println!(
        "D-SACK: router duplicated {} of {} segments toward the stack; the capture holds {copies} extra copies of {} data segments; \
         our {} ACKs carry {} D-SACK blocks (tshark: {by_tshark})",
        counters.to_stack.duplicated,
        counters.to_stack.tcp_packets,
        duplicated.len(),
        acks.len(),
        dsacks.len(),
    );
    assert!(counters.to_stack.duplicated > 0, "{counters}");
    assert!(copies > 0, "no duplicate reached the stack's link");
    assert!(!dsacks.is_empty(), "no D-SACK for {copies} duplicates");
    assert_eq!(by_tshark, dsacks.len(), "tshark and RFC 2883 §4 disagree");
    // Each D-SACK names (part of) a segment that did arrive twice, below the ACK.
    for &(ack, left, right) in &dsacks {
        assert!(
            duplicated.iter().any(|&(s, e)| {
                (left.wrapping_sub(s) as i32) >= 0 && (e.wrapping_sub(right) as i32) >= 0
            }),
            "D-SACK {left}-{right} (ACK {ack}) names no duplicated segment"
        );
    }
    // Each duplicate is reported at most once (RFC 2883 §4).
    for &(s, e) in &duplicated {
        let reports = dsacks
            .iter()
            .filter(|&&(_, l, r)| {
                (l.wrapping_sub(s) as i32) >= 0 && (e.wrapping_sub(r) as i32) >= 0
            })
            .count() as u32;
        assert!(reports < seen[&(s, e)], "{s}-{e} reported {reports} times");
    }
}
