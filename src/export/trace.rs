//! The trace format: JSON Lines, one event per line (see README, "Trace format").
//!
//! The first line is a header `{"ota_doctor_trace":1,...}`. Every other line is an
//! [`Event`]. Readers skip what they cannot parse and say so, because a trace cut short
//! by a killed process is still worth analysing.

use crate::event::Event;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Write};

pub const VERSION: u32 = 1;
/// Lines longer than this are skipped: no real event is that big.
pub const MAX_LINE: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Header {
    ota_doctor_trace: u32,
    tool: String,
}

/// Writes the header; call once per file.
pub fn write_header(w: &mut impl Write) -> io::Result<()> {
    let h = Header {
        ota_doctor_trace: VERSION,
        tool: format!("ota-doctor {}", env!("CARGO_PKG_VERSION")),
    };
    serde_json::to_writer(&mut *w, &h)?;
    w.write_all(b"\n")
}

pub fn write_event(w: &mut impl Write, e: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *w, e)?;
    w.write_all(b"\n")
}

#[derive(Debug, Default)]
pub struct ReadTrace {
    pub events: Vec<Event>,
    /// (line number, reason) of the first [`MAX_SKIPPED_KEPT`] lines that were skipped;
    /// `skipped_total` counts them all. A file of a million junk lines must not cost a
    /// million reasons' worth of memory.
    pub skipped: Vec<(usize, String)>,
    pub skipped_total: usize,
    pub has_header: bool,
    /// Why reading stopped before the end of the file, if it did. `events` holds what
    /// came before, which is still worth analysing.
    pub damaged: Option<String>,
}

/// Skip reasons kept for the report; the rest are only counted.
pub const MAX_SKIPPED_KEPT: usize = 100;

impl ReadTrace {
    fn skip(&mut self, line: usize, why: String) {
        self.skipped_total += 1;
        if self.skipped.len() < MAX_SKIPPED_KEPT {
            self.skipped.push((line, why));
        }
    }
}

/// Reads a trace. I/O errors fail; malformed lines are skipped and reported. A line
/// longer than [`MAX_LINE`] ends the reading (see [`ReadTrace::damaged`]): no event is
/// that big, so the file is not a trace from there on (a binary file, or lines run
/// together), and reading it to the end would only cost time.
pub fn read(r: impl BufRead) -> io::Result<ReadTrace> {
    let mut out = ReadTrace::default();
    let mut reader = r;
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        n += 1;
        match read_line_bounded(&mut reader, &mut buf)? {
            Line::End => break,
            Line::TooLong => {
                out.damaged = Some(too_long(n, out.events.len()));
                break;
            }
            Line::Complete => take_line(&mut out, n, &buf),
        }
    }
    Ok(out)
}

fn too_long(line: usize, before: usize) -> String {
    format!(
        "line {line} is longer than {} MiB; the trace is damaged there (no event is that big), so reading stopped — the {before} event(s) before it were read",
        MAX_LINE >> 20
    )
}

fn take_line(out: &mut ReadTrace, n: usize, buf: &[u8]) {
    let text = String::from_utf8_lossy(buf);
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    if n == 1 && text.contains("\"ota_doctor_trace\"") {
        out.has_header = serde_json::from_str::<Header>(text).is_ok();
        return;
    }
    match serde_json::from_str::<Event>(text) {
        Ok(mut e) => {
            // A trace from elsewhere (or an older version) may carry a password.
            e.text = crate::decode::redact::redact(&e.text).into_owned();
            e.fields
                .retain(|k, _| !matches!(k.as_str(), "auth" | "password"));
            out.events.push(e);
        }
        Err(err) => out.skip(n, err.to_string()),
    }
}

enum Line {
    Complete,
    TooLong,
    End,
}

/// Reads one line into `buf` (without its newline). Gives up as soon as the line
/// passes [`MAX_LINE`], before buffering more, so a hostile 100 MB line costs at most
/// MAX_LINE bytes of memory and is not read to its end.
fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Line> {
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if buf.is_empty() {
                Line::End
            } else {
                Line::Complete
            });
        }
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.map_or(chunk.len(), |p| p + 1);
        // +1: the newline itself does not count against the limit.
        if buf.len() + take > MAX_LINE + 1 {
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&chunk[..take]);
        r.consume(take);
        if newline.is_some() {
            buf.pop();
            return Ok(Line::Complete);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Source;

    #[test]
    fn round_trip() {
        let mut v = Vec::new();
        write_header(&mut v).unwrap();
        let e = Event::new(Source::Serial, "boot", "rst cause:2").with("boot_mode", 1i64);
        write_event(&mut v, &e).unwrap();
        let t = read(&v[..]).unwrap();
        assert!(t.has_header);
        assert_eq!(t.events, vec![e]);
    }

    #[test]
    fn truncated_and_garbage_lines_are_skipped() {
        let mut v = Vec::new();
        write_header(&mut v).unwrap();
        write_event(&mut v, &Event::new(Source::Host, "line", "a")).unwrap();
        v.extend_from_slice(b"not json\n{\"t_us\":1,\"sour");
        let t = read(&v[..]).unwrap();
        assert_eq!(t.events.len(), 1);
        assert_eq!(t.skipped.len(), 2);
    }

    fn invite() -> &'static [u8] {
        br#"{"t_us":5,"source":"net","kind":"ota.invite"}"#
    }

    #[test]
    fn huge_line_stops_reading_and_keeps_what_came_before() {
        let mut v = invite().to_vec();
        v.push(b'\n');
        v.extend(std::iter::repeat_n(b'x', MAX_LINE * 3));
        v.push(b'\n');
        v.extend_from_slice(invite());
        let t = read(&v[..]).unwrap();
        assert_eq!(t.events.len(), 1);
        let why = t.damaged.unwrap();
        assert!(why.starts_with("line 2 is longer than 1 MiB"), "{why}");
        assert!(why.contains("the 1 event(s) before it were read"), "{why}");
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let mut v = invite().to_vec();
        v.resize(MAX_LINE, b' ');
        v.push(b'\n');
        v.extend_from_slice(invite());
        let t = read(&v[..]).unwrap();
        assert_eq!((t.events.len(), t.damaged), (2, None));
    }

    #[test]
    fn skip_reasons_are_capped_but_counted() {
        let v = "junk\n".repeat(MAX_SKIPPED_KEPT * 5);
        let t = read(v.as_bytes()).unwrap();
        assert_eq!(t.skipped.len(), MAX_SKIPPED_KEPT);
        assert_eq!(t.skipped_total, MAX_SKIPPED_KEPT * 5);
    }
}
