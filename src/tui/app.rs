//! The UI's state: the events shown (in timeline order), the latest analysis, the
//! status facts and every toggle the keys change. Pure data: the loop feeds it, the
//! view reads it, the key handler edits it; none of them does I/O here.

mod feed;

use super::SourcesInfo;
use super::phase::{Phase, SerialState};
use super::progress::Throughput;
use super::rows::Rows;
use super::search::Search;
use crate::analysis::Report;
use crate::event::{Event, Value};
use crate::session::{Held, Window};
use crate::timeline::Timeline;
use std::collections::{BTreeMap, VecDeque};

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

pub struct App {
    /// In timeline order; at most the window's worth (the trace file has the rest).
    /// A deque: a trim removes the oldest without moving the rest.
    events: VecDeque<Event>,
    /// Indices into `events` that the timeline and the panes show.
    rows: Rows,
    window: Window,
    held: Held,
    /// Events ever shown, held or not.
    seen: usize,
    /// What the last trim let go, not yet freed: see [`App::take_released`].
    released: Vec<Event>,
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
            events: VecDeque::new(),
            rows: Rows::default(),
            window: sources.window,
            held: Held::default(),
            seen: 0,
            released: Vec::new(),
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
        app.seen = tl.events.len();
        app.set_analysis(tl, report);
        app
    }

    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }
    /// What the timeline shows: indices into [`App::events`].
    pub fn rows(&self) -> &[usize] {
        &self.rows.all
    }
    /// What a log pane shows: the serial one (`true`) or network + uploader.
    pub fn pane_rows(&self, serial: bool) -> &[usize] {
        self.rows.pane(serial)
    }
    /// Events shown since the start, including those memory let go.
    pub fn seen(&self) -> usize {
        self.seen
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

    /// Says that memory let events go, and where they all are; None while it holds
    /// every event.
    pub fn held_note(&self) -> Option<String> {
        let held = self.events.len();
        if self.seen <= held {
            return None;
        }
        let whole = match &self.sources.trace {
            Some(p) => format!("full trace in {}", p.display()),
            None => "older events dropped (--export FILE keeps them all)".into(),
        };
        Some(format!(
            "showing last {held} of {} events; {whole}",
            self.seen
        ))
    }

    pub fn chip(&self) -> Option<String> {
        self.facts.get("chip").map(Value::to_string)
    }
}

/// Scrolling and jumping.
impl App {
    pub fn max_top(&self) -> usize {
        self.rows.all.len().saturating_sub(self.page.max(1))
    }

    /// The rows on screen for a list `height` rows tall.
    pub fn window(&self, height: usize) -> std::ops::Range<usize> {
        let len = self.rows.all.len();
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
        let row = self.rows.all.partition_point(|&r| r < idx);
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
                let d = t_us.saturating_sub(self.t0.unwrap_or(t_us));
                let sign = if d < 0 { "-" } else { "+" };
                let d = d.abs();
                format!("{sign}{}.{:03}", d / 1_000_000, d / 1000 % 1000)
            }
        }
    }
}
