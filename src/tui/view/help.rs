//! The help overlay: every key, from the same table the key handler documents.

use crate::tui::keys::HELP;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, area: Rect) {
    let w = area.width.saturating_sub(4).min(72);
    let h = (HELP.len() as u16 + 4).min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let key = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<15}"), key),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::styled(
        " any key closes this help",
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(Clear, popup);
    let block = Block::default().borders(Borders::ALL).title(" Keys ");
    f.render_widget(Paragraph::new(lines).block(block), popup);
}
