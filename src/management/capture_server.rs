//! Serving `xdptcp capture`: on a thread of its own per capture (one runs at a time), the
//! workers' captured frames are taken from their rings every [`DRAIN_EVERY`] and streamed
//! to the client (see `capture_stream`) until the client shuts down its side, goes away, or
//! the server stops. The capture ends with the thread, so a client that dies ends it too.

use std::io::{self, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::capture_stream::{self, CaptureSummary};
use super::protocol::{self, Answer, CaptureStarted, RuntimeSummary};
use super::server::readable_within;
use crate::runtime::{Capture, RuntimeObserver, CAPTURE_RING_FRAMES};

/// How often the rings are emptied (see [`crate::runtime::CAPTURE_RING_FRAMES`] for the
/// rate that keeps up with).
const DRAIN_EVERY: Duration = Duration::from_millis(5);

/// How long a capture with no frames stays silent before it sends a tick, so the client
/// sees its deadline and its Ctrl-C.
const TICK_EVERY: Duration = Duration::from_millis(200);

/// The capture threads the accepting thread started; joined when it stops.
#[derive(Default)]
pub(super) struct CaptureThreads {
    threads: Vec<JoinHandle<()>>,
}

impl CaptureThreads {
    /// Starts a capture for `client`, answers it, and hands it to a thread of its own; a
    /// capture already running is refused.
    pub fn start(
        &mut self,
        client: UnixStream,
        observer: &RuntimeObserver,
        port: Option<u16>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<()> {
        let capture = match observer.capture(port) {
            Ok(capture) => capture,
            Err(busy) => {
                return protocol::write_line(
                    &mut &client,
                    &Answer::Refused {
                        reason: busy.to_string(),
                    },
                )
            }
        };
        let started = CaptureStarted {
            runtime: RuntimeSummary::of(observer),
            workers_waiting: capture.workers_waiting(),
            ring_frames: CAPTURE_RING_FRAMES,
        };
        protocol::write_line(&mut &client, &Answer::Capturing(started))?;
        log::info!(
            "capture started for a management client{}",
            port.map_or(String::new(), |p| format!(", port {p}"))
        );
        let thread = std::thread::Builder::new()
            .name("xdptcp-capture".into())
            .spawn(move || match stream(&client, &capture, &stop) {
                Ok(summary) => log::info!(
                    "capture ended: {} frame(s) sent, {} dropped",
                    summary.frames,
                    summary.dropped
                ),
                Err(e) => log::info!("capture ended: the client went away ({e})"),
            })?;
        self.threads.push(thread);
        Ok(())
    }

    /// Joins the threads whose capture ended.
    pub fn reap(&mut self) {
        let (ended, running): (Vec<_>, Vec<_>) =
            self.threads.drain(..).partition(|t| t.is_finished());
        self.threads = running;
        for thread in ended {
            let _ = thread.join();
        }
    }
}

impl Drop for CaptureThreads {
    fn drop(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// True once the client shut down its side (or is gone); false when `DRAIN_EVERY` passes.
fn client_ended(client: &UnixStream) -> io::Result<bool> {
    if !readable_within(client, DRAIN_EVERY)? {
        return Ok(false);
    }
    let mut scratch = [0u8; 64];
    match (&*client).read(&mut scratch) {
        Ok(0) => Ok(true),
        // The protocol has the client send nothing more; what it sends is ignored.
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// Streams `capture`'s frames to `client` until the client or the server ends it, then
/// the summary.
fn stream(client: &UnixStream, capture: &Capture, stop: &AtomicBool) -> io::Result<CaptureSummary> {
    let mut out = BufWriter::new(client);
    let mut frames = Vec::new();
    let mut summary = CaptureSummary::default();
    let mut last_sent = Instant::now();
    loop {
        let ended = stop.load(Ordering::SeqCst) || client_ended(client)?;
        capture.take(&mut frames);
        for frame in frames.drain(..) {
            capture_stream::write_frame(&mut out, &frame)?;
            summary.frames += 1;
            last_sent = Instant::now();
            capture.recycle(frame);
        }
        if last_sent.elapsed() >= TICK_EVERY {
            capture_stream::write_tick(&mut out, capture.dropped())?;
            last_sent = Instant::now();
        }
        out.flush()?;
        if ended {
            break;
        }
    }
    summary.dropped = capture.dropped();
    capture_stream::write_end(&mut out, &summary)?;
    out.flush()?;
    Ok(summary)
}
