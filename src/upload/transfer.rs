//! The TCP half: wait for the device to connect back, send the image in espota's chunk
//! size, read its byte counts, then its verdict.

use super::log::{Log, py_error};
use super::{Image, Outcome, Tool, UploadArgs};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub fn run(
    log: &mut Log,
    args: &UploadArgs,
    image: &Image,
    l: &TcpListener,
    wait: Duration,
) -> Outcome {
    log.info("Waiting for device...");
    let Some(conn) = accept(l, wait) else {
        log.error("No response from device");
        return Outcome::ConnectBackTimeout;
    };
    let _ = conn.set_read_timeout(Some(wait));
    let _ = conn.set_write_timeout(Some(wait));
    let mut t = Transfer {
        conn,
        heard: Vec::new(),
        bar: Bar::new(args.progress),
        sent: 0,
    };
    if let Err(o) = t.send_all(log, image) {
        return o;
    }
    match log.tool {
        Tool::Esp8266 => t.result_esp8266(log),
        Tool::Esp32 => t.result_esp32(log),
    }
}

fn accept(l: &TcpListener, wait: Duration) -> Option<TcpStream> {
    l.set_nonblocking(true).ok()?;
    let end = Instant::now() + wait;
    while Instant::now() < end {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return None,
        }
    }
    None
}

struct Transfer {
    conn: TcpStream,
    /// Everything the device sent on the data connection.
    heard: Vec<u8>,
    bar: Bar,
    sent: u64,
}

impl Transfer {
    fn send_all(&mut self, log: &mut Log, image: &Image) -> Result<(), Outcome> {
        let (chunk, ack) = match log.tool {
            Tool::Esp8266 => (1460, 32),
            Tool::Esp32 => (1024, 10),
        };
        let total = image.data.len() as u64;
        self.bar.start(log);
        for piece in image.data.chunks(chunk) {
            self.sent += piece.len() as u64;
            self.bar.step(log, self.sent, total);
            if let Err(e) = self.send_chunk(piece, ack) {
                self.bar.finish(log);
                return Err(self.upload_error(log, &e));
            }
        }
        self.bar.finish(log);
        Ok(())
    }

    /// `sendall` then one `recv`; an empty read (peer closed) is not an error to
    /// espota, the next `sendall` fails instead.
    fn send_chunk(&mut self, piece: &[u8], ack: usize) -> std::io::Result<()> {
        self.conn.write_all(piece)?;
        let mut buf = vec![0u8; ack];
        let n = self.conn.read(&mut buf)?;
        self.heard.extend_from_slice(&buf[..n]);
        Ok(())
    }

    fn upload_error(&self, log: &mut Log, e: &std::io::Error) -> Outcome {
        match log.tool {
            Tool::Esp8266 => log.error("Error Uploading"),
            Tool::Esp32 => log.error(&format!("Error Uploading: {}", py_error(e))),
        }
        Outcome::TransferError {
            detail: py_error(e),
            sent: self.sent,
            device_text: device_text(&self.heard),
        }
    }

    /// esp8266's espota: read until a reply holds `E` (error text) or `O` (`OK`). The
    /// verdict may already have come with the last byte count, so everything the
    /// device sent counts, not just what arrives from now on.
    fn result_esp8266(&mut self, log: &mut Log) -> Outcome {
        log.info("Waiting for result...");
        loop {
            let text = device_text(&self.heard).unwrap_or_default();
            if text.contains('E') {
                self.drain();
                let text = device_text(&self.heard).unwrap_or(text);
                log.error(&text);
                return Outcome::ResultError(text);
            }
            if String::from_utf8_lossy(&self.heard).contains('O') {
                log.info("Result: OK");
                return Outcome::Ok;
            }
            if !self.read_some(64) {
                log.error("No Result!");
                return Outcome::NoResult;
            }
        }
    }

    /// esp32's espota: `OK` in the last acknowledgement is success; otherwise up to five
    /// result reads.
    fn result_esp32(&mut self, log: &mut Log) -> Outcome {
        if String::from_utf8_lossy(&self.heard).contains("OK") {
            log.info("Success");
            return Outcome::Ok;
        }
        log.info("Waiting for result...");
        for _ in 0..5 {
            let before = self.heard.len();
            if !self.read_some(32) && self.heard.len() == before && !self.closed() {
                log.error("No Result!");
                return Outcome::NoResult;
            }
            let data = String::from_utf8_lossy(&self.heard[before..]).into_owned();
            log.info(&format!("Result: {}", data.trim_end()));
            if data.contains("OK") {
                log.info("Success");
                return Outcome::Ok;
            }
        }
        log.error("Error response from device");
        Outcome::ResultError(device_text(&self.heard).unwrap_or_default())
    }

    /// One read; false on timeout, error or end of stream.
    fn read_some(&mut self, max: usize) -> bool {
        let mut buf = vec![0u8; max];
        match self.conn.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.heard.extend_from_slice(&buf[..n]);
                true
            }
        }
    }

    fn closed(&self) -> bool {
        let mut b = [0u8; 1];
        let _ = self.conn.set_nonblocking(true);
        let r = matches!(self.conn.peek(&mut b), Ok(0) | Err(_));
        let _ = self.conn.set_nonblocking(false);
        r
    }

    /// The rest of an error text, so it is reported whole (espota prints one read).
    fn drain(&mut self) {
        let _ = self.conn.set_read_timeout(Some(Duration::from_millis(300)));
        while self.heard.len() < 4096 && self.read_some(256) {}
    }
}

/// What the device said besides its byte counts (they come first, without separators).
fn device_text(heard: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(heard);
    let t = s.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
    (!t.is_empty() && t != "OK").then(|| t.to_string())
}

/// espota's output during the data phase: dots, or with `-r` a bar per percent step.
struct Bar {
    on: bool,
    dots: usize,
    pct: Option<u64>,
}

impl Bar {
    fn new(on: bool) -> Bar {
        Bar {
            on,
            dots: 0,
            pct: None,
        }
    }

    fn start(&mut self, log: &mut Log) {
        if self.on {
            self.show(log, 0);
        }
    }

    fn step(&mut self, log: &mut Log, sent: u64, total: u64) {
        if !self.on {
            self.dots += 1;
            return;
        }
        let pct = (sent * 100).checked_div(total).unwrap_or(100);
        if self.pct != Some(pct) {
            self.show(log, pct);
        }
    }

    fn show(&mut self, log: &mut Log, pct: u64) {
        self.pct = Some(pct);
        let block = (60 * pct as usize).div_ceil(100).min(60);
        let done = if pct >= 100 { "Done..." } else { "" };
        log.raw(&format!(
            "Uploading: [{}{}] {pct}% {done}",
            "=".repeat(block),
            " ".repeat(60 - block)
        ));
    }

    fn finish(&mut self, log: &mut Log) {
        if !self.on {
            log.raw(&format!("Uploading{}", ".".repeat(self.dots)));
        }
    }
}
