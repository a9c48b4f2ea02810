//! The SYN flood case: Debian's `hping3 -S --flood --rand-source` from the peer namespace
//! against the echo server, at the highest rate it reaches, while `xdptcp probe` (Linux
//! sockets, in the peer namespace too, on the same core as hping3) keeps one established connection echoing 64 B a
//! thousand times a second and makes new connections one after another, each checking its
//! own echo. Each repetition measures the server quiet first (the same probe, no flood), then
//! under the flood; the server is xdptcp (`serve --app echo`, SYN cookies when the backlog is
//! full, answered in the XDP program) or Linux (`serve --stack kernel`, with
//! `net.ipv4.tcp_syncookies = 1` in the stack's namespace).
//!
//! The case has a routed lab of its own (stack, router, peer), as a server on the Internet
//! sees a flood: the SYN,ACKs to the forged sources go to the router, which has no route for
//! them and drops them, whichever server sent them. (On a direct veth pair, the XDP program's
//! SYN,ACKs, sent back whence their SYN came, would all land in the peer's namespace, where
//! the probe runs, while Linux's, routed by address, would not: the two would not meet the
//! same flood.)
//!
//! Recorded per variant: the established connection's p99 quiet and under the flood and
//! their ratio, the share of new connections that echoed exactly, the server's resident
//! memory growth over the flood, the SYNs per second the peer sent, and for xdptcp the
//! cookies the XDP program and the stack sent.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xdptcp::lab::{Lab, PEER_IFACE, STACK_IP};

use super::outputs::read_summary;
use super::process::{run_client, Ready, Server, CLIENT_GRACE};
use super::runs::RunError;
use super::{s, Bench, ECHO_PORT};

/// Seconds of the quiet probe before each flood.
const QUIET_SECONDS: f64 = 3.0;

/// How long a new connection may take under the flood (Linux resends a lost SYN after 1 s,
/// then 3 s).
const CONNECTION_TIMEOUT_SECONDS: u32 = 5;

/// What one repetition measured.
pub(super) struct FloodRun {
    quiet: BTreeMap<String, f64>,
    flooded: BTreeMap<String, f64>,
    syns_per_second: f64,
    rss_growth_mib: f64,
    /// xdptcp only: (cookies the XDP program sent, cookies the stack sent, accepted).
    cookies: Option<(f64, f64, f64)>,
}

fn failure(text: String) -> RunError {
    RunError::Loss(text)
}

/// The resident memory of process `pid` in KiB.
fn resident_kib(pid: u32) -> Result<f64, RunError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| failure(format!("reading /proc/{pid}/status: {e}")))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| failure(format!("no VmRSS in /proc/{pid}/status")))
}

/// The number at the end of the `xdptcp stats` row `label` (its total column).
fn stats_total(table: &str, label: &str) -> Result<f64, RunError> {
    table
        .lines()
        .find(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .ok_or_else(|| failure(format!("no {label:?} row in xdptcp stats:\n{table}")))
}

impl Bench<'_> {
    pub(super) fn flood(&mut self) {
        let Some(lab) = self.routed_lab("flood", "f") else {
            return;
        };
        let seconds = self.args.flood_seconds;
        self.repeat(
            "flood",
            &["xdptcp", "linux"],
            |b, variant, _rep| b.flood_run(&lab, variant == "linux", seconds),
            |b, variant, rep, m| {
                let p99 = |s: &BTreeMap<String, f64>| s.get("rtt_p99_us").copied();
                let (quiet, flooded) = (p99(&m.quiet), p99(&m.flooded));
                let attempted = m.flooded.get("connections_attempted").copied();
                let completed = m.flooded.get("connections_completed").copied();
                if let (Some(q), Some(f)) = (quiet, flooded) {
                    b.record("flood", variant, "quiet p99", rep, q);
                    b.record("flood", variant, "flood p99", rep, f);
                    b.record("flood", variant, "p99 flood/quiet", rep, f / q.max(1.0));
                }
                if let (Some(a), Some(c)) = (attempted, completed) {
                    b.record("flood", variant, "new connections", rep, a);
                    b.record("flood", variant, "completed %", rep, 100.0 * c / a.max(1.0));
                }
                b.record("flood", variant, "SYNs/s", rep, m.syns_per_second);
                b.record("flood", variant, "RSS growth MiB", rep, m.rss_growth_mib);
                let mut cookies = String::new();
                if let Some((xdp, stack, accepted)) = m.cookies {
                    b.record("flood", variant, "XDP cookies", rep, xdp);
                    b.record("flood", variant, "stack cookies", rep, stack);
                    cookies = format!(
                        "; SYN cookies: {xdp:.0} by XDP, {stack:.0} by the stack, {accepted:.0} accepted"
                    );
                }
                let trips = |s: &BTreeMap<String, f64>| s.get("round_trips").copied().unwrap_or(0.0);
                format!(
                    "{:.0} SYNs/s; p99 {} µs quiet ({} round trips), {} µs flooded ({}); {} of {} new connections echoed; RSS +{:.1} MiB{cookies}",
                    m.syns_per_second,
                    quiet.unwrap_or(f64::NAN),
                    trips(&m.quiet),
                    flooded.unwrap_or(f64::NAN),
                    trips(&m.flooded),
                    completed.unwrap_or(0.0),
                    attempted.unwrap_or(0.0),
                    m.rss_growth_mib,
                )
            },
        );
    }

    /// One repetition: the server, the quiet probe, the flood with the probe beside it.
    fn flood_run(&mut self, lab: &Lab, kernel: bool, seconds: f64) -> Result<FloodRun, RunError> {
        // xdptcp's frames hold one MTU: no coalescing toward it. Linux gets the same path.
        lab.set_segmentation_offloads(false)?;
        if kernel {
            in_ns(
                &lab.stack_ns(),
                &["sysctl", "-q", "-w", "net.ipv4.tcp_syncookies=1"],
            )?;
        }
        let server = Server::start(
            &lab.stack_ns(),
            &self.exe,
            &self.serve_args(kernel, "echo", ECHO_PORT),
            self.log_path("flood-server.log"),
            Ready::Marker("serving"),
        )?;
        let result = self.flood_probe(lab, &server, kernel, seconds);
        let output = server.stop();
        result.map_err(|e| RunError::Server {
            source: Box::new(e),
            server: "echo server",
            output,
        })
    }

    fn flood_probe(
        &mut self,
        lab: &Lab,
        server: &Server,
        kernel: bool,
        seconds: f64,
    ) -> Result<FloodRun, RunError> {
        let quiet = self.probe(lab, QUIET_SECONDS, "quiet")?;
        let rss_before = resident_kib(server.pid())?;
        let sent_before = peer_tx_packets(lab)?;
        let started = Instant::now();
        // hping3 ends by itself (timeout sends SIGTERM); a little longer than the probe.
        let flood_for = format!("{:.0}", seconds.ceil() + 1.0);
        let mut flood = Command::new("ip")
            .args(["netns", "exec", &lab.peer_ns(), "taskset", "-c"])
            .arg(self.args.load_core.to_string())
            .args([
                "timeout",
                &flood_for,
                "hping3",
                "-S",
                "--flood",
                "--rand-source",
            ])
            .args(["-p", &ECHO_PORT.to_string(), &STACK_IP.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| failure(format!("cannot start hping3: {e}")))?;
        std::thread::sleep(Duration::from_millis(300));
        let flooded = self.probe(lab, seconds, "flooded");
        let _ = flood.wait();
        let flood_seconds = started.elapsed().as_secs_f64();
        let flooded = flooded?;
        let sent = peer_tx_packets(lab)?.saturating_sub(sent_before);
        let rss_after = resident_kib(server.pid())?;
        let cookies = if kernel {
            None
        } else {
            let table = in_ns(&lab.stack_ns(), &[&self.exe.display().to_string(), "stats"])?;
            Some((
                stats_total(&table, "SYN cookies sent by XDP")?,
                stats_total(&table, "SYN cookies sent by the stack")?,
                stats_total(&table, "SYN cookies accepted")?,
            ))
        };
        Ok(FloodRun {
            quiet,
            flooded,
            // The probe's own frames are a few thousand of the millions.
            syns_per_second: sent as f64 / flood_seconds,
            rss_growth_mib: (rss_after - rss_before) / 1024.0,
            cookies,
        })
    }

    /// `xdptcp probe` from the peer namespace for `seconds`; its summary.
    fn probe(
        &self,
        lab: &Lab,
        seconds: f64,
        what: &str,
    ) -> Result<BTreeMap<String, f64>, RunError> {
        let summary = self.work.join(format!("probe-{what}.summary"));
        let _ = std::fs::remove_file(&summary);
        // On the load core, as hping3: a probe the scheduler moves beside the server (which
        // spins while idle on its own core) measures that sharing, quiet or flooded.
        let args = [
            s("-c"),
            self.args.load_core.to_string(),
            self.exe.display().to_string(),
            s("probe"),
            s("--target"),
            format!("{STACK_IP}:{ECHO_PORT}"),
            s("--duration"),
            seconds.to_string(),
            s("--size"),
            s("64"),
            s("--rate"),
            s("1000"),
            s("--timeout"),
            CONNECTION_TIMEOUT_SECONDS.to_string(),
            s("--summary"),
            summary.display().to_string(),
        ];
        let limit = Duration::from_secs_f64(seconds) + CLIENT_GRACE;
        run_client(&lab.peer_ns(), Path::new("taskset"), &args, limit)?;
        Ok(read_summary(&summary)?)
    }
}

/// Frames the peer's interface has sent.
fn peer_tx_packets(lab: &Lab) -> Result<u64, RunError> {
    let path = format!("/sys/class/net/{PEER_IFACE}/statistics/tx_packets");
    let text = in_ns(&lab.peer_ns(), &["cat", &path])?;
    text.trim()
        .parse()
        .map_err(|_| failure(format!("{path} in the peer namespace: {text:?}")))
}

/// Runs `command` in namespace `ns` to completion; its standard output.
fn in_ns(ns: &str, command: &[&str]) -> Result<String, RunError> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(command)
        .output()
        .map_err(|e| failure(format!("{}: {e}", command.join(" "))))?;
    if !out.status.success() {
        return Err(failure(format!(
            "{} in {ns} failed: {}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_rows_are_read_by_their_whole_label() {
        let table = "SYN cookies sent by XDP         833116  833116\n\
                     SYN cookies sent by the stack     1997    1997\n";
        assert_eq!(
            stats_total(table, "SYN cookies sent by XDP").unwrap(),
            833116.0
        );
        assert_eq!(
            stats_total(table, "SYN cookies sent by the stack").unwrap(),
            1997.0
        );
        assert!(stats_total(table, "SYN cookies").is_err());
    }
}
