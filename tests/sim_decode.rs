//! What the uploader and the simulated board print must be readable by ota-doctor's own
//! recognisers: otherwise the demo and the end-to-end tests would diagnose nothing.

mod common;

use common::{Serial, args, image, run, start};
use ota_doctor::decode::{decode_line, decode_log, timestamp};
use ota_doctor::event::{Source, Value};
use ota_doctor::sim::{Chip, Scenario};
use ota_doctor::upload::Tool;
use std::time::Duration;

/// Kind and `class` field of each uploader line, with espota's `HH:MM:SS ` stripped.
fn kinds(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|l| {
            let (_, body) = timestamp::split(l);
            let e = decode_line(Source::Host, body.trim_start(), 0.0);
            let class = match e.field("class") {
                Some(Value::Str(s)) => s.clone(),
                _ => String::new(),
            };
            (e.kind.to_string(), class)
        })
        .collect()
}

fn has(k: &[(String, String)], kind: &str, class: &str) -> bool {
    k.iter().any(|(a, b)| a == kind && b == class)
}

#[test]
fn uploader_lines_are_recognised() {
    for tool in [Tool::Esp8266, Tool::Esp32] {
        let sim = start(Chip::Esp32, Scenario::Ok, Some("pw"));
        let img = image(30_000, 0xE9);
        let mut a = args(sim.udp_port(), img.path());
        a.tool = Some(tool);
        a.auth = "pw".into();
        let (_, lines) = run(&a);
        a.progress = true;
        let (_, bar) = run(&a);
        let k = kinds(&[lines.clone(), bar].concat());
        for kind in [
            "espota.options",
            "espota.listen",
            "espota.size",
            "espota.invite",
            "espota.auth",
            "espota.wait",
            "espota.progress",
            "espota.result",
        ] {
            assert!(
                k.iter().any(|(a, _)| a == kind),
                "{tool:?} lacks {kind}: {lines:#?}"
            );
        }
        assert!(
            k.iter().all(|(a, _)| a != "line"),
            "{tool:?}: unrecognised line in {lines:#?}"
        );
    }
}

#[test]
fn uploader_failure_lines_are_recognised() {
    let img = image(20_000, 0xE9);
    let sim = start(Chip::Esp8266, Scenario::InsufficientSpace, Some("pw"));
    let mut a = args(sim.udp_port(), img.path());
    a.auth = "bad".into();
    assert!(has(&kinds(&run(&a).1), "espota.error", "auth_failed"));
    let sim = start(Chip::Esp8266, Scenario::FlashConfigMismatch, None);
    let a = args(sim.udp_port(), img.path());
    assert!(has(&kinds(&run(&a).1), "espota.error", "bad_answer"));
    let sim = start(Chip::Esp32, Scenario::WrongPartitionScheme, None);
    let mut a = args(sim.udp_port(), img.path());
    a.timeout = 1.0;
    assert!(has(
        &kinds(&run(&a).1),
        "espota.error",
        "no_response_device"
    ));
    let sim = start(Chip::Esp8266, Scenario::Md5Mismatch, None);
    let a = args(sim.udp_port(), img.path());
    assert!(has(&kinds(&run(&a).1), "espota.error", "result_error"));
    let sim = start(Chip::Esp8266, Scenario::DeviceCrashDuringUpdate, None);
    let a = args(sim.udp_port(), img.path());
    assert!(has(&kinds(&run(&a).1), "espota.error", "error_uploading"));
    let sim = start(Chip::Esp8266, Scenario::BlockingLoop, None);
    let mut a = args(sim.udp_port(), img.path());
    a.timeout = 0.5;
    assert!(has(&kinds(&run(&a).1), "espota.error", "no_answer"));
}

/// Serial kinds of one scenario's whole log, decoded as a saved file would be.
fn serial_kinds(chip: Chip, scenario: Scenario, first: u8) -> Vec<String> {
    let sim = start(chip, scenario, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let len = if scenario == Scenario::InsufficientSpace {
        1_400_000
    } else {
        20_000
    };
    let img = image(len, first);
    let mut a = args(sim.udp_port(), img.path());
    a.timeout = 1.0;
    run(&a);
    sim.wait_sessions(1, Duration::from_secs(5));
    serial.wait_for("heartbeat", Duration::from_secs(5));
    let log = decode_log(Source::Serial, serial.text().as_bytes());
    log.events.iter().map(|e| e.kind.to_string()).collect()
}

#[test]
fn board_serial_lines_are_recognised() {
    let want: &[(Chip, Scenario, u8, &[&str])] = &[
        (
            Chip::Esp8266,
            Scenario::Ok,
            0xE9,
            &[
                "boot",
                "wifi.ip",
                "ota.start",
                "ota.progress",
                "ota.end",
                "eboot",
            ],
        ),
        (
            Chip::Esp32,
            Scenario::Ok,
            0xE9,
            &["boot", "boot.rom", "ota.server", "ota.start", "ota.end"],
        ),
        (
            Chip::Esp32,
            Scenario::InsufficientSpace,
            0xE9,
            &["updater.too_large", "updater.error", "ota.error"],
        ),
        (
            Chip::Esp32,
            Scenario::InvalidImage,
            0x00,
            &["updater.error", "ota.error"],
        ),
        (
            Chip::Esp8266,
            Scenario::DeviceCrashDuringUpdate,
            0xE9,
            &["crash", "crash.detail", "boot"],
        ),
        (
            Chip::Esp32,
            Scenario::DeviceCrashDuringUpdate,
            0xE9,
            &["crash", "crash.detail", "boot"],
        ),
        (
            Chip::Esp8266,
            Scenario::MissingResetAfterSerialFlash,
            0xE9,
            &["boot", "ota.error"],
        ),
    ];
    for (chip, scenario, first, kinds) in want {
        let got = serial_kinds(*chip, *scenario, *first);
        for k in *kinds {
            assert!(
                got.iter().any(|g| g == k),
                "{chip} {scenario:?} lacks {k}: {got:?}"
            );
        }
    }
}
