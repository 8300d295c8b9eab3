//! Decoders: raw input → typed [`Event`]s. Pure functions; no I/O.

pub mod host;
pub mod lines;
pub mod logprefix;
pub mod net;
mod parallel;
mod pydict;
mod recognizer;
pub mod redact;
pub mod sample;
pub mod serial;
pub mod split;
pub mod stream;
pub mod times;
pub mod timestamp;

use crate::event::{Event, Source};
use timestamp::{Clock, DAY_US};

/// Decodes one already-cleaned line from `source` into an event (time not yet set).
/// Passwords are removed here, before anything else sees the line.
pub fn decode_line(source: Source, text: &str, noise: f32) -> Event {
    match source {
        Source::Serial => {
            let text = redact::redact(text);
            let (kind, fields) = serial::classify(&text, noise);
            let mut e = Event::new(source, kind, text);
            e.fields = fields;
            e
        }
        _ => {
            let (kind, fields, shown) = host::classify(text);
            let mut e = Event::new(source, kind, redact::redact(&shown).into_owned());
            e.fields = fields;
            e
        }
    }
}

/// A decoded log file: its events and the clock its stamps are on (None = untimed).
#[derive(Debug, Default)]
pub struct DecodedLog {
    pub events: Vec<Event>,
    pub clock: Option<Clock>,
    /// Lines that were cut because they exceeded the line limit.
    pub cut_lines: usize,
    /// Things the user should know about how the file was read.
    pub notes: Vec<String>,
    /// When recording ended, if later than the last event (a capture keeps running
    /// through silence, and silence is what absence rules measure).
    pub end_us: Option<i64>,
    /// Lines read but not held (plain output past the sampling budget), by kind.
    pub unheld: std::collections::BTreeMap<String, usize>,
}

impl DecodedLog {
    /// Lines with text in the file, held or not.
    pub fn lines(&self) -> usize {
        self.events.len() + self.unheld.values().sum::<usize>()
    }

    /// Lines of one kind, held or not.
    pub fn count_kind(&self, kind: &str) -> usize {
        self.events.iter().filter(|e| e.kind == kind).count()
            + self.unheld.get(kind).copied().unwrap_or(0)
    }
}

/// Decodes a whole saved log (serial or uploader output).
///
/// Lines with a recognised timestamp prefix carry that time; lines without one inherit
/// the previous stamp (+1 µs per line, to keep order, marked `approx`), because uploaders
/// print progress bars and `Authenticating...OK` without a time. A file with no stamps
/// gets synthetic times 1 ms apart and `timed = false`; so does a file whose stamps run
/// backwards (two sessions pasted together), since its times cannot be trusted.
pub fn decode_log(source: Source, bytes: &[u8]) -> DecodedLog {
    let text = normalize_encoding(bytes);
    let mut splitter = lines::LineSplitter::new();
    let mut raw = Vec::new();
    splitter.push(&text, 0, &mut raw);
    splitter.flush(0, &mut raw);
    let mut out = DecodedLog::default();
    let mut stamps: Vec<Option<i64>> = Vec::with_capacity(raw.len());
    // A line that is only a timestamp (a silent device under a `time` filter) gives
    // its time to the next line with text.
    let mut carry = None;
    for r in &raw {
        let clean = lines::clean(&r.bytes);
        out.cut_lines += r.cut as usize;
        // Forum pastes indent code blocks; the stamp is still the line's first token.
        let (stamp, rest) = timestamp::split(unwrap_markdown(clean.text.trim()));
        if let Some(s) = stamp {
            out.clock.get_or_insert(s.clock);
        }
        let stamp = stamp.filter(|s| Some(s.clock) == out.clock).map(|s| s.us);
        let body = rest.trim_end();
        if body.trim().is_empty() {
            carry = stamp.or(carry);
            continue;
        }
        let mut e = decode_line(source, body, clean.noise);
        e.line = r.line;
        stamps.push(stamp.or(carry.take()));
        out.events.push(e);
    }
    if let Some(line) = assign_times(&mut out.events, &stamps) {
        out.notes.push(backwards_note(line));
        out.clock = None;
    }
    out
}

pub(crate) fn backwards_note(line: u32) -> String {
    format!(
        "the timestamps go backwards at line {line} (several sessions pasted together?); this file's lines are used in file order only"
    )
}

/// Whether the file starts like UTF-16 text (a byte-order mark, or NULs in odd bytes).
pub(crate) fn is_utf16(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) || looks_like_utf16le(head)
}

/// UTF-16 (PowerShell 5 `>` redirection) becomes UTF-8; a UTF-8 byte-order mark goes.
fn normalize_encoding(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let utf16 = |b: &[u8], le: bool| -> Vec<u8> {
        let units = b.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or('\u{FFFD}'))
            .collect::<String>()
            .into_bytes()
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true).into(),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false).into(),
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest.into(),
        _ if looks_like_utf16le(bytes) => utf16(bytes, true).into(),
        _ => bytes.into(),
    }
}

/// ASCII text in UTF-16LE has a NUL in nearly every odd byte.
fn looks_like_utf16le(b: &[u8]) -> bool {
    let sample = &b[..b.len().min(4096)];
    let pairs = sample.len() / 2;
    pairs >= 8
        && sample
            .chunks_exact(2)
            .filter(|c| c[1] == 0 && c[0] != 0)
            .count()
            * 10
            >= pairs * 9
}

/// Forum posts wrap pasted lines in `_…_` emphasis; the markers are not part of the log.
pub(crate) fn unwrap_markdown(line: &str) -> &str {
    match line.strip_prefix('_') {
        Some(inner) if !inner.starts_with('_') => {
            inner.trim_end_matches(['_', '.']).trim_end_matches('_')
        }
        _ => line,
    }
}

/// A backwards step larger than this means the file is not one continuous session.
pub(crate) const BACKWARDS_LIMIT_US: i64 = 5_000_000;

/// Sets event times from the per-line stamps. Returns the line where the stamps ran
/// backwards, if they did (the file is then order-only).
fn assign_times(events: &mut [Event], stamps: &[Option<i64>]) -> Option<u32> {
    let Some(first) = stamps.iter().position(Option::is_some) else {
        for (i, e) in events.iter_mut().enumerate() {
            e.t_us = i as i64 * 1000;
            e.timed = false;
        }
        return None;
    };
    let first_t = stamps[first].unwrap_or(0);
    let mut last = first_t;
    let mut day = 0i64;
    let mut backwards = None;
    for (i, e) in events.iter_mut().enumerate() {
        e.t_us = match stamps[i] {
            Some(us) => {
                let mut t = us.saturating_add(day);
                // Time-of-day logs that cross midnight would otherwise run backwards.
                if t < last.saturating_sub(DAY_US / 2) {
                    day += DAY_US;
                    t = t.saturating_add(DAY_US);
                }
                if t < last.saturating_sub(BACKWARDS_LIMIT_US) && backwards.is_none() {
                    backwards = Some(e.line);
                }
                // Unstamped lines got `last + 1`; a stamp of the same second must not
                // sort before them, or the file's own order would be lost.
                t.max(last)
            }
            None if i < first => {
                // Before the first stamp the time is unknown; keep the order only.
                e.timed = false;
                first_t.saturating_sub((first - i) as i64)
            }
            None => {
                e.approx = true;
                last.saturating_add(1)
            }
        };
        last = last.max(e.t_us);
    }
    if backwards.is_some() {
        for (i, e) in events.iter_mut().enumerate() {
            e.t_us = i as i64 * 1000;
            e.timed = false;
            e.approx = false;
        }
    }
    backwards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untimed_log_keeps_order() {
        let d = decode_log(Source::Serial, b"a\nb\r\nc");
        assert_eq!(d.events.len(), 3);
        assert!(d.events.iter().all(|e| !e.timed));
        assert!(d.events[0].t_us < d.events[2].t_us);
    }

    #[test]
    fn unstamped_lines_inherit_previous_stamp() {
        let log = b"17:48:31 [INFO]: Sending invitation to: 1.2.3.4\nAuthenticating...OK\n17:48:33 [ERROR]: Error Uploading\n";
        let d = decode_log(Source::Host, log);
        assert_eq!(d.clock, Some(Clock::TimeOfDay));
        let t: Vec<i64> = d.events.iter().map(|e| e.t_us).collect();
        assert!(t[0] < t[1] && t[1] < t[2]);
        assert_eq!(t[2] - t[0], 2_000_000);
        assert_eq!(d.events[1].kind, "espota.auth");
    }

    #[test]
    fn midnight_rollover() {
        let d = decode_log(Source::Serial, b"[23:59:59.900] a\n[00:00:00.100] b\n");
        assert_eq!(d.events[1].t_us - d.events[0].t_us, 200_000);
    }

    #[test]
    fn line_numbers_count_blank_and_crlf_lines() {
        let d = decode_log(Source::Serial, b"a\n\n\nb\n");
        assert_eq!(d.events[1].line, 4);
        let d = decode_log(Source::Serial, b"boot\r\n   \r\nhello\r\n\r\nx\r\n");
        let lines: Vec<u32> = d.events.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 3, 5]);
    }

    #[test]
    fn timestamp_only_lines_do_not_crash_and_lend_their_time() {
        let d = decode_log(Source::Serial, b"12:00:01.250 > \n");
        assert!(d.events.is_empty());
        let d = decode_log(Source::Serial, b"[2024-01-01 10:00:00]\nhello\n");
        assert!(d.events[0].timed);
        assert_eq!(d.events[0].t_us % DAY_US, 36_000_000_000);
    }

    #[test]
    fn backwards_stamps_make_the_file_order_only() {
        let d = decode_log(Source::Serial, b"[18:00:00.000] a\n[09:05:00.000] b\n");
        assert!(d.events.iter().all(|e| !e.timed));
        assert!(d.notes[0].contains("line 2"));
    }

    #[test]
    fn utf16_and_bom_are_read() {
        let mut v = vec![0xFF, 0xFE];
        for u in "No Answer\r\n".encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_log(Source::Host, &v).events[0].kind, "espota.error");
        let bom = b"\xEF\xBB\xBF17:48:31 [ERROR]: No Answer\n";
        let d = decode_log(Source::Host, bom);
        assert_eq!(d.events[0].kind, "espota.error");
        assert!(d.clock.is_some());
    }

    #[test]
    fn empty_and_binary_files() {
        assert!(decode_log(Source::Serial, b"").events.is_empty());
        let noise: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let d = decode_log(Source::Serial, &noise);
        assert!(d.events.iter().any(|e| e.kind == "garbage"));
    }
}
