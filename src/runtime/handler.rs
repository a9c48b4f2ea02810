//! The application's side of a worker: the callbacks a worker makes.

use super::Context;
use crate::stack::{ConnId, StackEvent};

/// The application's side of a worker. One instance per worker, called only on its thread.
pub trait Handler: Send + 'static {
    /// Work other threads hand in through a [`Sender`].
    type Message: Send + 'static;

    /// Called once when the worker starts (open connections here).
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Something happened on `conn`.
    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent);

    /// A message from another thread.
    fn on_message(&mut self, ctx: &mut Context<'_>, message: Self::Message) {
        let _ = (ctx, message);
    }

    /// Called once per loop turn, after events. A handler with work at a given time (a
    /// scheduled send) asks to be woken for it with [`Context::wake_at`].
    fn on_tick(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Called once when the worker stops.
    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }
}
