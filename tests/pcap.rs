//! `analyze --pcap` end to end on small captures built byte by byte. (Captures recorded
//! with tcpdump from a simulated device come with the network issue; these check the
//! reader, the decoder and the network rules together.)

use ota_doctor::decode::net::build::{self, udp};
use std::process::Command;

const T0: u32 = 1_700_000_000; // 2023-11-14T22:13:20Z
const HOST: [u8; 4] = [10, 0, 0, 1];
const DEV: [u8; 4] = [10, 0, 0, 2];

fn ip(src: [u8; 4], dst: [u8; 4], proto: u8, transport: &[u8]) -> Vec<u8> {
    build::frame(src, dst, proto, transport)
}

fn syn(sport: u16, dport: u16) -> Vec<u8> {
    build::tcp(sport, dport, 0x02, b"")
}

fn pcap(frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let v: Vec<(i64, Vec<u8>)> = frames
        .iter()
        .map(|(dt, f)| (i64::from(T0 + dt) * 1_000_000, f.clone()))
        .collect();
    build::pcap(&v)
}

fn invite() -> Vec<u8> {
    ip(
        HOST,
        DEV,
        17,
        &udp(
            50000,
            3232,
            b"0 40000 900000 0123456789abcdef0123456789abcdef\n",
        ),
    )
}

fn analyze(files: &[(&str, &[u8])]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ota-doctor"));
    cmd.args(["analyze", "--format", "json"]);
    for (flag, bytes) in files {
        let p = dir.path().join(flag.trim_start_matches('-'));
        std::fs::write(&p, bytes).unwrap();
        cmd.arg(flag).arg(&p);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn top(v: &serde_json::Value) -> &str {
    v["findings"][0]["cause"].as_str().unwrap_or("(none)")
}

#[test]
fn silent_device_that_prints_on_serial_is_a_blocked_loop() {
    let cap = pcap(&[
        (0, invite()),
        (15, ip(HOST, [10, 0, 0, 9], 17, &udp(1, 2, b"noise"))),
    ]);
    let serial = b"2023-11-14T22:13:23Z sensor 21.5C\n2023-11-14T22:13:29Z sensor 21.6C\n";
    let v = analyze(&[("--pcap", &cap), ("--serial-log", serial)]);
    assert_eq!(top(&v), "blocking_loop", "{v:#}");
}

#[test]
fn unanswered_connect_back_is_a_firewall() {
    let cap = pcap(&[
        (0, invite()),
        (0, ip(DEV, HOST, 17, &udp(3232, 50000, b"OK"))),
        (1, ip(DEV, HOST, 6, &syn(51000, 40000))),
        (2, ip(DEV, HOST, 6, &syn(51000, 40000))),
        (12, ip(HOST, [10, 0, 0, 9], 17, &udp(1, 2, b"noise"))),
    ]);
    let v = analyze(&[("--pcap", &cap)]);
    assert_eq!(top(&v), "host_firewall", "{v:#}");
    assert_eq!(v["inputs"]["packets"], 5);
}

#[test]
fn truncated_and_foreign_captures_are_handled() {
    let cap = pcap(&[
        (0, invite()),
        (1, ip(DEV, HOST, 17, &udp(3232, 50000, b"OK"))),
    ]);
    let v = analyze(&[("--pcap", &cap[..cap.len() - 1])]);
    assert!(v["notes"].to_string().contains("incomplete"), "{v:#}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("x.pcap");
    std::fs::write(&bad, b"this is not a capture").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["analyze", "--pcap", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a pcap"));
}

#[test]
fn auth_option_checks_the_answer_and_never_shows_the_password() {
    let nonce = "a".repeat(32);
    let cnonce = "c".repeat(32);
    let cap = pcap(&[
        (
            0,
            ip(
                HOST,
                DEV,
                17,
                &udp(
                    50000,
                    3232,
                    b"0 40000 900000 0123456789abcdef0123456789abcdef\n",
                ),
            ),
        ),
        (
            0,
            ip(
                DEV,
                HOST,
                17,
                &udp(3232, 50000, format!("AUTH {nonce}").as_bytes()),
            ),
        ),
        (
            1,
            ip(
                HOST,
                DEV,
                17,
                &udp(
                    50000,
                    3232,
                    format!("200 {cnonce} {}\n", "d".repeat(32)).as_bytes(),
                ),
            ),
        ),
        (
            1,
            ip(DEV, HOST, 17, &udp(3232, 50000, b"Authentication Failed")),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (p, trace) = (dir.path().join("c.pcap"), dir.path().join("t.jsonl"));
    std::fs::write(&p, &cap).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args([
            "analyze",
            "--format",
            "json",
            "--auth",
            "Sup3rSecret",
            "--pcap",
        ])
        .arg(&p)
        .arg("--export")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&trace).unwrap()
    );
    assert!(!all.contains("Sup3rSecret"));
    assert!(all.contains("\"password_ok\":false"), "{all}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(top(&v), "auth_failed", "{v:#}");
}
