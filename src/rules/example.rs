//! The example-timeline grammar used by `[[example]]` blocks, and the `rules test` runner.
//!
//! One event per string, time in seconds from the start:
//!   `<t> <source> | <raw line>`                 a serial or uploader line, decoded as if read
//!   `<t> <source> <kind> key=value key="a b"`   a structured event (e.g. a network event)

use super::RuleSet;
use crate::analysis;
use crate::decode::decode_line;
use crate::event::{Event, Source, Value};
use crate::timeline::Builder;

/// Parses one example line into an event.
pub fn parse_event(line: &str) -> Result<Event, String> {
    let line = line.trim();
    let (t, rest) = line
        .split_once(char::is_whitespace)
        .ok_or("expected `<seconds> <source> …`")?;
    let secs: f64 = t
        .parse()
        .map_err(|_| format!("`{t}` is not a time in seconds"))?;
    let rest = rest.trim_start();
    let (src, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let source = Source::parse(src)
        .ok_or_else(|| format!("unknown source `{src}` (use serial, host or net)"))?;
    let rest = rest.trim_start();
    let mut e = if let Some(text) = rest.strip_prefix('|') {
        // A pasted line may carry its own timestamp; the example's time wins.
        let raw = text.strip_prefix(' ').unwrap_or(text);
        decode_line(source, crate::decode::timestamp::split(raw).1, 0.0)
    } else {
        structured(source, rest)?
    };
    e.t_us = (secs * 1e6).round() as i64;
    e.timed = true;
    Ok(e)
}

fn structured(source: Source, rest: &str) -> Result<Event, String> {
    let (kind, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if kind.is_empty() {
        return Err("expected `| text` or a kind such as `ota.invite`".into());
    }
    if !super::vocab::has_kind(source, kind) {
        return Err(format!("{source} events have no kind `{kind}`"));
    }
    let mut e = Event::new(source, kind.to_string(), "");
    for (k, v) in pairs(args)? {
        if k == "text" {
            e.text = v;
        } else {
            e.fields.insert(k, Value::infer(&v));
        }
    }
    if e.text.is_empty() {
        e.text = format!("{kind} {args}").trim().to_string();
    }
    Ok(e)
}

fn pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected key=value at `{rest}`"))?;
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (val, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or("unterminated quote")?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key, val));
        rest = tail.trim_start();
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct ExampleResult {
    pub rule: String,
    pub example: String,
    pub origin: String,
    pub line: usize,
    pub passed: bool,
    pub detail: String,
    /// Other rules that fired on this example (overlaps worth knowing about).
    pub also: Vec<String>,
}

/// Runs every embedded example of every rule in `set` against the whole set.
pub fn run_all(set: &RuleSet, filter: Option<&str>) -> Vec<ExampleResult> {
    let mut out = Vec::new();
    for rule in &set.rules {
        if filter.is_some_and(|f| !rule.id.eq_ignore_ascii_case(f)) {
            continue;
        }
        for ex in &rule.examples {
            out.push(run_one(set, rule, ex));
        }
    }
    out
}

fn run_one(set: &RuleSet, rule: &super::Rule, ex: &super::model::Example) -> ExampleResult {
    let mut res = ExampleResult {
        rule: rule.id.clone(),
        example: ex.name.clone(),
        origin: rule.origin.clone(),
        line: ex.line,
        passed: false,
        detail: String::new(),
        also: Vec::new(),
    };
    let mut events = Vec::new();
    for (i, l) in ex.events.iter().enumerate() {
        match parse_event(l) {
            Ok(e) => events.push(e),
            Err(m) => {
                res.detail = format!("event {}: {m}", i + 1);
                return res;
            }
        }
    }
    let mut b = Builder::new();
    b.events(events);
    for s in &ex.sources {
        b.captured(*s);
    }
    if let Some(end) = ex.end_s {
        b.end((end * 1e6) as i64);
    }
    let tl = b.build();
    let report = analysis::analyze(set, &tl);
    let fired = report.fired.iter().find(|f| f.rule == rule.id);
    res.also = report
        .fired
        .iter()
        .filter(|f| f.rule != rule.id)
        .map(|f| f.rule.clone())
        .collect();
    res.passed = match (ex.expect_match, fired) {
        (true, None) => {
            res.detail = "expected the rule to fire; it did not".into();
            false
        }
        (false, Some(f)) => {
            res.detail = format!("expected no match; it fired: {}", f.message);
            false
        }
        (false, None) => true,
        (true, Some(f)) => check_match(ex, f, &report, &mut res.detail),
    };
    res
}

fn check_match(
    ex: &super::model::Example,
    f: &analysis::Finding,
    report: &analysis::Report,
    detail: &mut String,
) -> bool {
    if let Some(want) = &ex.expect_message
        && !f.message.contains(want.as_str())
    {
        *detail = format!("message `{}` does not contain `{want}`", f.message);
        return false;
    }
    if ex.expect_top {
        let top = report
            .findings
            .first()
            .map(|t| t.rule.as_str())
            .unwrap_or("nothing");
        if top != f.rule {
            *detail = format!("expected to rank first; {top} ranked first");
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let e = parse_event("1.5 host | 10:21:07 [ERROR]: No Answer").unwrap();
        assert_eq!(e.kind, "espota.error");
        assert_eq!(e.t_us, 1_500_000);
        let n = parse_event(r#"0 net ota.reply device_ip=1.2.3.4 verdict=err text="ERR: ERROR[4]: Not Enough Space""#).unwrap();
        assert_eq!(n.text, "ERR: ERROR[4]: Not Enough Space");
        assert_eq!(n.fields["verdict"], Value::from("err"));
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(parse_event("x host | a").is_err());
        assert!(parse_event("1 mars | a").is_err());
        assert!(parse_event("1 net ota.bogus a=1").is_err());
        assert!(parse_event(r#"1 net ota.reply text="open"#).is_err());
    }
}
