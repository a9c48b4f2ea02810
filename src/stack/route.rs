//! Addresses: which neighbour a frame to a destination goes to, and which addresses no
//! host may use as its own.

use std::net::Ipv4Addr;

use super::Stack;

/// A route: destinations in `prefix/len` go via `gateway` (on-link when `None`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv4Addr,
    pub len: u8,
    pub gateway: Option<Ipv4Addr>,
}

impl Route {
    fn mask(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(len.min(32)))
        }
    }

    /// True if `dst` lies in this route's prefix.
    pub fn covers(&self, dst: Ipv4Addr) -> bool {
        let mask = Route::mask(self.len);
        u32::from(dst) & mask == u32::from(self.prefix) & mask
    }
}

/// The directed broadcast address of `ip`/`prefix_len`, or the limited broadcast when the
/// subnet has none (a /31 point-to-point link has no broadcast address, RFC 3021; nor
/// has a /32).
pub(super) fn directed_broadcast(ip: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    if prefix_len >= 31 {
        return Ipv4Addr::BROADCAST;
    }
    Ipv4Addr::from(u32::from(ip) | !Route::mask(prefix_len))
}

impl Stack {
    /// True for an address no peer may have (RFC 1122 §3.2.1.3): the limited and our
    /// subnet's broadcast, multicast, 0.0.0.0 and loopback; and our own addresses, which
    /// only a forger puts on a frame that comes in. Segments from one are discarded
    /// silently, and connections to one are refused (§4.2.3.10).
    #[inline]
    pub(super) fn is_invalid_peer(&self, ip: Ipv4Addr) -> bool {
        // `|` rather than `||`: a few compares, no branches. The further addresses are a
        // list, looked at only when there are any (`owns_address` would branch on `ipv4`).
        let invalid = ip.is_broadcast()
            | ip.is_multicast()
            | ip.is_unspecified()
            | ip.is_loopback()
            | (ip == self.directed_broadcast)
            | (ip == self.config.ipv4);
        invalid || (!self.config.more_ipv4.is_empty() && self.config.more_ipv4.contains(&ip))
    }

    /// True for `ipv4` and the further addresses of [`StackConfig::more_ipv4`].
    ///
    /// [`StackConfig::more_ipv4`]: super::StackConfig::more_ipv4
    #[inline]
    pub fn owns_address(&self, ip: Ipv4Addr) -> bool {
        ip == self.config.ipv4 || self.config.more_ipv4.contains(&ip)
    }

    /// The neighbour a frame to `dst` goes to: the longest matching route, then the local
    /// subnet, then the default gateway.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Ipv4Addr {
        if let Some(route) = self
            .config
            .routes
            .iter()
            .filter(|r| r.covers(dst))
            .max_by_key(|r| r.len)
        {
            return route.gateway.unwrap_or(dst);
        }
        let subnet = Route {
            prefix: self.config.ipv4,
            len: self.config.prefix_len,
            gateway: None,
        };
        match self.config.gateway {
            Some(gw) if !subnet.covers(dst) => gw,
            _ => dst,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_broadcasts_to_its_highest_address_unless_it_is_a_point_to_point_link() {
        let ip = Ipv4Addr::new(10, 1, 2, 3);
        assert_eq!(directed_broadcast(ip, 24), Ipv4Addr::new(10, 1, 2, 255));
        assert_eq!(directed_broadcast(ip, 8), Ipv4Addr::new(10, 255, 255, 255));
        assert_eq!(directed_broadcast(ip, 30), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(directed_broadcast(ip, 0), Ipv4Addr::BROADCAST);
        assert_eq!(directed_broadcast(ip, 31), Ipv4Addr::BROADCAST);
        assert_eq!(directed_broadcast(ip, 32), Ipv4Addr::BROADCAST);
    }
}
