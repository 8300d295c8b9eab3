//! The transfer gauge and the throughput sparkline of the current attempt.

use crate::tui::app::App;
use crate::tui::progress::human_rate;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Borders, Gauge, Sparkline};

pub fn render(f: &mut Frame, app: &App, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let pct = app.phase().percent();
    let label = match pct {
        Some(p) => format!("{p} %"),
        None => app.phase().label(),
    };
    let gauge = Gauge::default()
        .block(Block::default().borders(Borders::ALL).title(" Transfer "))
        .gauge_style(Style::default().fg(Color::Cyan).bg(Color::Black))
        .percent(u16::from(pct.unwrap_or(0)))
        .label(label);
    f.render_widget(gauge, left);
    let t = app.throughput();
    let title = match t.latest() {
        Some(r) => format!(" Throughput {} ", human_rate(r)),
        None if app.sources().capturing || app.mode == crate::tui::Mode::Replay => {
            " Throughput ".into()
        }
        None => " Throughput (needs packet capture) ".into(),
    };
    let spark = Sparkline::default()
        .block(Block::default().borders(Borders::ALL).title(title))
        .style(Style::default().fg(Color::Cyan))
        .data(t.rates.iter().copied());
    f.render_widget(spark, right);
}
