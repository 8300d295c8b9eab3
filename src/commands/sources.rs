//! Starts the live sources a run watches (the serial port, packet capture) and forwards
//! what they read to the recording loop. A source that cannot start is a note, not the
//! end of the run: the other sources still tell part of the story.

use crate::capture::live::{LiveCapture, LiveConfig};
use crate::capture::serial::{SerialCapture, SerialConfig, SerialMsg, SerialStatus};
use crate::capture::{baud::BaudHint, live::PERMISSION_HINT};
use crate::cli::LiveArgs;
use crate::error::UserError;
use crate::event::Source;
use crate::live::{self, Msg};
use crate::session::{Input, Session};
use std::net::Ipv4Addr;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

/// The running sources; [`Sources::stop`] ends them and notes what they lost.
#[derive(Default)]
pub struct Sources {
    serial: Option<SerialCapture>,
    net: Option<LiveCapture>,
    /// The threads that hand the sources' output to the recording loop; joined at
    /// stop, so everything a source delivered on its way out is queued by then.
    forwarders: Vec<JoinHandle<()>>,
}

/// A serial port that cannot be opened stops the run: the user named it and would
/// otherwise watch an upload with no device log. Capture failures only add a note.
pub fn start(
    a: &LiveArgs,
    ip: Option<Ipv4Addr>,
    tx: &SyncSender<Msg>,
    session: &mut Session,
) -> Result<Sources, UserError> {
    let mut s = Sources::default();
    if let Some(port) = &a.serial {
        let (cap, rx) = SerialCapture::start(
            &SerialConfig::new(std::path::PathBuf::from(port), a.baud),
            live::clock(),
        )?;
        session.watch(Source::Serial);
        s.forwarders.push(forward_serial(rx, tx.clone()));
        s.serial = Some(cap);
    }
    // Missing sources are named by the analysis' own notes.
    if let Some(ip) = ip
        && let Some((cap, fwd)) = start_net(a, ip, tx, session)
    {
        s.net = Some(cap);
        s.forwarders.push(fwd);
    }
    Ok(s)
}

fn start_net(
    a: &LiveArgs,
    ip: Ipv4Addr,
    tx: &SyncSender<Msg>,
    session: &mut Session,
) -> Option<(LiveCapture, JoinHandle<()>)> {
    let mut cfg = LiveConfig::new(ip);
    cfg.iface = a.iface.clone();
    let notes_tx = tx.clone();
    let notes: crate::capture::live::Notes = Box::new(move |n| {
        let _ = notes_tx.send(Msg::Note(n));
    });
    match LiveCapture::start_noting(&cfg, live::clock(), Some(notes)) {
        Ok((cap, mut rx)) => {
            session.watch(Source::Net);
            eprintln!(
                "ota-doctor: capturing on {} ({})",
                cap.iface.name, cap.iface.why
            );
            let tx = tx.clone();
            let fwd = std::thread::spawn(move || {
                while let Some(f) = rx.blocking_recv() {
                    let (t_us, link, data) = (f.t_us, f.link, f.bytes);
                    if tx
                        .send(Msg::Input(Input::Frame { t_us, link, data }))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            Some((cap, fwd))
        }
        Err(e) => {
            // One line and the fix, then carry on with the other sources.
            let hint = fix_for_this_binary(e.hint.as_deref().unwrap_or(PERMISSION_HINT));
            eprintln!("warning: no packet capture ({}); {hint}", e.message);
            session.note(format!("no packets were captured: {} ({hint})", e.message));
            None
        }
    }
}

/// The setcap fix names the binary that is running, which may not be on PATH.
fn fix_for_this_binary(hint: &str) -> String {
    match std::env::current_exe() {
        Ok(exe) => hint.replace(
            "\"$(command -v ota-doctor)\"",
            &format!("'{}'", exe.display()),
        ),
        Err(_) => hint.to_string(),
    }
}

fn forward_serial(
    mut rx: tokio::sync::mpsc::Receiver<SerialMsg>,
    tx: SyncSender<Msg>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while let Some(m) = rx.blocking_recv() {
            let msg = match m {
                SerialMsg::Line(l) => Msg::Input(Input::Serial {
                    t_us: l.t_us,
                    bytes: l.bytes,
                }),
                // Recovering is not news; everything else the user should see.
                SerialMsg::Status {
                    status: SerialStatus::Baud(BaudHint::Readable),
                    ..
                } => continue,
                SerialMsg::Status { status, .. } => Msg::Note(status.to_string()),
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    })
}

impl Sources {
    /// The flag that resets the board, when a serial port is watched.
    pub fn reset_handle(&self) -> Option<std::sync::Arc<std::sync::atomic::AtomicBool>> {
        self.serial.as_ref().map(|s| s.reset_handle())
    }

    /// The capture interface, and whether capture is running.
    pub fn capture_state(&self) -> (Option<String>, bool) {
        match &self.net {
            Some(n) => (Some(n.iface.name.clone()), true),
            None => (None, false),
        }
    }

    /// Ends the sources; returns notes about what they lost, and the forwarding
    /// threads, which end once they have handed on what the sources left behind.
    pub fn stop(self) -> (Vec<String>, Vec<JoinHandle<()>>) {
        let mut notes = Vec::new();
        if let Some(s) = self.serial {
            let c = s.stop();
            if c.dropped > 0 {
                notes.push(format!(
                    "{} serial line(s) were dropped because processing fell behind",
                    c.dropped
                ));
            }
        }
        if let Some(n) = self.net {
            let sum = n.stop();
            if sum.counts.dropped > 0 {
                notes.push(format!(
                    "{} captured frame(s) were dropped because processing fell behind",
                    sum.counts.dropped
                ));
            }
            if let Some(e) = sum.error {
                notes.push(format!("packet capture stopped early: {e}"));
            }
        }
        (notes, self.forwarders)
    }
}
