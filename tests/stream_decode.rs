//! The one-pass serial decoder holds the same events as the whole-file decoder, and on
//! a log too long to hold, keeps the diagnosis while holding a bounded number of lines.

use ota_doctor::analysis;
use ota_doctor::decode::decode_log;
use ota_doctor::decode::stream::{PLAIN_BUDGET, decode_serial, decode_serial_with};
use ota_doctor::event::Source;
use ota_doctor::rules::RuleSet;
use ota_doctor::rules::interest::Interest;
use ota_doctor::timeline::Builder;
use std::path::PathBuf;

/// Every log under tests/fixtures and examples: serial logs, and uploader logs too
/// (as hostile input for the serial decoder: different text, same line handling).
fn logs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::from("tests/fixtures"), PathBuf::from("examples")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "log") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn fixture_logs_decode_to_the_same_events() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    let logs = logs();
    assert!(logs.len() > 40, "{}", logs.len());
    for p in logs {
        let bytes = std::fs::read(&p).unwrap();
        let whole = decode_log(Source::Serial, &bytes);
        for budget in [usize::MAX, PLAIN_BUDGET] {
            let s = decode_serial(&bytes[..], &interest, budget).unwrap();
            assert_eq!(s.events, whole.events, "{}", p.display());
            assert_eq!(
                (s.clock, s.cut_lines, &s.notes),
                (whole.clock, whole.cut_lines, &whole.notes)
            );
            assert!(s.unheld.is_empty());
        }
    }
}

#[test]
fn odd_inputs_decode_the_same() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    let mut utf16 = vec![0xFF, 0xFE];
    for u in "ERROR[4]: Not Enough Space\r\n".encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let noise: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: Vec<Vec<u8>> = vec![
        b"\xEF\xBB\xBFboot\r\n".to_vec(),
        utf16,
        noise,
        b"a\n12:00:01.000 > \nb\n[18:00:00.000] x\n[09:00:00.000] y\n".to_vec(),
        b"_12:00:00.000 > Start updating sketch_\n\x1b[0;31mE (1) x: Receive Failed\x1b[0m\n"
            .to_vec(),
        vec![b'x'; 40_000],
    ];
    for c in cases {
        let s = decode_serial(&c[..], &interest, usize::MAX).unwrap();
        let w = decode_log(Source::Serial, &c);
        assert_eq!(s.events, w.events);
        assert_eq!(
            (s.clock, s.cut_lines, s.notes),
            (w.clock, w.cut_lines, w.notes)
        );
    }
}

/// Hours of chatter around one failed update; one line every 10 ms.
fn long_log(lines: usize) -> Vec<u8> {
    let mut s = String::new();
    s.push_str("08:00:00.000 >  ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n");
    for k in 0..lines {
        let ms = 8 * 3_600_000 + 10 * (k as u64 + 1);
        let stamp = format!(
            "{:02}:{:02}:{:02}.{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        let text = match k % 3 {
            0 => format!("sensor t=21.{}C", k % 10),
            1 => format!("MQTT publish home/t {k}"),
            _ => format!("loop {k}"),
        };
        s.push_str(&format!("{stamp} > {text}\n"));
        if k == lines / 2 {
            s.push_str(&format!("{stamp} > Start updating sketch\n"));
            s.push_str(&format!("{stamp} > ERROR[4]: Not Enough Space\n"));
        }
    }
    s.into_bytes()
}

#[test]
fn a_long_log_is_held_in_bounded_memory_with_the_same_diagnosis() {
    let set = RuleSet::builtin();
    let interest = Interest::for_serial(&set);
    let bytes = long_log(150_000);
    let budget = 2_000;
    let thin = decode_serial(&bytes[..], &interest, budget).unwrap();
    let whole = decode_log(Source::Serial, &bytes);
    // Two classes (plain, MQTT) of thinned lines plus the recognised events.
    assert!(
        thin.events.len() <= 2 * budget + 10,
        "{}",
        thin.events.len()
    );
    assert_eq!(thin.lines(), whole.events.len());
    assert!(thin.events.windows(2).all(|w| w[0].line < w[1].line));
    let diagnose = |log| {
        let mut b = Builder::new();
        b.log(Source::Serial, log);
        let tl = b.build();
        let r = analysis::analyze(&set, &tl);
        let causes: Vec<String> = r.findings.iter().map(|f| f.cause.clone()).collect();
        (causes, tl.count(Source::Serial))
    };
    let (thin_causes, thin_n) = diagnose(thin);
    let (whole_causes, whole_n) = diagnose(whole);
    assert_eq!(thin_causes, whole_causes);
    assert_eq!(
        thin_causes.first().map(String::as_str),
        Some("insufficient_space")
    );
    assert_eq!(thin_n, whole_n);
}

#[test]
fn grep_patterns_are_plain_ere_that_find_what_ota_doctor_decodes() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["rules", "patterns", "--grep"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let pats = String::from_utf8(out.stdout).unwrap();
    assert!(pats.lines().count() >= 40, "{pats}");
    // `(?` is Rust-only group syntax unless the parenthesis is escaped (`\(?` is ERE).
    let rust_only = pats
        .match_indices("(?")
        .any(|(i, _)| !pats[..i].ends_with('\\'));
    assert!(!rust_only, "Rust-only syntax left in:\n{pats}");
    if std::process::Command::new("grep")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pf, log) = (dir.path().join("p.ere"), dir.path().join("s.log"));
    std::fs::write(&pf, &pats).unwrap();
    std::fs::write(
        &log,
        "sensor t=21.5C\nERROR[4]: Not Enough Space\ndisplay refresh 12 ms\nMQTT publish a 1\n",
    )
    .unwrap();
    let g = std::process::Command::new("grep")
        .env("LC_ALL", "C")
        .args(["-E", "-c", "-f"])
        .arg(&pf)
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&g.stdout).trim(), "2");
}

/// Everything a decoded log says, for comparing two decodes of the same bytes.
fn summary(d: ota_doctor::decode::DecodedLog) -> impl PartialEq + std::fmt::Debug {
    (d.events, d.clock, d.cut_lines, d.notes, d.unheld)
}

#[test]
fn batches_cut_anywhere_decode_as_one_thread_does() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    // Stamped and unstamped lines, a stamp-only line lending its time, logger lines
    // naming the chip, a cut line, garbage, CRLF and blank lines.
    let mut log = b"boot\r\n[10:00:00.000] ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n\
        no stamp here\n[10:00:01.000]\n\nlent a time\n\
        [10:00:02.000] [  120][E][Updater.cpp:93] begin(): too large\n\
        [10:00:02.100] [  121][D][main.cpp:4] loop(): again\n\
        I (300) wifi: sta ip: 10.0.0.5\r\nMQTT publish a 1\n\x01\xff\xfe\x02garbage\x80\x81\n"
        .to_vec();
    log.extend_from_slice(b"[10:00:03.000] Progress: 40%\nlast");
    same_on_every_split(&interest, &log, 1..=log.len() + 1);
    // A line past the line limit leaves in pieces, which may end up in different batches.
    let mut long = b"[10:00:00.000] a\n".to_vec();
    long.extend(std::iter::repeat_n(b'y', 40_000));
    long.extend_from_slice(b"\nb\n");
    same_on_every_split(&interest, &long, [1, 17, 16_384, 16_401, 30_000, 50_000]);
}

fn same_on_every_split(interest: &Interest, log: &[u8], batches: impl IntoIterator<Item = usize>) {
    let one = summary(decode_serial_with(log, interest, usize::MAX, 1, 1).unwrap());
    for batch in batches {
        for threads in [2, 3] {
            let many = decode_serial_with(log, interest, usize::MAX, threads, batch);
            assert_eq!(
                summary(many.unwrap()),
                one,
                "batch {batch}, {threads} threads"
            );
        }
    }
}

#[test]
fn a_time_is_borrowed_across_a_batch_boundary() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    let log = b"[10:00:00.000] a\nb\n[10:00:01.000]\nc\n";
    // One line per batch: every line's time comes from another batch.
    let d = decode_serial_with(&log[..], &interest, usize::MAX, 2, 1).unwrap();
    let t: Vec<(i64, bool)> = d.events.iter().map(|e| (e.t_us, e.approx)).collect();
    let a = 36_000_000_000;
    assert_eq!(t, [(a, false), (a + 1, true), (a + 1_000_000, false)]);
}

#[test]
fn a_thinned_long_log_is_the_same_on_any_number_of_threads() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    let bytes = long_log(60_000);
    let one = summary(decode_serial_with(&bytes[..], &interest, 2_000, 1, 1).unwrap());
    for (threads, batch) in [(2, 4096), (4, 100_000), (2, 1 << 20)] {
        let many = decode_serial_with(&bytes[..], &interest, 2_000, threads, batch).unwrap();
        assert_eq!(summary(many), one, "{threads} threads, batch {batch}");
    }
}

#[test]
fn thinned_logger_lines_are_counted_and_held_as_decoded() {
    let interest = Interest::for_serial(&RuleSet::builtin());
    let mut s = String::new();
    for k in 0..20_000u64 {
        let ms = 10 * k;
        let (sec, ms) = (ms / 1000, ms % 1000);
        let stamp = format!("10:{:02}:{:02}.{ms:03} > ", sec / 60 % 60, sec % 60);
        match k % 3 {
            0 => s.push_str(&format!(
                "{stamp}[{k:6}][D][main.cpp:{k}] loop(): relay on\n"
            )),
            1 => s.push_str(&format!("{stamp}I ({k}) app_main: tick {k}\n")),
            _ => s.push_str(&format!("{stamp}display refresh {k}\n")),
        }
    }
    let whole = decode_log(Source::Serial, s.as_bytes());
    for threads in [1, 2] {
        let thin = decode_serial_with(s.as_bytes(), &interest, 500, threads, 4096).unwrap();
        assert!(thin.events.len() < whole.events.len() / 2);
        for kind in ["log", "line"] {
            assert_eq!(thin.count_kind(kind), whole.count_kind(kind), "{kind}");
        }
        for e in &thin.events {
            let w = &whole.events[whole
                .events
                .binary_search_by_key(&e.line, |w| w.line)
                .unwrap()];
            assert_eq!(e, w);
        }
    }
}

/// A rule whose selections read a logger line's fields and take only plain lines: the
/// cases where telling a logger line's class without decoding it is easiest to get wrong.
const FIELD_RULE: &str = r#"
id = "USR-FIELDS"
cause = "x_fields"
title = "Logger fields"
severity = "warning"
message = "m"
explanation = "Test rule."
fix = ["None."]

[sel.errors]
source = "serial"
where.level = "E"

[sel.plain_relay]
source = "serial"
kind = "line"
regex = '''relay'''

[sel.any_tick]
source = "serial"
regex = '''tick'''

[[when]]
confidence = 0.9
steps = [ { match = "errors" }, { match = "plain_relay" }, { match = "any_tick" } ]
"#;

/// Lines with and without logger prefixes, of every level, with messages that are
/// recognised, picked by a selection, or plain.
fn logger_lines() -> Vec<String> {
    let msgs = [
        "relay 1 -> on",
        "tick 2",
        "MQTT publish x",
        "too large 1400000 > 1310720",
        "Progress: 40%",
        "auth ok",
        "display refresh",
        "",
    ];
    let mut out = Vec::new();
    for m in msgs {
        for l in ["E", "W", "I", "D", "V"] {
            out.push(format!("[  5340664][{l}][main.cpp:184] loop(): {m}"));
            out.push(format!("[{l}][Updater.cpp:93] begin(): {m}"));
            out.push(format!("{l} (4549379) app_main: {m}"));
            out.push(format!("{l} (12) auth_task: {m}"));
        }
        out.push(m.to_string());
        out.push(format!("[99999999999999999999][E][a.cpp:1] {m}"));
    }
    out
}

/// What `Interest::quick` tells of a line without decoding it is what decoding tells:
/// kind, class and whether the line names the chip, for the built-in rules and for
/// selections that read logger fields.
#[test]
fn quick_classes_agree_with_decoding() {
    let mut custom = RuleSet::builtin();
    let errs = custom.add_sources([("fields.toml".to_string(), FIELD_RULE.to_string())]);
    assert!(errs.0.is_empty(), "{errs:?}");
    let mut lines = logger_lines();
    for p in logs() {
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        lines.extend(text.lines().map(|l| l.trim_end().to_string()));
    }
    for set in [RuleSet::builtin(), custom] {
        let interest = Interest::for_serial(&set);
        let mut quick = std::collections::BTreeMap::<&str, usize>::new();
        for line in lines
            .iter()
            .filter(|l| l.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            let Some(q) = interest.quick(line) else {
                continue;
            };
            *quick.entry(q.kind).or_default() += 1;
            let e = ota_doctor::decode::decode_line(Source::Serial, line, 0.0);
            let names_chip = ["uptime_ms", "file", "chip"]
                .iter()
                .all(|f| e.fields.contains_key(f));
            assert_eq!(
                (q.kind, Some(q.class), q.names_chip),
                (&*e.kind, interest.class(&e), names_chip),
                "{line:?}"
            );
        }
        // Enough of each kind told without decoding that the comparison means something.
        assert!(quick["log"] > 50 && quick["line"] > 300, "{quick:?}");
    }
}
