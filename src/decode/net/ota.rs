//! Packets → ArduinoOTA events (docs/protocol.md §1): invitations, authentication,
//! the device's UDP replies, ICMP errors about them, the device's TCP connection back
//! to the uploader, transfer progress and the final result.
//!
//! One [`OtaDecoder`] follows every session in a capture. It only keeps state for
//! sessions it has seen an invitation for, so unrelated traffic costs a parse and
//! nothing more.

use super::packet::{ACK, FIN, Layer, Packet, RST, SYN};
use crate::event::{Event, Source};
use regex::bytes::Regex;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::LazyLock;

static INVITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(0|100) (\d{1,5}) (\d{1,12}) ([0-9a-fA-F]{32})\r?\n?$").unwrap()
});
static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^200 ([0-9a-f]{32}|[0-9a-f]{64}) ([0-9a-f]{32}|[0-9a-f]{64})\n?$").unwrap()
});

/// A transfer with no data for this long is reported as a stall.
const STALL_US: i64 = 2_000_000;

#[derive(Debug)]
struct Session {
    device: Ipv4Addr,
    device_port: u16,
    host_port: u16,
    size: u64,
    /// Connect-back state: SYN seen at, and whether it was answered.
    syn_at: Option<i64>,
    connected: bool,
    sent: u64,
    last_data: i64,
    next_percent: u64,
    reply: Vec<u8>,
    done: bool,
}

#[derive(Default)]
pub struct OtaDecoder {
    sessions: Vec<Session>,
    /// (device, host_port) → session index.
    by_port: HashMap<(Ipv4Addr, u16), usize>,
}

impl OtaDecoder {
    pub fn new() -> OtaDecoder {
        OtaDecoder::default()
    }

    /// Feeds one packet captured at `t_us`; returns the events it completes.
    pub fn packet(&mut self, t_us: i64, p: &Packet<'_>) -> Vec<Event> {
        let mut out = Vec::new();
        match &p.layer {
            Layer::Udp {
                sport,
                dport,
                payload,
            } => self.udp(p, *sport, *dport, payload, &mut out),
            Layer::Tcp {
                sport,
                dport,
                flags,
                payload,
                ..
            } => self.tcp(t_us, p, *sport, *dport, *flags, payload, &mut out),
            Layer::IcmpUnreachable { code, orig } => {
                let mut e = Event::new(
                    Source::Net,
                    "icmp.unreachable",
                    format!("ICMP unreachable (code {code}) from {}", p.src),
                )
                .with("reporter_ip", p.src.to_string())
                .with("code", i64::from(*code));
                if let Some(q) = orig {
                    e = e
                        .with("orig_proto", i64::from(q.proto))
                        .with("orig_src_ip", q.src.to_string())
                        .with("orig_dst_ip", q.dst.to_string())
                        .with("orig_dst_port", i64::from(q.dport));
                    e.text = format!(
                        "{} unreachable: {}:{} (code {code})",
                        if q.proto == 17 {
                            "UDP port"
                        } else {
                            "destination"
                        },
                        q.dst,
                        q.dport
                    );
                }
                out.push(e);
            }
        }
        for e in &mut out {
            e.t_us = t_us;
        }
        out
    }

    fn udp(
        &mut self,
        p: &Packet<'_>,
        sport: u16,
        dport: u16,
        payload: &[u8],
        out: &mut Vec<Event>,
    ) {
        if let Some(c) = INVITE.captures(payload) {
            let num = |i: usize| {
                std::str::from_utf8(&c[i])
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let (cmd, host_port, size) = (num(1), num(2) as u16, num(3));
            self.by_port.insert((p.dst, host_port), self.sessions.len());
            self.sessions.push(Session {
                device: p.dst,
                device_port: dport,
                host_port,
                size,
                syn_at: None,
                connected: false,
                sent: 0,
                last_data: 0,
                next_percent: 10,
                reply: Vec::new(),
                done: false,
            });
            let what = if cmd == 100 { "filesystem" } else { "firmware" };
            out.push(
                Event::new(Source::Net, "ota.invite", format!("invitation to {}:{dport}: {what}, {size} bytes, connect back to port {host_port}", p.dst))
                    .with("device_ip", p.dst.to_string())
                    .with("dst_port", i64::from(dport))
                    .with("src_port", i64::from(sport))
                    .with("command", cmd as i64)
                    .with("host_port", i64::from(host_port))
                    .with("image_size", size as i64)
                    .with("md5", String::from_utf8_lossy(&c[4]).into_owned()),
            );
            return;
        }
        if AUTH.is_match(payload) {
            out.push(
                Event::new(
                    Source::Net,
                    "ota.auth",
                    format!("password answer to {}:{dport}", p.dst),
                )
                .with("device_ip", p.dst.to_string())
                .with("dst_port", i64::from(dport))
                .with("src_port", i64::from(sport)),
            );
            return;
        }
        // A reply comes from a device we invited, from its OTA port.
        if self
            .sessions
            .iter()
            .any(|s| s.device == p.src && s.device_port == sport)
        {
            let text = String::from_utf8_lossy(&payload[..payload.len().min(256)])
                .trim()
                .to_string();
            let verdict = match text.as_str() {
                "OK" => "ok",
                t if t.starts_with("AUTH ") => "auth",
                "Authentication Failed" => "auth_failed",
                t if t.starts_with("ERR") => "err",
                _ => "other",
            };
            out.push(
                Event::new(
                    Source::Net,
                    "ota.reply",
                    format!("device {} answered: {text}", p.src),
                )
                .with("device_ip", p.src.to_string())
                .with("src_port", i64::from(sport))
                .with("dst_port", i64::from(dport))
                .with("verdict", verdict)
                .with("text", text),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        t: i64,
        p: &Packet<'_>,
        sport: u16,
        dport: u16,
        flags: u8,
        payload: &[u8],
        out: &mut Vec<Event>,
    ) {
        // Device → host (SYN, byte counts, result) or host → device (SYN-ACK, data).
        let (idx, from_device) = match (
            self.by_port.get(&(p.src, dport)),
            self.by_port.get(&(p.dst, sport)),
        ) {
            (Some(&i), _) => (i, true),
            (_, Some(&i)) => (i, false),
            _ => return,
        };
        let s = &mut self.sessions[idx];
        let connect = |s: &Session, outcome: &str| {
            Event::new(
                Source::Net,
                "tcp.connect",
                format!("device {} → host port {}: {outcome}", s.device, s.host_port),
            )
            .with("device_ip", s.device.to_string())
            .with("host_port", i64::from(s.host_port))
            .with("outcome", outcome)
        };
        if from_device && flags & SYN != 0 && flags & ACK == 0 {
            s.syn_at.get_or_insert(t);
            return;
        }
        if !from_device && !s.connected && s.syn_at.is_some() {
            if flags & (SYN | ACK) == SYN | ACK {
                s.connected = true;
                s.last_data = t;
                out.push(connect(s, "established"));
            } else if flags & RST != 0 {
                s.done = true;
                out.push(connect(s, "refused"));
            }
            return;
        }
        if !from_device && !payload.is_empty() {
            if s.connected && t - s.last_data > STALL_US && s.sent > 0 {
                out.push(
                    Event::new(
                        Source::Net,
                        "tcp.stall",
                        format!(
                            "no data for {} ms at {} bytes",
                            (t - s.last_data) / 1000,
                            s.sent
                        ),
                    )
                    .with("device_ip", s.device.to_string())
                    .with("host_port", i64::from(s.host_port))
                    .with("gap_ms", (t - s.last_data) / 1000)
                    .with("bytes_acked", s.sent as i64),
                );
            }
            s.sent += payload.len() as u64;
            s.last_data = t;
            let pct = (s.sent * 100)
                .checked_div(s.size)
                .map_or(100, |p| p.min(100));
            if pct >= s.next_percent {
                s.next_percent = (pct / 10 + 1) * 10;
                out.push(
                    Event::new(
                        Source::Net,
                        "ota.progress",
                        format!("{pct}% ({} of {} bytes)", s.sent, s.size),
                    )
                    .with("bytes", s.sent as i64)
                    .with("percent", pct as i64),
                );
            }
        }
        if from_device && !payload.is_empty() && s.reply.len() < 4096 {
            s.reply.extend_from_slice(payload);
        }
        if from_device && flags & (FIN | RST) != 0 && !s.done {
            s.done = true;
            out.push(result(s, flags & RST != 0));
        }
    }

    /// Ends the capture: connection attempts never answered are time-outs.
    pub fn finish(&mut self, end_us: i64) -> Vec<Event> {
        let mut out = Vec::new();
        for s in &mut self.sessions {
            if let (Some(at), false, false) = (s.syn_at, s.connected, s.done) {
                let mut e = Event::new(
                    Source::Net,
                    "tcp.connect",
                    format!("device {} → host port {}: no answer", s.device, s.host_port),
                )
                .with("device_ip", s.device.to_string())
                .with("host_port", i64::from(s.host_port))
                .with("outcome", "timeout");
                e.t_us = at.max(end_us.min(at + 10_000_000));
                out.push(e);
            }
        }
        out
    }
}

/// The device's final word: its byte counts are digits, the verdict is what follows.
fn result(s: &Session, reset: bool) -> Event {
    let text = String::from_utf8_lossy(&s.reply);
    let verdict_text = text
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim()
        .to_string();
    let verdict = if verdict_text.contains("OK") {
        "ok"
    } else if verdict_text.is_empty() {
        "none"
    } else {
        "err"
    };
    let how = if reset { "reset" } else { "closed" };
    Event::new(
        Source::Net,
        "ota.result",
        format!(
            "device {how} the transfer after {} bytes: {}",
            s.sent,
            if verdict_text.is_empty() {
                "(no result text)"
            } else {
                &verdict_text
            }
        ),
    )
    .with("text", verdict_text)
    .with("verdict", verdict)
}

#[cfg(test)]
mod tests {
    use super::super::build::{frame, tcp as tcp_bytes, udp as udp_bytes};
    use super::super::packet::parse;
    use super::super::pcap::LinkType;
    use super::*;

    const HOST: [u8; 4] = [10, 0, 0, 1];
    const DEV: [u8; 4] = [10, 0, 0, 2];
    const MD5: &str = "0123456789abcdef0123456789abcdef";

    fn feed(d: &mut OtaDecoder, t: i64, f: Vec<u8>) -> Vec<Event> {
        d.packet(t, &parse(LinkType::Ethernet, &f).unwrap())
    }

    #[test]
    fn a_successful_session() {
        let mut d = OtaDecoder::new();
        let inv = format!("0 40000 3000 {MD5}\n");
        let mut ev = feed(
            &mut d,
            0,
            frame(HOST, DEV, 17, &udp_bytes(50000, 3232, inv.as_bytes())),
        );
        ev.extend(feed(
            &mut d,
            1,
            frame(DEV, HOST, 17, &udp_bytes(3232, 50000, b"OK")),
        ));
        ev.extend(feed(
            &mut d,
            2,
            frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
        ));
        ev.extend(feed(
            &mut d,
            3,
            frame(HOST, DEV, 6, &tcp_bytes(40000, 51000, SYN | ACK, b"")),
        ));
        for i in 0..3 {
            ev.extend(feed(
                &mut d,
                4 + i,
                frame(HOST, DEV, 6, &tcp_bytes(40000, 51000, ACK, &[0xE9; 1000])),
            ));
        }
        ev.extend(feed(
            &mut d,
            10,
            frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, ACK, b"10001000")),
        ));
        ev.extend(feed(
            &mut d,
            11,
            frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, ACK | FIN, b"1000OK")),
        ));
        let kinds: Vec<&str> = ev.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds[..4],
            ["ota.invite", "ota.reply", "tcp.connect", "ota.progress"]
        );
        let res = ev.iter().find(|e| e.kind == "ota.result").unwrap();
        assert_eq!(res.fields["verdict"], "ok".into());
        assert_eq!(
            ev.iter()
                .rfind(|e| e.kind == "ota.progress")
                .unwrap()
                .fields["percent"],
            100i64.into()
        );
    }

    #[test]
    fn unanswered_connect_back_is_a_timeout() {
        let mut d = OtaDecoder::new();
        feed(
            &mut d,
            0,
            frame(
                HOST,
                DEV,
                17,
                &udp_bytes(50000, 8266, format!("0 40000 10 {MD5}").as_bytes()),
            ),
        );
        feed(
            &mut d,
            1_000,
            frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
        );
        feed(
            &mut d,
            1_001_000,
            frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
        );
        let end = d.finish(20_000_000);
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].fields["outcome"], "timeout".into());
    }

    #[test]
    fn unrelated_traffic_makes_no_events() {
        let mut d = OtaDecoder::new();
        assert!(feed(&mut d, 0, frame(HOST, DEV, 17, &udp_bytes(53, 53, b"dns"))).is_empty());
        assert!(
            feed(
                &mut d,
                0,
                frame(HOST, DEV, 17, &udp_bytes(5, 3232, b"0 1 2 not-an-md5\n"))
            )
            .is_empty()
        );
        assert!(
            feed(
                &mut d,
                0,
                frame(HOST, DEV, 6, &tcp_bytes(80, 40000, SYN, b""))
            )
            .is_empty()
        );
    }
}
