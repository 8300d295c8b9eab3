//! The loops that own the terminal: [`run`] records a live session while showing it,
//! [`replay`] browses a recorded one. Both are thin: state changes live in
//! [`App`], drawing in [`view`], keys in [`on_key`].

use super::app::{App, Mode};
use super::keys::{Action, on_key};
use super::term::Guard;
use super::worker::{Analyse, Worker};
use super::{SourcesInfo, export, view};
use crate::analysis::analyze;
use crate::event::Event;
use crate::live::{self, Msg, Plan, Stopped, TraceSink};
use crate::session::Session;
use crate::timeline::Builder;
use crossterm::event::{self, Event as TermEvent};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod step;

use step::{Live, seed};

/// How long to wait for a key when nothing else is pending: short, because channel
/// messages are only looked at between waits.
const TICK: Duration = Duration::from_millis(20);
/// At most ~30 frames a second.
const FRAME: Duration = Duration::from_millis(33);
/// The rules run over the whole timeline; twice a second keeps findings fresh
/// without spending the CPU a capture burst needs.
const ANALYSIS_EVERY: Duration = Duration::from_millis(500);
/// A full window makes one analysis cost a few hundred milliseconds
/// (bench/session.sh prints it); waiting this many times its cost before the next
/// caps analysis at about 5 % of a core. It runs on its own thread, so the cost
/// is CPU taken from capture and decoding, not a pause of the screen.
const ANALYSIS_SPACING: u32 = 20;
/// Channel work per tick, so keys stay responsive during a burst of frames.
const DRAIN_MAX: usize = 512;
const DRAIN_FOR: Duration = Duration::from_millis(15);

/// Where terminal events come from: crossterm when live, a script in tests.
pub trait Keys {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>>;
}

struct Crossterm;

impl Keys for Crossterm {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
        // Wait on the terminal ourselves where we can (see `wait_input`), then only ask
        // crossterm for what is there.
        let wait = if super::term::wait_input(timeout)? {
            Duration::ZERO
        } else {
            timeout
        };
        if event::poll(wait)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    }
}

/// The live inputs and outputs [`live::record`] also uses.
pub struct Feed<'a> {
    pub rx: &'a Receiver<Msg>,
    pub session: &'a mut Session,
    pub plan: &'a Plan,
    pub sink: Option<&'a mut TraceSink>,
    pub stop: &'a AtomicBool,
    /// Stops the sources when the loop ends, before the session is finished, so
    /// what they still deliver (a line cut off when the port vanished) is recorded.
    pub stop_sources: Option<&'a mut dyn FnMut() -> Stopped>,
}

impl<'a> Feed<'a> {
    /// A feed with no trace file and no sources to stop (what tests and benchmarks
    /// drive the loop with); set the fields for more.
    pub fn new(
        rx: &'a Receiver<Msg>,
        session: &'a mut Session,
        plan: &'a Plan,
        stop: &'a AtomicBool,
    ) -> Feed<'a> {
        Feed {
            rx,
            session,
            plan,
            sink: None,
            stop,
            stop_sources: None,
        }
    }
}

/// Records like [`live::record`], showing the session as it grows instead of
/// printing lines (`plan.print` is for line mode). Returns the end of recording (µs). `Err` only when the terminal cannot be set up, before any
/// input was consumed, so the caller can fall back to line output.
pub fn run(feed: Feed<'_>, info: SourcesInfo) -> io::Result<i64> {
    let mut guard = Guard::enter()?;
    let end = drive(&mut guard.terminal, &mut Crossterm, feed, &info);
    drop(guard);
    Ok(end)
}

/// The live loop over any backend. A terminal that fails mid-run ends recording
/// with a note rather than losing the session: the caller still prints a diagnosis.
pub fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut dyn Keys,
    feed: Feed<'_>,
    info: &SourcesInfo,
) -> i64 {
    drive_with(terminal, keys, feed, info, analyser(info))
}

/// The live analysis: with the rules as last reloaded when `--rules` files are
/// watched, so an edit changes the findings on screen as it does in line mode.
pub(crate) fn analyser(info: &SourcesInfo) -> Analyse {
    match info.live_rules.clone() {
        Some(live) => Box::new(move |tl| live.with(|rules| analyze(rules, tl))),
        None => {
            let rules = info.rules.clone();
            Box::new(move |tl| analyze(&rules, tl))
        }
    }
}

/// [`drive`] with the rules' evaluation given: tests make it slow.
pub(crate) fn drive_with<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut dyn Keys,
    mut feed: Feed<'_>,
    info: &SourcesInfo,
    analyse: Analyse,
) -> i64 {
    let mut app = App::new(info, Mode::Live);
    app.t0 = Some(live::now_us());
    let window = feed.session.window();
    let mut worker = Worker::start(window, analyse, !info.inline_analysis);
    // What the sources said while starting (a refused capture, say) belongs on screen.
    for n in feed.session.notes() {
        app.note(n.clone());
    }
    app.message = info.start_note.clone();
    seed(&feed, &mut app, &mut worker);
    feed.session.keep_released(true);
    let mut live = Live {
        feed: &mut feed,
        app: &mut app,
        worker: &mut worker,
    };
    if let Err(e) = live_loop(terminal, keys, &mut live, info) {
        live.feed.session.note(format!(
            "the terminal display failed ({e}); recording stopped there"
        ));
    }
    let end = live::now_us();
    live.wind_down();
    live.feed.session.keep_released(false);
    let n = live.feed.session.finish(end);
    live.forward(n);
    end
}

/// What the loop keeps between ticks.
struct Ticks {
    started: Instant,
    finished_at: Option<Instant>,
    analysed: Instant,
    /// What the last analysis took.
    cost: Duration,
    /// Events arrived since the last analysis; without them nothing is re-evaluated.
    stale: bool,
    /// Something visible changed since the last frame.
    dirty: bool,
    drawn: Option<Instant>,
}

impl Ticks {
    fn new() -> Ticks {
        let now = Instant::now();
        Ticks {
            started: now,
            finished_at: None,
            analysed: now,
            cost: Duration::ZERO,
            stale: false,
            // The first frame is drawn before anything arrives.
            dirty: true,
            drawn: None,
        }
    }
}

fn live_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut dyn Keys,
    live: &mut Live<'_, '_>,
    info: &SourcesInfo,
) -> io::Result<()> {
    let mut t = Ticks::new();
    loop {
        if should_stop(live.feed, &t) {
            return Ok(());
        }
        let (count, open) = live.drain(&mut t);
        if !open {
            return Ok(());
        }
        live.analysis(&mut t);
        redraw(terminal, live.app, &mut t)?;
        let wait = if count >= DRAIN_MAX {
            Duration::ZERO
        } else {
            TICK
        };
        if let Some(ev) = keys.next(wait)? {
            t.dirty = true;
            let app = &mut *live.app;
            match handle(app, ev) {
                Some(Action::Quit) => return Ok(()),
                Some(Action::Export) => app.message = Some(snapshot(app, info)),
                Some(Action::Reset) => app.message = Some(reset(info)),
                None => {}
            }
        }
    }
}

/// The same stop conditions as [`live::record`].
fn should_stop(feed: &mut Feed<'_>, t: &Ticks) -> bool {
    if feed.stop.load(Ordering::SeqCst) {
        feed.session.note("recording was interrupted (Ctrl-C or SIGTERM); the diagnosis covers what was recorded until then");
        return true;
    }
    feed.plan.duration.is_some_and(|d| t.started.elapsed() >= d)
        || t.finished_at
            .is_some_and(|f| f.elapsed() >= feed.plan.linger)
}

fn redraw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App, t: &mut Ticks) -> io::Result<()> {
    if !t.dirty || t.drawn.is_some_and(|d| d.elapsed() < FRAME) {
        return Ok(());
    }
    let size = terminal.size().map_err(term_error)?;
    app.page = view::page_rows(Rect::new(0, 0, size.width, size.height), app);
    terminal
        .draw(|f| view::render(f, app))
        .map_err(term_error)?;
    t.dirty = false;
    t.drawn = Some(Instant::now());
    Ok(())
}

/// Backends have their own error types; the loop only needs to report them.
fn term_error(e: impl std::error::Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// `e`: what memory holds, saying so when that is not the whole session.
fn snapshot(app: &App, info: &SourcesInfo) -> String {
    let done = export::snapshot(&info.snapshot, app.events());
    match app.held_note() {
        Some(held) => format!("{done} ({held})"),
        None => done,
    }
}

/// Asks the serial reader to pulse RTS, if the user allowed resets.
pub fn reset(info: &SourcesInfo) -> String {
    match &info.reset {
        Some(flag) => {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            "resetting the board (RTS pulse)…".into()
        }
        None => "reset is off: start with --reset-key (and --serial) to allow `r`".into(),
    }
}

fn handle(app: &mut App, ev: TermEvent) -> Option<Action> {
    match ev {
        TermEvent::Key(k) => on_key(app, k),
        // A resize only needs a redraw, which the caller schedules.
        _ => None,
    }
}

/// The replay's state: the recorded events as one timeline, analysed once.
pub fn replay_app(events: Vec<Event>, info: &SourcesInfo) -> App {
    let mut b = Builder::new();
    b.events(events);
    let tl = b.build();
    let report = analyze(&info.rules, &tl);
    App::replay(tl, report, info)
}

/// `ota-doctor replay TRACE`: the same screens over a recorded trace, until `q`.
pub fn replay(events: Vec<Event>, info: SourcesInfo) -> io::Result<()> {
    let mut app = replay_app(events, &info);
    let mut guard = Guard::enter()?;
    browse(&mut guard.terminal, &mut Crossterm, &mut app, &info)
}

/// Draws, waits for a key, repeats: nothing arrives by itself in a replay.
pub fn browse<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut dyn Keys,
    app: &mut App,
    info: &SourcesInfo,
) -> io::Result<()> {
    let mut t = Ticks::new();
    loop {
        redraw(terminal, app, &mut t)?;
        let Some(ev) = keys.next(Duration::from_millis(250))? else {
            continue;
        };
        t.dirty = true;
        match handle(app, ev) {
            Some(Action::Quit) => return Ok(()),
            Some(Action::Export) => app.message = Some(snapshot(app, info)),
            Some(Action::Reset) => app.message = Some(reset(info)),
            None => {}
        }
    }
}
