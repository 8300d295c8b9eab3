//! The one host clock every source stamps with.
//!
//! Stamps are microseconds since the Unix epoch so they line up with pcap files and with
//! ISO-stamped logs. The wall clock is read once, at start; after that time advances by
//! the monotonic clock. An NTP step or a manual `date -s` during a capture therefore
//! cannot make serial lines and packets run backwards against each other, which would
//! break every "A happened before B" rule.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Cheap to copy: every copy reads the same origin, so threads agree on the time.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    origin_us: i64,
    origin: Instant,
}

impl HostClock {
    pub fn new() -> HostClock {
        let origin = Instant::now();
        // A clock set before 1970 is a broken host, not a reason to stop: start at 0.
        let origin_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        HostClock { origin_us, origin }
    }

    /// Now, in µs since the Unix epoch; never less than an earlier call on any copy.
    pub fn now_us(&self) -> i64 {
        let since = i64::try_from(self.origin.elapsed().as_micros()).unwrap_or(i64::MAX);
        self.origin_us.saturating_add(since)
    }
}

impl Default for HostClock {
    fn default() -> Self {
        HostClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_share_one_time_line_and_never_go_back() {
        let a = HostClock::new();
        let b = a;
        let mut last = a.now_us();
        for i in 0..10_000 {
            let t = if i % 2 == 0 { a.now_us() } else { b.now_us() };
            assert!(t >= last);
            last = t;
        }
        // Close to the wall clock (same second), so stamps match pcap files.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        assert!((wall - last).abs() < 1_000_000);
    }
}
