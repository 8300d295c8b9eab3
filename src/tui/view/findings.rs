//! The diagnosis so far: ranked findings on one side, the selected one in full on
//! the other (cause, confidence, what was seen, how to fix it, the evidence).

use super::lines::{Columns, event_line};
use super::{WIDE, pane};
use crate::analysis::{CANDIDATE, Finding};
use crate::rules::Severity;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Evidence lines shown under a finding; the timeline has the rest.
const EVIDENCE_SHOWN: usize = 6;

/// The list beside the detail when wide, above it when narrow.
pub fn split(body: Rect, findings: usize) -> [Rect; 2] {
    if body.width >= WIDE {
        Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(body)
    } else {
        let n = u16::try_from(findings).unwrap_or(u16::MAX);
        let list_h = n.max(1).saturating_add(2).min(body.height / 3).max(3);
        Layout::vertical([Constraint::Length(list_h), Constraint::Min(1)]).areas(body)
    }
}

pub fn render(f: &mut Frame, app: &App, body: Rect) {
    let [list, detail] = split(body, app.report().findings.len());
    f.render_widget(
        Paragraph::new(list_lines(app, list.height.saturating_sub(2))).block(pane(" Findings ")),
        list,
    );
    let p = Paragraph::new(detail_lines(app))
        .wrap(Wrap { trim: false })
        .scroll((app.detail_scroll, 0));
    f.render_widget(p.block(pane(" Detail ")), detail);
}

/// "Cause" for a confident first failure, "Candidate" for the alternatives.
fn label(i: usize, f: &Finding) -> &'static str {
    if f.severity == Severity::Info {
        "info"
    } else if i == 0 && f.confidence >= CANDIDATE {
        "cause"
    } else {
        "candidate"
    }
}

fn list_lines(app: &App, height: u16) -> Vec<Line<'static>> {
    if app.report().findings.is_empty() {
        return vec![Line::styled(
            " no findings yet",
            Style::default().fg(Color::DarkGray),
        )];
    }
    // Keep the selection on screen when there are more findings than rows.
    let first = app.selected.saturating_sub(usize::from(height.max(1)) - 1);
    app.report()
        .findings
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, f)| {
            let text = format!(" {:.2} {:<9} {}", f.confidence, label(i, f), f.cause);
            let mut style = Style::default().fg(severity_colour(f.severity));
            if i == app.selected {
                style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
            }
            Line::styled(text, style)
        })
        .collect()
}

fn severity_colour(s: Severity) -> Color {
    match s {
        Severity::Info => Color::Green,
        Severity::Warning => Color::Yellow,
        _ => Color::Red,
    }
}

fn detail_lines(app: &App) -> Vec<Line<'static>> {
    let Some(f) = app.report().findings.get(app.selected) else {
        return notes(app);
    };
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut out = vec![
        Line::from(vec![
            Span::styled(f.cause.clone(), bold.fg(severity_colour(f.severity))),
            Span::raw(format!(
                "  {} {} · confidence {:.2}",
                f.rule,
                f.severity.name(),
                f.confidence
            )),
        ]),
        Line::styled(f.title.clone(), bold),
        Line::raw(f.message.clone()),
    ];
    if !f.fix.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("Fix:", bold));
        for (n, step) in f.fix.iter().enumerate() {
            out.push(Line::raw(format!(" {}. {step}", n + 1)));
        }
    }
    if let Some(d) = &f.decide {
        out.push(Line::raw(format!("To decide: {d}")));
    }
    out.extend(evidence(app, f));
    out.extend(notes(app));
    out
}

fn evidence(app: &App, f: &Finding) -> Vec<Line<'static>> {
    if f.evidence.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        Line::raw(""),
        Line::styled(
            format!(
                "Evidence ({}; Enter shows it in the timeline):",
                f.evidence.len()
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ];
    // Sorted when the analysis arrived (App::set_analysis).
    for &i in f
        .evidence
        .iter()
        .filter(|&&i| i < app.events().len())
        .take(EVIDENCE_SHOWN)
    {
        out.push(event_line(app, i, Columns::All));
    }
    out
}

fn notes(app: &App) -> Vec<Line<'static>> {
    let all: Vec<&String> = app.report().notes.iter().chain(app.notes()).collect();
    if all.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        Line::raw(""),
        Line::styled("Notes:", Style::default().add_modifier(Modifier::BOLD)),
    ];
    out.extend(
        all.into_iter()
            .map(|n| Line::styled(format!(" - {n}"), Style::default().fg(Color::Gray))),
    );
    out
}
