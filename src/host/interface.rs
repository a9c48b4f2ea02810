//! One network interface: its index, RX queues, IPv4 address, MAC address, MTU and driver.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{parse_string, DecodeError, NlasIterator, NLA_TYPE_MASK};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkMessage, LinkMessageBuffer};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rustix::net::{netdevice, AddressFamily as SocketFamily, SocketFlags, SocketType};

use super::rtnetlink::{invalid, request, request_undecoded};
use crate::wire::MacAddr;

/// The interface named is not one of this network namespace.
#[derive(Debug, thiserror::Error)]
#[error("interface {0} does not exist (in this network namespace)")]
pub struct NoSuchInterface(pub String);

/// The interface index of `iface` in this network namespace (SIOCGIFINDEX, netdevice(7)).
pub fn interface_index(iface: &str) -> Result<u32, NoSuchInterface> {
    let missing = |_| NoSuchInterface(iface.into());
    let socket = rustix::net::socket_with(
        SocketFamily::INET,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(missing)?;
    netdevice::name_to_index(&socket, iface).map_err(missing)
}

/// The RX queue count of `iface`, from `/sys/class/net/<iface>/queues`.
pub fn rx_queue_count(iface: &str) -> Result<u32, NoSuchInterface> {
    let dir = format!("/sys/class/net/{iface}/queues");
    let entries = std::fs::read_dir(&dir).map_err(|_| NoSuchInterface(iface.into()))?;
    let count = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Ok(count as u32)
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

/// The kernel driver behind `iface`, named as `ethtool -i` names it. A device on a bus (a
/// PCI or virtio NIC) has a driver bound to it, which `/sys/class/net/<iface>/device/driver`
/// links to ("ice", "i40e", "ixgbe", "mlx5_core", "virtio_net"); a virtual device has no such
/// link, and rtnetlink reports its kind instead (IFLA_LINKINFO / IFLA_INFO_KIND: "veth",
/// "bridge", ...). `None` when the kernel names neither (the loopback device).
pub fn driver_name(iface: &str) -> io::Result<Option<String>> {
    let bound = std::path::Path::new("/sys/class/net")
        .join(iface)
        .join("device/driver");
    if let Ok(target) = std::fs::read_link(bound) {
        return Ok(target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()));
    }
    let ifindex = interface_index(iface).map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))?;
    link_kind(ifindex)
}

/// IFLA_LINKINFO, the nested attribute of a link that describes its kind, and IFLA_INFO_KIND
/// inside it (`include/uapi/linux/if_link.h`).
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;

/// The kind of the virtual device with index `ifindex` (IFLA_INFO_KIND), if it has one.
fn link_kind(ifindex: u32) -> io::Result<Option<String>> {
    let mut msg = LinkMessage::default();
    msg.header.index = ifindex;
    let payload = request_undecoded(RouteNetlinkMessage::GetLink(msg))?;
    let bad = |e: DecodeError| invalid(format!("bad link message: {e}"));
    let link = LinkMessageBuffer::new_checked(&payload[..]).map_err(bad)?;
    for attribute in link.attributes() {
        let attribute = attribute.map_err(bad)?;
        if attribute.kind() & NLA_TYPE_MASK != IFLA_LINKINFO {
            continue;
        }
        for info in NlasIterator::new(attribute.value()) {
            let info = info.map_err(bad)?;
            if info.kind() & NLA_TYPE_MASK == IFLA_INFO_KIND {
                return parse_string(info.value()).map(Some).map_err(bad);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_an_interface_without_a_driver() {
        let index = interface_index("lo").unwrap();
        assert!(index > 0);
        assert!(rx_queue_count("lo").unwrap() >= 1);
        assert_eq!(driver_name("lo").unwrap(), None);
    }

    #[test]
    fn a_missing_interface_is_named_in_the_error() {
        let err = interface_index("nosuch0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "interface nosuch0 does not exist (in this network namespace)"
        );
        assert!(rx_queue_count("nosuch0").is_err());
        assert!(interface_index("a-name-longer-than-ifnamsiz").is_err());
    }
}
