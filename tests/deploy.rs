//! The deployment pieces: `serve --config` (two ports with two apps, and errors that name the
//! key), the shipped `deploy/xdptcp.toml`, the systemd unit `deploy/xdptcp.service` and the
//! capabilities it grants (served as an unprivileged user with exactly those, and refused
//! with the missing one named when one is taken away), `xdptcp nc -l PORT` as ncat takes
//! it, `deploy/tune-host.sh` on the lab's veth, and the UMEM on huge pages (`umem.hugepages`:
//! required and mapped from a pool reserved here, required and refused without one).
//!
//! The network tests need root (namespaces, XDP, AF_XDP); without it they say so and skip.
//! They take a lock so they run one at a time, each on a lab of its own.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xdptcp::config::ServeFile;
use xdptcp::lab::{Lab, STACK_IFACE, STACK_IP};

const BIN: &str = env!("CARGO_BIN_EXE_xdptcp");
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
/// The unprivileged user the capability tests run as (nobody).
const NOBODY: &str = "65534";
static SERIAL: Mutex<()> = Mutex::new(());

fn deploy(file: &str) -> PathBuf {
    Path::new(DEPLOY).join(file)
}

/// A file of this test process's own in the temporary directory.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xdptcp-deploy-{}-{name}", std::process::id()))
}

/// Takes the serial lock and builds a lab, or says why the test is skipped.
fn lab(tag: &str) -> Option<(MutexGuard<'static, ()>, Lab)> {
    lab_with_queues(tag, 1)
}

fn lab_with_queues(tag: &str, queues: u32) -> Option<(MutexGuard<'static, ()>, Lab)> {
    if !xdptcp::host::is_root() {
        eprintln!("skipped: needs root (network namespaces, XDP and AF_XDP)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("d{}{tag}", std::process::id() % 100_000);
    Some((serial, Lab::up(&name, queues).expect("lab up")))
}

fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `args` (a program and its arguments) in namespace `ns`, at most `secs` seconds.
fn run_in(ns: &str, secs: u32, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", &secs.to_string()])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// A process in the lab's stack namespace, its output in a file.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `command` (a program and its arguments) in the stack namespace.
    fn spawn(lab: &Lab, command: &[&str]) -> Server {
        let log = scratch(&format!("{}-{}.log", lab.name(), command.len()));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.stack_ns()])
            .args(command)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("spawn");
        Server { child, log }
    }

    fn output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Waits until `marker` is in the output; panics if the process ends first.
    fn wait_for(&mut self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.output().contains(marker) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exited with {status} before {marker:?}:\n{}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "no {marker:?} in:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to end by itself; its success and output.
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

    /// SIGTERM, as systemd stops a service; then its success and output.
    fn terminate(self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
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

fn xdp_attached(lab: &Lab) -> bool {
    let out = Command::new("ip")
        .args(["-n", &lab.stack_ns(), "link", "show", STACK_IFACE])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

/// The echo app on port 7 and the http app on port 8080 answer Linux clients in the peer
/// namespace; returns what each gave, for the test's line.
fn check_echo_and_http(lab: &Lab) -> String {
    let peer = lab.peer_ns();
    let url = format!("http://{STACK_IP}:8080/");
    let curl = run_in(
        &peer,
        10,
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            &url,
        ],
    );
    let http = String::from_utf8_lossy(&curl.stdout).to_string();
    assert_eq!(http, "200 64", "curl: {}", output_text(&curl));
    let script = format!("printf 'echo through port 7' | ncat {STACK_IP} 7");
    let echo = run_in(&peer, 10, &["sh", "-c", &script]);
    let echoed = String::from_utf8_lossy(&echo.stdout).to_string();
    assert_eq!(
        echoed,
        "echo through port 7",
        "ncat: {}",
        output_text(&echo)
    );
    format!(
        "http on 8080: {http} bytes; echo on 7: {} bytes back",
        echoed.len()
    )
}

#[test]
fn a_config_file_serves_two_ports_with_two_apps() {
    let Some((_serial, lab)) = lab("cfg") else {
        return;
    };
    let config = deploy("xdptcp.toml");
    let mut server = Server::spawn(&lab, &[BIN, "serve", "--config", config.to_str().unwrap()]);
    server.wait_for("Ctrl-C stops");
    let ready = server.output();
    assert!(
        ready.contains("serving echo on 10.77.1.2:7 and http on 10.77.1.2:8080 via xdp0"),
        "{ready}"
    );
    let seen = check_echo_and_http(&lab);
    let (ok, output) = server.terminate();
    assert!(ok, "{output}");
    println!("config: deploy/xdptcp.toml serves two ports: {seen}");
}

/// Runs `serve --config` on `text` (no network is touched: the file is refused first) and
/// returns the exit success and standard error.
fn serve_with_config(name: &str, text: &str) -> (bool, String) {
    let path = scratch(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_bad_key_and_a_bad_value_are_refused_with_the_key_named() {
    let listener = "interface = \"xdp0\"\n[[listen]]\nport = 7\napp = \"echo\"\n";
    let (ok, err) = serve_with_config("bad-key.toml", &format!("{listener}prot = 8\n"));
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.ends_with(": unknown key \"listen[0].prot\"\n"), "{err}");
    let (ok, err) = serve_with_config("bad-value.toml", &format!("queues = 0\n{listener}"));
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.ends_with(": \"queues\": must be 1..64, got 0\n"),
        "{err}"
    );
    println!("config errors: {}", err.trim());
}

/// `line` without its "# " if what follows is a key line or a table header.
fn key_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("# ")?;
    let key = rest.split(" = ").next()?;
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let is_table = rest.starts_with('[') && rest.ends_with(']');
    (is_key && rest.contains(" = ") || is_table).then_some(rest)
}

/// The text of `deploy/xdptcp.toml` with every commented key line made a key line.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| key_line(line).unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_shipped_config_lists_every_key_with_its_default() {
    let text = std::fs::read_to_string(deploy("xdptcp.toml")).unwrap();
    let plain = ServeFile::parse(&text).unwrap().settings().unwrap();
    let mut every = ServeFile::parse(&uncommented(&text)).expect("every key is a known key");
    // Four keys show an example, not a default: none is the default.
    assert!(every.ip.is_some() && every.management.prometheus.is_some());
    assert!(every.tcp.user_timeout_ms.is_some() && every.management.group.is_some());
    every.ip = None;
    every.management.prometheus = None;
    every.management.group = None;
    every.tcp.user_timeout_ms = None;
    let every = every.settings().unwrap();
    assert_eq!(
        format!("{:?}", every.runtime),
        format!("{:?}", plain.runtime)
    );
    assert_eq!(every.listeners, plain.listeners);
    assert_eq!(every.management, plain.management);
}

/// The unit's value of `key` (the last line that sets it).
fn unit_value(unit: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    unit.lines()
        .rev()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the unit sets no {key}"))
        .to_string()
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    let unit = std::fs::read_to_string(deploy("xdptcp.service")).unwrap();
    // verify checks that ExecStart's program exists: point it at the one just built.
    let dir = scratch("unit");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("xdptcp.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/xdptcp", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian's systemd package)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(output_text(&out), "", "verify has complaints");
    println!("systemd-analyze verify deploy/xdptcp.service: no complaints");
}

/// The capabilities the unit grants, as setpriv(1) names them: `net_admin`, `bpf`, ...
fn unit_capabilities() -> Vec<String> {
    let unit = std::fs::read_to_string(deploy("xdptcp.service")).unwrap();
    let ambient = unit_value(&unit, "AmbientCapabilities");
    assert_eq!(ambient, unit_value(&unit, "CapabilityBoundingSet"));
    ambient
        .split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_ascii_lowercase())
        .collect()
}

/// `serve --config FILE` as user nobody holding exactly `caps`, with the locked-memory
/// limit `memlock` bytes (lowering a limit needs no privilege).
fn serve_as_nobody(lab: &Lab, caps: &[String], memlock: u64, config: &Path) -> Server {
    let list = if caps.is_empty() {
        String::from("-all")
    } else {
        let plus: Vec<String> = caps.iter().map(|c| format!("+{c}")).collect();
        format!("-all,{}", plus.join(","))
    };
    let memlock = format!("--memlock={memlock}");
    let inherit = format!("--inh-caps={list}");
    let ambient = format!("--ambient-caps={list}");
    let bounding = format!("--bounding-set={list}");
    let user = format!("--reuid={NOBODY}");
    let group = format!("--regid={NOBODY}");
    let command = [
        "prlimit",
        &memlock,
        "setpriv",
        &user,
        &group,
        "--clear-groups",
        &inherit,
        &ambient,
        &bounding,
        "--no-new-privs",
        BIN,
        "serve",
        "--config",
        config.to_str().unwrap(),
    ];
    Server::spawn(lab, &command)
}

/// The effective capability mask and real uid in `/proc/<pid>/status`.
fn capabilities_and_uid(pid: u32) -> (u64, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (
        u64::from_str_radix(&field("CapEff:"), 16).unwrap(),
        field("Uid:"),
    )
}

#[test]
fn the_units_capabilities_serve_as_an_unprivileged_user_and_one_less_is_named() {
    let Some((_serial, lab)) = lab("cap") else {
        return;
    };
    let caps = unit_capabilities();
    // The UMEM is charged to RLIMIT_MEMLOCK (the unit's LimitMEMLOCK=). This machine's hard
    // limit is 8 MiB and cannot be raised here (no CAP_SYS_RESOURCE), so the server runs with
    // 4 MiB of frames (1024 of 4 KiB) under that 8 MiB limit.
    let config = scratch("nobody.toml");
    let shipped = std::fs::read_to_string(deploy("xdptcp.toml")).unwrap();
    // The management socket in a directory of nobody's (the unit's RuntimeDirectory is the
    // service user's in the same way).
    let run_dir = scratch("nobody-run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::os::unix::fs::chown(&run_dir, Some(65534), Some(65534)).unwrap();
    let socket = run_dir.join("xdptcp.sock");
    std::fs::write(
        &config,
        format!(
            "{shipped}\n[umem]\nframe_count = 1024\n[management]\nsocket = \"{}\"\n",
            socket.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let memlock = 8 << 20;

    let mut server = serve_as_nobody(&lab, &caps, memlock, &config);
    server.wait_for("Ctrl-C stops");
    let (mask, uid) = capabilities_and_uid(server.child.id());
    let held: Vec<String> = xdptcp::xdp::REQUIRED_CAPABILITIES
        .iter()
        .filter(|c| mask & (1 << c.number()) != 0)
        .map(|c| c.name().trim_start_matches("CAP_").to_ascii_lowercase())
        .collect();
    assert_eq!(uid, NOBODY);
    assert_eq!(
        held, caps,
        "the server holds exactly the unit's capabilities"
    );
    assert_eq!(
        mask.count_ones() as usize,
        caps.len(),
        "and no other: {mask:x}"
    );
    let seen = check_echo_and_http(&lab);
    let (ok, output) = server.terminate();
    assert!(ok, "SIGTERM is a clean stop:\n{output}");
    assert!(
        !xdp_attached(&lab),
        "an XDP program is left on xdp0 after the stop"
    );

    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
        let (ok, output) = serve_as_nobody(&lab, &fewer, memlock, &config).wait_end();
        let name = format!("CAP_{}", missing.to_ascii_uppercase());
        assert!(!ok, "started without {name}:\n{output}");
        assert!(
            output.trim_end().ends_with(&format!("missing: {name}")),
            "without {name}:\n{output}"
        );
    }
    // The UMEM needs more locked memory than a 2 MiB limit gives.
    let (ok, output) = serve_as_nobody(&lab, &caps, 2 << 20, &config).wait_end();
    assert!(!ok);
    assert!(
        output.contains("needs 4096 KiB of locked memory but RLIMIT_MEMLOCK is 2048 KiB"),
        "{output}"
    );
    assert!(!xdp_attached(&lab));
    let _ = std::fs::remove_file(&config);
    let _ = std::fs::remove_dir_all(&run_dir);
    println!(
        "unit capabilities {caps:?} as uid {NOBODY}: {seen}; each one removed is named; no program left after SIGTERM"
    );
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn nc_listens_as_ncat_does_and_carries_64_mib_intact() {
    let Some((_serial, lab)) = lab("nc") else {
        return;
    };
    let data = scratch("nc-in");
    let made = Command::new("head")
        .args(["-c", "64M", "/dev/urandom"])
        .stdout(std::fs::File::create(&data).unwrap())
        .status()
        .unwrap();
    assert!(made.success());
    let received = scratch("nc-out");
    let listen = format!(
        "exec {BIN} nc --iface {STACK_IFACE} -l 5000 > {}",
        received.display()
    );
    let mut nc = Server::spawn(&lab, &["timeout", "60", "sh", "-c", &listen]);
    nc.wait_for("listening on 10.77.1.2:5000");
    let send = format!("ncat --send-only {STACK_IP} 5000 < {}", data.display());
    let sent = run_in(&lab.peer_ns(), 60, &["sh", "-c", &send]);
    assert!(sent.status.success(), "ncat: {}", output_text(&sent));
    let (ok, output) = nc.wait_end();
    assert!(ok, "nc -l: {output}");
    let want = sha256(&data);
    assert_eq!(sha256(&received), want, "SHA-256 differs");
    println!("nc -l 5000: 64 MiB from ncat, SHA-256 {want} both ends");
    for p in [&data, &received] {
        let _ = std::fs::remove_file(p);
    }
}

/// Runs `deploy/tune-host.sh args` in the lab's stack namespace.
fn tune_host(lab: &Lab, args: &[&str]) -> (i32, String) {
    let script = deploy("tune-host.sh");
    let mut command = vec![script.to_str().unwrap()];
    command.extend_from_slice(args);
    let out = run_in(&lab.stack_ns(), 30, &command);
    (out.status.code().unwrap_or(-1), output_text(&out))
}

/// What tune-host changes on the lab's veth: channel counts, the two NAPI settings, and
/// the huge pages.
fn tunables(lab: &Lab) -> Vec<String> {
    let ns = lab.stack_ns();
    let channels = run_in(&ns, 5, &["ethtool", "-l", STACK_IFACE]);
    let current = output_text(&channels);
    let current = current
        .split("Current hardware settings:")
        .nth(1)
        .unwrap_or("");
    let read = |path: &str| {
        let out = run_in(&ns, 5, &["cat", path]);
        output_text(&out).trim().to_string()
    };
    vec![
        current.split_whitespace().collect::<Vec<_>>().join(" "),
        read("/sys/class/net/xdp0/napi_defer_hard_irqs"),
        read("/sys/class/net/xdp0/gro_flush_timeout"),
        read("/proc/sys/vm/nr_hugepages"),
    ]
}

#[test]
fn tune_host_refuses_what_it_does_not_know() {
    let Some((_serial, lab)) = lab("tun0") else {
        return;
    };
    let (code, out) = tune_host(&lab, &["nosuch0", "--queues", "1"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("no interface nosuch0 in this network namespace"),
        "{out}"
    );
    let added = run_in(
        &lab.stack_ns(),
        5,
        &["ip", "link", "add", "br9", "type", "bridge"],
    );
    assert!(added.status.success(), "{}", output_text(&added));
    let (code, out) = tune_host(&lab, &["br9", "--queues", "1"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("br9 uses driver 'bridge', which this script does not know"),
        "{out}"
    );
    let (code, out) = tune_host(&lab, &["lo", "--queues", "1"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("lo uses driver 'none'"), "{out}");
}

#[test]
fn tune_host_dry_runs_applies_what_veth_supports_and_reverts_exactly() {
    let Some((_serial, lab)) = lab_with_queues("tun1", 2) else {
        return;
    };
    let state = scratch("tune.state");
    let state_arg = state.to_str().unwrap();
    let before = tunables(&lab);
    let pages: u64 = before[3].parse().unwrap();
    let more_pages = (pages + 4).to_string();
    let args = [
        STACK_IFACE,
        "--queues",
        "1",
        "--rx-ring",
        "512",
        "--coalesce-usecs",
        "0",
        "--rss-equal",
        "1",
        "--ntuple",
        "flow-type tcp4 dst-port 7 action 0",
        "--cores",
        "1",
        "--governor",
        "performance",
        "--defer-hard-irqs",
        "2",
        "--gro-flush-timeout",
        "200000",
        "--hugepages",
        &more_pages,
        "--state",
        state_arg,
    ];
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let (code, out) = tune_host(&lab, &dry);
    assert_eq!(code, 0, "{out}");
    for line in [
        "+ ethtool -L xdp0 rx 1 tx 1   # was: rx 2 tx 2",
        "+ echo 2 > /sys/class/net/xdp0/napi_defer_hard_irqs   # was: ",
        "+ echo 200000 > /sys/class/net/xdp0/gro_flush_timeout   # was: ",
        "skip ring sizes: veth does not support ethtool -g/-G",
        "skip interrupt coalescing: veth does not support ethtool -c/-C",
        "skip RSS key and table: veth does not support ethtool -x/-X",
        "skip ntuple rules: veth does not support ethtool -n/-N",
        "skip IRQ affinity: xdp0 has no MSI interrupts",
    ] {
        assert!(out.contains(line), "dry run lacks {line:?}:\n{out}");
    }
    assert_eq!(tunables(&lab), before, "the dry run changed something");
    assert!(!state.exists(), "the dry run wrote a state file");

    let (code, out) = tune_host(&lab, &args);
    assert_eq!(code, 0, "{out}");
    let during = tunables(&lab);
    let expected = [
        "RX: 1 TX: 1 Other: n/a Combined: n/a",
        "2",
        "200000",
        more_pages.as_str(),
    ];
    assert_eq!(during, expected, "{out}");
    let (code, again) = tune_host(&lab, &args);
    assert_eq!(code, 2, "a second run over a state file: {again}");

    let (code, reverted) = tune_host(&lab, &[STACK_IFACE, "--revert", "--state", state_arg]);
    assert_eq!(code, 0, "{reverted}");
    let after = tunables(&lab);
    assert_eq!(after, before, "--revert did not restore:\n{reverted}");
    assert!(!state.exists());
    println!("tune-host on veth: before {before:?}, tuned {during:?}, reverted {after:?}");
}

/// A value of `/proc/meminfo` (the `HugePages_*` counts are pages, the rest kB).
fn meminfo(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/meminfo"))
}

const NR_HUGEPAGES: &str = "/proc/sys/vm/nr_hugepages";

/// Sets `vm.nr_hugepages` (global, not per namespace) and puts the old value back on drop.
struct HugePagePool {
    before: String,
}

impl HugePagePool {
    fn set(pages: u64) -> HugePagePool {
        let before = std::fs::read_to_string(NR_HUGEPAGES).unwrap();
        std::fs::write(NR_HUGEPAGES, pages.to_string()).unwrap();
        HugePagePool { before }
    }
}

impl Drop for HugePagePool {
    fn drop(&mut self) {
        let _ = std::fs::write(NR_HUGEPAGES, self.before.trim());
    }
}

/// The mappings of process `pid` on huge pages: (size in kB, KernelPageSize in kB).
fn huge_mappings(pid: u32) -> Vec<(u64, u64)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut found = Vec::new();
    let mut size = 0;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Size:"), Some(kb)) => size = kb.parse().unwrap(),
            (Some("KernelPageSize:"), Some(kb)) if kb != "4" => {
                found.push((size, kb.parse().unwrap()))
            }
            _ => {}
        }
    }
    found
}

#[test]
fn umem_hugepages_require_maps_the_umem_on_2_mib_pages_and_serves() {
    let Some((_serial, lab)) = lab("huge") else {
        return;
    };
    assert_eq!(
        meminfo("Hugepagesize"),
        2048,
        "this test assumes 2 MiB pages"
    );
    // The default UMEM: 4096 frames of 4096 B = 16 MiB = 8 pages; 2 more to spare.
    let free_before_reserve = meminfo("HugePages_Free");
    let _pool = HugePagePool::set(meminfo("HugePages_Total") + 10);
    let free = meminfo("HugePages_Free");
    assert!(
        free >= free_before_reserve + 8,
        "the kernel found no memory for the pages"
    );
    let config = deploy("xdptcp.toml");
    let mut server = Server::spawn(
        &lab,
        &[
            BIN,
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--umem-hugepages",
            "require",
        ],
    );
    server.wait_for("Ctrl-C stops");
    let log = server.output();
    assert!(
        log.contains("UMEM of each of 1 queue(s): 16 MiB on huge pages (8 of 2 MiB, MAP_HUGETLB; umem.hugepages = require)"),
        "{log}"
    );
    let in_use = free - meminfo("HugePages_Free");
    assert_eq!(in_use, 8, "HugePages_Free fell by {in_use}");
    let mappings = huge_mappings(server.child.id());
    assert!(mappings.contains(&(16384, 2048)), "smaps: {mappings:?}");
    let seen = check_echo_and_http(&lab);
    let (ok, output) = server.terminate();
    assert!(ok, "{output}");
    // The kernel gives a closed UMEM's pages back from a work queue, a little later.
    let deadline = Instant::now() + Duration::from_secs(2);
    while meminfo("HugePages_Free") != free && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(meminfo("HugePages_Free"), free, "pages not given back");
    println!(
        "huge pages: 8 of 2 MiB in use while serving (HugePages_Free {free} -> {}), smaps {mappings:?}; {seen}",
        free - in_use
    );
}

#[test]
fn umem_hugepages_require_without_a_pool_names_the_pages_and_prefer_falls_back() {
    let Some((_serial, lab)) = lab("nohuge") else {
        return;
    };
    let _pool = HugePagePool::set(0);
    let available = meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
    assert_eq!(available, 0, "others hold free huge pages");
    let config = deploy("xdptcp.toml");
    let config = config.to_str().unwrap();
    let started = Instant::now();
    let server = Server::spawn(
        &lab,
        &[
            BIN,
            "serve",
            "--config",
            config,
            "--umem-hugepages",
            "require",
        ],
    );
    let (ok, output) = server.wait_end();
    assert!(!ok, "started without huge pages: {output}");
    let error = output.lines().last().unwrap_or("");
    assert!(
        error.starts_with("xdptcp: umem.hugepages = \"require\" (--umem-hugepages require): the UMEMs of 1 queue(s) (4096 frames × 4096 B each) need 8 huge pages of 2 MiB but the hugetlb pool has 0 available (/proc/sys/vm/nr_hugepages is 0); reserve them with `echo 8 > /proc/sys/vm/nr_hugepages`"),
        "{output}"
    );
    assert!(!xdp_attached(&lab), "a program was left on the interface");
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut server = Server::spawn(&lab, &[BIN, "serve", "--config", config]);
    server.wait_for("Ctrl-C stops");
    let log = server.output();
    assert!(
        log.contains("xdp0 queue 0: UMEM on normal pages: the UMEMs of 1 queue(s)"),
        "{log}"
    );
    assert!(
        log.contains("UMEM of 1 queue(s), 16 MiB each: 0 on huge pages, 1 on normal pages (umem.hugepages = prefer"),
        "{log}"
    );
    let seen = check_echo_and_http(&lab);
    let (ok, output) = server.terminate();
    assert!(ok, "{output}");
    println!("no huge pages: require refused with: {error}");
    println!("prefer fell back to normal pages and served: {seen}");
}

#[test]
fn tune_host_hugepages_auto_reserves_what_the_umems_need() {
    let Some((_serial, lab)) = lab("tun2") else {
        return;
    };
    let state = scratch("tune-huge.state");
    let state_arg = state.to_str().unwrap();
    let before = std::fs::read_to_string(NR_HUGEPAGES).unwrap();
    let held = meminfo("HugePages_Total") - meminfo("HugePages_Free");
    let args = [
        STACK_IFACE,
        "--hugepages",
        "auto",
        "--umem-frames",
        "8192",
        "--state",
        state_arg,
    ];
    let (code, out) = tune_host(&lab, &args);
    assert_eq!(code, 0, "{out}");
    // One RX queue on the lab's veth, 8192 frames of 4096 B: 32 MiB, 16 pages.
    assert!(
        out.contains(
            "huge pages for the UMEMs: 1 queue(s) x 8192 frames x 4096 B = 32 MiB = 16 page(s) of 2048 KiB"
        ),
        "{out}"
    );
    let wanted = (held + 16).to_string();
    assert!(
        out.contains(&format!(
            "+ echo {wanted} > /proc/sys/vm/nr_hugepages   # was: {}",
            before.trim()
        )),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(NR_HUGEPAGES).unwrap().trim(),
        wanted
    );
    let (code, reverted) = tune_host(&lab, &[STACK_IFACE, "--revert", "--state", state_arg]);
    assert_eq!(code, 0, "{reverted}");
    assert_eq!(std::fs::read_to_string(NR_HUGEPAGES).unwrap(), before);
    let (code, small) = tune_host(
        &lab,
        &[
            STACK_IFACE,
            "--hugepages",
            "auto",
            "--umem-frames",
            "64",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{small}");
    assert!(
        small.contains("a UMEM of 256 KiB is not a multiple of the 2048 KiB huge page"),
        "{small}"
    );
    println!(
        "tune-host --hugepages auto: {}",
        out.lines().find(|l| l.contains("huge pages for")).unwrap()
    );
}
