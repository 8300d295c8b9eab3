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
    }
}
