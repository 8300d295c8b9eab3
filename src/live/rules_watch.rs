//! Rule files given with --rules can be edited while a live run goes on: their
//! modification times are polled at a low rate, and a changed set is reloaded. A broken
//! edit keeps the rules that last loaded and says which file and line is wrong, so a
//! typo never loses the diagnosis of the upload being watched.

use super::Msg;
use crate::cli::RuleDirs;
use crate::commands::load_rules;
use crate::rules::RuleSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How often the files are looked at: cheap (a few stat calls), and quick enough
/// for someone saving a file in an editor.
const POLL: Duration = Duration::from_millis(500);

/// The rules a run judges with, kept current by a watcher thread.
#[derive(Clone, Debug)]
pub struct LiveRules {
    set: Arc<Mutex<RuleSet>>,
    stop: Arc<AtomicBool>,
}

impl LiveRules {
    /// Loads the rules (an error here stops the run, as at any other start) and, when
    /// user rule files were given, watches them.
    pub fn start(
        dirs: &RuleDirs,
        tx: &SyncSender<Msg>,
    ) -> Result<LiveRules, crate::error::UserError> {
        let set = load_rules(dirs)?;
        let live = LiveRules {
            set: Arc::new(Mutex::new(set)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        if !dirs.dirs.is_empty() {
            let (w, dirs, tx) = (live.clone(), dirs.dirs.clone(), tx.clone());
            let spawned = std::thread::Builder::new()
                .name("rules".into())
                .spawn(move || w.watch(&dirs, &tx));
            if let Err(e) = spawned {
                eprintln!(
                    "warning: rule files are not watched for edits ({e}); restart to apply changes"
                );
            }
        }
        Ok(live)
    }

    /// The rules as they are now.
    pub fn current(&self) -> RuleSet {
        self.set.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `judge` with the rules as they are now, without copying them: the UI's
    /// analysis thread asks twice a second. A reload waits for it to end.
    pub fn with<R>(&self, judge: impl FnOnce(&RuleSet) -> R) -> R {
        // A watcher that panicked mid-swap left a whole set either way.
        let set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        judge(&set)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn watch(&self, dirs: &[PathBuf], tx: &SyncSender<Msg>) {
        let mut seen = stamps(dirs);
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL);
            let now = stamps(dirs);
            if now == seen {
                continue;
            }
            seen = now;
            let note = self.reload(dirs);
            if tx.send(Msg::Note(note)).is_err() {
                return;
            }
        }
    }

    /// Loads `dirs` again; says what happened, as the note the user sees.
    pub(crate) fn reload(&self, dirs: &[PathBuf]) -> String {
        let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        let shown = shown.join(", ");
        let rule_dirs = RuleDirs {
            dirs: dirs.to_vec(),
        };
        match load_rules(&rule_dirs) {
            Ok(set) => {
                let n = set.rules.len();
                if let Ok(mut s) = self.set.lock() {
                    *s = set;
                }
                format!("rules reloaded from {shown} ({n} rules); the findings use them")
            }
            Err(e) => {
                // One note line: each diagnostic (file:line:col: …) with its hint.
                let why = e.message.trim_end();
                let why = why.strip_prefix("rule files have errors:\n").unwrap_or(why);
                let why: Vec<&str> = why.lines().map(str::trim).collect();
                format!(
                    "rule files changed but were not reloaded, the previous rules stay in use: {}; fix the file and save it again (`ota-doctor rules check {shown}` lists every error)",
                    why.join(" ")
                )
            }
        }
    }
}

/// Every watched file with its modification time and size, in a stable order.
fn stamps(dirs: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let mut out = Vec::new();
    for d in dirs {
        if d.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(d)
                .map(|r| {
                    r.filter_map(Result::ok)
                        .map(|e| e.path())
                        .take(10_000)
                        .collect()
                })
                .unwrap_or_default();
            files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
            files.sort();
            out.extend(files.iter().map(|f| stamp(f)));
        } else {
            out.push(stamp(d));
        }
    }
    out
}

fn stamp(p: &Path) -> (PathBuf, Option<SystemTime>, u64) {
    let m = std::fs::metadata(p).ok();
    let t = m.as_ref().and_then(|m| m.modified().ok());
    (p.to_path_buf(), t, m.map_or(0, |m| m.len()))
}
