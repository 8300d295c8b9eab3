//! Markdown to paste into a forum post or a GitHub issue: the cause, the fix, the lines
//! that decided it, and what was captured. Compact on purpose.

use super::{Line, Summary, Verdict, summarize};
use crate::analysis::Report;
use crate::timeline::Timeline;
use std::fmt::Write;

pub fn render(report: &Report, tl: &Timeline) -> String {
    render_summary(&summarize(report, tl))
}

pub fn render_summary(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## OTA diagnosis: {}\n", headline(s));
    if let Some(t) = &s.top {
        let _ = writeln!(o, "**{}**  ", prose(&t.title));
        let _ = writeln!(o, "{}  ", prose(&t.message));
        let _ = writeln!(o, "<sub>rule {} · {}</sub>\n", prose(&t.rule), t.severity);
    }
    if let Some(n) = s
        .notes
        .iter()
        .find(|n| n.starts_with("The latest upload succeeded"))
    {
        let _ = writeln!(o, "> {}\n", prose(n));
    }
    if !s.fix.is_empty() {
        let _ = writeln!(o, "**Fix**\n");
        for (i, f) in s.fix.iter().enumerate() {
            let _ = writeln!(o, "{}. {}", i + 1, prose(f));
        }
        o.push('\n');
    }
    if !s.evidence.is_empty() {
        let _ = writeln!(
            o,
            "**Evidence** (seconds from the first event, time of day, source:line)\n"
        );
        o.push_str(&code_block(&evidence_lines(
            &s.evidence,
            s.evidence_omitted,
        )));
        o.push('\n');
    }
    if !s.others.is_empty() {
        let _ = writeln!(o, "**Other candidates**\n");
        for c in &s.others {
            let _ = write!(
                o,
                "- `{}` ({:.2}, {}): {}",
                c.cause.replace('`', "'"),
                c.confidence,
                c.severity,
                prose(&c.title)
            );
            if let Some(d) = &c.decide {
                let _ = write!(o, " — *to decide:* {}", prose(d));
            }
            o.push('\n');
        }
        if s.others_omitted > 0 {
            let _ = writeln!(o, "- … and {} more", s.others_omitted);
        }
        o.push('\n');
    }
    let notes: Vec<&String> = s
        .notes
        .iter()
        .filter(|n| !n.starts_with("The latest upload succeeded"))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(o, "**Notes**\n");
        for n in notes {
            let _ = writeln!(o, "- {}", prose(n));
        }
        o.push('\n');
    }
    let _ = writeln!(o, "**Environment**\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    for (k, v) in &s.environment {
        let _ = writeln!(o, "| {} | {} |", cell(k), cell(v));
    }
    o
}

/// `insufficient_space (confidence 0.98)`, or what stands in for it.
pub fn headline(s: &Summary) -> String {
    match (&s.top, s.verdict) {
        (Some(t), Verdict::Uncertain) => format!(
            "most likely {} (confidence {:.2}, uncertain)",
            t.cause, t.confidence
        ),
        (Some(t), _) => format!("{} (confidence {:.2})", t.cause, t.confidence),
        (None, _) => "no known failure signature matched".to_string(),
    }
}

fn evidence_lines(lines: &[Line], omitted: usize) -> String {
    let mut s = String::new();
    for l in lines {
        let tod = l.tod.as_deref().unwrap_or("(no time)");
        let _ = writeln!(
            s,
            "{:>9} {:<13} {:<12} {}",
            format!("+{:.3}s", l.t_rel),
            tod,
            l.place,
            l.text
        );
    }
    if omitted > 0 {
        let _ = writeln!(s, "… {omitted} more evidence line(s) in the trace");
    }
    s
}

/// A fenced block whose fence is longer than any backtick run inside, so a log line
/// cannot close it.
pub fn code_block(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}text\n{body}{fence}\n")
}

/// Text outside code blocks: no raw HTML tags reach the renderer.
fn prose(s: &str) -> String {
    s.replace('<', "&lt;")
}

fn cell(s: &str) -> String {
    prose(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_outlasts_backticks_in_the_text() {
        let b = code_block("a ```` b\n");
        assert!(b.starts_with("`````text\n"), "{b}");
        assert!(b.ends_with("\n`````\n"));
        assert!(code_block("plain\n").starts_with("```text"));
    }

    #[test]
    fn prose_cannot_open_html_tags() {
        assert_eq!(prose("<script>x</script>"), "&lt;script>x&lt;/script>");
        assert_eq!(cell("a|b"), "a\\|b");
    }
}
