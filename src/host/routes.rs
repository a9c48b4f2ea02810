//! Routes of the kernel's main table, over rtnetlink.

use std::io;
use std::net::Ipv4Addr;

use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::rtnetlink::{invalid, request};

/// The route the kernel would use toward a destination.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Next hop, if not on-link.
    pub gateway: Option<Ipv4Addr>,
    /// Outgoing interface index.
    pub oif: Option<u32>,
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
