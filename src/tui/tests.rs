//! The live analysis off the UI thread, with an analysis that does not finish until
//! the test lets it: the loop must go on handling keys meanwhile, and the answer,
//! when it comes, must land on the events it was about.

use super::run::{Feed, Keys, drive_with};
use super::worker::{Analyse, Done, Reply, Worker};
use super::{App, Mode, SourcesInfo, View};
use crate::analysis::{Finding, Report};
use crate::event::{Event, Source};
use crate::live::{self, Msg, Plan};
use crate::rules::Severity;
use crate::session::{Input, Session, Window};
use crate::timeline::Timeline;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel};
use std::time::Duration;

const MARKER: &str = "Bad Size Given";
/// Only bounds a test that would otherwise hang: a loop waiting on the analysis
/// never releases it, and the analysis then reports that it was not released.
const NEVER: Duration = Duration::from_secs(60);

/// One finding resting on the first event and the first that says `MARKER`.
fn report(tl: &Timeline, cause: &str) -> Report {
    let marker = (tl.events.iter()).position(|e| e.text.contains(MARKER));
    let mut evidence: Vec<usize> = [Some(0), marker].into_iter().flatten().collect();
    evidence.dedup();
    let f = Finding {
        rule: cause.into(),
        cause: cause.into(),
        severity: Severity::Error,
        confidence: 0.9,
        title: "held back by the test".into(),
        message: "seen".into(),
        fix: Vec::new(),
        explanation: String::new(),
        decide: None,
        references: Vec::new(),
        evidence,
    };
    Report {
        findings: vec![f.clone()],
        fired: vec![f],
        notes: Vec::new(),
    }
}

/// Reports each run on `started` (its number), then waits for `release`.
fn slow(started: Sender<usize>, release: Receiver<()>, timed_out: Arc<AtomicBool>) -> Analyse {
    let mut runs = 0;
    Box::new(move |tl| {
        runs += 1;
        let _ = started.send(runs);
        if release.recv_timeout(NEVER).is_err() {
            timed_out.store(true, Ordering::SeqCst);
        }
        report(tl, "slow_cause")
    })
}

fn serial(t_us: i64, text: &str) -> Input {
    Input::Serial {
        t_us,
        bytes: text.as_bytes().to_vec(),
    }
}

fn key(c: char) -> TermEvent {
    TermEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

#[derive(Debug, PartialEq)]
enum Stage {
    /// Until the first analysis starts.
    Idle,
    /// The first analysis is held; keys keep coming.
    Held(usize),
    /// Released; the next analysis is only asked for once the first was applied.
    Released,
    Quit,
}

/// Keys that follow the analysis: while it is held, switch to the findings and
/// move about; once the loop asks for a second one, quit.
struct Script {
    stage: Stage,
    started: Receiver<usize>,
    release: Sender<()>,
    tx: SyncSender<Msg>,
    waits: usize,
}

/// Keys answered while the first analysis was held.
const KEYS_WHILE_HELD: usize = 4;

impl Keys for Script {
    fn next(&mut self, timeout: Duration) -> std::io::Result<Option<TermEvent>> {
        let started = self.started.try_recv().ok();
        match (&self.stage, started) {
            (Stage::Idle, Some(1)) => {
                // New events while it runs: the loop must ask again after the answer.
                let _ = self.tx.send(Msg::Input(serial(live::now_us(), "later")));
                self.stage = Stage::Held(1);
                return Ok(Some(key('3')));
            }
            (Stage::Held(n), _) if *n < KEYS_WHILE_HELD => {
                self.stage = Stage::Held(n + 1);
                return Ok(Some(key('j')));
            }
            (Stage::Held(_), _) => {
                let _ = self.release.send(());
                self.stage = Stage::Released;
            }
            (Stage::Released, Some(2)) => {
                // A second request means the first answer was applied and drawn.
                self.stage = Stage::Quit;
            }
            (Stage::Quit, _) => return Ok(Some(key('q'))),
            _ => {}
        }
        self.waits += 1;
        if self.waits > 20_000 {
            self.stage = Stage::Quit;
        }
        std::thread::sleep(timeout.min(Duration::from_millis(5)));
        Ok(None)
    }
}

fn rows(b: &TestBackend) -> String {
    let buf = b.buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn keys_are_handled_while_an_analysis_runs_and_its_answer_is_shown() {
    let (tx, rx) = live::channel();
    for (i, text) in ["boot", MARKER, "after"].iter().enumerate() {
        let _ = tx.send(Msg::Input(serial(live::now_us() + i as i64, text)));
    }
    let (started_tx, started) = channel();
    let (release, release_rx) = channel();
    let timed_out = Arc::new(AtomicBool::new(false));
    let mut script = Script {
        stage: Stage::Idle,
        started,
        release,
        tx: tx.clone(),
        waits: 0,
    };
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let feed = Feed::new(&rx, &mut session, &plan, &stop);
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    let analyse = slow(started_tx, release_rx, timed_out.clone());
    drive_with(&mut term, &mut script, feed, &SourcesInfo::new(), analyse);
    assert!(
        !timed_out.load(Ordering::SeqCst),
        "the loop waited on the analysis"
    );
    assert_eq!(script.stage, Stage::Quit);
    assert!(script.waits <= 20_000, "no second analysis was asked for");
    let screen = rows(term.backend());
    assert!(screen.contains("slow_cause"), "{screen}");
    assert!(screen.contains(MARKER), "evidence not shown:\n{screen}");
}

fn line(t_us: i64, text: &str) -> Event {
    let mut e = Event::new(Source::Serial, "line", text);
    e.t_us = t_us;
    e
}

fn wait(w: &mut Worker) -> Option<Done> {
    for _ in 0..6_000 {
        if let Some(Reply::Done(d)) = w.poll() {
            return Some(d);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn an_answer_about_older_events_lands_on_the_same_events() {
    let window = Window {
        lines: 8,
        marked: 8,
    };
    let mut info = SourcesInfo::new();
    info.window = window;
    let mut app = App::new(&info, Mode::Live);
    let mut marker = line(5_000, MARKER);
    marker.kind = "espota.error".into();
    let first: Vec<Event> = (0..10)
        .map(|i| line(i * 1_000, "old"))
        .chain([marker.clone()])
        .collect();
    first.iter().for_each(|e| app.push(e.clone()));
    let (started_tx, started) = channel();
    let (release, release_rx) = channel();
    let timed_out = Arc::new(AtomicBool::new(false));
    let mut w = Worker::start(
        window,
        slow(started_tx, release_rx, timed_out.clone()),
        true,
    );
    w.events(first);
    let mut session = Session::new();
    session.watch(Source::Serial);
    w.request(session.outline(1_000_000));
    assert_eq!(started.recv_timeout(NEVER).ok(), Some(1));
    // While it runs: earlier events move the marker down, newer ones push old
    // lines out, and keys still work.
    for i in 0..3 {
        app.push(line(100 + i, "earlier"));
    }
    for i in 0..20 {
        app.push(line(20_000 + i, "newer"));
    }
    // What the screen let go is handed over for freeing elsewhere.
    let gone = app.take_released();
    assert!(gone.iter().any(|e| e.text == "old"), "{gone:?}");
    super::on_key(
        &mut app,
        KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE),
    );
    assert!(w.busy());
    let _ = release.send(());
    let done = wait(&mut w).expect("an answer");
    app.apply(done.found);
    assert_eq!(app.view, View::Findings);
    let f = &app.report().findings[0];
    assert_eq!(f.cause, "slow_cause");
    let texts: Vec<&str> = (f.evidence.iter())
        .map(|&i| app.events()[i].text.as_str())
        .collect();
    // The oldest line was let go meanwhile: it is no longer listed.
    assert_eq!(texts, [MARKER]);
    assert!(!timed_out.load(Ordering::SeqCst));
}

const USER_RULE: &str = include_str!("../../tests/fixtures/rules/marker.toml.in");

/// The UI's analysis judges with the rules as last reloaded, as line mode does: an
/// edit of a --rules file changes the causes it finds.
#[test]
fn the_live_analysis_uses_reloaded_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("marker.toml");
    std::fs::write(&file, USER_RULE.replace("WORD", "before")).unwrap();
    let dirs = crate::cli::RuleDirs {
        dirs: vec![file.clone()],
    };
    let (tx, _rx) = live::channel();
    let rules = live::LiveRules::start(&dirs, &tx).unwrap();
    let mut info = SourcesInfo::new();
    info.rules = rules.current();
    info.live_rules = Some(rules.clone());
    let mut analyse = super::run::analyser(&info);
    let mut s = Session::new();
    s.watch(Source::Serial);
    s.push(serial(1_000, "marker before"));
    s.push(serial(1_500, "marker after"));
    let causes = |r: Report| -> Vec<String> { r.findings.into_iter().map(|f| f.cause).collect() };
    let tl = s.timeline(2_000);
    let then = causes(analyse(&tl));
    assert!(then.contains(&"x_marker_before".to_string()), "{then:?}");
    assert!(!then.contains(&"x_marker_after".to_string()), "{then:?}");
    std::fs::write(&file, USER_RULE.replace("WORD", "after")).unwrap();
    let said = rules.reload(&dirs.dirs);
    assert!(said.contains("rules reloaded"), "{said}");
    let now = causes(analyse(&tl));
    rules.stop();
    assert!(now.contains(&"x_marker_after".to_string()), "{now:?}");
    assert!(!now.contains(&"x_marker_before".to_string()), "{now:?}");
}
