//! The longest pause of the live loop while analyses run over a full window: the
//! real loop ([`tui::drive`]) is fed the simulated device until memory holds the
//! default window, then a busy device's rate in real time, and every time between
//! two looks at the keys is recorded. Run once with the analysis on the loop (as it
//! was) and once on its own thread, in one process.

use super::stream::second;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ota_doctor::event::Source;
use ota_doctor::live::{self, Msg, Plan};
use ota_doctor::session::{Input, Session, Window};
use ota_doctor::tui::{self, Keys, SourcesInfo};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// Simulated seconds at 100 lines/s that overfill the default window's 100,000
/// plain lines, so the measured part runs on a full, trimming window.
pub const FILL_SECS: u32 = 1_100;
/// Left out after the fill: the channel's backlog is still being drained.
const WARM: Duration = Duration::from_secs(1);

pub struct Figures {
    pub longest: Duration,
    pub p99: Duration,
    /// The longest stall in CPU time the loop's thread used: on a shared machine
    /// the wall-clock figure also holds the time other processes had the core.
    pub longest_cpu: Duration,
    pub polls: usize,
    /// Stalls longer than `over` (the redraw budget).
    pub over: usize,
    pub secs: f64,
    /// CPU the analysis thread used while measured, in seconds; None without one.
    pub thread_cpu: Option<f64>,
    pub held: usize,
    /// What handing the held events over by copy would cost the loop per
    /// analysis: cloning them, and later dropping the copy.
    pub clone: Duration,
    pub drop: Duration,
}

pub fn fill() -> Vec<Input> {
    let mut out = Vec::new();
    (0..FILL_SECS).for_each(|s| second(s, 100, &mut out));
    out
}

/// One run of the loop; `inline` puts the analysis on it, as before.
pub fn measure(
    inline: bool,
    fill: &[Input],
    secs: u64,
    rate: u32,
    budget: Duration,
) -> Result<Figures, String> {
    let (tx, rx) = live::channel();
    let steady = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let producer = {
        let (fill, steady, done) = (fill.to_vec(), steady.clone(), done.clone());
        std::thread::spawn(move || produce(&tx, fill, rate, &steady, &done))
    };
    let mut session = Session::new().with_window(Window::default());
    session.watch(Source::Serial);
    session.watch(Source::Net);
    let mut info = SourcesInfo::new();
    info.inline_analysis = inline;
    let plan = Plan::ui();
    let stop = AtomicBool::new(false);
    let feed = tui::Feed::new(&rx, &mut session, &plan, &stop);
    let mut keys = Recorder::new(steady, Duration::from_secs(secs));
    let mut term = Terminal::new(TestBackend::new(120, 36)).map_err(|e| e.to_string())?;
    tui::drive(&mut term, &mut keys, feed, &info);
    done.store(true, Ordering::SeqCst);
    drop(rx);
    producer.join().map_err(|_| "the producer panicked")?;
    let mut f = keys.figures(session.events().len(), budget)?;
    let t = Instant::now();
    let copy = session.events().iter().cloned().collect::<Vec<_>>();
    f.clone = t.elapsed();
    let t = Instant::now();
    drop(copy);
    f.drop = t.elapsed();
    Ok(f)
}

/// The fill as fast as the loop takes it, then `rate` lines a second in 10 ms
/// slices until told to stop.
fn produce(
    tx: &SyncSender<Msg>,
    fill: Vec<Input>,
    rate: u32,
    steady: &AtomicBool,
    done: &AtomicBool,
) {
    for i in fill {
        if tx.send(Msg::Input(i)).is_err() {
            return;
        }
    }
    steady.store(true, Ordering::SeqCst);
    let mut buf = Vec::new();
    let mut sec = FILL_SECS;
    while !done.load(Ordering::SeqCst) {
        second(sec, rate, &mut buf);
        let slice = buf.len().div_ceil(100).max(1);
        while !buf.is_empty() && !done.load(Ordering::SeqCst) {
            let n = slice.min(buf.len());
            for i in buf.drain(..n) {
                if tx.send(Msg::Input(i)).is_err() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        sec += 1;
    }
}

/// Keys that never come: records when the loop looks and when it gets control
/// back, as crossterm's poll would give it after `timeout`.
struct Recorder {
    steady: Arc<AtomicBool>,
    length: Duration,
    /// When measuring starts and ends.
    span: Option<(Instant, Instant)>,
    /// The analysis thread's CPU when measuring started; `Some(None)` without one.
    cpu_from: Option<Option<f64>>,
    back: Option<(Instant, Duration)>,
    gaps: Vec<Duration>,
    longest_cpu: Duration,
    thread_cpu: Option<f64>,
}

impl Recorder {
    fn new(steady: Arc<AtomicBool>, length: Duration) -> Recorder {
        Recorder {
            steady,
            length,
            span: None,
            cpu_from: None,
            back: None,
            gaps: Vec::new(),
            longest_cpu: Duration::ZERO,
            thread_cpu: None,
        }
    }

    fn wait(&mut self, timeout: Duration) -> Option<TermEvent> {
        std::thread::sleep(timeout);
        self.back = Some((Instant::now(), own_cpu()));
        None
    }

    fn figures(mut self, held: usize, budget: Duration) -> Result<Figures, String> {
        self.gaps.sort_unstable();
        let over = self.gaps.len() - self.gaps.partition_point(|&g| g <= budget);
        let longest = *self
            .gaps
            .last()
            .ok_or("the loop never looked at the keys")?;
        let p99 = self.gaps[(self.gaps.len() - 1) * 99 / 100];
        Ok(Figures {
            longest,
            p99,
            longest_cpu: self.longest_cpu,
            polls: self.gaps.len(),
            over,
            secs: self.length.as_secs_f64(),
            thread_cpu: self.thread_cpu,
            held,
            clone: Duration::ZERO,
            drop: Duration::ZERO,
        })
    }
}

impl Keys for Recorder {
    fn next(&mut self, timeout: Duration) -> io::Result<Option<TermEvent>> {
        let now = Instant::now();
        if self.span.is_none() && self.steady.load(Ordering::SeqCst) {
            let from = now + WARM;
            self.span = Some((from, from + self.length));
        }
        let Some((from, until)) = self.span else {
            return Ok(self.wait(timeout));
        };
        if now < from {
            return Ok(self.wait(timeout));
        }
        let cpu_from = *self.cpu_from.get_or_insert_with(analysis_cpu);
        if now >= until {
            self.thread_cpu = analysis_cpu().zip(cpu_from).map(|(b, a)| b - a);
            let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
            return Ok(Some(TermEvent::Key(q)));
        }
        if let Some((back, cpu)) = self.back.filter(|&(b, _)| b >= from) {
            self.gaps.push(now - back);
            self.longest_cpu = self.longest_cpu.max(own_cpu().saturating_sub(cpu));
        }
        Ok(self.wait(timeout))
    }
}

/// CPU time the calling thread has run (Linux schedstat, in ns); zero elsewhere.
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat.split_whitespace().next().and_then(|n| n.parse().ok());
    Duration::from_nanos(ns.unwrap_or(0))
}

/// CPU seconds the thread named `analysis` has used (Linux); None without one.
fn analysis_cpu() -> Option<f64> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    tasks.flatten().find_map(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        if comm.trim() != "analysis" {
            return None;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
        // After the name: state is field 3, utime 14 and stime 15, in USER_HZ (100).
        let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: f64 = rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    })
}
