//! Event times assigned line by line, as [`super::decode_log`] assigns them to a whole
//! file, so a log read in one pass needs no list of every line's stamp.
//!
//! Two things are only known at the end: the first stamp (lines before it are placed
//! just before it) and whether the stamps ever ran backwards (then the whole file is
//! order-only). Both are functions of a line's position, so held events keep their
//! position and are fixed up by [`Times::finish`].

use super::BACKWARDS_LIMIT_US;
use super::timestamp::DAY_US;
use crate::event::Event;

#[derive(Debug, Default)]
pub struct Times {
    /// Position (event number) and time of the first stamped line.
    first: Option<(u64, i64)>,
    last: i64,
    day: i64,
    /// Physical line where the stamps first ran backwards.
    pub backwards: Option<u32>,
}

/// The time of one line as far as it is known now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub t_us: i64,
    pub timed: bool,
    pub approx: bool,
}

impl Times {
    /// Places event number `i` (0-based, counting only lines with text).
    pub fn place(&mut self, i: u64, stamp: Option<i64>, line: u32) -> Placed {
        let Some((_, first_t)) = self.first.or_else(|| stamp.map(|us| (i, us))) else {
            // Before any stamp: a provisional order, fixed up at the end.
            return Placed {
                t_us: i as i64 * 1000,
                timed: false,
                approx: false,
            };
        };
        if self.first.is_none() {
            self.first = Some((i, first_t));
            self.last = first_t;
        }
        let mut p = Placed {
            t_us: 0,
            timed: true,
            approx: false,
        };
        p.t_us = match stamp {
            Some(us) => self.stamped(us, line),
            None => {
                p.approx = true;
                self.last.saturating_add(1)
            }
        };
        self.last = self.last.max(p.t_us);
        p
    }

    fn stamped(&mut self, us: i64, line: u32) -> i64 {
        let mut t = us.saturating_add(self.day);
        // Time-of-day logs that cross midnight would otherwise run backwards.
        if t < self.last.saturating_sub(DAY_US / 2) {
            self.day += DAY_US;
            t = t.saturating_add(DAY_US);
        }
        if t < self.last.saturating_sub(BACKWARDS_LIMIT_US) && self.backwards.is_none() {
            self.backwards = Some(line);
        }
        // Unstamped lines got `last + 1`; a stamp of the same second must not sort
        // before them, or the file's own order would be lost.
        t.max(self.last)
    }

    /// Final time of a held event that was placed as event number `i`.
    pub fn finish(&self, i: u64, e: &mut Event) {
        let synthetic = |e: &mut Event| {
            e.t_us = i as i64 * 1000;
            e.timed = false;
            e.approx = false;
        };
        match self.first {
            None => synthetic(e),
            Some(_) if self.backwards.is_some() => synthetic(e),
            Some((first, first_t)) if i < first => {
                e.timed = false;
                e.t_us = first_t.saturating_sub((first - i) as i64);
            }
            Some(_) => {}
        }
    }
}
