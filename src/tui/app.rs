//! The UI's state: the events shown (in timeline order), the latest analysis, the
//! status facts and every toggle the keys change. Pure data: the loop feeds it, the
//! view reads it, the key handler edits it; none of them does I/O here.

use super::SourcesInfo;
use super::phase::{Phase, SerialState};
use super::progress::Throughput;
use super::search::Search;
use crate::analysis::Report;
use crate::event::{Event, Source, Value};
use crate::timeline::Timeline;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Serial log and network events side by side.
    Logs,
    /// Every source merged in time order.
    Timeline,
    Findings,
}

impl View {
    pub const ALL: [View; 3] = [View::Logs, View::Timeline, View::Findings];

    pub fn title(self) -> &'static str {
        match self {
            View::Logs => "Serial | Network",
            View::Timeline => "Timeline",
            View::Findings => "Findings",
        }
    }

    pub fn next(self) -> View {
        match self {
            View::Logs => View::Timeline,
            View::Timeline => View::Findings,
            View::Findings => View::Logs,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeMode {
    /// Time of day, `HH:MM:SS.mmm` (UTC, like the text report).
    Absolute,
    /// Seconds since recording began, `+s.mmm`.
    Relative,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
}

/// Readable serial lines in a row that end a "garbled" state: the source itself
/// does not report recovery to the loop.
const READABLE_RUN: u8 = 3;

pub struct App {
    events: Vec<Event>,
    /// Indices into `events` that the timeline shows (all, or the filter's matches).
    rows: Vec<usize>,
    facts: BTreeMap<String, Value>,
    report: Report,
    notes: Vec<String>,
    phase: Phase,
    throughput: Throughput,
    serial_state: SerialState,
    readable_run: u8,
    pub(crate) sources: SourcesInfo,
    /// Origin of relative times: when recording began (live) or the first event.
    pub t0: Option<i64>,
    pub mode: Mode,
    pub view: View,
    /// Show the newest lines as they arrive; off = paused at `top`.
    pub follow: bool,
    /// First visible row (index into the shown rows) while paused.
    pub top: usize,
    /// Rows in one page of the current view; the loop sets it from the terminal.
    pub page: usize,
    pub time: TimeMode,
    pub search: Search,
    /// The finding selected in the findings view.
    pub selected: usize,
    /// Rows the finding's detail is scrolled by (it can be longer than the pane).
    pub detail_scroll: u16,
    /// An event to mark (evidence jumped to, or a search hit).
    pub highlight: Option<usize>,
    pub help: bool,
    /// One-line feedback (export written, nothing matched, …).
    pub message: Option<String>,
    /// Recording has stopped (always true in a replay).
    pub ended: bool,
    /// The upload has finished; the loop lingers for the device's last words.
    pub upload_done: bool,
}

impl App {
    pub fn new(sources: &SourcesInfo, mode: Mode) -> App {
        App {
            events: Vec::new(),
            rows: Vec::new(),
            facts: BTreeMap::new(),
            report: Report::default(),
            notes: Vec::new(),
            phase: Phase::default(),
            throughput: Throughput::default(),
            serial_state: SerialState::default(),
            readable_run: 0,
            sources: sources.clone(),
            t0: None,
            mode,
            view: if mode == Mode::Replay {
                View::Findings
            } else {
                View::Logs
            },
            follow: mode == Mode::Live,
            top: 0,
            page: 20,
            time: TimeMode::Absolute,
            search: Search::default(),
            selected: 0,
            detail_scroll: 0,
            highlight: None,
            help: false,
            message: None,
            ended: mode == Mode::Replay,
            upload_done: false,
        }
    }

    /// A replay: the recorded timeline and its analysis, nothing live.
    pub fn replay(tl: Timeline, report: Report, sources: &SourcesInfo) -> App {
        let mut app = App::new(sources, Mode::Replay);
        for e in &tl.events {
            app.observe(e);
        }
        app.t0 = tl.events.first().map(|e| e.t_us);
        app.set_analysis(tl, report);
        app
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }
    pub fn report(&self) -> &Report {
        &self.report
    }
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
    pub fn phase(&self) -> &Phase {
        &self.phase
    }
    pub fn throughput(&self) -> &Throughput {
        &self.throughput
    }
    pub fn serial_state(&self) -> &SerialState {
        &self.serial_state
    }
    pub fn sources(&self) -> &SourcesInfo {
        &self.sources
    }

    /// The device's address: what the device said, then what the uploader was told,
    /// then what the command line said.
    pub fn device_ip(&self) -> Option<String> {
        ["device_ip", "esp_ip"]
            .iter()
            .find_map(|k| self.facts.get(*k).map(Value::to_string))
            .or_else(|| self.sources.device_ip.clone())
    }

    pub fn chip(&self) -> Option<String> {
        self.facts.get("chip").map(Value::to_string)
    }
}

/// Feeding the state.
impl App {
    /// Adds one new event at its place in time (nearly always the end).
    pub fn push(&mut self, e: Event) {
        self.observe(&e);
        if self.t0.is_none() {
            self.t0 = Some(e.t_us);
        }
        let key = (e.t_us, e.source);
        // Upper bound keeps arrival order among equal keys, as the timeline's stable
        // sort does, so indices agree with the next analysis.
        let pos = self.events.partition_point(|x| (x.t_us, x.source) <= key);
        let shows = self.search.shows(&e);
        self.events.insert(pos, e);
        if pos + 1 == self.events.len() {
            if shows {
                self.rows.push(pos);
            }
        } else {
            self.shift_from(pos);
        }
    }

    /// Keeps every stored index pointing at the same event after an insert at `pos`.
    fn shift_from(&mut self, pos: usize) {
        let bump = |i: &mut usize| {
            if *i >= pos {
                *i += 1
            }
        };
        for f in self
            .report
            .findings
            .iter_mut()
            .chain(self.report.fired.iter_mut())
        {
            f.evidence.iter_mut().for_each(bump);
        }
        if let Some(h) = self.highlight.as_mut() {
            bump(h);
        }
        let before = self.rows.partition_point(|&r| r < pos);
        self.rebuild_rows();
        if !self.follow && before < self.top {
            self.top += 1;
        }
    }

    /// Status facts that follow each event as it arrives.
    fn observe(&mut self, e: &Event) {
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

    /// Takes a fresh analysis. The timeline's events replace ours: they are the same
    /// events in the same order, and the findings' evidence indices point into them.
    pub fn set_analysis(&mut self, tl: Timeline, report: Report) {
        self.events = tl.events;
        self.facts = tl.facts;
        self.report = report;
        self.selected = self
            .selected
            .min(self.report.findings.len().saturating_sub(1));
        self.rebuild_rows();
    }

    pub fn rebuild_rows(&mut self) {
        let search = &self.search;
        self.rows = (0..self.events.len())
            .filter(|&i| search.shows(&self.events[i]))
            .collect();
        self.top = self.top.min(self.max_top());
    }
}

/// Scrolling and jumping.
impl App {
    pub fn max_top(&self) -> usize {
        self.rows.len().saturating_sub(self.page.max(1))
    }

    /// The rows on screen for a list `height` rows tall.
    pub fn window(&self, height: usize) -> std::ops::Range<usize> {
        let len = self.rows.len();
        let start = if self.follow {
            len.saturating_sub(height)
        } else {
            self.top.min(len)
        };
        start..(start + height).min(len)
    }

    /// Freezes the view where following had it.
    pub fn pause(&mut self) {
        if self.follow {
            self.follow = false;
            self.top = self.max_top();
        }
    }

    pub fn scroll_by(&mut self, delta: isize) {
        self.pause();
        self.top = self.top.saturating_add_signed(delta).min(self.max_top());
    }

    /// Shows event `idx` in the timeline, a third down the page, marked.
    pub fn jump_to_event(&mut self, idx: usize) {
        if idx >= self.events.len() {
            return;
        }
        if !self.search.shows(&self.events[idx]) {
            self.search.filter = false;
            self.rebuild_rows();
            self.message = Some("filter turned off to show the evidence".into());
        }
        let row = self.rows.partition_point(|&r| r < idx);
        self.view = View::Timeline;
        self.highlight = Some(idx);
        self.follow = false;
        self.top = row.saturating_sub(self.page / 3).min(self.max_top());
    }

    /// Time as the user chose to see it.
    pub fn fmt_time(&self, t_us: i64) -> String {
        match self.time {
            TimeMode::Absolute => crate::decode::timestamp::format_tod(t_us),
            TimeMode::Relative => {
                let d = t_us - self.t0.unwrap_or(t_us);
                let sign = if d < 0 { "-" } else { "+" };
                let d = d.abs();
                format!("{sign}{}.{:03}", d / 1_000_000, d / 1000 % 1000)
            }
        }
    }
}
