//! Live commands: watch a device (`ota-doctor --serial … --ip …`) and wrap the user's
//! uploader (`ota-doctor run -- CMD`). Sources are started here; the recording loop in
//! [`crate::live`] owns the session.

use super::print_report;
use crate::cli::{Format, LiveArgs, RunArgs, UploadCmd};
use crate::decode::lines::LineSplitter;
use crate::error::UserError;
use crate::live::{self, LiveRules, Msg, Plan, TraceSink};
use crate::rules::RuleSet;
use crate::session::{Input, Session};
use crate::sinks::text::Labels;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `ota-doctor --serial PORT --ip IP`.
pub fn monitor(a: &LiveArgs) -> Result<i32, UserError> {
    if a.serial.is_none() && a.ip.is_none() {
        return Err(UserError::new("nothing to watch").hint(
            "give --serial PORT and/or --ip IP (e.g. `ota-doctor --serial /dev/ttyUSB0 --ip 192.168.1.50`), or try `ota-doctor analyze --help` for saved logs",
        ));
    }
    let plan = Plan {
        duration: a.duration,
        linger: Duration::ZERO,
        print: true,
        to_stderr: a.format == Format::Json,
        tui: wants_tui(a),
    };
    let rec = record(a, a.ip, &plan, |_| Ok(()))?;
    finish(a, rec)
}

/// `ota-doctor run -- CMD…`: the child's output is the host log.
pub fn run(r: &RunArgs) -> Result<i32, UserError> {
    let plan = Plan {
        duration: r.live.duration,
        linger: linger(&r.live),
        print: true,
        to_stderr: r.live.format == Format::Json,
        tui: wants_tui(&r.live),
    };
    let slot: Arc<Mutex<Option<Child>>> = Arc::new(Mutex::new(None));
    let status = Arc::new(Mutex::new(None));
    let (child, st) = (slot.clone(), status.clone());
    let mut rec = record(&r.live, r.live.ip, &plan, move |tx| {
        spawn_child(&r.cmd, tx, child, st)
    })?;
    // Recording stopped (--duration, Ctrl-C) while the uploader still runs: stop it
    // rather than leave it behind.
    if let Some(mut c) = slot.lock().ok().and_then(|mut c| c.take()) {
        match c.try_wait().ok().flatten() {
            Some(st) => {
                if let Ok(mut s) = status.lock() {
                    *s = s.or(st.code());
                }
            }
            None => {
                let group = format!("-{}", c.id());
                let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
                std::thread::sleep(Duration::from_millis(200));
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = c.kill();
                let _ = c.wait();
                rec.session.note(format!(
                    "`{}` was still running when recording stopped; it was killed",
                    r.cmd[0]
                ));
            }
        }
    }
    let code = finish(&r.live, rec)?;
    let child = status.lock().ok().and_then(|s| *s);
    // The child's exit status is the run's: scripts that wrap the upload keep working.
    Ok(child.unwrap_or(if code == 0 { 1 } else { code }))
}

/// `ota-doctor upload`: our own espota-compatible upload, watched and diagnosed. The
/// exit status is espota's (0 uploaded, 1 failed), so scripts keep working.
pub fn upload(u: UploadCmd) -> Result<i32, UserError> {
    // Bad input is reported before anything starts listening.
    check_upload(&u)?;
    let ip = resolve_v4(&u.up.ip);
    let a = LiveArgs {
        serial: u.up.serial.clone(),
        ip,
        iface: u.iface,
        baud: u.up.baud,
        port: Some(u.up.port),
        export: u.export,
        no_tui: !u.tui,
        duration: None,
        reset_key: false,
        // The uploader's own password says nothing about the device's: checking the
        // answer against it would always call it right.
        auth: None,
        format: u.format,
        window: crate::session::Window::DEFAULT_LINES,
        rules: u.rules,
    };
    let plan = Plan {
        duration: None,
        linger: linger(&a),
        print: true,
        to_stderr: a.format == Format::Json,
        tui: u.tui && wants_tui(&a),
    };
    // In the UI the result stays on screen until the user quits.
    let plan = Plan {
        linger: if plan.tui {
            Duration::from_secs(3600)
        } else {
            plan.linger
        },
        ..plan
    };
    let result = std::sync::Arc::new(std::sync::Mutex::new(None));
    let res = result.clone();
    let up = u.up;
    let rec = record(&a, ip, &plan, move |tx| {
        std::thread::spawn(move || {
            let mut report = |line: &str| {
                let text = line.to_string();
                let _ = tx.send(Msg::Input(Input::Host {
                    t_us: live::now_us(),
                    text,
                }));
            };
            let r = crate::upload::upload(&up, &mut report);
            if let Ok(mut slot) = res.lock() {
                *slot = Some(r);
            }
            let _ = tx.send(Msg::Finished);
        });
        Ok(())
    })?;
    let outcome = result.lock().ok().and_then(|mut r| r.take());
    match outcome {
        Some(Err(e)) => Err(e),
        Some(Ok(o)) => {
            finish(&a, rec)?;
            Ok(o.exit_code())
        }
        None => {
            finish(&a, rec)?;
            Ok(1)
        }
    }
}

fn check_upload(u: &UploadCmd) -> Result<(), UserError> {
    let image = crate::error::read_input(&u.up.file, "image")?;
    if image.is_empty() {
        return Err(UserError::new(format!("image `{}` is empty", u.up.file.display()))
            .hint("give the .bin the build produced (Arduino: Sketch > Export compiled binary; PlatformIO: .pio/build/<env>/firmware.bin)"));
    }
    if let Ok(ip) = u.up.ip.parse::<std::net::Ipv4Addr>()
        && (ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast())
    {
        return Err(UserError::new(format!("{ip} is not a device's address"))
            .hint("give the board's own IP (its serial log prints `IP address: …`) or its mDNS name (esp32-xxxx.local)"));
    }
    if u.up.ip.contains(':') && u.up.ip.parse::<std::net::IpAddr>().is_err() {
        return Err(UserError::new(format!("`{}` is not an address", u.up.ip))
            .hint("give the port separately: -i IP -p PORT"));
    }
    Ok(())
}

/// The device's IPv4 address for capture: a literal, or a name (`esp.local`) resolved
/// the way the uploader will resolve it.
fn resolve_v4(host: &str) -> Option<std::net::Ipv4Addr> {
    use std::net::ToSocketAddrs;
    host.parse().ok().or_else(|| {
        (host, 0)
            .to_socket_addrs()
            .ok()?
            .find_map(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => Some(v4),
                _ => None,
            })
    })
}

/// The terminal UI unless asked for lines, JSON, or the output is not a terminal.
fn wants_tui(a: &LiveArgs) -> bool {
    use std::io::IsTerminal;
    !a.no_tui
        && a.format == Format::Text
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal()
}

fn sources_info(
    a: &LiveArgs,
    ip: Option<std::net::Ipv4Addr>,
    sources: &super::sources::Sources,
    rules: &LiveRules,
) -> Result<crate::tui::SourcesInfo, UserError> {
    let mut info = crate::tui::SourcesInfo::new();
    info.serial = a.serial.clone().map(|p| (p, a.baud));
    let (iface, capturing) = sources.capture_state();
    info.iface = iface.or_else(|| ip.map(|_| a.iface.clone().unwrap_or_else(|| "auto".into())));
    info.capturing = capturing;
    info.device_ip = ip.map(|i| i.to_string());
    if let Some(e) = &a.export {
        info.snapshot = e.with_extension("snapshot.jsonl");
    }
    info.rules = rules.current();
    info.live_rules = Some(rules.clone());
    info.start_note = memory_note(a);
    info.window = crate::session::Window::lines(a.window);
    info.trace = a.export.clone();
    if a.reset_key {
        info.reset = sources.reset_handle();
    }
    Ok(info)
}

/// Without --export, memory is all there is: said once at the start, before a long
/// run lets its first events go.
fn memory_note(a: &LiveArgs) -> Option<String> {
    a.export.is_none().then(|| {
        format!(
            "memory keeps only the newest {} log lines (--window); --export FILE.jsonl keeps the whole session on disk",
            crate::session::Window::lines(a.window).lines
        )
    })
}

/// After the upload ends the device still prints its result and reboots.
pub fn linger(a: &LiveArgs) -> Duration {
    if a.serial.is_some() {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(500)
    }
}

/// What a live run recorded, and the rules (as last edited) to judge it with.
pub struct Recorded {
    pub session: Session,
    pub end: i64,
    pub rules: RuleSet,
}

/// Starts the watched sources and `extra` (the uploader), then records.
pub fn record(
    a: &LiveArgs,
    ip: Option<std::net::Ipv4Addr>,
    plan: &Plan,
    extra: impl FnOnce(SyncSender<Msg>) -> Result<(), UserError>,
) -> Result<Recorded, UserError> {
    // First of all: from here on a signal ends the run cleanly, whatever it is doing.
    let stop = live::stop_on_signals();
    let (tx, rx) = live::channel();
    let rules = LiveRules::start(&a.rules, &tx)?;
    let mut session =
        Session::with_password(a.auth.clone()).with_window(crate::session::Window::lines(a.window));
    if let Some(p) = &a.export {
        session.set_trace(p);
    }
    let mut sink = a.export.as_deref().map(TraceSink::create).transpose()?;
    let mut sources = Some(super::sources::start(a, ip, &tx, &mut session)?);
    if plan.duration.is_none() && plan.linger.is_zero() {
        eprintln!("ota-doctor: recording; press Ctrl-C to stop and diagnose");
    }
    extra(tx.clone())?;
    drop(tx);
    let info = match (&sources, plan.tui) {
        (Some(s), true) => Some(sources_info(a, ip, s, &rules)?),
        _ => None,
    };
    if info.is_none()
        && let Some(n) = memory_note(a)
    {
        eprintln!("ota-doctor: {n}");
    }
    let mut stop_sources = || {
        sources
            .take()
            .map(super::sources::Sources::stop)
            .unwrap_or_default()
    };
    let end = if let Some(info) = info {
        let feed = crate::tui::Feed {
            rx: &rx,
            session: &mut session,
            plan,
            sink: sink.as_mut(),
            stop: &stop,
            stop_sources: Some(&mut stop_sources),
        };
        match crate::tui::run(feed, info) {
            Ok(end) => end,
            Err(e) => {
                session.note(format!(
                    "the terminal UI could not start ({e}); lines were printed instead"
                ));
                live::record(
                    &rx,
                    &mut session,
                    plan,
                    sink.as_mut(),
                    &stop,
                    &mut stop_sources,
                )
            }
        }
    } else {
        live::record(
            &rx,
            &mut session,
            plan,
            sink.as_mut(),
            &stop,
            &mut stop_sources,
        )
    };
    // Both loops stop the sources themselves; this is for a path that did not.
    let (notes, forwarders) = stop_sources();
    for f in forwarders {
        let _ = f.join();
    }
    for n in notes {
        session.note(n);
    }
    rules.stop();
    if let Some(mut s) = sink {
        if s.wrote_frames() && s.failed.is_none() {
            session.note(format!(
                "the captured packets are in `{}` (open it in Wireshark)",
                s.pcap_path.display()
            ));
        }
        // Told while recording (the TUI shows notes); repeated here for the summary.
        for why in s.news() {
            session.note(why);
        }
    }
    Ok(Recorded {
        session,
        end,
        rules: rules.current(),
    })
}

pub fn finish(a: &LiveArgs, rec: Recorded) -> Result<i32, UserError> {
    let Recorded {
        session,
        end,
        rules: set,
    } = rec;
    let tl = session.timeline(end);
    let mut report = crate::analysis::analyze(&set, &tl);
    report.notes.extend(session.notes().iter().cloned());
    let labels = Labels {
        serial: a.serial.clone(),
        host: Some("uploader".into()),
        net: a.ip.map(|ip| format!("net {ip}")),
    };
    if let Some(path) = &a.export
        && let Err(why) = append_findings(path, &tl, &report)
    {
        eprintln!("warning: {why}");
        report.notes.push(why);
    }
    print_report(&report, &tl, &labels, a.format);
    Ok(0)
}

/// The live trace holds the timeline; the findings are added once the run is judged,
/// so a trace read back later carries the diagnosis made at the time.
fn append_findings(
    path: &std::path::Path,
    tl: &crate::timeline::Timeline,
    report: &crate::analysis::Report,
) -> Result<(), String> {
    // A trace that could not be written to the end has no findings to add.
    if report
        .notes
        .iter()
        .any(|n| n.contains(&format!("writing `{}` stopped", path.display())))
    {
        return Ok(());
    }
    let mut w = live::WholeRecords::append(path)
        .map_err(|e| format!("cannot add the findings to `{}`: {e}", path.display()))?;
    let kept = w.len();
    report
        .findings
        .iter()
        .try_for_each(|f| crate::export::trace::write_event(&mut w, &super::finding_event(tl, f)))
        .and_then(|_| std::io::Write::flush(&mut w))
        .map_err(|e| live::write_failed(path, kept, &e))
}

fn spawn_child(
    cmd: &[String],
    tx: SyncSender<Msg>,
    slot: Arc<Mutex<Option<Child>>>,
    status: Arc<Mutex<Option<i32>>>,
) -> Result<(), UserError> {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        // Its own process group, so stopping it also stops what it started (pio runs
        // espota.py as a grandchild).
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            UserError::new(format!("cannot start `{}`: {e}", cmd[0]))
                .hint("check the command after `--` (is it installed and on PATH?)")
        })?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|r| {
        let tx = tx.clone();
        std::thread::spawn(move || pipe_lines(r, &tx))
    })
    .collect();
    if let Ok(mut s) = slot.lock() {
        *s = Some(child);
    }
    std::thread::spawn(move || {
        for r in readers {
            let _ = r.join();
        }
        // The child stays in `slot` so the owner can kill it; poll instead of wait().
        let code = loop {
            let Ok(mut guard) = slot.lock() else { return };
            let Some(c) = guard.as_mut() else { return };
            match c.try_wait() {
                Ok(Some(st)) => break st.code(),
                Ok(None) => {}
                Err(_) => break None,
            }
            drop(guard);
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Ok(mut s) = status.lock() {
            *s = code;
        }
        let _ = tx.send(Msg::Note(match code {
            Some(c) => format!("the uploader exited with status {c}"),
            None => "the uploader was killed by a signal".into(),
        }));
        let _ = tx.send(Msg::Finished);
    });
    Ok(())
}

/// Splits the child's output on CR as well as LF: uploaders redraw progress bars
/// with a bare CR, and each redraw is a step on the timeline.
fn pipe_lines(mut r: Box<dyn Read + Send>, tx: &SyncSender<Msg>) {
    let mut split = LineSplitter::new();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        split.push(&buf[..n], live::now_us(), &mut out);
        if !send_lines(&mut out, tx) {
            return;
        }
    }
    split.flush(live::now_us(), &mut out);
    send_lines(&mut out, tx);
}

fn send_lines(out: &mut Vec<crate::decode::lines::RawLine>, tx: &SyncSender<Msg>) -> bool {
    for l in out.drain(..) {
        let text = String::from_utf8_lossy(&l.bytes).into_owned();
        if tx
            .send(Msg::Input(Input::Host { t_us: l.t_us, text }))
            .is_err()
        {
            return false;
        }
    }
    true
}
