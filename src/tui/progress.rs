//! Throughput of the current attempt, from the wire decoder's `ota.progress` events.

use crate::event::{Event, Source, Value};

/// Enough points for a wide sparkline; the decoder reports every 10 %, so one
/// attempt gives about ten.
const KEEP: usize = 240;

#[derive(Debug, Default, Clone)]
pub struct Throughput {
    /// Bytes per second between consecutive progress reports.
    pub rates: Vec<u64>,
    last: Option<(i64, i64)>,
}

impl Throughput {
    pub fn step(&mut self, e: &Event) {
        if e.source != Source::Net {
            return;
        }
        if e.kind == "ota.invite" && e.field("retry") != Some(&Value::Bool(true)) {
            // A new attempt: its speed is what the user watches now.
            *self = Throughput::default();
            return;
        }
        if e.kind != "ota.progress" {
            return;
        }
        let bytes = e.field("bytes").and_then(Value::as_i64).unwrap_or(0);
        // The interval rate shows a stall as a dip; the decoder's own average
        // (rate_bps) would smooth it away, so it only seeds the first point.
        let rate = match self.last {
            Some((t, b)) if e.t_us > t => {
                bytes.saturating_sub(b).max(0).saturating_mul(1_000_000) / e.t_us.saturating_sub(t)
            }
            _ => e.field("rate_bps").and_then(Value::as_i64).unwrap_or(0),
        };
        self.last = Some((e.t_us, bytes));
        self.rates.push(rate.max(0) as u64);
        if self.rates.len() > KEEP {
            self.rates.remove(0);
        }
    }

    pub fn latest(&self) -> Option<u64> {
        self.rates.last().copied()
    }
}

/// `12.3 kB/s`, for the sparkline's title.
pub fn human_rate(bps: u64) -> String {
    match bps {
        0..1_000 => format!("{bps} B/s"),
        1_000..1_000_000 => format!("{:.1} kB/s", bps as f64 / 1e3),
        _ => format!("{:.2} MB/s", bps as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(t_us: i64, bytes: i64) -> Event {
        let mut e = Event::new(Source::Net, "ota.progress", "")
            .with("bytes", bytes)
            .with("rate_bps", 9_999i64);
        e.t_us = t_us;
        e
    }

    #[test]
    fn rates_are_per_interval_and_reset_on_a_new_attempt() {
        let mut t = Throughput::default();
        t.step(&progress(1_000_000, 10_000));
        t.step(&progress(2_000_000, 30_000));
        t.step(&progress(4_000_000, 30_000));
        assert_eq!(t.rates, [9_999, 20_000, 0]);
        t.step(&Event::new(Source::Net, "ota.invite", ""));
        assert!(t.rates.is_empty());
        assert_eq!(human_rate(20_000), "20.0 kB/s");
    }
}
