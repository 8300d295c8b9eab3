//! Packets → ArduinoOTA events (docs/protocol.md §1), one state machine per upload
//! attempt: invitation (and its retries) → optional challenge/answer → the device's UDP
//! verdict → the device's TCP connection back to the uploader → the data phase → the
//! result and who closed the connection. ICMP errors about any of it are decoded with
//! the datagram they quote. TCP traffic that is not ArduinoOTA is offered to the
//! ESPHome decoder.
//!
//! State is kept only for attempts that began with an invitation, and for at most
//! [`MAX_SESSIONS`] of them (oldest dropped first, and a note says so), so a capture of
//! thousands of invitations or of unrelated traffic costs bounded memory.

mod tcp;
mod udp;

use super::auth::Password;
use super::esphome;
use super::packet::{Layer, Packet, Quoted};
use super::ports::PortSet;
use crate::event::{Event, Source};
use std::net::Ipv4Addr;

/// How many upload attempts are followed at once.
pub const MAX_SESSIONS: usize = 256;

/// What the analyst tells the decoder.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The OTA password, to check the uploader's answer. Never emitted.
    pub password: Option<Password>,
}

/// Where an attempt stands in its UDP handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Invited,
    Challenged,
    Answered,
    Accepted,
    Refused,
    AuthFailed,
}

#[derive(Debug)]
struct Session {
    /// 1-based number of the attempt in this capture.
    id: u32,
    host: Ipv4Addr,
    device: Ipv4Addr,
    device_port: u16,
    host_port: u16,
    command: u64,
    size: u64,
    md5: String,
    tries: u32,
    phase: Phase,
    /// When the host's last UDP message (invitation or answer) was seen.
    asked_at: i64,
    nonce: Option<String>,
    conn: tcp::Conn,
}

#[derive(Default)]
pub struct OtaDecoder {
    opts: Options,
    /// Oldest first.
    sessions: Vec<Session>,
    next_id: u32,
    dropped: usize,
    notes: Vec<String>,
    esphome: esphome::Decoder,
    /// The sessions' uploader (TCP) and device (UDP) ports: most traffic is not OTA.
    host_ports: PortSet,
    device_ports: PortSet,
}

fn net(kind: &'static str, text: String) -> Event {
    Event::new(Source::Net, kind, text)
}

impl OtaDecoder {
    pub fn new() -> OtaDecoder {
        OtaDecoder::default()
    }

    pub fn with_options(opts: Options) -> OtaDecoder {
        OtaDecoder {
            esphome: esphome::Decoder::new(opts.password.clone()),
            opts,
            ..OtaDecoder::default()
        }
    }

    /// Feeds one packet captured at `t_us`; returns the events it completes.
    pub fn packet(&mut self, t_us: i64, p: &Packet<'_>) -> Vec<Event> {
        let mut out = Vec::new();
        self.packet_into(t_us, p, &mut out);
        out
    }

    /// As [`OtaDecoder::packet`], appending to `out` (no vector per packet).
    pub fn packet_into(&mut self, t_us: i64, p: &Packet<'_>, out: &mut Vec<Event>) {
        let first = out.len();
        match &p.layer {
            Layer::Udp {
                sport,
                dport,
                payload,
            } => self.udp(t_us, p, *sport, *dport, payload, out),
            Layer::Tcp { .. } => {
                if !self.tcp(t_us, p, out) {
                    self.esphome.packet(p, out);
                }
            }
            Layer::IcmpUnreachable { code, orig } => out.push(self.icmp(p, *code, orig.as_ref())),
        }
        for e in &mut out[first..] {
            e.t_us = t_us;
        }
    }

    /// Ends the capture: unanswered connection attempts are time-outs, transfers still
    /// open get their result with `how = capture_end`.
    pub fn finish(&mut self, end_us: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for s in &mut self.sessions {
            tcp::finish(s, end_us, &mut out);
        }
        self.esphome.finish(end_us, &mut out);
        out
    }

    /// What the user should know about how the capture was decoded.
    pub fn notes(&self) -> Vec<String> {
        let mut v = self.notes.clone();
        if self.dropped > 0 {
            v.push(format!(
                "more than {MAX_SESSIONS} ArduinoOTA attempts: only the latest {MAX_SESSIONS} were followed, {} older one(s) were dropped and their later packets not decoded",
                self.dropped
            ));
        }
        v.extend(self.esphome.notes());
        v
    }

    fn note(&mut self, n: String) {
        if !self.notes.contains(&n) && self.notes.len() < 32 {
            self.notes.push(n);
        }
    }

    fn add(&mut self, s: Session) {
        if self.sessions.len() >= MAX_SESSIONS {
            // Prefer forgetting an attempt that is over.
            let i = self
                .sessions
                .iter()
                .position(|s| s.conn.is_over() || s.phase != Phase::Invited)
                .unwrap_or(0);
            self.sessions.remove(i);
            self.dropped += 1;
            self.host_ports
                .rebuild(self.sessions.iter().map(|s| s.host_port));
            self.device_ports
                .rebuild(self.sessions.iter().map(|s| s.device_port));
        }
        self.host_ports.insert(s.host_port);
        self.device_ports.insert(s.device_port);
        self.sessions.push(s);
    }

    fn icmp(&self, p: &Packet<'_>, code: u8, orig: Option<&Quoted>) -> Event {
        let mut e = net(
            "icmp.unreachable",
            format!("ICMP unreachable (code {code}) from {}", p.src),
        )
        .with("reporter_ip", p.src.to_string())
        .with("code", i64::from(code))
        .with("code_name", code_name(code));
        let Some(q) = orig else { return e };
        let about = self.quoted_about(q);
        e = e
            .with("orig_proto", i64::from(q.proto))
            .with("orig_src_ip", q.src.to_string())
            .with("orig_dst_ip", q.dst.to_string())
            .with("orig_src_port", i64::from(q.sport))
            .with("orig_dst_port", i64::from(q.dport))
            .with("about", about);
        let what = match (q.proto, about) {
            (17, "invitation") => "device's OTA UDP port",
            (17, "device_reply") => "uploader's UDP socket (it had given up)",
            (6, "connect") => "uploader's TCP port",
            (17, _) => "UDP port",
            _ => "destination",
        };
        e.text = format!(
            "{what} unreachable: {}:{} ({})",
            q.dst,
            q.dport,
            code_name(code)
        );
        e
    }

    /// Which OTA message an ICMP error quotes, so `wrong_port` can be told from a host
    /// that closed its socket.
    fn quoted_about(&self, q: &Quoted) -> &'static str {
        let hit = |f: &dyn Fn(&Session) -> bool| self.sessions.iter().any(f);
        match q.proto {
            17 if hit(&|s| s.device == q.dst && s.device_port == q.dport) => "invitation",
            17 if hit(&|s| s.device == q.src && s.device_port == q.sport) => "device_reply",
            17 if matches!(q.dport, 8266 | 3232) => "invitation",
            6 if hit(&|s| s.device == q.src && s.host_port == q.dport) => "connect",
            _ => "other",
        }
    }
}

fn code_name(code: u8) -> &'static str {
    match code {
        0 => "net_unreachable",
        1 => "host_unreachable",
        2 => "protocol_unreachable",
        3 => "port_unreachable",
        4 => "fragmentation_needed",
        9 | 10 | 13 => "administratively_prohibited",
        _ => "other",
    }
}

/// The cause an ArduinoOTA error text points to (docs/protocol.md §3.1 and §1.8).
fn cause_hint(text: &str) -> Option<&'static str> {
    let by_code = match error_code(text) {
        Some(4 | 5) => Some("insufficient_space"),
        Some(7) => Some("md5_mismatch"),
        Some(8 | 9) => Some("flash_config_mismatch"),
        Some(10 | 12) => Some("invalid_image"),
        Some(11) => Some("missing_reset_after_serial_flash"),
        _ => None,
    };
    let t = text.to_ascii_lowercase();
    by_code.or(if t.contains("md5") {
        Some("md5_mismatch")
    } else if t.contains("magic byte")
        || t.contains("activate the firmware")
        || t.contains("signature")
    {
        Some("invalid_image")
    } else if t.contains("partition could not") {
        Some("wrong_partition_scheme")
    } else if t.contains("not enough space") || t.contains("bad size") {
        Some("insufficient_space")
    } else if t.contains("flash config") {
        Some("flash_config_mismatch")
    } else if t.contains("bootstrapping") {
        Some("missing_reset_after_serial_flash")
    } else {
        None
    })
}

/// The `n` of `ERROR[n]` in an ESP8266 error text.
fn error_code(text: &str) -> Option<i64> {
    let i = text.find("ERROR[")?;
    text[i + 6..].split(']').next()?.parse().ok()
}

#[cfg(test)]
mod tests;
