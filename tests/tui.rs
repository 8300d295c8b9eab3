//! The terminal UI without a terminal: views rendered into ratatui's TestBackend and
//! checked for what a user must be able to read, keys applied to the state, and the
//! live loop driven by a scripted key source. Assertions look for strings in rows,
//! not whole screens, so a style change does not break them.

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ota_doctor::analysis::analyze;
use ota_doctor::decode::net::build;
use ota_doctor::decode::net::pcap::LinkType;
use ota_doctor::decode::timestamp;
use ota_doctor::event::{Event, Source};
use ota_doctor::live::{Msg, Plan};
use ota_doctor::session::{Input, Session, Window};
use ota_doctor::tui::{self, Action, App, Mode, SourcesInfo, View, on_key};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// 2026-03-01 00:00:00 UTC: the example logs only carry a time of day.
const DAY: i64 = 1_772_323_200_000_000;
const HOST: [u8; 4] = [192, 168, 4, 10];
const DEV: [u8; 4] = [192, 168, 4, 23];
const MD5: &str = "0123456789abcdef0123456789abcdef";

fn example(file: &str) -> String {
    let p = format!(
        "{}/examples/esp32-image-too-big/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).expect("example log")
}

/// Each line stamped with the time it carries, or the last time seen.
fn stamped(text: &str, mut t: i64) -> Vec<(i64, String)> {
    text.lines()
        .map(|l| {
            if let (Some(s), _) = timestamp::split(l) {
                t = DAY + s.us.rem_euclid(timestamp::DAY_US);
            }
            t += 1;
            (t, l.to_string())
        })
        .collect()
}

fn udp(t_us: i64, from_host: bool, sport: u16, dport: u16, payload: &str) -> Input {
    let (a, b) = if from_host { (HOST, DEV) } else { (DEV, HOST) };
    Input::Frame {
        t_us,
        link: LinkType::Ethernet,
        data: build::frame(a, b, 17, &build::udp(sport, dport, payload.as_bytes())),
    }
}

/// The invitation, the password exchange and the device's OK, as the wire showed
/// them before the device refused the image on its serial port.
fn wire(t: i64) -> Vec<Input> {
    let nonce = "fedcba9876543210fedcba9876543210";
    vec![
        udp(t, true, 50000, 3232, &format!("0 41377 1399984 {MD5}\n")),
        udp(t + 20_000, false, 3232, 50000, &format!("AUTH {nonce}")),
        udp(
            t + 30_000,
            true,
            50000,
            3232,
            &format!("200 {MD5} {nonce}\n"),
        ),
        udp(t + 90_000, false, 3232, 50000, "OK"),
    ]
}

/// Every input of the example session, in the order a live run would read them.
fn example_inputs() -> Vec<Input> {
    let start = DAY + (14 * 3600 + 2 * 60) * 1_000_000;
    let mut inputs: Vec<Input> = stamped(&example("serial.log"), start)
        .into_iter()
        .map(|(t_us, l)| Input::Serial {
            t_us,
            bytes: l.into_bytes(),
        })
        .collect();
    inputs.extend(
        stamped(&example("host.log"), start + 10_000_000)
            .into_iter()
            .map(|(t_us, text)| Input::Host { t_us, text }),
    );
    inputs.extend(wire(start + 11_300_000));
    inputs.sort_by_key(|i| match i {
        Input::Serial { t_us, .. } | Input::Host { t_us, .. } | Input::Frame { t_us, .. } => *t_us,
    });
    inputs
}

fn example_session() -> (Session, i64) {
    let mut s = Session::new();
    s.watch(Source::Serial);
    s.watch(Source::Net);
    let inputs = example_inputs();
    for i in inputs {
        s.push(i);
    }
    let end = s.events().back().map_or(0, |e| e.t_us) + 1_000_000;
    s.finish(end);
    (s, end)
}

fn info() -> SourcesInfo {
    let mut i = SourcesInfo::new();
    i.serial = Some(("/dev/ttyUSB0".into(), 115200));
    i.iface = Some("wlan0".into());
    i.capturing = true;
    i
}

/// The example as the live UI shows it once the analysis has run.
fn example_app() -> App {
    let (s, end) = example_session();
    let info = info();
    let mut app = App::new(&info, Mode::Live);
    for e in s.events() {
        app.push(e.clone());
    }
    let tl = s.timeline(end);
    let report = analyze(&info.rules, &tl);
    app.set_analysis(tl, report);
    app
}

fn screen(app: &mut App, w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.page = tui::view::page_rows(ratatui::layout::Rect::new(0, 0, w, h), app);
    term.draw(|f| tui::view::render(f, app)).unwrap();
    rows(term.backend())
}

fn rows(b: &TestBackend) -> Vec<String> {
    let buf = b.buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

#[track_caller]
fn shows(rows: &[String], text: &str) -> usize {
    rows.iter()
        .position(|r| r.contains(text))
        .unwrap_or_else(|| panic!("`{text}` not on screen:\n{}", rows.join("\n")))
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        on_key(app, key(KeyCode::Char(c)));
    }
}

fn search(app: &mut App, pattern: &str) {
    on_key(app, key(KeyCode::Char('/')));
    typed(app, pattern);
    on_key(app, key(KeyCode::Enter));
}

#[test]
fn serial_and_network_panes_sit_side_by_side_when_wide_and_stack_when_narrow() {
    let mut app = example_app();
    app.view = View::Logs;
    let wide = screen(&mut app, 120, 36);
    let (s, n) = (
        shows(&wide, "Serial /dev/ttyUSB0 @ 115200"),
        shows(&wide, "Network (wlan0)"),
    );
    assert_eq!(s, n, "one row holds both pane titles");
    shows(&wide, "Updater.cpp:215");
    shows(&wide, "ota.reply");
    shows(&wide, "No response from de");
    let narrow = screen(&mut app, 80, 24);
    let (s, n) = (
        shows(&narrow, "Serial /dev/ttyUSB0"),
        shows(&narrow, "Network (wlan0)"),
    );
    assert!(n > s, "network pane below the serial pane");
    shows(&narrow, "Error[1]: Begin Failed");
}

#[test]
fn header_names_device_chip_sources_and_the_failed_phase() {
    let mut app = example_app();
    for (w, h) in [(120, 36), (80, 24)] {
        let r = screen(&mut app, w, h);
        shows(&r, "OTA failed:");
        shows(&r, "LIVE");
    }
    let r = screen(&mut app, 200, 36);
    shows(&r, "device 192.168.4.23 esp32");
    shows(&r, "serial /dev/ttyUSB0 115200 open");
    shows(&r, "capture wlan0");
}

#[test]
fn timeline_merges_sources_with_their_times() {
    let mut app = example_app();
    app.view = View::Timeline;
    for (w, h) in [(120, 36), (80, 24)] {
        let r = screen(&mut app, w, h);
        shows(&r, "Timeline");
        shows(&r, "host   espota.error");
        shows(&r, "14:02:21.");
    }
    app.follow = false;
    app.top = 0;
    let r = screen(&mut app, 120, 36);
    shows(&r, "serial");
    shows(&r, "14:02:05.102");
    shows(&r, "net    ota.invite");
}

#[test]
fn t_switches_to_times_relative_to_the_start() {
    let mut app = example_app();
    app.view = View::Timeline;
    app.follow = false;
    app.top = 0;
    on_key(&mut app, key(KeyCode::Char('t')));
    let r = screen(&mut app, 120, 36);
    shows(&r, "+0.000 serial");
    shows(&r, "t:relative");
    assert!(!r.iter().any(|l| l.contains("14:02:05.102")));
}

#[test]
fn findings_view_shows_cause_confidence_fix_and_evidence() {
    let mut app = example_app();
    app.view = View::Findings;
    assert_eq!(app.report().findings[0].cause, "insufficient_space");
    for (w, h) in [(120, 36), (80, 24)] {
        let r = screen(&mut app, w, h);
        shows(&r, "insufficient_space");
        shows(&r, "0.99");
        shows(&r, "3 Findings (");
        if h >= 36 {
            shows(&r, "Fix:");
            shows(&r, "1. Make the image smaller");
            shows(&r, "Evidence (");
        }
    }
    // On a small screen the evidence is below the fold; PgDn scrolls the detail.
    let r = screen(&mut app, 80, 24);
    assert!(!r.iter().any(|l| l.contains("Evidence (")));
    on_key(&mut app, key(KeyCode::PageDown));
    let r = screen(&mut app, 80, 24);
    shows(&r, "Evidence (");
    shows(&r, "insufficient_space");
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = example_app();
    on_key(&mut app, key(KeyCode::Char('?')));
    let r = screen(&mut app, 80, 24);
    for (k, _) in tui::keys::HELP {
        shows(&r, k);
    }
    // Any key closes it without acting.
    assert_eq!(on_key(&mut app, key(KeyCode::Char('e'))), None);
    assert!(!app.help);
}

#[test]
fn a_tiny_terminal_gets_a_message_not_a_panic() {
    let mut app = example_app();
    for (w, h) in [(30, 8), (39, 30), (80, 9), (1, 1)] {
        let r = screen(&mut app, w, h);
        if w > 20 {
            shows(&r, "too small");
        }
    }
    // Just large enough: every view fits.
    for v in View::ALL {
        app.view = v;
        app.help = true;
        screen(&mut app, tui::view::MIN_WIDTH, tui::view::MIN_HEIGHT);
    }
}

#[test]
fn an_invalid_regex_is_reported_and_keeps_the_previous_search() {
    let mut app = example_app();
    search(&mut app, "Bad Size");
    search(&mut app, "(unclosed");
    let err = app
        .search
        .error
        .clone()
        .expect("error kept for the status line");
    assert!(err.contains("invalid regex `(unclosed`"), "{err}");
    assert_eq!(
        app.search.regex.as_ref().map(|r| r.as_str()),
        Some("Bad Size")
    );
    let r = screen(&mut app, 80, 24);
    shows(&r, "invalid regex");
    // Esc-free recovery: the next valid search clears the error.
    search(&mut app, "Begin");
    assert!(app.search.error.is_none());
}

#[test]
fn search_marks_the_next_match_and_f_filters_to_matches() {
    let mut app = example_app();
    app.view = View::Timeline;
    search(&mut app, "Bad Size");
    let hit = app.highlight.expect("a match is marked");
    assert!(app.events()[hit].text.contains("Bad Size"));
    assert!(!app.follow, "jumping to a match pauses");
    on_key(&mut app, key(KeyCode::Char('f')));
    assert!(app.search.filter);
    assert!(!app.rows().is_empty());
    assert!(
        app.rows()
            .iter()
            .all(|&i| app.events()[i].text.contains("Bad Size")
                || app.events()[i].kind.contains("Bad Size"))
    );
    let r = screen(&mut app, 120, 36);
    shows(&r, "(filtered)");
    shows(&r, "filter /Bad Size/");
    on_key(&mut app, key(KeyCode::Char('f')));
    assert_eq!(app.rows().len(), app.events().len());
}

#[test]
fn enter_on_a_finding_jumps_to_its_first_evidence_and_marks_it() {
    let mut app = example_app();
    // A filter that hides the evidence is switched off rather than hiding the jump.
    search(&mut app, "^ota\\.invite$");
    on_key(&mut app, key(KeyCode::Char('f')));
    on_key(&mut app, key(KeyCode::Char('3')));
    assert_eq!(app.view, View::Findings);
    on_key(&mut app, key(KeyCode::Enter));
    let first = *app.report().findings[0].evidence.iter().min().unwrap();
    assert_eq!(app.view, View::Timeline);
    assert_eq!(app.highlight, Some(first));
    assert!(!app.search.filter);
    let text = app.events()[first].text.clone();
    let r = screen(&mut app, 120, 36);
    let row = shows(&r, &text[..30]);
    let buf_row = &r[row];
    let source = app.events()[first].source.name();
    assert!(buf_row.contains(source), "{buf_row}");
}

#[test]
fn space_pauses_and_new_lines_do_not_move_a_paused_view() {
    let mut app = example_app();
    app.view = View::Timeline;
    app.page = 5;
    assert!(app.follow);
    on_key(&mut app, key(KeyCode::Char(' ')));
    assert!(!app.follow);
    let before = app.window(5);
    let mut e = Event::new(Source::Serial, "line", "later line");
    e.t_us = i64::MAX / 2;
    app.push(e);
    assert_eq!(app.window(5), before);
    // Scrolling up from the top stays at the top; End resumes following.
    on_key(&mut app, key(KeyCode::Home));
    on_key(&mut app, key(KeyCode::Up));
    assert_eq!(app.window(5).start, 0);
    on_key(&mut app, key(KeyCode::End));
    assert!(app.follow);
    assert_eq!(app.window(5).end, app.rows().len());
}

#[test]
fn quit_and_export_are_actions_for_the_loop() {
    let mut app = example_app();
    assert_eq!(
        on_key(&mut app, key(KeyCode::Char('e'))),
        Some(Action::Export)
    );
    assert_eq!(
        on_key(&mut app, key(KeyCode::Char('q'))),
        Some(Action::Quit)
    );
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(on_key(&mut app, ctrl_c), Some(Action::Quit));
    // While typing a search, q is a letter.
    on_key(&mut app, key(KeyCode::Char('/')));
    assert_eq!(on_key(&mut app, key(KeyCode::Char('q'))), None);
    assert_eq!(app.search.input.as_deref(), Some("q"));
}

fn progress(t_us: i64, pct: i64, bytes: i64) -> Event {
    let mut e = Event::new(Source::Net, "ota.progress", format!("{pct}%"))
        .with("percent", pct)
        .with("bytes", bytes)
        .with("rate_bps", 50_000i64);
    e.t_us = t_us;
    e
}

#[test]
fn gauge_and_sparkline_follow_the_transfer() {
    let mut invite = Event::new(Source::Net, "ota.invite", "invitation");
    invite.t_us = 1_000_000;
    let events = vec![
        invite,
        progress(2_000_000, 10, 100_000),
        progress(3_000_000, 20, 200_000),
        progress(4_000_000, 40, 400_000),
    ];
    let mut app = tui::replay_app(events, &SourcesInfo::new());
    let r = screen(&mut app, 80, 24);
    shows(&r, "REPLAY");
    shows(&r, "OTA transferring 40 %");
    shows(&r, "40 %");
    shows(&r, "Throughput 200.0 kB/s");
}

/// Keys from a script; when it runs out, time passes with no key.
struct Script(VecDeque<TermEvent>);

impl tui::Keys for Script {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
        match self.0.pop_front() {
            Some(e) => Ok(Some(e)),
            None => {
                std::thread::sleep(timeout.min(Duration::from_millis(5)));
                Ok(None)
            }
        }
    }
}

#[test]
fn the_live_loop_records_until_the_upload_ends_and_lingers() {
    let (tx, rx) = ota_doctor::live::channel();
    for i in example_inputs() {
        tx.send(Msg::Input(i)).unwrap();
    }
    tx.send(Msg::Note(
        "serial port went away (gone); trying to reopen it".into(),
    ))
    .unwrap();
    tx.send(Msg::Finished).unwrap();
    let plan = Plan {
        linger: Duration::from_millis(50),
        ..Plan::ui()
    };
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("live.jsonl");
    let mut sink = ota_doctor::live::TraceSink::create(&trace).unwrap();
    let feed = tui::Feed {
        sink: Some(&mut sink),
        ..tui::Feed::new(&rx, &mut session, &plan, &stop)
    };
    let end = tui::drive(&mut term, &mut Script(VecDeque::new()), feed, &info());
    assert!(end > 0);
    // The trace was written as events arrived, as line mode writes it.
    drop(sink);
    let written = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(written.lines().count(), session.events().len() + 1);
    assert!(
        dir.path().join("live.pcapng").exists(),
        "frames go to pcapng too"
    );
    assert!(
        session
            .events()
            .iter()
            .any(|e| e.text.contains("Bad Size Given"))
    );
    assert!(
        session
            .notes()
            .iter()
            .any(|n| n.contains("serial port went away"))
    );
    let r = rows(term.backend());
    shows(&r, "serial /dev/ttyUSB0 115200 reconnecting");
    drop(tx);
}

#[test]
fn q_ends_the_live_loop_while_sources_still_run() {
    let (tx, rx) = ota_doctor::live::channel();
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let feed = tui::Feed::new(&rx, &mut session, &plan, &stop);
    let keys = VecDeque::from([TermEvent::Key(key(KeyCode::Char('q')))]);
    tui::drive(&mut term, &mut Script(keys), feed, &SourcesInfo::new());
    drop(tx);
}

#[test]
fn e_in_a_replay_writes_a_trace_snapshot_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let mut info = SourcesInfo::new();
    info.snapshot = dir.path().join("snap.jsonl");
    let (s, _) = example_session();
    let mut app = tui::replay_app(s.events().iter().cloned().collect(), &info);
    let mut term = Terminal::new(TestBackend::new(120, 36)).unwrap();
    let keys = VecDeque::from([
        TermEvent::Key(key(KeyCode::Char('e'))),
        TermEvent::Key(key(KeyCode::Char('q'))),
    ]);
    tui::browse(&mut term, &mut Script(keys), &mut app, &info).unwrap();
    let msg = app.message.clone().unwrap();
    assert!(msg.contains("snap.jsonl"), "{msg}");
    let written = std::fs::read_to_string(&info.snapshot).unwrap();
    assert_eq!(written.lines().count(), s.events().len() + 1);
    assert!(written.starts_with("{\"ota_doctor_trace\":1"));
}

#[test]
fn the_stop_flag_ends_the_live_loop_with_a_note() {
    let (_tx, rx) = ota_doctor::live::channel();
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(true);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let feed = tui::Feed::new(&rx, &mut session, &plan, &stop);
    tui::drive(
        &mut term,
        &mut Script(VecDeque::new()),
        feed,
        &SourcesInfo::new(),
    );
    assert!(session.notes().iter().any(|n| n.contains("interrupted")));
}

#[test]
fn the_reset_key_is_off_unless_allowed() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let info = ota_doctor::tui::SourcesInfo::new();
    let mut app = ota_doctor::tui::replay_app(Vec::new(), &info);
    let r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE);
    assert_eq!(
        ota_doctor::tui::on_key(&mut app, r),
        Some(ota_doctor::tui::Action::Reset)
    );
    assert!(ota_doctor::tui::reset(&info).contains("--reset-key"));
    let mut allowed = ota_doctor::tui::SourcesInfo::new();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    allowed.reset = Some(flag.clone());
    assert!(ota_doctor::tui::reset(&allowed).contains("resetting"));
    assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn a_long_session_lets_old_lines_go_and_keeps_evidence_and_mark_on_their_events() {
    let mut info = info();
    info.window = Window::lines(200);
    info.trace = Some("/var/tmp/live.jsonl".into());
    let (s, end) = example_session();
    let mut app = App::new(&info, Mode::Live);
    for e in s.events() {
        app.push(e.clone());
    }
    let tl = s.timeline(end);
    let report = analyze(&info.rules, &tl);
    app.set_analysis(tl, report);
    app.view = View::Findings;
    on_key(&mut app, key(KeyCode::Enter));
    let marked = app.highlight.expect("the evidence is marked");
    let text = app.events()[marked].text.clone();
    for i in 0..5_000 {
        let mut e = Event::new(Source::Serial, "line", format!("tick {i}"));
        e.t_us = end + i * 1_000;
        app.push(e);
    }
    assert!(
        app.events().len() <= 200 + 25 + 100 + 12,
        "{}",
        app.events().len()
    );
    assert_eq!(app.seen(), s.events().len() + 5_000);
    let f = &app.report().findings[0];
    assert_eq!(f.cause, "insufficient_space");
    assert!(
        f.evidence
            .iter()
            .any(|&i| app.events()[i].text.contains("Bad Size"))
    );
    let marked = app.highlight.expect("the marked event was kept");
    assert_eq!(app.events()[marked].text, text);
    app.message = None;
    let r = screen(&mut app, 120, 36);
    shows(&r, "full trace in /var/tmp/live.jsonl");
    shows(&r, &format!("showing last {} of", app.events().len()));
    app.view = View::Logs;
    app.follow = true;
    shows(&screen(&mut app, 120, 36), "tick 4999");
}

#[test]
fn paused_panes_start_at_the_same_row_of_the_merged_timeline() {
    let mut app = example_app();
    app.view = View::Logs;
    on_key(&mut app, key(KeyCode::Char(' ')));
    on_key(&mut app, key(KeyCode::Home));
    let r = screen(&mut app, 120, 36);
    // The first serial line and the first uploader line: both panes start at row 0.
    let first = |serial: bool| {
        let i = app.pane_rows(serial)[0];
        app.events()[i].text.clone()
    };
    let (serial, other) = (first(true), first(false));
    assert!(r[3].contains(&serial[..20.min(serial.len())]), "{}", r[3]);
    assert!(r[3].contains(&other[..20.min(other.len())]), "{}", r[3]);
    // Paused past every serial line, the serial pane is empty and the other is not.
    let last_serial = *app.pane_rows(true).last().unwrap();
    app.top = app.rows().partition_point(|&i| i <= last_serial);
    let r = screen(&mut app, 120, 36);
    assert!(app.pane_rows(false).iter().any(|&i| i > last_serial));
    shows(&r, "(nothing yet)");
}

#[test]
fn a_new_analysis_over_fewer_events_keeps_the_mark_and_the_paused_page() {
    let (s, end) = example_session();
    let mut app = example_app();
    app.view = View::Findings;
    app.page = 3;
    on_key(&mut app, key(KeyCode::Enter));
    let marked = app.events()[app.highlight.expect("marked")].clone();
    let top = app.rows()[app.top];
    let top_event = app.events()[top].clone();
    // The session let its two oldest plain lines go; the screen had not yet.
    let gone: Vec<usize> = (0..top)
        .filter(|&i| ota_doctor::session::is_plain(&app.events()[i]))
        .take(2)
        .collect();
    assert_eq!(gone.len(), 2, "the example has plain lines above the page");
    let tl = s.timeline(end);
    let mut b = ota_doctor::timeline::Builder::new();
    b.captured(Source::Serial).captured(Source::Net).end(end);
    b.events(
        tl.events
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, e)| e),
    );
    let tl = b.build();
    let report = analyze(&info().rules, &tl);
    app.set_analysis(tl, report);
    assert_eq!(app.events()[app.highlight.expect("still marked")], marked);
    assert_eq!(app.events()[app.rows()[app.top]], top_event);
}

/// A port that vanishes mid-line: its reader hands on the cut-off line only as it
/// is stopped. The UI loop stops the sources before finishing, so the line is kept.
#[test]
fn a_line_the_sources_hand_on_while_stopping_is_recorded() {
    let (tx, rx) = ota_doctor::live::channel();
    tx.send(Msg::Finished).unwrap();
    let mut stop_sources = move || {
        let tx = tx.clone();
        let last = std::thread::spawn(move || {
            let bytes = b"E (1234) ota: cut off when the port vanish".to_vec();
            let _ = tx.send(Msg::Input(Input::Serial { t_us: 1, bytes }));
        });
        (vec!["serial port closed".to_string()], vec![last])
    };
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let feed = tui::Feed {
        stop_sources: Some(&mut stop_sources),
        ..tui::Feed::new(&rx, &mut session, &plan, &stop)
    };
    tui::drive(&mut term, &mut Script(VecDeque::new()), feed, &info());
    let texts: Vec<&str> = session.events().iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("cut off when the port vanish")),
        "{texts:?}"
    );
    assert!(session.notes().iter().any(|n| n == "serial port closed"));
}

/// A capture file that cannot be written (a full disk: /dev/full) is said on screen
/// while the run goes on, and kept for the final notes.
#[test]
fn a_trace_write_failure_shows_while_running() {
    let (tx, rx) = ota_doctor::live::channel();
    for i in wire(DAY) {
        tx.send(Msg::Input(i)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ota_doctor::live::TraceSink::create(&dir.path().join("t.jsonl")).unwrap();
    sink.pcap_path = "/dev/full".into();
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let mut term = Terminal::new(TestBackend::new(200, 36)).unwrap();
    // Quits once the frames were taken: a key is only read after a drain.
    let keys = VecDeque::from([TermEvent::Key(key(KeyCode::Char('q')))]);
    let feed = tui::Feed {
        sink: Some(&mut sink),
        ..tui::Feed::new(&rx, &mut session, &plan, &stop)
    };
    tui::drive(&mut term, &mut Script(keys), feed, &info());
    drop(tx);
    let told = |n: &String| n.contains("writing `/dev/full` stopped");
    assert!(session.notes().iter().any(told), "{:?}", session.notes());
    assert!(sink.news().is_empty(), "left for the end-of-run notes only");
    let r = rows(term.backend());
    assert!(r.iter().any(|l| l.contains("/dev/full")), "{r:#?}");
}

/// What the command asks to show at the start (memory keeps only the newest
/// events) is on the first frame.
#[test]
fn the_start_note_is_on_the_first_frame() {
    let (_tx, rx) = ota_doctor::live::channel();
    let plan = Plan::ui();
    let mut session = Session::new();
    let stop = AtomicBool::new(false);
    let mut term = Terminal::new(TestBackend::new(160, 24)).unwrap();
    let mut info = info();
    info.start_note = Some("memory keeps only the newest 9 log lines".into());
    let feed = tui::Feed::new(&rx, &mut session, &plan, &stop);
    let keys = VecDeque::from([TermEvent::Key(key(KeyCode::Char('q')))]);
    tui::drive(&mut term, &mut Script(keys), feed, &info);
    let r = rows(term.backend());
    assert!(r.iter().any(|l| l.contains("newest 9 log lines")), "{r:#?}");
}
