//! Hostile traces: a 100 MB line (with or without a newline, as junk or as one giant
//! JSON value) must end in a clear message, keep the events before it, and cost about
//! as much memory as a normal trace. The big files are made at test time, not committed.

use clap::Parser;
use ota_doctor::export::trace::{self, MAX_LINE};
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::process::Command;

const HUNDRED_MB: u64 = 100 << 20;
const EVENTS: &str = concat!(
    "{\"ota_doctor_trace\":1,\"tool\":\"test\"}\n",
    "{\"t_us\":1000,\"source\":\"host\",\"kind\":\"espota.invite\",\"text\":\"Sending invitation\"}\n",
    "{\"t_us\":9000,\"source\":\"host\",\"kind\":\"espota.error\",\"text\":\"No Answer\"}\n",
);

/// A reader that counts what was taken from it, to prove the reader stops early.
struct Counting<R> {
    inner: R,
    taken: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n as u64;
        Ok(n)
    }
}

#[test]
fn reader_stops_at_the_limit_instead_of_reading_the_whole_line() {
    let body = std::io::repeat(b'x').take(HUNDRED_MB);
    let mut src = Counting {
        inner: EVENTS.as_bytes().chain(body),
        taken: 0,
    };
    let t = trace::read(BufReader::new(&mut src)).expect("no I/O error");
    assert_eq!(t.events.len(), 2);
    let why = t.damaged.expect("the long line is reported");
    assert!(why.starts_with("line 4 is longer than 1 MiB"), "{why}");
    assert!(
        src.taken < (MAX_LINE as u64) * 2,
        "read {} bytes",
        src.taken
    );
}

/// Writes the events, then a 100 MB line made of `open`, filler and `close`.
fn hostile_file(dir: &Path, events: &str, open: &str, close: &str) -> std::path::PathBuf {
    let p = dir.join("hostile.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    w.write_all(events.as_bytes()).unwrap();
    w.write_all(open.as_bytes()).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..100 {
        w.write_all(&block).unwrap();
    }
    w.write_all(close.as_bytes()).unwrap();
    w.flush().unwrap();
    p
}

fn run(trace: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["analyze", "--trace"])
        .arg(trace)
        .output()
        .unwrap()
}

#[test]
fn giant_json_value_after_events_is_reported_and_the_events_used() {
    let dir = tempfile::tempdir().unwrap();
    let open = r#"{"t_us":20000,"source":"serial","kind":"line","text":""#;
    let p = hostile_file(dir.path(), EVENTS, open, "\"}\n");
    let out = run(&p);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("line 4 is longer than 1 MiB"), "{stdout}");
    assert!(
        stdout.contains("the 2 event(s) before it were read"),
        "{stdout}"
    );
}

#[test]
fn a_trace_that_is_one_giant_line_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = hostile_file(dir.path(), "", "", "");
    let out = run(&p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a usable ota-doctor trace: line 1 is longer than 1 MiB"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// Peak memory of a whole `analyze --trace` run, measured in a child process (this
/// test binary again) because the peak of a process is only readable from inside it.
#[test]
fn peak_memory_stays_bounded_on_a_100_mb_line() {
    if let Some(p) = std::env::var_os("OTA_HOSTILE_TRACE") {
        return child(Path::new(&p));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = hostile_file(dir.path(), EVENTS, "{\"text\":\"", "");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "peak_memory_stays_bounded_on_a_100_mb_line",
            "--exact",
            "--nocapture",
        ])
        .env("OTA_HOSTILE_TRACE", &p)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hwm_kb: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("child printed no peak:\n{stdout}"));
    // A normal run peaks at a few MiB; holding the line would add 100 MiB.
    assert!(
        hwm_kb < 40 * 1024,
        "peak {hwm_kb} KiB reading a 100 MB line"
    );
}

fn child(p: &Path) {
    let cli = ota_doctor::cli::Cli::parse_from([
        "ota-doctor".as_ref(),
        "analyze".as_ref(),
        "--trace".as_ref(),
        p.as_os_str(),
    ]);
    let res = ota_doctor::commands::run(cli);
    assert!(res.is_ok(), "{:?}", res.err());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb = hwm.split_whitespace().nth(1).unwrap();
    println!("peak_kb={kb}");
}
