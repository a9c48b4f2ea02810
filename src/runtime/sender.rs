//! Handing work to a worker from another thread.

use std::sync::Arc;

use crate::xdp;

/// Work for one worker, from any thread. Cloning is cheap.
pub struct Sender<M> {
    pub(super) channel: crossbeam::channel::Sender<M>,
    pub(super) waker: Arc<xdp::wait::Waker>,
}

impl<M> Clone for Sender<M> {
    fn clone(&self) -> Sender<M> {
        Sender {
            channel: self.channel.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<M> Sender<M> {
    /// Queues `message` for the worker's [`Handler::on_message`]; blocks while the queue is
    /// full (backpressure). Fails only when the worker has stopped.
    pub fn send(&self, message: M) -> Result<(), M> {
        let result = self.channel.send(message).map_err(|e| e.into_inner());
        self.waker.wake();
        result
    }

    /// Like [`Sender::send`] but fails instead of blocking when the queue is full.
    pub fn try_send(&self, message: M) -> Result<(), M> {
        let result = self.channel.try_send(message).map_err(|e| e.into_inner());
        self.waker.wake();
        result
    }
}
