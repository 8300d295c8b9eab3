//! The machine-readable summary (design.md, "Findings").

use crate::analysis::Report;
use crate::event::Source;
use crate::timeline::Timeline;
use serde_json::{Value, json};

pub fn render(report: &Report, tl: &Timeline) -> Value {
    let start = tl.start_us();
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let evidence: Vec<Value> = f
                .evidence
                .iter()
                .map(|&i| {
                    let e = &tl.events[i];
                    json!({
                        "t": (e.t_us.saturating_sub(start) as f64 / 1000.0).round() / 1000.0,
                        "source": e.source.name(),
                        "kind": e.kind,
                        "text": e.text,
                    })
                })
                .collect();
            json!({
                "rule": f.rule,
                "cause": f.cause,
                "severity": f.severity.name(),
                "confidence": f.confidence,
                "title": f.title,
                "message": f.message,
                "fix": f.fix,
                "evidence": evidence,
            })
        })
        .collect();
    json!({
        "findings": findings,
        "inputs": {
            "serial_lines": tl.count(Source::Serial),
            "host_lines": tl.count(Source::Host),
            "packets": tl.packets.max(tl.count(Source::Net)),
        },
        "notes": report.notes,
    })
}
