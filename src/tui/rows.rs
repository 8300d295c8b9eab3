//! The event indices each list on screen shows, kept up to date as events arrive and
//! go, so drawing a frame reads only the rows it shows, however long the timeline.

use super::search::Search;
use crate::event::{Event, Source};

pub use crate::session::GONE;

/// Sorted indices into the events: every shown row, and the shown rows of each of
/// the two log panes (the device's serial log; the network and the uploader).
#[derive(Debug, Default, Clone)]
pub struct Rows {
    pub all: Vec<usize>,
    serial: Vec<usize>,
    other: Vec<usize>,
}

impl Rows {
    /// Scans every event once: after a new analysis or a new filter, not per frame.
    pub fn build<'a>(events: impl IntoIterator<Item = &'a Event>, search: &Search) -> Rows {
        let mut rows = Rows::default();
        for (i, e) in events.into_iter().enumerate() {
            if search.shows(e) {
                rows.all.push(i);
                rows.pane_mut(e.source).push(i);
            }
        }
        rows
    }

    /// The shown rows of the serial pane (`true`) or of the network + uploader pane.
    pub fn pane(&self, serial: bool) -> &[usize] {
        if serial { &self.serial } else { &self.other }
    }

    fn pane_mut(&mut self, s: Source) -> &mut Vec<usize> {
        if s == Source::Serial {
            &mut self.serial
        } else {
            &mut self.other
        }
    }

    /// Event `e` was inserted at `pos`: later indices move up by one, and `e` joins
    /// the lists when `shown`. Costs what follows `pos`, which is nearly nothing:
    /// events arrive in time order but for a few late frames.
    pub fn insert(&mut self, pos: usize, e: &Event, shown: bool) {
        let source = e.source;
        for (list, mine) in [
            (&mut self.all, true),
            (&mut self.serial, source == Source::Serial),
            (&mut self.other, source != Source::Serial),
        ] {
            let at = list.partition_point(|&i| i < pos);
            list[at..].iter_mut().for_each(|i| *i += 1);
            if shown && mine {
                list.insert(at, pos);
            }
        }
    }

    /// After events were let go: `map(i)` is old event `i`'s new index, or [`GONE`].
    pub fn remap(&mut self, map: impl Fn(usize) -> usize + Copy) {
        for list in [&mut self.all, &mut self.serial, &mut self.other] {
            remap_with(list, map);
        }
    }
}

/// Keeps the indices that survived, renumbered; order is kept because `map` is.
pub fn remap(list: &mut Vec<usize>, map: &[usize]) {
    remap_with(list, |i| map.get(i).copied().unwrap_or(GONE));
}

/// [`remap`] with the map as a function: a trim's map is mostly "move down by k".
pub fn remap_with(list: &mut Vec<usize>, map: impl Fn(usize) -> usize) {
    list.retain_mut(|i| match map(*i) {
        GONE => false,
        n => {
            *i = n;
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: Source) -> Event {
        Event::new(s, "line", "x")
    }

    #[test]
    fn an_insert_moves_later_rows_and_a_remap_drops_the_gone() {
        let events = [ev(Source::Serial), ev(Source::Net), ev(Source::Serial)];
        let mut rows = Rows::build(&events, &Search::default());
        assert_eq!((rows.pane(true), rows.pane(false)), (&[0, 2][..], &[1][..]));
        rows.insert(1, &ev(Source::Host), true);
        assert_eq!(rows.all, [0, 1, 2, 3]);
        assert_eq!(
            (rows.pane(true), rows.pane(false)),
            (&[0, 3][..], &[1, 2][..])
        );
        let map = [GONE, 0, GONE, 1];
        rows.remap(|i| map[i]);
        assert_eq!(rows.all, [0, 1]);
        assert_eq!((rows.pane(true), rows.pane(false)), (&[1][..], &[0][..]));
    }
}
