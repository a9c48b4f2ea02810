//! Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M is a clock
//! ticking every 4 µs and F is a keyed pseudorandom function (SipHash-2-4 here).

use crate::time::Instant;
use siphasher::sip::SipHasher24;
use std::hash::Hasher;
use std::net::SocketAddrV4;

use crate::wire::SeqNum;

/// Produces ISNs from a 128-bit secret chosen at stack start.
#[derive(Clone)]
pub struct IsnGenerator {
    key: [u8; 16],
}

impl std::fmt::Debug for IsnGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IsnGenerator { key: <secret> }")
    }
}

impl IsnGenerator {
    /// A generator with a given secret (deterministic tests and the simulator).
    pub fn with_key(key: [u8; 16]) -> IsnGenerator {
        IsnGenerator { key }
    }

    /// A generator with a secret from the operating system's random source.
    pub fn from_os_random() -> Result<IsnGenerator, getrandom::Error> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key)?;
        Ok(IsnGenerator { key })
    }

    /// RFC 6056 §3.3.3: the keyed offset at which the ephemeral port search starts for a
    /// connection from `local` to `remote` (hashed with a tag, apart from ISNs).
    pub fn port_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(b"port");
        h.write(&local.ip().octets());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        h.finish() as u32
    }

    /// RFC 7323 §7.1: the offset added to the timestamp clock of a connection from `local`
    /// to `remote`, so TSvals tell nothing of the host's uptime and differ between peers.
    /// It depends on the 4-tuple alone (no clock), so a new incarnation of a 4-tuple
    /// carries TSvals above the old one's, as RFC 6191 needs for TIME-WAIT reuse.
    pub fn timestamp_offset(&self, local: SocketAddrV4, remote: SocketAddrV4) -> u32 {
        self.tuple_hasher(b"tsoffset", local, remote).finish() as u32
    }

    /// A keyed hasher that has taken `tag` (keeping each use's values apart) and the
    /// 4-tuple.
    pub(super) fn tuple_hasher(
        &self,
        tag: &[u8],
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> SipHasher24 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(tag);
        h.write(&local.ip().octets());
        h.write(&local.port().to_be_bytes());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        h
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`.
    pub fn isn(&self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4) -> SeqNum {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(&local.ip().octets());
        h.write(&local.port().to_be_bytes());
        h.write(&remote.ip().octets());
        h.write(&remote.port().to_be_bytes());
        let f = h.finish() as u32;
        // M: a 4 microsecond timer (RFC 6528 §3, RFC 9293 §3.4.1).
        let m = (now.as_nanos() / 4_000) as u32;
        SeqNum(m.wrapping_add(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port)
    }

    #[test]
    fn clock_advances_one_per_four_microseconds() {
        let g = IsnGenerator::with_key([7; 16]);
        let a = g.isn(Instant::from_micros(0), addr(1, 1000), addr(2, 80));
        let b = g.isn(Instant::from_micros(400), addr(1, 1000), addr(2, 80));
        assert_eq!(b.since(a), 100);
    }

    #[test]
    fn tuple_and_key_change_the_isn() {
        let g = IsnGenerator::with_key([7; 16]);
        let now = Instant::from_millis(1);
        let base = g.isn(now, addr(1, 1000), addr(2, 80));
        assert_ne!(base, g.isn(now, addr(1, 1001), addr(2, 80)));
        assert_ne!(base, g.isn(now, addr(1, 1000), addr(3, 80)));
        let other = IsnGenerator::with_key([8; 16]);
        assert_ne!(base, other.isn(now, addr(1, 1000), addr(2, 80)));
        assert!(IsnGenerator::from_os_random().is_ok());
    }

    #[test]
    fn timestamp_offsets_depend_on_the_tuple_and_key_only() {
        let g = IsnGenerator::with_key([7; 16]);
        let base = g.timestamp_offset(addr(1, 1000), addr(2, 80));
        assert_eq!(base, g.timestamp_offset(addr(1, 1000), addr(2, 80)));
        assert_ne!(base, g.timestamp_offset(addr(1, 1001), addr(2, 80)));
        assert_ne!(base, g.timestamp_offset(addr(1, 1000), addr(3, 80)));
        let other = IsnGenerator::with_key([8; 16]);
        assert_ne!(base, other.timestamp_offset(addr(1, 1000), addr(2, 80)));
    }
}
