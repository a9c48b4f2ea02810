//! What the stack tells the application: events per connection, and data to read in place.

use super::{ConnId, Stack};
use crate::tcp;

/// What happened on a connection, for the application.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StackEvent {
    /// A passive connection completed its handshake on `listen_port`.
    Accepted {
        listen_port: u16,
    },
    /// An active open completed.
    Connected,
    Readable,
    Writable,
    /// The peer sent FIN; reads end once its data is read.
    ReadClosed,
    /// The connection reached CLOSED; `error` says why if it failed.
    Closed {
        error: Option<tcp::ConnectionError>,
    },
}

/// New in-order bytes of a received frame that no buffer holds yet: `frame[range]` is for
/// `conn`'s application to read in place, after which [`Stack::finish_direct`] buffers what
/// it left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectData {
    pub conn: ConnId,
    pub range: std::ops::Range<usize>,
}

impl Stack {
    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<(ConnId, StackEvent)> {
        while let Some(&id) = self.event_queue.front() {
            let Some(slot) = self.conns.get_mut(id) else {
                self.event_queue.pop_front();
                continue;
            };
            let Some(event) = slot.conn.poll_event() else {
                slot.in_event_queue = false;
                self.event_queue.pop_front();
                self.maybe_free(id);
                continue;
            };
            let mapped = match event {
                tcp::Event::Connected => {
                    if let Some(port) = slot.listen_port {
                        slot.visible = true;
                        StackEvent::Accepted { listen_port: port }
                    } else {
                        StackEvent::Connected
                    }
                }
                tcp::Event::Readable => StackEvent::Readable,
                tcp::Event::Writable => StackEvent::Writable,
                tcp::Event::ReadClosed => StackEvent::ReadClosed,
                tcp::Event::Closed => StackEvent::Closed {
                    error: slot.conn.error(),
                },
            };
            if !slot.visible || slot.released {
                // Events of connections the application does not hold are consumed here.
                continue;
            }
            if let StackEvent::Accepted { .. } = mapped {
                // Handing out `Accepted` is this API's accept(): taken off the queue.
                self.leave_accept_queue(id);
            }
            return Some((id, mapped));
        }
        None
    }
}
