//! Routing: which neighbour a frame to a destination goes to.

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

impl Stack {
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
