//! ESPHome's native OTA protocol (the device is the TCP server, usually on 3232 or
//! 8266; the host tool `esphome/espota2.py` connects). Read in esphome/esphome:
//! `esphome/espota2.py` (commit 015decce, `perform_ota`) and
//! `esphome/components/ota/ota_backend.h` (`OTAResponseTypes`). The exchange:
//!
//! ```text
//! host → 6C 26 F7 5C 45 (magic)          device → 00 <version 1|2>
//! host → <client feature bits>           device → 46 (compression) | 48 <flags> | other
//!                                        device → 41 (no auth) | 01 <32 B nonce> (MD5)
//!                                                               | 02 <64 B nonce> (SHA-256)
//! host → <cnonce> <answer> (same length as the nonce, hex text)   device → 41 | 82
//! host → <ota type> (only when the device sent 48)
//! host → <size, 4 bytes big-endian>      device → 42 | error
//! host → <md5, 32 hex chars>             device → 43
//! host → data …                          device → 47 per 8 KB chunk (version 2)
//!                                        device → 44, then 45
//! host → 00
//! ```
//! Any device byte 0x80–0x90 or 0xFF is an error code. A session starts only when the
//! host's first bytes are the magic, so other TCP traffic on those ports is ignored.

use super::auth::{self, Check, Password};
use super::packet::{FIN, Layer, Packet, RST, SYN};
use super::ports::PortSet;
use super::stream::Stream;
use crate::event::{Event, Source};
use std::net::Ipv4Addr;

const MAGIC: [u8; 5] = [0x6C, 0x26, 0xF7, 0x5C, 0x45];
/// Sessions followed at once (oldest dropped first).
pub const MAX_SESSIONS: usize = 64;
/// Handshake bytes held while waiting for the other side; more means we lost sync.
const MAX_PENDING: usize = 512;

/// (wire value, name in ota_backend.h, class as the host-log decoder names it, cause).
const ERRORS: &[(u8, &str, &str, Option<&str>)] = &[
    (0x80, "ERROR_MAGIC", "magic", Some("protocol_mismatch")),
    (
        0x81,
        "ERROR_UPDATE_PREPARE",
        "prepare",
        Some("insufficient_space"),
    ),
    (
        0x82,
        "ERROR_AUTH_INVALID",
        "auth_invalid",
        Some("auth_failed"),
    ),
    (0x83, "ERROR_WRITING_FLASH", "write_flash", None),
    (0x84, "ERROR_UPDATE_END", "update_end", None),
    (
        0x85,
        "ERROR_INVALID_BOOTSTRAPPING",
        "bootstrapping",
        Some("missing_reset_after_serial_flash"),
    ),
    (
        0x86,
        "ERROR_WRONG_CURRENT_FLASH_CONFIG",
        "flash_config",
        Some("flash_config_mismatch"),
    ),
    (
        0x87,
        "ERROR_WRONG_NEW_FLASH_CONFIG",
        "flash_config",
        Some("flash_config_mismatch"),
    ),
    (
        0x88,
        "ERROR_ESP8266_NOT_ENOUGH_SPACE",
        "space",
        Some("insufficient_space"),
    ),
    (
        0x89,
        "ERROR_ESP32_NOT_ENOUGH_SPACE",
        "partition_small",
        Some("insufficient_space"),
    ),
    (
        0x8A,
        "ERROR_NO_UPDATE_PARTITION",
        "partition",
        Some("wrong_partition_scheme"),
    ),
    (0x8B, "ERROR_MD5_MISMATCH", "md5", Some("md5_mismatch")),
    (
        0x8C,
        "ERROR_RP2040_NOT_ENOUGH_SPACE",
        "space",
        Some("insufficient_space"),
    ),
    (
        0x8D,
        "ERROR_SIGNATURE_INVALID",
        "signature",
        Some("invalid_image"),
    ),
    (
        0x8E,
        "ERROR_UNSUPPORTED_OTA_TYPE",
        "unsupported_type",
        Some("protocol_mismatch"),
    ),
    (
        0x8F,
        "ERROR_PARTITION_TABLE_VERIFY",
        "partition_table",
        None,
    ),
    (
        0x90,
        "ERROR_PARTITION_TABLE_UPDATE",
        "partition_table",
        None,
    ),
    (0xFF, "ERROR_UNKNOWN", "unknown_response", None),
];

fn error_info(code: u8) -> Option<&'static (u8, &'static str, &'static str, Option<&'static str>)> {
    ERRORS.iter().find(|e| e.0 == code)
}

/// What the device is expected to send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dev {
    Ok,
    Version,
    Features,
    FeatureFlags,
    Auth,
    Nonce(usize),
    AuthResult,
    Prepare,
    Md5Ok,
    Data,
    Done,
    Failed,
}

/// What the host is expected to send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Magic,
    Features,
    Answer,
    OtaType,
    Size,
    Md5,
    Data,
    Done,
    /// Out of step (bytes missing from the capture): only count.
    Lost,
}

#[derive(Debug)]
struct Session {
    host: Ipv4Addr,
    host_port: u16,
    device: Ipv4Addr,
    device_port: u16,
    up: Stream,
    down: Stream,
    host_st: Host,
    dev_st: Dev,
    pending: Vec<u8>,
    nonce: Vec<u8>,
    sha256: bool,
    /// None until the device says whether it wants a password.
    auth: Option<bool>,
    extended: bool,
    answer: Vec<u8>,
    size: u64,
    sent: u64,
    next_percent: u64,
    chunks_ok: u32,
    error: Option<u8>,
    end_ok: bool,
    closed_by: Option<(&'static str, &'static str)>,
    over: bool,
}

#[derive(Debug, Default)]
pub struct Decoder {
    password: Option<Password>,
    sessions: Vec<Session>,
    dropped: usize,
    unchecked: bool,
    /// Both ports of every session: a segment needs both in here to be one of theirs.
    ports: PortSet,
}

fn ev(kind: &'static str, s: &Session, text: String) -> Event {
    Event::new(Source::Net, kind, text)
        .with("device_ip", s.device.to_string())
        .with("device_port", i64::from(s.device_port))
        .with("host_ip", s.host.to_string())
}

impl Decoder {
    pub fn new(password: Option<Password>) -> Decoder {
        Decoder {
            password,
            ..Decoder::default()
        }
    }

    pub fn notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.dropped > 0 {
            v.push(format!(
                "more than {MAX_SESSIONS} ESPHome OTA connections: {} older one(s) were dropped",
                self.dropped
            ));
        }
        if self.unchecked {
            v.push("an ESPHome password answer could not be checked: part of the exchange is not in the capture".into());
        }
        v
    }

    /// Offers one TCP segment; events go to `out`.
    pub fn packet(&mut self, p: &Packet<'_>, out: &mut Vec<Event>) {
        let Layer::Tcp {
            sport,
            dport,
            seq,
            flags,
            payload,
            ..
        } = p.layer
        else {
            return;
        };
        let (up, down) = if self.ports.contains(sport) && self.ports.contains(dport) {
            self.find(p, sport, dport)
        } else {
            (None, None)
        };
        let (i, from_host) = match (up, down) {
            (Some(i), _) => (i, true),
            (_, Some(i)) => (i, false),
            _ if payload.starts_with(&MAGIC) && flags & SYN == 0 => {
                self.start(p.src, sport, p.dst, dport, seq);
                (self.sessions.len() - 1, true)
            }
            _ => return,
        };
        let pw = self.password.clone();
        let s = &mut self.sessions[i];
        if s.over {
            return;
        }
        if from_host {
            let before = s.up.missing;
            let new = s.up.accept(seq, flags & SYN != 0, payload);
            let gap = s.up.missing - before;
            host_bytes(s, new, gap, out);
        } else {
            let new = s.down.accept(seq, flags & SYN != 0, payload);
            if dev_bytes(s, new, pw.as_ref(), out) {
                self.unchecked = true;
            }
            let s = &mut self.sessions[i];
            host_bytes(s, &[], 0, out);
        }
        let s = &mut self.sessions[i];
        if flags & (FIN | RST) != 0 {
            let who = if from_host { "host" } else { "device" };
            let how = if flags & RST != 0 { "rst" } else { "fin" };
            s.closed_by.get_or_insert((who, how));
            if !from_host || how == "rst" || s.dev_st == Dev::Done || s.dev_st == Dev::Failed {
                out.push(result(s, how));
                s.over = true;
            }
        }
    }

    /// The session this segment goes up (host → device) or down in, latest first.
    fn find(&self, p: &Packet<'_>, sport: u16, dport: u16) -> (Option<usize>, Option<usize>) {
        let up = self.sessions.iter().rposition(|s| {
            (s.host, s.host_port, s.device, s.device_port) == (p.src, sport, p.dst, dport)
        });
        let down = self.sessions.iter().rposition(|s| {
            (s.host, s.host_port, s.device, s.device_port) == (p.dst, dport, p.src, sport)
        });
        (up, down)
    }

    fn start(
        &mut self,
        host: Ipv4Addr,
        host_port: u16,
        device: Ipv4Addr,
        device_port: u16,
        seq: u32,
    ) {
        if self.sessions.len() >= MAX_SESSIONS {
            let i = self.sessions.iter().position(|s| s.over).unwrap_or(0);
            self.sessions.remove(i);
            self.dropped += 1;
            let ports = self
                .sessions
                .iter()
                .flat_map(|s| [s.host_port, s.device_port]);
            self.ports.rebuild(ports);
        }
        self.ports.insert(host_port);
        self.ports.insert(device_port);
        let mut up = Stream::default();
        // Start the stream just before the magic, so the magic is its first bytes.
        up.accept(seq.wrapping_sub(1), true, &[]);
        self.sessions.push(Session {
            host,
            host_port,
            device,
            device_port,
            up,
            down: Stream::default(),
            host_st: Host::Magic,
            dev_st: Dev::Ok,
            pending: Vec::new(),
            nonce: Vec::new(),
            sha256: false,
            auth: None,
            extended: false,
            answer: Vec::new(),
            size: 0,
            sent: 0,
            next_percent: 10,
            chunks_ok: 0,
            error: None,
            end_ok: false,
            closed_by: None,
            over: false,
        });
    }

    pub fn finish(&mut self, end_us: i64, out: &mut Vec<Event>) {
        for s in self.sessions.iter_mut().filter(|s| !s.over) {
            let mut e = result(s, "capture_end");
            e.t_us = end_us;
            out.push(e);
            s.over = true;
        }
    }
}

/// Parses what the host sent; waits (bounded) when the next step depends on the device.
/// `gap` bytes before `new` were missed by the capture: image bytes still count, but a
/// hole in the handshake leaves the parser out of step.
fn host_bytes(s: &mut Session, new: &[u8], gap: u64, out: &mut Vec<Event>) {
    if s.host_st == Host::Data || s.host_st == Host::Lost {
        data(s, gap + new.len() as u64, out);
        return;
    }
    if gap > 0 {
        s.pending.clear();
        s.host_st = Host::Lost;
        return;
    }
    s.pending.extend_from_slice(new);
    if s.pending.len() > MAX_PENDING {
        s.pending.clear();
        s.host_st = Host::Lost;
        return;
    }
    while let Some(need) = host_need(s) {
        if s.pending.len() < need {
            return;
        }
        let chunk: Vec<u8> = s.pending.drain(..need).collect();
        host_step(s, &chunk, out);
        if s.host_st == Host::Data {
            let rest = std::mem::take(&mut s.pending);
            data(s, rest.len() as u64, out);
            return;
        }
    }
}

/// How many bytes the host's next message has, or None if that is not known yet.
fn host_need(s: &Session) -> Option<usize> {
    match s.host_st {
        Host::Magic => Some(5),
        Host::Features | Host::OtaType => Some(1),
        // Nothing to read when the device wants no password.
        Host::Answer => match s.auth {
            Some(false) => Some(0),
            Some(true) if !s.nonce.is_empty() => Some(2 * s.nonce.len()),
            _ => None,
        },
        Host::Size => Some(4),
        Host::Md5 => Some(32),
        Host::Data | Host::Done | Host::Lost => None,
    }
}

fn host_step(s: &mut Session, b: &[u8], out: &mut Vec<Event>) {
    s.host_st = match s.host_st {
        Host::Magic if b == MAGIC => Host::Features,
        Host::Magic => Host::Lost,
        Host::Features => Host::Answer,
        Host::Answer => {
            s.answer = b.to_vec();
            if s.extended {
                Host::OtaType
            } else {
                Host::Size
            }
        }
        Host::OtaType => Host::Size,
        Host::Size => {
            s.size = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            Host::Md5
        }
        Host::Md5 => {
            let md5 = String::from_utf8_lossy(b).into_owned();
            out.push(
                ev(
                    "esphome.ota.begin",
                    s,
                    format!(
                        "upload of {} bytes to {}:{} begins",
                        s.size, s.device, s.device_port
                    ),
                )
                .with("size", s.size as i64)
                .with("md5", md5),
            );
            Host::Data
        }
        other => other,
    };
    // Without a password the host goes straight from features to the size.
    if s.host_st == Host::Answer && s.auth == Some(false) {
        s.host_st = if s.extended {
            Host::OtaType
        } else {
            Host::Size
        };
    }
}

fn data(s: &mut Session, n: u64, out: &mut Vec<Event>) {
    if n == 0 || s.host_st != Host::Data {
        return;
    }
    s.sent = (s.sent + n).min(s.size.saturating_add(1));
    let pct = (s.sent.min(s.size) * 100)
        .checked_div(s.size)
        .unwrap_or(100);
    if pct >= s.next_percent {
        s.next_percent = (pct / 10 + 1) * 10;
        out.push(
            ev(
                "esphome.ota.progress",
                s,
                format!("{pct}% ({} of {} bytes)", s.sent.min(s.size), s.size),
            )
            .with("bytes", s.sent.min(s.size) as i64)
            .with("percent", pct as i64),
        );
    }
    if s.sent > s.size {
        s.host_st = Host::Done;
    }
}

/// Parses what the device sent. Returns true when a password answer could not be checked.
fn dev_bytes(s: &mut Session, new: &[u8], pw: Option<&Password>, out: &mut Vec<Event>) -> bool {
    let mut unchecked = false;
    for &b in new {
        if let Dev::Nonce(n) = s.dev_st {
            s.nonce.push(b);
            if s.nonce.len() == n {
                s.dev_st = Dev::AuthResult;
            }
            continue;
        }
        if matches!(s.dev_st, Dev::Done | Dev::Failed) {
            return unchecked;
        }
        if s.dev_st != Dev::Version && s.dev_st != Dev::FeatureFlags && error_info(b).is_some() {
            if s.dev_st == Dev::AuthResult {
                unchecked |= auth_event(s, false, pw, out);
            }
            error(s, b, out);
            continue;
        }
        unchecked |= dev_step(s, b, pw, out);
    }
    unchecked
}

fn dev_step(s: &mut Session, b: u8, pw: Option<&Password>, out: &mut Vec<Event>) -> bool {
    let mut unchecked = false;
    s.dev_st = match (s.dev_st, b) {
        (Dev::Ok, 0x00) => Dev::Version,
        (Dev::Ok, _) => Dev::Failed,
        (Dev::Version, v) => {
            out.push(
                ev(
                    "esphome.ota.start",
                    s,
                    format!(
                        "ESPHome OTA with {}:{} (protocol version {v})",
                        s.device, s.device_port
                    ),
                )
                .with("version", i64::from(v)),
            );
            Dev::Features
        }
        (Dev::Features, 0x48) => {
            s.extended = true;
            Dev::FeatureFlags
        }
        (Dev::Features, _) | (Dev::FeatureFlags, _) => Dev::Auth,
        (Dev::Auth, 0x01 | 0x02) => {
            s.auth = Some(true);
            s.sha256 = b == 0x02;
            Dev::Nonce(if b == 0x02 { 64 } else { 32 })
        }
        (Dev::Auth, 0x41) => {
            s.auth = Some(false);
            out.push(
                ev("esphome.ota.auth", s, "no password required".into())
                    .with("scheme", "none")
                    .with("result", "ok"),
            );
            Dev::Prepare
        }
        (Dev::AuthResult, 0x41) => {
            unchecked = auth_event(s, true, pw, out);
            Dev::Prepare
        }
        (Dev::Prepare, 0x42) => Dev::Md5Ok,
        (Dev::Md5Ok, 0x43) => Dev::Data,
        (Dev::Data, 0x47) => {
            s.chunks_ok += 1;
            Dev::Data
        }
        (Dev::Data, 0x44) => Dev::Data,
        (Dev::Data, 0x45) => {
            s.end_ok = true;
            Dev::Done
        }
        (st, _) => st,
    };
    unchecked
}

/// The device's verdict on the password; with `--auth`, whether the answer was right.
fn auth_event(s: &Session, ok: bool, pw: Option<&Password>, out: &mut Vec<Event>) -> bool {
    let scheme = if s.sha256 { "sha256" } else { "md5" };
    let verdict = if ok { "ok" } else { "invalid" };
    let mut e = ev(
        "esphome.ota.auth",
        s,
        format!("password ({scheme}): {verdict}"),
    )
    .with("scheme", scheme)
    .with("result", verdict);
    let mut unchecked = false;
    if let Some(pw) = pw {
        let n = s.nonce.len();
        if s.answer.len() == 2 * n && n > 0 {
            let (cnonce, answer) = s.answer.split_at(n);
            let right = auth::esphome(pw, s.sha256, &s.nonce, cnonce, answer) != Check::Wrong;
            e = e.with("password_ok", right);
            e.text.push_str(if right {
                " (right password)"
            } else {
                " (WRONG password)"
            });
        } else {
            unchecked = true;
        }
    }
    out.push(e);
    unchecked
}

fn error(s: &mut Session, code: u8, out: &mut Vec<Event>) {
    s.error = Some(code);
    let stage = match s.dev_st {
        Dev::Ok | Dev::Version => "hello",
        Dev::Features | Dev::FeatureFlags => "features",
        Dev::Auth | Dev::Nonce(_) | Dev::AuthResult => "auth",
        Dev::Prepare => "prepare",
        Dev::Md5Ok => "md5",
        Dev::Data | Dev::Done | Dev::Failed => "data",
    };
    s.dev_st = Dev::Failed;
    let Some(&(_, name, class, cause)) = error_info(code) else {
        return;
    };
    let mut e = ev(
        "esphome.ota.error",
        s,
        format!("device refused: {name} (0x{code:02X}) during {stage}"),
    )
    .with("code", i64::from(code))
    .with("error", name)
    .with("class", class)
    .with("stage", stage);
    if let Some(c) = cause {
        e = e.with("cause_hint", c);
    }
    out.push(e);
}

fn result(s: &Session, how: &str) -> Event {
    let (verdict, what) = match (s.end_ok, s.error.and_then(error_info)) {
        (true, _) => ("ok", "update accepted".to_string()),
        (_, Some((_, name, _, _))) => ("err", format!("failed: {name}")),
        _ => (
            "incomplete",
            "ended before the device confirmed the update".to_string(),
        ),
    };
    let who = s.closed_by.map_or("nobody", |c| c.0);
    let how = s.closed_by.map_or(how, |c| c.1);
    let mut e = ev(
        "esphome.ota.result",
        s,
        format!(
            "ESPHome OTA {what} after {} of {} bytes ({who} {how})",
            s.sent.min(s.size),
            s.size
        ),
    )
    .with("verdict", verdict)
    .with("bytes", s.sent.min(s.size) as i64)
    .with("size", s.size as i64)
    .with("closed_by", who)
    .with("how", how)
    .with("chunks_ok", i64::from(s.chunks_ok));
    if let Some((code, name, class, cause)) = s.error.and_then(error_info) {
        e = e
            .with("code", i64::from(*code))
            .with("error", *name)
            .with("class", *class);
        if let Some(c) = cause {
            e = e.with("cause_hint", *c);
        }
    }
    if s.up.missing + s.down.missing > 0 {
        e = e.with("missing_bytes", (s.up.missing + s.down.missing) as i64);
    }
    e
}

#[cfg(test)]
mod tests;
