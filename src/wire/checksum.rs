//! The Internet checksum (RFC 1071) and the TCP/IPv4 pseudo-header (RFC 9293 §3.1).
//!
//! The sum adds 16-bit words into 32-bit lanes (vectorized by the compiler, in blocks short
//! enough that no lane overflows) and folds once at the end; the one's-complement sum does not depend on byte order (RFC 1071 §2(B)),
//! so words are loaded in native order and the folded result is converted to network order
//! once.

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
        // 16-bit words summed into a 32-bit accumulator cannot overflow within a block of
        // 65,536 words, so the inner loop needs no carry handling and the compiler vectorizes
        // it (eight or sixteen words per instruction); each block's sum goes into 64 bits.
        const BLOCK: usize = 2 * 65_536;
        let even = data.len() & !1;
        let mut total: u64 = 0;
        if data.len() < SMALL_INPUT {
            // Headers and pseudo-headers: the vector loop's set-up costs more than it saves.
            total = sum_words_scalar(&data[..even]);
        } else {
            let mut blocks = data[..even].chunks_exact(BLOCK);
            for block in &mut blocks {
                total += u64::from(sum_words(block));
            }
            total += u64::from(sum_words(blocks.remainder()));
        }
        let tail = &data[even..];
        if let [odd] = tail {
            // RFC 1071: an odd final byte is padded with a zero byte after it.
            total += u64::from(u16::from_ne_bytes([*odd, 0]));
        }
        self.acc = add_carry(self.acc, total);
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

/// Inputs shorter than this are summed by [`sum_words_scalar`].
const SMALL_INPUT: usize = 128;

/// Sum of the native-order 16-bit words of `data` (even length, short), four bytes at a
/// time: a one's-complement sum of 32-bit words folds to the same 16-bit sum (RFC 1071
/// §2(C)), and the 64-bit total cannot overflow for inputs this short.
#[inline]
fn sum_words_scalar(data: &[u8]) -> u64 {
    let mut quads = data.chunks_exact(4);
    let mut total: u64 = 0;
    for q in &mut quads {
        total += u64::from(u32::from_ne_bytes([q[0], q[1], q[2], q[3]]));
    }
    if let [a, b] = quads.remainder() {
        total += u64::from(u16::from_ne_bytes([*a, *b]));
    }
    total
}

/// Sum of the native-order 16-bit words of `block` (even length, at most 65,536 words).
#[inline]
fn sum_words(block: &[u8]) -> u32 {
    block
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_ne_bytes([w[0], w[1]])))
        .sum()
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
