//! Shared helpers for tests that run the simulated board against real uploaders.
#![allow(dead_code)]

use ota_doctor::sim::{self, Chip, Scenario, SimConfig, SimHandle};
use ota_doctor::upload::{Outcome, UploadArgs, upload};
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A firmware-like image: `first` byte (0xE9 = ESP app image magic), then varied bytes.
pub fn image(len: usize, first: u8) -> tempfile::NamedTempFile {
    let mut data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    data[0] = first;
    let f = tempfile::Builder::new().suffix(".bin").tempfile().unwrap();
    std::fs::write(f.path(), &data).unwrap();
    f
}

pub fn start(chip: Chip, scenario: Scenario, password: Option<&str>) -> SimHandle {
    let mut cfg = SimConfig::new(chip, scenario);
    cfg.password = password.map(String::from);
    sim::start(cfg).expect("sim starts")
}

/// Reads the board's serial port through its pseudo-terminal, as a monitor would.
pub struct Serial {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Serial {
    pub fn open(path: &Path) -> Serial {
        let mut port = serialport::new(path.to_string_lossy(), 115200)
            .timeout(Duration::from_millis(50))
            .open_native()
            .expect("pty opens");
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match port.read(&mut chunk) {
                    Ok(n) if n > 0 => b.lock().unwrap().extend_from_slice(&chunk[..n]),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
                if Arc::strong_count(&b) == 1 {
                    return;
                }
            }
        });
        Serial { buf }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// Waits for `needle` on serial; false after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn expect(&self, needles: &[&str], timeout: Duration) {
        for n in needles {
            assert!(
                self.wait_for(n, timeout),
                "serial lacks `{n}`:\n{}",
                self.text()
            );
        }
    }
}

pub fn args(port: u16, file: &Path) -> UploadArgs {
    UploadArgs {
        ip: "127.0.0.1".into(),
        host_ip: "127.0.0.1".parse().unwrap(),
        port,
        host_port: None,
        auth: String::new(),
        file: file.to_path_buf(),
        spiffs: false,
        progress: false,
        timeout: 3.0,
        debug: true,
        tool: None,
        serial: None,
        baud: 115200,
    }
}

/// Uploads, retrying only when the random host port happened to be taken.
pub fn run(a: &UploadArgs) -> (Outcome, Vec<String>) {
    for _ in 0..5 {
        let mut lines = Vec::new();
        let o = upload(a, &mut |l: &str| lines.push(l.to_string())).expect("valid input");
        if !matches!(o, Outcome::ListenFailed(_)) {
            return (o, lines);
        }
    }
    panic!("no free host port");
}
