//! A serial log decoded in one pass through a bounded buffer, holding only what the
//! rules can use: every event a rule could match, plus a thinned sample of the plain
//! lines (see [`super::sample`]). Same events, times and line numbers as
//! [`super::decode_log`] for every line it holds.

use super::sample::Sampler;
use super::split::{Line, for_each_line};
use super::times::{Placed, Times};
use super::timestamp::{self, Clock};
use super::{DecodedLog, decode_line, lines, unwrap_markdown};
use crate::event::{Event, Source};
use crate::rules::interest::Interest;
use std::collections::BTreeMap;
use std::io::Read;

/// Lines of one class held before thinning starts: enough for any log a person pastes,
/// so those are analysed line for line; a few MB of memory per class.
pub const PLAIN_BUDGET: usize = 30_000;

struct Decoder<'a> {
    interest: &'a Interest,
    times: Times,
    clock: Option<Clock>,
    /// A timestamp-only line lends its time to the next line with text.
    carry: Option<i64>,
    /// Events so far (lines with text).
    n: u64,
    held: Vec<(u64, Event)>,
    /// Plain lines, and lines the same selections pick, per class (see `Interest::class`).
    samples: BTreeMap<u64, Sampler>,
    budget: usize,
    cut_lines: usize,
    /// The first ESP32 logger line names the chip; later ones add nothing.
    chip_line_held: bool,
}

/// Decodes a serial log from `r`. `budget` is how many plain lines may be held
/// (`usize::MAX` holds all, for a trace export).
pub fn decode_serial<R: Read>(
    mut r: R,
    interest: &Interest,
    budget: usize,
) -> std::io::Result<DecodedLog> {
    let mut head = Vec::new();
    (&mut r).take(4096).read_to_end(&mut head)?;
    if super::is_utf16(&head) {
        // PowerShell output: small, and not worth a streaming UTF-16 decoder.
        r.read_to_end(&mut head)?;
        return Ok(super::decode_log(Source::Serial, &head));
    }
    let skip = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut d = Decoder {
        interest,
        times: Times::default(),
        clock: None,
        carry: None,
        n: 0,
        held: Vec::new(),
        samples: BTreeMap::new(),
        budget,
        cut_lines: 0,
        chip_line_held: false,
    };
    for_each_line(std::io::Cursor::new(&head[skip..]).chain(r), |l| d.line(l))?;
    Ok(d.finish())
}

/// Bytes that `lines::clean` passes through unchanged, with nothing counted as noise.
fn is_plain_ascii(b: &[u8]) -> bool {
    b.iter().all(|&c| (0x20..0x7f).contains(&c) || c == b'\t')
}

impl Decoder<'_> {
    fn line(&mut self, l: Line<'_>) {
        self.cut_lines += usize::from(l.cut);
        match std::str::from_utf8(l.bytes) {
            Ok(text) if is_plain_ascii(l.bytes) => self.text(text, 0.0, l.line, true),
            _ => {
                let c = lines::clean(l.bytes);
                self.text(&c.text, c.noise, l.line, false);
            }
        }
    }

    fn text(&mut self, text: &str, noise: f32, line: u32, plain: bool) {
        // Forum pastes indent code blocks; the stamp is still the line's first token.
        let (stamp, rest) = timestamp::split(unwrap_markdown(text.trim()));
        if let Some(s) = stamp {
            self.clock.get_or_insert(s.clock);
        }
        let stamp = stamp.filter(|s| Some(s.clock) == self.clock).map(|s| s.us);
        let body = rest.trim_end();
        if body.trim().is_empty() {
            self.carry = stamp.or(self.carry);
            return;
        }
        let i = self.n;
        self.n += 1;
        let at = self.times.place(i, stamp.or(self.carry.take()), line);
        if let Some(class) = plain.then(|| self.interest.quick_class(body)).flatten() {
            self.sampler(class).plain(i, at, line, body);
            return;
        }
        let e = self.decode(body, noise, line, at);
        match self.interest.class(&e) {
            Some(_) if self.names_chip(&e) => self.held.push((i, e)),
            Some(class) => self.sampler(class).event(i, e),
            None => self.held.push((i, e)),
        }
    }

    fn sampler(&mut self, class: u64) -> &mut Sampler {
        let budget = self.budget;
        self.samples
            .entry(class)
            .or_insert_with(|| Sampler::new(budget))
    }

    fn decode(&self, body: &str, noise: f32, line: u32, at: Placed) -> Event {
        let mut e = decode_line(Source::Serial, body, noise);
        e.line = line;
        e.t_us = at.t_us;
        e.timed = at.timed;
        e.approx = at.approx;
        e
    }

    /// The timeline takes the chip from the first logger line when there is no banner.
    fn names_chip(&mut self, e: &Event) -> bool {
        let names = e.fields.contains_key("uptime_ms")
            && e.fields.contains_key("file")
            && e.fields.contains_key("chip");
        let first = names && !self.chip_line_held;
        self.chip_line_held |= names;
        first
    }

    fn finish(mut self) -> DecodedLog {
        let mut all = std::mem::take(&mut self.held);
        let mut out = DecodedLog {
            clock: self.clock,
            cut_lines: self.cut_lines,
            ..DecodedLog::default()
        };
        for s in self.samples.values_mut() {
            s.flush();
            all.append(&mut s.held);
            for (k, n) in &s.unheld {
                *out.unheld.entry(k.clone()).or_default() += n;
            }
        }
        all.sort_by_key(|(i, _)| *i);
        out.events = all
            .into_iter()
            .map(|(i, mut e)| {
                self.times.finish(i, &mut e);
                e
            })
            .collect();
        if let Some(line) = self.times.backwards {
            out.notes.push(super::backwards_note(line));
            out.clock = None;
        }
        out
    }
}
