//! The live monitor's terminal UI (ratatui + crossterm).
//!
//! The split follows the rest of the crate: [`App`] is plain state with no I/O, fed
//! from the [`Session`](crate::session::Session) by the loop; [`keys::on_key`] turns a
//! key into a new state plus an optional [`Action`] the loop performs (quit, export);
//! [`view::render`] draws an `&App` into any ratatui backend. Only [`run`] and
//! [`replay`] touch the terminal, so everything else is tested with `TestBackend`.

mod app;
mod export;
mod found;
pub mod keys;
mod phase;
mod progress;
mod rows;
mod run;
mod search;
mod term;
#[cfg(test)]
mod tests;
pub mod view;
mod worker;

pub use app::{App, Mode, TimeMode, View};
pub use keys::{Action, on_key};
pub use phase::{Phase, SerialState};
pub use run::{Feed, Keys, browse, drive, replay, replay_app, reset, run};

use crate::rules::RuleSet;
use std::path::PathBuf;

/// What the UI knows about the run's sources that the session's events do not say.
/// The command that starts the sources fills it in.
#[derive(Debug, Clone)]
pub struct SourcesInfo {
    /// The serial port and its baud rate, when one is watched.
    pub serial: Option<(String, u32)>,
    /// The capture interface, when capture was asked for (`--ip`).
    pub iface: Option<String>,
    /// Whether packet capture is running; `false` with `iface` set means it was
    /// refused (usually a permission problem) and the net pane will stay empty.
    pub capturing: bool,
    /// The device's address as given on the command line, shown until the session
    /// itself learns it.
    pub device_ip: Option<String>,
    /// Where `e` writes a snapshot of the trace.
    pub snapshot: PathBuf,
    /// The rules the live analysis runs (built-in plus `--rules`).
    pub rules: RuleSet,
    /// The same rules kept current as `--rules` files are edited; when set, the
    /// live analysis judges with these rather than `rules`.
    pub live_rules: Option<crate::live::LiveRules>,
    /// How much of the session memory holds (`--window`); the rest is in `trace`.
    pub window: crate::session::Window,
    /// Where the full trace is written (`--export`), if anywhere.
    pub trace: Option<PathBuf>,
    /// Shown in the status line when the loop starts (what memory keeps, say).
    pub start_note: Option<String>,
    /// Set to reset the board through RTS; None unless the user allowed it
    /// (`--reset-key`), because a reset ends whatever the board was doing.
    pub reset: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Runs the live analysis on the UI loop, stalling it, as before it had a
    /// thread of its own: the benchmark's peer.
    pub inline_analysis: bool,
}

impl SourcesInfo {
    /// No sources, built-in rules, the default window, snapshot to
    /// `ota-doctor-snapshot.jsonl`.
    pub fn new() -> SourcesInfo {
        SourcesInfo {
            serial: None,
            iface: None,
            capturing: false,
            device_ip: None,
            snapshot: PathBuf::from("ota-doctor-snapshot.jsonl"),
            rules: RuleSet::builtin(),
            live_rules: None,
            window: crate::session::Window::default(),
            trace: None,
            start_note: None,
            reset: None,
            inline_analysis: false,
        }
    }
}

impl Default for SourcesInfo {
    fn default() -> Self {
        SourcesInfo::new()
    }
}
