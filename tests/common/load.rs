//! Load for the live monitor, shared by tests/live_load.rs and the benchmark driver
//! examples/live-load.rs: a serial stream written into a pseudo-terminal the way a
//! UART delivers it, and a flood of unrelated packets sent from inside a network
//! namespace.
#![allow(dead_code)]

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// 2 Mbaud with 8N1 framing: ten bit times per byte.
pub const BYTES_PER_S_2MBAUD: u64 = 200_000;

pub fn checksum(s: &str) -> u32 {
    s.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}

/// Line `n` of the checkable stream: its number, filler, a checksum of both.
pub fn line(n: u64) -> String {
    let fill: String = (0..40)
        .map(|i| char::from(b'a' + ((n + i) % 26) as u8))
        .collect();
    let body = format!("seq {n:08} {fill}");
    format!("{body} sum {:08x}", checksum(&body))
}

/// The number of an intact line of the stream.
pub fn parse(text: &str) -> Option<u64> {
    let at = text.find("seq ")?;
    let (body, sum) = text[at..].trim_end().rsplit_once(" sum ")?;
    if u32::from_str_radix(sum, 16).ok()? != checksum(body) {
        return None;
    }
    body.get(4..12)?.parse().ok()
}

/// What the writer did.
#[derive(Debug, Default, Clone)]
pub struct Sent {
    /// Numbers of the lines that went into the port, in order.
    pub lines: Vec<u64>,
    pub bytes: u64,
    /// Lines the port had no room for: the reader was too slow, as a UART overrun.
    pub overrun: u64,
    pub secs: f64,
}

/// Writes the stream into the pty master at `rate` bytes/s for `dur`, never waiting for
/// the reader (a UART does not): a line the port has no room for is counted as overrun.
/// A line already begun is finished, so every line in the port is whole.
pub fn feed_uart(master: &mut (impl Write + AsRawFd), rate: u64, dur: Duration) -> Sent {
    use nix::fcntl::{F_GETFL, F_SETFL, OFlag, fcntl};
    let fd = master.as_raw_fd();
    let flags = OFlag::from_bits_truncate(fcntl(fd, F_GETFL).unwrap_or(0));
    let _ = fcntl(fd, F_SETFL(flags | OFlag::O_NONBLOCK));
    let mut sent = Sent::default();
    let start = Instant::now();
    let (mut n, mut offered) = (0u64, 0u64);
    while start.elapsed() < dur {
        // Bytes due by now at this rate, written in small bursts every 2 ms.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while offered < due {
            let l = format!("{}\r\n", line(n));
            offered += l.len() as u64;
            match write_line(master, l.as_bytes()) {
                true => {
                    sent.lines.push(n);
                    sent.bytes += l.len() as u64;
                }
                false => sent.overrun += 1,
            }
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    sent.secs = start.elapsed().as_secs_f64();
    let _ = fcntl(fd, F_SETFL(flags));
    sent
}

/// False if not one byte fit; a partial write is finished, bounded in time.
fn write_line(w: &mut impl Write, mut b: &[u8]) -> bool {
    let mut first = true;
    let until = Instant::now() + Duration::from_secs(2);
    while !b.is_empty() && Instant::now() < until {
        match w.write(b) {
            Ok(k) => {
                b = &b[k..];
                first = false;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if first {
                    return false;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(_) => return !first,
        }
    }
    true
}

/// How the received lines compare with what was sent.
#[derive(Debug, Default, PartialEq)]
pub struct Check {
    pub received: u64,
    pub lost: u64,
    pub repeated: u64,
    pub out_of_order: u64,
    pub corrupt: u64,
}

/// `texts`: the received lines in order (from a trace or a raw capture).
pub fn check<'a>(sent: &[u64], texts: impl Iterator<Item = &'a str>) -> Check {
    let mut c = Check::default();
    let mut seen = std::collections::HashSet::new();
    let mut last: Option<u64> = None;
    for t in texts {
        let Some(n) = parse(t) else {
            if t.contains("seq ") {
                c.corrupt += 1;
            }
            continue;
        };
        c.received += 1;
        if !seen.insert(n) {
            c.repeated += 1;
        }
        if last.is_some_and(|l| n <= l) {
            c.out_of_order += 1;
        }
        last = Some(n);
    }
    c.lost = sent.iter().filter(|n| !seen.contains(n)).count() as u64;
    c
}

/// The serial lines of a trace, in order.
pub fn trace_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["source"] == "serial")
        .filter_map(|v| v["text"].as_str().map(String::from))
        .collect()
}

/// Runs `f` on a thread that has entered the network namespace `ns` (by its name
/// under /run/netns); the rest of the process stays where it is.
pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<Result<T, String>> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
        nix::sched::setns(file.as_raw_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("setns {path}: {e}"))?;
        Ok(f())
    })
}

/// What a flood sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flood {
    pub packets: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// Sends up to `count` UDP datagrams of `size` bytes to `to` as fast as the socket
/// takes them, for at most `limit`. Call from inside the sending namespace.
pub fn udp_flood(
    to: std::net::SocketAddr,
    count: u64,
    size: usize,
    limit: Duration,
    stop: &std::sync::atomic::AtomicBool,
) -> Flood {
    let Ok(sock) = std::net::UdpSocket::bind("0.0.0.0:0") else {
        return Flood::default();
    };
    let payload = vec![0x5a; size];
    let start = Instant::now();
    let mut f = Flood::default();
    while f.packets < count && start.elapsed() < limit {
        if f.packets % 1024 == 0 && stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        if sock.send_to(&payload, to).is_ok() {
            f.packets += 1;
            f.bytes += size as u64;
        }
    }
    f.secs = start.elapsed().as_secs_f64();
    f
}
