//! The live run: sources send stamped input over one bounded channel; this loop is the
//! only owner of the [`Session`], writes the trace as events arrive (so a killed process
//! loses nothing already decoded) and decides when recording stops.

mod rules_watch;
mod signals;
mod sink;

pub use rules_watch::LiveRules;
pub use signals::{caught, stop_on_signals};
pub use sink::{TraceSink, WholeRecords, write_failed};

use crate::capture::clock::HostClock;
use crate::session::{Input, Session};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a source thread sends to the owner.
#[derive(Debug)]
pub enum Msg {
    Input(Input),
    /// Something the user should know (a source failed, reconnected, …).
    Note(String),
    /// The upload (our own, or the user's command) has ended.
    Finished,
}

pub fn channel() -> (SyncSender<Msg>, Receiver<Msg>) {
    // Deep enough for a burst of full-size frames; sources count what they cannot send.
    sync_channel(8192)
}

static CLOCK: std::sync::LazyLock<HostClock> = std::sync::LazyLock::new(HostClock::new);

/// The one clock every source of this process stamps with.
pub fn clock() -> HostClock {
    *CLOCK
}

/// Microseconds since the Unix epoch, on [`clock`].
pub fn now_us() -> i64 {
    CLOCK.now_us()
}

/// When to stop recording.
pub struct Plan {
    pub duration: Option<Duration>,
    /// How long to keep listening after the upload ended: the device prints its
    /// result and reboots after the uploader has already given up or finished.
    pub linger: Duration,
    /// Print each event as a line while recording.
    pub print: bool,
    /// Timeline lines go to stderr, keeping stdout for the final JSON.
    pub to_stderr: bool,
    /// Show the terminal UI instead of lines.
    pub tui: bool,
}

impl Plan {
    /// The terminal UI until stopped: no time limit, no lingering, no lines printed.
    pub fn ui() -> Plan {
        Plan {
            duration: None,
            linger: Duration::ZERO,
            print: false,
            to_stderr: false,
            tui: true,
        }
    }
}

/// Receives until the plan says stop, Ctrl-C/SIGTERM sets `stop`, or every sender
/// is gone. Then `stop_sources` ends the sources (it returns notes about them), and
/// what they still delivered on the way out (a serial line cut off without its line
/// break) is recorded before the session is finished. Returns the end of recording (µs).
pub fn record(
    rx: &Receiver<Msg>,
    session: &mut Session,
    plan: &Plan,
    mut sink: Option<&mut TraceSink>,
    stop: &AtomicBool,
    stop_sources: impl FnOnce() -> Stopped,
) -> i64 {
    let started = Instant::now();
    let mut finished_at: Option<Instant> = None;
    let t0 = now_us();
    loop {
        if stop.load(Ordering::SeqCst) {
            let by = caught().unwrap_or("Ctrl-C or SIGTERM");
            session.note(format!("recording was interrupted by {by}; the diagnosis covers what was recorded until then"));
            break;
        }
        if plan.duration.is_some_and(|d| started.elapsed() >= d)
            || finished_at.is_some_and(|f| f.elapsed() >= plan.linger)
        {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Finished) => finished_at = finished_at.or(Some(Instant::now())),
            Ok(m) => take(m, session, plan, &mut sink, t0),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let end = now_us();
    let notes = wind_down(rx, stop_sources, |m| take(m, session, plan, &mut sink, t0));
    for n in notes {
        session.note(n);
    }
    let n = session.finish(end);
    emit(session, n, plan, &mut sink, t0);
    end
}

/// What stopping the sources returns: notes about them, and the threads still
/// handing on what the sources read last.
pub type Stopped = (Vec<String>, Vec<JoinHandle<()>>);

/// Stops the sources and gives `take` what they still deliver on the way out (a
/// serial line cut off without its line break), then returns their notes. Every
/// recording loop ends through here, so none of them loses a source's last words.
pub fn wind_down(
    rx: &Receiver<Msg>,
    stop_sources: impl FnOnce() -> Stopped,
    mut take: impl FnMut(Msg),
) -> Vec<String> {
    let (notes, forwarders) = stop_sources();
    // Keep receiving while the forwarders hand on the rest: they may be waiting for
    // room in the queue. Bounded, should one of them hang.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let done = forwarders.iter().all(JoinHandle::is_finished);
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(m) => take(m),
            Err(RecvTimeoutError::Timeout) if !done => {}
            Err(_) => break,
        }
    }
    notes
}

/// Records one message from a source.
fn take(m: Msg, session: &mut Session, plan: &Plan, sink: &mut Option<&mut TraceSink>, t0: i64) {
    match m {
        Msg::Input(i) => {
            if let (Some(s), Input::Frame { t_us, link, data }) = (sink.as_deref_mut(), &i) {
                s.frame(*t_us, *link, data);
            }
            let n = session.push(i);
            emit(session, n, plan, sink, t0);
            for n in sink.as_deref_mut().map(TraceSink::news).unwrap_or_default() {
                tell(session, plan, n);
            }
        }
        Msg::Note(n) => tell(session, plan, n),
        Msg::Finished => {}
    }
}

/// Something the user should know now, not only in the final notes.
fn tell(session: &mut Session, plan: &Plan, n: String) {
    if plan.print {
        eprintln!("note: {n}");
    }
    session.note(n);
}

fn emit(session: &Session, n: usize, plan: &Plan, sink: &mut Option<&mut TraceSink>, t0: i64) {
    if n == 0 {
        return;
    }
    if let Some(s) = sink.as_deref_mut() {
        s.write(session.newest(n));
    }
    if plan.print {
        let lines: String = (session.newest(n))
            .map(|e| crate::sinks::text::event_line(e, t0) + "\n")
            .collect();
        let _ = if plan.to_stderr {
            std::io::stderr().lock().write_all(lines.as_bytes())
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(lines.as_bytes()).and_then(|_| o.flush())
        };
    }
}
