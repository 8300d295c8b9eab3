//! The pcapng writer's output read by Wireshark's own reader.

use ota_doctor::decode::net::build::{frame, udp};
use ota_doctor::decode::net::pcap::LinkType;
use ota_doctor::export::pcapng::PcapngWriter;
use std::process::Command;

fn tshark() -> String {
    let found = Command::new("sh")
        .args(["-c", "command -v tshark"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(!found.is_empty(), "install tshark (apt-get install tshark)");
    found
}

#[test]
fn tshark_reads_what_we_write() {
    let tshark = tshark();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ota.pcapng");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapngWriter::new(std::io::BufWriter::new(file)).unwrap();
    let inv = b"0 40000 10 0123456789abcdef0123456789abcdef\n";
    let f1 = frame([10, 0, 0, 1], [10, 0, 0, 2], 17, &udp(50000, 3232, inv));
    let f2 = frame([10, 0, 0, 2], [10, 0, 0, 1], 17, &udp(3232, 50000, b"OK"));
    w.write_frame(1_700_000_000_000_000, LinkType::Ethernet, &f1)
        .unwrap();
    w.write_frame(1_700_000_000_250_000, LinkType::Ethernet, &f2)
        .unwrap();
    // Raw IP on a second interface.
    w.write_frame(1_700_000_001_000_000, LinkType::Raw, &f1[14..])
        .unwrap();
    drop(w);
    let out = Command::new(tshark)
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "udp.dstport",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert_eq!(rows[0][..2], ["1", "3232"]);
    assert_eq!(rows[1][..2], ["2", "50000"]);
    assert_eq!(rows[2][..2], ["3", "3232"]);
    assert!(rows[1][2].starts_with("1700000000.25"), "{text}");
}
