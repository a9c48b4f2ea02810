//! Linux peers talk to xdptcp over AF_XDP through a router, in namespaces each test creates
//! and removes (see `xdptcp::lab`): curl, wrk, the sockperf client, ncat and Python sockets
//! on the peer side; `xdptcp serve` and `xdptcp nc` on the stack side. Also: the kernel
//! keeps its own traffic, the XDP program is gone after a stop (also after SIGKILL), bad
//! checksums are counted and dropped, every startup failure has a clear message, the
//! runtime's counters read right after traffic count it, and a Linux router's "fragmentation
//! needed" lowers the path MTU of an `xdptcp nc` transfer (RFC 1191).
//!
//! These tests need root (namespaces, XDP, AF_XDP). Without it they say so and skip; in
//! `make test`, run as root, they run. The tests take a lock so they run one at a time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xdptcp::apps::Echo;
use xdptcp::lab::{Lab, PEER_IP, STACK_IFACE, STACK_IP};
use xdptcp::runtime::{Runtime, RuntimeConfig};

const BIN: &str = env!("CARGO_BIN_EXE_xdptcp");
static SERIAL: Mutex<()> = Mutex::new(());

fn root() -> bool {
    if xdptcp::host::is_root() {
        return true;
    }
    eprintln!("skipped: needs root (network namespaces, XDP and AF_XDP)");
    false
}

/// Takes the serial lock and builds a lab, or says why the test is skipped (no root).
fn setup(tag: &str, queues: u32) -> Option<(std::sync::MutexGuard<'static, ()>, Lab)> {
    if !root() {
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    Some((serial, lab(tag, queues)))
}

/// A lab unique to this process and test.
fn lab(tag: &str, queues: u32) -> Lab {
    let name = format!("i{}{tag}", std::process::id() % 100_000);
    Lab::up(&name, queues).expect("lab up")
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xdptcp-test-{}-{name}", std::process::id()))
}

/// Runs `program args` in namespace `ns` with a time limit and returns its output.
fn run_in(ns: &str, limit_secs: u32, program: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "timeout",
            &limit_secs.to_string(),
            program,
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An xdptcp process in the stack namespace, output to a file.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// Starts `xdptcp <args>` in the lab's stack namespace and waits until `ready` appears in
    /// its output.
    fn start(lab: &Lab, args: &[&str], ready: &str) -> Running {
        let log = temp_path(&format!(
            "{}-{}.log",
            lab.name(),
            args.join("_").replace('/', "")
        ));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.stack_ns(), BIN])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("spawn xdptcp");
        let mut running = Running { child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = running.output();
            if out.contains(ready) {
                return running;
            }
            if let Ok(Some(status)) = running.child.try_wait() {
                panic!("xdptcp {args:?} exited with {status} before it was ready:\n{out}");
            }
            assert!(
                Instant::now() < deadline,
                "xdptcp {args:?} not ready:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Ctrl-C, then the exit status and everything it printed.
    fn stop(mut self) -> (bool, String) {
        self.signal("-INT");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), self.output());
            }
            assert!(
                Instant::now() < deadline,
                "xdptcp did not stop:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn serve(lab: &Lab, app: &str, port: u16, extra: &[&str]) -> Running {
    let port = port.to_string();
    let mut args = vec![
        "serve",
        "--iface",
        STACK_IFACE,
        "--port",
        &port,
        "--app",
        app,
    ];
    args.extend_from_slice(extra);
    Running::start(lab, &args, "serving")
}

fn xdp_attached(lab: &Lab) -> bool {
    let out = Command::new("ip")
        .args(["-n", &lab.stack_ns(), "link", "show", STACK_IFACE])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

/// The number after `label` in a stats line such as "malformed dropped 3".
fn counter(output: &str, label: &str) -> u64 {
    let at = output
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{output}"));
    output[at + label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in:\n{output}"))
}

#[test]
fn curl_fetches_a_page_while_the_kernel_keeps_its_own_traffic() {
    let Some((_serial, lab)) = setup("curl", 1) else {
        return;
    };
    let server = serve(&lab, "http", 8080, &[]);
    let url = format!("http://{STACK_IP}:8080/");
    let out = run_in(&lab.peer_ns(), 10, "curl", &["-sS", "-i", &url]);
    let page = text(&out);
    assert!(out.status.success(), "curl failed: {page}");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    assert!(page.contains("xdptcp says hello"), "{page}");

    // The kernel still answers ping and serves TCP on a port xdptcp does not own.
    let ping = run_in(
        &lab.peer_ns(),
        10,
        "ping",
        &["-c", "2", "-W", "2", &STACK_IP.to_string()],
    );
    assert!(ping.status.success(), "ping failed: {}", text(&ping));
    let mut kernel_server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "python3",
            "-m",
            "http.server",
            "9000",
        ])
        .args(["--bind", &STACK_IP.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut kernel_ok = false;
    for _ in 0..50 {
        let out = run_in(
            &lab.peer_ns(),
            5,
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("http://{STACK_IP}:9000/"),
            ],
        );
        if text(&out).trim() == "200" {
            kernel_ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = kernel_server.kill();
    let _ = kernel_server.wait();
    assert!(
        kernel_ok,
        "the kernel's own HTTP server on port 9000 was not reachable"
    );

    assert!(xdp_attached(&lab));
    let (ok, output) = server.stop();
    assert!(ok, "serve failed:\n{output}");
    assert!(output.contains("XDP program detached"), "{output}");
    // One queue on a veth: the driver is named, and generic XDP goes first (XdpAttach::Auto).
    assert!(output.contains("(driver veth)"), "{output}");
    assert!(output.contains("XDP generic (SKB)"), "{output}");
    assert!(
        !xdp_attached(&lab),
        "an XDP program is still attached after the stop"
    );
    assert_eq!(counter(&output, "tx frames in flight"), 0, "{output}");
}

#[test]
fn wrk_with_64_connections_sees_no_socket_errors() {
    let Some((_serial, lab)) = setup("wrk", 1) else {
        return;
    };
    let server = serve(&lab, "http", 8080, &[]);
    let url = format!("http://{STACK_IP}:8080/");
    let out = run_in(
        &lab.peer_ns(),
        30,
        "wrk",
        &["-c", "64", "-t", "2", "-d", "5", &url],
    );
    let report = text(&out);
    assert!(out.status.success(), "wrk failed: {report}");
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    let done: u64 = report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(done > 1000, "too few requests: {report}");
    println!("wrk: {done} requests, no socket errors");
    let (ok, output) = server.stop();
    assert!(ok, "{output}");
}

#[test]
fn sockperf_ping_pong_client_completes() {
    let Some((_serial, lab)) = setup("sperf", 1) else {
        return;
    };
    let server = serve(&lab, "sockperf", 11111, &[]);
    let ip = STACK_IP.to_string();
    let out = run_in(
        &lab.peer_ns(),
        30,
        "sockperf",
        &["ping-pong", "--tcp", "-i", &ip, "-p", "11111", "-t", "3"],
    );
    let report = text(&out);
    assert!(out.status.success(), "sockperf failed: {report}");
    assert!(report.contains("# dropped messages = 0"), "{report}");
    let line = report
        .lines()
        .find(|l| l.contains("[Valid Duration]"))
        .unwrap_or_else(|| panic!("no result line: {report}"));
    let received = counter(line, "ReceivedMessages=");
    assert!(received > 1000, "{line}");
    assert_eq!(counter(line, "SentMessages="), received, "{line}");
    println!("sockperf: {line}");
    let (ok, output) = server.stop();
    assert!(ok, "{output}");
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Runs `xdptcp nc` in the stack namespace with stdin from `input` and stdout to `output`.
fn nc(lab: &Lab, args: &[&str], input: &Path, output: &Path) -> Output {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "timeout",
            "120",
            BIN,
            "nc",
            "--iface",
            STACK_IFACE,
        ])
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(std::fs::File::create(output).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Starts `ncat -l` in the peer namespace and waits until it listens on `port`.
fn ncat_listen(lab: &Lab, port: u16, script_tail: &str) -> Child {
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.peer_ns(),
            "timeout",
            "120",
            "sh",
            "-c",
        ])
        .arg(format!("exec ncat -l {port} {script_tail}"))
        .spawn()
        .unwrap();
    for _ in 0..100 {
        let ss = run_in(&lab.peer_ns(), 5, "ss", &["-ltn"]);
        if text(&ss).contains(&format!(":{port}")) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("ncat did not start listening on {port}");
}

/// A temporary file of `size` (as head -c takes it) random bytes.
fn random_file(name: &str, size: &str) -> PathBuf {
    let path = temp_path(name);
    let status = Command::new("head")
        .args(["-c", size, "/dev/urandom"])
        .stdout(std::fs::File::create(&path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    path
}

#[test]
fn nc_carries_256_mib_each_way_intact() {
    let Some((_serial, lab)) = setup("nc", 1) else {
        return;
    };
    let data = random_file("nc-input", "256M");
    let want = sha256(&data);
    let peer_ip = PEER_IP.to_string();

    // xdptcp nc → Linux ncat -l.
    let received = temp_path("nc-at-peer");
    let mut listener = ncat_listen(&lab, 5000, &format!("--recv-only > {}", received.display()));
    let out = nc(&lab, &[&peer_ip, "5000"], &data, Path::new("/dev/null"));
    assert!(out.status.success(), "nc failed: {}", text(&out));
    assert!(listener.wait().unwrap().success());
    assert_eq!(sha256(&received), want, "xdptcp → Linux: SHA-256 differs");

    // Linux ncat -l → xdptcp nc.
    let got = temp_path("nc-at-stack");
    let mut listener = ncat_listen(&lab, 5001, &format!("--send-only < {}", data.display()));
    let out = nc(&lab, &[&peer_ip, "5001"], Path::new("/dev/null"), &got);
    assert!(out.status.success(), "nc failed: {}", text(&out));
    let _ = listener.wait();
    assert_eq!(sha256(&got), want, "Linux → xdptcp: SHA-256 differs");
    println!("nc: 256 MiB each way, SHA-256 {want} both ways");
    for p in [&data, &received, &got] {
        let _ = std::fs::remove_file(p);
    }
}

/// Path MTU discovery over the real datapath: the router's link toward the peer carries at
/// most 1280 bytes, so the Linux router itself answers each larger segment of ours (Don't
/// Fragment is always set) with ICMP "fragmentation needed" (RFC 1191 §4). The XDP program
/// steers the error to the stack's socket, the stack lowers the connection's MSS, and 4 MiB
/// from `xdptcp nc` reach Linux `ncat` with the SHA-256 they left with; the counters `nc
/// --stats` prints show the errors steered and the path MTU lowered once. Without either
/// step every full-sized segment is lost on the way and the transfer never completes.
#[test]
fn a_linux_router_s_fragmentation_needed_lowers_the_mss_and_nc_data_arrives_intact() {
    let Some((_serial, lab)) = setup("pmtu", 1) else {
        return;
    };
    let set = run_in(
        &lab.router_ns(),
        5,
        "ip",
        &["link", "set", "rt-peer", "mtu", "1280"],
    );
    assert!(set.status.success(), "{}", text(&set));
    let data = random_file("pmtu-input", "4M");
    let received = temp_path("pmtu-at-peer");
    let mut listener = ncat_listen(&lab, 5000, &format!("--recv-only > {}", received.display()));
    let peer_ip = PEER_IP.to_string();
    let out = nc(
        &lab,
        &["--stats", &peer_ip, "5000"],
        &data,
        Path::new("/dev/null"),
    );
    let report = text(&out);
    assert!(out.status.success(), "nc failed: {report}");
    assert!(listener.wait().unwrap().success());
    let want = sha256(&data);
    assert_eq!(sha256(&received), want, "SHA-256 differs");
    let steered = counter(&report, "ICMP errors steered by XDP");
    let lowered = counter(&report, "path MTU lowered");
    assert!(steered >= 1, "{report}");
    assert_eq!(lowered, 1, "one connection, lowered once: {report}");
    println!(
        "path MTU 1280 at the router: 4 MiB from xdptcp nc to Linux ncat, SHA-256 {want} both \
         ends; {steered} ICMP errors steered by XDP, path MTU lowered {lowered}"
    );
    for p in [&data, &received] {
        let _ = std::fs::remove_file(p);
    }
}

/// A Python client: sends `size` bytes (reading the echo meanwhile, so neither side's
/// buffers fill up), half-closes, reads until end of stream, and prints how many bytes came
/// back and whether they equal what was sent.
const HALF_CLOSE_CLIENT: &str = r#"
import socket, sys, os, threading
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(size)
s = socket.create_connection((host, port), timeout=20)
got = bytearray()
def reader():
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got.extend(chunk)
t = threading.Thread(target=reader)
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join()
print("received", len(got), "equal", bytes(got) == data)
"#;

const HTTP_HALF_CLOSE_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
print(got.decode(errors="replace"))
"#;

#[test]
fn linux_clients_half_close_and_still_get_the_rest() {
    let Some((_serial, lab)) = setup("half", 1) else {
        return;
    };
    let ip = STACK_IP.to_string();
    let echo = serve(&lab, "echo", 7007, &[]);
    // 4 MiB: more than both send and receive buffers, so most of the echo is still to be
    // sent when the client's FIN arrives.
    let out = run_in(
        &lab.peer_ns(),
        60,
        "python3",
        &["-c", HALF_CLOSE_CLIENT, &ip, "7007", "4194304"],
    );
    assert_eq!(
        text(&out).trim(),
        "received 4194304 equal True",
        "{}",
        text(&out)
    );
    let (ok, output) = echo.stop();
    assert!(ok, "{output}");

    let http = serve(&lab, "http", 8080, &[]);
    let out = run_in(
        &lab.peer_ns(),
        30,
        "python3",
        &["-c", HTTP_HALF_CLOSE_CLIENT, &ip, "8080"],
    );
    let answer = text(&out);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("xdptcp says hello"), "{answer}");
    let (ok, output) = http.stop();
    assert!(ok, "{output}");
}

/// The number after `label` in a run's closing counters line (`print_stats`), summed over
/// queues.
fn closing_counter(output: &str, label: &str) -> u64 {
    output
        .match_indices(label)
        .filter_map(|(at, _)| {
            let rest = &output[at + label.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

/// The smallest UMEM the configuration allows (`[umem] frame_count = 64`: 32 RX frames in
/// the fill ring, 32 TX frames) under eight parallel 2 MiB echoes from Linux: the fill ring
/// runs empty (the kernel drops and counts, XDP_STATISTICS) and every TX frame is in flight
/// at times (the stack counts and sends later); TCP recovers each echo exactly, the server
/// stays up, and a fresh connection afterwards echoes exactly.
#[test]
fn a_tiny_umem_runs_out_of_frames_drops_and_counts_and_keeps_echoing() {
    let Some((_serial, lab)) = setup("umem", 1) else {
        return;
    };
    let config = temp_path("tiny-umem.toml");
    std::fs::write(&config, "[umem]\nframe_count = 64\n").unwrap();
    let echo = serve(&lab, "echo", 7, &["--config", config.to_str().unwrap()]);
    let ip = STACK_IP.to_string();
    let size = (2 << 20).to_string();
    let outputs: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let (ns, ip, size) = (lab.peer_ns(), &ip, &size);
                scope.spawn(move || {
                    text(&run_in(
                        &ns,
                        60,
                        "python3",
                        &["-c", HALF_CLOSE_CLIENT, ip, "7", size],
                    ))
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(out.trim(), format!("received {size} equal True"), "{out}");
    }
    linux_echo(&lab.peer_ns(), 1 << 20);
    let (ok, output) = echo.stop();
    let _ = std::fs::remove_file(&config);
    assert!(ok, "the server did not stop cleanly:\n{output}");
    let fill_empty = closing_counter(&output, "fill empty ");
    let tx_exhausted = closing_counter(&output, "tx frames exhausted ");
    eprintln!("fill ring empty {fill_empty}, TX frames exhausted {tx_exhausted}");
    assert!(fill_empty > 0, "the fill ring never ran empty:\n{output}");
    assert!(tx_exhausted > 0, "TX frames never ran out:\n{output}");
    assert!(
        !output.contains("panicked"),
        "a worker or handler panicked:\n{output}"
    );
}

/// Sends a TCP SYN with a wrong checksum from a raw socket (the kernel adds the IP header).
const BAD_CHECKSUM_SYN: &str = r#"
import socket, struct, sys
dst, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
header = struct.pack("!HHIIBBHHH", 40000, port, 1, 0, 5 << 4, 0x02, 65535, 0x1234, 0)
for _ in range(3):
    s.sendto(header, (dst, 0))
print("sent")
"#;

#[test]
fn bad_checksums_are_counted_and_dropped() {
    let Some((_serial, lab)) = setup("csum", 1) else {
        return;
    };
    let server = serve(&lab, "http", 8080, &[]);
    let out = run_in(
        &lab.peer_ns(),
        10,
        "python3",
        &["-c", BAD_CHECKSUM_SYN, &STACK_IP.to_string(), "8080"],
    );
    assert!(out.status.success(), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(300));
    // A good connection still works.
    let url = format!("http://{STACK_IP}:8080/");
    let ok = run_in(
        &lab.peer_ns(),
        10,
        "curl",
        &["-sS", "-o", "/dev/null", &url],
    );
    assert!(ok.status.success(), "{}", text(&ok));
    let (ok, output) = server.stop();
    assert!(ok, "{output}");
    assert_eq!(counter(&output, "malformed dropped"), 3, "{output}");
    assert_eq!(
        counter(&output, "resets sent"),
        0,
        "a bad segment must not be answered:\n{output}"
    );
}

#[test]
fn sigkill_leaves_no_program_attached() {
    let Some((_serial, lab)) = setup("kill", 1) else {
        return;
    };
    let server = serve(&lab, "echo", 7007, &[]);
    assert!(xdp_attached(&lab));
    server.signal("-KILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while xdp_attached(&lab) {
        assert!(
            Instant::now() < deadline,
            "XDP program still attached after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the interface is free for the next instance.
    let again = serve(&lab, "echo", 7007, &[]);
    let (ok, output) = again.stop();
    assert!(ok, "{output}");
}

/// Runs `xdptcp <args>` in the stack namespace and returns (success, output).
fn xdptcp_in(lab: &Lab, args: &[&str]) -> (bool, String) {
    let out = run_in(&lab.stack_ns(), 20, BIN, args);
    (out.status.success(), text(&out))
}

#[test]
fn startup_failures_have_clear_errors() {
    let Some((_serial, lab)) = setup("err", 1) else {
        return;
    };
    let serve_on = |iface: &str, extra: &[&str]| {
        let mut args = vec!["serve", "--iface", iface, "--port", "8080", "--app", "echo"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let as_strs = |v: &Vec<String>| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");

    // Not root.
    let args = serve_on(STACK_IFACE, &[]);
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
        ])
        .args(&args)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("needs root"),
        "not root: {}",
        text(&out)
    );

    // Interface missing.
    let (ok, msg) = xdptcp_in(
        &lab,
        &serve_on("nosuch0", &[])
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert!(!ok);
    assert!(
        msg.contains("interface nosuch0 does not exist"),
        "missing interface: {msg}"
    );

    // Queue out of range: the lab's xdp0 has one queue.
    let args = serve_on(STACK_IFACE, &["--queues", "3"]);
    let (ok, msg) = xdptcp_in(&lab, &args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(!ok);
    assert!(
        msg.contains("queue 2 is out of range: xdp0 has 1 RX queue(s)"),
        "{}: {msg}",
        as_strs(&args)
    );

    // The interface and its ports are owned by another instance.
    let first = serve(&lab, "echo", 8080, &[]);
    let args = serve_on(STACK_IFACE, &[]);
    let (ok, msg) = xdptcp_in(&lab, &args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert!(!ok);
    assert!(
        msg.contains("already served by another xdptcp instance, which owns its ports"),
        "{msg}"
    );
    let (ok, output) = first.stop();
    assert!(ok, "{output}");

    // A port a kernel socket listens on.
    let mut kernel = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.stack_ns(),
            "python3",
            "-m",
            "http.server",
            "8080",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut listening = false;
    for _ in 0..100 {
        if text(&run_in(&lab.stack_ns(), 5, "ss", &["-ltn"])).contains(":8080") {
            listening = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(listening);
    let (ok, msg) = xdptcp_in(&lab, &args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let _ = kernel.kill();
    let _ = kernel.wait();
    assert!(!ok);
    assert!(
        msg.contains("port 8080 is in use by a kernel socket"),
        "{msg}"
    );
    assert!(
        !xdp_attached(&lab),
        "a failed start left a program attached"
    );
}

/// The runnable example (examples/echo_server.rs), built by `cargo test` next to the tests.
fn example_binary(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().unwrap();
    let profile_dir = test_exe.parent().and_then(Path::parent).unwrap();
    profile_dir.join("examples").join(name)
}

#[test]
fn the_embedding_example_serves_a_linux_client() {
    let Some((_serial, lab)) = setup("ex", 1) else {
        return;
    };
    let example = example_binary("echo_server");
    assert!(example.exists(), "{} was not built", example.display());
    let log = temp_path("example.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.stack_ns()])
        .arg(&example)
        .args([STACK_IFACE, "7"])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .unwrap();
    let ready = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("listening on")
    });
    let out = run_in(
        &lab.peer_ns(),
        60,
        "python3",
        &[
            "-c",
            HALF_CLOSE_CLIENT,
            &STACK_IP.to_string(),
            "7",
            "1048576",
        ],
    );
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(ready, "the example did not start:\n{printed}");
    assert_eq!(
        text(&out).trim(),
        "received 1048576 equal True",
        "{printed}"
    );
    assert!(
        counter(&printed, "segments in, ") > 0,
        "no segment was read in place:\n{printed}"
    );
}

/// Names the peer namespace for the defect 9 tests that run inside the stack namespace.
const DEFECT_9_PEER_NS: &str = "XDPTCP_DEFECT_9_PEER_NS";

/// Defect 9: the embedding example printed `queue 0: 0 segments in, 0 read in place, 0 out`
/// after a correct 1 MiB echo. Counters read right after traffic — while the runtime runs,
/// or right after it stopped — must count that traffic. The runtime runs in this test
/// binary, started again inside the lab's stack namespace (where `/sys` shows the lab's
/// interfaces); the Linux client runs in the peer namespace.
#[test]
fn defect_9_counters_read_right_after_traffic_count_it() {
    let Some((_serial, lab)) = setup("d9", 1) else {
        return;
    };
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.stack_ns()])
        .arg(&exe)
        .args([
            "defect_9_in_the_stack_namespace",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DEFECT_9_PEER_NS, lab.peer_ns())
        .output()
        .unwrap();
    let printed = text(&out);
    assert!(
        out.status.success() && printed.contains("test result: ok. 2 passed"),
        "{printed}"
    );
}

/// A runtime serving echo on the lab's stack interface, port 7, inside the stack namespace.
fn echo_runtime_in_the_stack_namespace() -> (Runtime<()>, String) {
    let peer_ns = std::env::var(DEFECT_9_PEER_NS)
        .expect("started by defect_9_counters_read_right_after_traffic_count_it");
    let mut config = RuntimeConfig::new(STACK_IFACE);
    config.listen = vec![7];
    let runtime = Runtime::start(config, |_| Echo::default()).expect("runtime start");
    (runtime, peer_ns)
}

/// One echo of `size` bytes from a Linux client in `peer_ns`, checked.
fn linux_echo(peer_ns: &str, size: usize) {
    let out = run_in(
        peer_ns,
        20,
        "python3",
        &[
            "-c",
            HALF_CLOSE_CLIENT,
            &STACK_IP.to_string(),
            "7",
            &size.to_string(),
        ],
    );
    assert_eq!(text(&out).trim(), format!("received {size} equal True"));
}

/// The example's sequence: traffic, a stop request (what its Ctrl-C handler does), `wait`,
/// then `stats`.
#[test]
#[ignore = "runs inside the lab's stack namespace: started by defect_9_counters_read_right_after_traffic_count_it"]
fn defect_9_in_the_stack_namespace_counters_after_a_stop_are_final() {
    let (runtime, peer_ns) = echo_runtime_in_the_stack_namespace();
    linux_echo(&peer_ns, 1000);
    runtime
        .stop_flag()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    runtime.wait();
    let last = runtime.stats()[0].clone();
    assert!(
        last.stack.rx_tcp_segments > 0 && last.stack.tx_tcp_segments > 0,
        "counters read after the stop: {} segments in, {} out",
        last.stack.rx_tcp_segments,
        last.stack.tx_tcp_segments
    );
    let again = &runtime.stats()[0];
    assert_eq!(
        (again.stack.rx_tcp_segments, again.stack.tx_tcp_segments),
        (last.stack.rx_tcp_segments, last.stack.tx_tcp_segments),
        "counters after the stop must be final"
    );
}

/// Counters read while the runtime runs grow with every exchange.
#[test]
#[ignore = "runs inside the lab's stack namespace: started by defect_9_counters_read_right_after_traffic_count_it"]
fn defect_9_in_the_stack_namespace_counters_while_running_count_the_traffic() {
    let (runtime, peer_ns) = echo_runtime_in_the_stack_namespace();
    let mut before = 0;
    for round in 1..=3 {
        linux_echo(&peer_ns, 1000);
        let now = runtime.stats()[0].stack.rx_tcp_segments;
        assert!(
            now > before,
            "round {round}: {now} segments in read right after the echo, {before} before it"
        );
        before = now;
    }
}

#[test]
fn two_queues_serve_and_hand_frames_to_their_owner() {
    let Some((_serial, lab)) = setup("mq", 2) else {
        return;
    };
    let server = serve(&lab, "http", 8080, &["--queues", "2"]);
    let url = format!("http://{STACK_IP}:8080/");
    let out = run_in(
        &lab.peer_ns(),
        30,
        "wrk",
        &["-c", "32", "-t", "2", "-d", "2", &url],
    );
    let report = text(&out);
    assert!(
        out.status.success() && !report.contains("Socket errors"),
        "{report}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let (ok, output) = server.stop();
    assert!(ok, "{output}");
    // Several queues on a veth need native XDP (XdpAttach::Auto).
    assert!(output.contains("(driver veth) in native mode"), "{output}");
    // Both queues carried connections.
    for queue in ["queue 0:", "queue 1:"] {
        let line = output
            .lines()
            .find(|l| l.starts_with(queue))
            .unwrap_or_else(|| panic!("{output}"));
        assert!(counter(line, "socket rx") > 0, "{line}");
    }

    // Active opens: replies may arrive on either queue and reach the opening worker.
    let data = temp_path("mq-input");
    let status = Command::new("head")
        .args(["-c", "8M", "/dev/urandom"])
        .stdout(std::fs::File::create(&data).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let want = sha256(&data);
    for port in [5100u16, 5101, 5102] {
        let mut listener = ncat_listen(&lab, port, &format!("--send-only < {}", data.display()));
        let got = temp_path("mq-output");
        let out = nc(
            &lab,
            &["--queues", "2", &PEER_IP.to_string(), &port.to_string()],
            Path::new("/dev/null"),
            &got,
        );
        assert!(out.status.success(), "nc failed: {}", text(&out));
        // veth reports no RSS: the workers split the ephemeral range and hand replies over.
        assert!(
            text(&out).contains("handed over (the interface reports no RSS configuration)"),
            "{}",
            text(&out)
        );
        let _ = listener.wait();
        assert_eq!(sha256(&got), want);
        let _ = std::fs::remove_file(&got);
    }
    let _ = std::fs::remove_file(&data);
}

/// Linux clients holding `count` connections open at once (one process: fewer than the
/// 20,000 descriptors a process may have here), then each echoing 100 bytes of its own.
const MANY_CONNECTIONS_CLIENT: &str = r#"
import asyncio, resource, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
async def main():
    opening = asyncio.Semaphore(256)
    async def open_one(i):
        async with opening:
            for attempt in range(5):
                try:
                    return await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                except (OSError, asyncio.TimeoutError):
                    await asyncio.sleep(0.2)
            raise RuntimeError(f"connection {i} not opened")
    conns = await asyncio.gather(*(open_one(i) for i in range(count)))
    print("open", len(conns), flush=True)
    async def echo(i, reader, writer):
        data = (f"{i:08d}" * 13)[:100].encode()
        writer.write(data)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(data)), 30)
        return got == data
    results = await asyncio.gather(*(echo(i, r, w) for i, (r, w) in enumerate(conns)))
    print("echoed", sum(results), "of", count, flush=True)
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
asyncio.run(main())
"#;

/// 10,000 concurrent connections from Linux over four queues: each worker takes the
/// connections whose SYNs reach its queue, every one echoes its own bytes, and the spread
/// over the workers is printed.
#[test]
fn ten_thousand_linux_connections_spread_over_four_workers_and_all_echo() {
    let Some((_serial, lab)) = setup("10k", 4) else {
        return;
    };
    const CONNECTIONS: u32 = 10_000;
    let server = serve(&lab, "echo", 7, &["--queues", "4"]);
    let out = run_in(
        &lab.peer_ns(),
        120,
        "python3",
        &[
            "-c",
            MANY_CONNECTIONS_CLIENT,
            &STACK_IP.to_string(),
            "7",
            &CONNECTIONS.to_string(),
        ],
    );
    let report = text(&out);
    std::thread::sleep(Duration::from_millis(500));
    let (ok, output) = server.stop();
    assert!(
        out.status.success() && report.contains(&format!("echoed {CONNECTIONS} of {CONNECTIONS}")),
        "{report}\nserver:\n{output}"
    );
    assert!(ok, "{output}");
    let mut spread = Vec::new();
    for queue in 0..4 {
        let line = output
            .lines()
            .find(|l| l.starts_with(&format!("queue {queue}:")))
            .unwrap_or_else(|| panic!("{output}"));
        spread.push(counter(line, "(accepted "));
    }
    println!("connections accepted per worker (queues 0-3): {spread:?}");
    assert_eq!(
        spread.iter().sum::<u64>(),
        u64::from(CONNECTIONS),
        "{output}"
    );
    assert!(
        spread.iter().all(|&n| n > 0),
        "every worker took connections: {spread:?}"
    );
}

/// Runs `xdptcp load` in the lab's peer namespace (on peer0 unless `--stack kernel`).
fn load_in_peer(lab: &Lab, args: &[&str]) -> Output {
    let mut full = vec!["load", "--iface", "peer0", "--quiet"];
    full.extend_from_slice(args);
    run_in(&lab.peer_ns(), 60, BIN, &full)
}

/// `xdptcp load` from the peer's own address and four more (`--more-ips`, the addresses the
/// lab gave the peer): its connections to a Linux echo server come from all five, and every
/// request is answered. The server's `ss` shows the spread while the load runs.
#[test]
fn load_opens_connections_from_every_address_it_is_given() {
    let Some((_serial, lab)) = setup("addrs", 1) else {
        return;
    };
    let more = lab.add_peer_addresses(4).expect("peer addresses");
    let range = format!("{}-{}", more[0], more[3]);
    let kernel = Running::start(
        &lab,
        &["serve", "--stack", "kernel", "--port", "7", "--app", "echo"],
        "serving",
    );
    let summary = temp_path("addrs.summary");
    let target = format!("{STACK_IP}:7");
    let (out, peers) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            load_in_peer(
                &lab,
                &[
                    "--target",
                    &target,
                    "--more-ips",
                    &range,
                    "--connections",
                    "20",
                    "--duration",
                    "3",
                    "--summary",
                    summary.to_str().unwrap(),
                ],
            )
        });
        std::thread::sleep(Duration::from_millis(2_000));
        let ss = run_in(&lab.stack_ns(), 10, "ss", &["-Htn", "state", "established"]);
        let mut peers: Vec<String> = text(&ss)
            .lines()
            .filter(|l| l.contains(&format!("{STACK_IP}:7")))
            .filter_map(|l| l.split_whitespace().last())
            .filter_map(|peer| peer.rsplit_once(':').map(|(ip, _)| ip.to_string()))
            .collect();
        peers.sort();
        peers.dedup();
        (load.join().unwrap(), peers)
    });
    let report = text(&out);
    assert!(
        out.status.success(),
        "{report}\nserver:\n{}",
        kernel.output()
    );
    assert_eq!(summary_value(&summary, "errors"), 0.0, "{report}");
    assert!(summary_value(&summary, "answered") > 100.0, "{report}");
    let mut want: Vec<String> = std::iter::once(PEER_IP)
        .chain(more.iter().copied())
        .map(|a| a.to_string())
        .collect();
    want.sort();
    assert_eq!(peers, want, "the server's peers while the load ran");
    let (ok, output) = kernel.stop();
    assert!(ok, "{output}");
    let _ = std::fs::remove_file(&summary);
}

/// `xdptcp load --hold`: 3,000 idle connections are opened first and held while four echo;
/// the server accepts all of them, and the report gives how fast they were opened.
#[test]
fn load_holds_idle_connections_open_beside_its_workload() {
    let Some((_serial, lab)) = setup("hold", 1) else {
        return;
    };
    let echo = serve(&lab, "echo", 7, &[]);
    let summary = temp_path("hold.summary");
    let target = format!("{STACK_IP}:7");
    let out = load_in_peer(
        &lab,
        &[
            "--target",
            &target,
            "--hold",
            "3000",
            "--connections",
            "4",
            "--duration",
            "2",
            "--summary",
            summary.to_str().unwrap(),
        ],
    );
    let report = text(&out);
    assert!(out.status.success(), "{report}\nserver:\n{}", echo.output());
    assert_eq!(
        summary_value(&summary, "held_established"),
        3000.0,
        "{report}"
    );
    assert_eq!(summary_value(&summary, "held_failed"), 0.0, "{report}");
    assert!(
        summary_value(&summary, "held_connections_per_second") > 0.0,
        "{report}"
    );
    assert_eq!(summary_value(&summary, "errors"), 0.0, "{report}");
    assert!(summary_value(&summary, "answered") > 100.0, "{report}");
    println!(
        "{}",
        report.lines().find(|l| l.contains("held")).unwrap_or("")
    );
    let (ok, output) = echo.stop();
    assert!(ok, "{output}");
    assert_eq!(closing_counter(&output, "(accepted "), 3004, "{output}");
    let _ = std::fs::remove_file(&summary);
}

/// A `name value` field of a `--summary` file.
fn summary_value(path: &Path, name: &str) -> f64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {}:\n{text}", path.display()))
}

#[test]
fn load_holds_its_rate_and_counts_every_request() {
    let Some((_serial, lab)) = setup("rate", 1) else {
        return;
    };
    let server = serve(&lab, "echo", 7, &[]);
    let summary = temp_path("rate.summary");
    let hgrm = temp_path("rate.hgrm");
    let target = format!("{STACK_IP}:7");
    let out = load_in_peer(
        &lab,
        &[
            "--target",
            &target,
            "--workload",
            "echo",
            "--connections",
            "8",
            "--rate",
            "5000",
            "--duration",
            "10",
            "--summary",
            summary.to_str().unwrap(),
            "--hgrm",
            hgrm.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "load failed: {}", text(&out));
    let requests = summary_value(&summary, "requests");
    let answered = summary_value(&summary, "answered");
    let unanswered = summary_value(&summary, "unanswered");
    assert!(
        (requests - 50_000.0).abs() <= 500.0,
        "rate off by more than 1%: {requests} requests in 10 s"
    );
    assert_eq!(answered + unanswered, requests);
    let histogram = std::fs::read_to_string(&hgrm).unwrap();
    let counted = counter(&histogram, "Total count    =");
    assert_eq!(
        counted as f64, requests,
        "the histogram must count every request"
    );
    println!(
        "load --rate 5000 for 10 s: {requests} requests, {answered} answered, histogram {counted}"
    );
    let (ok, output) = server.stop();
    assert!(ok, "{output}");
    for p in [&summary, &hgrm] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn load_runs_every_workload_on_both_stacks() {
    let Some((_serial, lab)) = setup("work", 1) else {
        return;
    };
    let summary = temp_path("work.summary");
    for (workload, app, port) in [
        ("echo", "echo", 7u16),
        ("sockperf", "sockperf", 11111),
        ("http", "http", 8080),
        ("connect", "http", 8080),
        ("bulk", "discard", 9),
    ] {
        let server = serve(&lab, app, port, &[]);
        for stack in ["xdptcp", "kernel"] {
            let target = format!("{STACK_IP}:{port}");
            let out = load_in_peer(
                &lab,
                &[
                    "--stack",
                    stack,
                    "--target",
                    &target,
                    "--workload",
                    workload,
                    "--connections",
                    "4",
                    // Three seconds: a first ARP request or SYN lost on a loaded machine
                    // is retried after 1 s (RFC 1122 §2.3.2.1, RFC 6298 §2), and the run
                    // must still have time to be answered.
                    "--duration",
                    "3",
                    "--summary",
                    summary.to_str().unwrap(),
                ],
            );
            let report = text(&out);
            assert!(
                out.status.success(),
                "{workload} over {stack} failed: {report}\nserver output:\n{}",
                server.output()
            );
            assert_eq!(
                summary_value(&summary, "errors"),
                0.0,
                "{workload} over {stack}: {report}"
            );
            if workload == "bulk" {
                assert!(summary_value(&summary, "gbit_per_second") > 0.0, "{report}");
            } else {
                assert!(
                    summary_value(&summary, "answered") > 100.0,
                    "{workload} over {stack}: {report}"
                );
            }
            println!(
                "{workload} over {stack}: {}",
                report.lines().nth(1).unwrap_or("").trim()
            );
        }
        let (ok, output) = server.stop();
        assert!(ok, "{output}");
    }
    // The kernel server (serve --stack kernel) under the xdptcp load generator.
    let kernel = Running::start(
        &lab,
        &["serve", "--stack", "kernel", "--port", "7", "--app", "echo"],
        "serving",
    );
    let target = format!("{STACK_IP}:7");
    let out = load_in_peer(
        &lab,
        &["--target", &target, "--connections", "4", "--duration", "3"],
    );
    assert!(
        out.status.success(),
        "load against the kernel server: {}",
        text(&out)
    );
    let (ok, output) = kernel.stop();
    assert!(ok, "{output}");
    let _ = std::fs::remove_file(&summary);
}
