//! A streaming pcapng writer, so the OTA flows seen live can be opened in Wireshark.
//!
//! Layout (pcapng spec, draft-ietf-opsawg-pcapng): one Section Header Block, then an
//! Interface Description Block the first time each link type is seen, then one
//! Enhanced Packet Block per frame with a microsecond timestamp. Blocks are written as
//! frames arrive and flushed, so a file being written can already be read, and a
//! writer killed mid-capture leaves every complete block readable.

use crate::decode::net::pcap::LinkType;
use std::io::{self, Write};

/// Frames longer than this are cut (and the original length kept), as tcpdump does.
pub const SNAPLEN: u32 = 262_144;

pub struct PcapngWriter<W: Write> {
    out: W,
    /// Interface ids by position: the link type each one carries.
    ifaces: Vec<LinkType>,
}

/// A block: type, total length, body padded to 4 bytes, total length again.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = u32::try_from(12 + padded).unwrap_or(u32::MAX);
    let mut v = Vec::with_capacity(12 + padded);
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    v.extend_from_slice(&total.to_le_bytes());
    v
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a file: writes the Section Header Block.
    pub fn new(mut out: W) -> io::Result<PcapngWriter<W>> {
        let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&1u16.to_le_bytes()); // major version
        shb.extend_from_slice(&0u16.to_le_bytes()); // minor version
        shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        out.write_all(&block(0x0A0D_0D0A, &shb))?;
        out.flush()?;
        Ok(PcapngWriter {
            out,
            ifaces: Vec::new(),
        })
    }

    /// The interface id for a link type, writing its description the first time.
    fn iface(&mut self, link: LinkType) -> io::Result<u32> {
        if let Some(i) = self.ifaces.iter().position(|l| *l == link) {
            return Ok(i as u32);
        }
        let code = u16::try_from(link.code()).unwrap_or(u16::MAX);
        let mut idb = code.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&SNAPLEN.to_le_bytes());
        // if_tsresol = 6 (microseconds; also the default, written to be explicit).
        idb.extend_from_slice(&[9, 0, 1, 0, 6, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        self.out.write_all(&block(1, &idb))?;
        self.ifaces.push(link);
        Ok((self.ifaces.len() - 1) as u32)
    }

    /// Writes one frame captured at `t_us` (µs since the Unix epoch) and flushes.
    pub fn write_frame(&mut self, t_us: i64, link: LinkType, data: &[u8]) -> io::Result<()> {
        let id = self.iface(link)?;
        let ts = u64::try_from(t_us).unwrap_or(0);
        let orig = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let kept = &data[..data.len().min(SNAPLEN as usize)];
        let mut epb = id.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(kept.len() as u32).to_le_bytes());
        epb.extend_from_slice(&orig.to_le_bytes());
        epb.extend_from_slice(kept);
        self.out.write_all(&block(6, &epb))?;
        self.out.flush()
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
    use crate::decode::net::pcap::read;

    #[test]
    fn round_trip_through_our_reader() {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        w.write_frame(1_700_000_000_123_456, LinkType::Ethernet, b"abcde")
            .unwrap();
        w.write_frame(1_700_000_001_000_000, LinkType::Raw, b"\x45xyz")
            .unwrap();
        w.write_frame(1_700_000_002_000_001, LinkType::Ethernet, &[])
            .unwrap();
        let bytes = w.into_inner();
        let c = read(&bytes).unwrap();
        assert!(c.truncated.is_none());
        assert_eq!(c.frames.len(), 3);
        assert_eq!(c.frames[0].t_us, 1_700_000_000_123_456);
        assert_eq!(c.frames[0].data, b"abcde");
        assert_eq!(c.frames[1].link, LinkType::Raw);
        assert_eq!(c.frames[1].data, b"\x45xyz");
        assert_eq!(c.frames[2].link, LinkType::Ethernet);
        // Two interfaces, one per link type.
        assert_eq!(
            bytes
                .windows(8)
                .filter(|w| w[..4] == [1, 0, 0, 0] && w[4..] == [32, 0, 0, 0])
                .count(),
            2
        );
    }

    #[test]
    fn a_writer_killed_midway_leaves_a_readable_file() {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        w.write_frame(1, LinkType::Ethernet, b"one").unwrap();
        w.write_frame(2, LinkType::Ethernet, b"two").unwrap();
        let bytes = w.into_inner();
        let c = read(&bytes[..bytes.len() - 5]).unwrap();
        assert_eq!(c.frames.len(), 1);
        assert!(c.truncated.is_some());
    }

    #[test]
    fn oversized_frames_are_cut_to_the_snaplen() {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        w.write_frame(1, LinkType::Ethernet, &vec![7; SNAPLEN as usize + 10])
            .unwrap();
        let bytes = w.into_inner();
        assert_eq!(read(&bytes).unwrap().frames[0].data.len(), SNAPLEN as usize);
    }
}
