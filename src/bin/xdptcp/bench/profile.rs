//! Profiles of the workloads whose target is not met: `perf record` of one more xdptcp run,
//! the top of `perf report`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::runs::{Ends, RunError};
use super::{workload, Bench, Case, CONNECT_CONNECTIONS, DISCARD_PORT, HTTP_PORT, RPC_CONNECTIONS};
use crate::common::{file_error, FileError};

/// Why a profile could not be made.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProfileError {
    #[error("cannot run perf: {0}")]
    Perf(#[source] io::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("perf report: {0}")]
    Report(#[source] io::Error),
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the loss case is not profiled (its gaps are not CPU time)")]
    NotProfiled,
    #[error("no criterion tcp benchmark binary in target/release/deps")]
    NoBenchBinary,
    #[error("perf: {0}")]
    Record(#[source] io::Error),
    #[error("perf record of {} failed", .0.display())]
    RecordFailed(PathBuf),
}

/// One xdptcp run of a case, repeated under `perf record` to profile it.
pub(super) type ProfiledRun = dyn FnMut(&mut Bench) -> Result<(), RunError>;

/// The file a case's profile is written to, in the results directory.
pub(super) fn profile_file(case: Case) -> String {
    format!("profile-{}.txt", format!("{case:?}").to_lowercase())
}

impl Bench<'_> {
    /// Profiles one more xdptcp run of `case` with `perf record` (all CPUs, call graphs);
    /// writes the top of the report to `profile-<case>.txt` and returns that name.
    pub(super) fn profile(&mut self, case: Case) -> Result<String, ProfileError> {
        let name = profile_file(case);
        let data = self.work.join("perf.data");
        let seconds = 4.0f64.min(self.args.seconds.max(2.0));
        // perf starts a second into the run (after the server's start-up) and records for
        // `seconds`; the run lasts two seconds longer.
        let record = |bench: &mut Bench, run: &mut ProfiledRun| -> Result<(), ProfileError> {
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
                .map_err(ProfileError::Perf)?;
            let r = run(bench);
            let _ = perf.wait();
            Ok(r?)
        };
        let mut run: Box<ProfiledRun> = match case {
            Case::Latency => Box::new(move |b: &mut Bench| {
                // The load's default size is 64 bytes (and one connection).
                let echo = workload("echo", "64", 1);
                b.echo_run(false, &echo, seconds + 2.0, None).map(|_| ())
            }),
            Case::Rpc => Box::new(move |b: &mut Bench| {
                let echo = workload("echo", "64", RPC_CONNECTIONS);
                b.echo_run(false, &echo, seconds + 2.0, None).map(|_| ())
            }),
            Case::Connect => Box::new(move |b: &mut Bench| {
                let load = workload("connect", "64", CONNECT_CONNECTIONS);
                b.server_run(Ends::Xdptcp, "http", HTTP_PORT, &load, seconds + 2.0, None)
                    .map(|_| ())
            }),
            Case::Bulk => Box::new(move |b: &mut Bench| {
                let load = workload("bulk", "64K", 1);
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
            Case::Loss | Case::Flood => return Err(ProfileError::NotProfiled),
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
        let file = self.args.out.join(&name);
        std::fs::write(&file, format!("{header}{top}\n")).map_err(file_error(&file))?;
        Ok(name)
    }
}

/// The first `lines` entries of `perf report --no-children --sort <sort>` of `data`.
fn perf_report_top(data: &Path, sort: &str, lines: usize) -> Result<String, ProfileError> {
    let report = Command::new("perf")
        .args(["report", "--no-children", "--sort", sort])
        .args(["--stdio", "-g", "none", "-i"])
        .arg(data)
        .output()
        .map_err(ProfileError::Report)?;
    let text = String::from_utf8_lossy(&report.stdout);
    let top: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .take(lines)
        .collect();
    Ok(top.join("\n"))
}

/// Profiles the criterion TCP benchmark binary for the per-segment figures.
fn profile_segment(out: &Path, name: &str) -> Result<String, ProfileError> {
    let deps = Path::new("target/release/deps");
    let binary = std::fs::read_dir(deps)
        .map_err(file_error(deps))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tcp-") && !n.contains('.'))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or(ProfileError::NoBenchBinary)?;
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
        .map_err(ProfileError::Record)?;
    if !status.success() {
        return Err(ProfileError::RecordFailed(binary));
    }
    let top = perf_report_top(&data, "sym", 30)?;
    let header = "# perf record -e cpu-clock -g of the criterion TCP benchmarks (bench/tcp.rs,\n\
                  # --profile-time 3); perf report --no-children --sort sym\n";
    let file = out.join(name);
    std::fs::write(&file, format!("{header}{top}\n")).map_err(file_error(&file))?;
    let _ = std::fs::remove_file(&data);
    Ok(name.to_string())
}
