//! One event as one screen line: time, then what the view wants to show.

use crate::event::{Event, Source};
use crate::tui::app::App;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// One colour per source, the same in every view.
pub fn colour(s: Source) -> Color {
    match s {
        Source::Serial => Color::Green,
        Source::Net => Color::Cyan,
        Source::Host => Color::Yellow,
        Source::Finding => Color::Magenta,
    }
}

/// Which columns a line carries.
#[derive(Clone, Copy)]
pub enum Columns {
    /// time, text (the serial pane: every line is the device's).
    Text,
    /// time, kind, text.
    Kind,
    /// time, source, kind, text (the merged timeline).
    All,
}

pub fn event_line(app: &App, idx: usize, cols: Columns) -> Line<'static> {
    let e: &Event = &app.events()[idx];
    let c = Style::default().fg(colour(e.source));
    let mut spans = vec![Span::styled(
        format!("{:>12} ", app.fmt_time(e.t_us)),
        Style::default().fg(Color::DarkGray),
    )];
    if let Columns::All = cols {
        spans.push(Span::styled(format!("{:<6} ", e.source.name()), c));
    }
    if let Columns::Kind | Columns::All = cols {
        spans.push(Span::styled(
            format!("{:<16} ", e.kind),
            c.add_modifier(Modifier::DIM),
        ));
    }
    let mut text = Style::default();
    if !matches!(cols, Columns::Text) || e.kind != "line" {
        text = c;
    }
    if app.search.regex.is_some() && app.search.matches(e) {
        text = text.add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    }
    spans.push(Span::styled(e.text.clone(), text));
    let line = Line::from(spans);
    if app.highlight == Some(idx) {
        line.style(Style::default().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}
