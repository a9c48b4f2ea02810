//! The Internet checksum (RFC 1071) and the TCP/IPv4 pseudo-header (RFC 9293 §3.1).
//!
//! The sum is computed over 64-bit words with end-around carry, eight bytes per step; the
//! one's-complement sum does not depend on byte order (RFC 1071 §2(B)), so words are loaded
//! in native order and the folded result is converted to network order once at the end.

use std::net::Ipv4Addr;

/// A running one's-complement sum. Feed it byte slices with [`Checksum::add_bytes`]; every
/// slice but the last must have even length so 16-bit words stay aligned across slices.
#[derive(Copy, Clone, Debug, Default)]
pub struct Checksum {
    acc: u64,
}

#[inline(always)]
fn add_carry(acc: u64, value: u64) -> u64 {
    let (sum, carry) = acc.overflowing_add(value);
    sum + carry as u64
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Checksum {
        Checksum { acc: 0 }
    }

    /// Adds `data` to the sum. An odd-length slice is padded with a zero byte at its end.
    #[inline]
    pub fn add_bytes(&mut self, data: &[u8]) -> &mut Self {
        let mut acc = self.acc;
        let mut blocks = data.chunks_exact(32);
        for block in &mut blocks {
            // Four independent words per step; the compiler keeps them in registers.
            let (w0, rest) = block.split_at(8);
            let (w1, rest) = rest.split_at(8);
            let (w2, w3) = rest.split_at(8);
            acc = add_carry(acc, u64::from_ne_bytes(w0.try_into().unwrap_or([0; 8])));
            acc = add_carry(acc, u64::from_ne_bytes(w1.try_into().unwrap_or([0; 8])));
            acc = add_carry(acc, u64::from_ne_bytes(w2.try_into().unwrap_or([0; 8])));
            acc = add_carry(acc, u64::from_ne_bytes(w3.try_into().unwrap_or([0; 8])));
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for word in &mut words {
            acc = add_carry(acc, u64::from_ne_bytes(word.try_into().unwrap_or([0; 8])));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            // Padding with zeros after the tail is exactly RFC 1071's rule for an odd byte.
            let mut last = [0u8; 8];
            last[..tail.len()].copy_from_slice(tail);
            acc = add_carry(acc, u64::from_ne_bytes(last));
        }
        self.acc = acc;
        self
    }

    /// Adds one 16-bit word given in host order (as it appears on the wire, big-endian).
    #[inline]
    pub fn add_u16(&mut self, word: u16) -> &mut Self {
        self.add_bytes(&word.to_be_bytes())
    }

    /// Adds the TCP/UDP pseudo-header for IPv4: source, destination, zero, protocol, and
    /// the length of the transport segment (RFC 9293 §3.1).
    #[inline]
    pub fn add_pseudo_header(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        segment_len: u16,
    ) -> &mut Self {
        let mut header = [0u8; 12];
        header[0..4].copy_from_slice(&src.octets());
        header[4..8].copy_from_slice(&dst.octets());
        header[9] = protocol;
        header[10..12].copy_from_slice(&segment_len.to_be_bytes());
        self.add_bytes(&header)
    }

    /// The folded 16-bit one's-complement sum, in host order.
    #[inline]
    pub fn sum(&self) -> u16 {
        let mut acc = self.acc;
        acc = (acc & 0xffff_ffff) + (acc >> 32);
        acc = (acc & 0xffff_ffff) + (acc >> 32);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        // Words were loaded in native order; the result is in native order too.
        u16::from_be(acc as u16)
    }

    /// The checksum to put in a header: the complement of the sum.
    #[inline]
    pub fn finish(&self) -> u16 {
        !self.sum()
    }

    /// True when the data summed includes a correct checksum field (the sum is all ones).
    #[inline]
    pub fn is_valid(&self) -> bool {
        self.sum() == 0xffff
    }
}

/// The Internet checksum of `data` alone.
pub fn checksum(data: &[u8]) -> u16 {
    Checksum::new().add_bytes(data).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain RFC 1071 definition: big-endian 16-bit words, 32-bit accumulator.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            acc += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
            i += 2;
        }
        if i < data.len() {
            acc += u32::from(data[i]) << 8;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Checksum::new().add_bytes(&data).sum(), 0xddf2);
    }

    #[test]
    fn ipv4_header_example() {
        // A well-known IPv4 header whose checksum is 0xb861.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&header), 0xb861);
    }

    #[test]
    fn matches_reference_on_all_lengths() {
        let data: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in 0..data.len() {
            assert_eq!(
                checksum(&data[..len]),
                reference_checksum(&data[..len]),
                "len {len}"
            );
        }
    }

    #[test]
    fn split_sums_equal_whole_sum() {
        let data: Vec<u8> = (0..1500u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = checksum(&data);
        for split in (0..data.len()).step_by(2) {
            let mut c = Checksum::new();
            c.add_bytes(&data[..split]).add_bytes(&data[split..]);
            assert_eq!(c.finish(), whole, "split at {split}");
        }
    }

    #[test]
    fn all_ones_carry_folds() {
        let data = [0xffu8; 64];
        assert_eq!(checksum(&data), reference_checksum(&data));
        let data = [0x80u8; 3];
        assert_eq!(checksum(&data), reference_checksum(&data));
    }
}
