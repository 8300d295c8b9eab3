//! The live monitor in line mode against a real pseudo-terminal: a killed process
//! keeps every line it had shown in its exported trace, and Ctrl-C (SIGINT) ends the
//! run cleanly with the diagnosis and a complete trace.

use serialport::{SerialPort, TTYPort};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

fn pty() -> (TTYPort, String) {
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal");
    let name = slave.name().expect("pty name");
    drop(slave);
    (master, name)
}

fn monitor(tty: &str, trace: &std::path::Path) -> Child {
    Command::new(BIN)
        .args(["--serial", tty, "--no-tui", "--duration", "60s", "--export"])
        .arg(trace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ota-doctor")
}

/// Reads the monitor's lines until one contains `want` (bounded in time).
fn wait_for(out: &mut BufReader<ChildStdout>, want: &str) {
    let t = Instant::now();
    let mut line = String::new();
    while t.elapsed() < Duration::from_secs(15) {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.contains(want) {
            return;
        }
    }
    panic!("the monitor never showed `{want}`");
}

/// Waits until the monitor has opened the port: until then the pty has no reader and a
/// write fails (hang-up), and a loaded machine can take well over a second to start it.
fn wait_opened(m: &mut TTYPort) {
    let t = Instant::now();
    while let Err(e) = m.write_all(b"\r\n") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the monitor never opened the port: {e}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The open itself is not the start of reading: give the reader a moment.
    std::thread::sleep(Duration::from_millis(200));
}

fn feed(m: &mut TTYPort, n: usize) {
    wait_opened(m);
    for i in 0..n {
        write!(m, "sensor reading {i:04}\r\n").unwrap();
        m.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_killed_monitor_keeps_every_line_it_showed_in_the_trace() {
    let (mut master, tty) = pty();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let mut child = monitor(&tty, &trace);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    feed(&mut master, 200);
    wait_for(&mut out, "sensor reading 0199");
    child.kill().unwrap(); // SIGKILL: no chance to flush anything at exit
    child.wait().unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.starts_with("{\"ota_doctor_trace\":1"), "{text}");
    for i in 0..200 {
        assert!(
            text.contains(&format!("sensor reading {i:04}")),
            "line {i} missing from the trace"
        );
    }
}

#[test]
fn sigint_stops_cleanly_with_a_diagnosis() {
    let (mut master, tty) = pty();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let mut child = monitor(&tty, &trace);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    feed(&mut master, 20);
    write!(
        master,
        "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\r\n"
    )
    .unwrap();
    master.flush().unwrap();
    wait_for(&mut out, "Guru Meditation");
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("ota-doctor: read 21 serial lines"), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let recorded = text
        .lines()
        .filter(|l| !l.contains("\"source\":\"finding\""))
        .count();
    assert_eq!(recorded, 22, "header + 21 lines:\n{text}");
}

/// `run --duration` stops the whole uploader, grandchildren included (pio runs
/// espota.py as one), and the password given with --auth is hidden in every line.
#[test]
fn run_stops_the_whole_uploader_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let trace = dir.path().join("t.jsonl");
    let script = format!(
        "echo 'secret is: my secret'; sleep 1000 & echo $! > {}; wait",
        pidfile.display()
    );
    let out = Command::new(BIN)
        .args([
            "run",
            "--no-tui",
            "--duration",
            "2s",
            "--auth",
            "my secret",
            "--export",
        ])
        .arg(&trace)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("was still running"), "{all}");
    assert!(!all.contains("my secret"), "{all}");
    assert!(
        !std::fs::read_to_string(&trace)
            .unwrap()
            .contains("my secret")
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    assert!(
        stat.is_empty() || state == "Z",
        "the grandchild {pid} is still running: {stat}"
    );
}

/// Without --export a long run loses its oldest events; the user is told once, at
/// the start, what memory keeps and how to keep everything. With it, nothing is said.
#[test]
fn a_run_without_export_says_memory_keeps_only_the_newest_events() {
    let run = |export: Option<&std::path::Path>| {
        let mut c = Command::new(BIN);
        c.args(["run", "--no-tui", "--window", "500"]);
        if let Some(p) = export {
            c.arg("--export").arg(p);
        }
        let out = c.args(["--", "true"]).output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = run(None);
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("--export FILE.jsonl"))
        .collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(lines[0].contains("newest 500"), "{said}");
    let dir = tempfile::tempdir().unwrap();
    let quiet = run(Some(&dir.path().join("t.jsonl")));
    assert!(!quiet.contains("--export FILE.jsonl"), "{quiet}");
}
