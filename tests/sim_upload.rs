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
