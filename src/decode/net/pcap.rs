//! pcap and pcapng files → frames with timestamps. Pure: works on a byte slice.
//!
//! A capture cut short (the capturing process was killed, a download broke) is normal
//! input: reading stops at the first incomplete record and says so, keeping every
//! complete frame before it. Lengths in the file are never trusted beyond the data.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// Linux "cooked" capture (tcpdump -i any), v1 and v2.
    LinuxSll,
    LinuxSll2,
    /// BSD loopback: a 4-byte address family, then IP.
    Null,
    /// Raw IP.
    Raw,
    Other(u32),
}

impl LinkType {
    fn from_code(c: u32) -> LinkType {
        match c {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            101 | 228 => LinkType::Raw,
            other => LinkType::Other(other),
        }
    }
}

impl LinkType {
    /// The LINKTYPE_ number written in capture files.
    pub fn code(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Raw => 101,
            LinkType::Other(c) => c,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a> {
    /// Capture time, µs since the Unix epoch.
    pub t_us: i64,
    pub link: LinkType,
    pub data: &'a [u8],
}

#[derive(Debug, Default)]
pub struct Capture<'a> {
    pub frames: Vec<Frame<'a>>,
    /// Why reading stopped early, if it did.
    pub truncated: Option<String>,
}

#[derive(Debug, PartialEq)]
pub enum PcapError {
    NotACapture,
}

impl std::fmt::Display for PcapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a pcap or pcapng file (unknown magic number)")
    }
}

/// Reads a whole capture held in memory.
pub fn read(b: &[u8]) -> Result<Capture<'_>, PcapError> {
    match b.get(..4) {
        Some([0x0A, 0x0D, 0x0D, 0x0A]) => Ok(read_pcapng(b)),
        Some(m) => {
            let magic = [m[0], m[1], m[2], m[3]];
            let (le, nanos) = match magic {
                [0xD4, 0xC3, 0xB2, 0xA1] => (true, false),
                [0xA1, 0xB2, 0xC3, 0xD4] => (false, false),
                [0x4D, 0x3C, 0xB2, 0xA1] => (true, true),
                [0xA1, 0xB2, 0x3C, 0x4D] => (false, true),
                _ => return Err(PcapError::NotACapture),
            };
            Ok(read_pcap(b, le, nanos))
        }
        None => Err(PcapError::NotACapture),
    }
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn read_pcap(b: &[u8], le: bool, nanos: bool) -> Capture<'_> {
    let mut cap = Capture::default();
    let Some(link) = u32_at(b, 20, le) else {
        cap.truncated = Some("the file ends inside its header".into());
        return cap;
    };
    let link = LinkType::from_code(link & 0x0FFF_FFFF);
    let mut at = 24;
    while at < b.len() {
        let (Some(sec), Some(frac), Some(incl)) = (
            u32_at(b, at, le),
            u32_at(b, at + 4, le),
            u32_at(b, at + 8, le),
        ) else {
            cap.truncated = Some(format!("the file ends inside a record header at byte {at}"));
            break;
        };
        let start = at + 16;
        let Some(data) = b.get(start..start.saturating_add(incl as usize)) else {
            cap.truncated = Some(format!("the last frame is cut off at byte {start}"));
            break;
        };
        let frac_us = if nanos {
            i64::from(frac) / 1000
        } else {
            i64::from(frac)
        };
        cap.frames.push(Frame {
            t_us: i64::from(sec) * 1_000_000 + frac_us,
            link,
            data,
        });
        at = start + incl as usize;
    }
    cap
}

struct Iface {
    link: LinkType,
    /// Timestamp units per second.
    units: u64,
}

fn read_pcapng(b: &[u8]) -> Capture<'_> {
    let mut cap = Capture::default();
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut le = true;
    let mut at = 0;
    while at < b.len() {
        if b.get(at..at + 4) == Some(&[0x0A, 0x0D, 0x0D, 0x0A]) {
            // Section header: its byte-order magic decides the endianness.
            le = b.get(at + 8..at + 12) == Some(&[0x4D, 0x3C, 0x2B, 0x1A]);
            ifaces.clear();
        }
        let (Some(kind), Some(len)) = (u32_at(b, at, le), u32_at(b, at + 4, le)) else {
            cap.truncated = Some(format!("the file ends inside a block header at byte {at}"));
            break;
        };
        let len = len as usize;
        let Some(block) = b
            .get(at..at.saturating_add(len))
            .filter(|_| len >= 12 && len.is_multiple_of(4))
        else {
            cap.truncated = Some(format!(
                "a block at byte {at} is cut off or has a bad length ({len})"
            ));
            break;
        };
        match kind {
            1 => ifaces.push(interface(block, le)),
            6 => {
                if let Some(f) = enhanced_packet(block, le, &ifaces) {
                    cap.frames.push(f);
                }
            }
            3 => {
                if let (Some(i), Some(orig)) = (ifaces.first(), u32_at(block, 8, le)) {
                    let end = (12 + orig as usize).min(len - 4);
                    cap.frames.push(Frame {
                        t_us: 0,
                        link: i.link,
                        data: &block[12.min(end)..end],
                    });
                }
            }
            _ => {}
        }
        at += len;
    }
    cap
}

fn interface(block: &[u8], le: bool) -> Iface {
    let link = LinkType::from_code(u32::from(u16_at(block, 8, le).unwrap_or(1)));
    let mut units = 1_000_000u64;
    // Options start after link type, reserved and snaplen; if_tsresol is code 9.
    let mut at = 16;
    while let (Some(code), Some(olen)) = (u16_at(block, at, le), u16_at(block, at + 2, le)) {
        if code == 0 {
            break;
        }
        if code == 9
            && let Some(&r) = block.get(at + 4)
        {
            let exp = u32::from(r & 0x7F).min(18);
            units = if r & 0x80 == 0 {
                10u64.pow(exp)
            } else {
                1u64 << exp.min(62)
            };
        }
        at += 4 + (olen as usize).div_ceil(4) * 4;
    }
    Iface {
        link,
        units: units.max(1),
    }
}

fn enhanced_packet<'a>(block: &'a [u8], le: bool, ifaces: &[Iface]) -> Option<Frame<'a>> {
    let iface = ifaces.get(u32_at(block, 8, le)? as usize)?;
    let ts = (u64::from(u32_at(block, 12, le)?) << 32) | u64::from(u32_at(block, 16, le)?);
    let caplen = u32_at(block, 20, le)? as usize;
    let data = block.get(28..28usize.checked_add(caplen)?)?;
    let t_us = (u128::from(ts) * 1_000_000 / u128::from(iface.units)).min(i64::MAX as u128) as i64;
    Some(Frame {
        t_us,
        link: iface.link,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let v: Vec<(i64, Vec<u8>)> = frames
            .iter()
            .map(|(s, us, d)| (i64::from(*s) * 1_000_000 + i64::from(*us), d.to_vec()))
            .collect();
        super::super::build::pcap(&v)
    }

    #[test]
    fn reads_pcap_frames_and_times() {
        let f = pcap(&[(10, 5, b"abc"), (11, 0, b"de")]);
        let c = read(&f).unwrap();
        assert_eq!(c.frames.len(), 2);
        assert_eq!(c.frames[0].t_us, 10_000_005);
        assert_eq!(c.frames[1].data, b"de");
        assert!(c.truncated.is_none());
    }

    #[test]
    fn truncated_pcap_keeps_complete_frames() {
        let f = pcap(&[(10, 5, b"abc"), (11, 0, b"defgh")]);
        for cut in 24..f.len() {
            let c = read(&f[..cut]).unwrap();
            assert!(c.frames.len() <= 2);
            if cut < f.len() && cut > 24 + 16 + 3 {
                assert_eq!(c.frames.len(), 1, "cut at {cut}");
                assert!(c.truncated.is_some());
            }
        }
    }

    #[test]
    fn lying_lengths_do_not_panic() {
        let mut f = pcap(&[(1, 0, b"abc")]);
        f[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let c = read(&f).unwrap();
        assert!(c.frames.is_empty() && c.truncated.is_some());
    }

    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(len - 4, 0);
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v
    }

    #[test]
    fn reads_pcapng_with_nanosecond_resolution() {
        let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&[0xFF; 8]);
        let mut f = block(0x0A0D_0D0A, &shb);
        let mut idb = vec![1, 0, 0, 0, 0, 0, 0, 0];
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        f.extend(block(1, &idb));
        let ts: u64 = 1_500_000_000_123;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(b"wxyz");
        f.extend(block(6, &epb));
        let c = read(&f).unwrap();
        assert_eq!(c.frames.len(), 1);
        assert_eq!(c.frames[0].t_us, 1_500_000_000);
        assert_eq!(c.frames[0].data, b"wxyz");
        assert_eq!(read(&f[..f.len() - 3]).unwrap().frames.len(), 0);
    }

    #[test]
    fn not_a_capture() {
        assert_eq!(read(b"hello world").unwrap_err(), PcapError::NotACapture);
        assert!(read(b"").is_err());
    }
}
