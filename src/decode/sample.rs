//! Plain serial lines held as a thinned sample once there are too many of them.
//!
//! Rules use plain lines only as "the device was printing then". Up to the budget every
//! line is held, so an ordinary log is analysed exactly as before. Past it the lines are
//! thinned to the first and the last of each time bucket, the bucket widening until the
//! sample fits in half the budget. That keeps the question "did anything print between
//! t and t + d" answered exactly for every d at least one bucket wide (a line in the
//! window has its bucket's first or last line in the window too); only which line is
//! shown as evidence may change.

use super::decode_line;
use super::times::Placed;
use crate::event::{Event, Source};
use std::collections::BTreeMap;

/// Narrowest bucket once thinning starts (µs).
const FIRST_WIDTH_US: i64 = 1000;

/// A held line. Plain lines are decoded only once they are sure to stay: most lines
/// held early are thinned out later, and decoding them first would cost more than all
/// the rest of their handling.
pub enum Held {
    Event(Event),
    Plain {
        text: Box<str>,
        at: Placed,
        line: u32,
        kind: &'static str,
    },
}

impl Held {
    fn plain(text: &str, at: Placed, line: u32, kind: &'static str) -> Held {
        let text = text.into();
        Held::Plain {
            text,
            at,
            line,
            kind,
        }
    }

    pub fn t_us(&self) -> i64 {
        match self {
            Held::Event(e) => e.t_us,
            Held::Plain { at, .. } => at.t_us,
        }
    }

    fn kind(&self) -> &str {
        match self {
            Held::Event(e) => &e.kind,
            Held::Plain { kind, .. } => kind,
        }
    }

    pub fn into_event(self) -> Event {
        match self {
            Held::Event(e) => e,
            Held::Plain { text, at, line, .. } => materialize(&text, at, line),
        }
    }
}

pub struct Sampler {
    budget: usize,
    /// Widest bucket allowed: half the shortest window a rule measures, so a line in
    /// any such window still has a held neighbour in it. Past that the sample grows.
    max_width: i64,
    /// Bucket width in µs; 0 while every line is held.
    width: i64,
    /// Held lines with their event number, in file order.
    pub held: Vec<(u64, Held)>,
    /// The latest line of the current bucket, held only if no later one comes.
    pending: Option<(u64, Event)>,
    /// Reused for a pending plain line, so most lines cost no allocation.
    body: String,
    body_meta: Option<(u64, Placed, u32, &'static str)>,
    /// Lines read but not held, by kind.
    pub unheld: BTreeMap<String, usize>,
}

impl Sampler {
    pub fn new(budget: usize, max_width_us: i64) -> Sampler {
        Sampler {
            budget: budget.max(4),
            max_width: max_width_us.max(1),
            width: 0,
            held: Vec::new(),
            pending: None,
            body: String::new(),
            body_meta: None,
            unheld: BTreeMap::new(),
        }
    }

    /// A plain ASCII line known to decode to an event of `kind` that no rule singles
    /// out; it is decoded again only if held.
    pub fn plain(&mut self, i: u64, at: Placed, line: u32, body: &str, kind: &'static str) {
        if self.width == 0 || self.starts_bucket(at.t_us) {
            self.hold(i, Held::plain(body, at, line, kind));
            return;
        }
        self.drop_pending();
        self.body.clear();
        self.body.push_str(body);
        self.body_meta = Some((i, at, line, kind));
    }

    /// A decoded serial event that no rule singles out.
    pub fn event(&mut self, i: u64, e: Event) {
        if self.width == 0 || self.starts_bucket(e.t_us) {
            self.hold(i, Held::Event(e));
            return;
        }
        self.drop_pending();
        self.pending = Some((i, e));
    }

    /// Holds whatever is pending; call before reading `held` at the end.
    pub fn flush(&mut self) {
        if let Some((i, at, line, kind)) = self.body_meta.take() {
            self.held.push((i, Held::plain(&self.body, at, line, kind)));
        }
        if let Some((i, e)) = self.pending.take() {
            self.held.push((i, Held::Event(e)));
        }
    }

    /// True when `t` opens a new bucket; the previous bucket's pending line is kept.
    fn starts_bucket(&mut self, t: i64) -> bool {
        let last = self
            .held
            .last()
            .map(|(_, h)| h.t_us().div_euclid(self.width));
        if last == Some(t.div_euclid(self.width)) {
            return false;
        }
        self.flush();
        true
    }

    fn drop_pending(&mut self) {
        if let Some((.., kind)) = self.body_meta.take() {
            count(&mut self.unheld, kind);
        }
        if let Some((_, e)) = self.pending.take() {
            count(&mut self.unheld, &e.kind);
        }
    }

    fn hold(&mut self, i: u64, h: Held) {
        self.held.push((i, h));
        if self.held.len() > self.budget {
            self.thin();
        }
    }

    /// Widens the buckets until the first and last line of each fit in half the budget.
    fn thin(&mut self) {
        self.flush();
        let keep = loop {
            self.width = if self.width == 0 {
                FIRST_WIDTH_US
            } else {
                self.width.saturating_mul(2)
            }
            .min(self.max_width);
            let keep = self.kept(self.width);
            let n = keep.iter().filter(|k| **k).count();
            if n <= self.budget / 2 {
                break keep;
            }
            if self.width == self.max_width {
                // Memory now grows with the log's duration; doubling the budget keeps
                // the rethinning rare.
                self.budget = self.budget.saturating_mul(2).max(n.saturating_mul(2));
                break keep;
            }
        };
        let (mut keep, unheld) = (keep.into_iter(), &mut self.unheld);
        self.held.retain(|(_, h)| {
            let k = keep.next().unwrap_or(true);
            if !k {
                count(unheld, h.kind());
            }
            k
        });
    }

    /// For each held line: is it the first or the last of its run in one bucket?
    fn kept(&self, width: i64) -> Vec<bool> {
        let b: Vec<i64> = self
            .held
            .iter()
            .map(|(_, h)| h.t_us().div_euclid(width))
            .collect();
        (0..b.len())
            .map(|k| k == 0 || k + 1 == b.len() || b[k - 1] != b[k] || b[k + 1] != b[k])
            .collect()
    }
}

/// Counts a line not held; most lines of a long log come here, so no allocation.
fn count(unheld: &mut BTreeMap<String, usize>, kind: &str) {
    match unheld.get_mut(kind) {
        Some(n) => *n += 1,
        None => {
            unheld.insert(kind.to_string(), 1);
        }
    }
}

pub(super) fn materialize(body: &str, at: Placed, line: u32) -> Event {
    let mut e = decode_line(Source::Serial, body, 0.0);
    e.line = line;
    e.t_us = at.t_us;
    e.timed = at.timed;
    e.approx = at.approx;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t_us: i64) -> Placed {
        Placed {
            t_us,
            timed: true,
            approx: false,
        }
    }

    #[test]
    fn everything_is_held_within_the_budget() {
        let mut s = Sampler::new(100, i64::MAX);
        for i in 0..100 {
            s.plain(i, at(i as i64), i as u32 + 1, "hello", "line");
        }
        s.flush();
        assert_eq!(s.held.len(), 100);
        assert!(s.unheld.is_empty());
    }

    #[test]
    fn thinned_sample_is_bounded_and_keeps_every_second_printed_in() {
        let mut s = Sampler::new(1000, i64::MAX);
        // One line every 10 ms for 100 s, with a silent gap from 40 s to 50 s.
        let times: Vec<i64> = (0..10_000)
            .map(|k| k * 10_000)
            .filter(|t| !(40_000_000..50_000_000).contains(t))
            .collect();
        for (i, t) in times.iter().enumerate() {
            s.plain(i as u64, at(*t), i as u32 + 1, "tick", "line");
        }
        s.flush();
        assert!(s.held.len() <= 1000, "{}", s.held.len());
        assert_eq!(s.held.len() + s.unheld["line"], times.len());
        let held: Vec<i64> = s.held.iter().map(|(_, h)| h.t_us()).collect();
        for sec in 0..100i64 {
            let (a, b) = (sec * 1_000_000, (sec + 1) * 1_000_000);
            let printed = times.iter().any(|t| (a..b).contains(t));
            let seen = held.iter().any(|t| (a..b).contains(t));
            assert_eq!(printed, seen, "second {sec}");
        }
        assert!(s.held.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn buckets_stop_widening_at_the_cap() {
        // A line every 10 ms for an hour: uncapped, the buckets would reach seconds.
        let cap = 1_500_000;
        let mut s = Sampler::new(1000, cap);
        let times: Vec<i64> = (0..360_000).map(|k| k * 10_000).collect();
        for (i, t) in times.iter().enumerate() {
            s.plain(i as u64, at(*t), i as u32 + 1, "tick", "line");
        }
        s.flush();
        assert_eq!(s.width, cap);
        assert_eq!(s.held.len() + s.unheld["line"], times.len());
        let held: Vec<i64> = s.held.iter().map(|(_, h)| h.t_us()).collect();
        // Every window two buckets wide holds a line, as every such window was printed in.
        let mut k = 0;
        for start in (0..3_590_000_000i64).step_by(250_000) {
            while held[k] < start {
                k += 1;
            }
            assert!(
                held[k] < start + 2 * cap,
                "nothing held in [{start}, +{})",
                2 * cap
            );
        }
    }
}
