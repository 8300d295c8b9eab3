//! Memory a live session holds over a simulated day, against the same stream held
//! without a window, measured in one run (bench/session.sh runs it). The stream is
//! pushed in-process on simulated time: no sleeping, no I/O, no terminal.
//!
//! A counting allocator wraps the system one, so "held" is every byte the session
//! owns at that moment (events, decoder state, vector slack), not a guess per event.

#[path = "bench-stream/stream.rs"]
mod stream;

use ota_doctor::analysis::analyze;
use ota_doctor::event::Source;
use ota_doctor::rules::RuleSet;
use ota_doctor::session::{Session, Window};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use stream::{START, second};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = NOW.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are
// counted on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            NOW.fetch_sub(l.size(), Relaxed);
            grew(new);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const HOUR_US: i64 = 3_600_000_000;

struct Args {
    hours: u32,
    peer_hours: u32,
    rate: u32,
    window: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        hours: 24,
        // Held without a window, a day of this stream is gigabytes: the peer is
        // measured for the first hour and its bytes per event project the day.
        peer_hours: 1,
        rate: 100,
        window: Window::DEFAULT_LINES,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        let n: usize = v.parse().map_err(|_| format!("{k} {v}: not a number"))?;
        match k.as_str() {
            "--hours" => a.hours = n as u32,
            "--peer-hours" => a.peer_hours = n as u32,
            "--rate" => a.rate = n as u32,
            "--window" => a.window = n,
            _ => {
                return Err(format!(
                    "unknown option {k} (--hours --peer-hours --rate --window)"
                ));
            }
        }
    }
    Ok(a)
}

/// What was held at one checkpoint.
struct Mark {
    hours: u32,
    held: usize,
    peak: usize,
    events: usize,
    total: usize,
    secs: f64,
}

/// Pushes `hours` of the stream, noting memory at each checkpoint hour.
fn run(w: Window, hours: u32, rate: u32, at: &[u32]) -> (Vec<Mark>, Session) {
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let began = Instant::now();
    let mut s = Session::new().with_window(w);
    s.watch(Source::Serial);
    s.watch(Source::Net);
    let mut marks = Vec::new();
    let mut buf = Vec::new();
    for sec in 0..hours * 3600 {
        second(sec, rate, &mut buf);
        buf.drain(..).for_each(|i| {
            s.push(i);
        });
        let h = (sec + 1) / 3600;
        if (sec + 1) % 3600 == 0 && at.contains(&h) {
            marks.push(Mark {
                hours: h,
                held: NOW.load(Relaxed) - base,
                peak: PEAK.load(Relaxed) - base,
                events: s.events().len(),
                total: s.total(),
                secs: began.elapsed().as_secs_f64(),
            });
        }
    }
    (marks, s)
}

fn mb(b: usize) -> f64 {
    b as f64 / 1e6
}

fn print(name: &str, marks: &[Mark]) {
    for m in marks {
        println!(
            "{name:<10} {:>4} h {:>10} {:>10} {:>9.1} {:>9.1} {:>8} {:>7.1}",
            m.hours,
            m.total,
            m.events,
            mb(m.held),
            mb(m.peak),
            m.held / m.events.max(1),
            m.secs
        );
    }
}

/// The diagnosis over what is held, and what one analysis of it took (the live UI
/// spaces analyses by a multiple of that).
fn cause(s: &Session, hours: u32) -> String {
    let began = Instant::now();
    let tl = s.timeline(START + i64::from(hours) * HOUR_US);
    let r = analyze(&RuleSet::builtin(), &tl);
    let cause = r.findings.first().map_or("none", |f| f.cause.as_str());
    format!(
        "{cause} ({} events analysed in {:.0} ms)",
        tl.events.len(),
        began.elapsed().as_secs_f64() * 1e3
    )
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-session: {e}");
            std::process::exit(2);
        }
    };
    let at: Vec<u32> = [1, 6, 24, a.hours]
        .into_iter()
        .filter(|&h| h <= a.hours)
        .collect();
    println!(
        "stream: {} serial lines/s (half ESP32 log lines), a reboot banner every hour, a failed upload every 30 min",
        a.rate
    );
    println!(
        "{:<10} {:>6} {:>10} {:>10} {:>9} {:>9} {:>8} {:>7}",
        "window", "sim", "events", "held", "held MB", "peak MB", "B/event", "wall s"
    );
    let w = Window::lines(a.window);
    let (bounded, s) = run(w, a.hours, a.rate, &at);
    print(&format!("{}", a.window), &bounded);
    let bounded_cause = cause(&s, a.hours);
    drop(s);
    let peer_at: Vec<u32> = at.iter().copied().filter(|&h| h <= a.peer_hours).collect();
    let (all, s) = run(Window::unbounded(), a.peer_hours, a.rate, &peer_at);
    print("unbounded", &all);
    let all_cause = cause(&s, a.peer_hours);
    drop(s);
    println!("diagnosis at the end: window: {bounded_cause}; unbounded: {all_cause}");
    summary(&bounded, &all);
}

/// The RESULT line: the window's figure at the end, how flat it stayed, and the
/// unbounded peer measured in this run (and projected to the end from its bytes
/// per event when it was not run that long).
fn summary(bounded: &[Mark], all: &[Mark]) {
    let (Some(b), Some(first)) = (bounded.last(), bounded.first()) else {
        return;
    };
    let flat = b.peak as f64 / first.peak.max(1) as f64;
    let peer = match all.iter().rev().find(|m| m.hours <= b.hours) {
        Some(p) if p.hours == b.hours => format!(
            "unbounded: {:.1} MB = {:.1}x",
            mb(p.held),
            p.held as f64 / b.held.max(1) as f64
        ),
        Some(p) => {
            let per = p.held as f64 / p.events.max(1) as f64;
            let day = per * b.total as f64;
            format!(
                "unbounded: {:.1} MB measured at {} h; at {} h {:.0} MB projected = {:.1}x",
                mb(p.held),
                p.hours,
                b.hours,
                day / 1e6,
                day / b.held.max(1) as f64
            )
        }
        None => "no unbounded peer".into(),
    };
    println!(
        "RESULT session-memory: {:.1} MB held after {} h simulated ({} of {} events; peak {:.1} MB = {:.2}x the {} h peak), {} bytes/event ({peer})",
        mb(b.held),
        b.hours,
        b.events,
        b.total,
        mb(b.peak),
        flat,
        first.hours,
        b.held / b.events.max(1),
    );
}
