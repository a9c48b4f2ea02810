//! One worker: a queue's AF_XDP socket, its stack and its handler, run to completion.
//!
//! Each loop turn reads the clock once, then: RX batch → stack (parsed in place in the UMEM
//! frame; new in-order data shown to the handler there) → messages from other threads → due
//! timers → events to the handler (which reads and writes) → TX frames built in place in the
//! UMEM → one kick → the counters copied out, if a reader asked for them (see `stats`).
//! While a capture runs, each frame received and each frame built is also copied to it
//! (see `capture`).
//! When a turn finds nothing to do, the idle policy decides whether to spin
//! or sleep in poll() until the next deadline. A spinning worker does not run whole turns
//! while idle: it watches the RX ring, its messages and its hand-off inbox (a few loads) and
//! starts the next turn when one of them has something or a deadline comes.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::capture::{Direction, WorkerCapture};
use super::handoff::Handoffs;
use super::stats::{ConnectionListing, StatsSlot, WorkerEndGuard};
use super::{Handler, HandlerHost, IdlePolicy};
use crate::stack::Stack;
use crate::time::Instant;
use crate::xdp::{self, XskSocket};

/// Longest sleep, so a stop request is seen promptly even without a wake-up.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// A spinning idle worker reads the clock once per this many checks of its inputs (about
/// a quarter of a microsecond here): deadlines are met to within that.
const CLOCK_EVERY_SPINS: u32 = 32;
/// Longest sleep while frames wait for TX frames in flight (see [`Worker::idle`]).
const TX_COMPLETION_WAIT: Duration = Duration::from_micros(100);
/// How often unresolved neighbours are looked up again in the kernel's table.
const NEIGHBOR_POLL: Duration = Duration::from_millis(2);
/// How long a neighbour lookup is retried before the stack has to ask again.
const NEIGHBOR_GIVE_UP: Duration = Duration::from_secs(3);

pub(super) struct Worker<H: Handler> {
    pub index: usize,
    pub ifindex: u32,
    pub socket: XskSocket,
    pub stack: Stack,
    pub host: HandlerHost<H>,
    pub messages: crossbeam::channel::Receiver<H::Message>,
    pub waker: Arc<xdp::wait::Waker>,
    pub stop: Arc<AtomicBool>,
    pub idle: IdlePolicy,
    pub batch: usize,
    pub core: Option<usize>,
    pub stats: Arc<StatsSlot>,
    /// Where a running capture takes the frames received and sent (see `capture`).
    pub capture: WorkerCapture,
    pub handoffs: Arc<Handoffs>,
    /// Where the worker marks its listeners whose SYNs on its queue the XDP program answers
    /// with cookies.
    pub cookie_ports: xdp::CookiePorts,
}

/// What the loop carries from one turn to the next.
struct LoopState {
    turns: u64,
    sleeps: u64,
    /// The start of the last turn that found work.
    last_work: Instant,
    /// Neighbours the kernel is resolving, with when the stack first asked.
    pending_neighbors: Vec<(Ipv4Addr, Instant)>,
    next_neighbor_poll: Instant,
}

impl<H: Handler> Worker<H> {
    /// Runs the worker until the runtime stops: the handler's start, loop turns and idle
    /// waits, the handler's stop.
    pub fn run(mut self) {
        if let Some(core) = self.core {
            if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                log::warn!("worker {}: could not pin to core {core}", self.index);
            }
        }
        crate::host::precise_timers();
        let start = Instant::now_monotonic();
        let mut state = LoopState {
            turns: 0,
            sleeps: 0,
            last_work: start,
            pending_neighbors: Vec::new(),
            next_neighbor_poll: Instant::ZERO,
        };
        // Readers waiting for counters learn that there will be no more, also on a panic.
        let slot = self.stats.clone();
        let _end = WorkerEndGuard(&slot);

        self.host.start(&mut self.stack, start);
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now_monotonic();
            let (work, app_deadline) = self.turn(now, &mut state);
            if work > 0 {
                state.last_work = now;
            } else {
                self.idle(now, app_deadline, &mut state);
            }
        }
        self.shut_down(&state);
    }

    /// One loop turn at `now`: received frames, messages, due timers and events through the
    /// stack and the handler, then frames out and, if asked for, the counters. Returns the
    /// work done (frames, messages, events) and when the handler wants to run next.
    fn turn(&mut self, now: Instant, state: &mut LoopState) -> (usize, Option<Instant>) {
        state.turns += 1;
        self.capture.refresh();
        let mut work = self.receive(now);
        for _ in 0..self.batch {
            let Ok(message) = self.messages.try_recv() else {
                break;
            };
            work += 1;
            self.host.message(&mut self.stack, now, message);
        }
        if self.stack.poll_deadline().is_some_and(|d| d <= now) {
            self.stack.handle_timeout(now);
        }
        work += self.host.dispatch(&mut self.stack, now);
        let app_deadline = self.host.tick(&mut self.stack, now);
        work += self.host.dispatch(&mut self.stack, now);
        self.publish_cookie_offload(now);
        self.resolve_neighbors(
            now,
            &mut state.pending_neighbors,
            &mut state.next_neighbor_poll,
        );
        loop {
            let sent = self.transmit(now);
            work += sent;
            if sent < self.batch {
                break;
            }
        }
        self.socket.flush();
        if self.stats.wanted() {
            self.publish_stats(state.turns, state.sleeps);
        }
        (work, app_deadline)
    }

    /// Tells the XDP program which of this queue's listening ports to answer SYNs for with
    /// cookies, when the stack's wish changed (rarely: on a flood's start and end).
    fn publish_cookie_offload(&mut self, now: Instant) {
        let (ports, queue) = (&self.cookie_ports, self.index as u32);
        self.stack
            .publish_cookie_offload(now, |port, on| match ports.set(queue, port, on) {
                Ok(()) => log::info!(
                    "worker {queue}: SYNs to port {port} {} in the XDP program",
                    if on {
                        "answered with SYN cookies"
                    } else {
                        "no longer answered"
                    }
                ),
                Err(e) => log::warn!("worker {queue}: port {port} SYN cookies in XDP: {e}"),
            });
    }

    /// After a turn that found nothing to do: spins or sleeps, as the idle policy says,
    /// until input may have come or work comes due.
    fn idle(&mut self, now: Instant, app_deadline: Option<Instant>, state: &mut LoopState) {
        // When work comes due without any input: the stack's timers, the handler's
        // wake-up and the next look-up of pending neighbours.
        let next_due = [
            self.stack.poll_deadline(),
            app_deadline,
            (!state.pending_neighbors.is_empty()).then_some(state.next_neighbor_poll),
        ]
        .into_iter()
        .flatten()
        .min();
        let spin_end = match self.idle {
            IdlePolicy::BusySpin => Some(Instant::from_nanos(u64::MAX)),
            IdlePolicy::Poll | IdlePolicy::Auto => None,
            IdlePolicy::Hybrid { spin } => Some(state.last_work + spin).filter(|end| now < *end),
        };
        self.socket.kick_if_waiting();
        if let Some(spin_end) = spin_end {
            if self.socket.rx_needs_wakeup() {
                xdp::wait::kick_rx(self.socket.fd());
            }
            if !self.socket.tx_starved() {
                self.spin_until_ready(next_due.map_or(spin_end, |due| due.min(spin_end)));
            }
            return;
        }
        let reclaimed = self.socket.reclaim();
        if self.socket.tx_starved() && reclaimed > 0 {
            // Completions brought back TX frames the last turn lacked: build the frames it
            // could not, now, instead of sleeping until other input comes.
            return;
        }
        let mut timeout = next_due.map_or(MAX_SLEEP, |due| {
            due.saturating_duration_since(now).min(MAX_SLEEP)
        });
        if self.socket.tx_starved() {
            // Frames wait for TX frames that are still in flight. A completion does not wake
            // poll(): in copy mode the kick completed them already, but a zero-copy driver
            // completes them later, from its NAPI, so look again soon.
            timeout = timeout.min(TX_COMPLETION_WAIT);
        }
        let (messages, handoffs, stats, capture, me) = (
            &self.messages,
            &self.handoffs,
            &self.stats,
            &self.capture,
            self.index,
        );
        let ready = || {
            !messages.is_empty() || handoffs.has_frames(me) || stats.wanted() || capture.changed()
        };
        match xdp::wait::sleep(self.socket.fd(), &self.waker, timeout, ready) {
            Ok(true) => state.sleeps += 1,
            Ok(false) => {}
            Err(e) => {
                log::error!("worker {}: poll failed: {e}; stopping", self.index);
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    /// The handler's stop, the frames it queued (closes, resets) sent before the socket goes
    /// away, and the final counters.
    fn shut_down(&mut self, state: &LoopState) {
        let now = Instant::now_monotonic();
        self.host.stop(&mut self.stack, now);
        self.transmit(now);
        self.socket.flush();
        self.socket.reclaim();
        self.publish_stats(state.turns, state.sleeps);
    }

    /// The idle wait of a spinning worker: watches only what can bring work — the RX ring,
    /// messages, frames handed over by other workers, the stop flag, a request for its
    /// counters — until one of them has some or `until` passes. A whole loop turn reads the
    /// clock and walks the stack, the handler and the TX ring; this loop is a few loads, so a
    /// frame that arrives while the worker is idle is picked up sooner. The clock is read
    /// every `CLOCK_EVERY_SPINS` spins.
    fn spin_until_ready(&mut self, until: Instant) {
        let me = self.index;
        let mut spins: u32 = 0;
        loop {
            if self.socket.rx_ready() || !self.messages.is_empty() || self.handoffs.has_frames(me) {
                return;
            }
            spins = spins.wrapping_add(1);
            if spins % CLOCK_EVERY_SPINS == 0
                && (Instant::now_monotonic() >= until
                    || self.stop.load(Ordering::Relaxed)
                    || self.stats.wanted()
                    || self.capture.changed())
            {
                return;
            }
        }
    }

    /// One RX batch into the stack (and the handler, for data it can read in place), plus
    /// the frames other workers handed over. Returns the frames processed.
    fn receive(&mut self, now: Instant) -> usize {
        let Worker {
            socket,
            stack,
            host,
            handoffs,
            index,
            batch,
            capture,
            ..
        } = self;
        let capture = capture.ring();
        if handoffs.len() == 1 {
            return socket.receive(*batch, |frame| {
                if let Some(ring) = capture {
                    ring.offer(Direction::Received, frame);
                }
                host.receive(stack, now, frame)
            });
        }
        // Frames of another worker's connections go to it (see `handoff`), captured here,
        // where they came in.
        let mut n = socket.receive(*batch, |frame| {
            if let Some(ring) = capture {
                ring.offer(Direction::Received, frame);
            }
            if !handoffs.forward(*index, frame) {
                host.receive(stack, now, frame);
            }
        });
        n += handoffs.drain(*index, *batch, |frame| host.receive(stack, now, frame));
        n
    }

    /// Up to one batch of the stack's frames built into TX frames (and copied to a running
    /// capture). Returns the frames queued.
    fn transmit(&mut self, now: Instant) -> usize {
        let (stack, capture) = (&mut self.stack, self.capture.ring());
        self.socket.transmit(self.batch, |frame| {
            let len = stack.poll_transmit(now, frame)?;
            if let Some(ring) = capture {
                ring.offer(Direction::Sent, &frame[..len]);
            }
            Some(len)
        })
    }

    /// Answers the stack's neighbour requests from the kernel's table (see `crate::host`).
    fn resolve_neighbors(
        &mut self,
        now: Instant,
        pending: &mut Vec<(Ipv4Addr, Instant)>,
        next_poll: &mut Instant,
    ) {
        while let Some(ip) = self.stack.poll_neighbor_request() {
            match crate::host::neighbor(self.ifindex, ip) {
                Ok(Some(mac)) => self.stack.add_neighbor(ip, mac),
                _ => {
                    if let Err(e) = crate::host::solicit_neighbor(ip) {
                        log::warn!(
                            "worker {}: cannot make the kernel resolve {ip}: {e}",
                            self.index
                        );
                    }
                    if !pending.iter().any(|(p, _)| *p == ip) {
                        pending.push((ip, now));
                    }
                }
            }
        }
        if pending.is_empty() || now < *next_poll {
            return;
        }
        *next_poll = now + NEIGHBOR_POLL;
        let ifindex = self.ifindex;
        let stack: &mut Stack = &mut self.stack;
        pending.retain(|&(ip, since)| match crate::host::neighbor(ifindex, ip) {
            Ok(Some(mac)) => {
                stack.add_neighbor(ip, mac);
                false
            }
            _ => now.saturating_duration_since(since) < NEIGHBOR_GIVE_UP,
        });
    }

    /// Copies the counters into the worker's stats slot, for the readers waiting there, and
    /// lists the connections a reader asked for.
    fn publish_stats(&mut self, turns: u64, sleeps: u64) {
        self.socket.refresh_kernel_stats();
        let (handed, dropped) = self.handoffs.counters(self.index);
        let (stack, socket) = (&self.stack, &self.socket);
        self.stats.publish(
            |s| {
                s.stack = stack.stats().clone();
                s.socket = socket.stats();
                s.connections = stack.connection_count();
                s.accept_queue = stack.accept_queue_len();
                s.states = stack.state_counts();
                s.tcp = stack.tcp_totals();
                s.tx_frames_in_flight = socket.tx_frames_in_flight();
                s.tx_frames_free = socket.tx_frames_free();
                s.tx_frames_total = socket.tx_frames_total();
                s.loop_turns = turns;
                s.sleeps = sleeps;
                s.handler_panics = self.host.panics();
                s.frames_handed_off = handed;
                s.handoff_drops = dropped;
            },
            |query| {
                let mut rows = Vec::with_capacity(query.limit.min(stack.connection_count()));
                let left_off = stack.list_connections(&query.filter, query.limit, &mut rows);
                ConnectionListing {
                    queue: socket.queue(),
                    rows,
                    left_off,
                }
            },
        );
    }
}
