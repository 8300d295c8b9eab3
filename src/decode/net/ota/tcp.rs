//! The TCP half of an attempt: the device's connection back to the uploader, the data
//! phase measured from TCP sequence numbers (so retransmissions are not counted twice),
//! the device's ASCII byte counts, stalls, zero windows, and the close.

use super::{OtaDecoder, Session, cause_hint, error_code, net};
use crate::decode::net::packet::{ACK, FIN, Layer, Packet, RST, SYN};
use crate::event::Event;

/// A transfer with no data for this long is reported as a stall.
pub(super) const STALL_US: i64 = 2_000_000;
/// How long espota waits for the device to connect back (both tools).
const ACCEPT_US: i64 = 10_000_000;
/// A segment this far beyond the data seen so far is not part of this transfer.
const MAX_JUMP: u64 = 16 << 20;
/// The device's result text is at most this long.
const MAX_REPLY: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Conn {
    syn_at: Option<i64>,
    syns: u32,
    device_tcp_port: u16,
    established: bool,
    refused: bool,
    /// The host's initial sequence number (from its SYN-ACK, else guessed).
    isn: Option<u32>,
    /// Host bytes: highest offset seen, and acknowledged by the device.
    sent: u64,
    acked: u64,
    retransmits: u32,
    zero_windows: u32,
    in_zero_window: bool,
    first_data: Option<i64>,
    last_data: i64,
    max_gap_us: i64,
    next_percent: u64,
    reply: Vec<u8>,
    /// Sum of the device's ASCII byte counts; `merged` when some ran together.
    counts: u64,
    merged: bool,
    closed_by: Option<(&'static str, &'static str)>,
    over: bool,
}

impl Conn {
    pub(super) fn is_over(&self) -> bool {
        self.over
    }
}

struct Seg<'a> {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: &'a [u8],
}

impl OtaDecoder {
    /// Returns false when the segment belongs to no ArduinoOTA attempt.
    pub(super) fn tcp(&mut self, t: i64, p: &Packet<'_>, out: &mut Vec<Event>) -> bool {
        let Layer::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            payload,
        } = p.layer
        else {
            return false;
        };
        if !self.host_ports.contains(dport) && !self.host_ports.contains(sport) {
            return false;
        }
        let seg = Seg {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            payload,
        };
        let found = self
            .sessions
            .iter()
            .rposition(|s| s.device == p.src && s.host == p.dst && s.host_port == dport);
        let (pos, from_device) = match found {
            Some(i) => (i, true),
            None => match self
                .sessions
                .iter()
                .rposition(|s| s.device == p.dst && s.host == p.src && s.host_port == sport)
            {
                Some(i) => (i, false),
                None => return false,
            },
        };
        segment(&mut self.sessions[pos], t, from_device, &seg, out);
        true
    }
}

fn connect_event(s: &Session, outcome: &str) -> Event {
    net(
        "tcp.connect",
        format!("device {} → host port {}: {outcome}", s.device, s.host_port),
    )
    .with("device_ip", s.device.to_string())
    .with("host_ip", s.host.to_string())
    .with("host_port", i64::from(s.host_port))
    .with("device_port", i64::from(s.conn.device_tcp_port))
    .with("attempt", i64::from(s.id))
    .with("syn_count", i64::from(s.conn.syns))
    .with("outcome", outcome)
}

fn segment(s: &mut Session, t: i64, from_device: bool, g: &Seg<'_>, out: &mut Vec<Event>) {
    let c = &mut s.conn;
    let dev_port = if from_device { g.sport } else { g.dport };
    if from_device && g.flags & SYN != 0 && g.flags & ACK == 0 {
        if c.syn_at.is_none() || (c.device_tcp_port == g.sport && !c.established) {
            c.syn_at.get_or_insert(t);
            c.device_tcp_port = g.sport;
            c.syns += 1;
        }
        return;
    }
    if c.syn_at.is_none() {
        // The capture began after the connection was opened.
        c.syn_at = Some(t);
        c.device_tcp_port = dev_port;
        c.established = true;
    }
    if dev_port != c.device_tcp_port || c.over {
        return;
    }
    if !from_device && !c.established && !c.refused {
        if g.flags & (SYN | ACK) == SYN | ACK {
            c.established = true;
            c.isn = Some(g.seq);
            c.last_data = t;
            let latency = (t - c.syn_at.unwrap_or(t)) / 1000;
            out.push(connect_event(s, "established").with("latency_ms", latency));
            return;
        }
        if g.flags & RST != 0 {
            c.refused = true;
            c.over = true;
            out.push(connect_event(s, "refused"));
            return;
        }
    }
    if from_device {
        device_segment(s, g, out);
    } else {
        host_segment(s, t, g, out);
    }
    close(s, t, from_device, g.flags, out);
}

fn host_segment(s: &mut Session, t: i64, g: &Seg<'_>, out: &mut Vec<Event>) {
    let c = &mut s.conn;
    if g.payload.is_empty() {
        return;
    }
    let isn = *c.isn.get_or_insert(g.seq.wrapping_sub(1));
    let start = u64::from(g.seq.wrapping_sub(isn).wrapping_sub(1));
    let end = start + g.payload.len() as u64;
    if end <= c.sent {
        c.retransmits += 1;
        return;
    }
    if start > c.sent + MAX_JUMP {
        return;
    }
    if let Some(first) = c.first_data {
        let gap = t - c.last_data;
        c.max_gap_us = c.max_gap_us.max(gap);
        if gap > STALL_US && first < t {
            out.push(stall(s, gap, false));
        }
    }
    let c = &mut s.conn;
    c.first_data.get_or_insert(t);
    c.last_data = t;
    c.sent = end;
    let pct = (c.sent * 100)
        .checked_div(s.size)
        .map_or(100, |p| p.min(100));
    if pct >= c.next_percent.max(10) {
        c.next_percent = (pct / 10 + 1) * 10;
        out.push(progress(s, pct));
    }
}

fn rate(c: &Conn) -> i64 {
    let us = c.last_data - c.first_data.unwrap_or(c.last_data);
    (c.sent as i64 * 1_000_000).checked_div(us).unwrap_or(0)
}

fn progress(s: &Session, pct: u64) -> Event {
    let c = &s.conn;
    net(
        "ota.progress",
        format!("{pct}% ({} of {} bytes)", c.sent, s.size),
    )
    .with("bytes", c.sent as i64)
    .with("percent", pct as i64)
    .with("bytes_acked", c.acked as i64)
    .with("device_bytes", c.counts as i64)
    .with("rate_bps", rate(c))
    .with("attempt", i64::from(s.id))
}

fn stall(s: &Session, gap_us: i64, ended: bool) -> Event {
    let c = &s.conn;
    let how = if ended {
        "and never resumed"
    } else {
        "then resumed"
    };
    net(
        "tcp.stall",
        format!(
            "no data for {} ms at {} bytes, {how}",
            gap_us / 1000,
            c.sent
        ),
    )
    .with("device_ip", s.device.to_string())
    .with("host_port", i64::from(s.host_port))
    .with("gap_ms", gap_us / 1000)
    .with("bytes_acked", c.acked as i64)
    .with("bytes_sent", c.sent as i64)
    .with(
        "percent",
        (c.sent * 100)
            .checked_div(s.size)
            .map_or(100, |p| p.min(100)) as i64,
    )
    .with("ended", ended)
    .with("attempt", i64::from(s.id))
}

fn device_segment(s: &mut Session, g: &Seg<'_>, out: &mut Vec<Event>) {
    let c = &mut s.conn;
    if g.flags & ACK != 0
        && let Some(isn) = c.isn
    {
        let a = u64::from(g.ack.wrapping_sub(isn).wrapping_sub(1));
        if a <= c.sent && a > c.acked {
            c.acked = a;
        }
    }
    if g.window == 0 && g.flags & RST == 0 {
        if !c.in_zero_window {
            c.in_zero_window = true;
            c.zero_windows += 1;
            out.push(
                net(
                    "tcp.zero_window",
                    format!(
                        "device {} stopped accepting data (zero window) at {} bytes",
                        s.device, c.acked
                    ),
                )
                .with("device_ip", s.device.to_string())
                .with("host_port", i64::from(s.host_port))
                .with("bytes_acked", c.acked as i64)
                .with("attempt", i64::from(s.id)),
            );
        }
    } else {
        c.in_zero_window = false;
    }
    if g.payload.is_empty() {
        return;
    }
    let digits: Vec<u8> = g
        .payload
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    // One count per device read is at most a socket buffer; a longer run is several
    // counts printed back to back, which cannot be split reliably.
    match std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
    {
        Some(n) if n <= 65_535 => c.counts += n,
        Some(_) => c.merged = true,
        None => {}
    }
    let room = MAX_REPLY.saturating_sub(c.reply.len());
    c.reply
        .extend_from_slice(&g.payload[..g.payload.len().min(room)]);
}

fn close(s: &mut Session, t: i64, from_device: bool, flags: u8, out: &mut Vec<Event>) {
    if flags & (FIN | RST) == 0 {
        return;
    }
    let who = if from_device { "device" } else { "host" };
    let how = if flags & RST != 0 { "rst" } else { "fin" };
    s.conn.closed_by.get_or_insert((who, how));
    // A host FIN still lets the device send its verdict; wait for the device.
    if from_device || how == "rst" {
        end(s, t, how, out);
    }
}

fn end(s: &mut Session, t: i64, how: &str, out: &mut Vec<Event>) {
    let c = &s.conn;
    if c.first_data.is_some() && c.sent < s.size && t - c.last_data > STALL_US {
        out.push(stall(s, t - c.last_data, true));
    }
    out.push(result(s, how));
    out.push(transfer(s));
    s.conn.over = true;
}

pub(super) fn finish(s: &mut Session, end_us: i64, out: &mut Vec<Event>) {
    let c = &s.conn;
    if c.over {
        return;
    }
    if let (Some(at), false, false) = (c.syn_at, c.established, c.refused) {
        let mut e = connect_event(s, "timeout");
        e.t_us = at.max(end_us.min(at + ACCEPT_US));
        out.push(e);
        s.conn.over = true;
    } else if c.established {
        let mut evs = Vec::new();
        end(s, end_us, "capture_end", &mut evs);
        for mut e in evs {
            e.t_us = end_us;
            out.push(e);
        }
    }
}

/// The device's final word: its byte counts are digits, the verdict is what follows.
fn result(s: &Session, how: &str) -> Event {
    let c = &s.conn;
    let text = String::from_utf8_lossy(&c.reply);
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
    let (who, how) = match c.closed_by {
        Some((w, h)) => (w, h),
        None => ("nobody", how),
    };
    let shown = if verdict_text.is_empty() {
        "(no result text)"
    } else {
        &verdict_text
    };
    let verb = match how {
        "rst" => format!("{who} reset the connection"),
        "fin" => format!("{who} closed the connection"),
        _ => "capture ended".to_string(),
    };
    let mut e = net(
        "ota.result",
        format!("{verb} after {} bytes: {shown}", c.sent),
    )
    .with("verdict", verdict)
    .with("closed_by", who)
    .with("how", how)
    .with("bytes_sent", c.sent as i64)
    .with("image_size", s.size as i64)
    .with("complete", c.sent >= s.size)
    .with("attempt", i64::from(s.id));
    if verdict == "err" {
        if let Some(code) = error_code(&verdict_text) {
            e = e.with("error_code", code);
        }
        // "Not Enough Space" after data was sent means more arrived than announced,
        // not an image too big (that is refused before the transfer).
        if let Some(h) = cause_hint(&verdict_text).filter(|h| *h != "insufficient_space") {
            e = e.with("cause_hint", h);
        }
    }
    e.with("text", verdict_text)
}

/// A summary of the data phase: what was sent, acknowledged and reported, how fast.
fn transfer(s: &Session) -> Event {
    let c = &s.conn;
    let dur = (c.last_data - c.first_data.unwrap_or(c.last_data)) / 1000;
    let mut e = net(
        "ota.transfer",
        format!(
            "{} of {} bytes sent ({} acknowledged) in {dur} ms, {} B/s, {} retransmission(s), {} zero window(s)",
            c.sent, s.size, c.acked, rate(c), c.retransmits, c.zero_windows
        ),
    )
    .with("bytes_sent", c.sent as i64)
    .with("bytes_acked", c.acked as i64)
    .with("device_bytes", c.counts as i64)
    .with("image_size", s.size as i64)
    .with("duration_ms", dur)
    .with("rate_bps", rate(c))
    .with("retransmits", i64::from(c.retransmits))
    .with("zero_windows", i64::from(c.zero_windows))
    .with("max_gap_ms", c.max_gap_us / 1000)
    .with("complete", c.sent >= s.size)
    .with("attempt", i64::from(s.id));
    if c.merged {
        e = e.with("device_counts_merged", true);
    }
    e
}
