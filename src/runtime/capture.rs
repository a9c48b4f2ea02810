//! Capturing the frames the workers receive and send, for `xdptcp capture`.
//!
//! Each worker has a [`CaptureTap`]. While nobody captures it holds nothing, and the only
//! cost on the worker is one atomic load per loop turn (has the tap changed?) and a test of
//! a local `Option` per frame. A capture ([`Capture`], from
//! [`RuntimeObserver::capture`](super::RuntimeObserver::capture)) gives every worker a
//! [`CaptureRing`] of its own: a bounded lock-free queue of filled frames and one of free
//! buffers, all made by the capturing thread beforehand. The worker copies a frame that
//! passes the port filter into a free buffer and queues it; when no buffer is free (the
//! reader is slow or gone) it counts the frame as dropped by capture and goes on. So a
//! worker never waits on a reader, never allocates for one, and holds at most
//! [`RING_FRAMES`] captured frames. The capture ends, and the workers let go of their
//! rings, when the [`Capture`] drops.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam::queue::ArrayQueue;

use super::frame_flow::frame_flow;
use crate::xdp::wait::Waker;

/// The most captured frames a worker holds for the reader. With buffers of
/// [`BUFFER_BYTES`] that is 8 MiB per worker while a capture runs, and a reader that drains
/// the rings every 5 ms (as the management socket's capture thread does) keeps up with
/// 800 000 frames a second per worker.
pub const RING_FRAMES: usize = 4096;

/// The room made in each buffer beforehand: a 1500-byte MTU frame and its Ethernet header
/// fit. A larger frame grows its buffer once; the buffer is reused after.
const BUFFER_BYTES: usize = 2048;

/// Whether the stack received a frame or sent it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    Received,
    Sent,
}

/// One captured frame, as it was on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedFrame {
    pub direction: Direction,
    /// The queue (worker) that received or sent it.
    pub queue: u32,
    /// When, in nanoseconds since the Unix epoch (the realtime clock read when copied).
    pub unix_nanos: u64,
    pub data: Vec<u8>,
}

/// One worker's part of one capture.
pub(super) struct CaptureRing {
    filled: ArrayQueue<CapturedFrame>,
    free: ArrayQueue<Vec<u8>>,
    /// Only frames with this TCP port (either end, or quoted by an ICMP error).
    port: Option<u16>,
    queue: u32,
    dropped: AtomicU64,
}

impl CaptureRing {
    fn new(queue: u32, port: Option<u16>, frames: usize) -> CaptureRing {
        let free = ArrayQueue::new(frames);
        for _ in 0..frames {
            // Cannot fail: the queue has room for exactly this many.
            let _ = free.push(Vec::with_capacity(BUFFER_BYTES));
        }
        CaptureRing {
            filled: ArrayQueue::new(frames),
            free,
            port,
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    /// Worker side: copies `frame` for the reader if it passes the filter and a buffer is
    /// free, else counts it as dropped.
    pub fn offer(&self, direction: Direction, frame: &[u8]) {
        if let Some(port) = self.port {
            if !frame_flow(frame).is_some_and(|flow| flow.has(port)) {
                return;
            }
        }
        let Some(mut data) = self.free.pop() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        data.clear();
        data.extend_from_slice(frame);
        let unix_nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let captured = CapturedFrame {
            direction,
            queue: self.queue,
            unix_nanos,
            data,
        };
        // There are as many buffers as slots, so a free buffer means a free slot.
        if self.filled.push(captured).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where a capture reaches one worker.
pub(super) struct CaptureTap {
    /// Bumped each time `ring` is set or cleared.
    generation: AtomicU64,
    /// The generation the worker last took.
    seen: AtomicU64,
    ring: Mutex<Option<Arc<CaptureRing>>>,
}

impl CaptureTap {
    pub fn new() -> CaptureTap {
        CaptureTap {
            generation: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            ring: Mutex::new(None),
        }
    }

    fn set(&self, ring: Option<Arc<CaptureRing>>) -> u64 {
        *self.ring.lock().unwrap_or_else(|e| e.into_inner()) = ring;
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Worker side, for its idle waits: true when the tap changed since it last looked.
    pub fn changed(&self, seen: u64) -> bool {
        self.generation.load(Ordering::SeqCst) != seen
    }
}

/// A worker's view of its tap: the ring it copies frames into, if a capture runs.
pub(super) struct WorkerCapture {
    tap: Arc<CaptureTap>,
    generation: u64,
    ring: Option<Arc<CaptureRing>>,
}

impl WorkerCapture {
    pub fn new(tap: Arc<CaptureTap>) -> WorkerCapture {
        WorkerCapture {
            tap,
            generation: 0,
            ring: None,
        }
    }

    /// Once per loop turn: takes up (or lets go of) a capture's ring if the tap changed.
    pub fn refresh(&mut self) {
        if !self.tap.changed(self.generation) {
            return;
        }
        let generation = self.tap.generation.load(Ordering::SeqCst);
        self.ring = self
            .tap
            .ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.generation = generation;
        self.tap.seen.store(generation, Ordering::SeqCst);
    }

    /// True when the tap changed since the last `refresh` (the worker should wake up).
    pub fn changed(&self) -> bool {
        self.tap.changed(self.generation)
    }

    /// The ring to copy frames into while a capture runs.
    pub fn ring(&self) -> Option<&CaptureRing> {
        self.ring.as_deref()
    }
}

/// Why a capture cannot start.
#[derive(Debug, thiserror::Error)]
#[error("another capture of this server is running (one runs at a time)")]
pub struct CaptureBusy;

/// A worker as a capture reaches it.
pub(super) struct CapturedWorker<'a> {
    pub tap: &'a Arc<CaptureTap>,
    pub waker: &'a Arc<Waker>,
}

/// A running capture: every worker copies the frames it receives and sends (those the port
/// filter passes) into a ring of its own until this drops.
pub struct Capture {
    taps: Vec<(Arc<CaptureTap>, Arc<Waker>)>,
    rings: Vec<Arc<CaptureRing>>,
    /// Held while this capture runs: one capture at a time.
    busy: Arc<AtomicBool>,
    workers_waiting: usize,
}

impl Capture {
    /// Gives each worker a ring, wakes it, and waits up to `patience` for each to take it.
    pub(super) fn start<'a>(
        workers: impl IntoIterator<Item = CapturedWorker<'a>>,
        port: Option<u16>,
        busy: Arc<AtomicBool>,
        patience: Duration,
    ) -> Capture {
        let mut taps = Vec::new();
        let mut rings = Vec::new();
        let mut generations = Vec::new();
        for (queue, worker) in workers.into_iter().enumerate() {
            let ring = Arc::new(CaptureRing::new(queue as u32, port, RING_FRAMES));
            generations.push(worker.tap.set(Some(ring.clone())));
            worker.waker.wake();
            taps.push((worker.tap.clone(), worker.waker.clone()));
            rings.push(ring);
        }
        let deadline = Instant::now() + patience;
        let waiting = |taps: &[(Arc<CaptureTap>, Arc<Waker>)]| {
            taps.iter()
                .zip(&generations)
                .filter(|((tap, _), &g)| tap.seen.load(Ordering::SeqCst) < g)
                .count()
        };
        let mut workers_waiting = waiting(&taps);
        while workers_waiting > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
            workers_waiting = waiting(&taps);
        }
        Capture {
            taps,
            rings,
            busy,
            workers_waiting,
        }
    }

    /// The workers capturing.
    pub fn queues(&self) -> usize {
        self.rings.len()
    }

    /// Workers that had not yet taken their ring when the capture started (a handler
    /// blocking its loop): they capture from when they next turn.
    pub fn workers_waiting(&self) -> usize {
        self.workers_waiting
    }

    /// Moves every frame captured so far into `out`, in time order.
    pub fn take(&self, out: &mut Vec<CapturedFrame>) {
        let start = out.len();
        for ring in &self.rings {
            while let Some(frame) = ring.filled.pop() {
                out.push(frame);
            }
        }
        out[start..].sort_by_key(|f| f.unix_nanos);
    }

    /// Gives a taken frame's buffer back to its worker.
    pub fn recycle(&self, frame: CapturedFrame) {
        if let Some(ring) = self.rings.get(frame.queue as usize) {
            let _ = ring.free.push(frame.data);
        }
    }

    /// Frames the workers could not copy because the reader had not taken enough.
    pub fn dropped(&self) -> u64 {
        self.rings
            .iter()
            .map(|r| r.dropped.load(Ordering::Relaxed))
            .sum()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        for (tap, waker) in &self.taps {
            tap.set(None);
            waker.wake();
        }
        self.busy.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("queues", &self.rings.len())
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame_flow::tests::segment;
    use super::*;

    fn one_worker(port: Option<u16>) -> (Capture, WorkerCapture) {
        let tap = Arc::new(CaptureTap::new());
        let waker = Arc::new(Waker::new().unwrap());
        let mut worker = WorkerCapture::new(tap.clone());
        assert!(worker.ring().is_none());
        let capture = Capture::start(
            [CapturedWorker {
                tap: &tap,
                waker: &waker,
            }],
            port,
            Arc::new(AtomicBool::new(true)),
            Duration::ZERO,
        );
        assert_eq!(
            capture.workers_waiting(),
            1,
            "the worker has not turned yet"
        );
        assert!(worker.changed());
        worker.refresh();
        assert!(!worker.changed());
        (capture, worker)
    }

    #[test]
    fn frames_pass_the_port_filter_in_order_and_the_ring_lets_go_when_the_capture_drops() {
        let (capture, mut worker) = one_worker(Some(7));
        let ring = worker.ring().expect("capturing");
        ring.offer(Direction::Received, &segment(40_000, 7));
        ring.offer(Direction::Sent, &segment(7, 40_000));
        ring.offer(Direction::Received, &segment(40_000, 8));
        let mut frames = Vec::new();
        capture.take(&mut frames);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].direction, Direction::Received);
        assert_eq!(frames[0].data, segment(40_000, 7));
        assert_eq!(frames[1].direction, Direction::Sent);
        assert!(frames[0].unix_nanos <= frames[1].unix_nanos);
        assert_eq!(capture.dropped(), 0);
        let busy = capture.busy.clone();
        drop(capture);
        assert!(!busy.load(Ordering::SeqCst), "the next capture may start");
        assert!(worker.changed());
        worker.refresh();
        assert!(worker.ring().is_none(), "the worker let go of the ring");
    }

    /// Not a test: `bench/capture.sh` counts the instructions of [`CaptureRing::offer`]
    /// under callgrind with this. `XDPTCP_CAPTURE_LOOP=<filter>:<offers>` (filter `all`,
    /// `match` or `nomatch`) offers a 130-byte frame (a 64-byte echo request with
    /// timestamps) that many times, the reader taking the frames every 1024 offers.
    #[test]
    #[ignore]
    fn offer_loop() {
        let spec = std::env::var("XDPTCP_CAPTURE_LOOP").unwrap_or_else(|_| "all:1000".into());
        let (filter, offers) = spec.split_once(':').expect("<filter>:<offers>");
        let offers: usize = offers.parse().expect("a number of offers");
        let port = match filter {
            "all" => None,
            "match" => Some(7),
            "nomatch" => Some(1),
            other => panic!("{other}: the filter is all, match or nomatch"),
        };
        let (capture, worker) = one_worker(port);
        let ring = worker.ring().unwrap();
        let mut frame = segment(40_000, 7);
        frame.resize(130, 0);
        let mut taken = Vec::new();
        for i in 0..offers {
            ring.offer(Direction::Received, std::hint::black_box(&frame));
            if i % 1024 == 1023 {
                capture.take(&mut taken);
                for f in taken.drain(..) {
                    capture.recycle(f);
                }
            }
        }
        assert_eq!(capture.dropped(), 0);
    }

    #[test]
    fn a_reader_that_takes_nothing_makes_frames_dropped_not_a_longer_queue() {
        let (capture, worker) = one_worker(None);
        let ring = worker.ring().unwrap();
        for _ in 0..RING_FRAMES + 10 {
            ring.offer(Direction::Received, &segment(1, 2));
        }
        assert_eq!(capture.dropped(), 10);
        let mut frames = Vec::new();
        capture.take(&mut frames);
        assert_eq!(frames.len(), RING_FRAMES);
        for frame in frames.drain(..) {
            capture.recycle(frame);
        }
        ring.offer(Direction::Sent, &segment(1, 2));
        capture.take(&mut frames);
        assert_eq!(frames.len(), 1, "recycled buffers are used again");
        assert_eq!(capture.dropped(), 10);
    }
}
