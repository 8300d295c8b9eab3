//! The README's first command, run as a new user would: `ota-doctor demo` must end in
//! the scenario's cause, from a real simulated board on loopback and a real upload.

use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

fn demo(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("demo")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no JSON ({e})"))
}

#[test]
fn the_default_demo_diagnoses_an_image_too_big() {
    let v = demo(&[]);
    assert_eq!(v["findings"][0]["cause"], "insufficient_space", "{v:#}");
    assert!(v["inputs"]["serial_lines"].as_u64().unwrap() > 5, "{v:#}");
    assert!(v["inputs"]["host_lines"].as_u64().unwrap() > 3, "{v:#}");
}

#[test]
fn other_demo_scenarios_name_their_cause() {
    for (scenario, cause) in [
        ("auth_failed", "auth_failed"),
        ("device_crash_during_update", "device_crash_during_update"),
        ("ok", "ok"),
    ] {
        let v = demo(&["--scenario", scenario]);
        assert_eq!(v["findings"][0]["cause"], cause, "{scenario}: {v:#}");
        // A diagnosis, not an undecided candidate.
        assert!(
            v["findings"][0]["confidence"].as_f64().unwrap() >= 0.6,
            "{scenario}: {v:#}"
        );
    }
}

/// The same session live, exported, read back and reported names one cause.
#[test]
fn export_analyze_and_report_agree_with_the_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("demo.jsonl");
    let live = demo(&[
        "--scenario",
        "wrong_port",
        "--export",
        trace.to_str().unwrap(),
    ]);
    let cause = live["findings"][0]["cause"].as_str().unwrap().to_string();
    assert_eq!(cause, "wrong_port", "{live:#}");
    // The diagnosis made at the time is in the trace, after the recorded events.
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("\"kind\":\"finding\""),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["analyze", "--format", "json", "--trace"])
        .arg(&trace)
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        offline["findings"][0]["cause"],
        cause.as_str(),
        "{offline:#}"
    );
    let md = Command::new(BIN)
        .arg("report")
        .arg(&trace)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.starts_with(&format!("## OTA diagnosis: {cause}")),
        "{md}"
    );
    // With capture (root), the packets are there for Wireshark too, and read back alike.
    let pcapng = trace.with_extension("pcapng");
    assert!(pcapng.exists(), "no pcapng next to the trace");
    let out = Command::new(BIN)
        .args(["analyze", "--format", "json", "--pcap"])
        .arg(&pcapng)
        .output()
        .unwrap();
    let net: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(net["findings"][0]["cause"], cause.as_str(), "{net:#}");
}
