//! Hand parser for the ESP32 Arduino (`[  123][E][file.cpp:12] func(): msg`) and ESP-IDF
//! (`E (123) tag: msg`) logger prefixes. Most serial lines carry one, and the capture
//! regexes cost a tenth of decoding; these byte scans give the same captures.
//! `serial::ARDUINO_LOG_RE` and `serial::IDF_LOG_RE` stay the definition: a unit test
//! checks this parser against them, and any non-ASCII byte where the regexes use
//! Unicode classes (`\d`, `\s`, `\w`) is handed back to them.

use regex::Regex;

/// The capture groups of either logger regex, by meaning.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Prefix<'t> {
    pub arduino: bool,
    pub uptime: Option<&'t str>,
    pub level: &'t str,
    pub file: Option<&'t str>,
    pub src_line: Option<&'t str>,
    pub func: Option<&'t str>,
    pub tag: Option<&'t str>,
    pub msg: &'t str,
}

/// What the hand parser found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'t> {
    Match(Prefix<'t>),
    NoMatch,
    /// Unicode the regexes treat by class: only they can say.
    AskRegex,
}

use Parsed::{AskRegex, Match, NoMatch};

/// Tries the Arduino prefix, then the ESP-IDF one, like `split_log_prefix` does.
pub fn parse(t: &str) -> Parsed<'_> {
    match arduino(t) {
        NoMatch => idf(t),
        other => other,
    }
}

fn is_level(b: u8) -> bool {
    matches!(b, b'E' | b'W' | b'I' | b'D' | b'V')
}

/// Index of the first byte at or after `i` that is not ASCII whitespace, or `None`
/// when a non-ASCII byte comes first (it might be Unicode whitespace).
fn skip_space(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            // `\s` in the regexes: ASCII space, \t \n \v \f \r.
            b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => i += 1,
            c if c >= 0x80 => return None,
            _ => return Some(i),
        }
    }
    Some(i)
}

/// End of a run of ASCII digits from `i`; `None` when a non-ASCII byte ends it.
fn digits(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if b.get(i).is_some_and(|&c| c >= 0x80) {
        return None;
    }
    Some(i)
}

/// `(.*)$`: the rest matches only when it holds no newline.
fn rest(t: &str, i: usize) -> Option<&str> {
    let r = &t[i..];
    (!r.contains('\n')).then_some(r)
}

fn arduino(t: &str) -> Parsed<'_> {
    let b = t.as_bytes();
    if b.first() != Some(&b'[') {
        return NoMatch;
    }
    // The uptime group is optional: with it first, as the regex prefers.
    match uptime(b) {
        Err(()) => AskRegex,
        Ok(Some((up, at))) => match arduino_body(t, at) {
            Match(mut p) => {
                p.uptime = Some(&t[up.0..up.1]);
                Match(p)
            }
            NoMatch => arduino_body(t, 0),
            AskRegex => AskRegex,
        },
        Ok(None) => arduino_body(t, 0),
    }
}

type Span = (usize, usize);

/// `\[\s*(\d+)\]` at the start: the digits' span and where the next part begins.
fn uptime(b: &[u8]) -> Result<Option<(Span, usize)>, ()> {
    let start = skip_space(b, 1).ok_or(())?;
    let end = digits(b, start).ok_or(())?;
    if end > start && b.get(end) == Some(&b']') {
        return Ok(Some(((start, end), end + 1)));
    }
    Ok(None)
}

/// `\[([EWIDV])\]\[([^:\]\s]+):(\d+)\]:?\s*(?:(\w+)\(\):\s?)?(.*)$` from `i`.
fn arduino_body(t: &str, i: usize) -> Parsed<'_> {
    let b = t.as_bytes();
    if b.len() < i + 3 || b[i] != b'[' || !is_level(b[i + 1]) || b[i + 2] != b']' {
        return NoMatch;
    }
    let level = &t[i + 1..i + 2];
    let Some(file) = file_and_line(b, i + 3) else {
        return AskRegex;
    };
    let Some((file, src_line, mut j)) = file else {
        return NoMatch;
    };
    if b.get(j) == Some(&b':') {
        j += 1;
    }
    let Some(j) = skip_space(b, j) else {
        return AskRegex;
    };
    let Some((func, j)) = func(t, j) else {
        return AskRegex;
    };
    let Some(msg) = rest(t, j) else {
        return NoMatch;
    };
    Match(Prefix {
        arduino: true,
        level,
        file: Some(&t[file.0..file.1]),
        src_line: Some(&t[src_line.0..src_line.1]),
        func,
        msg,
        ..Prefix::default()
    })
}

/// `\[([^:\]\s]+):(\d+)\]` from `i`: file span, line span and the index after.
/// Outer `None` = ask the regex.
fn file_and_line(b: &[u8], i: usize) -> Option<Option<(Span, Span, usize)>> {
    if b.get(i) != Some(&b'[') {
        return Some(None);
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b':' | b']' | b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => break,
            c if c >= 0x80 => return None,
            _ => j += 1,
        }
    }
    if j == i + 1 || b.get(j) != Some(&b':') {
        return Some(None);
    }
    let end = digits(b, j + 1)?;
    if end == j + 1 || b.get(end) != Some(&b']') {
        return Some(None);
    }
    Some(Some(((i + 1, j), (j + 1, end), end + 1)))
}

/// The optional `(\w+)\(\):\s?` at `i`: the name and where the message starts.
/// `None` = ask the regex.
#[allow(clippy::type_complexity)]
fn func(t: &str, i: usize) -> Option<(Option<&str>, usize)> {
    let b = t.as_bytes();
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    if b.get(j).is_some_and(|&c| c >= 0x80) {
        return None;
    }
    if j == i || !b[j..].starts_with(b"():") {
        return Some((None, i));
    }
    let name = &t[i..j];
    let mut k = j + 3;
    match b.get(k) {
        Some(b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') => k += 1,
        Some(&c) if c >= 0x80 => return None,
        _ => {}
    }
    Some((Some(name), k))
}

/// `^([EWIDV]) \((\d+)\) ([^:]{1,40}): (.*)$`
fn idf(t: &str) -> Parsed<'_> {
    let b = t.as_bytes();
    if b.len() < 4 || !is_level(b[0]) || b[1] != b' ' || b[2] != b'(' {
        return NoMatch;
    }
    let Some(end) = digits(b, 3) else {
        return AskRegex;
    };
    if end == 3 || !b[end..].starts_with(b") ") {
        return NoMatch;
    }
    let tag_start = end + 2;
    // The tag cannot hold ':', so it ends at the first one, which must start ": ".
    let Some(colon) = t[tag_start..].find(':').map(|c| c + tag_start) else {
        return NoMatch;
    };
    let tag = &t[tag_start..colon];
    let chars = tag.chars().count();
    if !(1..=40).contains(&chars) || b.get(colon + 1) != Some(&b' ') {
        return NoMatch;
    }
    let Some(msg) = rest(t, colon + 2) else {
        return NoMatch;
    };
    Match(Prefix {
        level: &t[0..1],
        uptime: Some(&t[3..end]),
        tag: Some(tag),
        msg,
        ..Prefix::default()
    })
}

/// What the regexes say, in the same shape: the reference, and the path for lines
/// the hand parser hands back.
pub fn by_regex<'t>(a: &Regex, i: &Regex, t: &'t str) -> Option<Prefix<'t>> {
    let g = |c: &regex::Captures<'t>, n| c.get(n).map(|m| m.as_str());
    if let Some(c) = a.captures(t) {
        return Some(Prefix {
            arduino: true,
            uptime: g(&c, 1),
            level: g(&c, 2)?,
            file: g(&c, 3),
            src_line: g(&c, 4),
            func: g(&c, 5),
            msg: g(&c, 6)?,
            ..Prefix::default()
        });
    }
    let c = i.captures(t)?;
    Some(Prefix {
        level: g(&c, 1)?,
        uptime: g(&c, 2),
        tag: g(&c, 3),
        msg: g(&c, 4)?,
        ..Prefix::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::serial::{ARDUINO_LOG_RE, IDF_LOG_RE};

    fn lines() -> Vec<String> {
        let fixed = [
            "[ 25334][E][ArduinoOTA.cpp:356] _runUpdate(): Update ERROR: Aborted",
            "[E][ArduinoOTA.cpp:321] _runUpdate(): Write ERROR: Not Enough Space",
            "[E][x:1] ",
            "[E][x:1]",
            "[E][x:1]:",
            "[E][x:1]: msg",
            "[E][x:1]:   f(): m",
            "[E][x:1] f():m",
            "[E][x:1] f():  m",
            "[E][x:1] f(): \n",
            "[E][x:1] f()",
            "[E][x:1] f(:",
            "[E][x:1] (): m",
            "[E][x:1] a b(): m",
            "[E][x:1] a\nb",
            "[E][x:1]\nm",
            "[E][x:1] \t\r m",
            "[E][x:]",
            "[E][:1] m",
            "[E][x y:1] m",
            "[E][x]1] m",
            "[E][x:1a] m",
            "[E][x:1",
            "[E][x:1]] m",
            "[E]",
            "[E][",
            "[",
            "[]",
            "[1]",
            "[12][X][a:1] m",
            "[12][E][a:1] m",
            "[ \t12][V][a.cpp:99999999999999999999999] b(): c",
            "[12 ][E][a:1] m",
            "[][E][a:1] m",
            "[1][2][E][a:1] m",
            "[E][a:b:1] m",
            "[e][a:1] m",
            "[E] [a:1] m",
            "[  123][I][main.cpp:12] loop(): relay 1 -> 0",
            "[D][main.cpp:12] loop(): é",
            "[D][main.cpp:12] héllo(): x",
            "[D][main.cpp:12] héllo x",
            "[D][mäin.cpp:12] x",
            "[D][main.cpp:١٢] x",
            "[١٢][D][main.cpp:12] x",
            "[D][main.cpp:12]\u{a0}x(): y",
            "[D][main.cpp:12] x():\u{a0}y",
            "[D][main.cpp:12] x():\u{3000}",
            "[ 1\u{a0}][D][m:1] x",
            "[\u{a0}1][D][m:1] x",
            "I (123) tag: msg",
            "E (12345) task_wdt: Task watchdog got triggered.",
            "I (3000) esp_netif_handlers: sta ip: 10.0.0.5, mask: 255.255.255.0",
            "I (1) t:msg",
            "I (1) t: ",
            "I (1) t:",
            "I (1) : m",
            "I (1)  : m",
            "I () t: m",
            "I (1a) t: m",
            "I(1) t: m",
            "I (1)t: m",
            "X (1) t: m",
            "I (1) t: a\nb",
            "I (1) t\nx: m",
            "I (1) a b c: m",
            "I (1) 1234567890123456789012345678901234567890: m",
            "I (1) 12345678901234567890123456789012345678901: m",
            "I (1) ééééééééééééééééééééééééééééééééééééééé: m",
            "I (1) éééééééééééééééééééééééééééééééééééééééé: m",
            "I (1) ééééééééééééééééééééééééééééééééééééééééé: m",
            "I (١) t: m",
            "I (1) t:: m",
            "I (1) t: :m",
            "I (99999999999999999999999) t: m",
            "I ",
            "I (",
            "",
            "hello",
            "Start updating sketch",
        ];
        let mut v: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        v.extend(generated());
        v
    }

    /// Every short string over an alphabet of the prefixes' punctuation.
    fn generated() -> Vec<String> {
        let parts = [
            "[", "]", "E", "I", "x", "1", ":", " ", "(", ")", "f", "\n", "é", "\u{a0}", "_",
        ];
        let mut out = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..5 {
            let mut next = Vec::new();
            for s in &out {
                for p in parts {
                    next.push(format!("{s}{p}"));
                }
            }
            all.extend(next.iter().cloned());
            out = next;
        }
        let seeds = ["[E][a:1]", "[1][E][a:1]", "I (1) ", "[ 1][W][", "D (2) t"];
        let tails = all.iter().filter(|s| s.chars().count() <= 3).cloned();
        let tails: Vec<String> = tails.collect();
        for seed in seeds {
            for t in &tails {
                all.push(format!("{seed}{t}"));
                all.push(format!("{seed}{t} f(): m"));
            }
        }
        all
    }

    #[test]
    fn hand_parser_agrees_with_the_regexes() {
        let a = Regex::new(ARDUINO_LOG_RE).unwrap();
        let i = Regex::new(IDF_LOG_RE).unwrap();
        let mut asked = 0;
        let all = lines();
        for t in &all {
            let want = by_regex(&a, &i, t);
            match parse(t) {
                Match(p) => assert_eq!(Some(p), want, "{t:?}"),
                NoMatch => assert_eq!(None, want, "{t:?}"),
                AskRegex => asked += 1,
            }
        }
        // The hand parser must decide nearly everything itself.
        assert!(asked * 4 < all.len(), "{asked} of {}", all.len());
    }

    #[test]
    fn plain_ascii_lines_never_need_the_regex() {
        for t in lines().iter().filter(|t| t.is_ascii()) {
            assert_ne!(parse(t), AskRegex, "{t:?}");
        }
    }
}
