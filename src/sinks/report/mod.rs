//! Shareable reports of a diagnosis (`ota-doctor report TRACE`): Markdown to paste into a
//! forum post or a GitHub issue, and one self-contained HTML page with a timeline picture.
//!
//! Both formats render the same [`Summary`], which is built once from the analysis and
//! the timeline. Every text in it has gone through password redaction and is trimmed, so
//! a renderer cannot leak a password or paste a 10 kB log line by accident. Renderers
//! only do escaping for their own format. Nothing here does I/O except [`run`].

mod cmd;
pub mod html;
pub mod markdown;
pub mod svg;

pub use cmd::run;

use crate::analysis::{CANDIDATE, Finding, Report};
use crate::decode::redact::redact;
use crate::decode::timestamp::format_tod;
use crate::event::{Event, Source, Value};
use crate::rules::Severity;
use crate::timeline::Timeline;

/// Evidence lines shown for the top cause; the rest are counted, not shown.
pub const MAX_EVIDENCE: usize = 12;
/// Other candidates listed after the top cause.
pub const MAX_OTHERS: usize = 4;
/// Characters of a log line kept in evidence; longer lines end in "…".
pub const EVIDENCE_CHARS: usize = 160;
/// Characters of a note, a message or a fix step.
pub const PROSE_CHARS: usize = 600;

/// How sure the report is about its headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A failure with confidence at or above [`CANDIDATE`].
    Cause,
    /// The best failure candidate, but below [`CANDIDATE`].
    Uncertain,
    /// Only informational findings (e.g. the update succeeded).
    Info,
    /// Nothing matched.
    None,
}

/// One finding, as shown.
#[derive(Clone, Debug)]
pub struct Item {
    pub rule: String,
    pub cause: String,
    pub severity: &'static str,
    pub confidence: f64,
    pub title: String,
    pub message: String,
    pub decide: Option<String>,
}

/// One event line, as shown in evidence.
#[derive(Clone, Debug)]
pub struct Line {
    /// Index into `Timeline::events`.
    pub index: usize,
    /// Seconds since the first event of the timeline.
    pub t_rel: f64,
    /// Time of day when the event carried a real time (`~` prefix: borrowed from the line before).
    pub tod: Option<String>,
    pub source: Source,
    /// `serial:12`: source and line of the input file, when known.
    pub place: String,
    pub kind: String,
    pub text: String,
}

/// Everything a report shows, redacted and trimmed.
#[derive(Clone, Debug)]
pub struct Summary {
    pub verdict: Verdict,
    pub top: Option<Item>,
    pub fix: Vec<String>,
    pub evidence: Vec<Line>,
    /// Evidence events of the top finding that were not shown.
    pub evidence_omitted: usize,
    pub others: Vec<Item>,
    /// Findings beyond [`MAX_OTHERS`].
    pub others_omitted: usize,
    pub notes: Vec<String>,
    /// (label, value) rows: chip, flash, device IP, sources, counts, version, attempts.
    pub environment: Vec<(String, String)>,
    pub version: String,
}

/// Rule-authored text (titles, fix steps, "to decide" hints) comes from rule files, never
/// from a log, and teaches flags such as `--auth=…` that redaction would garble; it is
/// only trimmed and cleaned of control characters. Messages are redacted: rules fill
/// them in with values taken from events.
fn authored(s: &str, max: usize) -> String {
    trim(s, max)
}

/// Redacts passwords, replaces control characters (which would garble a terminal and are
/// not allowed in HTML) and trims to `max` characters, marking a cut with "…".
pub fn clean(s: &str, max: usize) -> String {
    trim(&redact(s), max)
}

fn trim(red: &str, max: usize) -> String {
    let mut out = String::with_capacity(red.len().min(max * 4));
    for (n, c) in red.trim_end().chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        });
    }
    out
}

/// What a source is called in reports.
pub fn source_label(s: Source) -> &'static str {
    match s {
        Source::Serial => "serial",
        Source::Net => "network",
        Source::Host => "uploader",
        Source::Finding => "finding",
    }
}

fn item(f: &Finding) -> Item {
    Item {
        rule: clean(&f.rule, 40),
        cause: clean(&f.cause, 60),
        severity: f.severity.name(),
        confidence: f.confidence,
        title: authored(&f.title, PROSE_CHARS),
        message: clean(&f.message, PROSE_CHARS),
        decide: f.decide.as_deref().map(|d| authored(d, PROSE_CHARS)),
    }
}

/// One event as an evidence line.
pub fn line(tl: &Timeline, index: usize, max_chars: usize) -> Line {
    let e = &tl.events[index];
    let tod = e.timed.then(|| {
        let t = format_tod(e.t_us);
        if e.approx { format!("~{t}") } else { t }
    });
    Line {
        index,
        t_rel: rel_secs(tl, e),
        tod,
        source: e.source,
        place: place(e),
        kind: clean(&e.kind, 40),
        text: clean(&e.text, max_chars),
    }
}

/// Seconds since the timeline's first event.
pub fn rel_secs(tl: &Timeline, e: &Event) -> f64 {
    e.t_us.saturating_sub(tl.start_us()) as f64 / 1e6
}

fn place(e: &Event) -> String {
    if e.line > 0 {
        format!("{}:{}", source_label(e.source), e.line)
    } else {
        source_label(e.source).to_string()
    }
}

/// Builds the summary both renderers show.
pub fn summarize(report: &Report, tl: &Timeline) -> Summary {
    let top = report.findings.first();
    let verdict = match top {
        None => Verdict::None,
        Some(f) if f.severity == Severity::Info => Verdict::Info,
        Some(f) if f.confidence >= CANDIDATE => Verdict::Cause,
        Some(_) => Verdict::Uncertain,
    };
    let mut evidence_idx: Vec<usize> = top.map(|f| f.evidence.clone()).unwrap_or_default();
    evidence_idx.retain(|&i| i < tl.events.len());
    evidence_idx.sort_unstable();
    evidence_idx.dedup();
    let evidence_omitted = evidence_idx.len().saturating_sub(MAX_EVIDENCE);
    let evidence = evidence_idx
        .iter()
        .take(MAX_EVIDENCE)
        .map(|&i| line(tl, i, EVIDENCE_CHARS))
        .collect();
    let rest = report.findings.iter().skip(1);
    Summary {
        verdict,
        top: top.map(item),
        fix: top
            .map(|f| f.fix.iter().map(|s| authored(s, PROSE_CHARS)).collect())
            .unwrap_or_default(),
        evidence,
        evidence_omitted,
        others: rest.clone().take(MAX_OTHERS).map(item).collect(),
        others_omitted: rest.count().saturating_sub(MAX_OTHERS),
        notes: report.notes.iter().map(|n| clean(n, PROSE_CHARS)).collect(),
        environment: environment(tl),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn fact(tl: &Timeline, key: &str) -> Option<String> {
    tl.facts.get(key).map(|v| clean(&v.to_string(), 80))
}

fn environment(tl: &Timeline) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: String| rows.push((k.to_string(), v));
    push("chip", fact(tl, "chip").unwrap_or_else(|| "unknown".into()));
    if let Some(Value::Int(kb)) = tl.facts.get("flash_kb") {
        push("flash size", flash(*kb));
    }
    let ip = fact(tl, "device_ip").or_else(|| fact(tl, "esp_ip"));
    push("device IP", ip.unwrap_or_else(|| "unknown".into()));
    if let Some(p) = fact(tl, "esp_port") {
        push("OTA port", p);
    }
    let captured: Vec<&str> = [Source::Serial, Source::Net, Source::Host]
        .into_iter()
        .filter(|s| tl.sources.contains(s))
        .map(source_label)
        .collect();
    push(
        "sources captured",
        if captured.is_empty() {
            "none".into()
        } else {
            captured.join(", ")
        },
    );
    let missing: Vec<&str> = [Source::Serial, Source::Net, Source::Host]
        .into_iter()
        .filter(|s| !tl.sources.contains(s))
        .map(source_label)
        .collect();
    if !missing.is_empty() {
        push("not captured", missing.join(", "));
    }
    push("serial lines", tl.count(Source::Serial).to_string());
    push("uploader lines", tl.count(Source::Host).to_string());
    // A trace keeps the decoded OTA packets, not every packet that was captured.
    push(
        "OTA packets (decoded)",
        tl.packets.max(tl.count(Source::Net)).to_string(),
    );
    push("upload attempts", tl.attempts().to_string());
    let span = tl.end_us.saturating_sub(tl.start_us()) as f64 / 1e6;
    push("time span", format!("{span:.3} s"));
    push("ota-doctor version", env!("CARGO_PKG_VERSION").to_string());
    rows
}

fn flash(kb: i64) -> String {
    if kb >= 1024 && kb % 1024 == 0 {
        format!("{} MB", kb / 1024)
    } else {
        format!("{kb} KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Builder;

    pub(super) fn timeline(texts: &[(&str, &str, &str)]) -> Timeline {
        let mut b = Builder::new();
        b.events(texts.iter().enumerate().map(|(i, (src, kind, text))| {
            let mut e = Event::new(Source::parse(src).unwrap(), kind.to_string(), *text);
            e.t_us = 1_000_000 * i as i64;
            e
        }));
        b.build()
    }

    #[test]
    fn clean_redacts_trims_and_removes_control_characters() {
        assert_eq!(
            clean("espota.py -i 1.2.3.4 -a secret", 100).find("secret"),
            None
        );
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("a\u{1b}[31mb\tc\0", 100), "a\u{fffd}[31mb c\u{fffd}");
        assert_eq!(clean("äöü", 3), "äöü");
    }

    #[test]
    fn summary_of_an_empty_report_says_so() {
        let tl = timeline(&[("serial", "line", "hello")]);
        let s = summarize(&Report::default(), &tl);
        assert_eq!(s.verdict, Verdict::None);
        assert!(s.top.is_none() && s.evidence.is_empty());
        assert!(
            s.environment
                .iter()
                .any(|(k, v)| k == "serial lines" && v == "1")
        );
        assert!(
            s.environment
                .iter()
                .any(|(k, v)| k == "not captured" && v == "network, uploader")
        );
    }

    #[test]
    fn evidence_is_sorted_bounded_and_out_of_range_indices_ignored() {
        let rows: Vec<(&str, &str, &str)> = (0..30).map(|_| ("host", "line", "x")).collect();
        let tl = timeline(&rows);
        let f = Finding {
            rule: "OTA999".into(),
            cause: "blocking_loop".into(),
            severity: Severity::Error,
            confidence: 0.9,
            title: "t".into(),
            message: "m".into(),
            fix: vec!["f".into()],
            explanation: String::new(),
            decide: None,
            references: vec![],
            evidence: (0..40).rev().collect(),
        };
        let r = Report {
            findings: vec![f],
            ..Report::default()
        };
        let s = summarize(&r, &tl);
        assert_eq!(s.verdict, Verdict::Cause);
        assert_eq!(s.evidence.len(), MAX_EVIDENCE);
        assert_eq!(s.evidence_omitted, 30 - MAX_EVIDENCE);
        assert!(s.evidence.windows(2).all(|w| w[0].index < w[1].index));
    }

    #[test]
    fn rule_text_is_kept_and_messages_are_redacted() {
        let tl = timeline(&[("host", "line", "x")]);
        let fix = "Pass the password with --auth=…; put --auth on its own line.";
        let f = Finding {
            rule: "OTA006".into(),
            cause: "auth_failed".into(),
            severity: Severity::Error,
            confidence: 0.9,
            title: "t".into(),
            message: "espota.py got -a hunter2 -f x.bin".into(),
            fix: vec![fix.into()],
            explanation: String::new(),
            decide: None,
            references: vec![],
            evidence: vec![0],
        };
        let r = Report {
            findings: vec![f],
            ..Report::default()
        };
        let s = summarize(&r, &tl);
        assert_eq!(s.fix, vec![fix.to_string()]);
        assert!(!s.top.unwrap().message.contains("hunter2"));
    }
}
