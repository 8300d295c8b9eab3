//! The tcpdump recordings of the end-to-end scenarios (tests/fixtures/net), decoded
//! offline: each must give the cause its scenario produced live.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

const EXPECT: &[(&str, &str)] = &[
    ("auth_failed", "auth_failed"),
    ("blocking_loop", "blocking_loop"),
    ("crash", "device_crash_during_update"),
    ("host_firewall", "host_firewall"),
    ("ok-esp32", "ok"),
    ("space-esp32", "insufficient_space"),
    ("stall", "weak_wifi_or_packet_loss"),
    ("unreachable", "device_unreachable"),
    ("wrong_port", "wrong_port"),
];

fn analyze(dir: &Path, base: &str, with_logs: bool) -> Value {
    let mut c = Command::new(BIN);
    c.args(["analyze", "--format", "json", "--pcap"])
        .arg(dir.join(format!("{base}.pcap")));
    for (opt, ext) in [("--serial-log", "serial.log"), ("--host-log", "host.log")] {
        let p = dir.join(format!("{base}.{ext}"));
        if with_logs && std::fs::metadata(&p).is_ok_and(|m| m.len() > 0) {
            c.arg(opt).arg(p);
        }
    }
    let out = c.output().expect("run ota-doctor");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{base}: no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_recorded_scenario_is_diagnosed_offline() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net");
    let mut seen = 0;
    for (prefix, cause) in EXPECT {
        for who in ["upload", "esp-ota"] {
            let base = format!("{prefix}-{who}");
            assert!(
                dir.join(format!("{base}.pcap")).exists(),
                "missing fixture {base}.pcap"
            );
            let v = analyze(&dir, &base, true);
            let got: Vec<&str> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["cause"].as_str())
                .collect();
            assert_eq!(got.first(), Some(cause), "{base}: {got:?}");
            assert!(
                v["inputs"]["packets"].as_u64().unwrap() > 0,
                "{base}: no packets decoded"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 18);
}

/// Causes that only the wire shows are named from the capture alone.
#[test]
fn the_capture_alone_names_the_network_causes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net");
    for (prefix, cause) in [
        ("wrong_port", "wrong_port"),
        ("unreachable", "device_unreachable"),
        ("host_firewall", "host_firewall"),
        ("auth_failed", "auth_failed"),
        ("ok-esp32", "ok"),
        // Only a candidate: OK and then silence also fits a missing OTA partition.
        ("space-esp32", "insufficient_space"),
    ] {
        let v = analyze(&dir, &format!("{prefix}-upload"), false);
        assert_eq!(
            v["findings"][0]["cause"], *cause,
            "{prefix} from the pcap alone:\n{v:#}"
        );
    }
}
