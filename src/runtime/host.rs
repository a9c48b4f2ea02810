//! Running a [`Handler`] against a [`Stack`]: the event delivery shared by the AF_XDP worker
//! and by tests that drive stacks in the simulator.
//!
//! A handler that panics loses only the connection it was handling (which is reset, with a
//! log line naming the peer); a panic in `on_start` or `on_message` stops the runtime with a
//! message. Nothing hangs silently.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{Context, Handler};
use crate::stack::{ConnId, Stack, StackEvent};
use crate::time::Instant;

/// One handler and what it needs to run on one stack.
pub struct HandlerHost<H: Handler> {
    handler: H,
    worker: usize,
    stop: Arc<AtomicBool>,
    panics: u64,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

impl<H: Handler> HandlerHost<H> {
    /// Hosts `handler` as worker `worker`; `stop` is the runtime's stop flag.
    pub fn new(handler: H, worker: usize, stop: Arc<AtomicBool>) -> HandlerHost<H> {
        HandlerHost {
            handler,
            worker,
            stop,
            panics: 0,
        }
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Handler panics so far (each cost one connection).
    pub fn panics(&self) -> u64 {
        self.panics
    }

    /// True once the handler (or anyone) asked the runtime to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn fatal(&self, place: &str, payload: &(dyn std::any::Any + Send)) {
        log::error!(
            "worker {}: handler panicked in {place}: {}; stopping",
            self.worker,
            panic_message(payload)
        );
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Runs `on_start`.
    pub fn start(&mut self, stack: &mut Stack, now: Instant) {
        let mut ctx = Context::new(stack, now, self.worker, &self.stop);
        let handler = &mut self.handler;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler.on_start(&mut ctx))) {
            self.fatal("on_start", p.as_ref());
        }
    }

    /// Delivers a message from another thread.
    pub fn message(&mut self, stack: &mut Stack, now: Instant, message: H::Message) {
        let mut ctx = Context::new(stack, now, self.worker, &self.stop);
        let handler = &mut self.handler;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler.on_message(&mut ctx, message))) {
            self.fatal("on_message", p.as_ref());
        }
    }

    /// Gives a received frame to the stack. New in-order data for a connection the handler
    /// holds is shown to it in place, in the frame (zero copy), as a `Readable` event; what it
    /// does not read is buffered.
    pub fn receive(&mut self, stack: &mut Stack, now: Instant, frame: &[u8]) {
        let Some(direct) = stack.receive_direct(now, frame) else {
            return;
        };
        let data = &frame[direct.range.clone()];
        let conn = direct.conn;
        let mut ctx = Context::new(stack, now, self.worker, &self.stop).with_direct(conn, data);
        let handler = &mut self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| {
            handler.on_event(&mut ctx, conn, StackEvent::Readable);
        }));
        let consumed = ctx.direct_consumed();
        stack.finish_direct(conn, &data[consumed..]);
        if let Err(p) = result {
            self.kill(stack, now, conn, p.as_ref());
        }
    }

    /// Runs `on_tick`; returns when the handler wants to run next, if it said.
    pub fn tick(&mut self, stack: &mut Stack, now: Instant) -> Option<Instant> {
        let mut ctx = Context::new(stack, now, self.worker, &self.stop);
        let handler = &mut self.handler;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler.on_tick(&mut ctx))) {
            self.fatal("on_tick", p.as_ref());
            return None;
        }
        ctx.wake_at
    }

    /// Runs `on_stop`.
    pub fn stop(&mut self, stack: &mut Stack, now: Instant) {
        let mut ctx = Context::new(stack, now, self.worker, &self.stop);
        let handler = &mut self.handler;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| handler.on_stop(&mut ctx))) {
            log::error!(
                "worker {}: handler panicked in on_stop: {}",
                self.worker,
                panic_message(p.as_ref())
            );
        }
    }

    /// Delivers every pending event; returns how many.
    pub fn dispatch(&mut self, stack: &mut Stack, now: Instant) -> usize {
        let mut n = 0;
        while let Some((conn, event)) = stack.poll_event() {
            n += 1;
            let mut ctx = Context::new(stack, now, self.worker, &self.stop);
            let handler = &mut self.handler;
            if let Err(p) =
                catch_unwind(AssertUnwindSafe(|| handler.on_event(&mut ctx, conn, event)))
            {
                self.kill(stack, now, conn, p.as_ref());
            }
        }
        n
    }

    fn kill(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        conn: ConnId,
        payload: &(dyn std::any::Any + Send),
    ) {
        self.panics += 1;
        let peer = stack
            .flow_key(conn)
            .map(|k| k.remote().to_string())
            .unwrap_or_default();
        log::error!(
            "worker {}: handler panicked on the connection from {peer}: {}; connection reset",
            self.worker,
            panic_message(payload)
        );
        // Events the released connection still has are consumed by the stack.
        let _ = stack.abort(conn);
        stack.release(conn, now);
    }
}
