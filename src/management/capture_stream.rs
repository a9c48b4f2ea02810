//! What follows the `capturing` answer on a capture's connection: binary messages, each a
//! tag byte and a fixed header, until the server's summary.
//!
//! - `F`: a frame: direction (0 received, 1 sent), queue (u32), time (u64 nanoseconds since
//!   the Unix epoch), length (u32), then the frame's bytes;
//! - `T`: a tick when no frame came for a while, with the frames dropped so far (u64), so
//!   the client sees its deadline and its Ctrl-C even on a quiet link;
//! - `E`: the end, then one JSON line: the [`CaptureSummary`].
//!
//! Integers are big-endian. The client ends a capture by shutting down its side of the
//! connection; the server then sends what it still holds and the summary.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use super::protocol;
use crate::runtime::{CapturedFrame, Direction};

/// The longest frame a message may carry (a UMEM frame is at most a page; this leaves
/// room for any frame size the AF_XDP layer accepts).
pub const MAX_FRAME: usize = 64 << 10;

const FRAME: u8 = b'F';
const TICK: u8 = b'T';
const END: u8 = b'E';

/// What a capture sent in all, told at its end.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureSummary {
    /// Frames sent to the client.
    pub frames: u64,
    /// Frames the workers could not copy because the capture's rings were full.
    pub dropped: u64,
}

/// One message of a capture's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamMessage {
    Frame(CapturedFrame),
    Tick { dropped: u64 },
    End(CaptureSummary),
}

pub fn write_frame(writer: &mut impl Write, frame: &CapturedFrame) -> io::Result<()> {
    let direction = match frame.direction {
        Direction::Received => 0u8,
        Direction::Sent => 1,
    };
    let len = u32::try_from(frame.data.len()).map_err(io::Error::other)?;
    let mut header = [0u8; 18];
    header[0] = FRAME;
    header[1] = direction;
    header[2..6].copy_from_slice(&frame.queue.to_be_bytes());
    header[6..14].copy_from_slice(&frame.unix_nanos.to_be_bytes());
    header[14..18].copy_from_slice(&len.to_be_bytes());
    writer.write_all(&header)?;
    writer.write_all(&frame.data)
}

pub fn write_tick(writer: &mut impl Write, dropped: u64) -> io::Result<()> {
    let mut message = [0u8; 9];
    message[0] = TICK;
    message[1..].copy_from_slice(&dropped.to_be_bytes());
    writer.write_all(&message)
}

pub fn write_end(writer: &mut impl Write, summary: &CaptureSummary) -> io::Result<()> {
    writer.write_all(&[END])?;
    protocol::write_line(writer, summary)
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Reads the next message.
pub fn read_message(reader: &mut impl BufRead) -> io::Result<StreamMessage> {
    let mut tag = [0u8; 1];
    reader.read_exact(&mut tag)?;
    match tag[0] {
        FRAME => {
            let mut header = [0u8; 17];
            reader.read_exact(&mut header)?;
            let direction = match header[0] {
                0 => Direction::Received,
                1 => Direction::Sent,
                other => return Err(invalid(format!("a frame of direction {other}"))),
            };
            let queue = u32::from_be_bytes(header[1..5].try_into().expect("4 bytes"));
            let unix_nanos = u64::from_be_bytes(header[5..13].try_into().expect("8 bytes"));
            let len = u32::from_be_bytes(header[13..17].try_into().expect("4 bytes")) as usize;
            if len > MAX_FRAME {
                return Err(invalid(format!("a frame of {len} bytes")));
            }
            let mut data = vec![0u8; len];
            reader.read_exact(&mut data)?;
            Ok(StreamMessage::Frame(CapturedFrame {
                direction,
                queue,
                unix_nanos,
                data,
            }))
        }
        TICK => {
            let mut dropped = [0u8; 8];
            reader.read_exact(&mut dropped)?;
            Ok(StreamMessage::Tick {
                dropped: u64::from_be_bytes(dropped),
            })
        }
        END => Ok(StreamMessage::End(protocol::read_line(
            reader,
            protocol::MAX_REQUEST_LINE,
        )?)),
        other => Err(invalid(format!("a message tagged {other:#04x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_ticks_and_the_end_come_back_as_sent() {
        let frame = CapturedFrame {
            direction: Direction::Sent,
            queue: 3,
            unix_nanos: 1_700_000_000_123_456_789,
            data: vec![1, 2, 3, 4, 5],
        };
        let summary = CaptureSummary {
            frames: 1,
            dropped: 7,
        };
        let mut wire = Vec::new();
        write_frame(&mut wire, &frame).unwrap();
        write_tick(&mut wire, 7).unwrap();
        write_end(&mut wire, &summary).unwrap();
        let mut reader = wire.as_slice();
        assert_eq!(
            read_message(&mut reader).unwrap(),
            StreamMessage::Frame(frame)
        );
        assert_eq!(
            read_message(&mut reader).unwrap(),
            StreamMessage::Tick { dropped: 7 }
        );
        assert_eq!(
            read_message(&mut reader).unwrap(),
            StreamMessage::End(summary)
        );
        assert!(reader.is_empty());
    }

    #[test]
    fn a_bad_tag_or_length_is_refused() {
        let err = read_message(&mut [b'X'].as_slice()).unwrap_err();
        assert!(err.to_string().contains("tagged 0x58"), "{err}");
        let mut huge = vec![FRAME, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        huge.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
        let err = read_message(&mut huge.as_slice()).unwrap_err();
        assert!(err.to_string().contains("a frame of 65537 bytes"), "{err}");
    }
}
