//! The device's serial log beside what the host saw (packets and uploader output).
//! Both panes scroll together: they are anchored at the same row of the merged
//! timeline, so the lines side by side happened at about the same time.

use super::lines::{Columns, event_line};
use super::{WIDE, pane};
use crate::event::Source;
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
    draw(f, app, left, serial, &[Source::Serial], Columns::Text);
    draw(
        f,
        app,
        right,
        net,
        &[Source::Net, Source::Host],
        Columns::Kind,
    );
}

fn draw(f: &mut Frame, app: &App, area: Rect, title: String, want: &[Source], cols: Columns) {
    let height = usize::from(area.height.saturating_sub(2));
    let lines: Vec<_> = pick(app, want, height)
        .into_iter()
        .map(|i| event_line(app, i, cols))
        .collect();
    let p = if lines.is_empty() {
        Paragraph::new("  (nothing yet)")
    } else {
        Paragraph::new(lines)
    };
    f.render_widget(p.block(pane(title)), area);
}

/// Up to `height` events of the wanted sources: the newest when following, else
/// those from the paused row on.
fn pick(app: &App, want: &[Source], height: usize) -> Vec<usize> {
    let of = |i: &&usize| want.contains(&app.events()[**i].source);
    if app.follow {
        let mut v: Vec<usize> = app
            .rows()
            .iter()
            .rev()
            .filter(of)
            .take(height)
            .copied()
            .collect();
        v.reverse();
        v
    } else {
        let from = app.top.min(app.rows().len());
        app.rows()[from..]
            .iter()
            .filter(of)
            .take(height)
            .copied()
            .collect()
    }
}
