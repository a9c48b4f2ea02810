//! What the application should look at: events, each reported once until it recurs.

/// What the application should look at. Each kind is reported once until it happens again.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The handshake completed.
    Connected,
    /// Received data can be read.
    Readable,
    /// Send buffer space was freed after a send was refused, cut short, or filled the buffer.
    Writable,
    /// The peer finished sending; reads return end of stream once the data is read.
    ReadClosed,
    /// The connection reached CLOSED; [`super::Connection::error`] says whether it failed.
    Closed,
}

impl Event {
    const ORDER: [Event; 5] = [
        Event::Connected,
        Event::Readable,
        Event::Writable,
        Event::ReadClosed,
        Event::Closed,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The events raised and not yet polled, one bit each.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct EventSet(u8);

impl EventSet {
    pub fn raise(&mut self, event: Event) {
        self.0 |= event.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Takes the first raised event in [`Event::ORDER`].
    pub fn take_next(&mut self) -> Option<Event> {
        let event = Event::ORDER
            .into_iter()
            .find(|event| self.0 & event.bit() != 0)?;
        self.0 &= !event.bit();
        Some(event)
    }
}
