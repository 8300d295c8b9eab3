//! Where the current OTA attempt stands and how the serial port is doing, derived
//! from events and notes alone so a replay shows the same status a live run did.

use crate::event::{Event, Source, Value};

/// The latest attempt's phase, as far as any source tells.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Waiting,
    Invited,
    Authenticating,
    /// The device accepted; the host waits for it to connect back.
    Connecting,
    Transferring(u8),
    Done,
    /// The first reason any source gave.
    Failed(String),
}

impl Phase {
    /// Phases only move forward within an attempt, so a late uploader line cannot
    /// undo what the wire already showed; a new invitation starts over.
    fn rank(&self) -> u8 {
        match self {
            Phase::Waiting => 0,
            Phase::Invited => 1,
            Phase::Authenticating => 2,
            Phase::Connecting => 3,
            Phase::Transferring(_) => 4,
            Phase::Done | Phase::Failed(_) => 5,
        }
    }

    /// The phase after `e`.
    pub fn step(&self, e: &Event) -> Phase {
        if let Some(p) = new_attempt(self, e) {
            return p;
        }
        let Some(next) = implied(e) else {
            return self.clone();
        };
        match (self, &next) {
            (Phase::Transferring(a), Phase::Transferring(b)) => Phase::Transferring(*a.max(b)),
            _ if next.rank() > self.rank() => next,
            _ => self.clone(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Phase::Waiting => "waiting".into(),
            Phase::Invited => "invited".into(),
            Phase::Authenticating => "authenticating".into(),
            Phase::Connecting => "connecting".into(),
            Phase::Transferring(p) => format!("transferring {p:>2} %"),
            Phase::Done => "done".into(),
            Phase::Failed(why) => format!("failed: {why}"),
        }
    }

    pub fn percent(&self) -> Option<u8> {
        match self {
            Phase::Transferring(p) => Some(*p),
            Phase::Done => Some(100),
            _ => None,
        }
    }
}

/// An invitation after the previous attempt ended (or the first one) starts over.
/// The wire's invite is authoritative; the uploader's line only when nothing else
/// has started an attempt.
fn new_attempt(cur: &Phase, e: &Event) -> Option<Phase> {
    let retry = e.field("retry") == Some(&Value::Bool(true));
    let fresh = match (e.source, &*e.kind) {
        (Source::Net, "ota.invite") => !retry && *cur != Phase::Invited,
        (Source::Host, "espota.invite") => {
            matches!(cur, Phase::Waiting | Phase::Done | Phase::Failed(_))
        }
        _ => false,
    };
    fresh.then_some(Phase::Invited)
}

fn text_field(e: &Event, name: &str) -> String {
    match e.field(name) {
        Some(Value::Str(s)) if !s.is_empty() => s.clone(),
        _ => e.text.clone(),
    }
}

/// What a single event says about the phase, if anything.
fn implied(e: &Event) -> Option<Phase> {
    let str_of = |n: &str| match e.field(n) {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    };
    let percent = || {
        e.field("percent")
            .and_then(Value::as_i64)
            .map(|p| Phase::Transferring(p.clamp(0, 100) as u8))
    };
    match &*e.kind {
        "ota.auth" => Some(Phase::Authenticating),
        "ota.reply" => match str_of("verdict") {
            "auth" => Some(Phase::Authenticating),
            "ok" => Some(Phase::Connecting),
            "auth_failed" => Some(Phase::Failed("authentication failed".into())),
            "err" => Some(Phase::Failed(text_field(e, "text"))),
            _ => None,
        },
        "espota.auth" => match str_of("result") {
            "OK" => Some(Phase::Connecting),
            "FAIL" => Some(Phase::Failed("authentication failed".into())),
            _ => Some(Phase::Authenticating),
        },
        "espota.wait" | "ota.start" => Some(Phase::Connecting),
        "tcp.connect" => match str_of("outcome") {
            "established" => Some(Phase::Transferring(0)),
            "refused" => Some(Phase::Failed("host refused the device's connection".into())),
            _ => Some(Phase::Failed("the device never connected back".into())),
        },
        "ota.progress" | "espota.progress" => percent(),
        "ota.end" => Some(Phase::Done),
        "ota.result" | "espota.result" => Some(result(e, str_of("verdict"))),
        "ota.error" | "espota.error" => Some(Phase::Failed(text_field(e, "text"))),
        "icmp.unreachable" => Some(Phase::Failed(e.text.clone())),
        "arp.unanswered" => Some(Phase::Failed("the device does not answer ARP".into())),
        _ => None,
    }
}

/// `ota.result` carries a verdict, `espota.result` an `ok` flag.
fn result(e: &Event, verdict: &str) -> Phase {
    let ok = verdict == "ok" || e.field("ok") == Some(&Value::Bool(true));
    if ok {
        Phase::Done
    } else {
        let why = text_field(e, "text");
        Phase::Failed(if why.is_empty() {
            "no result".into()
        } else {
            why
        })
    }
}

/// The serial port's health, from the notes the serial source sends.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SerialState {
    #[default]
    Open,
    Reconnecting,
    Lost,
    Garbled,
}

impl SerialState {
    /// The state a note implies; `None` for notes about something else. Matches the
    /// wording of [`crate::capture::serial::SerialStatus`]'s `Display`.
    pub fn from_note(note: &str) -> Option<SerialState> {
        if note.starts_with("serial port went away") {
            Some(SerialState::Reconnecting)
        } else if note.starts_with("serial port back") {
            Some(SerialState::Open)
        } else if note.starts_with("serial port did not come back") {
            Some(SerialState::Lost)
        } else if note.starts_with("serial output is garbled") {
            Some(SerialState::Garbled)
        } else {
            None
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            SerialState::Open => "open",
            SerialState::Reconnecting => "reconnecting",
            SerialState::Lost => "lost",
            SerialState::Garbled => "garbled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(kind: &str) -> Event {
        Event::new(Source::Net, kind.to_string(), kind)
    }

    #[test]
    fn a_clean_upload_walks_every_phase() {
        let evs = [
            net("ota.invite"),
            net("ota.reply").with("verdict", "auth"),
            net("ota.auth"),
            net("ota.reply").with("verdict", "ok"),
            net("tcp.connect").with("outcome", "established"),
            net("ota.progress").with("percent", 40i64),
            net("ota.result").with("verdict", "ok"),
        ];
        let mut p = Phase::default();
        let mut seen = Vec::new();
        for e in &evs {
            p = p.step(e);
            seen.push(p.label());
        }
        assert_eq!(
            seen,
            [
                "invited",
                "authenticating",
                "authenticating",
                "connecting",
                "transferring  0 %",
                "transferring 40 %",
                "done"
            ]
        );
    }

    #[test]
    fn a_late_line_does_not_undo_progress_and_the_first_failure_stays() {
        let mut p = Phase::Transferring(60);
        p = p.step(&Event::new(Source::Host, "espota.progress", "").with("percent", 30i64));
        assert_eq!(p, Phase::Transferring(60));
        p = p.step(&Event::new(Source::Serial, "ota.error", "x").with("text", "Bad Size Given"));
        p = p.step(&Event::new(
            Source::Host,
            "espota.error",
            "No response from device",
        ));
        assert_eq!(p, Phase::Failed("Bad Size Given".into()));
        p = p.step(&net("ota.invite"));
        assert_eq!(p, Phase::Invited);
    }

    #[test]
    fn serial_notes_map_to_states() {
        let s = crate::capture::serial::SerialStatus::Lost { after_ms: 5 }.to_string();
        assert_eq!(SerialState::from_note(&s), Some(SerialState::Lost));
        assert_eq!(
            SerialState::from_note("the uploader exited with status 1"),
            None
        );
    }
}
