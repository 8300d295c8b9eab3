//! The device's serial port, read on a thread of its own.
//!
//! # Opening without resetting the board
//!
//! NodeMCU, Wemos D1 and ESP32 DevKit boards wire DTR and RTS through two transistors to
//! EN (reset) and GPIO0 (boot mode). EN is pulled low only while RTS is asserted and DTR
//! is not; GPIO0 only while DTR is asserted and RTS is not. When both lines are equal,
//! asserted or not, the board runs untouched. esptool exploits exactly the unequal
//! states to reset into the bootloader.
//!
//! On Linux, `open()` of a tty whose speed is not B0 raises DTR and RTS together (one
//! modem-control request in the cp210x, ch341, ftdi and pl2303 drivers), and with HUPCL
//! set the last `close()` drops both together: both transitions keep the lines equal,
//! so neither resets the board. The reset comes from programs that then set the lines
//! one at a time: pyserial applies `dtr` and then `rts` after opening, so idf_monitor
//! (which resets on purpose unless `--no-reset`) and monitors configured with
//! `monitor_dtr = 0`/`monitor_rts = 0` pass through "DTR low, RTS high" = EN low for a
//! moment. `pio device monitor` and the Arduino IDE keep both asserted and do not reset.
//!
//! So we open with [`serialport::SerialPortBuilder::preserve_dtr_on_open`] (the crate
//! then writes no DTR at all), never touch RTS, and leave HUPCL as it is. Asking for
//! `dtr_on_open(false)` would be the mistake: DTR low with RTS high holds EN low, and the
//! board stays in reset for as long as we hold the port. A reset, when wanted as a fix,
//! must be an explicit action, not a side effect of watching.
//!
//! Boards that wire RTS straight to reset (some ESP-01 adapters) are reset by any
//! Linux open; nothing short of a kernel change avoids that.

use super::baud::{BaudHint, BaudWatch};
use super::clock::HostClock;
use super::port_errors::open_error;
use crate::decode::lines::{LineSplitter, RawLine};
use crate::error::UserError;
use serialport::TTYPort;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct SerialConfig {
    pub path: PathBuf,
    pub baud: u32,
    /// Messages buffered between the thread and the consumer.
    pub capacity: usize,
    /// How long to keep trying to reopen a port that went away (USB re-enumeration when
    /// a native-USB ESP reboots takes a second or two).
    pub reopen_for: Duration,
    /// How long a read waits; bounds how late the thread notices `stop`.
    pub read_timeout: Duration,
}

impl SerialConfig {
    pub fn new(path: impl Into<PathBuf>, baud: u32) -> SerialConfig {
        SerialConfig {
            path: path.into(),
            baud,
            capacity: 1024,
            reopen_for: Duration::from_secs(15),
            read_timeout: Duration::from_millis(20),
        }
    }
}

/// What the serial thread delivers, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum SerialMsg {
    /// A line, stamped with the time its first byte arrived.
    Line(RawLine),
    /// Something the user should be told about the port itself.
    Status { t_us: i64, status: SerialStatus },
}

#[derive(Debug, Clone, PartialEq)]
pub enum SerialStatus {
    /// The port went away; reopening is being tried. Any partial line is kept.
    Disconnected {
        error: String,
    },
    Reconnected {
        after_ms: u64,
    },
    /// Reopening failed for the whole `reopen_for`; the thread has ended.
    Lost {
        after_ms: u64,
    },
    Baud(BaudHint),
    /// The board was reset through RTS at the user's request; `ok` is whether the
    /// port accepted the line changes.
    Reset {
        ok: bool,
    },
}

impl std::fmt::Display for SerialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SerialStatus::Disconnected { error } => {
                write!(
                    f,
                    "serial port went away ({error}); trying to reopen it. What was read is kept, a line cut off included; check the USB cable and that the board has power"
                )
            }
            SerialStatus::Reconnected { after_ms } => {
                write!(f, "serial port back after {after_ms} ms")
            }
            SerialStatus::Lost { after_ms } => write!(
                f,
                "serial port did not come back within {after_ms} ms; serial capture stopped (the other sources go on). Plug the board back in and start ota-doctor again; `ls /dev/serial/by-id/` shows whether it is there"
            ),
            SerialStatus::Baud(BaudHint::Garbled { junk_share }) => write!(
                f,
                "serial output is garbled ({:.0}% unreadable bytes): the baud rate is probably wrong; try --baud 115200 or the rate in Serial.begin()",
                junk_share * 100.0
            ),
            SerialStatus::Reset { ok: true } => {
                write!(
                    f,
                    "board reset through RTS (EN low for 100 ms) at your request"
                )
            }
            SerialStatus::Reset { ok: false } => write!(
                f,
                "reset requested, but the port refused the RTS/DTR change (a board without an auto-reset circuit, or not a USB serial adapter)"
            ),
            SerialStatus::Baud(BaudHint::Readable) => write!(f, "serial output is readable again"),
            SerialStatus::Baud(BaudHint::BootBurst { bytes }) => write!(
                f,
                "{bytes} garbled bytes at boot: the ESP8266 ROM prints at 74880 baud; the text around it reads fine, so the baud rate is right"
            ),
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    bytes: AtomicU64,
    lines: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SerialCounts {
    pub bytes: u64,
    pub lines: u64,
    /// Messages lost because the consumer's queue stayed full.
    pub dropped: u64,
    pub reconnects: u64,
}

/// A running serial capture. Dropping it stops the thread too.
#[derive(Debug)]
pub struct SerialCapture {
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    reset: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SerialCapture {
    /// Setting this flag resets the board once (see `Reader::pulse_reset`).
    pub fn reset_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.reset)
    }

    /// Opens the port (errors say what to do) and starts the reader thread.
    pub fn start(
        cfg: &SerialConfig,
        clock: HostClock,
    ) -> Result<(SerialCapture, mpsc::Receiver<SerialMsg>), UserError> {
        let port = open_port(&cfg.path, cfg.baud, cfg.read_timeout)
            .map_err(|e| open_error(&cfg.path, &e))?;
        let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let reset = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            cfg: cfg.clone(),
            port,
            tx,
            clock,
            splitter: LineSplitter::new(),
            baud: BaudWatch::new(),
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
            reset: Arc::clone(&reset),
        };
        let thread = std::thread::Builder::new()
            .name("serial".into())
            .spawn(move || reader.run())
            .map_err(|e| UserError::new(format!("cannot start the serial thread: {e}")))?;
        Ok((
            SerialCapture {
                stats,
                stop,
                reset,
                thread: Some(thread),
            },
            rx,
        ))
    }

    pub fn counts(&self) -> SerialCounts {
        let s = &self.stats;
        SerialCounts {
            bytes: s.bytes.load(Ordering::Relaxed),
            lines: s.lines.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Stops the thread; the partial line it held is delivered first.
    pub fn stop(mut self) -> SerialCounts {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.counts()
    }
}

impl Drop for SerialCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Opens without touching DTR/RTS (see the module docs for why).
fn open_port(path: &Path, baud: u32, timeout: Duration) -> serialport::Result<TTYPort> {
    serialport::new(path.to_string_lossy(), baud)
        .timeout(timeout)
        .preserve_dtr_on_open()
        .open_native()
}

struct Reader {
    cfg: SerialConfig,
    port: TTYPort,
    tx: mpsc::Sender<SerialMsg>,
    clock: HostClock,
    splitter: LineSplitter,
    baud: BaudWatch,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    reset: Arc<AtomicBool>,
}

impl Reader {
    fn run(mut self) {
        let mut buf = [0u8; 4096];
        while !self.stopping() {
            if self.reset.swap(false, Ordering::SeqCst) {
                self.pulse_reset();
            }
            let error = match self.port.read(&mut buf) {
                Ok(n) if n > 0 => {
                    self.bytes(&buf[..n]);
                    continue;
                }
                // A tty in raw mode reads 0 bytes only after a hang-up.
                Ok(_) => "hang-up".to_string(),
                Err(e) if is_timeout(&e) => continue,
                Err(e) => e.to_string(),
            };
            if !self.reconnect(error) {
                break;
            }
        }
        let mut rest = Vec::new();
        self.splitter.flush(self.clock.now_us(), &mut rest);
        self.lines(rest);
    }

    /// The auto-reset circuit pulls EN low while RTS is asserted and DTR is not (DTR
    /// low keeps GPIO0 high, so the board boots its app, not the ROM loader). Only on
    /// the user's explicit request: watching must never reset the board by itself.
    fn pulse_reset(&mut self) {
        use serialport::SerialPort;
        let ok = self.port.write_data_terminal_ready(false).is_ok()
            && self.port.write_request_to_send(true).is_ok();
        std::thread::sleep(Duration::from_millis(100));
        let ok = self.port.write_request_to_send(false).is_ok() && ok;
        let t_us = self.clock.now_us();
        self.send(SerialMsg::Status {
            t_us,
            status: SerialStatus::Reset { ok },
        });
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.tx.is_closed()
    }

    fn bytes(&mut self, data: &[u8]) {
        let t_us = self.clock.now_us();
        self.stats
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let mut hints = Vec::new();
        self.baud.feed(data, &mut hints);
        for h in hints {
            self.send(SerialMsg::Status {
                t_us,
                status: SerialStatus::Baud(h),
            });
        }
        let mut lines = Vec::new();
        self.splitter.push(data, t_us, &mut lines);
        self.lines(lines);
    }

    fn lines(&mut self, lines: Vec<RawLine>) {
        for l in lines {
            if self.send(SerialMsg::Line(l)) {
                self.stats.lines.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits a little for room (serial is slow, and a lost line is lost evidence), then
    /// counts the message as dropped rather than stall reading the port.
    fn send(&self, mut msg: SerialMsg) -> bool {
        let deadline = Instant::now() + Duration::from_millis(200);
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(m)) => msg = m,
            }
            if Instant::now() >= deadline || self.stop.load(Ordering::Relaxed) {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reopens the same path until it works or `reopen_for` runs out. The splitter is
    /// untouched, so a line cut by the disconnect continues with the next bytes.
    fn reconnect(&mut self, error: String) -> bool {
        let started = Instant::now();
        let t_us = self.clock.now_us();
        self.send(SerialMsg::Status {
            t_us,
            status: SerialStatus::Disconnected { error },
        });
        while started.elapsed() < self.cfg.reopen_for {
            if self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
            if let Ok(p) = open_port(&self.cfg.path, self.cfg.baud, self.cfg.read_timeout) {
                self.port = p;
                self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                let after_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let status = SerialStatus::Reconnected { after_ms };
                self.send(SerialMsg::Status {
                    t_us: self.clock.now_us(),
                    status,
                });
                return true;
            }
        }
        let after_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.send(SerialMsg::Status {
            t_us: self.clock.now_us(),
            status: SerialStatus::Lost { after_ms },
        });
        false
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(e.kind(), K::TimedOut | K::WouldBlock | K::Interrupted)
}
