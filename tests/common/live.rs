//! Helpers for tests that run the live monitor as a user does: a real pseudo-terminal
//! as the serial port, the real binary, and the trace it exports read back.
#![allow(dead_code)]

use serialport::{SerialPort, TTYPort};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

/// The master side (ours to write) and the path of the slave (the monitor's port).
pub fn pty() -> (TTYPort, String) {
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal");
    // The master is opened without close-on-exec: a monitor started later would hold
    // it too, and closing ours would then not hang up the port.
    use nix::fcntl::{F_SETFD, FdFlag, fcntl};
    use std::os::fd::AsRawFd;
    fcntl(master.as_raw_fd(), F_SETFD(FdFlag::FD_CLOEXEC)).expect("close-on-exec");
    let name = slave.name().expect("pty name");
    drop(slave);
    (master, name)
}

/// `ota-doctor --serial TTY --no-tui --export TRACE ARGS…`, output captured.
pub fn monitor(tty: &str, trace: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["--serial", tty, "--no-tui", "--export"])
        .arg(trace)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The n-th line of a checkable stream: number, filler, and a checksum of both.
pub fn numbered(n: usize, width: usize) -> String {
    let fill: String = (0..width)
        .map(|i| char::from(b'a' + ((n + i) % 26) as u8))
        .collect();
    let body = format!("seq {n:08} {fill}");
    format!("{body} sum {:08x}", checksum(&body))
}

pub fn checksum(s: &str) -> u32 {
    s.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

/// The sequence number of a line made by [`numbered`], if it is intact.
pub fn parse_numbered(line: &str) -> Option<usize> {
    let (body, sum) = line.rsplit_once(" sum ")?;
    if u32::from_str_radix(sum.trim(), 16).ok()? != checksum(body) {
        return None;
    }
    body.strip_prefix("seq ")?.get(..8)?.parse().ok()
}

/// Writes numbered lines to the pty in a thread until stopped or `max` lines.
pub struct Feeder {
    stop: Arc<AtomicBool>,
    pub sent: Arc<AtomicUsize>,
    thread: Option<JoinHandle<TTYPort>>,
}

impl Feeder {
    pub fn start(mut master: TTYPort, every: Duration, max: usize) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            for i in 0..max {
                let line = format!("{}\r\n", numbered(i, 40));
                // Until the monitor opens the port, a write fails (EIO): try again.
                while master.write_all(line.as_bytes()).is_err() {
                    if s.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(30) {
                        return master;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                let _ = master.flush();
                n.store(i + 1, Ordering::SeqCst);
                if s.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(every);
            }
            master
        });
        Feeder {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> TTYPort {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Waits until the monitor has opened the port: until then a write to the pty fails
/// (hang-up), and a loaded machine can take seconds to start a debug build.
pub fn wait_opened(master: &mut TTYPort) {
    let t = Instant::now();
    while let Err(e) = master.write_all(b"\r\n") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the monitor never opened the port: {e}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child (bounded); kills it and fails if it does not end in time.
pub fn wait_bounded(child: &mut Child, within: Duration) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ota-doctor did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads the child's stdout and stderr to the end in threads, so it never blocks on
/// a full pipe; join for the text.
pub fn drain(child: &mut Child) -> (JoinHandle<String>, JoinHandle<String>) {
    fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    }
    (
        read_all(child.stdout.take().unwrap()),
        read_all(child.stderr.take().unwrap()),
    )
}

pub fn sh(c: &mut Command) -> String {
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(
        o.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A trace as written: every line must parse as JSON, the first must be the header.
/// Returns the serial lines' text in order.
pub fn trace_serial_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the trace {}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("trace line {} is not JSON ({e}): {l:?}", i + 1));
        if i == 0 {
            assert!(v.get("ota_doctor_trace").is_some(), "no header: {l}");
            continue;
        }
        if v["source"] == "serial"
            && let Some(t) = v["text"].as_str()
        {
            out.push(t.to_string());
        }
    }
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the trace ends mid-line"
    );
    out
}

/// The numbers of the intact numbered lines, checking that they run without a gap
/// or a repeat from the first to the last.
pub fn contiguous(lines: &[String]) -> (usize, usize) {
    let nums: Vec<usize> = lines.iter().filter_map(|l| parse_numbered(l)).collect();
    assert!(!nums.is_empty(), "no numbered lines in {lines:?}");
    for w in nums.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "a line is missing or repeated after {}",
            w[0]
        );
    }
    (nums[0], nums[nums.len() - 1])
}

pub fn tmp() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("t.jsonl");
    (d, t)
}
