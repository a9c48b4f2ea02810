//! Neighbour MAC addresses from the kernel's table, and making the kernel resolve one.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::rtnetlink::request;
use crate::wire::MacAddr;

/// The MAC address the kernel has for `ip` on interface `ifindex`, if resolved (reachable,
/// stale, delay, probe or permanent; not incomplete or failed).
pub fn neighbor(ifindex: u32, ip: Ipv4Addr) -> io::Result<Option<MacAddr>> {
    let mut msg = NeighbourMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.ifindex = ifindex;
    for reply in request(RouteNetlinkMessage::GetNeighbour(msg), true)? {
        let RouteNetlinkMessage::NewNeighbour(entry) = reply else {
            continue;
        };
        if entry.header.ifindex != ifindex {
            continue;
        }
        let usable = matches!(
            entry.header.state,
            NeighbourState::Reachable
                | NeighbourState::Stale
                | NeighbourState::Delay
                | NeighbourState::Probe
                | NeighbourState::Permanent
        );
        let mut dest = None;
        let mut mac = None;
        for attr in &entry.attributes {
            match attr {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => dest = Some(*a),
                NeighbourAttribute::LinkLocalAddress(b) if b.len() == 6 => {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(b);
                    mac = Some(MacAddr(m));
                }
                _ => {}
            }
        }
        if usable && dest == Some(ip) {
            return Ok(mac);
        }
    }
    Ok(None)
}

/// Makes the kernel resolve `ip`'s MAC address: a one-byte datagram to the discard port
/// (RFC 863) from a kernel UDP socket makes it send an ARP request if needed.
pub fn solicit_neighbor(ip: Ipv4Addr) -> io::Result<()> {
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    socket.send_to(&[0], SocketAddrV4::new(ip, 9))?;
    Ok(())
}
