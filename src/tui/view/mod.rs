//! Drawing an [`App`] into a ratatui frame. Rendering only reads the state.
//!
//! ```text
//! ┌ header: [LIVE] OTA phase │ device, chip │ serial port, state │ capture ─────────┐
//! │ tabs: 1 Serial|Network  2 Timeline  3 Findings           filter, ? help       │
//! │ body: the current view (panes side by side, or stacked when narrow)           │
//! │ progress: transfer gauge │ throughput sparkline   (dropped on short screens)  │
//! └ status line: search prompt, regex error, message, or key hints ───────────────┘
//! ```

mod findings;
mod help;
mod lines;
mod logs;
mod progress;
mod status;
mod timeline;

use super::app::{App, View};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

/// Below this nothing useful fits; say so instead of drawing garbage.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;
/// From this width panes sit side by side.
pub const WIDE: u16 = 100;
/// The progress row needs this many rows to leave the body room.
const PROGRESS_FROM_HEIGHT: u16 = 16;

pub(crate) struct Areas {
    header: Rect,
    tabs: Rect,
    body: Rect,
    progress: Option<Rect>,
    footer: Rect,
}

pub(crate) fn areas(area: Rect) -> Areas {
    let progress = if area.height >= PROGRESS_FROM_HEIGHT {
        3
    } else {
        0
    };
    let [header, tabs, body, prog, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(progress),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        header,
        tabs,
        body,
        progress: (progress > 0).then_some(prog),
        footer,
    }
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

pub fn render(f: &mut Frame, app: &App) {
    let area = f.area();
    if too_small(area) {
        let msg = format!(
            "terminal too small: {}x{} (need {MIN_WIDTH}x{MIN_HEIGHT}); enlarge it or press q",
            area.width, area.height
        );
        let p = Paragraph::new(msg)
            .style(Style::default().fg(Color::Yellow))
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true });
        f.render_widget(p, area);
        return;
    }
    let a = areas(area);
    status::header(f, app, a.header);
    status::tabs(f, app, a.tabs);
    match app.view {
        View::Logs => logs::render(f, app, a.body),
        View::Timeline => timeline::render(f, app, a.body),
        View::Findings => findings::render(f, app, a.body),
    }
    if let Some(p) = a.progress {
        progress::render(f, app, p);
    }
    status::footer(f, app, a.footer);
    if app.help {
        help::render(f, area);
    }
}

/// Rows one page of the current view shows on a terminal of `size`; the loop hands
/// it to the state so PgUp/PgDn move by what the user sees.
pub fn page_rows(size: Rect, app: &App) -> usize {
    if too_small(size) {
        return 1;
    }
    let body = areas(size).body;
    let inner = match app.view {
        View::Logs => logs::panes(body)[0],
        View::Timeline => body,
        View::Findings => findings::split(body, app.report().findings.len())[1],
    };
    usize::from(inner.height.saturating_sub(2)).max(1)
}

/// A bordered pane with a title.
fn pane(title: impl Into<String>) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .title(title.into())
        .border_style(Style::default().fg(Color::DarkGray))
}
