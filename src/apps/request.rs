//! The shared shape of request/response servers (HTTP, sockperf): bytes in, replies out,
//! with buffering, backpressure and closing handled once.

use slotmap::SecondaryMap;

use crate::runtime::{Context, Handler};
use crate::stack::{ConnId, StackEvent};

/// What the protocol wants after looking at the input.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Keep the connection open.
    Continue,
    /// Close our side once the replies are sent.
    CloseAfterOutput,
    /// The input is malformed: reset the connection.
    Reset,
}

/// A protocol in which the server answers what the client sends.
pub trait RequestProtocol: Send + 'static {
    /// Per-connection protocol state.
    type Conn: Default + Send;

    /// Consumes the complete requests at the front of `input` (leaving a partial one) and
    /// appends their replies to `output`.
    fn respond(
        &mut self,
        conn: &mut Self::Conn,
        input: &mut Vec<u8>,
        output: &mut Vec<u8>,
    ) -> Reply;
}

#[derive(Default)]
struct Buffers<C> {
    state: C,
    input: Vec<u8>,
    output: Vec<u8>,
    close_after: bool,
}

/// Runs a [`RequestProtocol`] on every accepted connection. Input is read only while the
/// replies drain, so a client that does not read its replies is held back by TCP's window
/// rather than by our memory.
pub struct RequestServer<P: RequestProtocol> {
    protocol: P,
    conns: SecondaryMap<ConnId, Buffers<P::Conn>>,
    scratch: Vec<u8>,
}

impl<P: RequestProtocol> RequestServer<P> {
    pub fn new(protocol: P) -> RequestServer<P> {
        RequestServer {
            protocol,
            conns: SecondaryMap::new(),
            scratch: vec![0; 64 * 1024],
        }
    }

    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The protocol alone (to run it elsewhere, e.g. over Linux sockets).
    pub fn into_protocol(self) -> P {
        self.protocol
    }

    fn pump(&mut self, ctx: &mut Context<'_>, conn: ConnId) {
        let Some(mut b) = self.conns.remove(conn) else {
            return;
        };
        loop {
            if !b.output.is_empty() {
                match ctx.write(conn, &b.output) {
                    Ok(n) => {
                        b.output.drain(..n);
                    }
                    Err(_) => break,
                }
                if !b.output.is_empty() {
                    break; // Writable comes when the send buffer drains
                }
            }
            if b.close_after {
                // Our side is done: close it and give the connection back, as a server
                // calls close(2). The stack still delivers what is queued, answers the
                // peer's FIN and keeps TIME-WAIT on its own, so a new SYN reusing the
                // 4-tuple frees it at once (RFC 6191) instead of leaving it allocated
                // until 2·MSL has passed.
                let _ = ctx.shutdown_write(conn);
                ctx.release(conn);
                return;
            }
            let reply = match ctx.read(conn, &mut self.scratch) {
                Ok(0) => {
                    // The peer closed: answer what is complete, then close our side.
                    let r = self
                        .protocol
                        .respond(&mut b.state, &mut b.input, &mut b.output);
                    b.close_after = true;
                    r
                }
                Ok(n) => {
                    b.input.extend_from_slice(&self.scratch[..n]);
                    self.protocol
                        .respond(&mut b.state, &mut b.input, &mut b.output)
                }
                Err(_) => break,
            };
            match reply {
                Reply::Continue => {}
                Reply::CloseAfterOutput => b.close_after = true,
                Reply::Reset => {
                    ctx.abort(conn);
                    return;
                }
            }
        }
        self.conns.insert(conn, b);
    }
}

impl<P: RequestProtocol> Handler for RequestServer<P> {
    type Message = ();

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        match event {
            StackEvent::Accepted { .. } => {
                self.conns.insert(conn, Buffers::default());
            }
            StackEvent::Readable | StackEvent::Writable | StackEvent::ReadClosed => {
                self.pump(ctx, conn)
            }
            StackEvent::Closed { .. } => {
                self.conns.remove(conn);
                ctx.release(conn);
            }
            StackEvent::Connected => {}
        }
    }
}
