//! Fuzz entry points, one per parser, each calling the library the way the app does.
//!
//! The fuzz targets in `fuzz_targets/` are one-line wrappers around these functions, and
//! `tests/fuzz_regressions.rs` includes this file by path, so every saved crash input is
//! replayed through exactly the code the fuzzer ran, on stable `cargo test`.
//!
//! Besides "no panic", each entry checks a few properties that must hold for any input;
//! a broken property panics, so the fuzzer reports it like a crash.

use ota_doctor::decode::lines::{self, LineSplitter, RawLine};
use ota_doctor::decode::net::{self, build, ota::OtaDecoder, packet, pcap};
use ota_doctor::decode::{self, host, serial};
use ota_doctor::event::{Event, Source};
use ota_doctor::export::trace;
use ota_doctor::rules::interest::Interest;
use ota_doctor::rules::{RuleSet, example};
use std::sync::LazyLock;

/// What `analyze --serial-log` uses to tell lines apart before decoding them.
static INTEREST: LazyLock<Interest> = LazyLock::new(|| Interest::for_serial(&RuleSet::builtin()));
use ota_doctor::timeline::Builder;

/// Serial bytes arrive in reads of any size: the lines must not depend on where the
/// reads were cut, must never exceed the line limit, and must keep every byte that is
/// not a line break.
pub fn serial_lines(data: &[u8]) {
    let (sizes, body) = data.split_at(data.len().min(4));
    let whole = split_lines(body, &[body.len().max(1)]);
    let chunked = split_lines(body, &chunk_sizes(sizes));
    let strip = |v: &[RawLine]| -> Vec<(Vec<u8>, bool, u32)> {
        v.iter().map(|l| (l.bytes.clone(), l.cut, l.line)).collect()
    };
    assert_eq!(strip(&whole), strip(&chunked), "lines depend on read sizes");
    for l in &whole {
        assert!(l.bytes.len() <= lines::MAX_LINE, "line over the limit");
        assert!(!l.bytes.iter().any(|&b| b == b'\n' || b == b'\r'));
        let _ = lines::clean(&l.bytes);
    }
    let kept: Vec<u8> = whole.iter().flat_map(|l| l.bytes.iter().copied()).collect();
    let expected: Vec<u8> = body
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect();
    assert_eq!(kept, expected, "the splitter lost or invented bytes");
    let log = decode_log_checked(Source::Serial, body);
    // The streamed decoder `analyze` runs, holding every line: the same events as
    // decoding the whole file at once. One thread: starting workers per input cost 8
    // of every 9 executions, and tests/stream_decode.rs cuts batches everywhere.
    let streamed = decode::stream::decode_serial_with(body, &INTEREST, usize::MAX, 1, 64)
        .expect("reading from memory cannot fail");
    assert_eq!(streamed.events, log.events, "streamed decoding differs");
}

/// Read sizes from the fuzzer's bytes; 0 would stall, so every size is at least 1.
fn chunk_sizes(b: &[u8]) -> Vec<usize> {
    if b.is_empty() {
        return vec![1];
    }
    b.iter().map(|&x| usize::from(x) + 1).collect()
}

fn split_lines(data: &[u8], sizes: &[usize]) -> Vec<RawLine> {
    let mut sp = LineSplitter::new();
    let mut out = Vec::new();
    let (mut at, mut i, mut t) = (0, 0, 0i64);
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        sp.push(&data[at..at + n], t, &mut out);
        at += n;
        i += 1;
        t += 1000;
    }
    sp.flush(t, &mut out);
    out
}

/// A decoded log keeps file order in its line numbers, whatever its stamps say.
fn decode_log_checked(source: Source, data: &[u8]) -> decode::DecodedLog {
    let log = decode::decode_log(source, data);
    let ordered = log.events.windows(2).all(|w| w[0].line <= w[1].line);
    assert!(ordered, "events out of file order");
    log
}

/// The banner and error recognisers on one arbitrary line, as the serial and the
/// uploader paths call them.
pub fn serial_classify(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let noise = f32::from(n) / 255.0;
    let text = String::from_utf8_lossy(rest);
    let _ = serial::classify(&text, noise);
    let _ = serial::esp32_error_code(&text);
    let e = decode::decode_line(Source::Serial, &text, noise);
    assert_eq!(e.source, Source::Serial);
    quick_agrees(text.trim_end());
}

/// A line told apart without decoding (printable ASCII only, as the streamed decoder
/// asks) has the kind, class and chip naming that decoding gives it.
fn quick_agrees(line: &str) {
    if !line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return;
    }
    let Some(q) = INTEREST.quick(line) else {
        return;
    };
    let e = decode::decode_line(Source::Serial, line, 0.0);
    let names_chip = ["uptime_ms", "file", "chip"]
        .iter()
        .all(|f| e.fields.contains_key(f));
    let decoded = (&*e.kind, INTEREST.class(&e), names_chip);
    assert_eq!((q.kind, Some(q.class), q.names_chip), decoded, "{line:?}");
}

/// The uploader-output parser: line by line, then as a whole saved log.
pub fn host_log(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in text.lines().take(64) {
        let _ = host::classify(line);
        let _ = decode::decode_line(Source::Host, line, 0.0);
    }
    decode_log_checked(Source::Host, data);
}

/// A capture file: the reader alone, then the whole decode the app runs.
pub fn capture(data: &[u8]) {
    let read = pcap::read(data);
    let decoded = net::decode_capture(data);
    assert_eq!(read.is_ok(), decoded.is_ok(), "reader and decoder disagree");
    if let Ok((log, _)) = decoded {
        let sorted = log.events.windows(2).all(|w| w[0].t_us <= w[1].t_us);
        assert!(sorted, "capture events not in time order");
    }
}

/// Frames built from the fuzzer's bytes, fed through the packet parser into the OTA
/// decoder. Most frames are built with valid Ethernet/IPv4 framing around fuzzed
/// UDP/TCP contents, so the fuzzer spends its time in the OTA logic, not in checksums
/// of headers it would rarely get right.
pub fn packet_ota(data: &[u8]) {
    let mut dec = OtaDecoder::new();
    let mut t = 0i64;
    for rec in Records(data) {
        t += i64::from(rec.dt) * 1000;
        let frame = rec.frame();
        if let Some(p) = packet::parse(pcap::LinkType::Ethernet, &frame) {
            let _ = dec.packet(t, &p);
        }
        let _ = packet::is_fragment(pcap::LinkType::Ethernet, &frame);
        let _ = packet::parse(rec.link(), rec.body);
    }
    let _ = dec.finish(t);
    let _ = dec.notes();
}

/// One frame's worth of fuzz bytes: `[kind, dt, sport, dport, flags/seq…]` then body.
struct Record<'a> {
    kind: u8,
    dt: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    seq: u32,
    body: &'a [u8],
}

/// Ports the OTA decoder cares about, so two bytes reach them often.
const PORTS: [u16; 6] = [8266, 3232, 3232 + 1, 8266 + 1, 48266, 6053];

fn port(b: u8) -> u16 {
    PORTS
        .get(usize::from(b))
        .copied()
        .unwrap_or(u16::from(b) << 8 | 0x11)
}

impl Record<'_> {
    fn frame(&self) -> Vec<u8> {
        let (host, dev) = ([192, 168, 1, 2], [192, 168, 1, 50]);
        let (src, dst) = if self.kind & 0x80 == 0 {
            (host, dev)
        } else {
            (dev, host)
        };
        match self.kind & 0x03 {
            0 => build::frame(src, dst, 17, &build::udp(self.sport, self.dport, self.body)),
            1 => {
                let seg = build::tcp_seg(
                    self.sport, self.dport, self.flags, self.seq, self.seq, 4096, self.body,
                );
                build::frame(src, dst, 6, &seg)
            }
            2 => build::frame(src, dst, 1, self.body),
            _ => self.body.to_vec(),
        }
    }

    fn link(&self) -> pcap::LinkType {
        use pcap::LinkType::*;
        [Ethernet, LinuxSll, LinuxSll2, Null, Raw][usize::from(self.flags % 5)]
    }
}

/// Splits fuzz bytes into records: a 10-byte head, a length byte, then that many bytes.
struct Records<'a>(&'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let (head, rest) = self.0.split_at_checked(11)?;
        let len = usize::from(head[10]).min(rest.len());
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Some(Record {
            kind: head[0],
            dt: head[1],
            sport: port(head[2]),
            dport: port(head[3]),
            flags: head[4],
            seq: u32::from_be_bytes([head[5], head[6], head[7], head[8]]),
            body,
        })
        .map(|r| {
            if head[9] & 1 == 1 {
                Record {
                    sport: r.dport,
                    dport: r.sport,
                    ..r
                }
            } else {
                r
            }
        })
    }
}

/// A trace file, read as `analyze --trace` reads it, then run through the built-in
/// rules, because a trace carries arbitrary kinds and fields straight into them.
pub fn trace(data: &[u8]) {
    let Ok(t) = trace::read(data) else {
        return;
    };
    assert!(
        t.skipped.len() <= trace::MAX_SKIPPED_KEPT,
        "skip reasons not capped"
    );
    assert!(t.skipped.len() <= t.skipped_total);
    analyze(t.events);
}

fn analyze(events: Vec<Event>) {
    static RULES: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    let set = RULES.get_or_init(RuleSet::builtin);
    let mut b = Builder::new();
    b.events(events);
    let _ = ota_doctor::analysis::analyze(set, &b.build());
}

/// A user rule file: loaded and checked, then its own examples run against it.
pub fn rule_load(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let mut set = RuleSet::default();
    let errs = set.add_sources([("fuzz.toml".to_string(), src.to_string())]);
    for d in &errs.0 {
        assert!(!d.message.is_empty(), "diagnostic without a message");
        let _ = d.to_string();
    }
    let _ = example::run_all(&set, None);
}
