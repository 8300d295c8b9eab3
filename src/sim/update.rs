//! ArduinoOTA's `_runUpdate()`: begin, connect back, receive, `Update.end()`, reboot.

use super::begin::{self, BeginError};
use super::device::Device;
use super::proto::{Invitation, U_FLASH, md5_hex};
use super::receive::{self, Ended};
use super::scenario::{Chip, Esp8266Core, Scenario};
use super::texts;
use super::{SessionOutcome, SessionRecord};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn run(dev: &Device, sock: &UdpSocket, inv: Invitation, src: SocketAddr) {
    if let Err(e) = begin::begin(dev, &inv) {
        begin_failed(dev, sock, &inv, src, e);
        return;
    }
    if !dev.ok_before_begin() {
        let _ = sock.send_to(b"OK", src);
        dev.sleep(Duration::from_millis(100));
    }
    let target = if inv.cmd == U_FLASH {
        "sketch"
    } else {
        "filesystem"
    };
    dev.console.line(&format!("Start updating {target}"));
    dev.console.raw("Progress: 0%\r");
    let Some(stream) = connect_back(dev, &inv, src) else {
        return;
    };
    let rx = receive::receive(dev, &inv, stream);
    finish(dev, &inv, rx);
}

fn begin_failed(dev: &Device, sock: &UdpSocket, inv: &Invitation, src: SocketAddr, e: BeginError) {
    dev.ota_error(1);
    match dev.chip {
        Chip::Esp32 => {
            let msg = format!("Begin ERROR: {}", e.text);
            dev.console
                .log('E', "ArduinoOTA.cpp", 268, "_runUpdate", &msg);
        }
        Chip::Esp8266 if !dev.ok_before_begin() => {
            let text = texts::esp8266_print_error(e.code, &e.text, dev.core);
            let _ = sock.send_to(format!("ERR: {text}").as_bytes(), src);
            dev.sleep(Duration::from_millis(100));
        }
        Chip::Esp8266 => {}
    }
    dev.record(SessionRecord::new(inv, SessionOutcome::BeginFailed(e.text)));
}

/// Connects from the board's own address, as a real board does: on loopback the
/// kernel would otherwise pick 127.0.0.1 and the device's traffic would not carry
/// the device's IP.
fn dial_from(dev: &Device, to: &SocketAddr, wait: Duration) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(*to), Type::STREAM, None)?;
    if let Ok(ip) = dev.ip.parse::<std::net::IpAddr>()
        && ip.is_ipv4() == to.is_ipv4()
        && !ip.is_unspecified()
    {
        sock.bind(&SocketAddr::new(ip, 0).into())?;
    }
    sock.connect_timeout(&(*to).into(), wait)?;
    Ok(sock.into())
}

/// The board is the TCP client: it dials the address the invitation came from.
fn connect_back(dev: &Device, inv: &Invitation, src: SocketAddr) -> Option<TcpStream> {
    let wait = match dev.chip {
        Chip::Esp8266 => Duration::from_millis(5000),
        Chip::Esp32 => Duration::from_millis(3000),
    };
    let addr = SocketAddr::new(src.ip(), inv.host_port);
    match dial_from(dev, &addr, wait) {
        Ok(s) => {
            let _ = s.set_nodelay(true);
            Some(s)
        }
        Err(_) => {
            // Neither core returns here; the fall-through to Update.end() fails too.
            dev.ota_error(2);
            let text = end_error_text(dev, inv, 0);
            dev.ota_error(4);
            dev.console.log(
                'E',
                "ArduinoOTA.cpp",
                356,
                "_runUpdate",
                &format!("Update ERROR: {text}"),
            );
            dev.record(SessionRecord::new(inv, SessionOutcome::ConnectFailed));
            None
        }
    }
}

fn finish(dev: &Device, inv: &Invitation, rx: receive::Received) {
    let mut rec = SessionRecord::new(inv, SessionOutcome::Ok);
    rec.received = rx.image.len() as u64;
    rec.received_md5 = md5_hex(&rx.image);
    match rx.ended {
        Ended::Crashed => {
            rec.outcome = SessionOutcome::Crashed;
            reboot_after_crash(dev);
            dev.record(rec);
            return;
        }
        Ended::ReceiveFailed => {
            rec.outcome = SessionOutcome::ReceiveFailed;
            dev.record(rec);
            return;
        }
        Ended::Complete | Ended::Closed | Ended::WriteFailed(_) => {}
    }
    let Some(mut stream) = rx.stream else {
        return;
    };
    match verify(dev, inv, &rx.image, &rx.ended) {
        Ok(()) => {
            send_ok(dev, &mut stream);
            rec.applied = reboot_after_update(dev);
            dev.record(rec);
        }
        Err(text) => {
            dev.ota_error(4);
            let wire = match dev.chip {
                Chip::Esp8266 => texts::esp8266_print_error(esp8266_code(&text), &text, dev.core),
                Chip::Esp32 => format!("{text}\r\n"),
            };
            let _ = stream.write_all(wire.as_bytes());
            drop(stream);
            let msg = format!("Update ERROR: {text}");
            dev.console
                .log('E', "ArduinoOTA.cpp", 356, "_runUpdate", &msg);
            rec.outcome = SessionOutcome::EndFailed(text);
            dev.record(rec);
        }
    }
}

/// `Update.end()`. The image is what the flash holds, so `md5_mismatch` corrupts it.
fn verify(dev: &Device, inv: &Invitation, image: &[u8], ended: &Ended) -> Result<(), String> {
    if let Ended::WriteFailed(text) = ended {
        return Err(text.clone());
    }
    let n = image.len() as u64;
    if n < inv.size.max(0) as u64 {
        return Err(end_error_text(dev, inv, n));
    }
    let calculated = if dev.scenario == Scenario::Md5Mismatch {
        let mut bad = image.to_vec();
        bad[image.len() / 2] ^= 0x20;
        md5_hex(&bad)
    } else {
        md5_hex(image)
    };
    if !calculated.eq_ignore_ascii_case(&inv.md5) {
        return Err(match dev.chip {
            Chip::Esp8266 => texts::esp8266_md5_text(&inv.md5, &calculated, dev.core),
            Chip::Esp32 => "MD5 Check Failed".to_string(),
        });
    }
    let gzip = image.starts_with(&[0x1f, 0x8b]);
    if dev.chip == Chip::Esp8266 && inv.cmd == U_FLASH && image.first() != Some(&0xE9) && !gzip {
        return Err(texts::esp8266_magic_text(dev.core).to_string());
    }
    Ok(())
}

/// What `end()` reports for a short transfer: ESP32 logs the premature end and aborts;
/// ESP8266 3.x says "No data supplied" for nothing and, having set no code, "No Error"
/// for a partial image (protocol.md §3.1 row 0).
fn end_error_text(dev: &Device, inv: &Invitation, got: u64) -> String {
    match dev.chip {
        Chip::Esp32 => {
            let msg = format!("premature end: res:0, pos:{got}/{}", inv.size);
            dev.console.log('E', "Updater.cpp", 367, "end", &msg);
            "Aborted".to_string()
        }
        Chip::Esp8266 if got == 0 && dev.core == Esp8266Core::V3_1 => {
            "No data supplied".to_string()
        }
        Chip::Esp8266 => "No Error".to_string(),
    }
}

fn esp8266_code(text: &str) -> u8 {
    const CODES: [(&str, u8); 6] = [
        ("No data", 13),
        ("No Error", 0),
        ("MD5", 7),
        ("Magic", 10),
        ("Not Enough", 4),
        ("Flash config", 8),
    ];
    CODES
        .iter()
        .find(|(p, _)| text.starts_with(p))
        .map_or(0, |(_, c)| *c)
}

/// ESP8266 2.7+ waits a second on each side of `OK` so it is not merged with the last
/// byte count; ESP32 sends it at once.
fn send_ok(dev: &Device, stream: &mut TcpStream) {
    let pause = match dev.chip {
        Chip::Esp8266 => Duration::from_millis(1000),
        Chip::Esp32 => Duration::ZERO,
    };
    dev.sleep(pause);
    let _ = stream.write_all(b"OK");
    let _ = stream.flush();
    dev.sleep(pause);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    dev.sleep(Duration::from_millis(10));
}

/// onEnd, `ESP.restart()`, and what the ROM prints on the way back up. Returns whether
/// the new image was applied.
fn reboot_after_update(dev: &Device) -> bool {
    dev.console.line("\nEnd");
    dev.sleep(Duration::from_millis(100));
    dev.console.reset_clock();
    let hangs = dev.chip == Chip::Esp8266 && dev.scenario == Scenario::MissingResetAfterSerialFlash;
    if hangs {
        // The strap latch still says UART download: the ROM waits for esptool, then the
        // hardware watchdog fires, again and again (protocol.md §4.1).
        dev.console
            .lines(&texts::boot_banner(Chip::Esp8266, 2, 1, false));
        dev.sleep(Duration::from_millis(1500));
        dev.console
            .lines(&texts::boot_banner(Chip::Esp8266, 4, 1, false));
        dev.console.line("wdt reset");
        dev.shared.hung.store(true, Ordering::Relaxed);
        return false;
    }
    let cause = if dev.chip == Chip::Esp8266 { 2 } else { 0xc };
    dev.console
        .lines(&texts::boot_banner(dev.chip, cause, 3, true));
    super::sketch_setup(dev);
    true
}

/// After a crash dump the core restarts: ESP8266 shows `rst cause:2` with no staged
/// image, ESP32 the software CPU reset that follows a panic.
fn reboot_after_crash(dev: &Device) {
    dev.sleep(Duration::from_millis(200));
    dev.console.reset_clock();
    let cause = if dev.chip == Chip::Esp8266 { 2 } else { 0xc };
    dev.console
        .lines(&texts::boot_banner(dev.chip, cause, 3, false));
    super::sketch_setup(dev);
}
