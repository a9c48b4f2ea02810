//! Observing a running `xdptcp serve` from outside: `xdptcp stats` and `xdptcp ss` over the
//! management socket against an echo server in a lab, with Linux clients (ncat) in the
//! peer namespace; the socket's mode and who it refuses; a second server on the same socket
//! path; the Prometheus endpoint checked with `promtool check metrics`.
//!
//! These tests need root (namespaces, XDP, AF_XDP); without it they say so and skip. Each
//! builds its own lab and removes it; they run one at a time.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xdptcp::lab::{Lab, PEER_IP, STACK_IFACE, STACK_IP};

const BIN: &str = env!("CARGO_BIN_EXE_xdptcp");
static SERIAL: Mutex<()> = Mutex::new(());

/// A directory of this test's, removed when dropped (mode 0755: others may reach the
/// socket inside, so the socket's own mode is what refuses them).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("xdptcp-observe-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(dir)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("xdptcp.sock")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Takes the serial lock and builds a lab, or says why the test is skipped.
fn setup(tag: &str) -> Option<(MutexGuard<'static, ()>, Lab, Scratch)> {
    if !xdptcp::host::is_root() {
        eprintln!("skipped: needs root (network namespaces, XDP and AF_XDP)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("o{}{tag}", std::process::id() % 100_000);
    let lab = Lab::up(&name, 1).expect("lab up");
    Some((serial, lab, Scratch::new(tag)))
}

/// The last line of a process's output (its error line; log lines may come before it).
fn last_line(output: &str) -> String {
    output.trim_end().lines().last().unwrap_or("").to_string()
}

fn xdp_attached(lab: &Lab) -> bool {
    let out = Command::new("ip")
        .args(["-n", &lab.stack_ns(), "link", "show", STACK_IFACE])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `xdptcp serve --app echo` on port 7 in the lab's stack namespace, output to a file.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts it with the management socket at `socket` and `extra` flags; does not wait.
    fn spawn(lab: &Lab, socket: &Path, extra: &[&str]) -> Server {
        static SPAWNED: AtomicU32 = AtomicU32::new(0);
        let log = std::env::temp_dir().join(format!(
            "xdptcp-observe-{}-{}-{}.log",
            std::process::id(),
            lab.name(),
            SPAWNED.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&log).unwrap();
        let socket = socket.to_str().unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.stack_ns(), BIN, "serve", "--iface"])
            .args([STACK_IFACE, "--port", "7", "--app", "echo"])
            .args(["--management-socket", socket])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("spawn xdptcp serve");
        Server { child, log }
    }

    /// Starts it and waits for its ready line.
    fn start(lab: &Lab, socket: &Path, extra: &[&str]) -> Server {
        let mut server = Server::spawn(lab, socket, extra);
        let deadline = Instant::now() + Duration::from_secs(15);
        while !server.output().contains("Ctrl-C stops") {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("serve exited with {status}:\n{}", server.output());
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", server.output());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits for the process to end by itself: its exit status and output.
    fn wait_end(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), self.output());
            }
            assert!(Instant::now() < deadline, "did not end:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C; true if it stopped cleanly.
    fn stop(self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        self.wait_end()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `xdptcp <args>` (stats, ss) as root from the host namespace: the socket is a file, so
/// no namespace is needed to reach it.
fn xdptcp(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run xdptcp")
}

fn ok(args: &[&str]) -> String {
    let out = xdptcp(args);
    assert!(out.status.success(), "xdptcp {args:?}:\n{}", text(&out));
    text(&out)
}

/// A Linux client in the peer namespace: ncat to the echo server, sending `greeting`,
/// then holding the connection open for `hold_secs`.
fn ncat_client(lab: &Lab, greeting: &str, hold_secs: u32) -> Child {
    // `timeout` ends ncat itself: killing the child kills only `ip netns exec`, and an
    // ncat left behind would outlive the test (and the lab).
    let limit = hold_secs + 5;
    let script =
        format!("(printf '{greeting}'; sleep {hold_secs}) | timeout {limit} ncat {STACK_IP} 7");
    Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ncat")
}

/// The numbers of the `label` row of `xdptcp stats` (queue columns, then the total).
fn stats_row(table: &str, label: &str) -> Vec<u64> {
    let line = table
        .lines()
        .find(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{table}"));
    line[label.len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

fn total(table: &str, label: &str) -> u64 {
    *stats_row(table, label).last().unwrap()
}

/// `ss` lines (header and count lines excluded) as lists of fields.
fn ss_rows(listing: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .filter(|l| !l.starts_with("State") && !l.starts_with('\t') && !l.contains("connection(s)"))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// Polls `ss` until a row satisfies `wanted` (the client's connection is up).
fn wait_for_row(socket: &str, wanted: impl Fn(&[String]) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listing = ok(&["ss", "--socket", socket]);
        if ss_rows(&listing).iter().any(|r| wanted(r)) {
            return listing;
        }
        assert!(Instant::now() < deadline, "no such row in:\n{listing}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn stats_and_ss_show_a_linux_clients_connection_and_the_filters_work() {
    let Some((_serial, lab, scratch)) = setup("ss") else {
        return;
    };
    let socket = scratch.socket();
    let sock = socket.to_str().unwrap();
    let server = Server::start(&lab, &socket, &[]);
    let before = ok(&["stats", "--socket", sock]);
    assert!(
        before.starts_with(&format!("xdptcp on {STACK_IFACE} ({STACK_IP}): 1 queue(s)")),
        "{before}"
    );

    let mut client = ncat_client(&lab, "hello", 20);
    let peer = format!("{PEER_IP}:");
    let listing = wait_for_row(sock, |r| r[0] == "ESTAB" && r[4].starts_with(&peer));
    let row = ss_rows(&listing)
        .into_iter()
        .find(|r| r[4].starts_with(&peer))
        .unwrap();
    assert_eq!(row[3], format!("{STACK_IP}:7"), "{listing}");
    let client_port: u16 = row[4][peer.len()..].parse().unwrap();
    assert!(listing.contains("\tcubic rto:"), "{listing}");
    assert!(listing.contains(" bytes_received:5 "), "{listing}");

    // Filters: by state and by either port.
    let established = ok(&["ss", "--socket", sock, "--state", "established"]);
    assert_eq!(ss_rows(&established).len(), 1, "{established}");
    let time_wait = ok(&["ss", "--socket", sock, "--state", "time-wait"]);
    assert!(ss_rows(&time_wait).is_empty(), "{time_wait}");
    assert!(time_wait.ends_with("0 connection(s)\n"), "{time_wait}");
    let by_port = ok(&["ss", "--socket", sock, "--port", &client_port.to_string()]);
    assert_eq!(ss_rows(&by_port).len(), 1, "{by_port}");
    let local_port = ok(&["ss", "--socket", sock, "--port", "7"]);
    assert_eq!(ss_rows(&local_port).len(), 1, "{local_port}");
    let other_port = ok(&["ss", "--socket", sock, "--port", "9"]);
    assert!(ss_rows(&other_port).is_empty(), "{other_port}");
    let limited = ok(&["ss", "--socket", sock, "--limit", "0"]);
    assert!(
        limited.ends_with("0 connection(s); 1 more matched and were left off (at most 0 per worker: --limit, --state, --port)\n"),
        "{limited}"
    );
    let bad_state = xdptcp(&["ss", "--socket", sock, "--state", "establish"]);
    assert!(!bad_state.status.success());
    assert!(
        text(&bad_state).contains("unknown TCP state \"establish\""),
        "{}",
        text(&bad_state)
    );

    let during = ok(&["stats", "--socket", sock]);
    assert!(
        total(&during, "frames in") > total(&before, "frames in"),
        "{during}"
    );
    assert!(total(&during, "frames out") > 0, "{during}");
    assert!(total(&during, "XDP steered to the socket") >= total(&during, "frames in"));
    assert_eq!(total(&during, "connections"), 1, "{during}");
    assert_eq!(total(&during, "  established"), 1, "{during}");
    assert_eq!(total(&during, "connections accepted"), 1, "{during}");
    assert_eq!(total(&during, "TCP bytes received"), 5, "{during}");

    // Three more short connections: each one's frames and acceptance are counted.
    for _ in 0..3 {
        let out = Command::new("ip")
            .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
            .arg(format!("printf abc | timeout 5 ncat {STACK_IP} 7"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "abc");
    }
    let after = ok(&["stats", "--socket", sock]);
    assert!(total(&after, "frames in") > total(&during, "frames in"));
    assert_eq!(total(&after, "connections accepted"), 4, "{after}");
    assert_eq!(total(&after, "TCP bytes received"), 5 + 3 * 3, "{after}");
    let json = ok(&["stats", "--socket", sock, "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(
        parsed["workers"][0]["stats"]["stack"]["connections_accepted"],
        4
    );

    let _ = client.kill();
    let _ = client.wait();
    let (stopped, output) = server.stop();
    assert!(stopped, "{output}");
    assert!(!socket.exists(), "the socket file is removed at the stop");
    println!("xdptcp ss during an ncat connection:\n{listing}");
    println!("xdptcp stats after four connections:\n{after}");
}

#[test]
fn the_management_socket_is_0600_or_0660_for_its_group_and_refuses_a_user_outside_it() {
    let Some((_serial, lab, scratch)) = setup("perm") else {
        return;
    };
    let socket = scratch.socket();
    let sock = socket.to_str().unwrap();
    let as_nobody = |groups: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", groups])
            .args([BIN, "stats", "--socket", sock])
            .output()
            .expect("setpriv (util-linux)")
    };
    // No group: root's only; even a member of the socket's group is refused.
    let server = Server::start(&lab, &socket, &[]);
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert!(
        server.output().contains("its user only, mode 0600"),
        "{}",
        server.output()
    );
    let refused = as_nobody("--groups=0");
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("(mode 0600, owner uid 0"),
        "{}",
        text(&refused)
    );
    drop(server);

    // A group named: the socket is root:adm 0660; nobody outside adm is refused, with what
    // to do, and let in as a member.
    let adm = xdptcp::host::group_id("adm").expect("a system group adm");
    let server = Server::start(&lab, &socket, &["--management-group", "adm"]);
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), adm);
    assert!(
        server.output().contains("group adm, mode 0660"),
        "{}",
        server.output()
    );
    let refused = as_nobody("--clear-groups");
    assert!(!refused.status.success());
    assert_eq!(
        text(&refused).trim_end(),
        format!(
            "xdptcp: permission denied on the management socket {sock} (mode 0660, owner uid 0, \
             group adm): run as root or as a member of group adm"
        )
    );
    let member = as_nobody(&format!("--groups={adm}"));
    assert!(member.status.success(), "{}", text(&member));
    assert!(text(&member).starts_with("xdptcp on "), "{}", text(&member));
    println!("as nobody: {}", text(&refused).trim_end());
    drop(server);

    // An unknown group: one line naming the key.
    let (ok, output) = Server::spawn(
        &lab,
        &socket,
        &["--management-group", "no-such-group-xdptcp"],
    )
    .wait_end();
    assert!(!ok);
    assert_eq!(
        last_line(&output),
        "xdptcp: \"management.group\": no group \"no-such-group-xdptcp\" in /etc/group"
    );
}

#[test]
fn a_second_serve_on_the_same_socket_fails_with_one_clear_line() {
    let Some((_serial, lab, scratch)) = setup("twice") else {
        return;
    };
    let socket = scratch.socket();
    let sock = socket.to_str().unwrap();
    let _first = Server::start(&lab, &socket, &[]);
    // A second server on another lab's interface, with the same socket path (a path is
    // the same file in every network namespace).
    let other = Lab::up(&format!("{}b", lab.name()), 1).expect("second lab up");
    let (ok_second, second) = Server::spawn(&other, &socket, &[]).wait_end();
    assert!(!ok_second);
    assert_eq!(
        last_line(&second),
        format!(
            "xdptcp: management socket {sock}: in use by another running xdptcp (it answers \
             there); stop it or give this one another path (--management-socket or \
             [management] socket)"
        ),
        "{second}"
    );
    assert!(
        !xdp_attached(&other),
        "the refused server left its program attached"
    );
    // The first still answers, and still serves.
    assert!(ok(&["stats", "--socket", sock]).starts_with("xdptcp on "));
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
        .arg(format!("printf still | timeout 5 ncat {STACK_IP} 7"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "still");
    // A path that is not a socket is refused too; a stats without a server says so.
    let file = scratch.0.join("plain");
    std::fs::write(&file, "x").unwrap();
    let (ok_plain, output) = Server::spawn(&other, &file, &[]).wait_end();
    assert!(!ok_plain);
    assert!(
        output.contains("the path exists and is not a socket"),
        "{output}"
    );
    let missing = scratch.0.join("none.sock");
    let none = xdptcp(&["stats", "--socket", missing.to_str().unwrap()]);
    assert!(!none.status.success());
    assert!(
        text(&none).contains("is `xdptcp serve` running?"),
        "{}",
        text(&none)
    );
    println!("second serve: {}", last_line(&second));
}

/// `GET /metrics` from inside the stack namespace (the endpoint is on its loopback).
fn scrape(lab: &Lab, addr: &str) -> String {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "curl",
            "-sS",
            "--max-time",
            "5",
        ])
        .arg(format!("http://{addr}/metrics"))
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of the sample `series` (name and labels as written) in a scrape.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{scrape}"))
        .parse()
        .unwrap()
}

/// `promtool check metrics` of `text`: its exit status and what it said.
fn promtool_check(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; deploy/install-deps.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), self::text(&out))
}

#[test]
fn the_prometheus_endpoint_passes_promtool_and_its_counters_move() {
    let Some((_serial, lab, scratch)) = setup("prom") else {
        return;
    };
    let addr = "127.0.0.1:9464";
    let server = Server::start(&lab, &scratch.socket(), &["--prometheus", addr]);
    assert!(
        server
            .output()
            .contains(&format!("Prometheus metrics at http://{addr}/metrics")),
        "{}",
        server.output()
    );
    let first = scrape(&lab, addr);
    let (valid, complaints) = promtool_check(&first);
    assert!(valid, "promtool check metrics:\n{complaints}\n{first}");
    assert_eq!(complaints.trim(), "", "promtool has complaints");
    assert!(first.contains("# TYPE xdptcp_rx_frames_total counter\n"));
    assert!(first.contains("# TYPE xdptcp_tcp_connections gauge\n"));

    let out = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
        .arg(format!("printf metrics | timeout 5 ncat {STACK_IP} 7"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "metrics");
    let second = scrape(&lab, addr);
    assert!(promtool_check(&second).0);
    let q = "{queue=\"0\"}";
    for counter in [
        "xdptcp_rx_frames_total",
        "xdptcp_tx_frames_total",
        "xdptcp_xdp_steered_frames_total",
        "xdptcp_connections_accepted_total",
        "xdptcp_tcp_received_bytes_total",
    ] {
        let series = format!("{counter}{q}");
        assert!(
            sample(&second, &series) > sample(&first, &series),
            "{series} did not move:\n{second}"
        );
    }
    assert_eq!(
        sample(&second, &format!("xdptcp_tcp_received_bytes_total{q}"))
            - sample(&first, &format!("xdptcp_tcp_received_bytes_total{q}")),
        7.0
    );
    let (stopped, output) = server.stop();
    assert!(stopped, "{output}");
    // An address in use (a kernel listener holds it) is refused with one line, and the
    // program is detached again.
    let mut holder = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "ncat",
            "-lk",
            "127.0.0.1",
            "9464",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ncat -l");
    std::thread::sleep(Duration::from_millis(300));
    let (ok_second, output) =
        Server::spawn(&lab, &scratch.socket(), &["--prometheus", addr]).wait_end();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!ok_second);
    assert_eq!(
        last_line(&output),
        format!("xdptcp: prometheus endpoint {addr}: cannot listen: Address already in use (os error 98)"),
        "{output}"
    );
    assert!(
        !xdp_attached(&lab),
        "the refused server left its program attached"
    );
    let excerpt: Vec<&str> = second
        .lines()
        .filter(|l| l.contains("rx_frames") || l.contains("state=\"established\""))
        .collect();
    println!(
        "promtool check metrics: no complaints; a scrape:\n{}",
        excerpt.join("\n")
    );
}

/// `xdptcp capture --socket SOCKET -w FILE ARGS` started in the background, its stderr
/// in a file; waits until it captures.
struct CaptureRun {
    child: Child,
    log: PathBuf,
}

impl CaptureRun {
    fn start(sock: &str, file: &Path, args: &[&str]) -> CaptureRun {
        let log = file.with_extension("log");
        let child = Command::new(BIN)
            .args(["capture", "--socket", sock, "-w", file.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("xdptcp capture");
        let run = CaptureRun { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !run.output().contains("Ctrl-C stops") {
            assert!(
                Instant::now() < deadline,
                "not capturing:\n{}",
                run.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        run
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for it to end by itself (after SIGINT if `interrupt`): its last line.
    fn end(mut self, interrupt: bool) -> String {
        if interrupt {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-INT", &pid]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "capture failed:\n{}", self.output());
                return last_line(&self.output());
            }
            assert!(Instant::now() < deadline, "did not end:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for CaptureRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One TCP segment of a capture as tshark reads it, checksums checked.
#[derive(Debug)]
struct Segment {
    src: String,
    src_port: u16,
    dst_port: u16,
    flags: u16,
    payload: String,
    /// tshark's checksum verdicts, IP then TCP ("1" is good).
    checksums: (String, String),
}

const SYN: u16 = 0x02;
const ACK: u16 = 0x10;
const FIN: u16 = 0x01;
const RST: u16 = 0x04;

fn tshark_segments(file: &Path) -> Vec<Segment> {
    let out = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-n"])
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(["-T", "fields", "-E", "separator=|", "-e", "ip.src"])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags"])
        .args(["-e", "tcp.payload", "-e", "ip.checksum.status"])
        .args(["-e", "tcp.checksum.status"])
        .output()
        .expect("tshark (Debian's tshark package)");
    assert!(out.status.success(), "tshark -r: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let payload = (0..f[4].len() / 2)
                .map(|i| u8::from_str_radix(&f[4][2 * i..2 * i + 2], 16).unwrap() as char)
                .collect();
            Segment {
                src: f[0].to_string(),
                src_port: f[1].parse().unwrap(),
                dst_port: f[2].parse().unwrap(),
                flags: u16::from_str_radix(f[3].trim_start_matches("0x"), 16).unwrap(),
                payload,
                checksums: (f[5].to_string(), f[6].to_string()),
            }
        })
        .collect()
}

#[test]
fn a_capture_holds_a_linux_clients_handshake_echo_and_close_and_filters_by_port() {
    let Some((_serial, lab, scratch)) = setup("cap") else {
        return;
    };
    let socket = scratch.socket();
    let sock = socket.to_str().unwrap();
    let _server = Server::start(&lab, &socket, &[]);

    // No server on a socket path, and a file that cannot be written: one line each.
    let missing = scratch.0.join("none.sock");
    let file = scratch.0.join("echo.pcap");
    let out = Command::new(BIN)
        .args(["capture", "--socket", missing.to_str().unwrap(), "-w"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        text(&out).starts_with(&format!(
            "xdptcp: no management socket at {}: is `xdptcp serve` running?",
            missing.display()
        )),
        "{}",
        text(&out)
    );
    assert!(!file.exists(), "no file is left when nothing was captured");
    let unwritable = scratch.0.join("no-such-dir").join("x.pcap");
    let out = xdptcp(&[
        "capture",
        "--socket",
        sock,
        "-w",
        unwritable.to_str().unwrap(),
    ]);
    assert_eq!(
        text(&out).trim_end(),
        format!(
            "xdptcp: cannot write the capture file {}: No such file or directory (os error 2)",
            unwritable.display()
        )
    );

    // Port 7 while a Linux client echoes and closes, and a SYN to a port of the stack's
    // ephemeral range (answered with a reset) that the filter leaves out.
    let capture = CaptureRun::start(sock, &file, &["--port", "7"]);
    let echoed = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
        .arg(format!(
            "printf 'hello capture' | timeout 5 ncat {STACK_IP} 7"
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), "hello capture");
    let refused = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
        .arg(format!("timeout 5 ncat {STACK_IP} 61500 </dev/null"))
        .output()
        .unwrap();
    assert!(!refused.status.success(), "{}", text(&refused));
    // The close's last ACK may still be on its way.
    std::thread::sleep(Duration::from_millis(300));
    let summary = capture.end(true);
    let segments = tshark_segments(&file);
    let shown: Vec<String> = segments.iter().map(|s| format!("{s:?}")).collect();
    let shown = shown.join("\n");
    assert!(
        summary.starts_with(&format!(
            "{} frame(s) written to {}",
            segments.len(),
            file.display()
        )) && summary.ends_with("; 0 dropped by capture"),
        "{summary}\n{shown}"
    );
    for s in &segments {
        assert_eq!(s.checksums, ("1".into(), "1".into()), "checksums: {s:?}");
        assert!(s.src_port == 7 || s.dst_port == 7, "port filter: {s:?}");
    }
    let from_peer = |s: &Segment| s.src == PEER_IP.to_string();
    let position = |what: &str, wanted: &dyn Fn(&Segment) -> bool| {
        segments
            .iter()
            .position(wanted)
            .unwrap_or_else(|| panic!("no {what} in:\n{shown}"))
    };
    let syn = position("SYN", &|s| from_peer(s) && s.flags & (SYN | ACK) == SYN);
    let syn_ack = position("SYN,ACK", &|s| {
        !from_peer(s) && s.flags & (SYN | ACK) == SYN | ACK
    });
    let ack = position("handshake ACK", &|s| {
        from_peer(s) && s.flags & (SYN | ACK | FIN) == ACK
    });
    let data_in = position("data in", &|s| from_peer(s) && s.payload == "hello capture");
    let data_out = position("data out", &|s| {
        !from_peer(s) && s.payload == "hello capture"
    });
    let fin_in = position("FIN from the peer", &|s| from_peer(s) && s.flags & FIN != 0);
    let fin_out = position("FIN from the stack", &|s| {
        !from_peer(s) && s.flags & FIN != 0
    });
    assert!(syn < syn_ack && syn_ack < ack && ack <= data_in, "{shown}");
    assert!(data_in < data_out, "{shown}");
    // The last segment acknowledges the later FIN.
    let last = segments.last().unwrap();
    assert!(last.flags & ACK != 0 && last.flags & FIN == 0, "{shown}");
    assert_ne!(
        from_peer(last),
        from_peer(&segments[fin_in.max(fin_out)]),
        "{shown}"
    );
    assert!(segments.iter().all(|s| s.flags & RST == 0), "{shown}");
    // tcpdump reads it too, one line a frame.
    let dump = Command::new("tcpdump")
        .args(["-n", "-r", file.to_str().unwrap()])
        .output()
        .expect("tcpdump");
    assert!(dump.status.success(), "tcpdump -r: {}", text(&dump));
    let dump = String::from_utf8_lossy(&dump.stdout).to_string();
    assert_eq!(dump.lines().count(), segments.len(), "{dump}");
    println!("{summary}\ntcpdump -n -r:\n{dump}");

    // The port the filter left out: its SYN and the stack's reset, and --count ends it.
    let other = scratch.0.join("other.pcap");
    let capture = CaptureRun::start(sock, &other, &["--port", "61500", "--count", "2"]);
    let _ = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "sh", "-c"])
        .arg(format!("timeout 5 ncat {STACK_IP} 61500 </dev/null"))
        .output()
        .unwrap();
    let summary = capture.end(false);
    assert!(
        summary.starts_with(&format!(
            "2 frame(s) written to {} (1 received, 1 sent)",
            other.display()
        )),
        "{summary}"
    );
    let segments = tshark_segments(&other);
    assert_eq!(segments.len(), 2, "{segments:?}");
    assert!(
        from_peer(&segments[0]) && segments[0].flags & SYN != 0,
        "{segments:?}"
    );
    assert!(
        !from_peer(&segments[1]) && segments[1].flags & RST != 0,
        "{segments:?}"
    );
    assert_eq!(segments[1].checksums, ("1".into(), "1".into()));
}
