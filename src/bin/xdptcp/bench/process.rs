//! Processes in the lab's namespaces: a server started and waited for until it is ready, a
//! client run to completion under a time limit.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::{file_error, FileError};

/// Why a server or client process did not do its part. `what` is its command line.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProcessError {
    #[error(transparent)]
    Log(#[from] FileError),
    #[error("cannot start {what}: {source}")]
    Spawn { what: String, source: io::Error },
    #[error("{what} exited ({status}) before it was ready:\n{output}")]
    ExitedEarly {
        what: String,
        status: ExitStatus,
        output: String,
    },
    #[error("{what} was not ready after 10 s:\n{output}")]
    NotReady { what: String, output: String },
    #[error("{what} did not finish within {limit:?}")]
    Hung { what: String, limit: Duration },
    #[error("{what}: {source}")]
    Wait { what: String, source: io::Error },
    #[error("{what} failed ({status}):\n{stdout}{stderr}")]
    Failed {
        what: String,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
}

/// For `map_err`: a failure to start `what`.
fn spawn_error(what: &str) -> impl FnOnce(io::Error) -> ProcessError + '_ {
    move |source| ProcessError::Spawn {
        what: what.to_string(),
        source,
    }
}

/// A server process in a namespace.
pub(super) struct Server {
    child: Child,
    log: PathBuf,
    what: String,
}

/// When a server counts as ready.
pub(super) enum Ready {
    /// A line of its output contains this.
    Marker(&'static str),
    /// A TCP socket listens on this port in its namespace.
    Listening(u16),
}

impl Server {
    pub(super) fn start(
        ns: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        ready: Ready,
    ) -> Result<Server, ProcessError> {
        let what = format!("{} {}", program.display(), args.join(" "));
        let file = File::create(&log).map_err(file_error(&log))?;
        let err = file.try_clone().map_err(file_error(&log))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(spawn_error(&what))?;
        let mut server = Server { child, log, what };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(ProcessError::ExitedEarly {
                    what: server.what.clone(),
                    status,
                    output: server.output(),
                });
            }
            let ready_now = match ready {
                Ready::Marker(marker) => server.output().contains(marker),
                Ready::Listening(port) => listening(ns, port),
            };
            if ready_now {
                return Ok(server);
            }
            if started.elapsed() > Duration::from_secs(10) {
                let output = server.output();
                server.kill();
                return Err(ProcessError::NotReady {
                    what: server.what.clone(),
                    output,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its process id (`ip netns exec` execs the server, so it is the server's).
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(super) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ctrl-C, then waits up to 10 s (then kills). Returns its output.
    pub(super) fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.output();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        let mut output = self.output();
        output.push_str("\n(killed: did not stop within 10 s of Ctrl-C)\n");
        output
    }
}

/// Whether a TCP socket listens on `port` in namespace `ns`.
pub(super) fn listening(ns: &str, port: u16) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-Hltn"])
        .arg(format!("sport = :{port}"))
        .output()
        .map(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty())
        .unwrap_or(false)
}

/// How long a client may run past the seconds it was asked to work (start-up, a server's
/// grace period, the summary) before it is taken for hung.
pub(super) const CLIENT_GRACE: Duration = Duration::from_secs(30);

/// Runs a client to completion (killed after `limit`); returns its standard output.
pub(super) fn run_client(
    ns: &str,
    program: &Path,
    args: &[String],
    limit: Duration,
) -> Result<String, ProcessError> {
    let what = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error(&what))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::Hung { what, limit });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(source) => return Err(ProcessError::Wait { what, source }),
        }
    }
    let output = match child.wait_with_output() {
        Ok(output) => output,
        Err(source) => return Err(ProcessError::Wait { what, source }),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(ProcessError::Failed {
            what,
            status: output.status,
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(stdout)
}
