//! How much of a long session memory holds. A day of serial output is millions of
//! lines; the trace file keeps them all, memory keeps the newest plain lines and,
//! under a cap of their own, every event a diagnosis rests on, so a failure seen in
//! the morning is still the diagnosis at night.

use crate::event::{Event, Source};

/// Caps on the events held in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Plain log lines (output no decoder recognised): only the newest are held.
    pub lines: usize,
    /// Everything else (banners, OTA steps, errors, network events), held under a
    /// cap of its own so a flood of plain lines cannot push them out.
    pub marked: usize,
}

impl Window {
    /// Hours of a chatty sketch (10 lines/s), days of a quiet one; about 30 MB.
    pub const DEFAULT_LINES: usize = 100_000;

    /// `n` plain lines and half as many diagnosis events.
    pub fn lines(n: usize) -> Window {
        Window {
            lines: n.max(1),
            marked: (n / 2).max(1),
        }
    }

    /// Everything is held: replays, tests, and the benchmarks' peer.
    pub fn unbounded() -> Window {
        Window {
            lines: usize::MAX,
            marked: usize::MAX,
        }
    }
}

impl Default for Window {
    fn default() -> Window {
        Window::lines(Window::DEFAULT_LINES)
    }
}

/// A serial or uploader line whose message no decoder recognised: `line`, `log` (an
/// ESP32 log prefix around such a message: a sketch's own chatter, often most of the
/// output) and `garbage` (a wrong baud rate floods it, and the newest lines show the
/// ratio as well as all of them).
pub fn is_plain(e: &Event) -> bool {
    matches!(e.source, Source::Serial | Source::Host)
        && matches!(&*e.kind, "line" | "log" | "garbage")
}

/// What a window holds, by class, and how many events it let go.
#[derive(Clone, Debug, Default)]
pub struct Held {
    pub(super) lines: usize,
    pub(super) marked: usize,
    pub(super) dropped: usize,
}

impl Held {
    /// Counts an event that was added.
    pub fn add(&mut self, e: &Event) {
        if is_plain(e) {
            self.lines += 1;
        } else {
            self.marked += 1;
        }
    }

    /// Starts over with `events` (a new timeline replaced the held one).
    pub fn recount<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        (self.lines, self.marked) = (0, 0);
        events.into_iter().for_each(|e| self.add(e));
    }

    /// Events let go so far.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Over a cap by more than its slack. Trimming only then, back to the caps,
    /// costs a constant per event however large the window.
    pub fn over(&self, w: &Window) -> bool {
        self.lines > w.lines.saturating_add(slack(w.lines))
            || self.marked > w.marked.saturating_add(slack(w.marked))
    }

    /// A filter that, applied in order to the held events, keeps the newest of each
    /// class within its cap; the counts already assume it was applied.
    pub fn trim(&mut self, w: &Window) -> impl FnMut(&Event) -> bool + use<> {
        let mut cut = self.cut(w);
        move |e| cut.keep(e)
    }
}

fn slack(cap: usize) -> usize {
    (cap / 8).max(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, n: usize) -> Event {
        Event::new(Source::Serial, kind.to_string(), format!("{kind} {n}"))
    }

    #[test]
    fn trimming_keeps_the_newest_of_each_class() {
        let w = Window {
            lines: 3,
            marked: 2,
        };
        let events: Vec<Event> = (0..20)
            .map(|n| ev(if n % 4 == 0 { "boot" } else { "line" }, n))
            .collect();
        let mut held = Held::default();
        events.iter().for_each(|e| held.add(e));
        assert!(held.over(&w));
        let mut keep = held.trim(&w);
        let kept: Vec<&str> = events
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            kept,
            ["boot 12", "boot 16", "line 17", "line 18", "line 19"]
        );
        assert_eq!(held.dropped(), 15);
        assert!(!held.over(&w));
    }
}
