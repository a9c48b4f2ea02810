//! The Toeplitz hash that NICs compute for receive-side scaling (Microsoft's RSS
//! specification, "Verifying the RSS Hash Calculation"; Intel 82599 datasheet §7.1.2.8),
//! computed in software so the stack can tell which receive queue a flow's frames reach.
//!
//! For every bit of the input that is set, the hash takes the exclusive or of the 32 bits of
//! the key that start at that bit's position. A table per input byte holds that sum for each
//! of the 256 values of the byte, so a hash is one lookup per input byte.

/// The hash under one key.
pub struct Toeplitz {
    /// `tables[i][b]`: the hash contribution of input byte `i` holding `b`.
    tables: Box<[[u32; 256]]>,
}

impl std::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toeplitz")
            .field("max_input", &self.max_input())
            .finish()
    }
}

impl Toeplitz {
    /// The hash under `key`, for inputs of up to `key.len() - 4` bytes (a 40-byte key, the
    /// common size, covers the 36 bytes of an IPv6 4-tuple). `None` for a key shorter than
    /// 5 bytes, which hashes nothing.
    pub fn new(key: &[u8]) -> Option<Toeplitz> {
        let max_input = key.len().checked_sub(4).filter(|&n| n > 0)?;
        let byte = |i: usize| u64::from(key.get(i).copied().unwrap_or(0));
        let tables = (0..max_input)
            .map(|i| {
                // The 40 key bits from input byte i's first bit on: the 32-bit windows of
                // its eight bits are this shifted right by 8 - bit.
                let bits = (byte(i) << 32)
                    | (byte(i + 1) << 24)
                    | (byte(i + 2) << 16)
                    | (byte(i + 3) << 8)
                    | byte(i + 4);
                let windows: [u32; 8] = std::array::from_fn(|bit| (bits >> (8 - bit)) as u32);
                let mut table = [0u32; 256];
                for (value, entry) in table.iter_mut().enumerate() {
                    *entry = (0..8)
                        .filter(|bit| value & (0x80 >> bit) != 0)
                        .fold(0, |sum, bit| sum ^ windows[bit]);
                }
                table
            })
            .collect();
        Some(Toeplitz { tables })
    }

    /// The longest input this key hashes.
    pub fn max_input(&self) -> usize {
        self.tables.len()
    }

    /// The hash of `input`, of at most [`Self::max_input`] bytes (bytes past it are not
    /// hashed: the NIC could not hash them either).
    #[inline]
    pub fn hash(&self, input: &[u8]) -> u32 {
        input
            .iter()
            .zip(self.tables.iter())
            .fold(0, |sum, (&b, table)| sum ^ table[usize::from(b)])
    }
}

/// The input an IPv4 TCP segment is hashed over: source address, destination address,
/// source port, destination port, in network byte order.
pub fn tcp4_input(src: std::net::SocketAddrV4, dst: std::net::SocketAddrV4) -> [u8; 12] {
    let mut input = [0u8; 12];
    input[0..4].copy_from_slice(&src.ip().octets());
    input[4..8].copy_from_slice(&dst.ip().octets());
    input[8..10].copy_from_slice(&src.port().to_be_bytes());
    input[10..12].copy_from_slice(&dst.port().to_be_bytes());
    input
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::net::{Ipv6Addr, SocketAddrV4};

    /// The key of Microsoft's RSS verification suite.
    pub(in crate::flow) const VERIFICATION_KEY: [u8; 40] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f,
        0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
        0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// The bit-by-bit definition, to check the tables against.
    fn reference(key: &[u8], input: &[u8]) -> u32 {
        let key_bit = |p: usize| key.get(p / 8).is_some_and(|b| b & (0x80 >> (p % 8)) != 0);
        let mut hash = 0u32;
        for p in 0..input.len() * 8 {
            if input[p / 8] & (0x80 >> (p % 8)) != 0 {
                let window = (0..32).fold(0u32, |w, k| (w << 1) | u32::from(key_bit(p + k)));
                hash ^= window;
            }
        }
        hash
    }

    /// The suite's IPv4 vectors: (source, destination, hash of the addresses alone, hash
    /// of addresses and ports).
    const IPV4: [(&str, &str, u32, u32); 5] = [
        (
            "66.9.149.187:2794",
            "161.142.100.80:1766",
            0x323e8fc2,
            0x51ccc178,
        ),
        (
            "199.92.111.2:14230",
            "65.69.140.83:4739",
            0xd718262a,
            0xc626b0ea,
        ),
        (
            "24.19.198.95:12898",
            "12.22.207.184:38024",
            0xd2d0a5de,
            0x5c2b394a,
        ),
        (
            "38.27.205.30:48228",
            "209.142.163.6:2217",
            0x82989176,
            0xafc7327f,
        ),
        (
            "153.39.163.191:44251",
            "202.188.127.2:1303",
            0x5d1809c5,
            0x10e828a2,
        ),
    ];

    #[test]
    fn the_microsoft_ipv4_vectors_hash_as_published() {
        let toeplitz = Toeplitz::new(&VERIFICATION_KEY).unwrap();
        for (src, dst, addresses, four_tuple) in IPV4 {
            let (src, dst): (SocketAddrV4, SocketAddrV4) =
                (src.parse().unwrap(), dst.parse().unwrap());
            let input = tcp4_input(src, dst);
            assert_eq!(
                toeplitz.hash(&input[..8]),
                addresses,
                "{src} → {dst}, addresses"
            );
            assert_eq!(
                toeplitz.hash(&input),
                four_tuple,
                "{src} → {dst}, with ports"
            );
            assert_eq!(reference(&VERIFICATION_KEY, &input), four_tuple);
        }
    }

    #[test]
    fn the_microsoft_ipv6_vectors_hash_as_published() {
        // (source, destination, source port, destination port, hash with ports)
        let vectors = [
            (
                "3ffe:2501:200:1fff::7",
                "3ffe:2501:200:3::1",
                2794u16,
                1766u16,
                0x40207d3d,
            ),
            (
                "3ffe:501:8::260:97ff:fe40:efab",
                "ff02::1",
                14230,
                4739,
                0xdde51bbf,
            ),
            (
                "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
                "fe80::200:f8ff:fe21:67cf",
                44251,
                38024,
                0x02d1feef,
            ),
        ];
        let toeplitz = Toeplitz::new(&VERIFICATION_KEY).unwrap();
        assert_eq!(toeplitz.max_input(), 36);
        for (src, dst, sport, dport, expected) in vectors {
            let mut input = Vec::new();
            input.extend(src.parse::<Ipv6Addr>().unwrap().octets());
            input.extend(dst.parse::<Ipv6Addr>().unwrap().octets());
            input.extend(sport.to_be_bytes());
            input.extend(dport.to_be_bytes());
            assert_eq!(toeplitz.hash(&input), expected, "{src} → {dst}");
        }
    }

    #[test]
    fn the_tables_agree_with_the_definition_for_any_key() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        for len in [5, 8, 40, 52] {
            let key: Vec<u8> = (0..len).map(|_| next()).collect();
            let toeplitz = Toeplitz::new(&key).unwrap();
            for _ in 0..50 {
                let input: Vec<u8> = (0..toeplitz.max_input().min(12)).map(|_| next()).collect();
                assert_eq!(
                    toeplitz.hash(&input),
                    reference(&key, &input),
                    "key of {len}"
                );
            }
        }
    }

    #[test]
    fn a_key_too_short_to_hash_anything_is_refused() {
        assert!(Toeplitz::new(&[1, 2, 3, 4]).is_none());
        assert!(Toeplitz::new(&[]).is_none());
    }
}
