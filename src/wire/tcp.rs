//! TCP headers and options (RFC 9293 §3.1, RFC 7323, RFC 2018).

use super::checksum::Checksum;
use super::ipv4::PROTOCOL_TCP;
use super::seq::SeqNum;
use super::WireError;
use std::fmt;
use std::net::Ipv4Addr;

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Longest TCP header: data offset 15.
pub const MAX_HEADER_LEN: usize = 60;
/// Most option bytes a header can carry.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
mod kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// The eight control bits of the TCP header.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const NONE: TcpFlags = TcpFlags(0);

    /// True if every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with the bits of `other` cleared.
    #[inline]
    pub const fn without(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & !other.0)
    }

    #[inline]
    pub const fn fin(self) -> bool {
        self.0 & Self::FIN.0 != 0
    }
    #[inline]
    pub const fn syn(self) -> bool {
        self.0 & Self::SYN.0 != 0
    }
    #[inline]
    pub const fn rst(self) -> bool {
        self.0 & Self::RST.0 != 0
    }
    #[inline]
    pub const fn psh(self) -> bool {
        self.0 & Self::PSH.0 != 0
    }
    #[inline]
    pub const fn ack(self) -> bool {
        self.0 & Self::ACK.0 != 0
    }
    #[inline]
    pub const fn urg(self) -> bool {
        self.0 & Self::URG.0 != 0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 8] = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
        let mut first = true;
        for (bit, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// Up to four SACK blocks (RFC 2018 §3), each `[left, right)` in sequence space.
#[derive(Copy, Clone, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(u32, u32); 4],
    len: u8,
}

impl SackBlocks {
    /// Most blocks one option can hold.
    pub const CAPACITY: usize = 4;

    /// Appends a block; returns false when all four are used.
    pub fn push(&mut self, left: u32, right: u32) -> bool {
        if usize::from(self.len) == Self::CAPACITY {
            return false;
        }
        self.blocks[usize::from(self.len)] = (left, right);
        self.len += 1;
        true
    }

    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..usize::from(self.len)]
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps only the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n as u8);
    }
}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The options this stack understands. Unknown options are skipped when parsing.
#[derive(Copy, Clone, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (RFC 9293 §3.7.1); only meaningful on SYN segments.
    pub mss: Option<u16>,
    /// Window scale shift (RFC 7323 §2); only meaningful on SYN segments.
    pub window_scale: Option<u8>,
    /// SACK-permitted (RFC 2018 §2); only meaningful on SYN segments.
    pub sack_permitted: bool,
    /// Timestamps `(TSval, TSecr)` (RFC 7323 §3).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks (RFC 2018 §3).
    pub sack_blocks: SackBlocks,
}

impl fmt::Debug for TcpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpOptions");
        if let Some(mss) = self.mss {
            d.field("mss", &mss);
        }
        if let Some(ws) = self.window_scale {
            d.field("window_scale", &ws);
        }
        if self.sack_permitted {
            d.field("sack_permitted", &true);
        }
        if let Some(ts) = self.timestamps {
            d.field("timestamps", &ts);
        }
        if !self.sack_blocks.is_empty() {
            d.field("sack_blocks", &self.sack_blocks);
        }
        d.finish()
    }
}

impl TcpOptions {
    /// Parses the option bytes of a header.
    ///
    /// End-of-list stops parsing; NOP is skipped; any other option must carry a length of at
    /// least 2 that stays inside `bytes`, else the whole segment is malformed. Options of a
    /// known kind but an unexpected length are ignored, as are unknown kinds (RFC 9293
    /// §3.1: "must be prepared to handle an illegal option length ... without crashing").
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions, WireError> {
        // The layout RFC 7323 Appendix A recommends, which nearly every segment of a
        // connection with timestamps carries: NOP, NOP, timestamps, nothing else.
        if let Ok(&[kind::NOP, kind::NOP, kind::TIMESTAMPS, 10, ref ts @ ..]) =
            <&[u8; 12]>::try_from(bytes)
        {
            let tsval = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
            let tsecr = u32::from_be_bytes([ts[4], ts[5], ts[6], ts[7]]);
            return Ok(TcpOptions {
                timestamps: Some((tsval, tsecr)),
                ..TcpOptions::default()
            });
        }
        let mut opts = TcpOptions::default();
        let mut i = 0;
        while i < bytes.len() {
            let k = bytes[i];
            match k {
                kind::END => break,
                kind::NOP => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let Some(&len) = bytes.get(i + 1) else {
                return Err(WireError::BadTcpOption);
            };
            let len = usize::from(len);
            if len < 2 || i + len > bytes.len() {
                return Err(WireError::BadTcpOption);
            }
            let data = &bytes[i + 2..i + len];
            match (k, data.len()) {
                (kind::MSS, 2) => opts.mss = Some(u16::from_be_bytes([data[0], data[1]])),
                (kind::WINDOW_SCALE, 1) => opts.window_scale = Some(data[0]),
                (kind::SACK_PERMITTED, 0) => opts.sack_permitted = true,
                (kind::TIMESTAMPS, 8) => {
                    let tsval = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    let tsecr = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                    opts.timestamps = Some((tsval, tsecr));
                }
                (kind::SACK, n) if n > 0 && n % 8 == 0 => {
                    for block in data.chunks_exact(8) {
                        let left = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
                        let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                        opts.sack_blocks.push(left, right);
                    }
                }
                _ => {} // unknown kind, or a known kind with an unexpected length: skip
            }
            i += len;
        }
        Ok(opts)
    }

    /// Bytes [`TcpOptions::emit`] will write (a multiple of 4, at most 40). SACK blocks that do
    /// not fit after the other options are left out.
    pub fn emitted_len(&self) -> usize {
        let base = self.emitted_len_without_sack();
        match self.sack_blocks_that_fit(base) {
            0 => base,
            blocks => base + 4 + 8 * blocks,
        }
    }

    fn emitted_len_without_sack(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamps.is_some() {
            len += 12; // SACK-permitted or two NOPs, then 10 bytes
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        len
    }

    fn sack_blocks_that_fit(&self, used: usize) -> usize {
        let room = MAX_OPTIONS_LEN.saturating_sub(used + 4) / 8;
        self.sack_blocks.len().min(room)
    }

    /// Writes the options into `buf` (which must hold [`TcpOptions::emitted_len`] bytes), in
    /// the order Linux uses, padded with NOPs to 32-bit words. Returns the length written.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let mut i = 0;
        if let Some(mss) = self.mss {
            buf[i..i + 4].copy_from_slice(&[kind::MSS, 4, (mss >> 8) as u8, mss as u8]);
            i += 4;
        }
        if let Some((tsval, tsecr)) = self.timestamps {
            if self.sack_permitted {
                buf[i..i + 2].copy_from_slice(&[kind::SACK_PERMITTED, 2]);
            } else {
                buf[i..i + 2].copy_from_slice(&[kind::NOP, kind::NOP]);
            }
            buf[i + 2..i + 4].copy_from_slice(&[kind::TIMESTAMPS, 10]);
            buf[i + 4..i + 8].copy_from_slice(&tsval.to_be_bytes());
            buf[i + 8..i + 12].copy_from_slice(&tsecr.to_be_bytes());
            i += 12;
        } else if self.sack_permitted {
            buf[i..i + 4].copy_from_slice(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]);
            i += 4;
        }
        if let Some(shift) = self.window_scale {
            buf[i..i + 4].copy_from_slice(&[kind::NOP, kind::WINDOW_SCALE, 3, shift]);
            i += 4;
        }
        let blocks = self.sack_blocks_that_fit(i);
        if blocks > 0 {
            buf[i..i + 4].copy_from_slice(&[
                kind::NOP,
                kind::NOP,
                kind::SACK,
                2 + 8 * blocks as u8,
            ]);
            i += 4;
            for &(left, right) in &self.sack_blocks.as_slice()[..blocks] {
                buf[i..i + 4].copy_from_slice(&left.to_be_bytes());
                buf[i + 4..i + 8].copy_from_slice(&right.to_be_bytes());
                i += 8;
            }
        }
        i
    }
}

/// A view of a TCP segment whose header length has been checked against the buffer.
#[derive(Debug, Clone)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Checks that the buffer holds the fixed header and the data offset lies inside it.
    /// The buffer must be exactly the segment (the IP payload), as the payload runs to its end.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, WireError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = usize::from(b[field::DATA_OFFSET] >> 4) * 4;
        if header_len < HEADER_LEN || header_len > b.len() {
            return Err(WireError::BadTcpHeaderLength);
        }
        Ok(TcpPacket { buffer })
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.bytes()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn be32(&self, r: std::ops::Range<usize>) -> u32 {
        let b = &self.bytes()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }

    pub fn seq_number(&self) -> u32 {
        self.be32(field::SEQ)
    }

    pub fn ack_number(&self) -> u32 {
        self.be32(field::ACK)
    }

    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes()[field::DATA_OFFSET] >> 4) * 4
    }

    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.bytes()[field::FLAGS])
    }

    pub fn window_len(&self) -> u16 {
        self.be16(field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    pub fn urgent_pointer(&self) -> u16 {
        self.be16(field::URGENT)
    }

    /// The raw option bytes.
    pub fn options(&self) -> &[u8] {
        &self.bytes()[HEADER_LEN..self.header_len()]
    }

    /// Parses the options (see [`TcpOptions::parse`]).
    pub fn parse_options(&self) -> Result<TcpOptions, WireError> {
        TcpOptions::parse(self.options())
    }

    pub fn payload(&self) -> &[u8] {
        &self.bytes()[self.header_len()..]
    }

    /// Length in sequence space: payload plus one for SYN and one for FIN (RFC 9293 §3.4).
    pub fn segment_len(&self) -> usize {
        let flags = self.flags();
        self.payload().len() + usize::from(flags.syn()) + usize::from(flags.fin())
    }

    /// True when the checksum over pseudo-header, header and payload is correct.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.bytes();
        let Ok(len) = u16::try_from(b.len()) else {
            return false;
        };
        Checksum::new()
            .add_pseudo_header(src, dst, PROTOCOL_TCP, len)
            .add_bytes(b)
            .is_valid()
    }
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// True when the checksum field holds just the folded pseudo-header sum: what a Linux
    /// sender leaves for the device to finish under checksum offload (`CHECKSUM_PARTIAL`),
    /// and what a veth peer hands over unfinished.
    pub fn has_partial_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let Ok(len) = u16::try_from(self.bytes().len()) else {
            return false;
        };
        self.checksum()
            == Checksum::new()
                .add_pseudo_header(src, dst, PROTOCOL_TCP, len)
                .sum()
    }
}

/// Computes and stores the checksum of a whole segment (header and payload) in place.
pub fn fill_checksum(segment: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr) {
    segment[field::CHECKSUM].copy_from_slice(&[0, 0]);
    let len = u16::try_from(segment.len()).unwrap_or(u16::MAX);
    let sum = Checksum::new()
        .add_pseudo_header(src, dst, PROTOCOL_TCP, len)
        .add_bytes(segment)
        .finish();
    segment[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
}

/// A TCP header as a value: what [`TcpRepr::parse`] reads and [`TcpRepr::emit`] writes (the
/// checksum is left zero; see [`fill_checksum`]).
///
/// The ACK bit and the acknowledgment number are one fact (as smoltcp has it): `ack` is
/// `Some` exactly when the ACK bit is set, and `flags` holds the other control bits — an ACK
/// bit in `flags` is ignored by `emit` and never set by `parse`.
#[derive(Copy, Clone, PartialEq, Eq, Default)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: SeqNum,
    /// SEG.ACK when the ACK bit is set (RFC 9293 §3.1: the field is ignored otherwise).
    pub ack: Option<SeqNum>,
    /// Control bits other than ACK.
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
}

impl fmt::Debug for TcpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TCP {}->{} <SEQ={}>",
            self.src_port, self.dst_port, self.seq
        )?;
        if let Some(ack) = self.ack {
            write!(f, "<ACK={ack}>")?;
        }
        write!(f, "<CTL={:?}><WND={}>", self.wire_flags(), self.window)?;
        if self.options != TcpOptions::default() {
            write!(f, " {:?}", self.options)?;
        }
        Ok(())
    }
}

impl TcpRepr {
    /// Reads the header fields and options of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &TcpPacket<T>) -> Result<TcpRepr, WireError> {
        let flags = packet.flags();
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: SeqNum(packet.seq_number()),
            ack: flags.ack().then(|| SeqNum(packet.ack_number())),
            flags: flags.without(TcpFlags::ACK),
            window: packet.window_len(),
            urgent: packet.urgent_pointer(),
            options: packet.parse_options()?,
        })
    }

    /// The control bits as they go on the wire: `flags` plus ACK when `ack` is set.
    pub fn wire_flags(&self) -> TcpFlags {
        let flags = self.flags.without(TcpFlags::ACK);
        if self.ack.is_some() {
            flags | TcpFlags::ACK
        } else {
            flags
        }
    }

    /// Length in sequence space of a segment with this header and `payload_len` bytes of
    /// text: SYN and FIN count one each (RFC 9293 §3.4).
    pub fn segment_len(&self, payload_len: usize) -> usize {
        payload_len + usize::from(self.flags.syn()) + usize::from(self.flags.fin())
    }

    /// Header length this value emits.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.emitted_len()
    }

    /// Writes the header into the start of `buf` (which must hold [`TcpRepr::header_len`]
    /// bytes) and returns its length. The fixed 20 bytes are written through one array (one
    /// bounds check, not one per field): this runs for every segment sent.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let options_len = self.options.emitted_len();
        let header_len = HEADER_LEN + options_len;
        let ack = self.ack.map_or(0, |a| a.0);
        let header: &mut [u8; HEADER_LEN] = (&mut buf[..HEADER_LEN])
            .try_into()
            .expect("a slice of HEADER_LEN bytes");
        header[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        header[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        header[field::SEQ].copy_from_slice(&self.seq.0.to_be_bytes());
        header[field::ACK].copy_from_slice(&ack.to_be_bytes());
        header[field::DATA_OFFSET] = ((header_len / 4) as u8) << 4;
        header[field::FLAGS] = self.wire_flags().0;
        header[field::WINDOW].copy_from_slice(&self.window.to_be_bytes());
        header[field::CHECKSUM].copy_from_slice(&[0, 0]);
        header[field::URGENT].copy_from_slice(&self.urgent.to_be_bytes());
        if options_len > 0 {
            let written = self.options.emit(&mut buf[HEADER_LEN..header_len]);
            debug_assert_eq!(written, options_len);
        }
        header_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn segment(repr: &TcpRepr, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; repr.header_len() + payload.len()];
        let h = repr.emit(&mut buf);
        buf[h..].copy_from_slice(payload);
        fill_checksum(&mut buf, SRC, DST);
        buf
    }

    #[test]
    fn the_recommended_timestamp_layout_parses_as_any_other() {
        let ts = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 1, 0];
        let opts = TcpOptions::parse(&ts).unwrap();
        assert_eq!(opts.timestamps, Some((7, 256)));
        assert_eq!(
            opts,
            TcpOptions {
                timestamps: Some((7, 256)),
                ..TcpOptions::default()
            }
        );
        // The same option in another layout (padding after it) takes the general path.
        let other = [8, 10, 0, 0, 0, 7, 0, 0, 1, 0, 1, 0];
        assert_eq!(TcpOptions::parse(&other).unwrap(), opts);
        // Twelve bytes that only start like it are parsed byte by byte.
        assert!(TcpOptions::parse(&[1, 1, 8, 11, 0, 0, 0, 7, 0, 0, 1, 0]).is_err());
    }

    #[test]
    fn syn_with_every_option_round_trips() {
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(0xfffffff0),
            ack: None,
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                sack_blocks: SackBlocks::default(),
            },
        };
        let buf = segment(&repr, b"");
        assert_eq!(buf.len(), 40);
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
        assert_eq!(p.segment_len(), 1);
    }

    #[test]
    fn sack_blocks_round_trip_and_are_capped_by_header_space() {
        let mut blocks = SackBlocks::default();
        for i in 0..4u32 {
            assert!(blocks.push(i * 100, i * 100 + 50));
        }
        assert!(!blocks.push(1, 2));
        let mut repr = TcpRepr {
            ack: Some(SeqNum(0)),
            options: TcpOptions {
                sack_blocks: blocks,
                ..TcpOptions::default()
            },
            ..TcpRepr::default()
        };
        let buf = segment(&repr, b"xy");
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(p.parse_options().unwrap().sack_blocks, blocks);
        assert_eq!(p.payload(), b"xy");

        // With timestamps only three blocks fit in the 40 option bytes.
        repr.options.timestamps = Some((5, 6));
        assert_eq!(repr.header_len(), 60);
        let buf = segment(&repr, b"");
        let parsed = TcpPacket::new_checked(&buf[..])
            .unwrap()
            .parse_options()
            .unwrap();
        assert_eq!(parsed.sack_blocks.len(), 3);
        assert_eq!(parsed.timestamps, Some((5, 6)));
    }

    #[test]
    fn options_malformed_lengths_are_errors_not_loops() {
        // Length 0, length 1, and a length running past the end.
        for bad in [
            &[2u8, 0][..],
            &[2, 1, 0, 0],
            &[2, 4, 5],
            &[8, 10, 0, 0],
            &[3],
        ] {
            assert_eq!(
                TcpOptions::parse(bad),
                Err(WireError::BadTcpOption),
                "{bad:?}"
            );
        }
        // Unknown kinds are skipped; known kinds with a wrong length are ignored.
        let opts = TcpOptions::parse(&[30, 4, 9, 9, 2, 3, 1, 3, 3, 7, 0, 2, 4]).unwrap();
        assert_eq!(opts.mss, None);
        assert_eq!(opts.window_scale, Some(7));
        // EOL ends parsing even if garbage follows.
        let opts = TcpOptions::parse(&[1, 1, 0, 2, 0]).unwrap();
        assert_eq!(opts, TcpOptions::default());
    }

    #[test]
    fn header_length_is_checked() {
        let repr = TcpRepr::default();
        let good = segment(&repr, b"");
        assert_eq!(
            TcpPacket::new_checked(&good[..19]).unwrap_err(),
            WireError::Truncated
        );
        for offset in [0u8, 4, 6, 15] {
            let mut b = good.clone();
            b[12] = offset << 4;
            assert_eq!(
                TcpPacket::new_checked(&b[..]).unwrap_err(),
                WireError::BadTcpHeaderLength,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn checksum_catches_any_single_byte_error() {
        let repr = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SeqNum(3),
            ack: Some(SeqNum(4)),
            flags: TcpFlags::PSH,
            window: 5,
            ..TcpRepr::default()
        };
        let good = segment(&repr, b"hello, world");
        for i in 0..good.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = good.clone();
                b[i] ^= x;
                let p = TcpPacket::new_checked(&b[..]);
                if let Ok(p) = p {
                    assert!(!p.verify_checksum(SRC, DST), "byte {i} xor {x:#x}");
                }
            }
        }
    }

    #[test]
    fn partial_checksum_is_recognized() {
        let repr = TcpRepr {
            src_port: 1,
            dst_port: 2,
            flags: TcpFlags::SYN,
            ..TcpRepr::default()
        };
        let mut buf = segment(&repr, b"");
        let pseudo = Checksum::new()
            .add_pseudo_header(SRC, DST, PROTOCOL_TCP, buf.len() as u16)
            .sum();
        buf[16..18].copy_from_slice(&pseudo.to_be_bytes());
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum(SRC, DST));
        assert!(p.has_partial_checksum(SRC, DST));
        let good = segment(&repr, b"");
        assert!(!TcpPacket::new_checked(&good[..])
            .unwrap()
            .has_partial_checksum(SRC, DST));
    }

    #[test]
    fn the_ack_bit_and_number_are_one_fact() {
        // An ACK number without the ACK bit is not an acknowledgment (RFC 9293 §3.1).
        let mut buf = segment(
            &TcpRepr {
                seq: SeqNum(7),
                flags: TcpFlags::SYN,
                ..TcpRepr::default()
            },
            b"",
        );
        buf[8..12].copy_from_slice(&99u32.to_be_bytes());
        let parsed = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(parsed.ack, None);
        assert_eq!(parsed.flags, TcpFlags::SYN);
        // With the bit, the number comes along and the bit is not repeated in `flags`.
        let repr = TcpRepr {
            ack: Some(SeqNum(99)),
            flags: TcpFlags::SYN,
            ..TcpRepr::default()
        };
        let buf = segment(&repr, b"");
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(p.flags(), TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
        // An ACK bit written into `flags` without a number is not emitted.
        let stray = TcpRepr {
            flags: TcpFlags::ACK | TcpFlags::RST,
            ..TcpRepr::default()
        };
        let buf = segment(&stray, b"");
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap().flags(),
            TcpFlags::RST
        );
    }

    #[test]
    fn flags_debug() {
        assert_eq!(format!("{:?}", TcpFlags::SYN | TcpFlags::ACK), "SYN|ACK");
        assert_eq!(format!("{:?}", TcpFlags::NONE), "-");
    }
}
