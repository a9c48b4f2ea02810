//! Facts the stack takes from the host kernel: the interface's address and MAC, the route to a
//! destination, and neighbour MAC addresses — read over rtnetlink.
//!
//! The stack shares its IPv4 address with the kernel, and the kernel answers and sends ARP
//! for it (the XDP program passes ARP through). The kernel's neighbour table is therefore the
//! source of MAC addresses: running our own ARP would compete with the kernel for replies,
//! which XDP can deliver to only one of us. When a neighbour is missing, a datagram sent
//! through a kernel UDP socket makes the kernel resolve it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::wire::MacAddr;

/// The route the kernel would use toward a destination.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Next hop, if not on-link.
    pub gateway: Option<Ipv4Addr>,
    /// Outgoing interface index.
    pub oif: Option<u32>,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Sends one rtnetlink request and collects the replies (until DONE for a dump).
fn request(message: RouteNetlinkMessage, dump: bool) -> io::Result<Vec<RouteNetlinkMessage>> {
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

    let mut replies = Vec::new();
    let mut receive = vec![0u8; 64 * 1024];
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

/// The first IPv4 address of the interface with index `ifindex`, with its prefix length.
pub fn interface_ipv4(ifindex: u32) -> io::Result<Option<(Ipv4Addr, u8)>> {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    for reply in request(RouteNetlinkMessage::GetAddress(msg), true)? {
        let RouteNetlinkMessage::NewAddress(addr) = reply else {
            continue;
        };
        if addr.header.index != ifindex || addr.header.family != AddressFamily::Inet {
            continue;
        }
        for attr in &addr.attributes {
            if let AddressAttribute::Local(IpAddr::V4(ip))
            | AddressAttribute::Address(IpAddr::V4(ip)) = attr
            {
                return Ok(Some((*ip, addr.header.prefix_len)));
            }
        }
    }
    Ok(None)
}

/// The interface's MAC address, from sysfs.
pub fn interface_mac(iface: &str) -> io::Result<MacAddr> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))?;
    text.trim()
        .parse()
        .map_err(|e: String| invalid(format!("{iface}: {e}")))
}

/// The interface's MTU, from sysfs.
pub fn interface_mtu(iface: &str) -> io::Result<u16> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{iface}/mtu"))?;
    text.trim()
        .parse()
        .map_err(|_| invalid(format!("{iface}: unreadable MTU {text:?}")))
}

/// The route the kernel picks toward `dst` (as `ip route get` shows it).
pub fn route_to(dst: Ipv4Addr) -> io::Result<Route> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    msg.header.destination_prefix_length = 32;
    msg.attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
    let replies = request(RouteNetlinkMessage::GetRoute(msg), false)?;
    let Some(RouteNetlinkMessage::NewRoute(route)) = replies.into_iter().next() else {
        return Err(invalid("no route in the kernel's answer"));
    };
    let mut result = Route {
        gateway: None,
        oif: None,
    };
    for attr in route.attributes {
        match attr {
            RouteAttribute::Gateway(RouteAddress::Inet(gw)) => result.gateway = Some(gw),
            RouteAttribute::Oif(oif) => result.oif = Some(oif),
            _ => {}
        }
    }
    Ok(result)
}

/// The IPv4 routes of the kernel's main table that leave through interface `ifindex`.
pub fn routes(ifindex: u32) -> io::Result<Vec<crate::stack::Route>> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    let mut routes = Vec::new();
    for reply in request(RouteNetlinkMessage::GetRoute(msg), true)? {
        let RouteNetlinkMessage::NewRoute(route) = reply else {
            continue;
        };
        if route.header.address_family != AddressFamily::Inet {
            continue;
        }
        let mut table = u32::from(route.header.table);
        let mut oif = None;
        let mut prefix = Ipv4Addr::UNSPECIFIED;
        let mut gateway = None;
        for attr in &route.attributes {
            match attr {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Oif(o) => oif = Some(*o),
                RouteAttribute::Destination(RouteAddress::Inet(d)) => prefix = *d,
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(*g),
                _ => {}
            }
        }
        // RT_TABLE_MAIN = 254; local and broadcast routes live in other tables.
        if table == 254 && oif == Some(ifindex) {
            routes.push(crate::stack::Route {
                prefix,
                len: route.header.destination_prefix_length,
                gateway,
            });
        }
    }
    Ok(routes)
}

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

/// Ports on which a kernel TCP socket listens in this network namespace (IPv4 and IPv6),
/// from `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn kernel_listening_ports() -> io::Result<std::collections::HashSet<u16>> {
    const LISTEN: &str = "0A";
    let mut ports = std::collections::HashSet::new();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // no IPv6 in this kernel
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 || fields[3] != LISTEN {
                continue;
            }
            if let Some(port) = fields[1].rsplit(':').next() {
                if let Ok(p) = u16::from_str_radix(port, 16) {
                    ports.insert(p);
                }
            }
        }
    }
    Ok(ports)
}

/// Where the per-boot ISN secret lives: tmpfs, so it is new after every boot, and readable
/// by root only.
pub const ISN_SECRET_PATH: &str = "/run/xdptcp/isn.key";

/// The secret for ISNs (RFC 6528) and source ports (RFC 6056), the same for every xdptcp
/// process until the next boot — as the kernel keeps one per boot. A process restarted on a
/// 4-tuple then continues its sequence numbers upward, so a peer holding the old incarnation
/// in TIME-WAIT can reopen it at once (RFC 1122 §4.2.2.13) instead of stalling the new SYN.
/// Created with 0600 on first use; falls back to a process-only secret, with a warning, if
/// `/run` cannot be used.
pub fn isn_secret() -> [u8; 16] {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let read = || -> Option<[u8; 16]> {
        let bytes = std::fs::read(ISN_SECRET_PATH).ok()?;
        bytes.try_into().ok()
    };
    if let Some(key) = read() {
        return key;
    }
    let mut key = [0u8; 16];
    let _ = getrandom::fill(&mut key);
    let dir = std::path::Path::new(ISN_SECRET_PATH).parent();
    let created = dir
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(ISN_SECRET_PATH)
        })
        .and_then(|mut f| f.write_all(&key));
    match created {
        Ok(()) => key,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read().unwrap_or(key),
        Err(e) => {
            log::warn!("cannot keep an ISN secret in {ISN_SECRET_PATH} ({e}); using one for this process only");
            key
        }
    }
}

/// Makes the kernel resolve `ip`'s MAC address: a one-byte datagram to the discard port
/// (RFC 863) from a kernel UDP socket makes it send an ARP request if needed.
pub fn solicit_neighbor(ip: Ipv4Addr) -> io::Result<()> {
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
    socket.send_to(&[0], SocketAddrV4::new(ip, 9))?;
    Ok(())
}
