//! End to end with real parts: the simulated device runs in its own network namespace
//! behind a veth pair, its serial log goes through a pseudo-terminal, and ota-doctor
//! captures live with pnet in the host namespace while an uploader runs — ours
//! (`ota-doctor upload`) and a third-party one (the npm package esp-ota, through
//! `ota-doctor run`). Each scenario must come out with its cause as the top finding.
//!
//! With OTA_DOCTOR_RECORD=DIR, each run also records a pcap with tcpdump and the
//! serial/uploader logs into DIR: that is how tests/fixtures/net/ was made.

#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use netns::{Killed, NetPair, firmware};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

struct Scenario {
    name: &'static str,
    chip: &'static str,
    /// Device behaviour; None = no device at all.
    sim: Option<&'static str>,
    password: Option<&'static str>,
    /// The uploader's password (None = none given).
    auth: Option<&'static str>,
    /// The port the uploader aims at, when it differs from the device's.
    wrong_port: Option<u16>,
    firewall: bool,
    /// The first byte of the image, and its size.
    magic: u8,
    size: usize,
    expect: &'static str,
}

const BASE: Scenario = Scenario {
    name: "",
    chip: "esp8266",
    sim: Some("ok"),
    password: None,
    auth: None,
    wrong_port: None,
    firewall: false,
    magic: 0xE9,
    size: 120_000,
    expect: "",
};

type Uploader = fn(&NetPair, &Scenario, &Path, Option<&Path>, &Path) -> Value;

fn device_port(chip: &str) -> u16 {
    if chip == "esp32" { 3232 } else { 8266 }
}

/// Starts the scenario's sim, if it has one; returns it and its serial pty's link.
fn start_sim(pair: &NetPair, s: &Scenario, dir: &Path) -> Option<(Killed, PathBuf)> {
    let mut args = vec!["--chip", s.chip, "--scenario", s.sim?];
    if let Some(pw) = s.password {
        args.extend(["--password", pw]);
    }
    Some(pair.start_sim(dir, &args))
}

fn target(pair: &NetPair, s: &Scenario) -> String {
    if s.sim.is_some() {
        pair.device_ip.clone()
    } else {
        pair.absent_ip.clone()
    }
}

fn port(s: &Scenario) -> u16 {
    s.wrong_port.unwrap_or(device_port(s.chip))
}

/// `ota-doctor upload` in the host namespace, watching serial and capturing live.
fn ours(pair: &NetPair, s: &Scenario, fw: &Path, tty: Option<&Path>, export: &Path) -> Value {
    let mut c = pair.in_host(BIN);
    c.args([
        "upload",
        "-i",
        &target(pair, s),
        "-p",
        &port(s).to_string(),
        "-t",
        "4",
    ]);
    c.arg("-f").arg(fw).arg("--export").arg(export);
    if let Some(a) = s.auth {
        c.args(["-a", a]);
    }
    if let Some(t) = tty {
        c.arg("--serial").arg(t);
    }
    json_of(c.args(["--format", "json"]))
}

/// esp-ota driven by `ota-doctor run`, which captures serial and the wire alongside.
fn esp_ota(pair: &NetPair, s: &Scenario, fw: &Path, tty: Option<&Path>, export: &Path) -> Value {
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/esp-ota/upload.js");
    assert!(
        driver.with_file_name("node_modules/esp-ota").exists(),
        "esp-ota is not installed: run `npm --prefix tests/esp-ota ci` (CI does this in .ci/run)"
    );
    let mut c = pair.in_host(BIN);
    // esp-ota waits for a connect-back without a limit of its own: bound the run.
    c.args([
        "run",
        "--ip",
        &target(pair, s),
        "--format",
        "json",
        "--duration",
        "20s",
    ]);
    c.arg("--export").arg(export);
    if let Some(t) = tty {
        c.arg("--serial").arg(t);
    }
    c.args(["--", "node"]).arg(&driver);
    c.args([&target(pair, s), &port(s).to_string()]).arg(fw);
    c.args([s.auth.unwrap_or(""), "6"]);
    json_of(&mut c)
}

fn json_of(c: &mut Command) -> Value {
    let out = c.stdin(Stdio::null()).output().expect("run ota-doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON from ota-doctor ({e}); status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check(v: &Value, s: &Scenario, who: &str) {
    let top = v["findings"][0]["cause"].as_str().unwrap_or("(none)");
    let causes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cause"].as_str())
        .collect();
    assert_eq!(
        top, s.expect,
        "{} with {who}: findings {causes:?}\n{v:#}",
        s.name
    );
    assert!(
        v["inputs"]["packets"].as_u64().unwrap_or(0) > 0,
        "{who}: nothing captured live\n{v:#}"
    );
    if s.sim.is_some() {
        assert!(
            v["inputs"]["serial_lines"].as_u64().unwrap_or(0) > 0,
            "{who}: no serial lines\n{v:#}"
        );
    }
}

fn run(s: Scenario) {
    let pair = NetPair::new(&s.name[..4]);
    let dir = tempfile::tempdir().unwrap();
    if s.firewall {
        pair.firewall_incoming_tcp();
    }
    let fw = firmware(dir.path(), s.magic, s.size);
    for (who, upload) in [
        ("ota-doctor upload", ours as Uploader),
        ("esp-ota", esp_ota),
    ] {
        // A fresh device per uploader: a crash or a stall must not leak into the next run.
        let sim = start_sim(&pair, &s, dir.path());
        let tty = sim.as_ref().map(|(_, l)| l.clone());
        let rec = record_start(&pair, &s, who);
        let export = dir.path().join("trace.jsonl");
        let v = upload(&pair, &s, &fw, tty.as_deref(), &export);
        record_finish(rec, &export);
        drop(sim);
        check(&v, &s, who);
        offline_agrees(&v, &s, who, &export);
    }
}

/// The same session read back offline — the exported pcapng plus the serial and
/// uploader lines as logs — gives the same top cause.
fn offline_agrees(live: &Value, s: &Scenario, who: &str, trace: &Path) {
    let pcapng = trace.with_extension("pcapng");
    assert!(
        pcapng.exists(),
        "{who}: --export wrote no {}",
        pcapng.display()
    );
    let base = trace.with_extension("offline");
    write_logs(trace, &base);
    let mut c = Command::new(BIN);
    c.args(["analyze", "--format", "json", "--pcap"])
        .arg(&pcapng);
    for (opt, ext) in [("--serial-log", "serial.log"), ("--host-log", "host.log")] {
        let p = base.with_extension(ext);
        if std::fs::metadata(&p).is_ok_and(|m| m.len() > 0) {
            c.arg(opt).arg(p);
        }
    }
    let off = json_of(&mut c);
    assert_eq!(
        off["findings"][0]["cause"], live["findings"][0]["cause"],
        "{} with {who}: offline analysis disagrees with the live one\n{off:#}",
        s.name
    );
}

/// (tcpdump, pcap path) when OTA_DOCTOR_RECORD is set.
fn record_start(pair: &NetPair, s: &Scenario, who: &str) -> Option<(Killed, PathBuf)> {
    let dir = PathBuf::from(std::env::var_os("OTA_DOCTOR_RECORD")?);
    let tag = if who.starts_with("esp") {
        "esp-ota"
    } else {
        "upload"
    };
    let base = dir.join(format!("{}-{tag}", s.name));
    let pcap = base.with_extension("pcap");
    let mut c = pair.in_host("tcpdump");
    c.args(["-i", "any", "-U", "-s", "256", "-w"]).arg(&pcap);
    c.args(["host", &target(pair, s), "or", "arp"]);
    let child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(500));
    Some((Killed(child), base))
}

/// Stops tcpdump and writes the serial and uploader logs with epoch stamps, so the
/// offline test reads all three on one clock.
fn record_finish(rec: Option<(Killed, PathBuf)>, trace: &Path) {
    let Some((tcpdump, base)) = rec else { return };
    std::thread::sleep(Duration::from_millis(300));
    drop(tcpdump);
    write_logs(trace, &base);
}

fn write_logs(trace: &Path, base: &Path) {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    let mut logs = [String::new(), String::new()];
    for line in text.lines().skip(1) {
        let Ok(e) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let i = match e["source"].as_str() {
            Some("serial") => 0,
            Some("host") => 1,
            _ => continue,
        };
        let t = e["t_us"].as_i64().unwrap_or(0);
        logs[i].push_str(&format!(
            "{} {}\n",
            iso(t),
            e["text"].as_str().unwrap_or("")
        ));
    }
    std::fs::write(base.with_extension("serial.log"), &logs[0]).unwrap();
    std::fs::write(base.with_extension("host.log"), &logs[1]).unwrap();
}

fn iso(t_us: i64) -> String {
    let secs = t_us.div_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, re-derived).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t_us.rem_euclid(1_000_000)
    )
}

#[test]
fn success_esp32() {
    run(Scenario {
        name: "ok-esp32",
        chip: "esp32",
        expect: "ok",
        ..BASE
    });
}

#[test]
fn wrong_port() {
    run(Scenario {
        name: "wrong_port",
        chip: "esp32",
        wrong_port: Some(8266),
        expect: "wrong_port",
        ..BASE
    });
}

#[test]
fn device_unreachable() {
    run(Scenario {
        name: "unreachable",
        sim: None,
        expect: "device_unreachable",
        ..BASE
    });
}

#[test]
fn blocking_loop() {
    run(Scenario {
        name: "blocking_loop",
        sim: Some("blocking_loop"),
        expect: "blocking_loop",
        ..BASE
    });
}

#[test]
fn host_firewall() {
    run(Scenario {
        name: "host_firewall",
        firewall: true,
        expect: "host_firewall",
        ..BASE
    });
}

#[test]
fn auth_failed() {
    run(Scenario {
        name: "auth_failed",
        sim: Some("auth_failed"),
        password: Some("right-one"),
        auth: Some("wrong-one"),
        expect: "auth_failed",
        ..BASE
    });
}

#[test]
fn insufficient_space_esp32() {
    run(Scenario {
        name: "space-esp32",
        chip: "esp32",
        sim: Some("insufficient_space"),
        size: 1_400_000,
        expect: "insufficient_space",
        ..BASE
    });
}

#[test]
fn stall() {
    run(Scenario {
        name: "stall",
        sim: Some("weak_wifi_or_packet_loss"),
        expect: "weak_wifi_or_packet_loss",
        ..BASE
    });
}

#[test]
fn crash_during_update() {
    run(Scenario {
        name: "crash",
        chip: "esp32",
        sim: Some("device_crash_during_update"),
        expect: "device_crash_during_update",
        ..BASE
    });
}

/// Without CAP_NET_RAW the upload still runs and is diagnosed from serial and the
/// uploader; the capture problem is one line with the fix, not a stack trace.
#[test]
fn without_capture_permission_the_upload_is_still_diagnosed() {
    let pair = NetPair::new("perm");
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario {
        name: "perm",
        sim: Some("auth_failed"),
        password: Some("a"),
        auth: Some("b"),
        expect: "auth_failed",
        ..BASE
    };
    let (_sim, tty) = start_sim(&pair, &s, dir.path()).unwrap();
    let fw = firmware(dir.path(), 0xE9, 50_000);
    let mut c = pair.in_host("setpriv");
    c.args([
        "--inh-caps=-all",
        "--bounding-set=-net_raw,-net_admin",
        "--",
        BIN,
        "upload",
    ]);
    c.args([
        "-i",
        &pair.device_ip,
        "-p",
        "8266",
        "-a",
        "b",
        "-t",
        "4",
        "--format",
        "json",
    ]);
    c.arg("-f").arg(&fw).arg("--serial").arg(&tty);
    let out = c.output().expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("warning: no packet capture"))
        .unwrap_or_else(|| panic!("no capture warning:\n{err}"));
    // One line: what failed and the fix, naming this very binary.
    assert!(
        line.contains("setcap cap_net_raw,cap_net_admin=eip") && line.contains(BIN),
        "{line}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON despite no capture");
    assert_eq!(v["findings"][0]["cause"], "auth_failed", "{v:#}");
    assert_eq!(v["inputs"]["packets"], 0);
    assert!(
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("setcap")),
        "{v:#}"
    );
}
