//! The merged timeline: every source in time order, coloured by source.

use super::lines::{Columns, event_line};
use super::pane;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let height = usize::from(area.height.saturating_sub(2));
    let win = app.window(height);
    let title = format!(
        " Timeline  {}–{} of {}{} ",
        win.start + usize::from(!win.is_empty()),
        win.end,
        app.rows().len(),
        if app.search.filter { " (filtered)" } else { "" }
    );
    let title = match app.seen().checked_sub(app.events().len()) {
        Some(gone @ 1..) => format!("{title}· {gone} older events not in memory "),
        _ => title,
    };
    let lines: Vec<_> = app.rows()[win]
        .iter()
        .map(|&i| event_line(app, i, Columns::All))
        .collect();
    f.render_widget(Paragraph::new(lines).block(pane(title)), area);
}
