//! A third-party uploader, the npm package `esp-ota` 1.1.3, against the simulated board.
//! It needs node and the package (tests/esp-ota/package.json; CI runs
//! `npm --prefix tests/esp-ota install`, and this test runs `npm ci` itself when the
//! package is missing). Without node the test fails and says so: it never passes
//! silently.

mod common;

use common::{image, start};
use ota_doctor::sim::{Chip, Scenario, SessionOutcome};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/esp-ota")
}

fn ensure_esp_ota() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let node = Command::new("node").arg("--version").output();
        assert!(
            node.is_ok_and(|o| o.status.success()),
            "node is not installed: this test drives the npm package esp-ota and needs node ≥ 8 and npm"
        );
        if driver_dir().join("node_modules/esp-ota/index.js").exists() {
            return;
        }
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(driver_dir())
            .status();
        assert!(
            st.is_ok_and(|s| s.success()),
            "`npm ci --prefix tests/esp-ota` failed: esp-ota 1.1.3 could not be installed"
        );
    });
}

/// Runs the driver; returns its exit success and its output.
fn esp_ota(port: u16, file: &Path, password: Option<&str>) -> (bool, String) {
    ensure_esp_ota();
    let mut cmd = Command::new("node");
    cmd.arg(driver_dir().join("upload.js"))
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(file);
    cmd.arg(password.unwrap_or("")).arg("5");
    let out = cmd.output().expect("node runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn esp_ota_uploads_to_the_simulated_board() {
    for chip in [Chip::Esp8266, Chip::Esp32] {
        let sim = start(chip, Scenario::Ok, None);
        let img = image(50_000, 0xE9);
        let (ok, out) = esp_ota(sim.udp_port(), img.path(), None);
        assert!(ok, "{chip}: {out}");
        assert!(out.contains("state: done"), "{out}");
        let s = &sim.wait_sessions(1, Duration::from_secs(5))[0];
        assert_eq!(s.outcome, SessionOutcome::Ok);
        assert_eq!(s.received, 50_000, "the board got the whole image");
        assert_eq!(s.received_md5, s.expected_md5);
    }
}

#[test]
fn esp_ota_with_right_and_wrong_password() {
    let sim = start(Chip::Esp8266, Scenario::AuthFailed, Some("s3cret"));
    let img = image(30_000, 0xE9);
    let (ok, out) = esp_ota(sim.udp_port(), img.path(), Some("s3cret"));
    assert!(ok, "{out}");
    assert!(
        out.contains("state: need_auth") && out.contains("state: done"),
        "{out}"
    );
    let s = &sim.wait_sessions(1, Duration::from_secs(5))[0];
    assert_eq!((s.received, &s.outcome), (30_000, &SessionOutcome::Ok));
    // esp-ota does not recognise `Authentication Failed`; it re-invites until it
    // gives up. The board rejects every attempt.
    let (ok, out) = esp_ota(sim.udp_port(), img.path(), Some("wrong"));
    assert!(!ok, "{out}");
    assert!(out.contains("state: invite_timeout"), "{out}");
    let all = sim.sessions();
    assert!(
        all[1..]
            .iter()
            .all(|s| s.outcome == SessionOutcome::AuthFailed),
        "{all:?}"
    );
    assert!(
        sim.serial_transcript()
            .contains("Error[0]: Auth Failed\r\n")
    );
}
