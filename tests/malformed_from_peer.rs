//! Every malformed class of the fuzz seed corpus (`fuzz/src/seeds.rs`: option lengths 0, 1 or
//! past the header, MSS 0, data offset below 5 or past the segment, IP lengths disagreeing,
//! IP options, fragments, SYN+FIN, SYN+RST, no flags, port 0, source equal to destination,
//! window scale above 14, SACK blocks outside the window or wrapping, truncated frames at
//! each layer, bad checksums, ...) sent from the Linux peer's namespace, one frame at a time
//! through an AF_PACKET socket, to `xdptcp serve --app echo` over AF_XDP.
//!
//! Each frame is the seed's with the simulator's addresses and port replaced by the lab's,
//! the checksums moved by the same amount (RFC 1624), so a valid checksum stays valid and a
//! broken one stays broken by the same error. A frame the XDP program steers (IPv4, TCP, to
//! the stack's address and port, headers whole) must move the stack's counter the seed names,
//! and only a frame the program leaves to the kernel (not IPv4 or not TCP, a fragment, cut
//! before the TCP header, for another address) moves the program's "passed" counter instead.
//! Nothing panics (the server stops cleanly at the end) and a fresh connection afterwards
//! echoes exactly. Frames shorter than an Ethernet header cannot be sent from Linux and are
//! left to the simulator's test of the same seeds (tests/fuzz_corpus.rs). Needs root;
//! skipped without.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xdptcp::lab::{Lab, Topology, DIRECT_PEER_IP, PEER_IFACE, STACK_IFACE, STACK_IP};

const PORT: u16 = 7;
const ETH: usize = 14;

fn ns_output(ns: &str, command: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(command)
        .output()
        .expect("ip netns exec runs");
    assert!(out.status.success(), "{command:?} in {ns}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mac_of(ns: &str, iface: &str) -> [u8; 6] {
    let text = ns_output(ns, &["cat", &format!("/sys/class/net/{iface}/address")]);
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// RFC 1624 eqn. 3: the checksum at `at` after the 16-bit word `old` became `new`.
fn adjust(frame: &mut [u8], at: usize, old: u16, new: u16) {
    if frame.len() < at + 2 {
        return;
    }
    let hc = u16::from_be_bytes([frame[at], frame[at + 1]]);
    let mut sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[at..at + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// Replaces the 4 bytes at `at` (an address) by `new`, moving the checksums at `sums`.
fn replace_address(frame: &mut [u8], at: usize, new: Ipv4Addr, sums: &[usize]) {
    let new = new.octets();
    for half in 0..2 {
        let i = at + 2 * half;
        let old = u16::from_be_bytes([frame[i], frame[i + 1]]);
        let value = u16::from_be_bytes([new[2 * half], new[2 * half + 1]]);
        frame[i..i + 2].copy_from_slice(&value.to_be_bytes());
        for &sum in sums {
            adjust(frame, sum, old, value);
        }
    }
}

/// The seed frame with the lab's MACs, addresses and port in place of the simulator's.
fn for_the_lab(seed: &[u8], stack_mac: [u8; 6], peer_mac: [u8; 6]) -> Vec<u8> {
    use harness::stack::{CLIENT_IP, CLIENT_MAC, PORT as SIM_PORT, SERVER_IP, SERVER_MAC};
    let mut f = seed.to_vec();
    if f.len() >= 12 {
        if f[0..6] == SERVER_MAC.0 {
            f[0..6].copy_from_slice(&stack_mac);
        }
        if f[6..12] == CLIENT_MAC.0 {
            f[6..12].copy_from_slice(&peer_mac);
        }
    }
    let ipv4 = f.len() >= ETH + 20 && f[12..14] == [0x08, 0x00] && f[ETH] >> 4 == 4;
    if !ipv4 {
        return f;
    }
    let ihl = usize::from(f[ETH] & 0xf) * 4;
    let tcp = ETH + ihl;
    let is_tcp = f[ETH + 9] == 6 && ihl >= 20;
    // The IP header checksum covers the addresses; the TCP checksum too (pseudo-header),
    // where the frame holds it.
    let mut sums = vec![ETH + 10];
    if is_tcp && f.len() >= tcp + 18 {
        sums.push(tcp + 16);
    }
    let rewrite = |f: &mut Vec<u8>, at: usize, sums: &[usize]| {
        let addr = Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3]);
        let new = match addr {
            a if a == CLIENT_IP => DIRECT_PEER_IP,
            a if a == SERVER_IP => STACK_IP,
            _ => return,
        };
        replace_address(f, at, new, sums);
    };
    rewrite(&mut f, ETH + 12, &sums);
    rewrite(&mut f, ETH + 16, &sums);
    if is_tcp && f.len() >= tcp + 4 {
        for at in [tcp, tcp + 2] {
            let port = u16::from_be_bytes([f[at], f[at + 1]]);
            if port == SIM_PORT {
                f[at..at + 2].copy_from_slice(&PORT.to_be_bytes());
                if let Some(&sum) = sums.get(1) {
                    adjust(&mut f, sum, port, PORT);
                }
            }
        }
    }
    f
}

/// Whether the XDP program (bpf/xdp_steer.c) steers `frame` to the socket: IPv4 with a whole
/// header, TCP, not a fragment, to the stack's address and port, the TCP header whole.
fn steered(f: &[u8]) -> bool {
    if f.len() < ETH + 20 || f[12..14] != [0x08, 0x00] || f[ETH] >> 4 != 4 || f[ETH] & 0xf < 5 {
        return false;
    }
    let ihl = usize::from(f[ETH] & 0xf) * 4;
    let fragment = u16::from_be_bytes([f[ETH + 6], f[ETH + 7]]) & 0x3fff != 0;
    let to_us = f[ETH + 16..ETH + 20] == STACK_IP.octets();
    let tcp = ETH + ihl;
    f[ETH + 9] == 6
        && !fragment
        && to_us
        && f.len() >= tcp + 20
        && u16::from_be_bytes([f[tcp + 2], f[tcp + 3]]) == PORT
}

/// The stack's counters and the program's "passed", from `xdptcp stats --json`.
fn counters(lab: &Lab, socket: &str) -> serde_json::Value {
    let text = ns_output(
        &lab.stack_ns(),
        &[
            env!("CARGO_BIN_EXE_xdptcp"),
            "stats",
            "--json",
            "--socket",
            socket,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("stats --json is JSON");
    v["workers"][0].clone()
}

fn stack_counter(c: &serde_json::Value, name: &str) -> u64 {
    c["stats"]["stack"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no stack counter {name} in {c}"))
}

fn passed(c: &serde_json::Value) -> u64 {
    c["program"]["passed"].as_u64().expect("program.passed")
}

/// Sends `frame` on the peer's interface through an AF_PACKET socket.
fn send_from_peer(lab: &Lab, frame: &[u8]) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
         s.bind(('{PEER_IFACE}', 0))\ns.send(bytes.fromhex('{hex}'))\n"
    );
    ns_output(&lab.peer_ns(), &["python3", "-c", &script]);
}

/// The server, killed if the test fails before it stops it (so no process outlives the test
/// holding what the test's parent holds).
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stop(mut guard: Server) -> String {
    let mut server = guard.0.take().expect("running");
    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            let mut out = String::new();
            if let Some(mut e) = server.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut out);
            }
            assert!(status.success(), "the server failed ({status}):\n{out}");
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
    panic!("the server did not stop within 10 s of Ctrl-C");
}

#[test]
fn every_malformed_class_from_a_linux_peer_is_counted_and_dropped() {
    if !xdptcp::host::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let lab = Lab::up_with("malformed", 1, Topology::Direct).expect("lab up");
    let socket = std::env::temp_dir()
        .join(format!("xdptcp-malformed-{}.sock", std::process::id()))
        .display()
        .to_string();
    let server = Server(Some(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.stack_ns(),
                env!("CARGO_BIN_EXE_xdptcp"),
            ])
            .args([
                "serve",
                "--iface",
                STACK_IFACE,
                "--port",
                "7",
                "--app",
                "echo",
            ])
            .args(["--management-socket", &socket])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xdptcp serve starts"),
    ));
    let ready = Instant::now();
    while !std::path::Path::new(&socket).exists() {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "serve never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stack_mac = mac_of(&lab.stack_ns(), STACK_IFACE);
    let peer_mac = mac_of(&lab.peer_ns(), PEER_IFACE);

    let mut by_stack = 0;
    let mut by_kernel = 0;
    for (name, seed, counter) in harness::seeds::frames() {
        let frame = for_the_lab(&seed, stack_mac, peer_mac);
        if frame.len() < ETH {
            // Shorter than an Ethernet header: no Linux interface sends it (AF_PACKET says
            // EINVAL); the simulator's stack test (tests/fuzz_corpus.rs) covers it.
            println!("{name:42} not sendable from Linux ({} bytes)", frame.len());
            continue;
        }
        let before = counters(&lab, &socket);
        send_from_peer(&lab, &frame);
        // The program's and the stack's counters are read a moment after the frame.
        let deadline = Instant::now() + Duration::from_secs(2);
        let (moved, passed_moved) = loop {
            let after = counters(&lab, &socket);
            let moved = stack_counter(&after, counter) > stack_counter(&before, counter);
            let passed_moved = passed(&after) > passed(&before);
            if moved || passed_moved || Instant::now() > deadline {
                break (moved, passed_moved);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if steered(&frame) {
            assert!(
                moved,
                "{name}: steered to the stack, but {counter} did not move"
            );
            by_stack += 1;
            println!("{name:42} stack: {counter}");
        } else {
            assert!(
                passed_moved && !moved,
                "{name}: the XDP program should leave it to the kernel (passed moved: \
                 {passed_moved}, {counter} moved: {moved})"
            );
            by_kernel += 1;
            println!("{name:42} XDP program: passed to the kernel");
        }
    }
    println!("{by_stack} classes counted by the stack, {by_kernel} left to the kernel by XDP");
    assert!(by_stack >= 20, "most classes reach the stack");

    // A fresh connection afterwards echoes exactly.
    let mut nc = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "ncat", "--no-shutdown"])
        .args(["-w", "5", "-i", "2", &STACK_IP.to_string(), "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ncat starts");
    let message = b"after the malformed frames\n";
    nc.stdin.take().unwrap().write_all(message).unwrap();
    let out = nc.wait_with_output().unwrap();
    assert_eq!(
        &out.stdout[..],
        &message[..],
        "the echo after the malformed frames"
    );
    let log = stop(server);
    assert!(!log.contains("panicked"), "{log}");
}
