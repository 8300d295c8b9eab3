//! The UDP half of an attempt: invitation (and retries), challenge, answer, verdict.

use super::{OtaDecoder, Phase, Session, cause_hint, error_code, net};
use crate::decode::net::auth::{self, Check};
use crate::decode::net::packet::Packet;
use crate::event::Event;
use regex::bytes::Regex;
use std::sync::LazyLock;

static INVITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(0|100) (\d{1,5}) (\d{1,12}) ([0-9a-fA-F]{32})\r?\n?$").unwrap()
});
static AUTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^200 ([0-9a-f]{32}|[0-9a-f]{64}) ([0-9a-f]{32}|[0-9a-f]{64})\n?$").unwrap()
});

/// What the host sent, parsed.
struct Invite {
    command: u64,
    host_port: u16,
    size: u64,
    md5: String,
}

fn invite(payload: &[u8]) -> Option<Invite> {
    let c = INVITE.captures(payload)?;
    let num = |i: usize| {
        std::str::from_utf8(&c[i])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    };
    Some(Invite {
        command: num(1)?,
        host_port: u16::try_from(num(2)?).ok()?,
        size: num(3)?,
        md5: String::from_utf8_lossy(&c[4]).to_ascii_lowercase(),
    })
}

impl OtaDecoder {
    pub(super) fn udp(
        &mut self,
        t: i64,
        p: &Packet<'_>,
        sport: u16,
        dport: u16,
        payload: &[u8],
        out: &mut Vec<Event>,
    ) {
        // The first byte rules out most datagrams before a regex (and its allocation).
        let first = payload.first().copied();
        if let Some(b'0' | b'1') = first
            && let Some(inv) = invite(payload)
        {
            out.push(self.invitation(t, p, sport, dport, inv));
        } else if first == Some(b'2')
            && let Some(c) = AUTH.captures(payload)
        {
            let cnonce = String::from_utf8_lossy(&c[1]).into_owned();
            let response = String::from_utf8_lossy(&c[2]).into_owned();
            out.push(self.answer(t, p, sport, dport, &cnonce, &response));
        } else if let Some(e) = self.reply(t, p, sport, dport, payload) {
            out.push(e);
        }
    }

    fn invitation(&mut self, t: i64, p: &Packet<'_>, sport: u16, dport: u16, inv: Invite) -> Event {
        // espota (ESP32) repeats an unanswered invitation from a new socket: same attempt.
        let retry = self.sessions.iter_mut().rev().find(|s| {
            s.host == p.src
                && s.device == p.dst
                && s.device_port == dport
                && s.phase == Phase::Invited
                && (s.host_port, s.size, s.command) == (inv.host_port, inv.size, inv.command)
                && s.md5 == inv.md5
        });
        let (id, tries) = if let Some(s) = retry {
            s.tries += 1;
            s.asked_at = t;
            (s.id, s.tries)
        } else {
            self.next_id += 1;
            let s = Session {
                id: self.next_id,
                host: p.src,
                device: p.dst,
                device_port: dport,
                host_port: inv.host_port,
                command: inv.command,
                size: inv.size,
                md5: inv.md5.clone(),
                tries: 1,
                phase: Phase::Invited,
                asked_at: t,
                nonce: None,
                conn: Default::default(),
            };
            self.add(s);
            (self.next_id, 1)
        };
        let what = if inv.command == 100 {
            "filesystem"
        } else {
            "firmware"
        };
        let again = if tries > 1 {
            format!(" (try {tries})")
        } else {
            String::new()
        };
        net(
            "ota.invite",
            format!(
                "invitation{again} to {}:{dport}: {what}, {} bytes, connect back to port {}",
                p.dst, inv.size, inv.host_port
            ),
        )
        .with("device_ip", p.dst.to_string())
        .with("host_ip", p.src.to_string())
        .with("dst_port", i64::from(dport))
        .with("src_port", i64::from(sport))
        .with("command", inv.command as i64)
        .with("target", what)
        .with("host_port", i64::from(inv.host_port))
        .with("image_size", inv.size as i64)
        .with("md5", inv.md5)
        .with("attempt", i64::from(id))
        .with("try", i64::from(tries))
        .with("retry", tries > 1)
    }

    fn answer(
        &mut self,
        t: i64,
        p: &Packet<'_>,
        sport: u16,
        dport: u16,
        cnonce: &str,
        response: &str,
    ) -> Event {
        let scheme = if response.len() == 64 {
            "sha256"
        } else {
            "md5"
        };
        let mut e = net(
            "ota.auth",
            format!("password answer to {}:{dport} ({scheme})", p.dst),
        )
        .with("device_ip", p.dst.to_string())
        .with("host_ip", p.src.to_string())
        .with("dst_port", i64::from(dport))
        .with("src_port", i64::from(sport))
        .with("cnonce", cnonce)
        .with("response", response)
        .with("scheme", scheme);
        let Some(s) = self.sessions.iter_mut().rev().find(|s| {
            s.host == p.src
                && s.device == p.dst
                && s.device_port == dport
                && matches!(s.phase, Phase::Challenged | Phase::Answered)
        }) else {
            return e;
        };
        s.phase = Phase::Answered;
        s.asked_at = t;
        e = e.with("attempt", i64::from(s.id));
        let nonce = s.nonce.clone();
        if let Some(n) = &nonce {
            // A tool that read 37 bytes of a 69-byte challenge answers the old way.
            e = e.with("scheme_mismatch", n.len() == 64 && response.len() == 32);
        }
        let Some(pw) = self.opts.password.clone() else {
            return e;
        };
        match nonce
            .as_deref()
            .map(|n| auth::arduino(&pw, n, cnonce, response))
        {
            Some(Check::Right(hash)) => {
                e.text.push_str(": right password");
                e.with("password_ok", true).with("password_hash", hash)
            }
            Some(Check::Wrong) => {
                e.text.push_str(": WRONG password");
                e.with("password_ok", false)
            }
            Some(Check::Unknown) => {
                self.note(format!("the password answer to {} could not be checked: its challenge is neither 32 nor 64 hex digits", p.dst));
                e
            }
            None => {
                self.note(format!("the password answer to {} could not be checked: the device's challenge (AUTH <nonce>) is not in the capture", p.dst));
                e
            }
        }
    }

    /// A datagram from a device we invited, from its OTA port.
    fn reply(
        &mut self,
        t: i64,
        p: &Packet<'_>,
        sport: u16,
        dport: u16,
        payload: &[u8],
    ) -> Option<Event> {
        if !self.device_ports.contains(sport) {
            return None;
        }
        let pos = self.sessions.iter().rposition(|s| {
            s.device == p.src
                && s.device_port == sport
                && s.host == p.dst
                && matches!(s.phase, Phase::Invited | Phase::Answered)
        });
        let pos = pos.or_else(|| {
            self.sessions
                .iter()
                .rposition(|s| s.device == p.src && s.device_port == sport)
        })?;
        let s = &mut self.sessions[pos];
        let text = String::from_utf8_lossy(&payload[..payload.len().min(256)])
            .trim()
            .to_string();
        let phase = if s.phase == Phase::Answered {
            "auth"
        } else {
            "invite"
        };
        let mut e = net("ota.reply", format!("device {} answered: {text}", p.src))
            .with("device_ip", p.src.to_string())
            .with("host_ip", p.dst.to_string())
            .with("src_port", i64::from(sport))
            .with("dst_port", i64::from(dport))
            .with("attempt", i64::from(s.id))
            .with("phase", phase)
            .with("latency_ms", (t - s.asked_at).max(0) / 1000);
        let verdict = classify(s, &text, &mut e);
        Some(e.with("verdict", verdict).with("text", text))
    }
}

/// Moves the attempt on according to the device's words; returns the verdict.
fn classify(s: &mut Session, text: &str, e: &mut Event) -> &'static str {
    let awaiting = matches!(s.phase, Phase::Invited | Phase::Answered);
    let (verdict, next) = match text {
        "OK" => ("ok", Phase::Accepted),
        t if t.starts_with("AUTH") => ("auth", Phase::Challenged),
        "Authentication Failed" => ("auth_failed", Phase::AuthFailed),
        t if t.starts_with("ERR") => ("err", Phase::Refused),
        _ => return "other",
    };
    if awaiting {
        s.phase = next;
    }
    if verdict == "auth" {
        let nonce = text[4..].trim();
        let scheme = match nonce.len() {
            32 if nonce.bytes().all(|b| b.is_ascii_hexdigit()) => "md5",
            64 if nonce.bytes().all(|b| b.is_ascii_hexdigit()) => "sha256",
            _ => "invalid",
        };
        e.fields.insert("scheme".into(), scheme.into());
        e.fields
            .insert("nonce_len".into(), (nonce.len() as i64).into());
        if scheme != "invalid" {
            e.fields.insert("nonce".into(), nonce.into());
            s.nonce = Some(nonce.to_string());
        }
    }
    if verdict == "err" {
        if let Some(c) = error_code(text) {
            e.fields.insert("error_code".into(), c.into());
        }
        if let Some(h) = cause_hint(text) {
            e.fields.insert("cause_hint".into(), h.into());
        }
    }
    verdict
}
