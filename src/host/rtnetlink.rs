//! One rtnetlink request and its replies (rtnetlink(7)), for the queries of this module.

use std::io;

use netlink_packet_core::{
    ErrorBuffer, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_ERROR,
    NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// An `InvalidData` error: the kernel's answer is not what was asked for.
pub(super) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Sends one rtnetlink request; the answer is read from the socket returned.
fn send(message: RouteNetlinkMessage, dump: bool) -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
    let mut req = NetlinkMessage::new(header, NetlinkPayload::from(message));
    req.finalize();
    let mut buf = vec![0u8; req.buffer_len()];
    req.serialize(&mut buf);
    socket.send(&buf, 0)?;
    Ok(socket)
}

/// Room for one datagram of replies.
const RECEIVE_BUFFER: usize = 64 * 1024;

/// Sends one rtnetlink request and collects the replies (until DONE for a dump).
pub(super) fn request(
    message: RouteNetlinkMessage,
    dump: bool,
) -> io::Result<Vec<RouteNetlinkMessage>> {
    let socket = send(message, dump)?;
    let mut replies = Vec::new();
    let mut receive = vec![0u8; RECEIVE_BUFFER];
    loop {
        let size = socket.recv(&mut &mut receive[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&receive[offset..size])
                .map_err(|e| invalid(format!("bad netlink reply: {e}")))?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(replies),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(io::Error::from_raw_os_error(-code.get()));
                    }
                    return Ok(replies); // an ACK
                }
                NetlinkPayload::InnerMessage(inner) => {
                    replies.push(inner);
                    if !dump {
                        return Ok(replies);
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += len;
        }
    }
}

/// Sends one request that has a single answer and returns the answer's payload undecoded.
/// For reading a few attributes of a message that also carries parts the decoder of
/// `netlink-packet-route` does not know in full (it logs a warning for each: a link's
/// IFLA_AF_SPEC from a newer kernel, for one).
pub(super) fn request_undecoded(message: RouteNetlinkMessage) -> io::Result<Vec<u8>> {
    let socket = send(message, false)?;
    let mut receive = vec![0u8; RECEIVE_BUFFER];
    let size = socket.recv(&mut &mut receive[..], 0)?;
    let reply = NetlinkBuffer::new_checked(&receive[..size])
        .map_err(|e| invalid(format!("bad netlink reply: {e}")))?;
    if reply.message_type() == NLMSG_ERROR {
        let error = ErrorBuffer::new_checked(reply.payload())
            .map_err(|e| invalid(format!("bad netlink error: {e}")))?;
        return match error.code() {
            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            None => Err(invalid("an acknowledgement where an answer was due")),
        };
    }
    Ok(reply.payload().to_vec())
}
