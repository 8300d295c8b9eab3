//! espota.py's output format: `HH:MM:SS [LEVEL]: message` for logging calls, bare text
//! for what it writes to stderr directly (`Authenticating...OK`, progress).

use super::Tool;

pub struct Log<'a> {
    report: &'a mut dyn FnMut(&str),
    pub tool: Tool,
}

impl<'a> Log<'a> {
    pub fn new(report: &'a mut dyn FnMut(&str), tool: Tool) -> Self {
        Log { report, tool }
    }

    pub fn debug(&mut self, m: &str) {
        self.at("DEBUG", m);
    }
    pub fn info(&mut self, m: &str) {
        self.at("INFO", m);
    }
    pub fn error(&mut self, m: &str) {
        self.at("ERROR", m);
    }

    /// stderr-raw text: no time, no level.
    pub fn raw(&mut self, m: &str) {
        (self.report)(m);
    }

    fn at(&mut self, level: &str, m: &str) {
        (self.report)(&format!("{} [{level}]: {m}", clock()));
    }
}

/// Python's `%H:%M:%S` — in UTC, as std has no time-zone database.
fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", s / 3600 % 24, s / 60 % 60, s % 60)
}

/// An I/O error as Python prints a socket exception: `[Errno 104] Connection reset by
/// peer`, `timed out`.
pub fn py_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    if matches!(e.kind(), TimedOut | WouldBlock) {
        return "timed out".into();
    }
    let text = e.to_string();
    let text = text
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string();
    match e.raw_os_error() {
        Some(n) => format!("[Errno {n}] {text}"),
        None => text,
    }
}
