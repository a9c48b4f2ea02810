//! Answering the management socket: one thread accepts clients one at a time, reads one
//! request each and writes one answer. It reaches the workers only through a
//! [`RuntimeObserver`], so a slow or stuck client delays other clients (each has a few
//! seconds) but never a worker.

use std::io::{self, BufReader};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::protocol::{self, Answer, ConnectionsReport, Request, RuntimeSummary, StatsReport};
use super::{ManagementError, ManagementSocket, MAX_ROWS_PER_WORKER};
use crate::runtime::{ConnectionQuery, RuntimeObserver};

/// How long a client may take to send its request or take the answer.
const CLIENT_PATIENCE: Duration = Duration::from_secs(3);
/// How often the accepting thread looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The thread that answers the management socket; stops (and removes the socket) when
/// dropped.
#[derive(Debug)]
pub struct ManagementServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ManagementServer {
    pub fn start(
        socket: ManagementSocket,
        observer: RuntimeObserver,
    ) -> Result<ManagementServer, ManagementError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("xdptcp-management".into())
            .spawn(move || accept_until_stopped(&socket, &observer, &flag))
            .map_err(|source| ManagementError::Thread {
                what: "management socket",
                source,
            })?;
        Ok(ManagementServer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ManagementServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits until `fd` is readable or `STOP_CHECK` passes.
pub(super) fn wait_readable(fd: impl AsFd) {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: STOP_CHECK.as_nanos() as i64,
    };
    let _ = rustix::event::poll(&mut fds, Some(&timeout));
}

fn accept_until_stopped(socket: &ManagementSocket, observer: &RuntimeObserver, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match socket.listener().accept() {
            Ok((client, _)) => {
                if let Err(e) = answer_client(client, observer) {
                    log::debug!("management client: {e}");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_readable(socket.listener()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!(
                    "management socket {}: accept failed: {e}",
                    socket.path().display()
                );
                std::thread::sleep(STOP_CHECK);
            }
        }
    }
}

fn answer_client(client: UnixStream, observer: &RuntimeObserver) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(CLIENT_PATIENCE))?;
    client.set_write_timeout(Some(CLIENT_PATIENCE))?;
    let mut reader = BufReader::new(&client);
    let answer = match protocol::read_line::<Request>(&mut reader, protocol::MAX_REQUEST_LINE) {
        Ok(request) => answer(&request, observer),
        Err(e) => Answer::Refused {
            reason: format!("unreadable request: {e}"),
        },
    };
    protocol::write_line(&mut &client, &answer)
}

/// The answer to `request`.
pub(super) fn answer(request: &Request, observer: &RuntimeObserver) -> Answer {
    match request {
        Request::Stats => Answer::Stats(StatsReport::of(observer)),
        Request::Connections { filter, limit } => {
            let query = ConnectionQuery {
                filter: *filter,
                limit: (*limit).min(MAX_ROWS_PER_WORKER),
            };
            let workers = observer.connections(query);
            Answer::Connections(ConnectionsReport {
                runtime: RuntimeSummary::of(observer),
                workers_missing: (observer.info().queues as usize).saturating_sub(workers.len()),
                workers,
            })
        }
    }
}
