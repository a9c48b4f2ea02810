//! The classic pcap file format (what `tcpdump -w` writes, and `tcpdump -r`, `tshark -r`
//! and Wireshark read): a 24-byte file header, then each frame after a 16-byte record
//! header. Nanosecond timestamps (magic `a1b23c4d`), Ethernet link type, written in this
//! machine's byte order as libpcap does; readers detect the order from the magic.

use std::io::{self, Write};

/// The magic of a pcap file with nanosecond timestamps.
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// The longest frame a record holds whole; longer ones are cut (their original length is
/// kept in the record).
pub const SNAPLEN: u32 = 65_535;

/// Writes frames as a pcap file into `W`.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC_NANOS.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&0i32.to_ne_bytes()); // timestamps are UTC
        header.extend_from_slice(&0u32.to_ne_bytes()); // accuracy, always 0
        header.extend_from_slice(&SNAPLEN.to_ne_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame seen at `unix_nanos` (nanoseconds since the Unix epoch).
    pub fn write(&mut self, unix_nanos: u64, frame: &[u8]) -> io::Result<()> {
        let original = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let kept = original.min(SNAPLEN);
        let secs = u32::try_from(unix_nanos / 1_000_000_000).unwrap_or(u32::MAX);
        let nanos = (unix_nanos % 1_000_000_000) as u32;
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_ne_bytes());
        record[4..8].copy_from_slice(&nanos.to_ne_bytes());
        record[8..12].copy_from_slice(&kept.to_ne_bytes());
        record[12..16].copy_from_slice(&original.to_ne_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(&frame[..kept as usize])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne32(b: &[u8]) -> u32 {
        u32::from_ne_bytes(b.try_into().unwrap())
    }

    #[test]
    fn the_header_and_a_record_are_laid_out_as_libpcap_writes_them() {
        let mut pcap = PcapWriter::new(Vec::new()).unwrap();
        pcap.write(1_700_000_001_000_000_042, &[0xaa; 60]).unwrap();
        let file = pcap.into_inner();
        assert_eq!(file.len(), 24 + 16 + 60);
        assert_eq!(ne32(&file[0..4]), 0xa1b2_3c4d);
        assert_eq!(u16::from_ne_bytes([file[4], file[5]]), 2);
        assert_eq!(u16::from_ne_bytes([file[6], file[7]]), 4);
        assert_eq!(ne32(&file[16..20]), 65_535);
        assert_eq!(ne32(&file[20..24]), 1, "Ethernet");
        let record = &file[24..40];
        assert_eq!(ne32(&record[0..4]), 1_700_000_001);
        assert_eq!(ne32(&record[4..8]), 42);
        assert_eq!(ne32(&record[8..12]), 60);
        assert_eq!(ne32(&record[12..16]), 60);
        assert!(file[40..].iter().all(|&b| b == 0xaa));
    }
}
