//! Feeding the state: events as they arrive, notes, and each new analysis. Every
//! stored index (rows, evidence, the mark, the paused page) is kept pointing at the
//! same event as events are inserted and let go.

use super::App;
use crate::analysis::Report;
use crate::event::{Event, Source};
use crate::session::sort_front;
use crate::timeline::Timeline;
use crate::tui::found::{Found, evidence_mut};
use crate::tui::phase::SerialState;
use crate::tui::rows::{GONE, Rows, remap, remap_with};

/// Readable serial lines in a row that end a "garbled" state: the source itself
/// does not report recovery to the loop.
const READABLE_RUN: u8 = 3;

impl App {
    /// Adds one new event at its place in time (nearly always the end).
    pub fn push(&mut self, e: Event) {
        self.observe(&e);
        if self.t0.is_none() {
            self.t0 = Some(e.t_us);
        }
        self.seen += 1;
        self.held.add(&e);
        let key = (e.t_us, e.source);
        // Upper bound keeps arrival order among equal keys, as the timeline's stable
        // sort does, so indices agree with the next analysis.
        let pos = self.events.partition_point(|x| (x.t_us, x.source) <= key);
        let shows = self.search.shows(&e);
        if pos < self.events.len() {
            self.shift_from(pos);
        }
        self.rows.insert(pos, &e, shows);
        self.events.insert(pos, e);
        if self.held.over(&self.window) {
            self.let_go();
        }
    }

    /// Keeps stored indices on their events before an insert at `pos`.
    fn shift_from(&mut self, pos: usize) {
        let bump = |i: &mut usize| {
            if *i >= pos {
                *i += 1
            }
        };
        self.evidence_mut()
            .for_each(|ev| ev.iter_mut().for_each(bump));
        if let Some(h) = self.highlight.as_mut() {
            bump(h);
        }
        let before = self.rows.all.partition_point(|&r| r < pos);
        if !self.follow && before < self.top {
            self.top += 1;
        }
    }

    fn evidence_mut(&mut self) -> impl Iterator<Item = &mut Vec<usize>> {
        evidence_mut(&mut self.report)
    }

    /// Lets the oldest events of a full class go, as the session does, and renumbers
    /// what pointed past them. Evidence that was let go is no longer listed.
    fn let_go(&mut self) {
        let cut = self.held.cut(&self.window);
        let front = sort_front(&mut self.events, cut);
        // Freeing thousands of events is most of a trim's cost: the loop has them
        // freed on the analysis thread. A batch nobody took is freed here.
        self.released = self.events.drain(..front.gone).collect();
        let map = |i| front.map(i);
        let gone_above = (self.rows.all.iter().take(self.top))
            .filter(|&&r| map(r) == GONE)
            .count();
        self.top -= gone_above;
        self.rows.remap(map);
        self.evidence_mut().for_each(|ev| remap_with(ev, map));
        self.highlight = self.highlight.map(map).filter(|&h| h != GONE);
    }

    /// The events the last trim let go, for the caller to free where it costs
    /// the screen nothing.
    pub(crate) fn take_released(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.released)
    }

    /// Status facts that follow each event as it arrives.
    pub(super) fn observe(&mut self, e: &Event) {
        self.phase = self.phase.step(e);
        self.throughput.step(e);
        if e.source == Source::Serial && self.serial_state == SerialState::Garbled {
            self.readable_run = if e.kind == "garbage" {
                0
            } else {
                self.readable_run + 1
            };
            if self.readable_run >= READABLE_RUN {
                self.serial_state = SerialState::Open;
            }
        }
    }

    /// A note from a source or the loop.
    pub fn note(&mut self, n: impl Into<String>) {
        let n = n.into();
        if let Some(s) = SerialState::from_note(&n) {
            self.serial_state = s;
            self.readable_run = 0;
        }
        self.message = Some(n.clone());
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// Takes a fresh analysis. The timeline's events replace ours: they are the
    /// session's held events in timeline order, and the findings' evidence indices
    /// point into them.
    pub fn set_analysis(&mut self, tl: Timeline, report: Report) {
        // The session lets events go on its own schedule, so the new events may not
        // line up with ours: the mark and a paused page follow their events.
        let mark = self.highlight.and_then(|h| self.events.get(h)).cloned();
        let anchor = (self.rows.all.get(self.top))
            .filter(|_| !self.follow)
            .and_then(|&i| self.events.get(i))
            .cloned();
        self.events = tl.events.into();
        self.held.recount(&self.events);
        self.facts = tl.facts;
        self.take_report(report);
        self.rebuild_rows();
        self.highlight = mark.and_then(|e| self.find(&e).ok());
        if let Some(e) = anchor {
            let at = self.find(&e).unwrap_or_else(|at| at);
            self.top = self
                .rows
                .all
                .partition_point(|&i| i < at)
                .min(self.max_top());
        }
    }

    /// Takes an analysis made while our events moved on: its evidence is found
    /// among them by event, and what was let go meanwhile is no longer listed. Our
    /// events stay, so rows, the mark and a paused page stay where they are.
    pub(crate) fn apply(&mut self, found: Found) {
        let Found {
            mut report,
            evidence,
            facts,
        } = found;
        let map: Vec<usize> = (evidence.iter())
            .map(|e| self.find(e).unwrap_or(GONE))
            .collect();
        evidence_mut(&mut report).for_each(|ev| remap(ev, &map));
        self.facts = facts;
        self.take_report(report);
    }

    fn take_report(&mut self, report: Report) {
        self.report = report;
        // Sorted once here, so a frame takes the first few without sorting.
        self.evidence_mut().for_each(|ev| ev.sort_unstable());
        self.selected = self
            .selected
            .min(self.report.findings.len().saturating_sub(1));
    }

    /// Where `e` is among the events (`Ok`), or where it would be (`Err`): a binary
    /// search on its time, then a look at the few events that share it.
    fn find(&self, e: &Event) -> Result<usize, usize> {
        let key = (e.t_us, e.source);
        let from = self.events.partition_point(|x| (x.t_us, x.source) < key);
        (self.events.range(from..))
            .take_while(|x| (x.t_us, x.source) == key)
            .position(|x| x == e)
            .map(|k| from + k)
            .ok_or(from)
    }

    /// After the filter changed or the events were replaced: one scan.
    pub fn rebuild_rows(&mut self) {
        self.rows = Rows::build(&self.events, &self.search);
        self.top = self.top.min(self.max_top());
    }
}
