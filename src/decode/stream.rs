//! A serial log decoded in one pass through a bounded buffer, holding only what the
//! rules can use: every event a rule could match, plus a thinned sample of the plain
//! lines (see [`super::sample`]). Same events, times and line numbers as
//! [`super::decode_log`] for every line it holds.

use super::sample::{Sampler, materialize};
use super::split::{Line, for_each_line};
use super::times::Times;
use super::timestamp::{self, Clock, Stamp};
use super::{DecodedLog, decode_line, lines, unwrap_markdown};
use crate::event::{Event, Source};
use crate::rules::interest::Interest;
use std::collections::BTreeMap;
use std::io::Read;

/// Lines of one class held before thinning starts: enough for any log a person pastes,
/// so those are analysed line for line; a few MB of memory per class.
pub const PLAIN_BUDGET: usize = 30_000;

pub(super) struct Decoder<'a> {
    pub(super) interest: &'a Interest,
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
pub fn decode_serial<R: Read + Send>(
    r: R,
    interest: &Interest,
    budget: usize,
) -> std::io::Result<DecodedLog> {
    decode_serial_with(r, interest, budget, threads(), BATCH_BYTES)
}

/// Threads a serial log is decoded on: every core, as lines decode independently;
/// `OTA_DOCTOR_THREADS` sets it (benchmarks compare against one thread).
pub fn threads() -> usize {
    let set = std::env::var("OTA_DOCTOR_THREADS").ok();
    match set.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Bytes of lines handed to a worker at once: large enough that handing over costs
/// nothing next to decoding, small enough that the batches in flight stay a few MB.
const BATCH_BYTES: usize = 256 << 10;

/// [`decode_serial`] on `threads` threads (1: this one), `batch_bytes` of lines at a
/// time; the result does not depend on either.
pub fn decode_serial_with<R: Read + Send>(
    mut r: R,
    interest: &Interest,
    budget: usize,
    threads: usize,
    batch_bytes: usize,
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
    let input = std::io::Cursor::new(&head[skip..]).chain(r);
    if threads <= 1 {
        let interest = d.interest;
        for_each_line(input, |l| d.apply(prepare(interest, &l, None), l.bytes))?;
    } else {
        super::parallel::run(input, &mut d, threads, batch_bytes)?;
    }
    Ok(d.finish())
}

/// Bytes that `lines::clean` passes through unchanged, with nothing counted as noise.
fn is_plain_ascii(b: &[u8]) -> bool {
    let bad = |c: &u8| !((0x20..0x7f).contains(c) || *c == b'\t');
    // Whole chunks without an early exit, so the compiler tests 16 bytes at once.
    let mut chunks = b.chunks_exact(16);
    let any_bad = chunks.any(|ch| ch.iter().fold(false, |a, c| a | bad(c)));
    !any_bad && !chunks.remainder().iter().any(bad)
}

/// What one line comes to before its time is known: everything that depends on the
/// line alone, so it can be worked out on any thread.
pub(super) struct Pre {
    line: u32,
    cut: bool,
    stamp: Option<Stamp>,
    what: What,
}

enum What {
    /// No text: the line's stamp (if any) goes to the next line with text.
    Blank,
    /// A plain ASCII line of this class, decoding to a `line` (or a `log` line); its
    /// text is `bytes[body]` of the line. Decoded again only if held: most are not,
    /// and an event freed on another thread than the one that built it is costly.
    Plain {
        class: u64,
        body: std::ops::Range<usize>,
        kind: &'static str,
        names_chip: bool,
    },
    /// A decoded event (time not yet set) and how it is held (see `Interest::class`).
    Decoded {
        e: Event,
        class: Option<u64>,
        names_chip: bool,
    },
}

/// Decodes one line as far as it can be without the lines before it; `text` is the
/// line as text when the caller already knows it is UTF-8.
pub(super) fn prepare(interest: &Interest, l: &Line<'_>, text: Option<&str>) -> Pre {
    let ascii = text
        .or_else(|| std::str::from_utf8(l.bytes).ok())
        .filter(|_| is_plain_ascii(l.bytes));
    let (stamp, what) = match ascii {
        Some(text) => prepare_text(interest, text, 0.0, Some(text)),
        None => {
            let c = lines::clean(l.bytes);
            prepare_text(interest, &c.text, c.noise, None)
        }
    };
    Pre {
        line: l.line,
        cut: l.cut,
        stamp,
        what,
    }
}

/// `raw`: the line as read, when `text` is it unchanged (a plain line can then be kept
/// as a range of it).
fn prepare_text(
    interest: &Interest,
    text: &str,
    noise: f32,
    raw: Option<&str>,
) -> (Option<Stamp>, What) {
    // Forum pastes indent code blocks; the stamp is still the line's first token.
    let (stamp, rest) = timestamp::split(unwrap_markdown(text.trim()));
    let body = rest.trim_end();
    if body.trim().is_empty() {
        return (stamp, What::Blank);
    }
    let range = |raw: &str| {
        let at = body.as_ptr() as usize - raw.as_ptr() as usize;
        at..at + body.len()
    };
    if let Some(raw) = raw
        && let Some(q) = interest.quick(body)
    {
        let plain = What::Plain {
            class: q.class,
            body: range(raw),
            kind: q.kind,
            names_chip: q.names_chip,
        };
        return (stamp, plain);
    }
    let e = decode_line(Source::Serial, body, noise);
    let class = interest.class(&e);
    let names_chip = class.is_some()
        && e.fields.contains_key("uptime_ms")
        && e.fields.contains_key("file")
        && e.fields.contains_key("chip");
    if let (Some(raw), Some(class)) = (raw, class)
        && let Some(kind) = ["line", "log"].into_iter().find(|k| e.kind == *k)
    {
        let body = range(raw);
        let plain = What::Plain {
            class,
            body,
            kind,
            names_chip,
        };
        return (stamp, plain);
    }
    (
        stamp,
        What::Decoded {
            e,
            class,
            names_chip,
        },
    )
}

impl Decoder<'_> {
    /// Places a prepared line in the log; `bytes` is the line as read.
    pub(super) fn apply(&mut self, p: Pre, bytes: &[u8]) {
        self.cut_lines += usize::from(p.cut);
        if let Some(s) = p.stamp {
            self.clock.get_or_insert(s.clock);
        }
        let stamp = p
            .stamp
            .filter(|s| Some(s.clock) == self.clock)
            .map(|s| s.us);
        if let What::Blank = p.what {
            self.carry = stamp.or(self.carry);
            return;
        }
        let i = self.n;
        self.n += 1;
        let at = self.times.place(i, stamp.or(self.carry.take()), p.line);
        match p.what {
            What::Blank => {}
            What::Plain {
                class,
                body,
                kind,
                names_chip,
            } => {
                // The range came from these very bytes, which were printable ASCII.
                let text = bytes.get(body).and_then(|b| std::str::from_utf8(b).ok());
                let text = text.unwrap_or("");
                if names_chip && !self.chip_line_held {
                    self.chip_line_held = true;
                    self.held.push((i, materialize(text, at, p.line)));
                } else {
                    self.sampler(class).plain(i, at, p.line, text, kind);
                }
            }
            What::Decoded {
                mut e,
                class,
                names_chip,
            } => {
                e.line = p.line;
                e.t_us = at.t_us;
                e.timed = at.timed;
                e.approx = at.approx;
                match class {
                    Some(_) if names_chip && !self.chip_line_held => {
                        // The timeline takes the chip from the first logger line when
                        // there is no banner.
                        self.chip_line_held = true;
                        self.held.push((i, e));
                    }
                    Some(class) => self.sampler(class).event(i, e),
                    None => self.held.push((i, e)),
                }
            }
        }
    }

    fn sampler(&mut self, class: u64) -> &mut Sampler {
        let (budget, cap) = (self.budget, self.interest.bucket_cap_us);
        self.samples
            .entry(class)
            .or_insert_with(|| Sampler::new(budget, cap))
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
            all.extend(s.held.drain(..).map(|(i, h)| (i, h.into_event())));
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
