//! pcap and pcapng files → frames with timestamps, either from a byte slice ([`read`])
//! or streamed from any reader through a fixed buffer ([`Reader`]).
//!
//! A capture cut short (the capturing process was killed, a download broke) is normal
//! input: reading stops at the first incomplete record and says so, keeping every
//! complete frame before it. Lengths in the file are never trusted beyond the data.

mod format;
mod reader;

pub use format::{MAX_BLOCK, MAX_FRAME};
use format::{Parser, Step};
pub use reader::Reader;

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
    /// The same bytes as the previous frame that was not an echo, less than 1 ms
    /// later: on `lo` every frame is captured twice (out and in).
    pub echo: bool,
}

#[derive(Debug, Default)]
pub struct Capture<'a> {
    pub frames: Vec<Frame<'a>>,
    /// Why reading stopped early, if it did.
    pub truncated: Option<String>,
    /// What looked wrong in the records that were read.
    pub notes: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum PcapError {
    NotACapture,
    /// The file could not be read (the operating system's words, with the offset).
    Io(String),
}

impl std::fmt::Display for PcapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcapError::NotACapture => {
                f.write_str("not a pcap or pcapng file (unknown magic number)")
            }
            PcapError::Io(e) => f.write_str(e),
        }
    }
}

/// How far (in bytes of file) an echo may be from its original. On `lo` it follows it
/// directly; the limit lets the streaming reader keep the original in its buffer.
const ECHO_GAP: usize = MAX_BLOCK;

/// Whether a frame repeats `prev` (time, data) as `lo` captures do; `gap` is the number
/// of bytes between them in the file. Times are compared first: that is cheap and
/// almost always settles it.
fn is_echo(prev: Option<(i64, &[u8])>, gap: usize, t_us: i64, data: &[u8]) -> bool {
    prev.is_some_and(|(pt, pd)| t_us.saturating_sub(pt) < 1000 && gap <= ECHO_GAP && pd == data)
}

/// Reads a whole capture held in memory; frames borrow from `b`.
pub fn read(b: &[u8]) -> Result<Capture<'_>, PcapError> {
    let mut p =
        Parser::new(b.get(..4).ok_or(PcapError::NotACapture)?).ok_or(PcapError::NotACapture)?;
    let mut cap = Capture::default();
    let mut at = 0;
    // The last frame that was not an echo, and where its data ends.
    let mut prev: Option<(i64, &[u8])> = None;
    let mut prev_end = 0;
    while at < b.len() || p.in_header() {
        let rest = &b[at..];
        match p.step(rest, at as u64) {
            Step::Frame {
                t_us,
                link,
                data,
                len,
            } => {
                let (start, end) = (at + data.start, at + data.end);
                let data = &b[start..end];
                let echo = is_echo(prev, start - prev_end, t_us, data);
                if !echo {
                    (prev, prev_end) = (Some((t_us, data)), end);
                }
                cap.frames.push(Frame {
                    t_us,
                    link,
                    data,
                    echo,
                });
                at += len;
            }
            Step::Skip(n) if n <= rest.len() => at += n,
            Step::Skip(_) => {
                cap.truncated = Some(format::Cut::Block.message(at as u64));
                break;
            }
            Step::Need(_, cut) => {
                cap.truncated = Some(cut.message(at as u64));
                break;
            }
            Step::Stop(why) => {
                cap.truncated = Some(why);
                break;
            }
        }
    }
    cap.notes = p.notes();
    Ok(cap)
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
