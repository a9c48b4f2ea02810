//! An NFQUEUE listener over netlink, without `unsafe` (rustix's safe socket calls).
//!
//! A netfilter rule with the target `NFQUEUE --queue-num N` hands each packet it matches to
//! the process bound to queue N and keeps the packet inside the kernel until that process
//! returns a verdict for the packet's id; `NF_ACCEPT` lets the packet go on through the rest
//! of the hook, `NF_DROP` frees it. With the copy mode `NFQNL_COPY_META` the kernel sends only
//! the packet's metadata (its id among them), never its bytes, so holding a packet costs user
//! space one small message in and one out.
//!
//! The message layouts come from the kernel's UAPI headers: `linux/netlink.h` (the 16-byte
//! `nlmsghdr`, attributes aligned to 4 bytes, `NLMSG_ERROR` carrying a negative errno),
//! `linux/netfilter/nfnetlink.h` (the 4-byte `nfgenmsg` after it, the subsystem in the high
//! byte of the message type) and `linux/netfilter/nfnetlink_queue.h` (the config, packet and
//! verdict messages). Netlink headers are in host byte order; netfilter's payloads are
//! big-endian.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_HDRLEN: usize = 4;
/// The attribute type's low bits (the top two are the nested and byte-order flags).
const NLA_TYPE_MASK: u16 = 0x3fff;

// linux/netfilter/nfnetlink.h
const NFGENMSG_LEN: usize = 4;
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFNETLINK_V0: u8 = 0;

// linux/netfilter/nfnetlink_queue.h
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQA_CFG_QUEUE_MAXLEN: u16 = 3;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;

/// The size of one encoded verdict: header, `nfgenmsg`, one attribute of 8 bytes.
const VERDICT_LEN: usize = NLMSG_HDRLEN + NFGENMSG_LEN + NLA_HDRLEN + 8;
/// Verdicts sent in one `sendto` at most (32 KiB, well inside the default socket send
/// buffer).
const VERDICTS_PER_SEND: usize = 1024;

/// The verdict that lets a held packet go on through the hook (`linux/netfilter.h`).
const NF_ACCEPT: u32 = 1;

/// A packet the kernel holds for us: its queue and its id there.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct QueuedPacket {
    pub queue: u16,
    pub id: u32,
}

/// Why the queue could not be opened or bound.
#[derive(Debug, thiserror::Error)]
pub enum NfQueueError {
    #[error("cannot open a netfilter netlink socket: {0}")]
    Socket(io::Error),
    #[error("cannot configure NFQUEUE {queue}: {source}")]
    Config { queue: u16, source: io::Error },
    #[error("NFQUEUE {queue}: the kernel refused the configuration: {errno}")]
    Refused { queue: u16, errno: Errno },
}

/// One message read from the socket, as far as the listener cares.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Packet(QueuedPacket),
    /// An acknowledgement (`errno` 0) or an error, for the request with this sequence number.
    Ack {
        seq: u32,
        errno: i32,
    },
    Other,
}

/// A netfilter netlink socket bound to one or more queues, non-blocking.
pub struct NfQueueSocket {
    fd: OwnedFd,
    next_seq: u32,
    recv_buf: Vec<u8>,
    verdicts: Vec<u8>,
    /// Errors the kernel returned for verdicts (an id it no longer held), counted.
    verdict_errors: u64,
}

impl AsFd for NfQueueSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl NfQueueSocket {
    /// Opens the socket with a receive buffer of `recv_buffer` bytes (forced past
    /// `rmem_max`, which needs CAP_NET_ADMIN; socket(7), SO_RCVBUFFORCE). When the buffer is
    /// full the kernel drops the packet it was about to queue and counts it in
    /// `/proc/net/netfilter/nfnetlink_queue` (`user_dropped`).
    pub fn open(recv_buffer: usize) -> Result<NfQueueSocket, NfQueueError> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::NETFILTER),
        )
        .map_err(|e| NfQueueError::Socket(e.into()))?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))
            .map_err(|e| NfQueueError::Socket(e.into()))?;
        rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, recv_buffer)
            .map_err(|e| NfQueueError::Socket(e.into()))?;
        Ok(NfQueueSocket {
            fd,
            next_seq: 1,
            recv_buf: vec![0; 1 << 16],
            verdicts: Vec::with_capacity(VERDICT_LEN * VERDICTS_PER_SEND),
            verdict_errors: 0,
        })
    }

    /// Binds `queue` to this socket, metadata only, holding at most `max_len` packets (the
    /// kernel drops what comes beyond). Fails when another process holds the queue.
    pub fn bind(&mut self, queue: u16, max_len: u32) -> Result<(), NfQueueError> {
        let mut cmd = [0u8; 4]; // struct nfqnl_msg_config_cmd { u8 command; u8 pad; be16 pf; }
        cmd[0] = NFQNL_CFG_CMD_BIND;
        let mut params = [0u8; 5]; // struct nfqnl_msg_config_params { be32 range; u8 mode; }
        params[4] = NFQNL_COPY_META;
        let steps: [(u16, &[u8]); 3] = [
            (NFQA_CFG_CMD, &cmd),
            (NFQA_CFG_PARAMS, &params),
            (NFQA_CFG_QUEUE_MAXLEN, &max_len.to_be_bytes()),
        ];
        for (attribute, value) in steps {
            let seq = self.next_seq;
            self.next_seq += 1;
            let mut msg = Vec::with_capacity(64);
            encode_message(
                &mut msg,
                NFQNL_MSG_CONFIG,
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                queue,
                &[(attribute, value)],
            );
            let config_error = |source: io::Error| NfQueueError::Config { queue, source };
            self.send(&msg).map_err(config_error)?;
            match self.wait_ack(seq).map_err(config_error)? {
                0 => {}
                errno => {
                    return Err(NfQueueError::Refused {
                        queue,
                        errno: Errno::from_raw_os_error(-errno),
                    })
                }
            }
        }
        Ok(())
    }

    /// Waits (blocking in `poll`) for the acknowledgement of request `seq` and returns its
    /// errno (0 for success, negative for an error, as netlink(7) says).
    fn wait_ack(&mut self, seq: u32) -> io::Result<i32> {
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &self.fd,
                rustix::event::PollFlags::IN,
            )];
            let timeout = rustix::time::Timespec {
                tv_sec: 2,
                tv_nsec: 0,
            };
            if rustix::event::poll(&mut fds, Some(&timeout))? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no answer from nfnetlink_queue",
                ));
            }
            let len = match rustix::net::recv(&self.fd, &mut self.recv_buf[..], RecvFlags::empty())
            {
                Ok((_, len)) => len,
                Err(Errno::AGAIN | Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for message in parse_messages(&self.recv_buf[..len]) {
                if let Message::Ack { seq: s, errno } = message {
                    if s == seq {
                        return Ok(errno);
                    }
                }
            }
        }
    }

    /// Reads every message waiting on the socket without blocking and appends the packets
    /// among them to `out`. A receive buffer overrun (`ENOBUFS`) is not an error: the kernel
    /// has dropped those packets and counted them.
    pub fn receive(&mut self, out: &mut Vec<QueuedPacket>) -> io::Result<()> {
        loop {
            let len = match rustix::net::recv(&self.fd, &mut self.recv_buf[..], RecvFlags::empty())
            {
                Ok((_, len)) => len,
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR | Errno::NOBUFS) => continue,
                Err(e) => return Err(e.into()),
            };
            for message in parse_messages(&self.recv_buf[..len]) {
                match message {
                    Message::Packet(packet) => out.push(packet),
                    Message::Ack { errno, .. } if errno != 0 => self.verdict_errors += 1,
                    Message::Ack { .. } | Message::Other => {}
                }
            }
        }
    }

    /// Queues an `NF_ACCEPT` verdict for `packet`, sent by the next
    /// [`NfQueueSocket::flush_verdicts`] (or now, if the batch is full).
    pub fn push_accept(&mut self, packet: QueuedPacket) -> io::Result<()> {
        let mut header = [0u8; 8]; // struct nfqnl_msg_verdict_hdr { be32 verdict; be32 id; }
        header[..4].copy_from_slice(&NF_ACCEPT.to_be_bytes());
        header[4..].copy_from_slice(&packet.id.to_be_bytes());
        encode_message(
            &mut self.verdicts,
            NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            0,
            packet.queue,
            &[(NFQA_VERDICT_HDR, &header)],
        );
        if self.verdicts.len() >= VERDICT_LEN * VERDICTS_PER_SEND {
            self.flush_verdicts()?;
        }
        Ok(())
    }

    /// Sends the verdicts pushed so far, many netlink messages in one datagram (the kernel's
    /// `netlink_rcv_skb` walks them in order).
    pub fn flush_verdicts(&mut self) -> io::Result<()> {
        if self.verdicts.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.verdicts);
        let sent = self.send(&batch);
        self.verdicts = batch;
        self.verdicts.clear();
        sent
    }

    /// Verdicts the kernel answered with an error so far.
    pub fn verdict_errors(&self) -> u64 {
        self.verdict_errors
    }

    fn send(&self, buf: &[u8]) -> io::Result<()> {
        let kernel = SocketAddrNetlink::new(0, 0);
        loop {
            match rustix::net::sendto(&self.fd, buf, SendFlags::empty(), &kernel) {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    // The socket is non-blocking; wait until the kernel takes the batch.
                    let mut fds = [rustix::event::PollFd::new(
                        &self.fd,
                        rustix::event::PollFlags::OUT,
                    )];
                    rustix::event::poll(&mut fds, None)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// Appends one nfnetlink message of the queue subsystem: `nlmsghdr`, `nfgenmsg` (family
/// `AF_UNSPEC`, version 0, the queue number big-endian), then the attributes.
fn encode_message(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    queue: u16,
    attributes: &[(u16, &[u8])],
) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]); // nlmsg_len, filled in below
    out.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: 0 is the kernel
    out.extend_from_slice(&[0, NFNETLINK_V0]);
    out.extend_from_slice(&queue.to_be_bytes());
    for (kind, value) in attributes {
        let len = NLA_HDRLEN + value.len();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(out.len() + align4(len) - len, 0);
    }
    let len = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages of one datagram; a truncated or malformed tail ends the walk.
fn parse_messages(mut buf: &[u8]) -> Vec<Message> {
    let mut messages = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32_ne(buf, 0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        messages.push(parse_message(&buf[..len]));
        buf = &buf[align4(len).min(buf.len())..];
    }
    messages
}

fn parse_message(msg: &[u8]) -> Message {
    let kind = u16_ne(msg, 4);
    let body = &msg[NLMSG_HDRLEN..];
    if kind == NLMSG_ERROR {
        // struct nlmsgerr { int error; struct nlmsghdr msg; ... }: seq at offset 8 of msg.
        if body.len() < 4 + NLMSG_HDRLEN {
            return Message::Other;
        }
        let errno = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
        return Message::Ack {
            seq: u32_ne(body, 4 + 8),
            errno,
        };
    }
    if kind != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET || body.len() < NFGENMSG_LEN {
        return Message::Other;
    }
    let queue = u16::from_be_bytes([body[2], body[3]]);
    let mut attributes = &body[NFGENMSG_LEN..];
    while attributes.len() >= NLA_HDRLEN {
        let len = u16_ne(attributes, 0) as usize;
        if len < NLA_HDRLEN || len > attributes.len() {
            break;
        }
        let value = &attributes[NLA_HDRLEN..len];
        // struct nfqnl_msg_packet_hdr { be32 packet_id; be16 hw_protocol; u8 hook; }
        if u16_ne(attributes, 2) & NLA_TYPE_MASK == NFQA_PACKET_HDR && value.len() >= 4 {
            let id = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
            return Message::Packet(QueuedPacket { queue, id });
        }
        attributes = &attributes[align4(len).min(attributes.len())..];
    }
    Message::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet message as the kernel builds it: the packet header, then another attribute.
    fn packet_message(queue: u16, id: u32) -> Vec<u8> {
        let mut header = id.to_be_bytes().to_vec();
        header.extend_from_slice(&0x0800u16.to_be_bytes());
        header.push(2); // NF_INET_FORWARD
        let mut msg = Vec::new();
        let indev = 7u32.to_be_bytes();
        encode_message(
            &mut msg,
            NFQNL_MSG_PACKET,
            0,
            0,
            queue,
            &[(5, &indev), (NFQA_PACKET_HDR, &header)],
        );
        msg
    }

    #[test]
    fn packets_are_found_among_attributes_and_messages() {
        let mut datagram = packet_message(1, 42);
        datagram.extend(packet_message(0, 43));
        assert_eq!(
            parse_messages(&datagram),
            vec![
                Message::Packet(QueuedPacket { queue: 1, id: 42 }),
                Message::Packet(QueuedPacket { queue: 0, id: 43 })
            ]
        );
    }

    #[test]
    fn a_verdict_is_32_bytes_with_big_endian_payload() {
        let mut out = Vec::new();
        let header = [0, 0, 0, 1, 0, 0, 1, 0];
        encode_message(
            &mut out,
            NFQNL_MSG_VERDICT,
            NLM_F_REQUEST,
            0,
            1,
            &[(NFQA_VERDICT_HDR, &header)],
        );
        assert_eq!(out.len(), VERDICT_LEN);
        assert_eq!(u32_ne(&out, 0) as usize, VERDICT_LEN);
        assert_eq!(u16_ne(&out, 4), 0x0301);
        assert_eq!(&out[18..20], &[0, 1], "queue number, big-endian");
        assert_eq!(&out[24..32], &header);
    }

    #[test]
    fn attributes_are_padded_to_four_bytes() {
        let mut out = Vec::new();
        encode_message(
            &mut out,
            NFQNL_MSG_CONFIG,
            0,
            9,
            0,
            &[(2, &[0, 0, 0, 0, 1])],
        );
        assert_eq!(u16_ne(&out, 20), 9, "attribute length excludes the padding");
        assert_eq!(out.len(), 20 + 12);
    }

    #[test]
    fn an_error_answer_carries_the_request_sequence() {
        let mut msg = Vec::new();
        msg.extend_from_slice(&36u32.to_ne_bytes());
        msg.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&(-16i32).to_ne_bytes());
        let mut request = vec![0u8; NLMSG_HDRLEN];
        request[8..12].copy_from_slice(&5u32.to_ne_bytes());
        msg.extend(request);
        assert_eq!(
            parse_messages(&msg),
            vec![Message::Ack { seq: 5, errno: -16 }]
        );
    }

    #[test]
    fn a_truncated_message_ends_the_walk() {
        let mut datagram = packet_message(0, 1);
        let cut = datagram.len() - 3;
        datagram.truncate(cut);
        assert!(parse_messages(&datagram).is_empty());
    }
}
