//! The real binary in a real terminal (tmux): the demo's finding appears in the UI,
//! keys switch views and open help, and quitting restores the terminal and prints the
//! diagnosis.

use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

struct Tmux(String);

impl Tmux {
    fn start(cmd: &str) -> Tmux {
        assert!(
            Command::new("tmux").arg("-V").output().is_ok(),
            "this test needs tmux (apt-get install tmux; scripts/test installs it)"
        );
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("otad{}-{n}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "120",
                "-y",
                "36",
                cmd,
            ])
            .status()
            .unwrap();
        assert!(ok.success(), "tmux new-session failed");
        Tmux(name)
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, k: &str) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0, k])
            .status()
            .unwrap();
    }

    /// Waits (bounded) until the screen contains `want`.
    fn wait_for(&self, want: &str, secs: u64) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(want) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "never saw `{want}`; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn the_demo_in_a_terminal_shows_the_finding_and_quits_cleanly() {
    let t = Tmux::start(&format!("{BIN} demo; echo EXIT=$?; sleep 60"));
    t.wait_for("Findings (1)", 20);
    t.wait_for("No response from de", 20);
    t.keys("3");
    // tmux may show a frame half drawn; wait for the last part of the view to arrive.
    let s = t.wait_for("Fix:", 5);
    assert!(s.contains("insufficient_space"), "{s}");
    t.keys("?");
    // The overlay's own last line: "help" alone is also in the tab bar.
    let s = t.wait_for("any key closes this help", 5);
    assert!(s.contains("quit"), "{s}");
    t.keys("Escape");
    t.keys("2");
    t.wait_for("Timeline", 5);
    t.keys("q");
    let s = t.wait_for("EXIT=0", 10);
    // Back on the normal screen: the printed diagnosis, no UI frame left behind.
    assert!(s.contains("Cause: insufficient_space"), "{s}");
    assert!(!s.contains("┌ Timeline"), "the UI was not cleared:\n{s}");
}

/// A recorded session replayed in the UI shows the cause the live run found.
#[test]
fn a_replayed_trace_shows_the_same_finding() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let out = Command::new(BIN)
        .args(["demo", "--no-tui", "--scenario", "auth_failed", "--export"])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Cause: auth_failed"));
    let t = Tmux::start(&format!(
        "{BIN} replay {}; echo EXIT=$?; sleep 60",
        trace.display()
    ));
    t.wait_for("Findings", 10);
    t.keys("3");
    t.wait_for("auth_failed", 5);
    t.keys("q");
    t.wait_for("EXIT=0", 10);
}

/// Closing the terminal under a running UI (its window, its tmux session) ends the run
/// with the trace complete, instead of leaving a process behind that spins a core and
/// no longer hears SIGTERM (crossterm retries a hung-up terminal's empty reads forever).
#[test]
fn closing_the_terminal_ends_the_run_and_keeps_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (pid_file, trace) = (dir.path().join("pid"), dir.path().join("t.jsonl"));
    let t = Tmux::start(&format!(
        "echo $$ > {}; exec {BIN} demo --export {} 2>/dev/null",
        pid_file.display(),
        trace.display()
    ));
    t.wait_for("Findings (1)", 20);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    Command::new("tmux")
        .args(["kill-session", "-t", &t.0])
        .status()
        .unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    let started = Instant::now();
    // Gone, or a zombie waiting for tmux's server to reap it.
    let running = || {
        std::fs::read_to_string(&stat)
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    };
    while running() {
        if started.elapsed() > Duration::from_secs(15) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            panic!("ota-doctor still runs 15 s after its terminal was closed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.contains("\"source\":\"finding\""), "{text}");
}
