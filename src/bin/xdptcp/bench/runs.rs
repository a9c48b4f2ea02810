//! One run on the lab: a server (`xdptcp serve`, a kernel sockperf server or an AF_XDP floor
//! server) in the stack namespace, a client (`xdptcp load`, `xdptcp floor`, sockperf) in the
//! peer namespace, the lab's offloads set for the two ends.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use xdptcp::lab::{Lab, LabError, Topology, PEER_IFACE, STACK_IFACE, STACK_IP};

use super::outputs::{parenthesized, read_summary, sockperf_percentile};
use super::process::{run_client, ProcessError, Ready, Server, CLIENT_GRACE};
use crate::common::FileError;

/// Why one run failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Offloads(#[from] LabError),
    #[error(transparent)]
    Summary(#[from] FileError),
    /// A run of the loss case failed (a transfer, its SHA-256, a process).
    #[error("{0}")]
    Loss(String),
    #[error("no percentiles in sockperf's output:\n{0}")]
    NoPercentiles(String),
    /// The client's failure, with what the server printed.
    #[error("{source}\n{server} output:\n{output}")]
    Server {
        source: Box<RunError>,
        server: &'static str,
        output: String,
    },
}

impl RunError {
    /// For `map_err`: this failure with the output of the `server` (its role) attached.
    fn with_output(server: &'static str, output: String) -> impl FnOnce(RunError) -> RunError {
        move |e| RunError::Server {
            source: Box::new(e),
            server,
            output,
        }
    }
}
use super::{s, Bench, ECHO_PORT, FLOOR_PORT, SOCKPERF_PORT};

/// `--stack kernel`, or the interface xdptcp runs on.
pub(super) fn stack_args(kernel: bool, iface: &str) -> [String; 2] {
    if kernel {
        [s("--stack"), s("kernel")]
    } else {
        [s("--iface"), s(iface)]
    }
}

/// The stack both ends of a run use.
#[derive(Clone, Copy)]
pub(super) enum Ends {
    Xdptcp,
    /// Linux sockets, with the lab's segmentation offloads on or off.
    Linux {
        offloads: bool,
    },
}

impl Ends {
    /// xdptcp, or Linux with its offloads (how Linux is measured unless stated).
    pub(super) fn both(kernel: bool) -> Ends {
        if kernel {
            Ends::Linux { offloads: true }
        } else {
            Ends::Xdptcp
        }
    }

    pub(super) fn kernel(self) -> bool {
        matches!(self, Ends::Linux { .. })
    }

    /// xdptcp runs with them off: the kernel's side of its veth must not coalesce.
    pub(super) fn offloads(self) -> bool {
        matches!(self, Ends::Linux { offloads: true })
    }
}

impl Bench<'_> {
    /// Kernel offloads (TSO, GSO, GRO) on the veth pair: on for Linux-to-Linux runs, off
    /// where a kernel talks to xdptcp (AF_XDP frames hold one MTU).
    pub(super) fn offloads(&mut self, on: bool) -> Result<(), RunError> {
        if self.offloads_on != Some(on) {
            self.lab.set_segmentation_offloads(on)?;
            self.offloads_on = Some(on);
        }
        Ok(())
    }

    /// `xdptcp serve --app <app>` in the stack namespace, on xdptcp or (`kernel`) on Linux
    /// sockets; the first xdptcp server's start line gives the datapath modes reported.
    pub(super) fn start_server(
        &mut self,
        kernel: bool,
        app: &str,
        port: u16,
    ) -> Result<Server, RunError> {
        let server = Server::start(
            &self.stack_ns(),
            &self.exe,
            &self.serve_args(kernel, app, port),
            self.log_path("server.log"),
            Ready::Marker("serving"),
        )?;
        if !kernel && self.facts.xdptcp_modes.is_none() {
            self.facts.xdptcp_modes = parenthesized(&server.output(), "serving");
        }
        Ok(server)
    }

    /// `serve --app <app>` on `port`, on xdptcp or (`kernel`) on Linux sockets, on the
    /// server core.
    pub(super) fn serve_args(&self, kernel: bool, app: &str, port: u16) -> Vec<String> {
        let mut args = vec![s("serve")];
        args.extend(stack_args(kernel, STACK_IFACE));
        args.extend([
            s("--port"),
            port.to_string(),
            s("--app"),
            s(app),
            s("--cores"),
            self.args.server_core.to_string(),
        ]);
        args
    }

    /// A routed lab of the case's own (`<lab>-<suffix>`), or None with the failure noted.
    pub(super) fn routed_lab(&mut self, case: &str, suffix: &str) -> Option<Lab> {
        let name = format!("{}-{suffix}", self.args.lab);
        match Lab::up_with(&name, 1, Topology::Routed) {
            Ok(lab) => Some(lab),
            Err(e) => {
                self.failures.push(format!("{case}: the routed lab: {e}"));
                println!("  {case}: the routed lab: {e}");
                None
            }
        }
    }

    /// `xdptcp load` from the peer namespace; returns its summary.
    pub(super) fn load(
        &self,
        kernel: bool,
        port: u16,
        extra: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, RunError> {
        let summary = self.work.join("load.summary");
        let _ = std::fs::remove_file(&summary);
        let mut args = vec![s("load")];
        args.extend(stack_args(kernel, PEER_IFACE));
        args.extend([
            s("--cores"),
            self.args.load_core.to_string(),
            s("--target"),
            self.target(port),
            s("--duration"),
            seconds.to_string(),
            s("--summary"),
            summary.display().to_string(),
            s("--quiet"),
        ]);
        if let Some(h) = hgrm {
            args.extend([s("--hgrm"), h.display().to_string()]);
        }
        args.extend(extra.iter().cloned());
        self.run_in_peer(&self.exe, &args, seconds)?;
        Ok(read_summary(&summary)?)
    }

    /// Runs a client that works for `seconds` in the peer namespace to completion, killed if
    /// it is not done `CLIENT_GRACE` after that; returns its standard output.
    pub(super) fn run_in_peer(
        &self,
        program: &Path,
        args: &[String],
        seconds: f64,
    ) -> Result<String, RunError> {
        let limit = Duration::from_secs_f64(seconds) + CLIENT_GRACE;
        Ok(run_client(&self.peer_ns(), program, args, limit)?)
    }

    /// One echo-server run: the server on `kernel` or xdptcp, the load likewise.
    pub(super) fn echo_run(
        &mut self,
        kernel: bool,
        load_args: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, RunError> {
        self.server_run(
            Ends::both(kernel),
            "echo",
            ECHO_PORT,
            load_args,
            seconds,
            hgrm,
        )
    }

    /// One run of `app` with the load on the same stack as the server (`ends`).
    pub(super) fn server_run(
        &mut self,
        ends: Ends,
        app: &str,
        port: u16,
        load_args: &[String],
        seconds: f64,
        hgrm: Option<&Path>,
    ) -> Result<BTreeMap<String, f64>, RunError> {
        self.offloads(ends.offloads())?;
        let server = self.start_server(ends.kernel(), app, port)?;
        let result = self.load(ends.kernel(), port, load_args, seconds, hgrm);
        let output = server.stop();
        result.map_err(RunError::with_output("server", output))
    }

    /// `xdptcp floor <mode>` on the stack side, on the server core and the floor port; ready
    /// when it prints `marker`.
    pub(super) fn start_floor_server(
        &self,
        mode: &str,
        marker: &'static str,
        extra: &[String],
    ) -> Result<Server, RunError> {
        let mut args = vec![
            s("floor"),
            s(mode),
            s("--iface"),
            s(STACK_IFACE),
            s("--core"),
            self.args.server_core.to_string(),
            s("--port"),
            FLOOR_PORT.to_string(),
        ];
        args.extend(extra.iter().cloned());
        let server = Server::start(
            &self.stack_ns(),
            &self.exe,
            &args,
            self.log_path("floor.log"),
            Ready::Marker(marker),
        )?;
        Ok(server)
    }

    /// `xdptcp floor <mode>` in the peer namespace toward the floor server, on the load
    /// core, for `seconds`.
    fn floor_client(&self, mode: &str, seconds: f64) -> Vec<String> {
        vec![
            s("floor"),
            s(mode),
            s("--iface"),
            s(PEER_IFACE),
            s("--core"),
            self.args.load_core.to_string(),
            s("--target"),
            self.target(FLOOR_PORT),
            s("--duration"),
            seconds.to_string(),
        ]
    }

    pub(super) fn floor_ping(
        &mut self,
        seconds: f64,
        hgrm: &Path,
    ) -> Result<BTreeMap<String, f64>, RunError> {
        self.offloads(false)?;
        let server = self.start_floor_server("reflect", "reflecting", &[])?;
        if self.facts.floor_modes.is_none() {
            self.facts.floor_modes = parenthesized(&server.output(), "reflecting");
        }
        let summary = self.work.join("floor.summary");
        let _ = std::fs::remove_file(&summary);
        let mut client = self.floor_client("ping", seconds);
        client.extend([
            s("--size"),
            s("64"),
            s("--summary"),
            summary.display().to_string(),
            s("--hgrm"),
            hgrm.display().to_string(),
        ]);
        let result = self.run_in_peer(&self.exe, &client, seconds);
        let output = server.stop();
        result.map_err(RunError::with_output("reflector", output))?;
        Ok(read_summary(&summary)?)
    }

    pub(super) fn floor_blast(&mut self, seconds: f64) -> Result<BTreeMap<String, f64>, RunError> {
        self.offloads(false)?;
        let summary = self.work.join("sink.summary");
        let _ = std::fs::remove_file(&summary);
        let server = self.start_floor_server(
            "sink",
            "sinking",
            &[s("--summary"), summary.display().to_string()],
        )?;
        let client = self.floor_client("blast", seconds);
        let result = self.run_in_peer(&self.exe, &client, seconds);
        let output = server.stop();
        let attach = |e: RunError| RunError::with_output("sink", output.clone())(e);
        result.map_err(attach)?;
        read_summary(&summary).map_err(|e| attach(e.into()))
    }

    pub(super) fn sockperf_run(
        &mut self,
        kernel: bool,
        seconds: f64,
    ) -> Result<(f64, f64), RunError> {
        // The client is the kernel's either way: offloads off toward xdptcp, on otherwise.
        self.offloads(kernel)?;
        let server = if kernel {
            let args = vec![
                s("-c"),
                self.args.server_core.to_string(),
                s("sockperf"),
                s("server"),
                s("--tcp"),
                s("-i"),
                STACK_IP.to_string(),
                s("-p"),
                SOCKPERF_PORT.to_string(),
            ];
            Server::start(
                &self.stack_ns(),
                Path::new("taskset"),
                &args,
                self.log_path("sockperf-server.log"),
                Ready::Listening(SOCKPERF_PORT),
            )?
        } else {
            self.start_server(false, "sockperf", SOCKPERF_PORT)?
        };
        let client = vec![
            s("-c"),
            self.args.load_core.to_string(),
            s("sockperf"),
            s("ping-pong"),
            s("--tcp"),
            s("-i"),
            STACK_IP.to_string(),
            s("-p"),
            SOCKPERF_PORT.to_string(),
            s("-t"),
            format!("{}", seconds.ceil() as u64),
            s("-m"),
            s("64"),
        ];
        let result = self.run_in_peer(Path::new("taskset"), &client, seconds);
        let output = server.stop();
        let text = result.map_err(RunError::with_output("server", output))?;
        let p50 = sockperf_percentile(&text, "50.000");
        let p99 = sockperf_percentile(&text, "99.000");
        match (p50, p99) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(RunError::NoPercentiles(text)),
        }
    }
}
