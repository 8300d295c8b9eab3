//! The pcap and pcapng record formats, without I/O: given the bytes at a record
//! boundary, say what is there (a frame, something to skip) or how many bytes are
//! needed to tell. The in-memory reader and the streaming reader share it, so a file
//! decodes the same whichever way it arrives.
//!
//! Lengths in the file are untrusted. None of them sizes an allocation; a length beyond
//! what any capture tool writes stops reading with a message saying where, rather than
//! making a reader buffer (or wait for) gigabytes.

use super::LinkType;
use std::ops::Range;

/// The largest frame read: libpcap's maximum snapshot length for every link type an
/// OTA capture uses. A record claiming more is damage, not a frame.
pub const MAX_FRAME: usize = 256 * 1024;
/// The largest pcapng block parsed: a packet block of [`MAX_FRAME`] with room for its
/// options. Larger blocks of kinds not parsed (name resolution, secrets) are skipped.
pub const MAX_BLOCK: usize = MAX_FRAME + 64 * 1024;
/// Interfaces remembered per section; a file declaring more is hostile, not a capture.
const MAX_IFACES: usize = 4096;

const SHB: u32 = 0x0A0D_0D0A;
const DAMAGED: &str =
    "the file is damaged from there on (if it was copied or downloaded, fetch it again)";

/// What the bytes at a record boundary hold.
#[derive(Debug)]
pub enum Step {
    /// A frame whose data is `data` within the bytes given; the record is `len` long.
    Frame {
        t_us: i64,
        link: LinkType,
        data: Range<usize>,
        len: usize,
    },
    /// A record or block with no frame, `0` bytes long (possibly more than was given).
    Skip(usize),
    /// At least this many bytes are needed; if the file has no more, it was cut at `Cut`.
    Need(usize, Cut),
    /// The file cannot be read on from here, for this reason.
    Stop(String),
}

/// Where a file that ends too early was cut.
#[derive(Debug, Clone, Copy)]
pub enum Cut {
    FileHeader,
    RecordHeader,
    Frame,
    BlockHeader,
    Block,
}

impl Cut {
    /// Why reading stopped, for a cut at file offset `at`.
    pub fn message(self, at: u64) -> String {
        match self {
            Cut::FileHeader => "the file ends inside its header".into(),
            Cut::RecordHeader => format!("the file ends inside a record header at byte {at}"),
            Cut::Frame => format!("the last frame is cut off at byte {}", at + 16),
            Cut::BlockHeader => format!("the file ends inside a block header at byte {at}"),
            Cut::Block => format!("a block at byte {at} is cut off"),
        }
    }
}

struct Iface {
    link: LinkType,
    /// Timestamp units per second.
    units: u64,
}

enum State {
    PcapHeader { le: bool, nanos: bool },
    Pcap(PcapFile),
    Pcapng { le: bool, ifaces: Vec<Iface> },
}

struct PcapFile {
    le: bool,
    nanos: bool,
    link: LinkType,
    snaplen: u32,
}

/// Reads records one at a time; remembers the file's header and what looked wrong.
pub struct Parser {
    state: State,
    over_snaplen: u64,
    bad_packets: u64,
}

impl Parser {
    /// The parser for a file starting with these four bytes, if they are a capture's.
    pub fn new(magic: &[u8]) -> Option<Parser> {
        let (le, nanos) = match magic {
            [0x0A, 0x0D, 0x0D, 0x0A] => return Some(Parser::with(pcapng())),
            [0xD4, 0xC3, 0xB2, 0xA1] => (true, false),
            [0xA1, 0xB2, 0xC3, 0xD4] => (false, false),
            [0x4D, 0x3C, 0xB2, 0xA1] => (true, true),
            [0xA1, 0xB2, 0x3C, 0x4D] => (false, true),
            _ => return None,
        };
        Some(Parser::with(State::PcapHeader { le, nanos }))
    }

    fn with(state: State) -> Parser {
        Parser {
            state,
            over_snaplen: 0,
            bad_packets: 0,
        }
    }

    /// Whether the end of the file here is a cut (no header read yet) rather than its end.
    pub fn in_header(&self) -> bool {
        matches!(self.state, State::PcapHeader { .. })
    }

    /// The record at the start of `b`, which is at file offset `at`.
    pub fn step(&mut self, b: &[u8], at: u64) -> Step {
        match &mut self.state {
            State::PcapHeader { le, nanos } => {
                let (le, nanos) = (*le, *nanos);
                let (Some(snaplen), Some(link)) = (u32_at(b, 16, le), u32_at(b, 20, le)) else {
                    return Step::Need(24, Cut::FileHeader);
                };
                let link = LinkType::from_code(link & 0x0FFF_FFFF);
                self.state = State::Pcap(PcapFile {
                    le,
                    nanos,
                    link,
                    snaplen,
                });
                Step::Skip(24)
            }
            State::Pcap(f) => pcap_record(f, b, at, &mut self.over_snaplen),
            State::Pcapng { le, ifaces } => {
                let step = block(le, ifaces, b, at);
                if let Step::Skip(_) = step
                    && is_packet_block(b, *le)
                {
                    self.bad_packets += 1;
                }
                step
            }
        }
    }

    /// What looked wrong in the records that were read.
    pub fn notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let (n @ 1.., State::Pcap(f)) = (self.over_snaplen, &self.state) {
            v.push(format!(
                "{n} record(s) hold more bytes than the file's snapshot length ({}); they were read whole, but the file may be damaged or written by a faulty tool",
                f.snaplen
            ));
        }
        if self.bad_packets > 0 {
            v.push(format!(
                "{} packet block(s) were skipped: they claim more data than the block holds or name an interface the file never described",
                self.bad_packets
            ));
        }
        v
    }
}

fn pcapng() -> State {
    State::Pcapng {
        le: true,
        ifaces: Vec::new(),
    }
}

fn u32_at(b: &[u8], at: usize, le: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

fn u16_at(b: &[u8], at: usize, le: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

fn pcap_record(f: &PcapFile, b: &[u8], at: u64, over_snaplen: &mut u64) -> Step {
    // All 16 header bytes, though 12 would do: what `Need` asks for must be what decides.
    let (true, Some(sec), Some(frac), Some(incl)) = (
        b.len() >= 16,
        u32_at(b, 0, f.le),
        u32_at(b, 4, f.le),
        u32_at(b, 8, f.le),
    ) else {
        return Step::Need(16, Cut::RecordHeader);
    };
    if incl as usize > MAX_FRAME {
        return Step::Stop(format!(
            "the record at byte {at} claims {incl} bytes of frame data, more than any capture tool writes ({MAX_FRAME}): {DAMAGED}"
        ));
    }
    let len = 16 + incl as usize;
    if b.len() < len {
        return Step::Need(len, Cut::Frame);
    }
    if f.snaplen != 0 && incl > f.snaplen {
        *over_snaplen += 1;
    }
    let frac_us = if f.nanos { frac / 1000 } else { frac };
    Step::Frame {
        t_us: i64::from(sec) * 1_000_000 + i64::from(frac_us),
        link: f.link,
        data: 16..len,
        len,
    }
}

/// Whether `b` starts with an Enhanced or Simple Packet Block header.
fn is_packet_block(b: &[u8], le: bool) -> bool {
    matches!(u32_at(b, 0, le), Some(3 | 6))
}

/// One pcapng block. A packet block that cannot be used is a `Skip` (the caller counts
/// those); a block whose length fields cannot be believed stops reading, because the
/// next block's position is then unknown.
fn block(le: &mut bool, ifaces: &mut Vec<Iface>, b: &[u8], at: u64) -> Step {
    if b.len() < 12 {
        return Step::Need(12, Cut::BlockHeader);
    }
    if b[..4] == [0x0A, 0x0D, 0x0D, 0x0A] {
        // Section header: its byte-order magic decides the endianness of what follows.
        *le = match b[8..12] {
            [0x4D, 0x3C, 0x2B, 0x1A] => true,
            [0x1A, 0x2B, 0x3C, 0x4D] => false,
            _ => {
                return Step::Stop(format!(
                    "the section header at byte {at} has no valid byte-order magic: {DAMAGED}"
                ));
            }
        };
    }
    let (Some(kind), Some(len)) = (u32_at(b, 0, *le), u32_at(b, 4, *le)) else {
        return Step::Need(12, Cut::BlockHeader);
    };
    let len = len as usize;
    if len < 12 || !len.is_multiple_of(4) {
        return Step::Stop(format!(
            "the block at byte {at} has an impossible length ({len}): {DAMAGED}"
        ));
    }
    let parsed = matches!(kind, SHB | 1 | 3 | 6);
    if !parsed && len > MAX_BLOCK {
        return Step::Skip(len);
    }
    if len > MAX_BLOCK {
        return Step::Stop(format!(
            "the block at byte {at} claims {len} bytes, more than a packet block can hold ({MAX_BLOCK}): {DAMAGED}"
        ));
    }
    let Some(block) = b.get(..len) else {
        return Step::Need(len, Cut::Block);
    };
    if u32_at(block, len - 4, *le) != Some(len as u32) {
        return Step::Stop(format!(
            "the block at byte {at} has a trailing length that differs from its leading length ({len}): {DAMAGED}"
        ));
    }
    match kind {
        SHB => ifaces.clear(),
        1 if ifaces.len() < MAX_IFACES => ifaces.push(interface(block, *le)),
        6 => return enhanced_packet(block, *le, ifaces).unwrap_or(Step::Skip(len)),
        3 => return simple_packet(block, *le, ifaces).unwrap_or(Step::Skip(len)),
        _ => {}
    }
    Step::Skip(len)
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

fn enhanced_packet(block: &[u8], le: bool, ifaces: &[Iface]) -> Option<Step> {
    let iface = ifaces.get(u32_at(block, 8, le)? as usize)?;
    let ts = (u64::from(u32_at(block, 12, le)?) << 32) | u64::from(u32_at(block, 16, le)?);
    let caplen = u32_at(block, 20, le)? as usize;
    // The data must end before the trailing length.
    let end = 28usize
        .checked_add(caplen)
        .filter(|&e| e <= block.len() - 4)?;
    let t_us = (u128::from(ts) * 1_000_000 / u128::from(iface.units)).min(i64::MAX as u128) as i64;
    Some(Step::Frame {
        t_us,
        link: iface.link,
        data: 28..end,
        len: block.len(),
    })
}

/// A Simple Packet Block has no timestamp and belongs to the first interface.
fn simple_packet(block: &[u8], le: bool, ifaces: &[Iface]) -> Option<Step> {
    let iface = ifaces.first()?;
    let orig = u32_at(block, 8, le)? as usize;
    let end = orig.saturating_add(12).min(block.len() - 4);
    Some(Step::Frame {
        t_us: 0,
        link: iface.link,
        data: 12.min(end)..end,
        len: block.len(),
    })
}
