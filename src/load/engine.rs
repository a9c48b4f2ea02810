//! What to send when, and what it measured: the sans-IO core of the load generator.
//!
//! The engine owns a set of *slots*, one per simulated client connection. A driver (xdptcp
//! or Linux sockets) connects them, feeds them the bytes that arrive, writes what they
//! queue, and tells them about closes; the engine never touches a socket or a clock.
//!
//! - **Closed loop**: each connection keeps `depth` requests outstanding; a request's latency
//!   runs from when it was sent.
//! - **Open loop** (`rate`): requests are due at fixed intervals, spread evenly over the
//!   connections, whether or not earlier ones were answered; at most `depth` are on the wire
//!   per connection and the rest wait, but every latency runs from the request's *intended*
//!   send time (coordinated-omission correction, as wrk2 does).
//!
//! The measured period starts once every connection is open (connection setup, including
//! resolving the next hop, is not charged to the first requests); the `connect` workload,
//! which opens a connection per request, starts at once.
//!
//! At the end, requests still unanswered (and, open loop, requests that were due but never
//! went out) are counted as unanswered and recorded with the latency they had reached, so the
//! histogram holds every request, answered or not.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::codec::{ClientCodec, Workload};
use super::{LoadSpec, Progress};
use crate::time::Instant;

/// Where a slot's connection stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// The driver should open a connection for this slot.
    WantsConnection,
    /// A connection is being opened.
    Connecting,
    /// Connected: requests flow.
    Open,
    /// The slot is done (end of run, or a failure with nothing left to do).
    Done,
}

/// Bytes queued for the driver to write, with the written prefix skipped rather than
/// shifted out: a 64 KiB bulk request written a few kilobytes at a time would otherwise be
/// moved again after every partial write.
#[derive(Debug, Default)]
struct Output {
    bytes: Vec<u8>,
    written: usize,
}

impl Output {
    fn pending(&self) -> &[u8] {
        &self.bytes[self.written..]
    }

    fn is_empty(&self) -> bool {
        self.written == self.bytes.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.written = 0;
    }

    /// The buffer to append to; the written prefix is dropped first once it is at least
    /// half of it (each byte is moved at most once on average).
    fn append(&mut self) -> &mut Vec<u8> {
        if self.is_empty() {
            self.clear();
        } else if self.written >= self.bytes.len() / 2 {
            self.bytes.drain(..self.written);
            self.written = 0;
        }
        &mut self.bytes
    }

    fn wrote(&mut self, n: usize) {
        self.written = (self.written + n).min(self.bytes.len());
        if self.is_empty() {
            self.clear();
        }
    }
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    codec: ClientCodec,
    /// Intended send times of requests on the wire, oldest first.
    outstanding: VecDeque<Instant>,
    /// Open loop: intended times of requests due but not yet sent.
    backlog: VecDeque<Instant>,
    next_due: Instant,
    /// Bytes queued for the driver to write.
    output: Output,
    /// Connect workload: this connection's request was answered; no more on it (the server
    /// closes it, so the client is not left in TIME-WAIT).
    close_now: bool,
}

/// Counters and the latency histogram of one engine.
#[derive(Clone, Debug)]
pub struct Tally {
    /// Requests that were due (sent, or due and never sent).
    pub requests: u64,
    pub answered: u64,
    /// Answered with an error status, connections that failed or reset.
    pub errors: u64,
    pub unanswered: u64,
    /// Payload bytes written (bulk).
    pub bytes_written: u64,
    /// Latency in nanoseconds, every request included.
    pub latency: Histogram<u64>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            requests: 0,
            answered: 0,
            errors: 0,
            unanswered: 0,
            bytes_written: 0,
            // 1 ns to 100 s at 3 significant digits.
            latency: Histogram::new_with_bounds(1, 100_000_000_000, 3)
                .expect("valid histogram bounds"),
        }
    }

    /// Adds another engine's tally.
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.answered += other.answered;
        self.errors += other.errors;
        self.unanswered += other.unanswered;
        self.bytes_written += other.bytes_written;
        let _ = self.latency.add(&other.latency);
    }

    fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.latency.saturating_record(ns);
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

/// The load engine of one worker or thread.
#[derive(Debug)]
pub struct Engine {
    spec: LoadSpec,
    slots: Vec<Slot>,
    start: Instant,
    end: Instant,
    /// Open loop: time between requests on one connection.
    interval: Option<Duration>,
    tally: Tally,
    finished: bool,
    progress: Option<Arc<Progress>>,
    /// The measured period has begun (`start` and `end` are final).
    started: bool,
    /// Index of this engine's first connection among all (open-loop phase).
    first: usize,
    bad_response: super::RateLimitedWarning,
}

/// Longest wait for the connections to open before the run starts anyway.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

impl Engine {
    /// An engine running `slots` of the spec's connections, starting at `start`. `first` is
    /// the index of its first connection among all (to stagger open-loop schedules).
    pub fn new(spec: &LoadSpec, slots: usize, first: usize, start: Instant) -> Engine {
        let interval = spec.rate.map(|rate| {
            let per_connection = rate / spec.connections as f64;
            Duration::from_secs_f64(1.0 / per_connection)
        });
        let slots = (0..slots)
            .map(|i| {
                let phase = interval.map_or(Duration::ZERO, |iv| {
                    iv.mul_f64((first + i) as f64 / spec.connections as f64)
                });
                Slot {
                    state: SlotState::WantsConnection,
                    codec: ClientCodec::new(spec.workload, spec.size, *spec.target.ip()),
                    outstanding: VecDeque::new(),
                    backlog: VecDeque::new(),
                    next_due: start + phase,
                    output: Output::default(),
                    close_now: false,
                }
            })
            .collect();
        Engine {
            spec: spec.clone(),
            slots,
            start,
            end: start + spec.duration,
            interval,
            tally: Tally::new(),
            finished: false,
            progress: None,
            started: spec.workload == Workload::Connect,
            first,
            bad_response: Default::default(),
        }
    }

    /// Starts the measured period at `now` once every connection is open.
    fn maybe_start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        let all_open = self.slots.iter().all(|s| s.state == SlotState::Open);
        if !all_open && now < self.start + CONNECT_LIMIT {
            return;
        }
        self.started = true;
        self.start = now;
        self.end = now + self.spec.duration;
        let connections = self.spec.connections as f64;
        for (i, s) in self.slots.iter_mut().enumerate() {
            let phase = self.interval.map_or(Duration::ZERO, |iv| {
                iv.mul_f64((self.first + i) as f64 / connections)
            });
            s.next_due = now + phase;
        }
    }

    /// Shares live counters for a progress line.
    pub fn set_progress(&mut self, progress: Arc<Progress>) {
        self.progress = Some(progress);
    }

    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub fn state(&self, slot: usize) -> SlotState {
        self.slots[slot].state
    }

    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// True once the run is over and every slot is done.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True for the workload that opens a connection per request.
    fn per_request_connections(&self) -> bool {
        self.spec.workload == Workload::Connect
    }

    /// The driver started opening the slot's connection.
    pub fn connecting(&mut self, slot: usize) {
        self.slots[slot].state = SlotState::Connecting;
    }

    /// The slot's connection is open.
    pub fn connected(&mut self, slot: usize, now: Instant) {
        self.slots[slot].state = SlotState::Open;
        self.maybe_start(now);
        self.fill(slot, now);
    }

    /// Response bytes arrived for the slot.
    pub fn received(&mut self, slot: usize, now: Instant, data: &[u8]) {
        let decoded = match self.slots[slot].codec.decode(data) {
            Ok(d) => d,
            Err(e) => {
                self.bad_response
                    .warn(format_args!("load: {e}; closing the connection"));
                self.failed(slot, now);
                return;
            }
        };
        let mut answered = 0;
        for _ in 0..decoded.responses {
            if let Some(intended) = self.slots[slot].outstanding.pop_front() {
                answered += 1;
                self.tally.record(now.saturating_duration_since(intended));
            }
        }
        self.tally.answered += answered;
        self.tally.errors += decoded.errors;
        if let Some(p) = &self.progress {
            p.answered.fetch_add(answered, Ordering::Relaxed);
            p.errors.fetch_add(decoded.errors, Ordering::Relaxed);
        }
        if decoded.responses > 0 && self.per_request_connections() {
            self.slots[slot].close_now = true;
        }
        self.fill(slot, now);
    }

    /// The slot's connection closed; `error` if it failed or was reset.
    pub fn closed(&mut self, slot: usize, now: Instant, error: bool) {
        let s = &mut self.slots[slot];
        if error || !s.outstanding.is_empty() {
            self.failed(slot, now);
            return;
        }
        s.close_now = false;
        s.state = if now >= self.end {
            SlotState::Done
        } else {
            SlotState::WantsConnection
        };
    }

    /// A connection failed: its outstanding requests are errors, and the slot reconnects.
    fn failed(&mut self, slot: usize, now: Instant) {
        let s = &mut self.slots[slot];
        self.tally.errors += 1;
        if let Some(p) = &self.progress {
            p.errors.fetch_add(1, Ordering::Relaxed);
        }
        for intended in s.outstanding.drain(..) {
            self.tally.unanswered += 1;
            self.tally.record(now.saturating_duration_since(intended));
        }
        s.output.clear();
        s.close_now = false;
        s.codec = ClientCodec::new(self.spec.workload, self.spec.size, *self.spec.target.ip());
        s.state = if now >= self.end {
            SlotState::Done
        } else {
            SlotState::WantsConnection
        };
    }

    /// Queues the requests that are due on an open slot.
    fn fill(&mut self, slot: usize, now: Instant) {
        // A connection per request carries one request.
        let depth = if self.per_request_connections() {
            1
        } else {
            self.spec.depth.max(1)
        };
        let running = now < self.end;
        let interval = self.interval;
        if !self.started {
            return;
        }
        let s = &mut self.slots[slot];
        if s.state != SlotState::Open || s.close_now {
            return;
        }
        if self.spec.workload == Workload::Bulk {
            return; // bulk writes on demand, see `bulk_output`
        }
        if let Some(iv) = interval {
            while running && s.next_due <= now {
                s.backlog.push_back(s.next_due);
                s.next_due += iv;
                self.tally.requests += 1;
            }
            while s.outstanding.len() < depth {
                let Some(intended) = s.backlog.pop_front() else {
                    break;
                };
                s.codec.encode_request(s.output.append());
                s.outstanding.push_back(intended);
            }
        } else {
            while running && s.outstanding.len() < depth {
                s.codec.encode_request(s.output.append());
                s.outstanding.push_back(now);
                self.tally.requests += 1;
            }
        }
    }

    /// Runs the schedule: queues due requests on every open slot, and ends the run once its
    /// time and the grace period are over. Returns when the engine wants to run next.
    pub fn tick(&mut self, now: Instant) -> Option<Instant> {
        if self.finished {
            return None;
        }
        self.maybe_start(now);
        if !self.started {
            return Some(now + Duration::from_millis(1));
        }
        if now >= self.end + self.spec.grace || (now >= self.end && self.all_answered()) {
            self.finish(now);
            return None;
        }
        for slot in 0..self.slots.len() {
            // Open loop: requests come due whether or not the connection is open.
            if let Some(iv) = self.interval {
                let s = &mut self.slots[slot];
                if s.state != SlotState::Open && now < self.end {
                    while s.next_due <= now {
                        s.backlog.push_back(s.next_due);
                        s.next_due += iv;
                        self.tally.requests += 1;
                    }
                }
            }
            self.fill(slot, now);
        }
        let next_due = self
            .interval
            .filter(|_| now < self.end)
            .and_then(|_| self.slots.iter().map(|s| s.next_due).min());
        let end = if now < self.end {
            self.end
        } else {
            self.end + self.spec.grace
        };
        Some(next_due.map_or(end, |d| d.min(end)))
    }

    fn all_answered(&self) -> bool {
        self.slots
            .iter()
            .all(|s| s.outstanding.is_empty() && s.backlog.is_empty())
    }

    /// Ends the run: whatever is still outstanding or due is unanswered.
    fn finish(&mut self, now: Instant) {
        for s in &mut self.slots {
            for intended in s.outstanding.drain(..).chain(s.backlog.drain(..)) {
                self.tally.unanswered += 1;
                let ns = u64::try_from(now.saturating_duration_since(intended).as_nanos())
                    .unwrap_or(u64::MAX);
                self.tally.latency.saturating_record(ns.max(1));
            }
            s.state = SlotState::Done;
        }
        self.finished = true;
    }

    /// True once the measured period is over (drivers stop opening connections).
    pub fn past_end(&self, now: Instant) -> bool {
        self.started && now >= self.end
    }

    /// Bytes the slot wants written; the driver writes a prefix and reports it with
    /// [`Engine::wrote`].
    pub fn output(&mut self, slot: usize, now: Instant) -> &[u8] {
        if self.spec.workload == Workload::Bulk {
            let s = &mut self.slots[slot];
            if s.state == SlotState::Open && now < self.end && s.output.is_empty() {
                s.codec.encode_request(s.output.append());
            }
        }
        self.slots[slot].output.pending()
    }

    /// The driver wrote `n` bytes of [`Engine::output`].
    pub fn wrote(&mut self, slot: usize, n: usize) {
        let s = &mut self.slots[slot];
        s.output.wrote(n);
        self.tally.bytes_written += n as u64;
        if let Some(p) = &self.progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// The start of the run.
    pub fn start(&self) -> Instant {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn spec(rate: Option<f64>, depth: usize, connections: usize) -> LoadSpec {
        LoadSpec {
            workload: Workload::Echo,
            size: 10,
            connections,
            depth,
            rate,
            duration: Duration::from_secs(1),
            grace: Duration::from_millis(100),
            target: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 7),
            hold: 0,
        }
    }

    #[test]
    fn closed_loop_keeps_depth_outstanding_and_measures_from_send() {
        let t0 = Instant::from_millis(0);
        let mut e = Engine::new(&spec(None, 2, 1), 1, 0, t0);
        e.connecting(0);
        e.connected(0, t0);
        assert_eq!(e.output(0, t0).len(), 20);
        e.wrote(0, 20);
        let t1 = Instant::from_micros(50);
        e.received(0, t1, &[0; 10]);
        assert_eq!(e.tally().answered, 1);
        assert_eq!(
            e.output(0, t1).len(),
            10,
            "one new request replaces the answered one"
        );
        let p = e.tally().latency.value_at_quantile(0.5);
        assert!((49_000..=51_000).contains(&p), "{p}");
    }

    #[test]
    fn partial_writes_leave_the_rest_in_order() {
        let t0 = Instant::from_millis(0);
        let mut e = Engine::new(&spec(None, 3, 1), 1, 0, t0);
        e.connecting(0);
        e.connected(0, t0);
        let all = e.output(0, t0).to_vec();
        assert_eq!(all.len(), 30);
        let mut written = Vec::new();
        for n in [1, 7, 13] {
            let pending = e.output(0, t0);
            written.extend_from_slice(&pending[..n]);
            e.wrote(0, n);
        }
        // An answer queues one more request behind the unwritten bytes.
        e.received(0, Instant::from_micros(10), &[0; 10]);
        written.extend_from_slice(e.output(0, t0));
        assert_eq!(&written[..30], &all[..]);
        assert_eq!(written.len(), 40);
    }

    #[test]
    fn open_loop_counts_every_due_request_and_measures_from_intended_time() {
        // 100 requests/s on one connection for 1 s; the server answers nothing.
        let t0 = Instant::from_millis(0);
        let mut e = Engine::new(&spec(Some(100.0), 1, 1), 1, 0, t0);
        e.connecting(0);
        e.connected(0, t0);
        let mut now = t0;
        while let Some(next) = e.tick(now) {
            assert!(next > now, "the schedule must move forward");
            now = next;
        }
        assert!(e.is_finished());
        let tally = e.tally();
        assert_eq!(tally.requests, 100);
        assert_eq!(tally.unanswered, 100);
        assert_eq!(
            tally.latency.len(),
            100,
            "every request is in the histogram"
        );
        // The first request waited the whole run plus grace: about 1.1 s.
        assert!(
            tally.latency.max() >= 1_050_000_000,
            "{}",
            tally.latency.max()
        );
    }

    #[test]
    fn open_loop_latency_includes_the_wait_behind_a_slow_answer() {
        // Two requests due at 0 and 10 ms; depth 1; the first is answered at 50 ms, so the
        // second goes out then, and its latency counts from 10 ms.
        let t0 = Instant::from_millis(0);
        let mut e = Engine::new(&spec(Some(100.0), 1, 1), 1, 0, t0);
        e.connecting(0);
        e.connected(0, t0);
        e.tick(t0);
        assert_eq!(e.output(0, t0).len(), 10);
        e.wrote(0, 10);
        e.tick(Instant::from_millis(10));
        assert_eq!(e.output(0, t0).len(), 0, "depth 1: the second waits");
        e.received(0, Instant::from_millis(50), &[0; 10]);
        e.tick(Instant::from_millis(50));
        e.wrote(0, 10);
        e.received(0, Instant::from_millis(51), &[0; 10]);
        let (min, max) = (e.tally().latency.min(), e.tally().latency.max());
        assert!(
            (40_000_000..=42_000_000).contains(&min),
            "second request: {min}"
        );
        assert!(
            (49_000_000..=51_000_000).contains(&max),
            "first request: {max}"
        );
    }
}
