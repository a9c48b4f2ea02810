//! What a handler can do on its worker: read (in place when it can), write, close, connect,
//! ask to be woken.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::stack::{ConnId, Stack, StackError};
use crate::tcp;
use crate::time::Instant;

/// Received bytes shown to the handler in place, in the frame they arrived in.
struct DirectRead<'a> {
    conn: ConnId,
    data: &'a [u8],
    consumed: usize,
}

/// What a handler can do on its worker, between receiving and sending frames.
pub struct Context<'a> {
    stack: &'a mut Stack,
    now: Instant,
    worker: usize,
    stop: &'a AtomicBool,
    direct: Option<DirectRead<'a>>,
    pub(super) wake_at: Option<Instant>,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        stack: &'a mut Stack,
        now: Instant,
        worker: usize,
        stop: &'a AtomicBool,
    ) -> Context<'a> {
        Context {
            stack,
            now,
            worker,
            stop,
            direct: None,
            wake_at: None,
        }
    }

    /// Makes sure the worker runs (and calls [`Handler::on_tick`]) no later than `at`, even
    /// if it would otherwise sleep.
    pub fn wake_at(&mut self, at: Instant) {
        self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
    }

    /// Reads on `conn` are served from `data` (a received frame) before the receive buffer.
    pub(super) fn with_direct(mut self, conn: ConnId, data: &'a [u8]) -> Context<'a> {
        self.direct = Some(DirectRead {
            conn,
            data,
            consumed: 0,
        });
        self
    }

    /// How much of the in-place data the handler read.
    pub(super) fn direct_consumed(&self) -> usize {
        self.direct.as_ref().map_or(0, |d| d.consumed)
    }

    /// The unread in-place data for `conn`, if any.
    fn direct_for(&mut self, conn: ConnId) -> Option<&mut DirectRead<'a>> {
        self.direct
            .as_mut()
            .filter(|d| d.conn == conn && d.consumed < d.data.len())
    }

    /// The time of this loop turn.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Index of this worker.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Opens a connection; [`StackEvent::Connected`] follows (or `Closed` with the error).
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<ConnId, StackError> {
        self.stack.connect(self.now, remote)
    }

    /// Reads received bytes into `buf`. `Ok(0)` is end of stream (the peer closed and every
    /// byte was read); `Err(WouldBlock)` means nothing yet.
    pub fn read(&mut self, conn: ConnId, buf: &mut [u8]) -> Result<usize, StackError> {
        if let Some(d) = self.direct_for(conn) {
            let n = buf.len().min(d.data.len() - d.consumed);
            buf[..n].copy_from_slice(&d.data[d.consumed..d.consumed + n]);
            d.consumed += n;
            return Ok(n);
        }
        self.stack.recv(conn, buf)
    }

    /// Zero-copy read: `reader` sees received bytes in place — in the frame they arrived in
    /// when the data is new, else in the receive buffer — and returns how many it took.
    pub fn read_with<F: FnOnce(&[u8]) -> usize>(
        &mut self,
        conn: ConnId,
        reader: F,
    ) -> Result<usize, StackError> {
        if let Some(d) = self.direct_for(conn) {
            let rest = &d.data[d.consumed..];
            let n = reader(rest).min(rest.len());
            d.consumed += n;
            return Ok(n);
        }
        Ok(self.stack.connection(conn)?.recv_with(reader)?)
    }

    /// Queues bytes to send; returns how many fit. A full send buffer gives
    /// `Err(WouldBlock)`, and [`StackEvent::Writable`] follows when space frees up.
    pub fn write(&mut self, conn: ConnId, data: &[u8]) -> Result<usize, StackError> {
        self.stack.send(conn, data, self.now)
    }

    /// Bytes [`Context::write`] can take now.
    pub fn send_capacity(&mut self, conn: ConnId) -> usize {
        self.stack
            .connection(conn)
            .map(|c| c.send_capacity())
            .unwrap_or(0)
    }

    /// Bytes [`Context::read`] can return now.
    pub fn recv_available(&mut self, conn: ConnId) -> usize {
        let direct = self
            .direct_for(conn)
            .map_or(0, |d| d.data.len() - d.consumed);
        let buffered = self
            .stack
            .connection(conn)
            .map(|c| c.recv_available())
            .unwrap_or(0);
        direct + buffered
    }

    /// True once the peer has closed its side and every byte it sent was read — what
    /// [`Context::read`] reports as `Ok(0)`. Unlike the connection's own
    /// [`tcp::Connection::peer_closed`] and [`tcp::Connection::recv_available`], it counts
    /// bytes being read in place from the frame they arrived in, which a FIN can accompany.
    pub fn end_of_stream(&mut self, conn: ConnId) -> bool {
        self.recv_available(conn) == 0 && self.stack.connection(conn).is_ok_and(|c| c.peer_closed())
    }

    /// Half-close: no more data from us; reading continues (RFC 9293 CLOSE).
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), StackError> {
        self.stack.shutdown_write(conn)
    }

    /// Resets the connection and drops its data.
    pub fn abort(&mut self, conn: ConnId) {
        let _ = self.stack.abort(conn);
    }

    /// Gives the connection back: no more events for it. The stack closes it gracefully
    /// (with a reset if received data was left unread) and frees it when done.
    pub fn release(&mut self, conn: ConnId) {
        self.stack.release(conn, self.now);
    }

    /// The peer's address.
    pub fn peer(&self, conn: ConnId) -> Option<SocketAddrV4> {
        self.stack.flow_key(conn).map(|k| k.remote())
    }

    /// Direct access to the connection (state, windows, counters). While a handler reads in
    /// place, the connection's receive-buffer figures leave out the in-place bytes: use
    /// [`Context::recv_available`] and [`Context::end_of_stream`] for what is left to read.
    pub fn connection(&mut self, conn: ConnId) -> Result<&mut tcp::Connection, StackError> {
        self.stack.connection(conn)
    }

    /// Asks the whole runtime to stop.
    pub fn stop_runtime(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
