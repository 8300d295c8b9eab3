//! Every fixture under tests/fixtures/{seeds,real}/<case>/ is a real failure report:
//! `case.toml` names the cause its thread established, `host.log` / `serial.log` hold the
//! logs as posted. The real binary must name that cause first.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(serde::Deserialize)]
struct Case {
    source: String,
    cause: String,
}

fn cases(group: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(group);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.toml").exists())
        .collect();
    v.sort();
    v
}

/// Runs `ota-doctor analyze` on one case; returns (expected, top cause, all causes).
fn diagnose(dir: &Path) -> (Case, String, Vec<String>) {
    let case: Case = toml::from_str(&std::fs::read_to_string(dir.join("case.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert!(
        case.source.contains("http") || case.source.contains("seed"),
        "{}: no source",
        dir.display()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ota-doctor"));
    cmd.args(["analyze", "--format", "json"]);
    for (file, flag) in [("host.log", "--host-log"), ("serial.log", "--serial-log")] {
        if dir.join(file).exists() {
            cmd.arg(flag).arg(dir.join(file));
        }
    }
    let out = cmd.output().expect("run ota-doctor");
    assert!(
        out.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("json output");
    let causes: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap().to_string())
        .collect();
    let top = causes.first().cloned().unwrap_or_else(|| "(none)".into());
    (case, top, causes)
}

fn check_group(group: &str, min: usize) {
    let dirs = cases(group);
    assert!(
        dirs.len() >= min,
        "{group}: expected at least {min} fixtures, found {}",
        dirs.len()
    );
    let mut wrong = Vec::new();
    for d in &dirs {
        let (case, top, all) = diagnose(d);
        if top != case.cause {
            wrong.push(format!(
                "{}: expected {}, got {} (all: {})",
                d.file_name().unwrap().to_string_lossy(),
                case.cause,
                top,
                all.join(", ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} {group} fixtures misdiagnosed:\n{}",
        wrong.len(),
        dirs.len(),
        wrong.join("\n")
    );
}

#[test]
fn seeds_are_explained() {
    check_group("seeds", 5);
}

#[test]
fn real_reports_are_explained() {
    check_group("real", 30);
}

#[test]
fn seed_002_lists_the_blocking_loop_candidate_too() {
    let dir = cases("seeds")
        .into_iter()
        .find(|d| d.to_string_lossy().contains("seed002"))
        .unwrap();
    let (_, top, all) = diagnose(&dir);
    assert_eq!(top, "wrong_port");
    assert!(all.contains(&"blocking_loop".to_string()), "{all:?}");
}
