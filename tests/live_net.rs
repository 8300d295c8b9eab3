//! The live monitor's packet capture under faults and load, in two network namespaces
//! joined by a veth pair (tests/common/netns.rs): the capture interface going down,
//! coming back and being removed while serial goes on; and an OTA upload to the
//! simulated device while a bounded flood of unrelated UDP crosses the interface.
//! Needs root; fails with the reason otherwise.

#[path = "common/live.rs"]
mod live;
#[path = "common/load.rs"]
mod load;
#[path = "common/netns.rs"]
#[allow(dead_code)]
mod netns;

use netns::NetPair;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn host_veth(pair: &NetPair) -> String {
    let out = netns::sh(&[
        "ip",
        "-n",
        &pair.host_ns,
        "-o",
        "link",
        "show",
        "type",
        "veth",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let name = text.split(':').nth(1).unwrap_or("").trim();
    name.split('@').next().unwrap_or("").to_string()
}

/// A few datagrams from the device to the host: frames the capture keeps.
fn traffic_from_device(pair: &NetPair) {
    let to: std::net::SocketAddr = format!("{}:9", pair.host_ip).parse().unwrap();
    let never = Arc::new(AtomicBool::new(false));
    let sent = load::in_netns(&pair.device_ns, move || {
        load::udp_flood(to, 20, 32, Duration::from_secs(2), &never)
    });
    let f = sent.join().unwrap().unwrap();
    assert_eq!(f.packets, 20, "could not send from the device namespace");
}

fn wait_for(err: &Path, want: &str, within: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if std::fs::read_to_string(err).is_ok_and(|s| s.contains(want)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Down, up, then removed: each is said when it happens, capture resumes after the
/// first, and serial lines go on being recorded throughout.
#[test]
fn capture_interface_down_up_and_removed_while_serial_goes_on() {
    let pair = NetPair::new("ifdn");
    let veth = host_veth(&pair);
    let (master, tty) = live::pty();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let errf = dir.path().join("stderr");
    let feeder = live::Feeder::start(master, Duration::from_millis(10), 2_000);
    let mut c = pair.in_host(live::BIN);
    c.args([
        "--serial",
        &tty,
        "--ip",
        &pair.device_ip,
        "--no-tui",
        "--duration",
        "9s",
    ])
    .args(["--format", "json", "--export"])
    .arg(&trace)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(&errf).unwrap());
    let mut child = c.spawn().unwrap();
    let out = {
        let mut o = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut o, &mut s);
            s
        })
    };
    assert!(
        wait_for(&errf, "capturing on", Duration::from_secs(5)),
        "capture never started"
    );
    let ip = |args: &[&str]| {
        let mut v = vec!["ip", "-n", &pair.host_ns, "link"];
        v.extend_from_slice(args);
        netns::sh(&v);
    };
    ip(&["set", &veth, "down"]);
    assert!(
        wait_for(
            &errf,
            "stopped: the interface went down",
            Duration::from_secs(3)
        ),
        "{}",
        std::fs::read_to_string(&errf).unwrap_or_default()
    );
    ip(&["set", &veth, "up"]);
    assert!(
        wait_for(&errf, "resumed after", Duration::from_secs(3)),
        "{}",
        std::fs::read_to_string(&errf).unwrap_or_default()
    );
    // Only now is there traffic: the packets counted are those seen after resuming.
    traffic_from_device(&pair);
    std::thread::sleep(Duration::from_millis(300));
    let before_removal = feeder.sent.load(Ordering::SeqCst);
    ip(&["del", &veth]);
    assert!(
        wait_for(
            &errf,
            "stopped: the interface was removed",
            Duration::from_secs(3)
        ),
        "{}",
        std::fs::read_to_string(&errf).unwrap_or_default()
    );
    let status = live::wait_bounded(&mut child, Duration::from_secs(30));
    drop(feeder.stop());
    let (out, err) = (out.join().unwrap(), std::fs::read_to_string(&errf).unwrap());
    let what = format!("{status:?}\nstdout:\n{out}\nstderr:\n{err}");
    assert_eq!(status.code(), Some(0), "{what}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {what}"));
    assert!(
        v["inputs"]["packets"].as_u64().unwrap_or(0) > 0,
        "nothing captured after resuming: {what}"
    );
    let lines = live::trace_serial_lines(&trace);
    let (_, last) = live::contiguous(&lines);
    assert!(
        last > before_removal + 50,
        "serial stopped with the capture: last {last}, {before_removal} at removal\n{what}"
    );
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("had not come back when recording ended"),
        "{what}"
    );
}

fn event<'a>(trace: &'a [Value], kind: &str) -> Option<&'a Value> {
    trace.iter().rev().find(|e| e["kind"] == kind)
}

/// An upload while unrelated UDP floods the capture interface at full speed (bounded
/// in count and time): every OTA byte is seen, nothing is dropped, the upload is OK.
#[test]
fn no_ota_packet_missed_under_a_udp_flood() {
    let pair = NetPair::new("fld");
    let dir = tempfile::tempdir().unwrap();
    // A second address in the device namespace: the flood's target, not the device.
    let veth = {
        let out = netns::sh(&[
            "ip",
            "-n",
            &pair.device_ns,
            "-o",
            "link",
            "show",
            "type",
            "veth",
        ]);
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        t.split(':')
            .nth(1)
            .unwrap_or("")
            .trim()
            .split('@')
            .next()
            .unwrap_or("")
            .to_string()
    };
    let other = pair
        .device_ip
        .rsplit_once('.')
        .map(|(n, _)| format!("{n}.3"))
        .unwrap();
    netns::sh(&[
        "ip",
        "-n",
        &pair.device_ns,
        "addr",
        "add",
        &format!("{other}/24"),
        "dev",
        &veth,
    ]);
    let (_sim, tty) = pair.start_sim(dir.path(), &["--chip", "esp8266"]);
    let fw = netns::firmware(dir.path(), 0xE9, 400_000);
    let stop = Arc::new(AtomicBool::new(false));
    let to: std::net::SocketAddr = format!("{other}:9").parse().unwrap();
    let s = stop.clone();
    let flood = load::in_netns(&pair.host_ns, move || {
        load::udp_flood(to, 3_000_000, 200, Duration::from_secs(10), &s)
    });
    std::thread::sleep(Duration::from_millis(300));
    let trace = dir.path().join("t.jsonl");
    let out = pair
        .in_host(live::BIN)
        .args([
            "upload",
            "-i",
            &pair.device_ip,
            "-p",
            "8266",
            "-t",
            "4",
            "--format",
            "json",
        ])
        .arg("-f")
        .arg(&fw)
        .arg("--serial")
        .arg(&tty)
        .arg("--export")
        .arg(&trace)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let f = flood.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let what = format!(
        "flood {} packets in {:.1} s; status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        f.packets,
        f.secs,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(f.packets > 10_000, "the flood did not get going: {what}");
    assert_eq!(out.status.code(), Some(0), "{what}");
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {what}"));
    let events: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .filter(|k| !k.starts_with("ota.progress"))
        .collect();
    let tr = event(&events, "ota.transfer")
        .unwrap_or_else(|| panic!("no transfer in {kinds:?}: {what}"));
    let res = event(&events, "ota.result").unwrap_or_else(|| panic!("no result: {what}"));
    let f = &tr["fields"];
    assert_eq!(f["image_size"], 400_000, "{tr}");
    assert_eq!(f["bytes_sent"], 400_000, "{tr}\n{what}");
    assert_eq!(f["bytes_acked"], 400_000, "{tr}\n{what}");
    assert_eq!(res["fields"]["verdict"], "ok", "{res}\n{what}");
    assert_eq!(v["findings"][0]["cause"], "ok", "{what}");
    let notes = v["notes"].to_string();
    assert!(!notes.contains("dropped"), "{what}");
}

/// The disk under the captured frames fills during an upload: the pcapng stops at its
/// last whole block (tshark reads it without complaint), the monitor says which file
/// stopped, and the trace and the diagnosis go on to the end. The frames go to a small
/// tmpfs through a symlink, so only they meet the full disk.
#[test]
fn disk_full_under_the_pcapng_keeps_whole_blocks_and_the_diagnosis() {
    let pair = NetPair::new("dfp");
    let dir = tempfile::tempdir().unwrap();
    let disk = netns::SmallDisk::new("128k");
    let (_sim, tty) = pair.start_sim(dir.path(), &["--chip", "esp8266"]);
    let fw = netns::firmware(dir.path(), 0xE9, 400_000);
    let trace = dir.path().join("t.jsonl");
    let frames = disk.dir.path().join("t.pcapng");
    std::os::unix::fs::symlink(&frames, dir.path().join("t.pcapng")).unwrap();
    let out = pair
        .in_host(live::BIN)
        .args(["upload", "-i", &pair.device_ip, "-p", "8266", "-t", "4"])
        .args(["--format", "json", "--serial", &tty.to_string_lossy()])
        .arg("-f")
        .arg(&fw)
        .arg("--export")
        .arg(&trace)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let what = format!(
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_eq!(out.status.code(), Some(0), "{what}");
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {what}"));
    assert_eq!(v["findings"][0]["cause"], "ok", "{what}");
    let said = "t.pcapng` stopped: the disk is full";
    assert!(stderr.contains(said), "{what}");
    assert!(!stderr.contains("panicked"), "{what}");
    let kept = std::fs::metadata(&frames).unwrap().len();
    assert!(kept > 50_000 && kept < 128 * 1024, "{kept} bytes: {what}");
    let tshark = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&frames)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark (apt-get install tshark; scripts/setup installs it)");
    let read = String::from_utf8_lossy(&tshark.stdout).lines().count();
    // tshark warns whenever it runs as root; anything else is about the file.
    let complaint: Vec<String> = String::from_utf8_lossy(&tshark.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("Running as user"))
        .map(String::from)
        .collect();
    assert!(
        tshark.status.success() && complaint.is_empty(),
        "tshark: {complaint:?}"
    );
    assert!(read > 30, "tshark read only {read} frames of {kept} bytes");
    let events: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let res = event(&events, "ota.result").unwrap_or_else(|| panic!("no result: {what}"));
    assert_eq!(res["fields"]["verdict"], "ok", "{res}");
}
