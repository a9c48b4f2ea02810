//! Starting and stopping the forwarder process in a lab's router namespace.
//!
//! The forwarder outlives the command that starts it (`xdptcp lab up --delay-us 1000` returns
//! while the lab keeps its delay), so it is a process of its own: `xdptcp lab forward`, run
//! with `ip netns exec` in the router's namespace, in a process group of its own so that a
//! Ctrl-C meant for the starting command does not reach it. Stopping it needs no pid file:
//! `ip netns pids` lists the processes of the router's namespace, and those whose command
//! line is `… lab forward …` are the lab's forwarders. On SIGTERM a forwarder lets every
//! frame it holds go before it exits.
//!
//! Its state lives in `/run/xdptcp-lab/<lab>/`: `forwarder.log` (its standard error) and
//! `forwarder.stats` (its counters, rewritten five times a second under load and whenever
//! it falls idle).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::forwarder::{ForwarderConfig, ForwarderCounts};
use super::impairment::{Direction, Impairment};
use super::LabError;

/// What the forwarder prints on standard output once its queues are bound.
pub const READY_LINE: &str = "forwarder ready";
/// How long a stopped forwarder gets to let its frames go before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The lab's state folder.
pub(crate) fn state_dir(lab: &str) -> PathBuf {
    Path::new("/run/xdptcp-lab").join(lab)
}

/// The forwarder's settings for `impairment`, with its counters file in the lab's folder.
pub(crate) fn config(lab: &str, impairment: &Impairment) -> ForwarderConfig {
    ForwarderConfig {
        to_peer: impairment.to_peer.hold(),
        to_stack: impairment.to_stack.hold(),
        seed: impairment.seed,
        stats_path: state_dir(lab).join("forwarder.stats"),
    }
}

/// The `xdptcp` executable that runs the forwarder: `$XDPTCP_BIN`; this process, when it is
/// `xdptcp`; an `xdptcp` beside this executable or one folder up (where cargo puts the binary
/// next to a test's `deps/` folder); else the first on `PATH`.
pub fn forwarder_program() -> Result<PathBuf, LabError> {
    if let Some(path) = std::env::var_os("XDPTCP_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().ok();
    if let Some(exe) = &exe {
        if exe.file_name().is_some_and(|n| n == "xdptcp") {
            return Ok(exe.clone());
        }
    }
    let beside = exe
        .iter()
        .flat_map(|e| e.ancestors().skip(1).take(2))
        .map(|dir| dir.join("xdptcp"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).map(|dir| dir.join("xdptcp"));
    beside
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or(LabError::NoForwarderProgram)
}

/// The forwarder's command-line arguments after `xdptcp`.
pub fn forwarder_args(config: &ForwarderConfig) -> Vec<String> {
    let mut args = vec!["lab".to_string(), "forward".to_string()];
    for (flag, hold) in [
        ("--to-peer", &config.to_peer),
        ("--to-stack", &config.to_stack),
    ] {
        if let Some(hold) = hold {
            args.extend([flag.to_string(), hold.to_string()]);
        }
    }
    args.extend([
        "--seed".to_string(),
        config.seed.to_string(),
        "--stats".to_string(),
        config.stats_path.display().to_string(),
    ]);
    args
}

/// Starts the forwarder for `impairment` in `router_ns` and waits until its queues are bound.
pub(crate) fn start(
    lab: &str,
    router_ns: &str,
    impairment: &Impairment,
) -> Result<Child, LabError> {
    let program = forwarder_program()?;
    let dir = state_dir(lab);
    let io_error = |source| LabError::State {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io_error)?;
    let log_path = dir.join("forwarder.log");
    let log = std::fs::File::create(&log_path).map_err(io_error)?;
    let config = config(lab, impairment);
    let _ = std::fs::remove_file(&config.stats_path);
    let mut child = Command::new("ip")
        .args(["netns", "exec", router_ns])
        .arg(&program)
        .args(forwarder_args(&config))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|source| LabError::Spawn {
            command: format!("{} lab forward", program.display()),
            source,
        })?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        // The forwarder writes this one line and nothing more; EOF means it failed.
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    if line.trim() != READY_LINE {
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        return Err(LabError::Forwarder(log.trim().to_string()));
    }
    Ok(child)
}

/// The forwarder's counters of `direction` (zero when none runs).
pub(crate) fn read_counts(lab: &str, direction: Direction) -> ForwarderCounts {
    let text = std::fs::read_to_string(state_dir(lab).join("forwarder.stats")).unwrap_or_default();
    super::forwarder::read_stats(&text, direction)
}

/// True when `pid`'s command line is a forwarder's (`… lab forward …`).
fn is_forwarder(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    args.windows(2)
        .any(|w| w[0] == b"lab".as_slice() && w[1] == b"forward".as_slice())
}

/// True while `pid` runs (a zombie, waiting for its parent, no longer runs).
fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Stops every forwarder in the router namespace of lab `lab` (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]), reaps `own`, the one this process started, if any, and removes the
/// forwarder's counters.
pub(crate) fn stop(lab: &str, own: Option<Child>) -> Result<(), LabError> {
    let router_ns = format!("{lab}-router");
    let listing = Command::new("ip")
        .args(["netns", "pids", &router_ns])
        .output()
        .map_err(|source| LabError::Spawn {
            command: format!("ip netns pids {router_ns}"),
            source,
        })?;
    let mut pids: Vec<u32> = String::from_utf8_lossy(&listing.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&pid| is_forwarder(pid))
        .collect();
    if let Some(child) = &own {
        pids.push(child.id());
    }
    pids.sort_unstable();
    pids.dedup();
    for &pid in &pids {
        signal(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while pids.iter().any(|&p| is_running(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    for &pid in pids.iter().filter(|&&p| is_running(p)) {
        signal(pid, rustix::process::Signal::KILL);
    }
    if let Some(mut child) = own {
        let _ = child.wait();
    }
    let _ = std::fs::remove_file(state_dir(lab).join("forwarder.stats"));
    Ok(())
}
