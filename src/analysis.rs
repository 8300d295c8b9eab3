//! Turns rule results into ranked findings and notes: the diagnosis a user reads.

use crate::event::Source;
use crate::rules::engine::{self, Fired};
use crate::rules::{RuleSet, Severity};
use crate::timeline::Timeline;

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: String,
    pub cause: String,
    pub severity: Severity,
    pub confidence: f64,
    pub title: String,
    pub message: String,
    pub fix: Vec<String>,
    pub explanation: String,
    pub decide: Option<String>,
    pub references: Vec<String>,
    /// Indices into the timeline's events.
    pub evidence: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct Report {
    /// Ranked, most likely first, after `supersedes` was applied.
    pub findings: Vec<Finding>,
    /// Everything that fired, including findings hidden by a more specific rule.
    pub fired: Vec<Finding>,
    pub notes: Vec<String>,
}

/// Findings below this confidence are candidates, not a diagnosis.
pub const CANDIDATE: f64 = 0.6;

pub fn analyze(set: &RuleSet, tl: &Timeline) -> Report {
    let eval = engine::evaluate(&set.rules, tl);
    let fired: Vec<Finding> = eval.fired.iter().map(|f| finding(set, f)).collect();
    let hidden: Vec<&str> = eval
        .fired
        .iter()
        // An uncertain specific diagnosis must not hide the alternatives.
        .filter(|f| f.confidence >= CANDIDATE)
        .flat_map(|f| set.rules[f.rule].supersedes.iter().map(String::as_str))
        .collect();
    let mut findings: Vec<Finding> = fired
        .iter()
        .filter(|f| !hidden.contains(&f.rule.as_str()))
        .cloned()
        .collect();
    findings.sort_by(|a, b| {
        rank(a)
            .partial_cmp(&rank(b))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let mut notes = Vec::new();
    if let Some(h) = latest_success(&findings) {
        notes.push(h);
    }
    notes.extend(ambiguity_notes(&findings));
    notes.extend(input_notes(tl, &findings));
    for inc in eval
        .inconclusive
        .iter()
        .filter(|i| !eval.fired.iter().any(|f| f.rule == i.rule))
    {
        let r = &set.rules[inc.rule];
        notes.push(format!(
            "{} ({}) could not be checked: {}.",
            r.id, r.cause, inc.reason
        ));
    }
    Report {
        findings,
        fired,
        notes,
    }
}

/// Sort key: failures before informational findings, then confidence.
fn rank(f: &Finding) -> (bool, f64) {
    (f.severity == Severity::Info, -f.confidence)
}

fn finding(set: &RuleSet, f: &Fired) -> Finding {
    let r = &set.rules[f.rule];
    Finding {
        rule: r.id.clone(),
        cause: r.cause.clone(),
        severity: f.severity,
        confidence: (f.confidence * 100.0).round() / 100.0,
        title: r.title.clone(),
        message: f.message.clone(),
        fix: r.fix.clone(),
        explanation: r.explanation.clone(),
        decide: r.decide.clone(),
        references: r.references.clone(),
        evidence: f.evidence.clone(),
    }
}

/// When the newest event of a success finding comes after every failure's evidence,
/// the user's problem is already solved; say so before anything else.
fn latest_success(findings: &[Finding]) -> Option<String> {
    let last = |f: &Finding| f.evidence.iter().max().copied();
    let ok = findings
        .iter()
        .filter(|f| f.cause == "ok")
        .filter_map(last)
        .max()?;
    let failures: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    if failures.is_empty() || failures.iter().filter_map(|f| last(f)).any(|l| l > ok) {
        return None;
    }
    Some(
        "The latest upload succeeded; the findings explain the attempts that failed before it."
            .into(),
    )
}

fn ambiguity_notes(findings: &[Finding]) -> Vec<String> {
    let failures: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    let Some(top) = failures.first() else {
        return Vec::new();
    };
    if top.confidence >= CANDIDATE {
        return Vec::new();
    }
    let close: Vec<&&Finding> = failures
        .iter()
        .filter(|f| top.confidence - f.confidence <= 0.25)
        .collect();
    let mut notes = Vec::new();
    if close.len() > 1 {
        let names: Vec<String> = close
            .iter()
            .map(|f| format!("{} ({:.2})", f.cause, f.confidence))
            .collect();
        notes.push(format!(
            "The evidence cannot decide between {}.",
            names.join(", ")
        ));
    }
    for f in close {
        if let Some(d) = &f.decide {
            notes.push(format!("To confirm or rule out {}: {d}", f.cause));
        }
    }
    notes
}

fn input_notes(tl: &Timeline, findings: &[Finding]) -> Vec<String> {
    let mut notes = Vec::new();
    let garbage = tl.count_kind("garbage");
    let serial = tl.count(Source::Serial);
    if garbage > 0 && garbage * 2 > serial {
        notes.push(format!(
            "{garbage} of {serial} serial lines are unreadable: the baud rate does not match the sketch's Serial.begin() (115200 is usual)."
        ));
    } else if garbage > 0
        && tl
            .chip()
            .is_none_or(|c| crate::rules::engine::chip_family(c) == "esp8266")
    {
        notes.push(format!(
            "{garbage} serial line(s) look like baud-rate garbage. The ESP8266 ROM prints its boot banner at 74880 baud; \
             open the port at 74880 (or reset the board while watching at 74880) to read the reset cause and boot mode."
        ));
    } else if garbage > 0 {
        notes.push(format!(
            "{garbage} serial line(s) are unreadable (noise, or output at another baud rate)."
        ));
    }
    if findings.is_empty() {
        notes.push("No known failure signature matched. Share the full uploader output with debug enabled (espota.py -d, or PlatformIO `upload_flags = --debug`) and the device's serial log from before the upload until after it fails.".into());
    }
    let uncertain = findings.first().is_none_or(|f| f.confidence < CANDIDATE);
    if uncertain && !tl.sources.contains(&Source::Serial) {
        notes.push("No serial log was given: the device side (boot banner, updater errors, crashes) is invisible. Capture the serial port during the upload.".into());
    }
    if uncertain && !tl.sources.contains(&Source::Host) {
        notes.push("No uploader output was given: add the espota / PlatformIO / Arduino IDE output of the failed upload.".into());
    }
    notes
}
