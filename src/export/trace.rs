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
    /// (line number, reason) of lines that were skipped.
    pub skipped: Vec<(usize, String)>,
    pub has_header: bool,
}

/// Reads a trace. I/O errors fail; malformed lines are skipped and reported.
pub fn read(r: impl BufRead) -> io::Result<ReadTrace> {
    let mut out = ReadTrace::default();
    let mut reader = r;
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        let got = read_line_bounded(&mut reader, &mut buf)?;
        if got == 0 {
            break;
        }
        n += 1;
        if buf.len() > MAX_LINE {
            out.skipped
                .push((n, format!("line longer than {} bytes", MAX_LINE)));
            continue;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if n == 1 && text.contains("\"ota_doctor_trace\"") {
            out.has_header = serde_json::from_str::<Header>(text).is_ok();
            continue;
        }
        match serde_json::from_str::<Event>(text) {
            Ok(mut e) => {
                // A trace from elsewhere (or an older version) may carry a password.
                e.text = crate::decode::redact::redact(&e.text).into_owned();
                e.fields
                    .retain(|k, _| !matches!(k.as_str(), "auth" | "password"));
                out.events.push(e);
            }
            Err(err) => out.skipped.push((n, err.to_string())),
        }
    }
    Ok(out)
}

/// Reads one line, keeping at most MAX_LINE + 1 bytes of it (the rest is drained), so a
/// hostile 100 MB line cannot exhaust memory.
fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(p) => (p + 1, true),
            None => (chunk.len(), false),
        };
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take);
        total += take;
        if done {
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            return Ok(total);
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

    #[test]
    fn huge_line_is_bounded() {
        let mut v = vec![b'x'; MAX_LINE * 3];
        v.push(b'\n');
        v.extend_from_slice(br#"{"t_us":5,"source":"net","kind":"ota.invite"}"#);
        let t = read(&v[..]).unwrap();
        assert_eq!(t.events.len(), 1);
        assert_eq!(t.skipped.len(), 1);
    }
}
