//! The device's serial log beside what the host saw (packets and uploader output).
//! Both panes scroll together: they are anchored at the same row of the merged
//! timeline, so the lines side by side happened at about the same time.

use super::lines::{Columns, event_line};
use super::{WIDE, pane};
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;

/// Side by side when wide, stacked when narrow.
pub fn panes(body: Rect) -> [Rect; 2] {
    let halves = [Constraint::Percentage(50), Constraint::Percentage(50)];
    if body.width >= WIDE {
        Layout::horizontal(halves).areas(body)
    } else {
        Layout::vertical(halves).areas(body)
    }
}

pub fn render(f: &mut Frame, app: &App, body: Rect) {
    let [left, right] = panes(body);
    let serial = match &app.sources().serial {
        Some((port, baud)) => format!(" Serial {port} @ {baud} "),
        None => " Serial ".to_string(),
    };
    let net = match &app.sources().iface {
        Some(i) => format!(" Network ({i}) + uploader "),
        None => " Network + uploader ".to_string(),
    };
    draw(f, app, left, serial, true, Columns::Text);
    draw(f, app, right, net, false, Columns::Kind);
}

fn draw(f: &mut Frame, app: &App, area: Rect, title: String, serial: bool, cols: Columns) {
    let height = usize::from(area.height.saturating_sub(2));
    let lines: Vec<_> = pick(app, serial, height)
        .iter()
        .map(|&i| event_line(app, i, cols))
        .collect();
    let p = if lines.is_empty() {
        Paragraph::new("  (nothing yet)")
    } else {
        Paragraph::new(lines)
    };
    f.render_widget(p.block(pane(title)), area);
}

/// Up to `height` rows of one pane: the newest when following, else those from the
/// paused row of the merged timeline on. A binary search, not a scan: the pane's
/// source may be rare among a million lines.
fn pick(app: &App, serial: bool, height: usize) -> &[usize] {
    let list = app.pane_rows(serial);
    let from = if app.follow {
        list.len().saturating_sub(height)
    } else {
        let anchor = app.rows().get(app.top).copied().unwrap_or(usize::MAX);
        list.partition_point(|&i| i < anchor)
    };
    &list[from..(from + height).min(list.len())]
}
