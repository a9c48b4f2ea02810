//! The application's calls that move data (RFC 9293 §3.10.2 SEND, §3.10.3 RECEIVE), and
//! the events it polls.

use super::{Connection, Event, State};
use crate::tcp::Error;
use crate::time::Instant;

impl Connection {
    /// Queues data (RFC 9293 §3.10.2 SEND). Returns how many bytes were taken; when the send
    /// buffer is full, `Err(WouldBlock)` and a later [`Event::Writable`].
    pub fn send(&mut self, data: &[u8], now: Instant) -> Result<usize, Error> {
        match self.state {
            State::Closed => return Err(self.closed_error()),
            State::Listen => {
                if !self.remote_specified {
                    return Err(Error::InvalidState(State::Listen));
                }
                // LISTEN → SYN-SENT: "change the connection from passive to active" (§3.10.2).
                self.start_active_open(now);
            }
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => return Err(Error::WriteClosed),
        }
        if self.snd.fin != super::send::FinState::Open {
            return Err(Error::WriteClosed);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let n = self.snd.buf.push(data);
        // A refused or cut-short send, or one that leaves no room, means the writer now
        // waits for space: Writable follows when acknowledgments free some.
        if n < data.len() || self.snd.buf.free() == 0 {
            self.app.writer_blocked = true;
        }
        if n == 0 {
            return Err(Error::WouldBlock);
        }
        Ok(n)
    }

    /// Copies received bytes into `buf` (RFC 9293 §3.10.3 RECEIVE). `Ok(0)` means end of
    /// stream: the peer's FIN arrived and every byte before it was read.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.rcv.buf.is_empty() {
            return self.recv_empty_result();
        }
        let n = self.rcv.buf.read_at(0, buf);
        self.rcv.buf.consume(n);
        self.after_read();
        Ok(n)
    }

    /// Zero-copy read: hands `reader` the next contiguous received bytes in place and
    /// consumes as many as it returns.
    pub fn recv_with<F: FnOnce(&[u8]) -> usize>(&mut self, reader: F) -> Result<usize, Error> {
        if self.rcv.buf.is_empty() {
            return self.recv_empty_result();
        }
        let (first, _) = self.rcv.buf.slices_from(0);
        let n = reader(first).min(first.len());
        self.rcv.buf.consume(n);
        self.after_read();
        Ok(n)
    }

    fn recv_empty_result(&self) -> Result<usize, Error> {
        if self.rcv.fin_received {
            return Ok(0);
        }
        match self.state {
            State::Closed => Err(self.closed_error()),
            State::Listen => Err(Error::InvalidState(State::Listen)),
            _ => Err(Error::WouldBlock),
        }
    }

    /// The next event for the application, each kind at most once until it recurs.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.app.events.take_next()
    }

    /// True if events are waiting for [`Connection::poll_event`].
    pub fn has_events(&self) -> bool {
        !self.app.events.is_empty()
    }
}
