//! The binary as a user runs it: exit codes, messages, rule authoring, traces.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(args)
        .output()
        .expect("run ota-doctor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn example(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/esp32-image-too-big")
        .join(file)
        .display()
        .to_string()
}

#[test]
fn builtin_rules_check_and_their_examples_pass() {
    let check = run(&["rules", "check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains(": 0 error(s)"));
    let test = run(&["rules", "test"]);
    assert!(test.status.success(), "{}", stdout(&test));
    let out = stdout(&test);
    assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
    let passed: usize = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(passed >= 40, "only {passed} examples ran");
}

#[test]
fn example_session_is_diagnosed_across_sources() {
    let o = run(&[
        "analyze",
        "--host-log",
        &example("host.log"),
        "--serial-log",
        &example("serial.log"),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = &v["findings"][0];
    assert_eq!(top["cause"], "insufficient_space");
    assert_eq!(v["inputs"]["serial_lines"], 8);
    assert_eq!(v["inputs"]["host_lines"], 16);
    assert_eq!(v["inputs"]["packets"], 0);
    let ev = top["evidence"].as_array().unwrap();
    assert!(
        ev.iter()
            .any(|e| e["source"] == "serial" && e["text"].as_str().unwrap().contains("too large"))
    );
    for key in [
        "rule",
        "cause",
        "severity",
        "confidence",
        "title",
        "message",
        "fix",
        "evidence",
    ] {
        assert!(top.get(key).is_some(), "missing {key}");
    }
    // The firewall rule must not blame the host when the device says why it stopped.
    let causes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert!(!causes.contains(&"host_firewall"), "{causes:?}");
}

#[test]
fn password_never_reaches_output_or_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let o = run(&[
        "analyze",
        "--host-log",
        &example("host.log"),
        "--export",
        trace.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success());
    let written = std::fs::read_to_string(&trace).unwrap();
    assert!(
        std::fs::read_to_string(example("host.log"))
            .unwrap()
            .contains("hunter2")
    );
    assert!(!written.contains("hunter2"));
    assert!(!stdout(&o).contains("hunter2"));
    // The same log given as the serial log, with a BOM, plus IDE-quoted command lines.
    let odd = dir.path().join("odd.log");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(std::fs::read(example("host.log")).unwrap());
    bytes.extend_from_slice(b"\"python3\" \"espota.py\" -i 1.2.3.4 -p 8266 \"--auth=correct horse staple\" -f x.bin\nupload_flags = --auth=hunter3\n");
    std::fs::write(&odd, bytes).unwrap();
    for flag in ["--serial-log", "--host-log"] {
        let t = dir.path().join("odd.jsonl");
        let o = run(&[
            "analyze",
            flag,
            odd.to_str().unwrap(),
            "--export",
            t.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(o.status.success());
        let all = format!("{}{}", stdout(&o), std::fs::read_to_string(&t).unwrap());
        for secret in ["hunter2", "hunter3", "horse", "staple"] {
            assert!(!all.contains(secret), "{secret} leaked with {flag}");
        }
    }
}

#[test]
fn trace_round_trip_gives_the_same_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let a = run(&[
        "analyze",
        "--host-log",
        &example("host.log"),
        "--serial-log",
        &example("serial.log"),
        "--export",
        trace.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let b = run(&[
        "analyze",
        "--trace",
        trace.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(b.status.success(), "{}", stderr(&b));
    let va: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let vb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(va["findings"], vb["findings"]);
    // A trace cut mid-line (process killed) still analyses, with a note.
    let mut cut = std::fs::read(&trace).unwrap();
    cut.truncate(cut.len() - 20);
    std::fs::write(&trace, &cut).unwrap();
    let c = run(&["analyze", "--trace", trace.to_str().unwrap()]);
    assert!(c.status.success());
    assert!(stdout(&c).contains("skipped"), "{}", stdout(&c));
}

#[test]
fn unusable_input_exits_2_with_a_hint() {
    let o = run(&["analyze", "--serial-log", "/nonexistent/serial.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read serial log"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("hint:"));
    let none = run(&["analyze"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("--serial-log"));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, b"\x00\x01garbage\n").unwrap();
    let t = run(&["analyze", "--trace", junk.to_str().unwrap()]);
    assert_eq!(t.status.code(), Some(2));
    assert!(stderr(&t).contains("not a usable ota-doctor trace"));
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    let e = run(&[
        "analyze",
        "--host-log",
        empty.to_str().unwrap(),
        "--serial-log",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(e.status.code(), Some(2), "{}", stdout(&e));
    assert!(stderr(&e).contains("no text lines"));
}

#[test]
fn binary_noise_and_empty_logs_still_analyse() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.log");
    let bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&noise, bytes).unwrap();
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, b"").unwrap();
    let o = run(&[
        "analyze",
        "--serial-log",
        noise.to_str().unwrap(),
        "--host-log",
        empty.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("baud rate does not match"), "{out}");
    assert!(out.contains("is empty"), "{out}");
}

const GOOD_RULE: &str = r#"
id = "USR-001"
cause = "x_mqtt_storm"
title = "MQTT reconnect storm during OTA"
severity = "warning"
message = "MQTT reconnected {storm.count} times during the update"
explanation = "Our broker drops idle clients."
fix = ["Raise the keep-alive."]

[sel.storm]
source = "serial"
regex = '''MQTT reconnect'''

[[when]]
confidence = 0.7
steps = [ { match = "storm", count = 3 } ]

[[example]]
name = "three reconnects"
expect = "match"
events = ["0 serial | MQTT reconnect", "1 serial | MQTT reconnect", "2 serial | MQTT reconnect"]

[[example]]
name = "two are fine"
expect = "no_match"
events = ["0 serial | MQTT reconnect", "1 serial | MQTT reconnect"]
"#;

#[test]
fn user_rules_extend_the_diagnosis() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("storm.toml"), GOOD_RULE).unwrap();
    let d = dir.path().to_str().unwrap();
    let t = run(&["rules", "test", d]);
    assert!(t.status.success(), "{}", stdout(&t));
    assert!(stdout(&t).contains("PASS USR-001 three reconnects"));
    let log = dir.path().join("serial.log");
    std::fs::write(&log, "MQTT reconnect\nMQTT reconnect\nMQTT reconnect\n").unwrap();
    let o = run(&[
        "analyze",
        "--serial-log",
        log.to_str().unwrap(),
        "--rules",
        d,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["findings"][0]["cause"], "x_mqtt_storm");
    let list = run(&["rules", "list", "--rules", d]);
    assert!(stdout(&list).contains("USR-001"));
}

/// Each mistake must be reported at its line, naming the field, with a hint.
#[test]
fn rule_mistakes_point_at_file_and_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "regex = '''MQTT reconnect'''",
            "regx = '''MQTT reconnect'''",
            12,
            "unknown field `regx`",
        ),
        (
            "regex = '''MQTT reconnect'''",
            "regex = '''MQTT (reconnect'''",
            12,
            "bad regex",
        ),
        (
            "steps = [ { match = \"storm\", count = 3 } ]",
            "steps = [ { match = \"strom\" } ]",
            16,
            "no selection named `strom`",
        ),
        (
            "source = \"serial\"\n",
            "source = \"serial\"\nkind = \"ota.progess\"\n",
            12,
            "did you mean `ota.progress`",
        ),
        (
            "cause = \"x_mqtt_storm\"",
            "cause = \"wrong_prot\"",
            3,
            "did you mean `wrong_port`",
        ),
        (
            "regex = '''MQTT reconnect'''",
            "regex = '''MQTT'''\nwhere.percnt = 3",
            13,
            "no field `percnt`",
        ),
    ];
    for (from, to, line, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, GOOD_RULE.replacen(from, to, 1)).unwrap();
        let o = run(&["rules", "check", file.to_str().unwrap()]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(1), "{to}: {out}");
        let want = format!("bad.toml:{line}:");
        assert!(out.contains(&want), "{to}: expected {want} in\n{out}");
        assert!(out.contains(needle), "{to}: expected `{needle}` in\n{out}");
    }
    // analyze refuses to run with a broken user rule instead of silently ignoring it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "id = 1\n").unwrap();
    let o = run(&[
        "analyze",
        "--host-log",
        &example("host.log"),
        "--rules",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.toml:1:"), "{}", stderr(&o));
}

#[test]
fn explain_prints_the_rule_in_words() {
    let o = run(&["rules", "explain", "OTA003"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("no net ota.reply or net icmp.unreachable for 3s while serial event"),
        "{out}"
    );
    assert!(run(&["rules", "explain", "NOPE"]).status.code() == Some(2));
}

#[test]
fn swapped_logs_are_pointed_out() {
    let o = run(&["analyze", "--serial-log", &example("host.log")]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("did you mean --host-log"),
        "{}",
        stdout(&o)
    );
    let o = run(&["analyze", "--host-log", &example("serial.log")]);
    assert!(
        stdout(&o).contains("did you mean --serial-log"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_crash_after_end_in_an_untimed_serial_log_is_not_during_the_update() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.log");
    let h = dir.path().join("h.log");
    std::fs::write(&s, "Start updating sketch\nProgress: 50%\nProgress: 100%\nEnd\nGuru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\n").unwrap();
    std::fs::write(&h, "10:00:00 [INFO]: Sending invitation to: 10.0.0.9\nUploading: [====] 100% Done...\n10:00:09 [INFO]: Result: OK\n").unwrap();
    let o = run(&[
        "analyze",
        "--serial-log",
        s.to_str().unwrap(),
        "--host-log",
        h.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let causes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes.first(), Some(&"ok"), "{causes:?}");
}

#[test]
fn traces_from_elsewhere_are_redacted_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    std::fs::write(&t, "{\"t_us\":1,\"source\":\"host\",\"kind\":\"line\",\"text\":\"espota.py -i 1.2.3.4 --auth=TRSECRET1 -f x\",\"fields\":{\"auth\":\"TRSECRET1\"}}\n").unwrap();
    let out = dir.path().join("o.jsonl");
    let o = run(&[
        "analyze",
        "--trace",
        t.to_str().unwrap(),
        "--format",
        "json",
        "--export",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(!stdout(&o).contains("TRSECRET1"));
    assert!(!std::fs::read_to_string(&out).unwrap().contains("TRSECRET1"));
}
