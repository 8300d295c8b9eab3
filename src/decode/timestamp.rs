//! Timestamp prefixes that terminal programs and uploaders put in front of lines.
//!
//! Recognised (first match wins):
//! - ISO 8601 / esp-idf-monitor / tio with date: `2024-05-01T12:00:01.250Z `, `[2024-05-01 12:00:01.250] `
//! - tio and ESPHome: `[12:00:01.250] `, `[12:00:01]`
//! - PlatformIO `time` filter: `12:00:01.250 > `
//! - espota.py logging: `12:00:01 [INFO]: …` (the level stays in the text)
//! - a bare time of day followed by a space: `12:00:01.250 `

use regex::Regex;
use std::sync::LazyLock;

/// What kind of clock a stamp is on; only stamps on the same clock can be compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Microseconds since local midnight (logs that print only the time of day).
    TimeOfDay,
    /// Microseconds since the Unix epoch.
    Epoch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub us: i64,
    pub clock: Clock,
}

pub const DAY_US: i64 = 86_400_000_000;

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[?(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?(Z|([+-])(\d{2}):?(\d{2}))?\]?(?:\s*>)?\s?").unwrap()
});
static BRACKET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?\]\s?").unwrap());
static PIO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{2}):(\d{2}):(\d{2})[.,](\d{1,6}) > ?").unwrap());
static ESPOTA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{2}):(\d{2}):(\d{2}) (\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\]:)").unwrap()
});
static BARE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?\s+").unwrap());

/// Splits a leading timestamp off `line`. Returns the stamp (if any) and the rest.
pub fn split(line: &str) -> (Option<Stamp>, &str) {
    let first = line.as_bytes().first().copied().unwrap_or(b' ');
    if !(first.is_ascii_digit() || first == b'[') {
        return (None, line);
    }
    if let Some(hit) = fast_fraction_stamp(line) {
        return hit;
    }
    by_regex(line)
}

/// The regex path of [`split`], kept whole so the fast path can be checked against it.
fn by_regex(line: &str) -> (Option<Stamp>, &str) {
    if let Some(c) = ISO.captures(line) {
        let days = days_from_civil(num(&c, 1), num(&c, 2), num(&c, 3));
        let us = days * DAY_US
            + tod(
                num(&c, 4),
                num(&c, 5),
                num(&c, 6),
                c.get(7).map(|m| m.as_str()),
            );
        // An explicit offset is honoured (the stamp becomes UTC); local times stay local.
        let offset = match c.get(9).map(|m| m.as_str()) {
            Some(sign) => {
                let minutes = num(&c, 10) * 60 + num(&c, 11);
                let us = minutes * 60_000_000;
                if sign == "+" { us } else { -us }
            }
            None => 0,
        };
        let us = us - offset;
        return (
            Some(Stamp {
                us,
                clock: Clock::Epoch,
            }),
            &line[c.get(0).unwrap().end()..],
        );
    }
    if let Some(c) = ESPOTA.captures(line) {
        let us = tod(num(&c, 1), num(&c, 2), num(&c, 3), None);
        let rest = &line[c.get(4).unwrap().start()..];
        return (
            Some(Stamp {
                us,
                clock: Clock::TimeOfDay,
            }),
            rest,
        );
    }
    for re in [&*BRACKET, &*PIO, &*BARE] {
        if let Some(c) = re.captures(line) {
            let us = tod(
                num(&c, 1),
                num(&c, 2),
                num(&c, 3),
                c.get(4).map(|m| m.as_str()),
            );
            if num(&c, 1) > 23 || num(&c, 2) > 59 || num(&c, 3) > 60 {
                return (None, line);
            }
            return (
                Some(Stamp {
                    us,
                    clock: Clock::TimeOfDay,
                }),
                &line[c.get(0).unwrap().end()..],
            );
        }
    }
    (None, line)
}

/// `HH:MM:SS.fff > ` (PlatformIO) and `H:MM:SS.fff -> ` (Arduino IDE) without a regex:
/// they start nearly every line of a long log. Returns exactly what the regexes would,
/// or None to let them decide (anything unusual, including non-ASCII text).
fn fast_fraction_stamp(line: &str) -> Option<(Option<Stamp>, &str)> {
    let b = line.as_bytes();
    let hour_digits = b.iter().take(3).take_while(|c| c.is_ascii_digit()).count();
    if !(1..=2).contains(&hour_digits) {
        return None;
    }
    let d2 = |at: usize| -> Option<i64> {
        let (x, y) = (*b.get(at)?, *b.get(at + 1)?);
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| i64::from((x - b'0') * 10 + y - b'0'))
    };
    let h = line[..hour_digits].parse::<i64>().ok()?;
    let mut at = hour_digits;
    if b.get(at) != Some(&b':') || b.get(at + 3) != Some(&b':') {
        return None;
    }
    let (m, s) = (d2(at + 1)?, d2(at + 4)?);
    at += 6;
    if !matches!(b.get(at), Some(b'.' | b',')) {
        return None;
    }
    let frac_len = b[at + 1..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if !(1..=6).contains(&frac_len) {
        return None;
    }
    let frac = &line[at + 1..at + 1 + frac_len];
    at += 1 + frac_len;
    let rest_at = if hour_digits == 2 && b[at..].starts_with(b" >") {
        at + 2 + usize::from(b.get(at + 2) == Some(&b' '))
    } else {
        let ws = b[at..]
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\x0B' | b'\x0C'))
            .count();
        // \s also takes Unicode spaces; leave anything past ASCII to the regex.
        if ws == 0 || b.get(at + ws).is_some_and(|c| !c.is_ascii()) {
            return None;
        }
        at + ws
    };
    if h > 23 || m > 59 || s > 60 {
        return Some((None, line));
    }
    let stamp = Stamp {
        us: tod(h, m, s, Some(frac)),
        clock: Clock::TimeOfDay,
    };
    Some((Some(stamp), &line[rest_at..]))
}

fn num(c: &regex::Captures<'_>, i: usize) -> i64 {
    c.get(i).and_then(|m| m.as_str().parse().ok()).unwrap_or(0)
}

fn tod(h: i64, m: i64, s: i64, frac: Option<&str>) -> i64 {
    let frac_us = frac
        .map(|f| {
            let digits: i64 = f.parse().unwrap_or(0);
            digits * 10i64.pow(6 - f.len().min(6) as u32)
        })
        .unwrap_or(0);
    ((h * 60 + m) * 60 + s) * 1_000_000 + frac_us
}

/// Days since 1970-01-01 (Howard Hinnant's civil-from-days inverse).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds as `HH:MM:SS.mmm` (time of day, wrapping at midnight).
pub fn format_tod(us: i64) -> String {
    let t = us.rem_euclid(DAY_US);
    let ms = t / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tod_of(line: &str) -> (i64, String) {
        let (s, rest) = split(line);
        let s = s.expect("stamp");
        (s.us.rem_euclid(DAY_US), rest.to_string())
    }

    #[test]
    fn platformio_time_filter() {
        let (us, rest) = tod_of("13:50:50.123 > Booting");
        assert_eq!(us, tod(13, 50, 50, Some("123")));
        assert_eq!(rest, "Booting");
    }

    #[test]
    fn tio_and_esphome_brackets() {
        assert_eq!(tod_of("[10:00:00.5] x").1, "x");
        assert_eq!(tod_of("[10:00:00.5] x").0, 36_000_500_000);
        assert_eq!(tod_of("[12:34:56][I][ota:100]: hi").1, "[I][ota:100]: hi");
    }

    #[test]
    fn espota_keeps_level() {
        let (us, rest) = tod_of("17:48:31 [ERROR]: Error Uploading");
        assert_eq!(us, tod(17, 48, 31, None));
        assert_eq!(rest, "[ERROR]: Error Uploading");
    }

    #[test]
    fn iso_is_epoch() {
        let (s, rest) = split("2024-01-02T03:04:05.678Z rst:0x1");
        let s = s.unwrap();
        assert_eq!(s.clock, Clock::Epoch);
        assert_eq!(s.us, 1_704_164_645_678_000);
        assert_eq!(rest, "rst:0x1");
        let (plus, _) = split("2024-01-02T05:04:05.678+02:00 x");
        assert_eq!(plus.unwrap().us, s.us);
        let (s2, _) = split("[2024-01-02 03:04:05.678] x");
        assert_eq!(s2.unwrap().us, s.us);
    }

    #[test]
    fn fast_path_agrees_with_the_regexes() {
        let heads = [
            "08:00:00.000 > ",
            "08:00:00.000 >",
            "08:00:00.000 >x",
            "8:00:00.5 -> ",
            "08:00:00,123456 -> ",
            "08:00:00.1234567 > ",
            "24:00:00.000 > ",
            "9:60:00.1 x",
            "08:00:00.000\t\tx",
            "08:00:00.000",
            "08:00:00.000 \u{a0}x",
            "08:00:00. > ",
            "123:00:00.000 > ",
            "08:0:00.000 > ",
            "08:00:00.000  > y",
            "1:02:03,4\u{2003}x",
        ];
        for h in heads {
            for tail in ["", "Booting", " [INFO]: x", "> y"] {
                let line = format!("{h}{tail}");
                if let Some(fast) = fast_fraction_stamp(&line) {
                    assert_eq!(fast, by_regex(&line), "{line:?}");
                }
                assert_eq!(split(&line), by_regex(&line), "{line:?}");
            }
        }
        assert!(fast_fraction_stamp("08:00:00.000 > Booting").is_some());
        assert!(fast_fraction_stamp("8:00:00.5 -> x").is_some());
    }

    #[test]
    fn not_a_time() {
        assert!(split("rst:0x1 (POWERON_RESET)").0.is_none());
        assert!(split("99:99:99 x").0.is_none());
        assert!(split("1234 bytes").0.is_none());
        assert!(split("").0.is_none());
    }

    #[test]
    fn format_round_trip() {
        assert_eq!(format_tod(tod(1, 2, 3, Some("45"))), "01:02:03.450");
    }
}
