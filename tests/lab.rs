//! The impaired router of the routed lab (see `xdptcp::lab`): Linux to Linux through loss,
//! duplication, delay and reordering, with the router's counters and the receiver's kernel
//! counters as evidence; a cleared impairment gives a clean path back; bad requests fail
//! with clear messages.
//!
//! These tests need root (namespaces, nftables, NFQUEUE). Without it they say so and skip;
//! in `make test`, run as root, they run. They take a lock so they run one at a time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::{RngCore, SeedableRng};
use xdptcp::lab::{
    Direction, Impairment, ImpairmentCounters, Lab, PathImpairment, Topology, PEER_IP, STACK_IP,
};

const BIN: &str = env!("CARGO_BIN_EXE_xdptcp");
static SERIAL: Mutex<()> = Mutex::new(());
const TRANSFER_BYTES: usize = 8 << 20;
const PORT: &str = "5000";

/// Takes the serial lock and builds a routed lab, or says why the test is skipped.
fn setup(tag: &str) -> Option<(MutexGuard<'static, ()>, Lab)> {
    if !xdptcp::host::is_root() {
        eprintln!("skipped: needs root (network namespaces, nftables and NFQUEUE)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    Some((serial, Lab::up(&lab_name(tag), 1).expect("lab up")))
}

/// [`setup`], then the same impairment in both directions.
fn setup_impaired(tag: &str, path: PathImpairment) -> Option<(MutexGuard<'static, ()>, Lab)> {
    let (serial, lab) = setup(tag)?;
    lab.impair(&Impairment::both(path)).expect("impair");
    Some((serial, lab))
}

/// A lab name unique to this process and test.
fn lab_name(tag: &str) -> String {
    format!("l{}{tag}", std::process::id() % 100_000)
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xdptcp-labtest-{}-{name}", std::process::id()))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `program args` in namespace `ns` with a time limit.
fn run_in(ns: &str, program: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "30", program])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs the `xdptcp` command with `args`.
fn xdptcp(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run xdptcp")
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum: {}", text(&out));
    text(&out).split_whitespace().next().unwrap().to_string()
}

/// A file of random bytes, the same for every run (so one file serves them all).
fn payload() -> PathBuf {
    let path = std::env::temp_dir().join("xdptcp-labtest-payload-8MiB");
    if !path.exists() {
        let mut bytes = vec![0u8; TRANSFER_BYTES];
        rand_chacha::ChaCha8Rng::seed_from_u64(14).fill_bytes(&mut bytes);
        let partial = temp_path("payload");
        std::fs::write(&partial, bytes).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// Waits until a TCP socket listens on `port` in `ns`.
fn wait_listening(ns: &str, port: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ss = run_in(ns, "ss", &["-Hltn", &format!("sport = :{port}")]);
        if text(&ss).contains(port) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} in {ns}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends the payload with `ncat` from the peer's namespace to `ncat -l` in the stack's
/// namespace and asserts that the same bytes arrived. Returns the transfer time.
fn transfer_peer_to_stack(lab: &Lab) -> Duration {
    let received = temp_path(&format!("{}-received", lab.name()));
    let out = std::fs::File::create(&received).unwrap();
    let mut listener: Child = Command::new("ip")
        .args(["netns", "exec", &lab.stack_ns(), "timeout", "60", "ncat"])
        .args(["-l", PORT])
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("ncat -l");
    wait_listening(&lab.stack_ns(), PORT);
    let start = Instant::now();
    let input = std::fs::File::open(payload()).unwrap();
    let sender = Command::new("ip")
        .args(["netns", "exec", &lab.peer_ns(), "timeout", "60", "ncat"])
        .args(["--send-only", &STACK_IP.to_string(), PORT])
        .stdin(input)
        .output()
        .expect("ncat");
    assert!(sender.status.success(), "ncat sender: {}", text(&sender));
    let status = listener.wait().unwrap();
    let elapsed = start.elapsed();
    assert!(status.success(), "ncat -l: {status}");
    assert_eq!(
        sha256(&received),
        sha256(&payload()),
        "the {TRANSFER_BYTES} bytes arrived changed"
    );
    let _ = std::fs::remove_file(&received);
    elapsed
}

/// The kernel's TCP counter `name` (nstat, absolute) in namespace `ns`. The namespace is as
/// old as the test's lab, so the count is the test's.
fn tcp_counter(ns: &str, name: &str) -> u64 {
    let out = run_in(ns, "nstat", &["-asz", name]);
    text(&out)
        .lines()
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            (fields.next() == Some(name)).then(|| fields.next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {name} in nstat output: {}", text(&out)))
}

/// Sends the payload from the peer to the stack, then reads the router's counters and the
/// receiver's kernel counter `receiver_counter`.
fn transfer_and_count(lab: &Lab, receiver_counter: &str) -> (ImpairmentCounters, u64) {
    transfer_peer_to_stack(lab);
    let counters = lab.counters().expect("counters");
    (counters, tcp_counter(&lab.stack_ns(), receiver_counter))
}

/// The median ping round trip from the stack to the peer, in milliseconds.
fn ping_rtt_ms(lab: &Lab) -> f64 {
    let out = run_in(
        &lab.stack_ns(),
        "ping",
        &["-c", "20", "-i", "0.01", "-W", "1", &PEER_IP.to_string()],
    );
    assert!(out.status.success(), "ping: {}", text(&out));
    let mut times: Vec<f64> = text(&out)
        .lines()
        .filter_map(|l| {
            l.split("time=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(times.len() >= 15, "ping replies: {}", text(&out));
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Asserts that `count` of `n` trials is what probability `p` gives, within four standard
/// deviations of the binomial distribution (a false failure about once in 15,000 runs).
fn assert_near_share(what: &str, count: u64, n: u64, p: f64) {
    let mean = n as f64 * p;
    let margin = 4.0 * (mean * (1.0 - p)).sqrt() + 1.0;
    assert!(
        (count as f64 - mean).abs() <= margin,
        "{what}: {count} of {n} is not near {p} (expected {mean:.0} ± {margin:.0})"
    );
}

#[test]
fn two_percent_loss_keeps_the_data_and_drops_near_two_percent_until_cleared() {
    let loss = PathImpairment {
        loss: 0.02,
        ..PathImpairment::default()
    };
    let Some((_serial, lab)) = setup_impaired("loss", loss) else {
        return;
    };
    let took = transfer_peer_to_stack(&lab);
    let c = lab.counters().expect("counters");
    print!("loss 0.02, 8 MiB in {took:?}:\n{c}");
    assert!(
        c.to_stack.tcp_packets > 5800,
        "8 MiB are 5,800 full segments"
    );
    for direction in Direction::BOTH {
        let d = c.direction(direction);
        assert_near_share(direction.name(), d.lost, d.tcp_packets, 0.02);
        assert_eq!(d.duplicated, 0);
    }
    assert!(tcp_counter(&lab.peer_ns(), "TcpRetransSegs") >= c.to_stack.lost);

    // The command-line way back to a clean path, on the lab this test made.
    let cleared = xdptcp(&["lab", "impair", "--name", lab.name(), "--clear"]);
    assert!(cleared.status.success(), "{}", text(&cleared));
    transfer_peer_to_stack(&lab);
    let c = lab.counters().expect("counters");
    print!("after --clear:\n{c}");
    assert!(c.to_stack.tcp_packets > 5000, "the counters still count");
    assert_eq!((c.to_stack.lost, c.to_peer.lost), (0, 0));
}

#[test]
fn duplication_keeps_the_data_and_the_receiver_sees_the_copies() {
    let duplication = PathImpairment {
        duplicate: 0.02,
        ..PathImpairment::default()
    };
    let Some((_serial, lab)) = setup_impaired("dup", duplication) else {
        return;
    };
    let (c, dsacks) = transfer_and_count(&lab, "TcpExtTCPDSACKOldSent");
    print!("duplicate 0.02:\n{c}receiver's D-SACKs for old data: {dsacks}\n");
    let d = c.to_stack;
    assert_near_share("duplicated", d.duplicated, d.tcp_packets, 0.02);
    assert_eq!(d.lost, 0);
    // RFC 2883: the receiver reports each duplicate segment with a D-SACK block.
    assert!(dsacks * 2 >= d.duplicated, "{dsacks} D-SACKs for {d:?}");
}

#[test]
fn a_delay_of_one_millisecond_adds_it_to_each_direction_until_cleared() {
    let Some((_serial, lab)) = setup("delay") else {
        return;
    };
    lab.impair(&Impairment::none()).expect("impair");
    let clean = ping_rtt_ms(&lab);
    let one_way = Impairment {
        to_peer: PathImpairment {
            delay: Duration::from_micros(1000),
            ..PathImpairment::default()
        },
        ..Impairment::none()
    };
    lab.impair(&one_way).expect("impair");
    let to_peer_only = ping_rtt_ms(&lab);
    lab.impair(&Impairment::both(one_way.to_peer.clone()))
        .expect("impair");
    let both = ping_rtt_ms(&lab);
    let counters = lab.counters().expect("counters");
    let cleared = xdptcp(&["lab", "impair", "--name", lab.name(), "--clear"]);
    assert!(cleared.status.success(), "{}", text(&cleared));
    let after = ping_rtt_ms(&lab);
    println!(
        "ping RTT median: clean {clean:.3} ms, 1 ms toward the peer {to_peer_only:.3} ms, \
         1 ms both ways {both:.3} ms, after --clear {after:.3} ms"
    );
    print!("{counters}");
    // Each direction adds its millisecond: the floor is tight, the ceiling leaves room for
    // the forwarder's wake-ups on a loaded host (a run beside a qemu guest and valgrind
    // measured 3.24 ms both ways, 1.16 ms above the 2 ms).
    assert!((0.8..2.0).contains(&(to_peer_only - clean)), "one way");
    assert!((1.8..3.6).contains(&(both - clean)), "both ways");
    assert!(
        both - to_peer_only > 0.8,
        "the second direction adds its own delay"
    );
    assert!(after < clean + 0.3, "cleared");
    assert!(counters.to_peer.forwarder.arrived >= 20 && counters.to_stack.forwarder.arrived >= 20);
    let no_forwarder = Command::new("ip")
        .args(["netns", "pids", &lab.router_ns()])
        .output()
        .unwrap();
    assert_eq!(text(&no_forwarder).trim(), "", "the forwarder is gone");
}

#[test]
fn reordering_shows_out_of_order_arrivals_and_jitter_alone_does_not() {
    let jitter = PathImpairment {
        delay: Duration::from_micros(300),
        jitter: Duration::from_micros(250),
        ..PathImpairment::default()
    };
    let Some((_serial, lab)) = setup_impaired("reord", jitter) else {
        return;
    };
    let (jittered, ofo_jitter) = transfer_and_count(&lab, "TcpExtTCPOFOQueue");
    print!("delay 300 us ± 250 us:\n{jittered}receiver's out-of-order queueings: {ofo_jitter}\n");
    assert_eq!(ofo_jitter, 0, "jitter must not reorder");
    assert_eq!(jittered.to_stack.forwarder.reordered, 0);

    lab.impair(&Impairment::both(PathImpairment {
        reorder: 0.01,
        ..PathImpairment::default()
    }))
    .expect("impair");
    let (c, ofo) = transfer_and_count(&lab, "TcpExtTCPOFOQueue");
    print!("reorder 0.01:\n{c}receiver's out-of-order queueings: {ofo}\n");
    let f = c.to_stack.forwarder;
    assert!(f.arrived >= c.to_stack.tcp_packets * 9 / 10, "{f:?}");
    assert_near_share("reordered", f.reordered, f.arrived, 0.01);
    assert!(ofo >= c.to_stack.forwarder.reordered, "{ofo} out of order");
    assert_eq!(c.to_stack.queue_dropped, 0);
}

#[test]
fn bad_requests_fail_with_clear_messages() {
    let Some((_serial, lab)) = setup("errs") else {
        return;
    };
    let fails_with = |args: &[&str], expected: &str| {
        let out = xdptcp(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(text(&out).contains(expected), "{args:?}: {}", text(&out));
        print!("{}", text(&out));
    };
    let name = lab.name().to_string();
    fails_with(
        &["lab", "impair", "--name", &name, "--loss", "1.5"],
        "must be a probability between 0 and 1, not 1.5",
    );
    fails_with(
        &["lab", "impair", "--name", &name, "--reorder", "-0.1"],
        "not -0.1",
    );
    fails_with(
        &["lab", "impair", "--name", "nosuchlab", "--loss", "0.1"],
        "no lab",
    );
    fails_with(&["lab", "impair", "--name", &name], "nothing to change");
    fails_with(&["lab", "counters", "--name", &name], "no impairment rules");

    // Without nft on PATH: only `ip`, which finds the lab.
    let tools = temp_path("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let ip = Command::new("sh")
        .args(["-c", "command -v ip"])
        .output()
        .unwrap();
    let _ = std::os::unix::fs::symlink(text(&ip).trim(), tools.join("ip"));
    let out = Command::new(BIN)
        .args(["lab", "impair", "--name", &name, "--loss", "0.1"])
        .env("PATH", &tools)
        .output()
        .unwrap();
    assert!(
        text(&out).contains("`nft` is not installed (Debian package nftables"),
        "{}",
        text(&out)
    );
    print!("{}", text(&out));

    // Not root.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["lab", "impair", "--name", &name, "--loss", "0.1"])
        .output()
        .unwrap();
    assert!(text(&out).contains("needs root"), "{}", text(&out));
    print!("{}", text(&out));

    let direct = Lab::up_with(&lab_name("errd"), 1, Topology::Direct).expect("direct lab");
    let refused = direct.impair(&Impairment::none()).unwrap_err();
    assert!(refused.to_string().contains("is direct"), "{refused}");
    println!("{refused}");
    let _ = std::fs::remove_dir_all(&tools);
}
