//! Watching a running runtime from other threads: its workers' counters, their
//! connections and the XDP program's counters, for `xdptcp stats`, `xdptcp ss` and the
//! Prometheus endpoint.
//!
//! An observer never waits on a worker's fast path: it raises a worker's request flag and
//! wakes it, and the worker copies its counters out between two batches (see `stats`). A
//! worker that does not answer within [`OBSERVER_PATIENCE`] (a handler that blocks its loop)
//! gives its latest counters, and no listing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::capture::{Capture, CaptureBusy, CaptureTap, CapturedWorker};
use super::stats::{ConnectionListing, ConnectionQuery, StatsSlot};
use super::{RuntimeInfo, WorkerStats};
use crate::xdp::{self, ProgramCounters, QueueCounters};

/// How long an observer waits for a worker's answer (a worker answers within one loop
/// turn; only a handler that blocks its worker makes it wait this long).
pub const OBSERVER_PATIENCE: Duration = Duration::from_secs(1);

/// One worker, as an observer reaches it.
struct ObservedWorker {
    stats: Arc<StatsSlot>,
    waker: Arc<xdp::wait::Waker>,
    capture: Arc<CaptureTap>,
}

struct Observed {
    workers: Vec<ObservedWorker>,
    program: ProgramCounters,
    info: RuntimeInfo,
    started: Instant,
    /// One listing at a time (a worker's slot holds one query).
    listing: Mutex<()>,
    /// A capture runs (one at a time).
    capturing: Arc<AtomicBool>,
}

/// A handle on a running runtime's counters, for any thread; cloning is cheap. It stays
/// valid after the runtime stops: the workers' final counters are what it gives then.
#[derive(Clone)]
pub struct RuntimeObserver {
    observed: Arc<Observed>,
}

impl std::fmt::Debug for RuntimeObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeObserver")
            .field("iface", &self.observed.info.iface)
            .field("workers", &self.observed.workers.len())
            .finish()
    }
}

impl RuntimeObserver {
    pub(super) fn new(
        workers: impl IntoIterator<Item = (Arc<StatsSlot>, Arc<xdp::wait::Waker>, Arc<CaptureTap>)>,
        program: ProgramCounters,
        info: RuntimeInfo,
    ) -> RuntimeObserver {
        RuntimeObserver {
            observed: Arc::new(Observed {
                workers: workers
                    .into_iter()
                    .map(|(stats, waker, capture)| ObservedWorker {
                        stats,
                        waker,
                        capture,
                    })
                    .collect(),
                program,
                info,
                started: Instant::now(),
                listing: Mutex::new(()),
                capturing: Arc::new(AtomicBool::new(false)),
            }),
        }
    }

    pub fn info(&self) -> &RuntimeInfo {
        &self.observed.info
    }

    /// How long the runtime has run.
    pub fn uptime(&self) -> Duration {
        self.observed.started.elapsed()
    }

    /// Each worker's counters, taken after this call (see [`super::Runtime::stats`]).
    pub fn stats(&self) -> Vec<WorkerStats> {
        let workers = &self.observed.workers;
        let requests: Vec<_> = workers
            .iter()
            .map(|w| {
                let request = w.stats.request();
                w.waker.wake();
                request
            })
            .collect();
        let deadline = Instant::now() + OBSERVER_PATIENCE;
        workers
            .iter()
            .zip(requests)
            .map(|(w, request)| w.stats.answer(request, deadline))
            .collect()
    }

    /// The XDP program's counters per queue (zero for a queue whose entry cannot be read).
    pub fn program_counters(&self) -> Vec<QueueCounters> {
        (0..self.observed.info.queues)
            .map(|q| self.observed.program.queue(q).unwrap_or_default())
            .collect()
    }

    /// Each worker's connections that `query` matches, filled by the worker between two
    /// batches, at most `query.limit` per worker. A worker that has ended or does not
    /// answer in time is missing from the result.
    pub fn connections(&self, query: ConnectionQuery) -> Vec<ConnectionListing> {
        let _one_at_a_time = self
            .observed
            .listing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let workers = &self.observed.workers;
        let requests: Vec<_> = workers
            .iter()
            .map(|w| {
                let request = w.stats.request_listing(query);
                w.waker.wake();
                request
            })
            .collect();
        let deadline = Instant::now() + OBSERVER_PATIENCE;
        workers
            .iter()
            .zip(requests)
            .filter_map(|(w, request)| w.stats.answer_listing(request, deadline))
            .collect()
    }

    /// Starts capturing the frames every worker receives and sends (only those with TCP
    /// port `port`, if given) until the returned [`Capture`] drops; waits up to
    /// [`OBSERVER_PATIENCE`] for the workers to start. One capture runs at a time.
    pub fn capture(&self, port: Option<u16>) -> Result<Capture, CaptureBusy> {
        let busy = &self.observed.capturing;
        if busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(CaptureBusy);
        }
        let workers = self.observed.workers.iter().map(|w| CapturedWorker {
            tap: &w.capture,
            waker: &w.waker,
        });
        Ok(Capture::start(
            workers,
            port,
            busy.clone(),
            OBSERVER_PATIENCE,
        ))
    }
}
