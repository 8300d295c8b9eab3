//! One self-contained HTML page: inline CSS and SVG, no scripts, no external resources.
//! Every text from a trace is escaped; the full timeline table is bounded to
//! [`MAX_ROWS`] rows so a huge trace still gives a small page.

use super::markdown::headline;
use super::svg::{self, Class, classify};
use super::{Line, Summary, Verdict, line, summarize};
use crate::analysis::Report;
use crate::timeline::Timeline;
use std::fmt::Write;

/// Rows of the full timeline table; beyond this the middle is left out.
pub const MAX_ROWS: usize = 2000;
/// Characters of a line in the full timeline table.
const ROW_CHARS: usize = 240;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
:root { --err:#c62828; --boot:#7b1fa2; --ok:#2e7d32; --prog:#1565c0; --proto:#00838f; --other:#9e9e9e; --ink:#1d2127; --muted:#667; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0; background: #f4f5f7; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #e3e5e8; padding-bottom: 4px; }
.verdict { display: inline-block; font-size: 13px; font-weight: 600; padding: 2px 10px; border-radius: 12px; color: #fff; background: var(--err); vertical-align: middle; margin-right: 8px; }
.verdict.uncertain { background: #ef6c00; } .verdict.info { background: var(--ok); } .verdict.none { background: #607d8b; }
.title { font-size: 18px; font-weight: 600; margin: 10px 0 2px; }
.message { margin: 0 0 4px; }
.meta, .muted, footer { color: var(--muted); font-size: 13px; }
.callout { background: #e8f5e9; border-left: 4px solid var(--ok); padding: 6px 12px; margin: 10px 0; }
ol.fix li { margin: 4px 0; }
code, pre, td.text, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eceef1; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
table.events { table-layout: fixed; } table.events td.mono { overflow-wrap: anywhere; }
table.env { width: auto; } table.env th { font-size: 14px; color: var(--ink); font-weight: 500; padding-right: 24px; }
tr.ev td { background: #fff8e1; }
.badge { display: inline-block; min-width: 20px; padding: 0 5px; border-radius: 10px; background: #f9a825; color: #000; font-weight: 700; font-size: 12px; text-align: center; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.k-err { fill: var(--err); background: var(--err); } .k-boot { fill: var(--boot); background: var(--boot); } .k-ok { fill: var(--ok); background: var(--ok); }
.k-prog { fill: var(--prog); background: var(--prog); } .k-proto { fill: var(--proto); background: var(--proto); } .k-other { fill: var(--other); background: var(--other); }
figure { margin: 8px 0 0; overflow-x: auto; }
.legend { font-size: 13px; color: var(--muted); margin: 4px 0 0; }
.legend span { margin-right: 14px; white-space: nowrap; }
svg.timeline { display: block; font-family: system-ui, sans-serif; }
svg .lane { fill: #fafbfc; stroke: #e3e5e8; } svg .lane-alt { fill: #f3f5f7; }
svg .band { fill: #f7f9fc; stroke: #e3e5e8; }
svg .lane-label { font-size: 13px; font-weight: 600; fill: var(--ink); }
svg .small, svg .tick-label { font-size: 11px; fill: var(--muted); } svg .tick-label { text-anchor: middle; }
svg .muted { font-size: 12px; fill: #99a; font-style: italic; }
svg .grid { stroke: #dde3ea; stroke-dasharray: 3 3; }
svg .axis { stroke: #889; }
svg .attempt { fill: #1565c0; fill-opacity: 0.05; stroke: #1565c0; stroke-opacity: 0.25; stroke-dasharray: 4 3; }
svg .attempt-label { font-size: 10px; fill: #1565c0; fill-opacity: 0.8; }
svg .prog-area { fill: var(--prog); fill-opacity: 0.15; } svg .prog-line { fill: none; stroke: var(--prog); stroke-width: 1.8; }
svg .prog-value { font-size: 11px; font-weight: 600; fill: var(--prog); }
svg .break rect { fill: #fff; fill-opacity: 0.85; } svg .break path { stroke: #889; fill: none; }
svg .break text { font-size: 10px; fill: var(--muted); text-anchor: middle; }
svg .evidence line { stroke: #f9a825; stroke-width: 2; } svg .evidence line.leader { stroke-width: 1; }
svg .evidence circle { fill: #f9a825; stroke: #fff; stroke-width: 1; }
svg .evidence text { font-size: 10px; font-weight: 700; text-anchor: middle; fill: #000; }
details { margin-top: 8px; } summary { cursor: pointer; font-weight: 600; }
.skip td { text-align: center; color: var(--muted); font-style: italic; }
"#;

pub fn render(report: &Report, tl: &Timeline) -> String {
    let s = summarize(report, tl);
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>ota-doctor: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&headline(&s))
    );
    header(&mut o, &s);
    if !s.fix.is_empty() {
        o.push_str("<h2>Fix</h2>\n<ol class=\"fix\">\n");
        for f in &s.fix {
            let _ = writeln!(o, "<li>{}</li>", esc(f));
        }
        o.push_str("</ol>\n");
    }
    let evidence: Vec<usize> = s.evidence.iter().map(|l| l.index).collect();
    o.push_str("<h2>Timeline</h2>\n<figure>\n");
    o.push_str(&svg::render(tl, &evidence));
    o.push_str("\n<figcaption class=\"legend\">");
    for c in [
        Class::Error,
        Class::Boot,
        Class::Success,
        Class::Progress,
        Class::Protocol,
        Class::Other,
    ] {
        let _ = write!(
            o,
            "<span><i class=\"dot {}\"></i>{}</span>",
            c.css(),
            c.label()
        );
    }
    o.push_str("<span><b class=\"badge\">1</b> evidence</span><span>quiet stretches are drawn shortened (//); hover a tick for its events</span></figcaption>\n</figure>\n");
    if !s.evidence.is_empty() {
        o.push_str("<h2>Evidence</h2>\n");
        table(&mut o, tl, &s.evidence);
        if s.evidence_omitted > 0 {
            let _ = writeln!(
                o,
                "<p class=\"muted\">… {} more evidence line(s) in the full timeline.</p>",
                s.evidence_omitted
            );
        }
    }
    others(&mut o, &s);
    let notes: Vec<&String> = s
        .notes
        .iter()
        .filter(|n| !n.starts_with("The latest upload succeeded"))
        .collect();
    if !notes.is_empty() {
        o.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in notes {
            let _ = writeln!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<h2>Environment</h2>\n<table class=\"env\">\n");
    for (k, v) in &s.environment {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table>\n");
    full_timeline(&mut o, tl, &evidence);
    let _ = writeln!(
        o,
        "<footer><p>Made by ota-doctor {} (<code>ota-doctor report</code>). Times are seconds from the first event.</p></footer>\n</main>\n</body>\n</html>",
        esc(&s.version)
    );
    o
}

fn header(o: &mut String, s: &Summary) {
    let (class, word) = match s.verdict {
        Verdict::Cause => ("", "cause"),
        Verdict::Uncertain => (" uncertain", "uncertain"),
        Verdict::Info => (" info", "result"),
        Verdict::None => (" none", "no diagnosis"),
    };
    let _ = writeln!(
        o,
        "<h1><span class=\"verdict{class}\">{word}</span>{}</h1>",
        esc(&headline(s))
    );
    if let Some(t) = &s.top {
        let _ = writeln!(o, "<p class=\"title\">{}</p>", esc(&t.title));
        let _ = writeln!(o, "<p class=\"message\">{}</p>", esc(&t.message));
        let _ = writeln!(
            o,
            "<p class=\"meta\">rule {} · severity {} · confidence {:.2}</p>",
            esc(&t.rule),
            t.severity,
            t.confidence
        );
    }
    if let Some(n) = s
        .notes
        .iter()
        .find(|n| n.starts_with("The latest upload succeeded"))
    {
        let _ = writeln!(o, "<p class=\"callout\">{}</p>", esc(n));
    }
}

fn others(o: &mut String, s: &Summary) {
    if s.others.is_empty() {
        return;
    }
    o.push_str("<h2>Other candidates</h2>\n<ul>\n");
    for c in &s.others {
        let _ = write!(
            o,
            "<li><code>{}</code> ({:.2}, {}): {}",
            esc(&c.cause),
            c.confidence,
            c.severity,
            esc(&c.title)
        );
        if let Some(d) = &c.decide {
            let _ = write!(o, "<br><span class=\"muted\">To decide: {}</span>", esc(d));
        }
        o.push_str("</li>\n");
    }
    if s.others_omitted > 0 {
        let _ = writeln!(o, "<li>… and {} more</li>", s.others_omitted);
    }
    o.push_str("</ul>\n");
}

/// The evidence, numbered like the badges in the picture.
fn table(o: &mut String, tl: &Timeline, lines: &[Line]) {
    o.push_str("<table class=\"events\">\n<colgroup><col style=\"width:38px\"><col style=\"width:72px\"><col style=\"width:112px\"><col style=\"width:104px\"><col style=\"width:160px\"><col></colgroup>\n<tr><th class=\"num\">#</th><th class=\"num\">+s</th><th>time</th><th>source</th><th>kind</th><th>text</th></tr>\n");
    for (n, l) in lines.iter().enumerate() {
        row(o, l, Some(n), Some(classify(&tl.events[l.index])));
    }
    o.push_str("</table>\n");
}

/// One event row; `dot` colours the kind like the timeline picture does.
fn row(o: &mut String, l: &Line, badge: Option<usize>, dot: Option<Class>) {
    let mark = badge.map_or(String::new(), |n| {
        format!("<b class=\"badge\">{}</b>", n + 1)
    });
    let dot = dot.map_or(String::new(), |c| {
        format!("<i class=\"dot {}\"></i>", c.css())
    });
    let _ = writeln!(
        o,
        "<tr{}><td class=\"num\">{mark}</td><td class=\"num mono\">{:.3}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{dot}{}</td><td class=\"text\">{}</td></tr>",
        if badge.is_some() { " class=\"ev\"" } else { "" },
        l.t_rel,
        esc(l.tod.as_deref().unwrap_or("")),
        esc(&l.place),
        esc(&l.kind),
        esc(&l.text)
    );
}

fn full_timeline(o: &mut String, tl: &Timeline, evidence: &[usize]) {
    let n = tl.events.len();
    let _ = writeln!(
        o,
        "<h2>Full timeline</h2>\n<details>\n<summary>All {n} events{}</summary>",
        if n > MAX_ROWS {
            format!(" (the first and last {} shown)", MAX_ROWS / 2)
        } else {
            String::new()
        }
    );
    o.push_str("<table class=\"events\">\n<colgroup><col style=\"width:38px\"><col style=\"width:72px\"><col style=\"width:112px\"><col style=\"width:104px\"><col style=\"width:160px\"><col></colgroup>\n<tr><th class=\"num\">#</th><th class=\"num\">+s</th><th>time</th><th>source</th><th>kind</th><th>text</th></tr>\n");
    let (head, tail) = if n > MAX_ROWS {
        (MAX_ROWS / 2, n - MAX_ROWS / 2)
    } else {
        (n, n)
    };
    for i in (0..head).chain(tail..n) {
        if i == tail && tail > head {
            let _ = writeln!(
                o,
                "<tr class=\"skip\"><td colspan=\"6\">… {} events left out; the trace has them all …</td></tr>",
                tail - head
            );
        }
        let badge = evidence.iter().position(|&x| x == i);
        row(
            o,
            &line(tl, i, ROW_CHARS),
            badge,
            Some(classify(&tl.events[i])),
        );
    }
    o.push_str("</table>\n</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Source};
    use crate::timeline::Builder;

    #[test]
    fn esc_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }

    #[test]
    fn full_table_is_bounded() {
        let mut b = Builder::new();
        b.events((0..10_000i64).map(|i| {
            let mut e = Event::new(Source::Serial, "line", format!("line {i}"));
            e.t_us = i;
            e
        }));
        let tl = b.build();
        let page = render(&Report::default(), &tl);
        assert!(page.matches("<tr>").count() + page.matches("<tr ").count() <= MAX_ROWS + 30);
        assert!(page.contains("events left out"));
        assert!(page.contains("line 9999") && !page.contains("line 5000<"));
    }

    #[test]
    fn unredacted_timelines_are_redacted_on_output() {
        // Built directly, bypassing the trace reader's own redaction.
        let mut b = Builder::new();
        b.events(
            [
                "espota.py -i 1.2.3.4 -a Sekrit99 -f x.bin",
                "upload_flags = --auth=Sekrit99",
                "Options: {'auth': 'Sekrit99', 'esp_port': 8266}",
            ]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut e = Event::new(Source::Host, "line", *t);
                e.t_us = i as i64;
                e
            }),
        );
        let tl = b.build();
        let page = render(&Report::default(), &tl);
        assert!(!page.contains("Sekrit99"), "{page}");
        assert!(
            page.matches("***").count() >= 3,
            "the rows are shown, masked"
        );
    }
}
