//! How long one frame of the terminal UI takes to draw with a million events on the
//! timeline, against the same frame with a thousand, in one run (bench/tui.sh runs
//! it). Frames are drawn into ratatui's TestBackend at 120x36: the cost measured is
//! building and diffing the frame, which is what the live loop pays ~30 times a
//! second; writing it to a real terminal depends on the terminal.
//!
//! First, the longest stall of the live loop while analyses run over a full window,
//! with the analysis on its own thread against the same run with it on the loop
//! (`stall`).

#[path = "bench-tui/stall.rs"]
mod stall;
#[path = "bench-stream/stream.rs"]
mod stream;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ota_doctor::analysis::analyze;
use ota_doctor::event::{Event, Source};
use ota_doctor::session::{Session, Window};
use ota_doctor::timeline::Builder;
use ota_doctor::tui::{self, App, Mode, SourcesInfo, View, on_key};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::time::{Duration, Instant};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 36;
const BUDGET_MS: f64 = 5.0;

/// The simulated device's stream, decoded, until `n` events.
fn events(n: usize) -> Vec<Event> {
    let mut s = Session::new().with_window(Window::unbounded());
    let mut buf = Vec::new();
    let mut sec = 0;
    while s.events().len() < n {
        stream::second(sec, 100, &mut buf);
        buf.drain(..).for_each(|i| {
            s.push(i);
        });
        sec += 1;
    }
    s.events().range(..n).cloned().collect()
}

/// The live UI's state once every event arrived and the analysis ran.
fn app(events: Vec<Event>) -> App {
    let mut info = SourcesInfo::new();
    info.serial = Some(("/dev/ttyUSB0".into(), 115200));
    info.iface = Some("wlan0".into());
    info.capturing = true;
    info.window = Window::unbounded();
    let mut app = App::new(&info, Mode::Live);
    for e in &events {
        app.push(e.clone());
    }
    let mut b = Builder::new();
    b.captured(Source::Serial)
        .captured(Source::Net)
        .events(events);
    let tl = b.build();
    let report = analyze(&info.rules, &tl);
    app.set_analysis(tl, report);
    app
}

/// One screen as the user may leave it; `set` puts the state there.
struct Case {
    name: &'static str,
    set: fn(&mut App),
}

fn key(app: &mut App, c: KeyCode) {
    on_key(app, KeyEvent::new(c, KeyModifiers::NONE));
}

fn filtered(app: &mut App) {
    key(app, KeyCode::Char('/'));
    "Bad Size|ota\\."
        .chars()
        .for_each(|c| key(app, KeyCode::Char(c)));
    key(app, KeyCode::Enter);
    key(app, KeyCode::Char('f'));
    key(app, KeyCode::End);
}

const CASES: [Case; 6] = [
    Case {
        name: "serial|net, following",
        set: |a| a.view = View::Logs,
    },
    Case {
        name: "timeline, following",
        set: |a| a.view = View::Timeline,
    },
    Case {
        name: "timeline, paused mid-way",
        set: |a| {
            a.view = View::Timeline;
            a.scroll_by(-(a.rows().len() as isize / 2));
        },
    },
    Case {
        name: "findings",
        set: |a| a.view = View::Findings,
    },
    Case {
        name: "timeline, filter on",
        set: |a| {
            filtered(a);
            a.view = View::Timeline;
        },
    },
    Case {
        name: "serial|net, filter on",
        set: |a| {
            filtered(a);
            a.view = View::Logs;
        },
    },
];

/// Median and 99th percentile of `frames` draws, in ms.
fn time(app: &mut App, frames: usize) -> Result<(f64, f64), String> {
    let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).map_err(|e| e.to_string())?;
    app.page = tui::view::page_rows(Rect::new(0, 0, WIDTH, HEIGHT), app);
    let mut took: Vec<Duration> = Vec::with_capacity(frames);
    for _ in 0..frames.max(1) {
        let t = Instant::now();
        term.draw(|f| tui::view::render(f, app))
            .map_err(|e| e.to_string())?;
        took.push(t.elapsed());
    }
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    Ok((at(0.5), at(0.99)))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-tui: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut a = std::env::args().skip(1);
    let big: usize = a
        .next()
        .map_or(Ok(1_000_000), |v| v.parse())
        .map_err(|_| "usage: bench-tui [EVENTS [SMALL [FRAMES [STALL_SECS [RATE]]]]]")?;
    let small: usize = a
        .next()
        .map_or(Ok(1_000), |v| v.parse())
        .map_err(|_| "SMALL: a number")?;
    let frames: usize = a
        .next()
        .map_or(Ok(300), |v| v.parse())
        .map_err(|_| "FRAMES: a number")?;
    let stall_secs: u64 = a
        .next()
        .map_or(Ok(20), |v| v.parse())
        .map_err(|_| "STALL_SECS: a number (0 skips)")?;
    let rate: u32 = a
        .next()
        .map_or(Ok(1_000), |v| v.parse())
        .map_err(|_| "RATE: lines a second")?;
    if stall_secs > 0 {
        stalls(stall_secs, rate)?;
    }
    let t = Instant::now();
    let all = events(big);
    let mut large = app(all.clone());
    let mut little = app(all[..small.min(all.len())].to_vec());
    drop(all);
    println!(
        "state built in {:.1} s: {} and {} events, {} findings; {frames} frames per case at {WIDTH}x{HEIGHT}",
        t.elapsed().as_secs_f64(),
        large.events().len(),
        little.events().len(),
        large.report().findings.len()
    );
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>12} {:>7}",
        "screen", "median big", "p99 big", "median small", "p99 small", "p99 ÷"
    );
    // The worst screen by p99 at the large size, with its medians: on a loaded
    // machine p99 is mostly the scheduler, the median is the drawing.
    let mut worst: Option<(f64, f64, f64, f64, &str)> = None;
    for c in &CASES {
        (c.set)(fresh(&mut large));
        (c.set)(fresh(&mut little));
        let (lm, lp) = time(&mut large, frames)?;
        let (sm, sp) = time(&mut little, frames)?;
        println!(
            "{:<28} {lm:>9.3} ms {lp:>9.3} ms {sm:>9.3} ms {sp:>9.3} ms {:>6.2}x",
            c.name,
            lp / sp
        );
        if worst.is_none_or(|(w, ..)| lp > w) {
            worst = Some((lp, sp, lm, sm, c.name));
        }
    }
    if let Some((lp, sp, lm, sm, name)) = worst {
        println!(
            "RESULT tui-redraw: {lp:.2} ms p99 ({lm:.2} median) at {} events vs {sp:.2} ms ({sm:.2}) at {} = {:.2}x (worst screen: {name}; budget {BUDGET_MS} ms)",
            large.events().len(),
            little.events().len(),
            lp / sp
        );
    }
    Ok(())
}

/// The live loop's longest stall, analysis on the loop against on its thread.
fn stalls(secs: u64, rate: u32) -> Result<(), String> {
    let fill = stall::fill();
    println!(
        "ui-stall: the live loop fed {} s of the device at 100 lines/s (a full default window), then {rate} lines/s for {secs} s measured",
        stall::FILL_SECS
    );
    let budget = Duration::from_secs_f64(BUDGET_MS / 1e3);
    let old = stall::measure(true, &fill, secs, rate, budget)?;
    let new = stall::measure(false, &fill, secs, rate, budget)?;
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>8} {:>8} {:>16} {:>8}",
        "analysis", "longest", "p99", "longest CPU", "polls", "> budget", "thread CPU", "held"
    );
    for (name, f) in [("on the loop (old)", &old), ("on its own thread", &new)] {
        let cpu = f.thread_cpu.map_or("-".into(), |c| {
            format!("{:.2} s {:.1}%", c, c / f.secs * 100.0)
        });
        println!(
            "{name:<28} {:>9.2} ms {:>9.2} ms {:>9.2} ms {:>8} {:>8} {cpu:>16} {:>8}",
            ms(f.longest),
            ms(f.p99),
            ms(f.longest_cpu),
            f.polls,
            f.over,
            f.held
        );
    }
    println!(
        "a hand-off by copy would cost the loop {:.1} ms to clone the {} held events and {:.1} ms to drop them, per analysis",
        ms(new.clone),
        new.held,
        ms(new.drop)
    );
    println!(
        "RESULT ui-stall: {:.2} ms longest loop stall ({:.2} p99; longest in the loop's own CPU time {:.2} ms; {} of {} over budget) with the analysis on its thread vs {:.1} ms with it on the loop = {:.0}x shorter; budget {BUDGET_MS} ms = {:.2}x of it",
        ms(new.longest),
        ms(new.p99),
        ms(new.longest_cpu),
        new.over,
        new.polls,
        ms(old.longest),
        ms(old.longest) / ms(new.longest),
        ms(new.longest) / BUDGET_MS
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Back to the state after loading, so cases do not see each other's keys.
fn fresh(app: &mut App) -> &mut App {
    app.search = Default::default();
    app.rebuild_rows();
    app.follow = true;
    app.highlight = None;
    app.message = None;
    app
}
