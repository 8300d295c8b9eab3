//! The live loop's work between two looks at the keys: taking what the sources
//! sent, and handing it to the screen, the trace and the analysis thread.

use super::{ANALYSIS_EVERY, ANALYSIS_SPACING, DRAIN_FOR, DRAIN_MAX, Feed, Ticks};
use crate::event::Event;
use crate::live::{self, Msg};
use crate::session::Input;
use crate::tui::app::App;
use crate::tui::worker::{Reply, Worker};
use std::sync::mpsc::TryRecvError;
use std::time::Instant;

/// What the session held before the loop began (sources may push while starting):
/// the screen and the analysis start from it, as they did when each analysis
/// replaced the screen's events.
pub(super) fn seed(feed: &Feed<'_>, app: &mut App, worker: &mut Worker) {
    let held = feed.session.events();
    if held.is_empty() {
        return;
    }
    held.iter().for_each(|e| app.push(e.clone()));
    worker.events(held.iter().cloned().collect());
}

/// What the loop works on: the sources' side, the screen, the analysis.
pub(super) struct Live<'f, 'a> {
    pub(super) feed: &'f mut Feed<'a>,
    pub(super) app: &'f mut App,
    pub(super) worker: &'f mut Worker,
}

impl Live<'_, '_> {
    /// Takes what the sources sent, within this tick's budget. Returns how many
    /// messages were taken and whether any sender is still there.
    pub(super) fn drain(&mut self, t: &mut Ticks) -> (usize, bool) {
        let deadline = Instant::now() + DRAIN_FOR;
        let mut count = 0;
        while count < DRAIN_MAX && Instant::now() < deadline {
            let msg = match self.feed.rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return (count, false),
            };
            count += 1;
            t.dirty = true;
            self.take(msg, t);
        }
        (count, true)
    }

    fn take(&mut self, msg: Msg, t: &mut Ticks) {
        match msg {
            Msg::Input(i) => {
                if let (Some(s), Input::Frame { t_us, link, data }) =
                    (self.feed.sink.as_deref_mut(), &i)
                {
                    s.frame(*t_us, *link, data);
                }
                let n = self.feed.session.push(i);
                t.stale |= n > 0;
                self.worker.free(self.feed.session.take_released());
                self.forward(n);
                self.trace_news();
            }
            Msg::Note(n) => {
                self.tell(n);
                // A note may say the rules were reloaded: the findings should show
                // them without waiting for the device to print something.
                t.stale = true;
            }
            Msg::Finished => {
                t.finished_at.get_or_insert_with(Instant::now);
                self.app.upload_done = true;
            }
        }
    }

    /// Something the user should know now: on screen, and in the final notes.
    fn tell(&mut self, n: String) {
        self.feed.session.note(n.clone());
        self.app.note(n);
    }

    /// A trace file that stopped being written (a full disk) is said while the run
    /// goes on, as line mode says it, not only in the notes at the end.
    fn trace_news(&mut self) {
        let news = (self.feed.sink.as_deref_mut())
            .map(crate::live::TraceSink::news)
            .unwrap_or_default();
        news.into_iter().for_each(|n| self.tell(n));
    }

    /// Stops the sources, if the loop was given how, and records what they still
    /// delivered on the way out, as line mode does, before the session is finished.
    pub(super) fn wind_down(&mut self) {
        let Some(stop) = self.feed.stop_sources.take() else {
            return;
        };
        let rx = self.feed.rx;
        let mut t = Ticks::new();
        let notes = live::wind_down(rx, stop, |m| self.take(m, &mut t));
        notes.into_iter().for_each(|n| self.tell(n));
    }

    /// Hands the session's `n` newest events to the trace, the screen and the
    /// analysis thread's copy.
    pub(super) fn forward(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let new: Vec<Event> = self.feed.session.newest(n).cloned().collect();
        if let Some(s) = self.feed.sink.as_deref_mut() {
            s.write(&new);
        }
        for e in &new {
            self.app.push(e.clone());
        }
        self.worker.events(new);
        self.worker.free(self.app.take_released());
    }

    /// Takes a finished analysis, and asks for the next once the spacing allows:
    /// at most one in flight, and only if events arrived since the last was asked.
    pub(super) fn analysis(&mut self, t: &mut Ticks) {
        let due = t.analysed.elapsed() >= ANALYSIS_EVERY.max(t.cost * ANALYSIS_SPACING);
        if t.stale && due && !self.worker.busy() {
            self.worker
                .request(self.feed.session.outline(live::now_us()));
            t.stale = false;
        }
        match self.worker.poll() {
            Some(Reply::Done(d)) => {
                self.app.apply(d.found);
                t.analysed = Instant::now();
                t.cost = d.cost;
                t.dirty = true;
            }
            Some(Reply::Lost) => self.app.note(
                "the live analysis stopped; the diagnosis printed after recording still covers everything",
            ),
            None => {}
        }
    }
}
