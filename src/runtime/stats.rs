//! A worker's counters and how they reach other threads.
//!
//! The counters live on the worker's thread, in its stack and socket. A worker copies them
//! into its [`StatsSlot`] when a reader asks (it checks the slot once per loop turn, and a
//! reader wakes it if it sleeps) and once more when it ends. A reader therefore always gets
//! counters taken after it asked: while the runtime runs they count everything up to that
//! moment, and after a worker ended they are its final ones.
//!
//! A reader may also ask for a listing of the worker's connections ([`ConnectionQuery`]):
//! the worker fills it in the same publication, between batches, at most `limit` rows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::stack::{ConnectionFilter, ConnectionInfo, StackStats, StateCounts};
use crate::tcp::ConnStats;
use crate::xdp::SocketStats;

/// A worker's counters.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct WorkerStats {
    pub queue: u32,
    pub core: Option<usize>,
    pub stack: StackStats,
    pub socket: SocketStats,
    pub connections: usize,
    /// Connections established and not yet taken by the handler, over every listener.
    pub accept_queue: usize,
    /// The connections held, by state.
    pub states: StateCounts,
    /// TCP counters summed over every connection the worker has held (retransmissions,
    /// timeouts, challenge ACKs, ...).
    pub tcp: ConnStats,
    pub tx_frames_in_flight: usize,
    /// TX frames of the UMEM free to build frames in, of `tx_frames_total`.
    pub tx_frames_free: usize,
    pub tx_frames_total: usize,
    pub loop_turns: u64,
    pub sleeps: u64,
    pub handler_panics: u64,
    /// Frames that arrived on this queue for a connection of another worker, handed over.
    pub frames_handed_off: u64,
    /// Frames that could not be handed over (the owner's queue was full).
    pub handoff_drops: u64,
}

/// Which connections a reader wants listed, and at most how many.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ConnectionQuery {
    pub filter: ConnectionFilter,
    pub limit: usize,
}

/// One worker's part of a listing.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionListing {
    pub queue: u32,
    pub rows: Vec<ConnectionInfo>,
    /// Connections that matched beyond the limit.
    pub left_off: usize,
}

/// What a worker last published.
struct Published {
    stats: WorkerStats,
    /// A listing a reader asked for, not yet filled.
    query: Option<ConnectionQuery>,
    /// The listing filled with the latest publication, if one was asked for.
    listing: Option<ConnectionListing>,
    /// How many times the worker published.
    count: u64,
    /// The worker has ended: `stats` are final.
    ended: bool,
}

/// Where one worker publishes its counters and readers ask for them.
pub(super) struct StatsSlot {
    published: Mutex<Published>,
    changed: Condvar,
    /// A reader waits for the next publication.
    wanted: AtomicBool,
}

/// A reader's request: satisfied by the first publication after it.
#[derive(Copy, Clone, Debug)]
pub(super) struct StatsRequest {
    count: u64,
}

impl StatsSlot {
    pub fn new(initial: WorkerStats) -> StatsSlot {
        StatsSlot {
            published: Mutex::new(Published {
                stats: initial,
                query: None,
                listing: None,
                count: 0,
                ended: false,
            }),
            changed: Condvar::new(),
            wanted: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Published> {
        // A publication cannot panic half-way (it copies counters), so a poisoned lock still
        // holds whole counters.
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Worker side: true when a reader waits for fresh counters.
    pub fn wanted(&self) -> bool {
        // SeqCst pairs with the reader's store and the worker's "sleeping" flag (see
        // `xdp::wait`): a worker that announced its sleep and then sees no request is woken.
        self.wanted.load(Ordering::SeqCst)
    }

    /// Worker side: replaces the published counters with what `fill` writes, and fills the
    /// listing a reader asked for with `list`.
    pub fn publish(
        &self,
        fill: impl FnOnce(&mut WorkerStats),
        list: impl FnOnce(&ConnectionQuery) -> ConnectionListing,
    ) {
        let mut published = self.lock();
        fill(&mut published.stats);
        if let Some(query) = published.query.take() {
            published.listing = Some(list(&query));
        }
        published.count += 1;
        self.wanted.store(false, Ordering::SeqCst);
        drop(published);
        self.changed.notify_all();
    }

    /// Worker side: the worker has ended; what it published last is final.
    pub fn end(&self) {
        self.lock().ended = true;
        self.changed.notify_all();
    }

    /// True once the worker has ended.
    pub fn ended(&self) -> bool {
        self.lock().ended
    }

    /// Reader side: asks the worker for fresh counters. Wake the worker after this, then
    /// collect them with [`StatsSlot::answer`].
    pub fn request(&self) -> StatsRequest {
        let published = self.lock();
        self.wanted.store(true, Ordering::SeqCst);
        StatsRequest {
            count: published.count,
        }
    }

    /// Reader side: asks the worker for fresh counters and a listing of its connections.
    /// Collect it with [`StatsSlot::answer_listing`]. One listing at a time: a second query
    /// before the answer replaces the first.
    pub fn request_listing(&self, query: ConnectionQuery) -> StatsRequest {
        let mut published = self.lock();
        published.query = Some(query);
        published.listing = None;
        self.wanted.store(true, Ordering::SeqCst);
        StatsRequest {
            count: published.count,
        }
    }

    /// Reader side: the listing published after `request`; `None` if the worker ended or
    /// did not answer by `deadline`.
    pub fn answer_listing(
        &self,
        request: StatsRequest,
        deadline: Instant,
    ) -> Option<ConnectionListing> {
        let patience = deadline.saturating_duration_since(Instant::now());
        let (mut published, _) = self
            .changed
            .wait_timeout_while(self.lock(), patience, |p| {
                p.count <= request.count && !p.ended
            })
            .unwrap_or_else(|e| e.into_inner());
        published.query = None;
        published.listing.take()
    }

    /// Reader side: the first counters published after `request` — at once if the worker
    /// has ended (they are final). A worker that does not answer by `deadline` (a handler
    /// that blocks its loop) gives its latest counters.
    pub fn answer(&self, request: StatsRequest, deadline: Instant) -> WorkerStats {
        let patience = deadline.saturating_duration_since(Instant::now());
        let (published, _) = self
            .changed
            .wait_timeout_while(self.lock(), patience, |p| {
                p.count <= request.count && !p.ended
            })
            .unwrap_or_else(|e| e.into_inner());
        published.stats.clone()
    }

    /// Blocks until the worker has ended.
    pub fn wait_ended(&self) {
        let _ended = self
            .changed
            .wait_while(self.lock(), |p| !p.ended)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// Marks the slot's worker as ended when dropped: at the end of the worker's run, also if
/// it unwinds.
pub(super) struct WorkerEndGuard<'a>(pub &'a StatsSlot);

impl Drop for WorkerEndGuard<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// A stand-in worker: counts `turns`, publishes when asked, ends after `turns`.
    fn worker(slot: Arc<StatsSlot>, turns: u64) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            let _ends = WorkerEndGuard(&slot);
            for turn in 1..=turns {
                if slot.wanted() {
                    slot.publish(|s| s.loop_turns = turn, |q| listing(q, turn));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            slot.publish(|s| s.loop_turns = turns, |q| listing(q, turns));
        })
    }

    #[test]
    fn a_request_is_answered_by_a_publication_after_it() {
        let slot = Arc::new(StatsSlot::new(WorkerStats::default()));
        let thread = worker(slot.clone(), 200);
        std::thread::sleep(Duration::from_millis(20));
        let request = slot.request();
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = slot.answer(request, deadline).loop_turns;
        assert!(first > 0, "the answer counts the turns before the request");
        std::thread::sleep(Duration::from_millis(20));
        let later = slot.answer(slot.request(), deadline).loop_turns;
        assert!(later > first, "{later} turns after {first}");
        assert!(!slot.ended());
        thread.join().unwrap();
        assert!(slot.ended());
    }

    /// A stand-in listing: `turn` connections matched, `limit` of them listed.
    fn listing(query: &ConnectionQuery, turn: u64) -> ConnectionListing {
        let matched = turn as usize;
        ConnectionListing {
            queue: 0,
            rows: Vec::new(),
            left_off: matched.saturating_sub(query.limit),
        }
    }

    #[test]
    fn a_listing_is_filled_by_the_next_publication_and_only_once() {
        let slot = Arc::new(StatsSlot::new(WorkerStats::default()));
        let thread = worker(slot.clone(), 200);
        std::thread::sleep(Duration::from_millis(20));
        let deadline = Instant::now() + Duration::from_secs(10);
        let query = ConnectionQuery {
            filter: ConnectionFilter::default(),
            limit: 5,
        };
        let listing = slot
            .answer_listing(slot.request_listing(query), deadline)
            .expect("the worker fills the listing");
        assert!(listing.left_off > 0, "{listing:?}");
        // A plain stats request after it gets no listing.
        let request = slot.request();
        let _ = slot.answer(request, deadline);
        assert!(slot.lock().listing.is_none());
        thread.join().unwrap();
        assert_eq!(
            slot.answer_listing(slot.request_listing(query), deadline),
            None
        );
    }

    #[test]
    fn after_the_worker_ended_its_last_counters_come_at_once() {
        let slot = Arc::new(StatsSlot::new(WorkerStats::default()));
        worker(slot.clone(), 5).join().unwrap();
        slot.wait_ended();
        let asked = Instant::now();
        let last = slot.answer(slot.request(), asked + Duration::from_secs(10));
        assert_eq!(last.loop_turns, 5);
        assert!(asked.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_worker_that_does_not_answer_gives_its_latest_counters_at_the_deadline() {
        let slot = StatsSlot::new(WorkerStats {
            queue: 3,
            ..WorkerStats::default()
        });
        let asked = Instant::now();
        let latest = slot.answer(slot.request(), asked + Duration::from_millis(50));
        assert_eq!(latest.queue, 3);
        assert!(asked.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_worker_that_unwinds_still_ends_its_slot() {
        let slot = Arc::new(StatsSlot::new(WorkerStats::default()));
        let s = slot.clone();
        let result = std::thread::spawn(move || {
            let _ends = WorkerEndGuard(&s);
            panic!("worker failure");
        })
        .join();
        assert!(result.is_err());
        assert!(slot.ended());
    }
}
