//! The data phase of `_runUpdate()`: read, write to "flash", acknowledge with the byte
//! count as ASCII, print progress. Per chip, because the two cores read, time out and
//! fail differently (protocol.md §1.7, §3.4).

use super::device::Device;
use super::proto::{Invitation, U_FLASH};
use super::scenario::{Chip, Scenario};
use super::texts;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub enum Ended {
    Complete,
    /// The host closed or reset the connection before all bytes came.
    Closed,
    /// ESP32 `Update.write()` refused (magic byte, erase, too many bytes).
    WriteFailed(String),
    ReceiveFailed,
    Crashed,
}

pub struct Received {
    pub image: Vec<u8>,
    pub ended: Ended,
    /// None when the board dropped the connection itself (crash, receive timeout).
    pub stream: Option<TcpStream>,
}

/// ArduinoOTA waits this long for data per round (`_ota_timeout` on ESP32).
const ROUND: Duration = Duration::from_millis(1000);
/// ESP8266 would spin forever on an open, silent connection; the sim gives up here.
const ESP8266_IDLE_CAP: Duration = Duration::from_secs(60);
const SECTOR: usize = 4096;

enum Got {
    Data(usize),
    Eof,
    Idle,
}

pub fn receive(dev: &Device, inv: &Invitation, mut stream: TcpStream) -> Received {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let size = inv.size.max(0) as usize;
    let mut image = Vec::with_capacity(size.min(16 << 20));
    let ended = receive_loop(dev, inv, &mut stream, &mut image);
    let stream = match ended {
        Ended::Crashed | Ended::ReceiveFailed => {
            abort_connection(stream);
            None
        }
        _ => Some(stream),
    };
    Received {
        image,
        ended,
        stream,
    }
}

fn receive_loop(dev: &Device, inv: &Invitation, s: &mut TcpStream, image: &mut Vec<u8>) -> Ended {
    let size = inv.size.max(0) as usize;
    let mut buf = vec![0u8; SECTOR];
    let (mut tried, mut last, mut idle_since) = (0, 0usize, Instant::now());
    let mut stalled = false;
    while image.len() < size {
        if dev.stopped() {
            return Ended::Closed;
        }
        if dev.scenario == Scenario::DeviceCrashDuringUpdate && image.len() >= size * 3 / 10 {
            crash(dev, s);
            return Ended::Crashed;
        }
        if dev.scenario == Scenario::WeakWifiOrPacketLoss
            && !stalled
            && image.len() >= size * 4 / 10
        {
            stalled = true;
            if !stall(dev, last) {
                return Ended::ReceiveFailed;
            }
        }
        let want = match dev.chip {
            Chip::Esp32 => 1460,
            Chip::Esp8266 => (SECTOR - image.len() % SECTOR).min(size - image.len()),
        };
        match read_for(dev, s, &mut buf[..want], ROUND) {
            Got::Eof => return Ended::Closed,
            Got::Idle if dev.chip == Chip::Esp32 => {
                if last == 0 || tried >= 3 {
                    receive_failed(dev);
                    return Ended::ReceiveFailed;
                }
                tried += 1;
                let msg = format!("Try[{tried}]: {last}");
                dev.console
                    .log('I', "ArduinoOTA.cpp", 277, "_runUpdate", &msg);
                let _ = s.write_all(last.to_string().as_bytes());
            }
            Got::Idle if idle_since.elapsed() > ESP8266_IDLE_CAP => return Ended::Closed,
            Got::Idle => {}
            Got::Data(n) => {
                idle_since = Instant::now();
                if let Some(text) = write_check(dev, inv, image, &buf[..n]) {
                    let msg = format!("Write ERROR: {text}");
                    dev.console
                        .log('E', "ArduinoOTA.cpp", 321, "_runUpdate", &msg);
                    return Ended::WriteFailed(text);
                }
                image.extend_from_slice(&buf[..n]);
                last = n;
                let _ = s.write_all(n.to_string().as_bytes());
                let pct = image.len() / (size / 100).max(1);
                dev.console.raw(&format!("Progress: {pct}%\r"));
            }
        }
    }
    Ended::Complete
}

/// ESP32 `Update.write()` checks the first sector when it flushes it (magic byte,
/// erase) and refuses bytes beyond the announced size. ESP8266 checks in `end()`.
fn write_check(dev: &Device, inv: &Invitation, image: &[u8], data: &[u8]) -> Option<String> {
    if dev.chip != Chip::Esp32 {
        return None;
    }
    let have = image.len();
    let size = inv.size.max(0) as usize;
    if have + data.len() > size {
        return Some("Not Enough Space".into());
    }
    let first_sector_done = have < SECTOR && have + data.len() >= SECTOR.min(size);
    if !first_sector_done || inv.cmd != U_FLASH {
        return None;
    }
    let first = image.first().or(data.first());
    if first != Some(&0xE9) {
        return Some("Wrong Magic Byte".into());
    }
    if dev.scenario == Scenario::FlashConfigMismatch {
        // The slot lies past the end of the real chip (built for 16 MB, 4 MB fitted).
        return Some("Flash Erase Failed".into());
    }
    None
}

fn read_for(dev: &Device, s: &mut TcpStream, buf: &mut [u8], wait: Duration) -> Got {
    let end = Instant::now() + wait;
    loop {
        match s.read(buf) {
            Ok(0) => return Got::Eof,
            Ok(n) => return Got::Data(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Got::Eof,
        }
        if Instant::now() >= end || dev.stopped() {
            return Got::Idle;
        }
    }
}

/// The radio goes quiet. ESP32 retries three times (its count is lost in the air too)
/// and gives up; ESP8266 has no working receive timeout and just waits (§1.7).
/// Returns false when the board gave up.
fn stall(dev: &Device, last: usize) -> bool {
    if dev.chip == Chip::Esp8266 {
        dev.sleep(dev.stall);
        return true;
    }
    for t in 1..=3 {
        if !dev.sleep(ROUND) {
            return false;
        }
        let msg = format!("Try[{t}]: {last}");
        dev.console
            .log('I', "ArduinoOTA.cpp", 277, "_runUpdate", &msg);
    }
    dev.sleep(ROUND);
    receive_failed(dev);
    false
}

fn receive_failed(dev: &Device) {
    dev.console
        .log('E', "ArduinoOTA.cpp", 285, "_runUpdate", "Receive Failed");
    dev.ota_error(3);
}

/// The sketch dies mid-transfer: dump, the stack resets the connection, the ROM reboots.
fn crash(dev: &Device, s: &mut TcpStream) {
    // Let the host's next chunk arrive unread, as it would on a board that just died.
    let mut probe = [0u8; 1];
    let end = Instant::now() + ROUND;
    while Instant::now() < end && !matches!(s.peek(&mut probe), Ok(n) if n > 0) {}
    match dev.chip {
        Chip::Esp8266 => dev.console.lines(&texts::esp8266_crash()),
        Chip::Esp32 => dev.console.lines(&texts::esp32_crash()),
    }
}

/// SO_LINGER 0, then close: the peer sees RST, as when lwIP aborts a connection.
fn abort_connection(stream: TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        if let Ok(s) = tokio::net::TcpStream::from_std(stream) {
            let _ = s.set_zero_linger();
        }
    });
}
