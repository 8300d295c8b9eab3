//! The device's serial port: lines go to one writer thread that owns the output (the
//! master side of a pseudo-terminal, a file or stdout), so the UDP loop and the
//! heartbeat never block on a reader that is slow or absent.

use super::scenario::Chip;
use crate::error::UserError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the simulated serial output goes.
#[derive(Clone, Debug, Default)]
pub enum SerialTarget {
    /// A pseudo-terminal; `link` adds a symlink to its slave side so a process in
    /// another network namespace can open it by a fixed name.
    #[default]
    Pty,
    PtyLinked(PathBuf),
    File(PathBuf),
    Stdout,
    None,
}

/// The transcript kept in memory is capped so a long-running sim cannot grow forever.
const TRANSCRIPT_MAX: usize = 1 << 20;

#[derive(Clone)]
pub struct Console {
    tx: Sender<Vec<u8>>,
    chip: Chip,
    boot: Arc<Mutex<Instant>>,
    transcript: Arc<Mutex<String>>,
}

/// What must outlive the writer: the slave side keeps the pty alive when no reader has
/// it open, and the symlink is removed on stop.
pub struct SerialPort {
    pub path: Option<PathBuf>,
    pub link: Option<PathBuf>,
    _slave: Option<serialport::TTYPort>,
}

impl Drop for SerialPort {
    fn drop(&mut self) {
        if let Some(l) = &self.link {
            let _ = std::fs::remove_file(l);
        }
    }
}

type Sink = Box<dyn Write + Send>;

pub fn open(
    chip: Chip,
    target: &SerialTarget,
    stop: Arc<AtomicBool>,
) -> Result<(Console, SerialPort, JoinHandle<()>), UserError> {
    let (sink, port) = open_sink(target)?;
    let (tx, rx) = channel();
    let transcript = Arc::new(Mutex::new(String::new()));
    let writer = std::thread::spawn(move || write_loop(rx, sink, stop));
    let console = Console {
        tx,
        chip,
        boot: Arc::new(Mutex::new(Instant::now())),
        transcript,
    };
    Ok((console, port, writer))
}

fn open_sink(target: &SerialTarget) -> Result<(Option<Sink>, SerialPort), UserError> {
    let none = |path| SerialPort {
        path,
        link: None,
        _slave: None,
    };
    match target {
        SerialTarget::Pty => open_pty(None),
        SerialTarget::PtyLinked(l) => open_pty(Some(l)),
        SerialTarget::Stdout => Ok((Some(Box::new(std::io::stdout())), none(None))),
        SerialTarget::None => Ok((None, none(None))),
        SerialTarget::File(p) => {
            let f = std::fs::File::create(p).map_err(|e| {
                UserError::new(format!(
                    "cannot create serial output `{}`: {e}",
                    p.display()
                ))
                .hint("give a writable file path, or `-` for stdout")
            })?;
            Ok((Some(Box::new(f)), none(Some(p.clone()))))
        }
    }
}

fn open_pty(link: Option<&Path>) -> Result<(Option<Sink>, SerialPort), UserError> {
    let (mut master, slave) = serialport::TTYPort::pair().map_err(|e| {
        UserError::new(format!("cannot create a pseudo-terminal: {e}"))
            .hint("check that /dev/ptmx exists and /dev/pts is mounted, or use --serial-out FILE")
    })?;
    // A reader that stops reading must cost us lines, not a stuck device.
    let _ = serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(50));
    let path = serialport::SerialPort::name(&slave).map(PathBuf::from);
    if let (Some(l), Some(p)) = (link, &path) {
        let _ = std::fs::remove_file(l);
        std::os::unix::fs::symlink(p, l).map_err(|e| {
            UserError::new(format!("cannot create symlink `{}`: {e}", l.display()))
                .hint("give --serial-link a path in a writable directory")
        })?;
    }
    let port = SerialPort {
        path,
        link: link.map(Path::to_path_buf),
        _slave: Some(slave),
    };
    Ok((Some(Box::new(master)), port))
}

fn write_loop(rx: Receiver<Vec<u8>>, mut sink: Option<Sink>, stop: Arc<AtomicBool>) {
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(bytes) => {
                if let Some(s) = sink.as_mut() {
                    // A full pty buffer times out: the bytes are lost, as on a real UART.
                    let _ = s.write_all(&bytes).and_then(|_| s.flush());
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => return,
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

impl Console {
    /// `Serial.println`: the Arduino core ends lines with CR LF.
    pub fn line(&self, s: &str) {
        self.raw(&format!("{s}\r\n"));
    }

    pub fn lines(&self, v: &[String]) {
        for l in v {
            self.line(l);
        }
    }

    pub fn raw(&self, s: &str) {
        if let Ok(mut t) = self.transcript.lock()
            && t.len() + s.len() <= TRANSCRIPT_MAX
        {
            t.push_str(s);
        }
        let _ = self.tx.send(s.as_bytes().to_vec());
    }

    /// An arduino-esp32 `log_x()` line (3.x format); ESP8266 prints nothing, its
    /// debug output is off in a release build.
    pub fn log(&self, level: char, file: &str, src_line: u32, func: &str, msg: &str) {
        if self.chip != Chip::Esp32 {
            return;
        }
        let ms = self.uptime_ms();
        self.line(&format!(
            "[{ms:6}][{level}][{file}:{src_line}] {func}(): {msg}"
        ));
    }

    pub fn uptime_ms(&self) -> u128 {
        self.boot
            .lock()
            .map(|b| b.elapsed().as_millis())
            .unwrap_or(0)
    }

    pub fn micros(&self) -> u128 {
        self.boot
            .lock()
            .map(|b| b.elapsed().as_micros())
            .unwrap_or(0)
    }

    /// `millis()` starts again at 0 after a reset.
    pub fn reset_clock(&self) {
        if let Ok(mut b) = self.boot.lock() {
            *b = Instant::now();
        }
    }

    pub fn transcript(&self) -> String {
        self.transcript
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}
