//! The live run: sources send stamped input over one bounded channel; this loop is the
//! only owner of the [`Session`], writes the trace as events arrive (so a killed process
//! loses nothing already decoded) and decides when recording stops.

use crate::capture::clock::HostClock;
use crate::decode::net::pcap::LinkType;
use crate::event::Event;
use crate::export::pcapng::PcapngWriter;
use crate::export::trace;
use crate::session::{Input, Session};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
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

/// Writes the trace as events arrive, and the captured frames as pcapng next to it
/// (same name, `.pcapng`) for Wireshark; both files are readable at every moment.
pub struct TraceSink {
    w: BufWriter<File>,
    frames: Option<PcapngWriter<BufWriter<File>>>,
    pub pcap_path: std::path::PathBuf,
    pub failed: Option<String>,
}

impl TraceSink {
    pub fn create(path: &Path) -> Result<TraceSink, crate::error::UserError> {
        let f = File::create(path).map_err(|e| {
            crate::error::UserError::new(format!("cannot write trace `{}`: {e}", path.display()))
                .hint("choose a writable path for --export")
        })?;
        let mut w = BufWriter::new(f);
        let _ = trace::write_header(&mut w).and_then(|_| w.flush());
        Ok(TraceSink {
            w,
            frames: None,
            pcap_path: path.with_extension("pcapng"),
            failed: None,
        })
    }

    /// Whether captured frames were written to [`TraceSink::pcap_path`].
    pub fn wrote_frames(&self) -> bool {
        self.frames.is_some()
    }

    /// Called for every captured frame; the pcapng file is made on the first one.
    pub(crate) fn frame(&mut self, t_us: i64, link: LinkType, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.frames.is_none() {
            let made =
                File::create(&self.pcap_path).and_then(|f| PcapngWriter::new(BufWriter::new(f)));
            match made {
                Ok(w) => self.frames = Some(w),
                Err(e) => {
                    self.failed = Some(format!(
                        "writing `{}` failed: {e}",
                        self.pcap_path.display()
                    ));
                    return;
                }
            }
        }
        if let Some(w) = self.frames.as_mut()
            && let Err(e) = w.write_frame(t_us, link, data).and_then(|_| w.flush())
        {
            self.failed = Some(format!(
                "writing `{}` stopped: {e}",
                self.pcap_path.display()
            ));
        }
    }

    pub(crate) fn write(&mut self, events: &[Event]) {
        if self.failed.is_some() {
            return;
        }
        let r = events
            .iter()
            .try_for_each(|e| trace::write_event(&mut self.w, e))
            .and_then(|_| self.w.flush());
        if let Err(e) = r {
            // A full disk must not end the diagnosis; say so at the end instead.
            self.failed = Some(format!("writing the trace stopped: {e}"));
        }
    }
}

/// Receives until the plan says stop, Ctrl-C/SIGTERM sets `stop`, or every sender
/// is gone. Returns the end of recording (µs).
pub fn record(
    rx: &Receiver<Msg>,
    session: &mut Session,
    plan: &Plan,
    mut sink: Option<&mut TraceSink>,
    stop: &AtomicBool,
) -> i64 {
    let started = Instant::now();
    let mut finished_at: Option<Instant> = None;
    let t0 = now_us();
    loop {
        if stop.load(Ordering::SeqCst) {
            session.note("recording was interrupted (Ctrl-C or SIGTERM); the diagnosis covers what was recorded until then");
            break;
        }
        if plan.duration.is_some_and(|d| started.elapsed() >= d)
            || finished_at.is_some_and(|f| f.elapsed() >= plan.linger)
        {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Msg::Input(i)) => {
                if let (Some(s), Input::Frame { t_us, link, data }) = (sink.as_deref_mut(), &i) {
                    s.frame(*t_us, *link, data);
                }
                let n = session.push(i);
                emit(session, n, plan, &mut sink, t0);
            }
            Ok(Msg::Note(n)) => {
                if plan.print {
                    eprintln!("note: {n}");
                }
                session.note(n);
            }
            Ok(Msg::Finished) => finished_at = finished_at.or(Some(Instant::now())),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let end = now_us();
    let n = session.finish(end);
    emit(session, n, plan, &mut sink, t0);
    end
}

fn emit(session: &Session, n: usize, plan: &Plan, sink: &mut Option<&mut TraceSink>, t0: i64) {
    if n == 0 {
        return;
    }
    let new = &session.events()[session.events().len() - n..];
    if let Some(s) = sink.as_deref_mut() {
        s.write(new);
    }
    if plan.print {
        let lines: String = new
            .iter()
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

/// Sets the returned flag on Ctrl-C or SIGTERM, so recording ends cleanly and the
/// trace is flushed instead of the process dying mid-write.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut term) = signal(SignalKind::terminate()) else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            });
            f.store(true, Ordering::SeqCst);
        });
    drop(spawned);
    flag
}
