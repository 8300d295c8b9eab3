//! Faults during a live run, each on real parts: the monitor binary reading a real
//! pseudo-terminal, signals sent to it, a full filesystem (a small tmpfs) under its
//! export, a rule file edited under it. Every case must keep what was recorded (the
//! trace parses to its last line, with no serial line missing or repeated) and say
//! what happened. Interface faults are in live_net_faults.rs.

#[path = "common/live.rs"]
mod live;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use live::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn kill(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}

/// Each signal at each moment: before the monitor is ready, while it records, around
/// the end of recording (--duration 1s), while it writes the findings.
#[test]
fn sigterm_and_sigint_at_any_point_keep_the_trace() {
    let delays = [0u64, 50, 200, 700, 1000, 1080];
    for sig in ["TERM", "INT"] {
        for ms in delays {
            one_signal(sig, ms);
        }
    }
}

fn one_signal(sig: &str, ms: u64) {
    let (master, tty) = pty();
    let (_dir, trace) = tmp();
    let feeder = Feeder::start(master, Duration::from_millis(2), 5_000);
    let mut child = monitor(&tty, &trace, &["--duration", "1s"])
        .spawn()
        .unwrap();
    let (out, err) = drain(&mut child);
    std::thread::sleep(Duration::from_millis(ms));
    let sent_at = Instant::now();
    kill(child.id(), sig);
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    let took = sent_at.elapsed();
    drop(feeder.stop());
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let what =
        format!("SIG{sig} after {ms} ms: {status:?} in {took:?}\nstdout:\n{out}\nstderr:\n{err}");
    // A signal may land before main() has installed its handlers; then the default
    // action ends the process, and it must not have started a trace yet.
    let Some(code) = status.code() else {
        assert!(!trace.exists(), "killed with a trace begun: {what}");
        return;
    };
    assert_eq!(code, 0, "{what}");
    assert!(took < Duration::from_secs(5), "slow to stop: {what}");
    let lines = trace_serial_lines(&trace);
    if !lines.is_empty() {
        contiguous(&lines);
    }
    // Every line shown on screen is in the trace.
    for l in out
        .lines()
        .filter_map(|l| l.split_once("seq ").map(|(_, r)| r))
    {
        let shown = format!("seq {}", l.trim_end());
        assert!(
            lines.contains(&shown),
            "shown but not in the trace: {shown}\n{what}"
        );
    }
    if out.contains("interrupted") {
        let name = if sig == "INT" { "SIGINT" } else { "SIGTERM" };
        assert!(
            out.contains("interrupted by") && out.contains(name),
            "{what}"
        );
    } else {
        // Not interrupted: the signal came after recording had ended.
        assert!(
            ms >= 700,
            "the note does not say it was interrupted: {what}"
        );
    }
}

/// The port disappears (the pty master closes) while a line is half written: the
/// monitor says so at once, goes on, and the half line is in the trace at the end.
#[test]
fn serial_port_vanishing_mid_line_is_reported_and_the_half_line_kept() {
    let (master, tty) = pty();
    let (_dir, trace) = tmp();
    let feeder = Feeder::start(master, Duration::from_millis(5), 100);
    let mut child = monitor(&tty, &trace, &["--duration", "20s"])
        .spawn()
        .unwrap();
    let (out, err) = drain(&mut child);
    let t = Instant::now();
    while feeder.sent.load(std::sync::atomic::Ordering::SeqCst) < 100 {
        assert!(t.elapsed() < Duration::from_secs(10), "feeder stuck");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut master = feeder.stop();
    std::io::Write::write_all(&mut master, b"[OTA] half a li").unwrap();
    std::io::Write::flush(&mut master).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(master);
    std::thread::sleep(Duration::from_millis(1000));
    kill(child.id(), "INT");
    let status = wait_bounded(&mut child, Duration::from_secs(10));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let what = format!("{status:?}\nstdout:\n{out}\nstderr:\n{err}");
    assert_eq!(status.code(), Some(0), "{what}");
    assert!(err.contains("serial port went away"), "{what}");
    assert!(err.contains("trying to reopen"), "{what}");
    let lines = trace_serial_lines(&trace);
    assert_eq!(contiguous(&lines), (0, 99), "{what}");
    assert!(
        lines.iter().any(|l| l.contains("[OTA] half a li")),
        "the half line is lost; last lines: {:?}",
        &lines[lines.len().saturating_sub(3)..]
    );
}

/// The export directory fills up: the monitor says which file stopped and how much
/// room is left, keeps recording (its summary still counts every line), ends cleanly,
/// and the file holds only whole lines.
#[test]
fn disk_full_while_exporting_keeps_a_valid_trace_and_says_so() {
    let disk = netns::SmallDisk::new("256k");
    let trace = disk.dir.path().join("t.jsonl");
    let (master, tty) = pty();
    let feeder = Feeder::start(master, Duration::from_micros(500), 6_000);
    let mut child = monitor(&tty, &trace, &["--duration", "6s"])
        .spawn()
        .unwrap();
    let (out, err) = drain(&mut child);
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let sent = feeder.sent.load(std::sync::atomic::Ordering::SeqCst);
    drop(feeder.stop());
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let what = format!(
        "{status:?}, {sent} lines sent\nstdout:\n{}\nstderr:\n{err}",
        tail(&out)
    );
    assert_eq!(status.code(), Some(0), "{what}");
    let said = format!("writing `{}` stopped: the disk is full", trace.display());
    assert!(err.contains(&said), "{what}");
    assert!(err.contains("free on its filesystem"), "{what}");
    assert!(
        err.contains("give --export a path on another disk"),
        "{what}"
    );
    assert!(!err.contains("panicked"), "{what}");
    let lines = trace_serial_lines(&trace);
    let (first, last) = contiguous(&lines);
    assert_eq!(first, 0, "{what}");
    assert!(
        last > 100 && last + 1 < sent,
        "the disk never filled? last {last}: {what}"
    );
    // Recording went on after the export stopped.
    assert!(out.contains(&format!("seq {:08}", last + 50)), "{what}");
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

const RULE: &str = include_str!("fixtures/rules/marker.toml.in");

/// A rule file edited while the monitor runs: a broken edit is refused with its file
/// and line and the old rule stays; a good edit is reloaded and used for the findings.
#[test]
fn a_rule_file_edited_while_running_is_reloaded_or_refused() {
    let (mut master, tty) = pty();
    let (dir, trace) = tmp();
    let rule = dir.path().join("marker.toml");
    std::fs::write(&rule, RULE.replace("WORD", "alpha")).unwrap();
    let rules = rule.to_str().unwrap();
    let mut child = monitor(
        &tty,
        &trace,
        &["--duration", "8s", "--format", "json", "--rules", rules],
    )
    .spawn()
    .unwrap();
    let (out, err) = drain(&mut child);
    wait_opened(&mut master);
    std::thread::sleep(Duration::from_millis(800));
    std::fs::write(
        &rule,
        RULE.replace("WORD", "beta")
            .replace("severity = \"warning\"", "severity = ["),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(&rule, RULE.replace("WORD", "beta")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    std::io::Write::write_all(&mut master, b"marker alpha\r\nmarker beta\r\n").unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let what = format!("{status:?}\nstdout:\n{out}\nstderr:\n{err}");
    assert_eq!(status.code(), Some(0), "{what}");
    let refused = err
        .lines()
        .find(|l| l.contains("were not reloaded"))
        .unwrap_or_else(|| panic!("no refusal: {what}"));
    assert!(
        refused.contains(&format!("{rules}:")),
        "no file:line: {refused}"
    );
    assert!(refused.contains("previous rules stay in use"), "{refused}");
    assert!(err.contains("rules reloaded from"), "{what}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {what}"));
    let causes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cause"].as_str())
        .collect();
    assert!(causes.contains(&"x_marker_beta"), "{causes:?}\n{what}");
    assert!(!causes.contains(&"x_marker_alpha"), "{causes:?}\n{what}");
    drop(master);
}
