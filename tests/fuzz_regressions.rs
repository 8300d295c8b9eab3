//! Replays every saved fuzz input (crashes the fuzzers found, and hand-made hostile
//! inputs) through the same entry points the fuzz targets use, on stable `cargo test`.
//! A fixed bug that comes back panics here, and the failure names the file.
//!
//! Inputs live in tests/fixtures/fuzz/<target>/. With `OTA_FUZZ_CORPUS=fuzz/corpus` the
//! fuzzers' whole corpora are replayed too: this build has overflow checks, the fuzz
//! build does not, so the replay finds arithmetic overflows the fuzzer walked past.

#[path = "../fuzz/src/lib.rs"]
mod entries;

use std::path::{Path, PathBuf};

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("serial_lines", entries::serial_lines),
    ("serial_classify", entries::serial_classify),
    ("host_log", entries::host_log),
    ("capture", entries::capture),
    ("packet_ota", entries::packet_ota),
    ("trace", entries::trace),
    ("rule_load", entries::rule_load),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

/// Runs every file of `dir` through `entry`; returns the files that panicked.
fn replay(dir: &Path, entry: Entry) -> Vec<String> {
    let mut failed = Vec::new();
    for f in files(dir) {
        let data = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::panic::catch_unwind(|| entry(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    failed
}

fn check(target: &str) {
    let (_, entry) = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .expect("known target");
    let dir = fixtures().join(target);
    assert!(
        !files(&dir).is_empty(),
        "{}: no inputs to replay",
        dir.display()
    );
    let failed = replay(&dir, *entry);
    assert!(
        failed.is_empty(),
        "{target}: these inputs panic again:\n{}",
        failed.join("\n")
    );
}

#[test]
fn serial_lines() {
    check("serial_lines");
}

#[test]
fn serial_classify() {
    check("serial_classify");
}

#[test]
fn host_log() {
    check("host_log");
}

#[test]
fn capture() {
    check("capture");
}

#[test]
fn packet_ota() {
    check("packet_ota");
}

#[test]
fn trace() {
    check("trace");
}

#[test]
fn rule_load() {
    check("rule_load");
}

/// An input saved under a misspelled directory would never be replayed.
#[test]
fn every_fixture_directory_is_a_target() {
    for d in std::fs::read_dir(fixtures()).expect("tests/fixtures/fuzz") {
        let name = d.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "tests/fixtures/fuzz/{name} is not a fuzz target"
        );
    }
}

/// The replay itself must be able to fail: an entry that panics is reported by file.
#[test]
fn a_panicking_entry_is_reported() {
    let failed = replay(&fixtures().join("trace"), |_| panic!("planted"));
    assert_eq!(failed.len(), files(&fixtures().join("trace")).len());
}

#[test]
fn corpora_replay_when_asked() {
    let Some(root) = std::env::var_os("OTA_FUZZ_CORPUS") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let mut failed = Vec::new();
    for (target, entry) in TARGETS {
        failed.extend(replay(&root.join(target), *entry));
    }
    assert!(
        failed.is_empty(),
        "corpus inputs that panic:\n{}",
        failed.join("\n")
    );
}
