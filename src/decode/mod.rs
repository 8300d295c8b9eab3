//! Decoders: raw input → typed [`Event`]s. Pure functions; no I/O.

pub mod host;
pub mod lines;
mod pydict;
mod recognizer;
pub mod serial;
pub mod timestamp;

use crate::event::{Event, Source};
use timestamp::{Clock, DAY_US};

/// Decodes one already-cleaned line from `source` into an event (time not yet set).
pub fn decode_line(source: Source, text: &str, noise: f32) -> Event {
    match source {
        Source::Serial => {
            let (kind, fields) = serial::classify(text, noise);
            let mut e = Event::new(source, kind, text);
            e.fields = fields;
            e
        }
        _ => {
            let (kind, fields, shown) = host::classify(text);
            let mut e = Event::new(source, kind, shown);
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
}

/// Decodes a whole saved log (serial or uploader output).
///
/// Lines with a recognised timestamp prefix carry that time; lines without one inherit
/// the previous stamp (+1 µs per line, to keep order), because uploaders print
/// progress bars and `Authenticating...OK` without a time. A file with no stamps at all
/// gets synthetic times 1 ms apart and `timed = false`.
pub fn decode_log(source: Source, bytes: &[u8]) -> DecodedLog {
    let mut splitter = lines::LineSplitter::new();
    let mut raw = Vec::new();
    splitter.push(bytes, 0, &mut raw);
    splitter.flush(0, &mut raw);
    let mut out = DecodedLog::default();
    let mut stamps: Vec<Option<i64>> = Vec::with_capacity(raw.len());
    let mut line_no = 1u32;
    for r in &raw {
        let clean = lines::clean(&r.bytes);
        out.cut_lines += r.cut as usize;
        // Forum pastes indent code blocks; the stamp is still the line's first token.
        let (stamp, rest) = timestamp::split(unwrap_markdown(clean.text.trim()));
        if let Some(s) = stamp {
            out.clock.get_or_insert(s.clock);
        }
        let body = rest.trim_end();
        if body.trim().is_empty() {
            continue;
        }
        let mut e = decode_line(source, body, clean.noise);
        e.line = line_no;
        stamps.push(stamp.filter(|s| Some(s.clock) == out.clock).map(|s| s.us));
        out.events.push(e);
        line_no = line_no.saturating_add(1);
    }
    assign_times(&mut out.events, &stamps, out.clock.is_some());
    renumber_lines(&mut out.events, bytes);
    out
}

/// Forum posts wrap pasted lines in `_…_` emphasis; the markers are not part of the log.
fn unwrap_markdown(line: &str) -> &str {
    match line.strip_prefix('_') {
        Some(inner) if !inner.starts_with('_') => {
            inner.trim_end_matches(['_', '.']).trim_end_matches('_')
        }
        _ => line,
    }
}

fn assign_times(events: &mut [Event], stamps: &[Option<i64>], timed: bool) {
    if !timed {
        for (i, e) in events.iter_mut().enumerate() {
            e.t_us = i as i64 * 1000;
            e.timed = false;
        }
        return;
    }
    let first = stamps.iter().position(Option::is_some).unwrap_or(0);
    let mut last = stamps[first].unwrap_or(0);
    let mut day = 0i64;
    for (i, e) in events.iter_mut().enumerate() {
        let t = match stamps[i] {
            Some(us) => {
                // Time-of-day logs that cross midnight would otherwise run backwards.
                if us + day < last - DAY_US / 2 {
                    day += DAY_US;
                }
                // Unstamped lines got `last + 1`; a stamp of the same second must not
                // sort before them, or the file's own order would be lost.
                (us + day).max(last)
            }
            None if i < first => {
                // Before the first stamp the time is unknown; keep the order only.
                e.timed = false;
                last - (first - i) as i64
            }
            None => last + 1,
        };
        last = last.max(t);
        e.t_us = t;
    }
}

/// Events carry the physical line number of the input file, counting every line break
/// (blank lines and CR-separated progress updates included) as an editor would.
fn renumber_lines(events: &mut [Event], bytes: &[u8]) {
    // The splitter drops empty lines; recompute numbers by walking the raw bytes so
    // evidence can point the user at the right line of their file.
    let mut starts = Vec::new();
    let mut line = 1u32;
    let mut at_line_start = true;
    let mut prev_cr = false;
    for &b in bytes {
        if b == b'\n' {
            if !prev_cr {
                line += 1;
            }
            at_line_start = true;
            prev_cr = false;
            continue;
        }
        prev_cr = b == b'\r';
        if prev_cr {
            at_line_start = true;
            continue;
        }
        if at_line_start {
            starts.push(line);
            at_line_start = false;
        }
    }
    // `starts` has one entry per non-empty physical segment; events skipped blank bodies
    // (e.g. lines that were only a timestamp), so only map when the counts agree.
    if starts.len() == events.len() {
        for (e, l) in events.iter_mut().zip(starts) {
            e.line = l;
        }
    }
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
    fn line_numbers_count_blank_lines() {
        let d = decode_log(Source::Serial, b"a\n\n\nb\n");
        assert_eq!(d.events[1].line, 4);
    }

    #[test]
    fn empty_and_binary_files() {
        assert!(decode_log(Source::Serial, b"").events.is_empty());
        let noise: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let d = decode_log(Source::Serial, &noise);
        assert!(d.events.iter().any(|e| e.kind == "garbage"));
    }
}
