//! The load generator on xdptcp: one [`Engine`] per worker, driven by a [`Handler`].

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slotmap::SecondaryMap;

use super::engine::SlotState;
use super::held::{HeldConnections, HeldTally};
use super::{Engine, LoadError, LoadSpec, Progress, Report, Tally};
use crate::runtime::{Context, Handler, Runtime, RuntimeConfig, StackEvent};
use crate::stack::{ConnId, StackError};
use crate::tcp;
use crate::time::Instant;

/// One worker's share of the load.
pub struct LoadHandler {
    engine: Engine,
    /// Idle connections opened first and held through the run; the workload starts (its
    /// engine made afresh) once they are all open.
    held: HeldConnections,
    engine_started: bool,
    spec: LoadSpec,
    /// This worker's slots of the workload, and the index of its first among all.
    slots: (usize, usize),
    progress: Arc<Progress>,
    target: SocketAddrV4,
    slot_of: SecondaryMap<ConnId, usize>,
    conn_of: Vec<Option<ConnId>>,
    results: Arc<Mutex<Vec<(Tally, HeldTally)>>>,
    finished_workers: Arc<AtomicUsize>,
    reported_finished: bool,
    connect_failed: super::RateLimitedWarning,
}

impl LoadHandler {
    /// Opens held connections while any are wanted; once all are open, starts the workload.
    fn advance_held(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        for _ in 0..self.held.to_open() {
            match ctx.connect(self.target) {
                Ok(conn) => self.held.opened(Some(conn), now),
                Err(e) => {
                    self.connect_failed
                        .warn(format_args!("load: cannot connect to {}: {e}", self.target));
                    self.held.opened(None, now);
                }
            }
        }
        if self.held.done() && !self.engine_started {
            self.engine_started = true;
            let (slots, first) = self.slots;
            self.engine = Engine::new(&self.spec, slots, first, now);
            self.engine.set_progress(self.progress.clone());
            self.open_wanted(ctx);
        }
    }

    /// A held connection's event.
    fn held_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        let now = ctx.now();
        match event {
            StackEvent::Connected => {
                self.held.connected(conn, now);
                self.advance_held(ctx);
            }
            StackEvent::Closed { .. } => {
                self.held.closed(conn, now);
                ctx.release(conn);
                self.advance_held(ctx);
            }
            // The server has nothing to say on an idle connection; what it says is dropped.
            StackEvent::Readable | StackEvent::ReadClosed => {
                while let Ok(n) = ctx.read_with(conn, |data| data.len()) {
                    if n == 0 {
                        break;
                    }
                }
            }
            StackEvent::Writable | StackEvent::Accepted { .. } => {}
        }
    }

    fn open_wanted(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        if self.engine.past_end(now) {
            return;
        }
        for slot in 0..self.engine.slot_count() {
            if self.engine.state(slot) != SlotState::WantsConnection {
                continue;
            }
            match ctx.connect(self.target) {
                Ok(conn) => {
                    self.engine.connecting(slot);
                    self.slot_of.insert(conn, slot);
                    self.conn_of[slot] = Some(conn);
                }
                Err(e) => {
                    self.connect_failed
                        .warn(format_args!("load: cannot connect to {}: {e}", self.target));
                    self.engine.closed(slot, now, true);
                }
            }
        }
    }

    /// Writes what the slot has queued, as far as the send buffer allows.
    fn flush(&mut self, ctx: &mut Context<'_>, slot: usize) {
        let Some(conn) = self.conn_of[slot] else {
            return;
        };
        let now = ctx.now();
        loop {
            let data = self.engine.output(slot, now);
            if data.is_empty() {
                break;
            }
            match ctx.write(conn, data) {
                Ok(n) => self.engine.wrote(slot, n),
                Err(_) => break, // WouldBlock: Writable comes later
            }
        }
    }

    /// Gives the slot's connection back to the stack (a graceful close).
    fn forget(&mut self, ctx: &mut Context<'_>, slot: usize) {
        if let Some(conn) = self.conn_of[slot].take() {
            self.slot_of.remove(conn);
            ctx.release(conn);
        }
    }

    fn read(&mut self, ctx: &mut Context<'_>, conn: ConnId, slot: usize) {
        let now = ctx.now();
        loop {
            let engine = &mut self.engine;
            match ctx.read_with(conn, |data| {
                engine.received(slot, now, data);
                data.len()
            }) {
                Ok(0) => {
                    // The server closed (the connect workload, after its answer).
                    self.forget(ctx, slot);
                    self.engine.closed(slot, now, false);
                    return;
                }
                Ok(_) => {}
                Err(StackError::Tcp(tcp::Error::WouldBlock)) => return,
                Err(_) => return,
            }
            if self.conn_of[slot] != Some(conn) {
                return;
            }
        }
    }
}

impl Handler for LoadHandler {
    type Message = ();

    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.advance_held(ctx);
    }

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        if self.held.holds(conn) {
            self.held_event(ctx, conn, event);
            return;
        }
        let Some(&slot) = self.slot_of.get(conn) else {
            if let StackEvent::Closed { .. } = event {
                ctx.release(conn);
            }
            return;
        };
        let now = ctx.now();
        match event {
            StackEvent::Connected => {
                self.engine.connected(slot, now);
                self.flush(ctx, slot);
            }
            StackEvent::Readable | StackEvent::ReadClosed => {
                self.read(ctx, conn, slot);
                if self.conn_of[slot] == Some(conn) {
                    self.flush(ctx, slot);
                }
            }
            StackEvent::Writable => self.flush(ctx, slot),
            StackEvent::Closed { error } => {
                self.slot_of.remove(conn);
                self.conn_of[slot] = None;
                ctx.release(conn);
                self.engine.closed(slot, now, error.is_some());
            }
            StackEvent::Accepted { .. } => {}
        }
    }

    fn on_tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        if !self.engine_started {
            self.advance_held(ctx);
            ctx.wake_at(now + Duration::from_millis(10));
            return;
        }
        let next = self.engine.tick(now);
        if self.engine.is_finished() {
            if !self.reported_finished {
                self.reported_finished = true;
                self.finished_workers.fetch_add(1, Ordering::SeqCst);
            }
            return;
        }
        self.open_wanted(ctx);
        for slot in 0..self.engine.slot_count() {
            self.flush(ctx, slot);
        }
        if let Some(at) = next {
            ctx.wake_at(at);
        }
    }

    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        for slot in 0..self.engine.slot_count() {
            self.forget(ctx, slot);
        }
        let held: Vec<ConnId> = self.held.connections().collect();
        for conn in held {
            ctx.release(conn);
        }
        if let Ok(mut r) = self.results.lock() {
            r.push((self.engine.tally().clone(), self.held.tally()));
        }
    }
}

/// Runs `spec` over xdptcp on the interface of `config`, printing progress through
/// `progress_line` once a second, and returns the merged report.
pub fn run(
    spec: &LoadSpec,
    config: RuntimeConfig,
    mut progress_line: impl FnMut(Duration, &Progress),
    mut at_end: impl FnMut(&Runtime<()>),
) -> Result<Report, LoadError> {
    spec.validate()?;
    let workers = config.queues as usize;
    let results = Arc::new(Mutex::new(Vec::new()));
    let finished = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Progress::default());
    let start = Instant::now_monotonic() + Duration::from_millis(20);
    let mut next_first = 0;
    let mut runtime: Runtime<()> = Runtime::start(config, |worker| {
        let share = |n: usize| n / workers + usize::from(worker < n % workers);
        let slots = share(spec.connections);
        let first = next_first;
        next_first += slots;
        LoadHandler {
            // Replaced when the held connections are open (at once without any).
            engine: Engine::new(spec, 0, first, start),
            held: HeldConnections::new(share(spec.hold), start),
            engine_started: false,
            spec: spec.clone(),
            slots: (slots, first),
            progress: progress.clone(),
            target: spec.target,
            slot_of: SecondaryMap::new(),
            conn_of: vec![None; slots],
            results: results.clone(),
            finished_workers: finished.clone(),
            reported_finished: false,
            connect_failed: Default::default(),
        }
    })?;
    let stack = {
        let info = runtime.info();
        format!(
            "xdptcp ({}, {} queue(s), AF_XDP {} mode)",
            info.iface, info.queues, info.bind_mode
        )
    };
    let limit = spec.duration + spec.grace + Duration::from_secs(2) + spec.hold_allowance();
    let began = std::time::Instant::now();
    let mut last = began;
    while finished.load(Ordering::SeqCst) < workers
        && began.elapsed() < limit
        && !runtime.is_stopping()
    {
        std::thread::sleep(Duration::from_millis(20));
        if last.elapsed() >= Duration::from_secs(1) {
            last = std::time::Instant::now();
            progress_line(began.elapsed(), &progress);
        }
    }
    runtime.finish();
    at_end(&runtime);
    let tallies = results
        .lock()
        .map_err(|_| LoadError::WorkerPanicked)?
        .clone();
    if tallies.len() < workers {
        return Err(LoadError::WorkerEnded);
    }
    let mut tally = Tally::new();
    let mut held = HeldTally::default();
    for (t, h) in &tallies {
        tally.merge(t);
        held.merge(h);
    }
    Ok(Report {
        stack,
        spec: spec.clone(),
        tally,
        held: (spec.hold > 0).then_some(held),
    })
}
