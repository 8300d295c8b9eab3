//! Where a trim does its work. A trim lets go the oldest events of each class, and
//! events are held oldest first, so everything it removes sits in a front part of
//! the window; behind the last removed event nothing is looked at. A trim then costs
//! what it removes (and, in a `Vec`, one block move of the rest), not a walk over
//! every held event: the UI loop trims a full window twice in one tick (the
//! session's and the screen's), and that walk was its longest pause. Events are held
//! in a `VecDeque` so that removing the front moves nothing behind it either: moving
//! the ~90k events that stay was most of what was left of a trim's cost.

use super::window::{Held, Window, is_plain};
use crate::event::Event;
use std::collections::VecDeque;

/// Marks an event that was let go in a map from old to new indices.
pub const GONE: usize = usize::MAX;

/// What one trim lets go: how many of each class, oldest first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cut {
    lines: usize,
    marked: usize,
}

impl Cut {
    /// Whether `e`, the next event in order, stays; counts it off when it goes.
    pub fn keep(&mut self, e: &Event) -> bool {
        let left = if is_plain(e) {
            &mut self.lines
        } else {
            &mut self.marked
        };
        if *left > 0 {
            *left -= 1;
            false
        } else {
            true
        }
    }

    /// Nothing more to let go: the rest of the window stays as it is.
    pub fn done(&self) -> bool {
        self.lines == 0 && self.marked == 0
    }
}

impl Held {
    /// The cut that brings each class back within its cap; the counts already
    /// assume it was made.
    pub fn cut(&mut self, w: &Window) -> Cut {
        let lines = self.lines.saturating_sub(w.lines);
        let marked = self.marked.saturating_sub(w.marked);
        self.lines -= lines;
        self.marked -= marked;
        self.dropped += lines + marked;
        Cut { lines, marked }
    }
}

/// The front part of a window after [`sort_front`]: its first `gone` events are the
/// ones let go; the kept ones follow in their order, up to `reach`.
#[derive(Debug)]
pub struct Front {
    pub gone: usize,
    pub reach: usize,
    /// New index (once the gone are removed) of each old index below `reach`, or
    /// [`GONE`].
    map: Vec<usize>,
}

impl Front {
    /// Where old index `i` is once the first `gone` events are removed.
    pub fn map(&self, i: usize) -> usize {
        match self.map.get(i) {
            Some(&n) => n,
            None => i - self.gone,
        }
    }
}

/// Moves the events `cut` lets go to the start of `events`, keeping the order of the
/// others, and looks no further than the last of them. The caller removes the first
/// [`Front::gone`] events (a `drain`, which hands them on for freeing elsewhere).
pub fn sort_front(events: &mut VecDeque<Event>, mut cut: Cut) -> Front {
    let mut keep = Vec::new();
    for e in events.iter() {
        if cut.done() {
            break;
        }
        keep.push(cut.keep(e));
    }
    let reach = keep.len();
    let mut map = Vec::with_capacity(reach);
    let mut next = 0;
    for &k in &keep {
        map.push(if k { next } else { GONE });
        next += k as usize;
    }
    let gone = reach - next;
    // From the back: each kept event steps over the gone ones after it, so the kept
    // stay in order and the gone gather at the front.
    let mut to = reach;
    for i in (0..reach).rev() {
        if keep[i] {
            to -= 1;
            events.swap(i, to);
        }
    }
    Front { gone, reach, map }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Source;

    fn ev(n: usize) -> Event {
        // Plain lines with a diagnosis event now and then, unevenly spaced.
        let kind = if n.is_multiple_of(7) || n % 11 == 3 {
            "boot"
        } else {
            "line"
        };
        Event::new(Source::Serial, kind, format!("{kind} {n}"))
    }

    /// The same events stay, in the same order, as with a filter over the whole
    /// window; the map sends each old index to its event's new place.
    #[test]
    fn a_front_trim_keeps_what_a_whole_walk_keeps() {
        for (lines, marked) in [(3, 2), (10, 1), (1, 10), (40, 40)] {
            let w = Window { lines, marked };
            let events: Vec<Event> = (0..60).map(ev).collect();
            let mut held = Held::default();
            events.iter().for_each(|e| held.add(e));
            let mut walk = held.clone();
            let mut keep = walk.trim(&w);
            let want: Vec<Event> = events.iter().filter(|e| keep(e)).cloned().collect();
            let mut got: VecDeque<Event> = events.iter().cloned().collect();
            let front = sort_front(&mut got, held.cut(&w));
            let gone: Vec<Event> = got.drain(..front.gone).collect();
            assert_eq!(got, want, "{w:?}");
            assert_eq!(gone.len() + want.len(), events.len());
            assert_eq!(held.dropped(), walk.dropped());
            for (old, e) in events.iter().enumerate() {
                match front.map(old) {
                    GONE => assert!(gone.contains(e)),
                    new => assert_eq!(&got[new], e, "{w:?} {old}"),
                }
            }
            assert!(front.reach <= events.len());
        }
    }

    /// Behind the last event let go nothing is looked at.
    #[test]
    fn a_trim_reaches_no_further_than_its_last_removal() {
        let w = Window {
            lines: 50,
            marked: 50,
        };
        let line = |n| Event::new(Source::Serial, "line", format!("line {n}"));
        let mut events: VecDeque<Event> = (0..60).map(line).collect();
        let mut held = Held::default();
        events.iter().for_each(|e| held.add(e));
        let front = sort_front(&mut events, held.cut(&w));
        assert_eq!((front.gone, front.reach), (10, 10));
    }
}
