//! The human-readable diagnosis.

use crate::analysis::{CANDIDATE, Finding, Report};
use crate::decode::timestamp::format_tod;
use crate::event::{Event, Source};
use crate::timeline::Timeline;
use std::fmt::Write;

/// Names of the input files per source, for evidence lines (`host.log:12`).
#[derive(Default, Clone)]
pub struct Labels {
    pub serial: Option<String>,
    pub host: Option<String>,
    pub net: Option<String>,
}

impl Labels {
    fn of(&self, s: Source) -> &str {
        let v = match s {
            Source::Serial => &self.serial,
            Source::Host => &self.host,
            Source::Net => &self.net,
            Source::Finding => &None,
        };
        v.as_deref().unwrap_or(s.name())
    }
}

pub fn render(report: &Report, tl: &Timeline, labels: &Labels) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary_line(tl));
    if let Some(n) = report
        .notes
        .first()
        .filter(|n| n.starts_with("The latest upload succeeded"))
    {
        let _ = writeln!(out, "{n}");
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nNo diagnosis.");
    }
    for (i, f) in report.findings.iter().enumerate() {
        let _ = writeln!(out);
        finding(&mut out, i, f, tl, labels);
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\nNotes");
        for n in report
            .notes
            .iter()
            .filter(|n| !n.starts_with("The latest upload succeeded"))
        {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}

fn summary_line(tl: &Timeline) -> String {
    let mut parts = Vec::new();
    for (s, what) in [
        (Source::Serial, "serial lines"),
        (Source::Host, "uploader lines"),
        (Source::Net, "packets"),
    ] {
        if tl.sources.contains(&s) {
            parts.push(format!("{} {what}", tl.count(s)));
        }
    }
    let attempts = tl.attempts();
    if attempts > 0 {
        parts.push(format!(
            "{attempts} upload attempt{}",
            if attempts == 1 { "" } else { "s" }
        ));
    }
    if let Some(c) = tl.chip() {
        parts.push(format!("chip {c}"));
    }
    format!("ota-doctor: read {}", parts.join(", "))
}

fn finding(out: &mut String, i: usize, f: &Finding, tl: &Timeline, labels: &Labels) {
    let label = if i == 0 && f.confidence >= CANDIDATE {
        "Cause"
    } else if f.severity == crate::rules::Severity::Info {
        "Info"
    } else {
        "Candidate"
    };
    let _ = writeln!(
        out,
        "{label}: {}  [{} {}, confidence {:.2}]",
        f.cause,
        f.rule,
        f.severity.name(),
        f.confidence
    );
    let _ = writeln!(out, "  {}", f.title);
    let _ = writeln!(out, "  {}", f.message);
    let primary = label == "Cause";
    if !f.evidence.is_empty() {
        let _ = writeln!(out, "  Evidence:");
        for &ei in f.evidence.iter().take(if primary { 12 } else { 3 }) {
            let _ = writeln!(out, "    {}", evidence_line(&tl.events[ei], labels));
        }
    }
    if !primary {
        if let Some(d) = &f.decide {
            let _ = writeln!(out, "  To decide: {d}");
        }
        if !f.fix.is_empty() {
            let _ = writeln!(out, "  Likely fix: {}", f.fix[0]);
        }
        return;
    }
    if !f.fix.is_empty() {
        let _ = writeln!(out, "  Fix:");
        for (n, step) in f.fix.iter().enumerate() {
            let _ = writeln!(out, "    {}. {step}", n + 1);
        }
    }
}

fn evidence_line(e: &Event, labels: &Labels) -> String {
    let place = if e.line > 0 {
        format!("{}:{}", labels.of(e.source), e.line)
    } else {
        labels.of(e.source).to_string()
    };
    // `~` marks a time borrowed from the line before (the line had no stamp).
    let time = if e.timed && e.approx {
        format!("~{} ", format_tod(e.t_us))
    } else if e.timed {
        format!("{}  ", format_tod(e.t_us))
    } else {
        " ".repeat(14)
    };
    let text: String = e.text.chars().take(160).collect();
    format!("{place:<16} {time}{text}")
}

/// One event as a live line: seconds since recording began, source, kind, text.
pub fn event_line(e: &Event, t0: i64) -> String {
    let secs = e.t_us.saturating_sub(t0) as f64 / 1e6;
    let text: String = e.text.chars().take(200).collect();
    format!("{secs:>9.3}  {:<6} {:<20} {text}", e.source.name(), e.kind)
}
