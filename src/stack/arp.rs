//! Neighbours: answering ARP for our address and learning from it (RFC 826), resolving next
//! hops (by ARP, or through the host when the stack does not run ARP), and holding back
//! connections whose next hop is not known yet.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{ConnId, NeighborCache, Stack};
use crate::time::Instant;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, MacAddr};

/// Interval between ARP requests for one address (RFC 1122 §2.3.2.1: at most one per second).
pub(super) const ARP_RETRY: Duration = Duration::from_secs(1);

impl Stack {
    /// Installs a neighbour's MAC address (from the host's neighbour table, or static).
    pub fn add_neighbor(&mut self, ip: Ipv4Addr, mac: MacAddr) {
        if self.neighbors.insert(ip, mac) {
            self.unpark_all();
        }
    }

    pub fn neighbors(&self) -> &NeighborCache {
        &self.neighbors
    }

    /// A next hop whose MAC address the stack needs, when it does not run ARP itself: the
    /// host resolves it and answers with [`Stack::add_neighbor`]. Repeated at most once a
    /// second per address while it stays unresolved or suspect.
    pub fn poll_neighbor_request(&mut self) -> Option<Ipv4Addr> {
        self.neighbor_requests.pop_front()
    }

    pub(super) fn receive_arp(&mut self, _now: Instant, payload: &[u8]) {
        if !self.config.arp {
            self.stats.drop_unsupported_ethertype += 1;
            return;
        }
        let packet = match ArpPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.stats.count_malformed(e),
        };
        self.stats.rx_arp += 1;
        let repr = ArpRepr::parse(&packet);
        // RFC 826: merge the sender into the table if we have it or the request is for us.
        let for_us = self.owns_address(repr.target_ip);
        if (for_us || self.neighbors.lookup(repr.sender_ip).is_some())
            && !repr.sender_mac.is_multicast()
            && repr.sender_ip != Ipv4Addr::UNSPECIFIED
        {
            self.add_neighbor(repr.sender_ip, repr.sender_mac);
        }
        if for_us && repr.operation == ArpOperation::Request && self.arp_out.len() < 64 {
            self.arp_out.push_back((
                repr.sender_mac,
                ArpRepr {
                    operation: ArpOperation::Reply,
                    sender_mac: self.config.mac,
                    sender_ip: repr.target_ip,
                    target_mac: repr.sender_mac,
                    target_ip: repr.sender_ip,
                },
            ));
        }
    }

    pub(super) fn park(&mut self, now: Instant, id: ConnId) {
        if let Some(slot) = self.conns.get_mut(id) {
            if !slot.parked {
                slot.parked = true;
                self.parked.push(id);
            }
            if self.arp_retry_at.is_none() {
                self.arp_retry_at = Some(now + ARP_RETRY);
            }
        }
    }

    /// Puts every parked connection back in the transmit queue (a neighbour was learned, or
    /// it is time to ask again).
    pub(super) fn unpark_all(&mut self) {
        self.arp_retry_at = None;
        for id in std::mem::take(&mut self.parked) {
            if let Some(slot) = self.conns.get_mut(id) {
                slot.parked = false;
            }
            self.after_change(id);
        }
    }

    /// Asks again for the next hop toward `dst` while still using the entry we have: after
    /// repeated timeouts the entry may be wrong (the neighbour changed, or a bad reply was
    /// learned). A different answer replaces it.
    pub(super) fn revalidate_neighbor(&mut self, now: Instant, dst: Ipv4Addr) {
        let hop = self.next_hop(dst);
        if !self.config.arp {
            // The host resolves neighbours (see `poll_neighbor_request`).
            if self.neighbors.should_request(hop, now, ARP_RETRY)
                && !self.neighbor_requests.contains(&hop)
                && self.neighbor_requests.len() < 64
            {
                self.neighbor_requests.push_back(hop);
            }
            return;
        }
        if self.neighbors.should_request(hop, now, ARP_RETRY) {
            self.arp_out.push_back((
                MacAddr::BROADCAST,
                ArpRepr {
                    operation: ArpOperation::Request,
                    sender_mac: self.config.mac,
                    sender_ip: self.config.ipv4,
                    target_mac: MacAddr::ZERO,
                    target_ip: hop,
                },
            ));
        }
    }

    /// Resolves the next hop toward `dst`, queueing an ARP request if it is unknown.
    pub(super) fn resolve(&mut self, now: Instant, dst: Ipv4Addr) -> Option<MacAddr> {
        let hop = self.next_hop(dst);
        if let Some(mac) = self.neighbors.lookup(hop) {
            return Some(mac);
        }
        self.revalidate_neighbor(now, dst);
        None
    }
}
