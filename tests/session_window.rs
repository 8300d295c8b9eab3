//! A session longer than its window: memory holds a bounded number of events, the
//! events a diagnosis rests on outlive the plain lines around them, and the diagnosis
//! made after the flood is the one made before it. Counts, not timings.

use ota_doctor::analysis::analyze;
use ota_doctor::event::Source;
use ota_doctor::rules::RuleSet;
use ota_doctor::session::{Input, Session, Window};

const START: i64 = 1_772_373_720_000_000;

fn example(file: &str) -> String {
    let p = format!(
        "{}/examples/esp32-image-too-big/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).expect("example log")
}

/// The failed upload of the example: the device refuses the image early on.
fn failed_upload(s: &mut Session) -> i64 {
    let mut t = START;
    for l in example("serial.log").lines() {
        t += 1_000;
        let bytes = l
            .split_once(" > ")
            .map_or(l, |(_, b)| b)
            .as_bytes()
            .to_vec();
        s.push(Input::Serial { t_us: t, bytes });
    }
    for l in example("host.log").lines() {
        t += 1_000;
        s.push(Input::Host {
            t_us: t,
            text: l.to_string(),
        });
    }
    t
}

/// Hours of a sketch printing what no decoder recognises, 10 lines a second.
fn chatter(s: &mut Session, from: i64, n: usize) -> i64 {
    let mut t = from;
    for i in 0..n {
        t += 100_000;
        let bytes = format!("loop {i}: temp=23.{}C heap={}", i % 10, 200_000 - i % 977);
        s.push(Input::Serial {
            t_us: t,
            bytes: bytes.into_bytes(),
        });
    }
    t
}

fn top_cause(s: &Session, end: i64) -> String {
    let tl = s.timeline(end);
    let report = analyze(&RuleSet::builtin(), &tl);
    report
        .findings
        .first()
        .map_or_else(|| "none".into(), |f| f.cause.clone())
}

fn run(w: Window, lines: usize) -> (Session, i64) {
    let mut s = Session::new().with_window(w);
    s.watch(Source::Serial);
    let t = failed_upload(&mut s);
    let end = chatter(&mut s, t, lines) + 1_000_000;
    s.finish(end);
    (s, end)
}

#[test]
fn a_flood_of_plain_lines_keeps_memory_bounded_and_the_diagnosis() {
    let w = Window::lines(500);
    let (s, end) = run(w, 20_000);
    // The caps plus the slack that keeps trimming cheap (an eighth of each).
    let bound = (w.lines + w.lines / 8) + (w.marked + w.marked / 8);
    assert!(s.events().len() <= bound, "{} held", s.events().len());
    assert!(s.total() > 20_000);
    assert_eq!(s.dropped(), s.total() - s.events().len());
    assert!(
        s.events().iter().any(|e| e.text.contains("Bad Size Given")),
        "the device's refusal outlived the flood"
    );
    assert!(
        s.notes().iter().any(|n| n.contains("--window")),
        "{:?}",
        s.notes()
    );
    let (all, all_end) = run(Window::unbounded(), 20_000);
    assert_eq!(all.dropped(), 0);
    assert_eq!(top_cause(&all, all_end), "insufficient_space");
    assert_eq!(top_cause(&s, end), "insufficient_space");
}

#[test]
fn a_window_larger_than_the_session_lets_nothing_go() {
    let (s, _) = run(Window::default(), 2_000);
    assert_eq!(s.dropped(), 0);
    assert_eq!(s.events().len(), s.total());
    assert!(s.notes().is_empty());
}
