//! The sockperf TCP server protocol, so the unmodified `sockperf ping-pong --tcp` client works.
//!
//! Each message starts with a 14-byte big-endian header: u64 sequence number, u16 flags
//! (bit 0: from the client, bit 1: pong requested, bit 2: warm-up) and u32 total length,
//! header included. Messages may span segments or share one. A message without the client
//! bit, or a warm-up message, is consumed silently; any other whose pong bit is set goes back
//! whole with the client bit cleared.

use super::request::{Reply, RequestProtocol, RequestServer};

pub const HEADER_LEN: usize = 14;
const FLAG_CLIENT: u16 = 1;
const FLAG_PONG_REQUEST: u16 = 2;
const FLAG_WARMUP: u16 = 4;
/// Longest message accepted; sockperf's own limit is 64 KiB. Longer resets the connection.
pub const MAX_MESSAGE: usize = 1 << 20;

/// The sockperf protocol; counts the replies it makes.
#[derive(Debug, Default)]
pub struct SockperfProtocol {
    pub replies: u64,
}

/// The sockperf server handler.
pub type Sockperf = RequestServer<SockperfProtocol>;

impl Sockperf {
    pub fn sockperf() -> Sockperf {
        RequestServer::new(SockperfProtocol::default())
    }
}

/// True for a client's ping that asks for a pong and is not warm-up.
fn wants_reply(message: &[u8]) -> bool {
    let flags = u16::from_be_bytes([message[8], message[9]]);
    flags & FLAG_CLIENT != 0 && flags & FLAG_WARMUP == 0 && flags & FLAG_PONG_REQUEST != 0
}

/// The declared length of the message starting `buf`, if its header is complete.
fn message_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    Some(u32::from_be_bytes([buf[10], buf[11], buf[12], buf[13]]) as usize)
}

impl RequestProtocol for SockperfProtocol {
    type Conn = ();

    fn respond(&mut self, _conn: &mut (), input: &mut Vec<u8>, output: &mut Vec<u8>) -> Reply {
        let mut start = 0;
        while let Some(len) = message_len(&input[start..]) {
            if !(HEADER_LEN..=MAX_MESSAGE).contains(&len) {
                log::warn!("sockperf: message length {len} out of range; resetting the connection");
                return Reply::Reset;
            }
            if input.len() - start < len {
                break;
            }
            let message = &input[start..start + len];
            if wants_reply(message) {
                let at = output.len();
                output.extend_from_slice(message);
                let flags = u16::from_be_bytes([message[8], message[9]]) & !FLAG_CLIENT;
                output[at + 8..at + 10].copy_from_slice(&flags.to_be_bytes());
                self.replies += 1;
            }
            start += len;
        }
        input.drain(..start);
        Reply::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, flags: u16, len: usize) -> Vec<u8> {
        let mut m = vec![0xabu8; len];
        m[..8].copy_from_slice(&seq.to_be_bytes());
        m[8..10].copy_from_slice(&flags.to_be_bytes());
        m[10..14].copy_from_slice(&(len as u32).to_be_bytes());
        m
    }

    #[test]
    fn replies_to_pings_across_and_within_segments() {
        let mut s = SockperfProtocol::default();
        let mut input = Vec::new();
        let mut output = Vec::new();
        let mut stream = message(1, FLAG_CLIENT | FLAG_PONG_REQUEST, 64);
        stream.extend(message(
            2,
            FLAG_CLIENT | FLAG_PONG_REQUEST | FLAG_WARMUP,
            64,
        ));
        stream.extend(message(3, FLAG_CLIENT, 20)); // no pong requested
        stream.extend(message(4, FLAG_PONG_REQUEST, 20)); // not from a client
        stream.extend(message(5, FLAG_CLIENT | FLAG_PONG_REQUEST, 100));
        for chunk in stream.chunks(7) {
            input.extend_from_slice(chunk);
            assert_eq!(s.respond(&mut (), &mut input, &mut output), Reply::Continue);
        }
        assert!(input.is_empty());
        assert_eq!(s.replies, 2);
        let mut expect = message(1, FLAG_PONG_REQUEST, 64);
        expect.extend(message(5, FLAG_PONG_REQUEST, 100));
        assert_eq!(output, expect);
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut s = SockperfProtocol::default();
        let mut out = Vec::new();
        let mut input = message(1, FLAG_CLIENT, 14);
        input[10..14].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(s.respond(&mut (), &mut input, &mut out), Reply::Reset);
        input[10..14].copy_from_slice(&(MAX_MESSAGE as u32 + 1).to_be_bytes());
        assert_eq!(s.respond(&mut (), &mut input, &mut out), Reply::Reset);
    }
}
