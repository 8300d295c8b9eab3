//! A simulated ESP8266/ESP32 running ArduinoOTA: the peer for tests and `demo`.
//!
//! It speaks the OTA protocol on real sockets and writes its serial log to a real
//! pseudo-terminal, wording everything as the cores do (docs/protocol.md), so that what
//! ota-doctor learns from it holds for boards.

mod begin;
mod cli;
mod console;
mod device;
mod proto;
mod receive;
mod scenario;
mod texts;
mod update;

pub use cli::{SimArgs, run_cli};
pub use console::SerialTarget;
pub use scenario::{Chip, Esp8266Core, Scenario};

use crate::error::UserError;
use console::Console;
use device::Device;
use scenario::Layout;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub chip: Chip,
    pub scenario: Scenario,
    pub bind: IpAddr,
    /// 0 picks a free port (tests); the CLI defaults to the chip's OTA port.
    pub port: u16,
    pub password: Option<String>,
    pub serial: SerialTarget,
    pub core: Esp8266Core,
    /// How long the radio stays quiet in `weak_wifi_or_packet_loss` (ESP8266 only; ESP32
    /// gives up after its own ~4 s).
    pub stall: Duration,
    /// The address the sketch prints as `IP address:`; defaults to `bind`.
    pub device_ip: Option<IpAddr>,
}

impl SimConfig {
    pub fn new(chip: Chip, scenario: Scenario) -> SimConfig {
        SimConfig {
            chip,
            scenario,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            password: None,
            serial: SerialTarget::Pty,
            core: Esp8266Core::default(),
            stall: Duration::from_secs(15),
            device_ip: None,
        }
    }
}

/// How one OTA session ended, from the board's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionOutcome {
    Ok,
    AuthFailed,
    BeginFailed(String),
    ConnectFailed,
    ReceiveFailed,
    EndFailed(String),
    Crashed,
}

#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub outcome: SessionOutcome,
    /// 0 = flash, 100 = filesystem.
    pub command: i32,
    pub expected: u64,
    pub expected_md5: String,
    pub received: u64,
    /// MD5 of the bytes as received (before any simulated flash corruption).
    pub received_md5: String,
    /// The board rebooted into the new image.
    pub applied: bool,
}

impl SessionRecord {
    fn new(inv: &proto::Invitation, outcome: SessionOutcome) -> SessionRecord {
        SessionRecord {
            outcome,
            command: inv.cmd,
            expected: inv.size.max(0) as u64,
            expected_md5: inv.md5.clone(),
            received: 0,
            received_md5: String::new(),
            applied: false,
        }
    }
}

type Sessions = Arc<(Mutex<Vec<SessionRecord>>, Condvar)>;

/// State the device, heartbeat and handle share.
#[derive(Clone)]
struct Shared {
    stop: Arc<AtomicBool>,
    /// loop() runs (false while `_runUpdate` blocks it or during a reboot).
    sketch_running: Arc<AtomicBool>,
    /// The board is stuck in the ROM and answers nothing.
    hung: Arc<AtomicBool>,
    sessions: Sessions,
}

pub struct SimHandle {
    addr: SocketAddr,
    shared: Shared,
    console: Console,
    serial: console::SerialPort,
    threads: Vec<JoinHandle<()>>,
}

pub fn start(cfg: SimConfig) -> Result<SimHandle, UserError> {
    cfg.scenario.check_chip(cfg.chip)?;
    let sock = bind_udp(cfg.bind, cfg.port)?;
    let addr = sock
        .local_addr()
        .map_err(|e| UserError::new(format!("cannot read the UDP socket's address: {e}")))?;
    let shared = Shared {
        stop: Arc::new(AtomicBool::new(false)),
        sketch_running: Arc::new(AtomicBool::new(false)),
        hung: Arc::new(AtomicBool::new(false)),
        sessions: Arc::new((Mutex::new(Vec::new()), Condvar::new())),
    };
    let (console, serial, writer) = console::open(cfg.chip, &cfg.serial, shared.stop.clone())?;
    let dev = device_for(&cfg, addr, console.clone(), shared.clone());
    power_on(&dev);
    let hb = heartbeat(console.clone(), shared.clone());
    let main = std::thread::spawn(move || dev.run(sock));
    Ok(SimHandle {
        addr,
        shared,
        console,
        serial,
        threads: vec![main, hb, writer],
    })
}

fn bind_udp(ip: IpAddr, port: u16) -> Result<UdpSocket, UserError> {
    UdpSocket::bind((ip, port)).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another program (or another sim) uses this port; pick another with --port"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "the address is not on this host; use 127.0.0.1 or an address of this network namespace"
            }
            _ => "check --bind and --port",
        };
        UserError::new(format!("cannot bind UDP {ip}:{port}: {e}")).hint(hint)
    })
}

fn device_for(cfg: &SimConfig, addr: SocketAddr, console: Console, shared: Shared) -> Device {
    let ip = cfg.device_ip.unwrap_or(addr.ip());
    let ip = if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    };
    Device {
        chip: cfg.chip,
        scenario: cfg.scenario,
        core: cfg.core,
        password: cfg.password.clone(),
        layout: Layout::for_board(cfg.chip, cfg.scenario),
        stall: cfg.stall,
        ip: ip.to_string(),
        port: addr.port(),
        console,
        shared,
    }
}

/// The first boot. A board that was just serial-flashed without a reset shows the
/// UART-download strap in its banner (`boot mode:(1,6)`), then esptool starts the sketch.
fn power_on(dev: &Device) {
    let (cause, mode) = match (dev.chip, dev.scenario) {
        (Chip::Esp8266, Scenario::MissingResetAfterSerialFlash) => (2, 1),
        (Chip::Esp8266, _) => (1, 3),
        (Chip::Esp32, _) => (1, 3),
    };
    dev.console
        .lines(&texts::boot_banner(dev.chip, cause, mode, false));
    if dev.chip == Chip::Esp32 && dev.scenario == Scenario::FlashConfigMismatch {
        // The image header says 16 MB; the IDF trusts it over the probed size.
        dev.console.line("W (48) spi_flash: Detected size(4096k) smaller than the size in the binary image header(16384k). Using the size in the binary image header.");
    }
    sketch_setup(dev);
}

/// BasicOTA's setup(): Wi-Fi up, `ArduinoOTA.begin()`, `Ready`, the IP.
fn sketch_setup(dev: &Device) {
    dev.console.line("Booting");
    let server = format!("OTA server at: esp32-24a160c8e1f0.local:{}", dev.port);
    dev.console
        .log('I', "ArduinoOTA.cpp", 141, "begin", &server);
    dev.console.line("Ready");
    dev.console.line(&format!("IP address: {}", dev.ip));
    dev.shared.sketch_running.store(true, Ordering::Relaxed);
}

/// The sketch's own output from loop(), once a second, so a silent board and a busy one
/// look different on serial.
fn heartbeat(console: Console, shared: Shared) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut next = Duration::from_secs(1);
        while !shared.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            if start.elapsed() < next {
                continue;
            }
            next += Duration::from_secs(1);
            let alive = shared.sketch_running.load(Ordering::Relaxed)
                && !shared.hung.load(Ordering::Relaxed);
            if alive {
                console.line(&format!("heartbeat uptime={}s", console.uptime_ms() / 1000));
            }
        }
    })
}

impl SimHandle {
    pub fn udp_port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The pseudo-terminal's slave side (open it like a USB serial adapter), or the
    /// file given as serial output.
    pub fn serial_path(&self) -> Option<&Path> {
        self.serial.path.as_deref()
    }

    /// Everything the board printed so far (also written to the serial port).
    pub fn serial_transcript(&self) -> String {
        self.console.transcript()
    }

    pub fn sessions(&self) -> Vec<SessionRecord> {
        self.shared
            .sessions
            .0
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Waits until `n` OTA sessions have ended (any outcome) or `timeout` passed, and
    /// returns what there is.
    pub fn wait_sessions(&self, n: usize, timeout: Duration) -> Vec<SessionRecord> {
        let (lock, cv) = &*self.shared.sessions;
        let Ok(guard) = lock.lock() else {
            return Vec::new();
        };
        match cv.wait_timeout_while(guard, timeout, |v| v.len() < n) {
            Ok((v, _)) => v.clone(),
            Err(_) => Vec::new(),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.sessions.1.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
