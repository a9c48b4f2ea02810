//! Answering the management socket: one thread accepts clients one at a time, reads one
//! request each and writes one answer; a capture, which lasts, is handed to a thread of its
//! own (see `capture_server`). It reaches the workers only through a
//! [`RuntimeObserver`], so a slow or stuck client delays other clients (each has a few
//! seconds) but never a worker.

use std::io::{self, BufReader};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::capture_server::CaptureThreads;
use super::protocol::{self, Answer, ConnectionsReport, Request, RuntimeSummary, StatsReport};
use super::{ManagementError, ManagementSocket, MAX_ROWS_PER_WORKER};
use crate::runtime::{ConnectionQuery, RuntimeObserver};
use crate::stack::ConnectionFilter;

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
    let _ = readable_within(fd, STOP_CHECK);
}

/// True once `fd` is readable (or closed), false when `timeout` passes first.
pub(super) fn readable_within(fd: impl AsFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::event::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn accept_until_stopped(
    socket: &ManagementSocket,
    observer: &RuntimeObserver,
    stop: &Arc<AtomicBool>,
) {
    let mut captures = CaptureThreads::default();
    while !stop.load(Ordering::SeqCst) {
        captures.reap();
        match socket.listener().accept() {
            Ok((client, _)) => {
                if let Err(e) = answer_client(client, observer, stop, &mut captures) {
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

fn answer_client(
    client: UnixStream,
    observer: &RuntimeObserver,
    stop: &Arc<AtomicBool>,
    captures: &mut CaptureThreads,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(CLIENT_PATIENCE))?;
    client.set_write_timeout(Some(CLIENT_PATIENCE))?;
    let mut reader = BufReader::new(&client);
    let answer = match protocol::read_line::<Request>(&mut reader, protocol::MAX_REQUEST_LINE) {
        // A capture goes on on a thread of its own, so that stats and ss still answer.
        Ok(Request::Capture { port }) => {
            drop(reader);
            return captures.start(client, observer, port, stop.clone());
        }
        Ok(Request::Stats) => Answer::Stats(StatsReport::of(observer)),
        Ok(Request::Connections { filter, limit }) => connections(filter, limit, observer),
        Err(e) => Answer::Refused {
            reason: format!("unreadable request: {e}"),
        },
    };
    protocol::write_line(&mut &client, &answer)
}

/// The answer to [`Request::Connections`].
fn connections(filter: ConnectionFilter, limit: usize, observer: &RuntimeObserver) -> Answer {
    let query = ConnectionQuery {
        filter,
        limit: limit.min(MAX_ROWS_PER_WORKER),
    };
    let workers = observer.connections(query);
    Answer::Connections(ConnectionsReport {
        runtime: RuntimeSummary::of(observer),
        workers_missing: (observer.info().queues as usize).saturating_sub(workers.len()),
        workers,
    })
}
