//! Byte stream → text lines.
//!
//! Serial ports hand us arbitrary chunks: a line may be split across reads, a CRLF may
//! straddle two reads, bytes may be invalid UTF-8 (wrong baud, noise) and a runaway
//! device may never send a newline. The splitter handles all of that and stamps each
//! line with the time its first byte arrived, which is what users mean by "when".

/// Longest line kept in one piece; longer runs are cut so memory stays bounded.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct RawLine {
    pub t_us: i64,
    pub bytes: Vec<u8>,
    /// True when the line was cut at [`MAX_LINE`] rather than ended by the device.
    pub cut: bool,
    /// Physical line number (1-based) in the stream, as an editor counts them.
    pub line: u32,
}

#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    first_byte_t: Option<i64>,
    /// A CR ended the previous line; an LF right after it belongs to the same break.
    after_cr: bool,
    /// Physical line the next byte belongs to (0 until the first push).
    line: u32,
    start_line: u32,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one read. `t_us` is the host time of the read.
    pub fn push(&mut self, data: &[u8], t_us: i64, out: &mut Vec<RawLine>) {
        if self.line == 0 {
            self.line = 1;
        }
        for &b in data {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => {
                    self.finish(t_us, false, out);
                    self.line = self.line.saturating_add(1);
                }
                b'\r' => {
                    self.finish(t_us, false, out);
                    self.line = self.line.saturating_add(1);
                    self.after_cr = true;
                }
                _ => {
                    if self.first_byte_t.is_none() {
                        self.first_byte_t = Some(t_us);
                        self.start_line = self.line;
                    }
                    self.buf.push(b);
                    if self.buf.len() >= MAX_LINE {
                        self.finish(t_us, true, out);
                    }
                }
            }
        }
    }

    /// Emits the partial last line, if any (end of file, port closed).
    pub fn flush(&mut self, t_us: i64, out: &mut Vec<RawLine>) {
        self.finish(t_us, false, out);
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    fn finish(&mut self, t_us: i64, cut: bool, out: &mut Vec<RawLine>) {
        let t = self.first_byte_t.take().unwrap_or(t_us);
        if self.buf.is_empty() {
            return;
        }
        out.push(RawLine {
            t_us: t,
            bytes: std::mem::take(&mut self.buf),
            cut,
            line: self.start_line.max(1),
        });
    }
}

/// Result of making a raw line printable.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanLine {
    pub text: String,
    /// Share of bytes that were invalid UTF-8 or control characters (0.0 – 1.0).
    pub noise: f32,
}

/// Strips ANSI escape sequences and makes everything else visible: invalid UTF-8 and
/// control bytes become `\xNN`, so a user can still see what arrived.
pub fn clean(bytes: &[u8]) -> CleanLine {
    let stripped = strip_ansi(bytes);
    let mut text = String::with_capacity(stripped.len());
    let mut bad = 0usize;
    let mut rest: &[u8] = &stripped;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                bad += push_visible(&mut text, s);
                break;
            }
            Err(e) => {
                let (good, tail) = rest.split_at(e.valid_up_to());
                // SAFETY-free: `good` is valid UTF-8 by construction of valid_up_to.
                bad += push_visible(&mut text, std::str::from_utf8(good).unwrap_or(""));
                let n = e.error_len().unwrap_or(tail.len()).max(1);
                for b in &tail[..n] {
                    text.push_str(&format!("\\x{b:02X}"));
                    bad += 1;
                }
                rest = &tail[n..];
            }
        }
    }
    let noise = if stripped.is_empty() {
        0.0
    } else {
        bad as f32 / stripped.len() as f32
    };
    CleanLine { text, noise }
}

fn push_visible(out: &mut String, s: &str) -> usize {
    let mut bad = 0;
    for c in s.chars() {
        if c == '\u{FEFF}' {
            // A byte-order mark (Notepad, PowerShell) is not text.
            continue;
        }
        if c == '\t' || !c.is_control() {
            if c == '\u{FFFD}' {
                bad += 1;
            }
            out.push(c);
        } else {
            out.push_str(&format!("\\x{:02X}", c as u32));
            bad += 1;
        }
    }
    bad
}

/// Removes CSI (`ESC [ … final`) and two-byte escape sequences. Device logs colour their
/// level tags; the colour codes would otherwise break every pattern.
pub fn strip_ansi(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b {
            if bytes.get(i + 1) == Some(&b'[') {
                let mut j = i + 2;
                while j < bytes.len() && !(0x40..=0x7e).contains(&bytes[j]) {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            i += 2;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            s.push(c, i as i64, &mut out);
        }
        s.flush(99, &mut out);
        out.iter().map(|l| clean(&l.bytes).text).collect()
    }

    #[test]
    fn handles_all_line_endings_and_split_crlf() {
        assert_eq!(split(&[b"a\r", b"\nb\nc\rd"]), ["a", "b", "c", "d"]);
        assert_eq!(split(&[b"one\r\n\r\ntwo\n"]), ["one", "two"]);
    }

    #[test]
    fn physical_line_numbers_for_every_line_ending() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(b"a\r\n\r\nb\rc\n\nd", 0, &mut out);
        s.flush(0, &mut out);
        let lines: Vec<u32> = out.iter().map(|l| l.line).collect();
        assert_eq!(lines, [1, 3, 4, 6]);
    }

    #[test]
    fn byte_order_mark_is_dropped() {
        assert_eq!(clean("\u{FEFF}Options".as_bytes()).text, "Options");
    }

    #[test]
    fn line_time_is_first_byte_time() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(b"hel", 10, &mut out);
        s.push(b"lo\n", 20, &mut out);
        assert_eq!(out[0].t_us, 10);
    }

    #[test]
    fn utf8_split_across_reads_is_merged() {
        let bytes = "Größe\n".as_bytes();
        assert_eq!(split(&[&bytes[..3], &bytes[3..]]), ["Größe"]);
    }

    #[test]
    fn invalid_utf8_and_controls_stay_visible() {
        let c = clean(b"ok\xff\x00x");
        assert_eq!(c.text, "ok\\xFF\\x00x");
        assert!(c.noise > 0.3);
    }

    #[test]
    fn truncated_utf8_at_end_is_kept() {
        let c = clean(&"é".as_bytes()[..1]);
        assert_eq!(c.text, "\\xC3");
    }

    #[test]
    fn ansi_colours_are_stripped() {
        let c = clean(b"\x1b[0;31mE (123) task_wdt: x\x1b[0m");
        assert_eq!(c.text, "E (123) task_wdt: x");
        assert_eq!(c.noise, 0.0);
    }

    #[test]
    fn megabyte_line_is_cut_not_buffered_forever() {
        let big = vec![b'a'; 1 << 20];
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(&big, 0, &mut out);
        assert!(s.pending() < MAX_LINE);
        assert_eq!(out.len(), (1 << 20) / MAX_LINE);
        assert!(out.iter().all(|l| l.cut && l.bytes.len() == MAX_LINE));
    }

    #[test]
    fn binary_noise_never_panics() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        let noise: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        s.push(&noise, 0, &mut out);
        s.flush(1, &mut out);
        for l in &out {
            let _ = clean(&l.bytes);
        }
        assert!(!out.is_empty());
    }

    #[test]
    fn empty_input_gives_no_lines() {
        assert!(split(&[b""]).is_empty());
    }
}
