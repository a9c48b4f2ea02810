//! The sweep that takes payload buffers back from idle connections.
//!
//! A connection keeps its rings while it is busy (see `tcp::Connection::release_idle_buffers`);
//! the stack watches each connection seen holding an empty ring and, every
//! [`BUFFER_SWEEP`], gives back the rings of those not drained since the sweep before. An
//! idle connection so holds no payload buffer within two periods of its last use, and a
//! busy one never hands its storage back and forth with the pool.

use std::time::Duration;

use super::{ConnId, Stack};
use crate::time::Instant;

/// Period of the sweep.
pub(super) const BUFFER_SWEEP: Duration = Duration::from_millis(200);

/// Connections that may hold an idle ring, and when to look at them.
#[derive(Debug, Default)]
pub(super) struct IdleBuffers {
    watched: Vec<ConnId>,
    /// The next sweep, while anything is watched.
    sweep_at: Option<Instant>,
    /// The latest time the stack was given (a frame's arrival or a timer run): a watch
    /// begun without a time of its own counts from it. Late is harmless: an early sweep
    /// spares what drained since.
    clock: Instant,
}

impl IdleBuffers {
    #[inline]
    pub fn tick(&mut self, now: Instant) {
        self.clock = now;
    }

    pub fn sweep_at(&self) -> Option<Instant> {
        self.sweep_at
    }

    /// Watches `id` (seen holding an empty ring) until a sweep finds it idle.
    pub fn watch(&mut self, id: ConnId) {
        self.watched.push(id);
        if self.sweep_at.is_none() {
            self.sweep_at = Some(self.clock + BUFFER_SWEEP);
        }
    }
}

impl Stack {
    /// Runs the sweep if it is due at `now`.
    pub(super) fn sweep_idle_buffers(&mut self, now: Instant) {
        if self.idle_buffers.sweep_at.is_none_or(|at| at > now) {
            return;
        }
        let mut watched = std::mem::take(&mut self.idle_buffers.watched);
        watched.retain(|&id| {
            let Some(slot) = self.conns.get_mut(id) else {
                return false; // freed since
            };
            slot.buffers_watched = slot.conn.release_idle_buffers();
            slot.buffers_watched
        });
        self.idle_buffers.sweep_at = (!watched.is_empty()).then(|| now + BUFFER_SWEEP);
        self.idle_buffers.watched = watched;
    }
}
