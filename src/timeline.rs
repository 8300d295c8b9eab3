//! One ordered timeline from several sources, grouped into OTA attempts, plus the
//! session facts (chip, flash size) that rules and reports need. No I/O.

use crate::decode::DecodedLog;
use crate::decode::timestamp::{Clock, DAY_US};
use crate::event::{Event, Source, Value};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone)]
pub struct Timeline {
    /// Sorted by time, ties broken by source (net, serial, host).
    pub events: Vec<Event>,
    /// OTA attempt per event: 0 = outside any attempt, 1.. = attempt number.
    pub attempt: Vec<u32>,
    /// Sources that were captured, whether or not they produced events.
    pub sources: BTreeSet<Source>,
    /// Sources whose events carry real times (others only give order).
    pub timed: BTreeSet<Source>,
    pub facts: BTreeMap<String, Value>,
    /// Capture end (µs): absence rules may only look up to here.
    pub end_us: i64,
    /// Packets read from captures (most are not OTA events).
    pub packets: usize,
    /// Log lines read but not held (thinned plain output), by source and kind.
    pub unheld: BTreeMap<(Source, String), usize>,
}

/// Collects inputs, then builds the [`Timeline`].
#[derive(Default)]
pub struct Builder {
    logs: Vec<(Source, DecodedLog)>,
    events: Vec<Event>,
    sources: BTreeSet<Source>,
    end_us: Option<i64>,
    packets: usize,
    unheld: BTreeMap<(Source, String), usize>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// A decoded log file from `source`.
    pub fn log(&mut self, source: Source, log: DecodedLog) -> &mut Self {
        self.sources.insert(source);
        self.logs.push((source, log));
        self
    }

    /// Events already on the shared clock (live capture, a trace, an example).
    pub fn events(&mut self, events: impl IntoIterator<Item = Event>) -> &mut Self {
        for e in events {
            if e.source != Source::Finding {
                self.sources.insert(e.source);
                self.events.push(e);
            }
        }
        self
    }

    /// Declares a source as captured even if it produced nothing (silence is evidence).
    pub fn captured(&mut self, s: Source) -> &mut Self {
        self.sources.insert(s);
        self
    }

    pub fn packets(&mut self, n: usize) -> &mut Self {
        self.packets += n;
        self
    }

    pub fn end(&mut self, end_us: i64) -> &mut Self {
        self.end_us = Some(end_us);
        self
    }

    pub fn build(mut self) -> Timeline {
        let epoch_only = self
            .logs
            .iter()
            .all(|(_, l)| l.clock != Some(Clock::TimeOfDay));
        let mut timed = BTreeSet::new();
        let mut untimed = Vec::new();
        for e in &self.events {
            if e.timed {
                timed.insert(e.source);
            }
        }
        for (src, log) in std::mem::take(&mut self.logs) {
            for (kind, n) in &log.unheld {
                *self.unheld.entry((src, kind.clone())).or_default() += n;
            }
            match log.clock {
                None => untimed.push((src, log.events)),
                Some(clock) => {
                    timed.insert(src);
                    // Time-of-day and dated logs can only be compared on the time of day.
                    let wrap = clock == Clock::Epoch && !epoch_only;
                    if let Some(end) = log.end_us {
                        let end = if wrap { end.rem_euclid(DAY_US) } else { end };
                        self.end_us = Some(self.end_us.map_or(end, |e| e.max(end)));
                    }
                    self.events.extend(log.events.into_iter().map(|mut e| {
                        if wrap {
                            e.t_us = e.t_us.rem_euclid(DAY_US);
                        }
                        e
                    }));
                }
            }
        }
        // Untimed logs start where the timed ones start, so a relative display is sane.
        let base = self.events.iter().map(|e| e.t_us).min().unwrap_or(0);
        for (_, evs) in untimed {
            self.events.extend(evs.into_iter().map(|mut e| {
                e.t_us += base;
                e
            }));
        }
        self.events.sort_by_key(|e| (e.t_us, e.source));
        let last = self.events.last().map_or(0, |e| e.t_us);
        let end_us = self.end_us.unwrap_or(last).max(last);
        let attempt = attempts(&self.events);
        let facts = facts(&self.events);
        Timeline {
            events: self.events,
            attempt,
            sources: self.sources,
            timed,
            facts,
            end_us,
            packets: self.packets,
            unheld: self.unheld,
        }
    }
}

impl Timeline {
    pub fn start_us(&self) -> i64 {
        self.events.first().map_or(0, |e| e.t_us)
    }

    /// Events from `s`, including log lines read but not held.
    pub fn count(&self, s: Source) -> usize {
        let unheld: usize = self
            .unheld
            .iter()
            .filter(|((src, _), _)| *src == s)
            .map(|(_, n)| n)
            .sum();
        self.events.iter().filter(|e| e.source == s).count() + unheld
    }

    /// Events of one kind from any source, including lines read but not held.
    pub fn count_kind(&self, kind: &str) -> usize {
        let unheld: usize = self
            .unheld
            .iter()
            .filter(|((_, k), _)| k == kind)
            .map(|(_, n)| n)
            .sum();
        self.events.iter().filter(|e| e.kind == kind).count() + unheld
    }

    pub fn attempts(&self) -> u32 {
        self.attempt.iter().copied().max().unwrap_or(0)
    }

    pub fn chip(&self) -> Option<&str> {
        match self.facts.get("chip") {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// Events that begin a new upload attempt (if the current one already did something).
fn starts_attempt(e: &Event) -> bool {
    match e.source {
        Source::Host => matches!(
            &*e.kind,
            "espota.options" | "espota.cmd" | "espota.listen" | "espota.invite" | "esphome.connect"
        ),
        // A re-sent invitation (the uploader retrying) is the same attempt.
        Source::Net => e.kind == "ota.invite" && e.fields.get("retry") != Some(&Value::Bool(true)),
        _ => false,
    }
}

fn is_activity(e: &Event) -> bool {
    match e.source {
        Source::Host => {
            e.kind.starts_with("espota.")
                && !matches!(
                    &*e.kind,
                    "espota.options" | "espota.cmd" | "espota.listen" | "espota.size"
                )
                || e.kind.starts_with("esphome.")
        }
        Source::Net => e.kind.starts_with("ota.") || e.kind.starts_with("tcp."),
        _ => false,
    }
}

fn attempts(events: &[Event]) -> Vec<u32> {
    let mut out = Vec::with_capacity(events.len());
    let mut cur = 0u32;
    let mut active = false;
    let mut started = false;
    // The uploader's "Sending invitation" and the invitation on the wire are one step
    // seen twice: a start within a second of the last one is the same attempt.
    let mut first_start: Option<i64> = None;
    for e in events {
        let echo = e.timed && first_start.is_some_and(|t| e.t_us.saturating_sub(t) < 1_000_000);
        if starts_attempt(e) && (active || !started) && !echo {
            cur += 1;
            active = false;
            started = true;
            first_start = Some(e.t_us);
        }
        if is_activity(e) {
            if !started {
                cur += 1;
                started = true;
            }
            active = true;
        }
        out.push(
            if e.source == Source::Host || e.source == Source::Net || started {
                cur
            } else {
                0
            },
        );
    }
    out
}

/// Session facts. The chip comes from the most direct evidence: the ROM banner, then
/// esptool, then the build system.
fn facts(events: &[Event]) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let mut chip_rank = 0;
    for e in events {
        let rank = match (e.source, &*e.kind) {
            (Source::Serial, "boot" | "boot.rom") => 4,
            (Source::Host, "esptool.chip") => 3,
            (Source::Host, "pio.hardware" | "pio.platform") => 2,
            (Source::Serial, _)
                if e.fields.contains_key("uptime_ms") && e.fields.contains_key("file") =>
            {
                1
            }
            _ => 0,
        };
        if rank > chip_rank
            && let Some(c) = e.field("chip")
        {
            f.insert("chip".to_string(), c.clone());
            chip_rank = rank;
        }
        if let Some(v) = e.field("flash_kb") {
            f.insert("flash_kb".to_string(), v.clone());
        }
        if e.kind == "espota.options" || e.kind == "espota.cmd" {
            for k in ["esp_ip", "esp_port"] {
                if let Some(v) = e.field(k) {
                    f.insert(k.to_string(), v.clone());
                }
            }
        }
        if e.kind == "wifi.ip"
            && let Some(v) = e.field("ip")
        {
            f.insert("device_ip".to_string(), v.clone());
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_log;

    #[test]
    fn merges_sources_in_time_order() {
        let mut b = Builder::new();
        b.log(
            Source::Host,
            decode_log(
                Source::Host,
                b"10:00:01 [INFO]: Sending invitation to: 1.2.3.4\n10:00:03 [ERROR]: No Answer\n",
            ),
        );
        b.log(
            Source::Serial,
            decode_log(Source::Serial, b"[10:00:02.000] IP address: 1.2.3.5\n"),
        );
        let t = b.build();
        let kinds: Vec<&str> = t.events.iter().map(|e| &*e.kind).collect();
        assert_eq!(kinds, ["espota.invite", "wifi.ip", "espota.error"]);
        assert_eq!(t.facts["device_ip"], Value::from("1.2.3.5"));
    }

    #[test]
    fn groups_attempts() {
        let log = b"Options: {'esp_port': 8266}\nSending invitation to: a\nNo Answer\nOptions: {'esp_port': 8266}\nSending invitation to: a\nNo Answer\n";
        let mut b = Builder::new();
        b.log(Source::Host, decode_log(Source::Host, log));
        let t = b.build();
        assert_eq!(t.attempt, [1, 1, 1, 2, 2, 2]);
        assert_eq!(t.attempts(), 2);
    }

    #[test]
    fn untimed_log_is_placed_at_timed_start() {
        let mut b = Builder::new();
        b.log(
            Source::Host,
            decode_log(Source::Host, b"10:00:01 [ERROR]: No Answer\n"),
        );
        b.log(Source::Serial, decode_log(Source::Serial, b"hello\n"));
        let t = b.build();
        assert!(t.timed.contains(&Source::Host) && !t.timed.contains(&Source::Serial));
        assert_eq!(t.events[0].t_us, t.events[1].t_us);
    }

    #[test]
    fn chip_prefers_rom_banner() {
        let mut b = Builder::new();
        b.log(
            Source::Host,
            decode_log(
                Source::Host,
                b"HARDWARE: ESP32 240MHz, 320KB RAM, 4MB Flash\n",
            ),
        );
        b.log(
            Source::Serial,
            decode_log(
                Source::Serial,
                b" ets Jan  8 2013,rst cause:2, boot mode:(3,6)\n",
            ),
        );
        assert_eq!(b.build().chip(), Some("esp8266"));
    }
}
#[cfg(test)]
mod attempt_tests {
    use super::*;
    use crate::decode::decode_log;

    #[test]
    fn one_espota_run_is_one_attempt() {
        let log = b"CURRENT: upload_protocol = espota\n14:02:11 [DEBUG]: Options: {'esp_port': 3232}\n14:02:11 [INFO]: Starting on 0.0.0.0:41377\n14:02:11 [INFO]: Upload size: 1\nSending invitation to 1.2.3.4 \nAuthenticating...OK\n14:02:11 [INFO]: Waiting for device...\n14:02:21 [ERROR]: No response from device\n";
        let mut b = Builder::new();
        b.log(Source::Host, decode_log(Source::Host, log));
        let t = b.build();
        let k: Vec<_> = t.events.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(t.attempts(), 1, "{k:?} {:?}", t.attempt);
    }
}
