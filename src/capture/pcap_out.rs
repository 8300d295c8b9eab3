//! Streams captured frames to a classic pcap file as they arrive, so a run that is
//! killed still leaves every frame written so far readable (by us, tcpdump, Wireshark).

use crate::decode::net::pcap::LinkType;
use std::io::{self, Write};

pub struct PcapWriter<W: Write> {
    out: W,
}

/// The pcap LINKTYPE number of a link type.
pub fn link_code(link: LinkType) -> u32 {
    match link {
        LinkType::Ethernet => 1,
        LinkType::Raw => 101,
        LinkType::LinuxSll => 113,
        LinkType::LinuxSll2 => 276,
        LinkType::Null => 0,
        LinkType::Other(c) => c,
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header: little-endian, microsecond stamps, 256 KiB snap length.
    pub fn new(mut out: W, link: LinkType) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&link_code(link).to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    pub fn frame(&mut self, t_us: i64, bytes: &[u8]) -> io::Result<()> {
        let t = t_us.max(0);
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(
            &u32::try_from(t / 1_000_000)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        h[4..8].copy_from_slice(&((t % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&bytes[..len as usize])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::net::pcap;

    #[test]
    fn our_reader_reads_what_we_write() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Raw).unwrap();
        w.frame(1_700_000_000_123_456, b"\x45abc").unwrap();
        w.frame(1_700_000_001_000_001, b"\x45de").unwrap();
        let bytes = w.out;
        let cap = pcap::read(&bytes).unwrap();
        assert_eq!(cap.frames.len(), 2);
        assert_eq!(cap.frames[0].t_us, 1_700_000_000_123_456);
        assert_eq!(cap.frames[1].link, LinkType::Raw);
        assert_eq!(cap.frames[1].data, b"\x45de");
        assert!(cap.truncated.is_none());
    }
}
