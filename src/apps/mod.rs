//! Server applications built on the runtime's [`Handler`] API: what `xdptcp serve` runs.
//!
//! - [`Echo`]: sends back every byte (RFC 862) and closes its side once the peer has closed
//!   and everything is echoed.
//! - [`Discard`]: reads and drops (RFC 863).
//! - [`Http`]: answers HTTP/1.1 GET and HEAD with a fixed body, keep-alive and pipelining.
//! - [`Sockperf`]: the sockperf TCP ping-pong server protocol.
//!
//! None reads more than it can answer, so a peer that does not read its replies fills our
//! receive window and is slowed down by TCP itself (backpressure, no unbounded queues).
//! HTTP and sockperf are [`RequestProtocol`]s run by the generic [`RequestServer`];
//! [`ByPort`] runs several of them on one worker, each on its own ports.

mod by_port;
mod http;
pub mod request;
mod sockperf;

pub use by_port::{BoxedApp, ByPort};
pub use http::{Http, HttpProtocol};
pub use request::{Reply, RequestProtocol, RequestServer};
pub use sockperf::{Sockperf, SockperfProtocol};

use crate::runtime::{Context, Handler};
use crate::stack::{ConnId, StackError, StackEvent};
use crate::tcp;

/// Copies as much as the send buffer takes from the receive buffer; true if anything moved.
fn echo_what_fits(ctx: &mut Context<'_>, conn: ConnId, scratch: &mut [u8]) -> bool {
    let mut moved = false;
    loop {
        let room = ctx.send_capacity(conn).min(scratch.len());
        if room == 0 {
            return moved;
        }
        match ctx.read(conn, &mut scratch[..room]) {
            Ok(0) | Err(_) => return moved,
            Ok(n) => {
                // Fits: at most `room` bytes were read.
                let _ = ctx.write(conn, &scratch[..n]);
                moved = true;
            }
        }
    }
}

/// Half-closes once the peer has closed and nothing it sent is left unread.
fn finish_if_peer_done(ctx: &mut Context<'_>, conn: ConnId) {
    if ctx.end_of_stream(conn) {
        match ctx.shutdown_write(conn) {
            Ok(()) | Err(StackError::Tcp(tcp::Error::WriteClosed)) => {}
            Err(_) => {}
        }
    }
}

/// RFC 862 echo as a [`RequestProtocol`] (for servers on Linux sockets; on xdptcp,
/// [`Echo`] moves bytes without the intermediate buffers).
#[derive(Debug, Default)]
pub struct EchoProtocol;

impl RequestProtocol for EchoProtocol {
    type Conn = ();
    fn respond(&mut self, _: &mut (), input: &mut Vec<u8>, output: &mut Vec<u8>) -> Reply {
        output.append(input);
        Reply::Continue
    }
}

/// RFC 863 discard as a [`RequestProtocol`].
#[derive(Debug, Default)]
pub struct DiscardProtocol;

impl RequestProtocol for DiscardProtocol {
    type Conn = ();
    fn respond(&mut self, _: &mut (), input: &mut Vec<u8>, _: &mut Vec<u8>) -> Reply {
        input.clear();
        Reply::Continue
    }
}

/// RFC 862 echo.
#[derive(Debug)]
pub struct Echo {
    scratch: Vec<u8>,
}

impl Default for Echo {
    fn default() -> Echo {
        Echo {
            scratch: vec![0; 64 * 1024],
        }
    }
}

impl Handler for Echo {
    type Message = ();

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        match event {
            StackEvent::Readable | StackEvent::Writable | StackEvent::ReadClosed => {
                echo_what_fits(ctx, conn, &mut self.scratch);
                finish_if_peer_done(ctx, conn);
            }
            StackEvent::Closed { .. } => ctx.release(conn),
            StackEvent::Accepted { .. } | StackEvent::Connected => {}
        }
    }
}

/// RFC 863 discard.
#[derive(Debug)]
pub struct Discard {
    scratch: Vec<u8>,
}

impl Default for Discard {
    fn default() -> Discard {
        Discard {
            scratch: vec![0; 64 * 1024],
        }
    }
}

impl Handler for Discard {
    type Message = ();

    fn on_event(&mut self, ctx: &mut Context<'_>, conn: ConnId, event: StackEvent) {
        match event {
            StackEvent::Readable | StackEvent::ReadClosed => {
                while let Ok(n) = ctx.read(conn, &mut self.scratch) {
                    if n == 0 {
                        break;
                    }
                }
                finish_if_peer_done(ctx, conn);
            }
            StackEvent::Closed { .. } => ctx.release(conn),
            _ => {}
        }
    }
}
