//! The simulated board against our espota-compatible uploader, on loopback, per scenario.
//! Serial output is read through the board's pseudo-terminal like a real monitor does.

mod common;

use common::{Serial, args, image, run, start};
use ota_doctor::sim::{Chip, Scenario, SessionOutcome};
use ota_doctor::upload::{Outcome, Tool};
use std::time::Duration;

const S: Duration = Duration::from_secs(5);

#[test]
fn ok_esp8266_updates_and_reboots_into_the_new_image() {
    let sim = start(Chip::Esp8266, Scenario::Ok, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(100_000, 0xE9);
    let (o, lines) = run(&args(sim.udp_port(), img.path()));
    assert_eq!(o, Outcome::Ok, "{lines:#?}");
    let s = sim.wait_sessions(1, S);
    assert_eq!(s[0].outcome, SessionOutcome::Ok);
    assert_eq!(s[0].received, 100_000);
    assert_eq!(s[0].received_md5, s[0].expected_md5);
    serial.expect(
        &[
            "rst cause:1, boot mode:(3,6)",
            "Ready\r\n",
            "Start updating sketch",
            "Progress: 100%\r",
            "\nEnd\r\n",
            " ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
            "@cp:0\r\nld\r\n",
            "heartbeat",
        ],
        S,
    );
    assert!(
        lines.iter().any(|l| l.ends_with("[INFO]: Result: OK")),
        "{lines:#?}"
    );
}

#[test]
fn ok_esp32_updates_and_reboots_into_the_new_image() {
    let sim = start(Chip::Esp32, Scenario::Ok, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(100_000, 0xE9);
    let mut a = args(sim.udp_port(), img.path());
    a.tool = Some(Tool::Esp32);
    let (o, lines) = run(&a);
    assert_eq!(o, Outcome::Ok, "{lines:#?}");
    assert_eq!(sim.wait_sessions(1, S)[0].received, 100_000);
    serial.expect(
        &[
            "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
            "OTA server at: ",
            "Start updating sketch",
            "\nEnd\r\n",
            "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
        ],
        S,
    );
    assert!(
        lines.iter().any(|l| l.ends_with("[INFO]: Success")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Sending invitation to 127.0.0.1 "))
    );
}

fn upload_to(
    chip: Chip,
    scenario: Scenario,
    len: usize,
    first: u8,
) -> (Outcome, Vec<String>, Serial, ota_doctor::sim::SimHandle) {
    let sim = start(chip, scenario, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(len, first);
    let mut a = args(sim.udp_port(), img.path());
    a.tool = Some(if chip == Chip::Esp32 {
        Tool::Esp32
    } else {
        Tool::Esp8266
    });
    let (o, lines) = run(&a);
    (o, lines, serial, sim)
}

#[test]
fn auth_failed_depends_on_the_password() {
    for chip in [Chip::Esp8266, Chip::Esp32] {
        let sim = start(chip, Scenario::AuthFailed, Some("s3cret"));
        let serial = Serial::open(sim.serial_path().unwrap());
        let img = image(20_000, 0xE9);
        let mut a = args(sim.udp_port(), img.path());
        a.auth = "wrong".into();
        let (o, lines) = run(&a);
        assert_eq!(
            o,
            Outcome::AuthFailed("Authentication Failed".into()),
            "{chip}"
        );
        assert!(lines.contains(&"Authenticating...FAIL".to_string()));
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("[ERROR]: Authentication Failed"))
        );
        serial.expect(&["Error[0]: Auth Failed\r\n"], S);
        assert_eq!(
            sim.wait_sessions(1, S)[0].outcome,
            SessionOutcome::AuthFailed
        );
        a.auth = "s3cret".into();
        let (o, lines) = run(&a);
        assert_eq!(o, Outcome::Ok, "{chip}: {lines:#?}");
        assert!(lines.contains(&"Authenticating...OK".to_string()));
        assert!(
            lines.iter().all(|l| !l.contains("s3cret")),
            "password leaked"
        );
        assert_eq!(sim.wait_sessions(2, S)[1].received, 20_000);
    }
    // ESP32 also logs the rejection at warning level.
    {
        let sim = start(Chip::Esp32, Scenario::AuthFailed, Some("pw"));
        let serial = Serial::open(sim.serial_path().unwrap());
        let img = image(2_000, 0xE9);
        let mut a = args(sim.udp_port(), img.path());
        a.auth = "nope".into();
        run(&a);
        serial.expect(
            &["[W][ArduinoOTA.cpp:226] _onRx(): Authentication Failed"],
            S,
        );
    }
}

#[test]
fn blocking_loop_is_silent_on_udp_but_alive_on_serial() {
    let sim = start(Chip::Esp8266, Scenario::BlockingLoop, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(10_000, 0xE9);
    let mut a = args(sim.udp_port(), img.path());
    a.timeout = 1.0;
    let (o, lines) = run(&a);
    assert_eq!(o, Outcome::NoResponse);
    assert!(lines.iter().any(|l| l.ends_with("[ERROR]: No Answer")));
    serial.expect(&["heartbeat uptime=1s", "heartbeat uptime=2s"], S);
    // ESP8266 answers AUTH from the lwIP callback even with loop() blocked, but the
    // `OK` only comes from handle(): the uploader hears nothing after authenticating.
    let sim = start(Chip::Esp8266, Scenario::BlockingLoop, Some("pw"));
    let mut a = args(sim.udp_port(), img.path());
    a.auth = "pw".into();
    a.timeout = 1.0;
    assert_eq!(run(&a).0, Outcome::NoAuthAnswer);
    // ESP32 reads UDP only in handle(): ten invitations, no answer.
    let sim = start(Chip::Esp32, Scenario::BlockingLoop, None);
    let mut a = args(sim.udp_port(), img.path());
    a.tool = Some(Tool::Esp32);
    a.timeout = 0.2;
    let (o, lines) = run(&a);
    assert_eq!(o, Outcome::NoResponse);
    assert!(
        lines
            .iter()
            .any(|l| l == "Sending invitation to 127.0.0.1 .........."),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[ERROR]: No response from the ESP"))
    );
}

#[test]
fn insufficient_space_esp8266_refuses_on_udp() {
    let (o, lines, serial, sim) =
        upload_to(Chip::Esp8266, Scenario::InsufficientSpace, 600_000, 0xE9);
    assert_eq!(
        o,
        Outcome::DeviceError("ERR: ERROR[4]: Not Enough Space".into())
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[ERROR]: Bad Answer: ERR: ERROR[4]: Not Enough Space"))
    );
    serial.expect(&["Error[1]: Begin Failed\r\n"], S);
    assert!(
        matches!(&sim.wait_sessions(1, S)[0].outcome, SessionOutcome::BeginFailed(t) if t == "Not Enough Space")
    );
}

#[test]
fn insufficient_space_esp32_says_ok_then_never_connects() {
    let (o, lines, serial, _sim) =
        upload_to(Chip::Esp32, Scenario::InsufficientSpace, 1_400_000, 0xE9);
    assert_eq!(o, Outcome::ConnectBackTimeout);
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[ERROR]: No response from device"))
    );
    serial.expect(
        &[
            "][E][Updater.cpp:93] begin(): too large 1400000 > 1310720\r\n",
            "_runUpdate(): Begin ERROR: Bad Size Given\r\n",
            "Error[1]: Begin Failed\r\n",
        ],
        S,
    );
}

#[test]
fn flash_config_mismatch_per_chip() {
    let (o, _, serial, _sim) =
        upload_to(Chip::Esp8266, Scenario::FlashConfigMismatch, 50_000, 0xE9);
    assert_eq!(
        o,
        Outcome::DeviceError(
            "ERR: ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304".into()
        )
    );
    serial.expect(&["Error[1]: Begin Failed"], S);
    let (o, _, serial, _sim) = upload_to(Chip::Esp32, Scenario::FlashConfigMismatch, 50_000, 0xE9);
    assert!(
        matches!(&o, Outcome::TransferError { device_text: Some(t), .. } if t.contains("Flash Erase Failed")),
        "{o:?}"
    );
    serial.expect(
        &[
            "spi_flash: Detected size(4096k) smaller than the size in the binary image header(16384k)",
            "Write ERROR: Flash Erase Failed",
            "Error[4]: End Failed",
            "Update ERROR: Flash Erase Failed",
        ],
        S,
    );
}

#[test]
fn wrong_partition_scheme_esp32_only() {
    let (o, _, serial, _sim) = upload_to(Chip::Esp32, Scenario::WrongPartitionScheme, 50_000, 0xE9);
    assert_eq!(o, Outcome::ConnectBackTimeout);
    serial.expect(
        &[
            "Begin ERROR: Partition Could Not be Found",
            "Error[1]: Begin Failed",
        ],
        S,
    );
    let mut cfg = ota_doctor::sim::SimConfig::new(Chip::Esp8266, Scenario::WrongPartitionScheme);
    cfg.serial = ota_doctor::sim::SerialTarget::None;
    let e = ota_doctor::sim::start(cfg).err().expect("refused");
    assert!(e.hint.unwrap().contains("--chip esp32"));
}

#[test]
fn invalid_image_per_chip() {
    let (o, _, serial, sim) = upload_to(Chip::Esp8266, Scenario::InvalidImage, 30_000, 0x00);
    assert_eq!(
        o,
        Outcome::ResultError("ERROR[10]: Magic byte is not 0xE9".into())
    );
    serial.expect(&["Error[4]: End Failed"], S);
    // ESP8266 only checks in end(): the whole image came.
    assert_eq!(sim.wait_sessions(1, S)[0].received, 30_000);
    let (o, _, serial, sim) = upload_to(Chip::Esp32, Scenario::InvalidImage, 30_000, 0x00);
    assert!(
        matches!(&o, Outcome::TransferError { device_text: Some(t), .. } if t == "Wrong Magic Byte"),
        "{o:?}"
    );
    serial.expect(
        &[
            "Write ERROR: Wrong Magic Byte",
            "Error[4]: End Failed",
            "Update ERROR: Wrong Magic Byte",
        ],
        S,
    );
    assert!(sim.wait_sessions(1, S)[0].received < 4096);
}

#[test]
fn md5_mismatch_per_chip() {
    let (o, lines, serial, _sim) = upload_to(Chip::Esp8266, Scenario::Md5Mismatch, 30_000, 0xE9);
    assert!(
        matches!(&o, Outcome::ResultError(t) if t.starts_with("ERROR[7]: MD5 verification failed: expected: ")),
        "{o:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[ERROR]: ERROR[7]: MD5 verification failed"))
    );
    serial.expect(&["Error[4]: End Failed"], S);
    let (o, lines, serial, _sim) = upload_to(Chip::Esp32, Scenario::Md5Mismatch, 30_000, 0xE9);
    assert_eq!(
        o,
        Outcome::ResultError("MD5 Check Failed".into()),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[ERROR]: Error response from device"))
    );
    serial.expect(&["Update ERROR: MD5 Check Failed"], S);
}

#[test]
fn weak_wifi_esp8266_stalls_until_the_host_gives_up() {
    let mut cfg = ota_doctor::sim::SimConfig::new(Chip::Esp8266, Scenario::WeakWifiOrPacketLoss);
    cfg.stall = Duration::from_secs(3);
    let sim = ota_doctor::sim::start(cfg).unwrap();
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(60_000, 0xE9);
    let mut a = args(sim.udp_port(), img.path());
    a.timeout = 1.0;
    let (o, lines) = run(&a);
    assert!(
        matches!(&o, Outcome::TransferError { detail, .. } if detail == "timed out"),
        "{o:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("[ERROR]: Error Uploading"))
    );
    serial.expect(&["Error[4]: End Failed"], Duration::from_secs(8));
}

#[test]
fn weak_wifi_esp32_retries_then_gives_up() {
    let sim = start(Chip::Esp32, Scenario::WeakWifiOrPacketLoss, None);
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(60_000, 0xE9);
    let mut a = args(sim.udp_port(), img.path());
    a.tool = Some(Tool::Esp32);
    a.timeout = 8.0;
    let (o, lines) = run(&a);
    assert!(matches!(&o, Outcome::TransferError { .. }), "{o:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[ERROR]: Error Uploading: "))
    );
    serial.expect(
        &[
            "Try[1]: ",
            "Try[3]: ",
            "_runUpdate(): Receive Failed",
            "Error[3]: Receive Failed",
        ],
        S,
    );
    assert_eq!(
        sim.wait_sessions(1, S)[0].outcome,
        SessionOutcome::ReceiveFailed
    );
}

#[test]
fn crash_during_update_resets_the_connection_and_reboots() {
    for chip in [Chip::Esp8266, Chip::Esp32] {
        let (o, _, serial, sim) = upload_to(chip, Scenario::DeviceCrashDuringUpdate, 60_000, 0xE9);
        assert!(
            matches!(&o, Outcome::TransferError { detail, .. } if detail.contains("Errno 104")),
            "{chip}: {o:?}"
        );
        let expected: &[&str] = match chip {
            Chip::Esp8266 => &[
                "--------------- CUT HERE FOR EXCEPTION DECODER ---------------",
                "Exception (29):",
                ">>>stack>>>",
                "rst cause:2, boot mode:(3,6)",
            ],
            Chip::Esp32 => &[
                "Guru Meditation Error: Core  1 panic'ed (LoadProhibited)",
                "Backtrace: 0x",
                "Rebooting...",
                "rst:0xc (SW_CPU_RESET)",
            ],
        };
        serial.expect(expected, S);
        assert_eq!(sim.wait_sessions(1, S)[0].outcome, SessionOutcome::Crashed);
    }
}

#[test]
fn missing_reset_esp8266_core3_refuses_with_bootstrapping_error() {
    let (o, _, serial, _sim) = upload_to(
        Chip::Esp8266,
        Scenario::MissingResetAfterSerialFlash,
        20_000,
        0xE9,
    );
    assert_eq!(
        o,
        Outcome::DeviceError(
            "ERR: ERROR[11]: Invalid bootstrapping state, reset ESP8266 before updating".into()
        )
    );
    serial.expect(
        &["rst cause:2, boot mode:(1,6)", "Error[1]: Begin Failed"],
        S,
    );
}

#[test]
fn missing_reset_esp8266_core23_takes_the_update_then_hangs() {
    let mut cfg =
        ota_doctor::sim::SimConfig::new(Chip::Esp8266, Scenario::MissingResetAfterSerialFlash);
    cfg.core = ota_doctor::sim::Esp8266Core::V2_3;
    let sim = ota_doctor::sim::start(cfg).unwrap();
    let serial = Serial::open(sim.serial_path().unwrap());
    let img = image(20_000, 0xE9);
    let mut a = args(sim.udp_port(), img.path());
    assert_eq!(run(&a).0, Outcome::Ok);
    serial.expect(
        &["\nEnd\r\n", "rst cause:4, boot mode:(1,6)", "wdt reset"],
        S,
    );
    assert!(!sim.wait_sessions(1, S)[0].applied);
    a.timeout = 1.0;
    assert_eq!(
        run(&a).0,
        Outcome::NoResponse,
        "a hung board answers nothing"
    );
}

#[test]
fn wrong_port_gets_no_answer() {
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let img = image(1_000, 0xE9);
    let mut a = args(port, img.path());
    a.timeout = 1.0;
    let (o, lines) = run(&a);
    assert_eq!(o, Outcome::NoResponse);
    assert!(lines.iter().any(|l| l.ends_with("[ERROR]: No Answer")));
}

#[test]
fn garbage_datagrams_do_not_disturb_the_board() {
    for chip in [Chip::Esp8266, Chip::Esp32] {
        let sim = start(chip, Scenario::Ok, None);
        let serial = Serial::open(sim.serial_path().unwrap());
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = ("127.0.0.1", sim.udp_port());
        let noise: Vec<u8> = (0..512u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        u.send_to(&noise, to).unwrap();
        u.send_to(&vec![b'7'; 65_000], to).unwrap();
        u.send_to(b"0 abc 12 tooshort\n", to).unwrap();
        u.send_to(b"", to).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        if chip == Chip::Esp32 {
            serial.expect(&["_onRx(): bad md5 length"], S);
        }
        let img = image(10_000, 0xE9);
        let mut a = args(sim.udp_port(), img.path());
        a.tool = Some(if chip == Chip::Esp32 {
            Tool::Esp32
        } else {
            Tool::Esp8266
        });
        assert_eq!(run(&a).0, Outcome::Ok, "{chip}");
    }
}
