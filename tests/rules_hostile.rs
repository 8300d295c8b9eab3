//! Rule files with hostile regexes: each is refused with the file, the line and a hint,
//! without a panic and without the memory the pattern asks for.

use ota_doctor::rules::{Diagnostic, RuleSet};
use std::process::Command;

const HEAD: &str = "id = \"U1\"\ncause = \"x_t\"\ntitle = \"t\"\nseverity = \"error\"\nmessage = \"m\"\nexplanation = \"e\"\n";

/// A rule whose only selection has `regex` on line 9 of the file.
fn with_regex(re: &str) -> String {
    format!(
        "{HEAD}[sel.s]\nsource = \"serial\"\nregex = '''{re}'''\n[[when]]\nsteps = [ {{ match = \"s\" }} ]\n"
    )
}

fn diagnostics(src: String) -> Vec<Diagnostic> {
    let mut set = RuleSet::default();
    set.add_sources([("hostile.toml".to_string(), src)]).0
}

#[test]
fn exploding_repetition_is_refused_with_a_hint() {
    let d = diagnostics(with_regex("(a{1000}){1000}"));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].file.as_str(), d[0].line), ("hostile.toml", 9));
    assert!(d[0].message.contains("compiles to more than"), "{}", d[0]);
    assert!(d[0].hint.as_deref().unwrap_or("").contains("smaller count"));
}

#[test]
fn nested_counted_repetition_is_refused() {
    let d = diagnostics(with_regex(r"((\w{100}){100}){100}"));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.starts_with("bad regex"), "{}", d[0]);
}

#[test]
fn two_megabyte_pattern_is_refused_before_compiling() {
    let d = diagnostics(with_regex(&"x".repeat(2 << 20)));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].line, 9);
    assert!(d[0].message.contains("bytes long"), "{}", d[0]);
    assert!(d[0].hint.is_some());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
    let d = diagnostics(with_regex(&deep));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.starts_with("bad regex"), "{}", d[0]);
}

#[test]
fn a_long_but_ordinary_pattern_still_loads() {
    let alts: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
    assert!(diagnostics(with_regex(&alts.join("|"))).is_empty());
}

#[test]
fn rules_check_reports_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.toml");
    std::fs::write(&path, with_regex("(a{1000}){1000}")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["rules", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("big.toml:9:"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["analyze", "--serial-log", "/dev/null", "--rules"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("big.toml:9:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
