//! The header (where the upload stands, which sources are alive), the tab row and
//! the status line at the bottom.

use crate::tui::app::{App, Mode, TimeMode, View};
use crate::tui::phase::{Phase, SerialState};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

const SEP: &str = " │ ";

fn badge(app: &App) -> Span<'static> {
    let (text, bg) = match (app.mode, app.ended, app.follow) {
        (Mode::Replay, ..) => (" REPLAY ", Color::Blue),
        (_, true, _) => (" ENDED ", Color::DarkGray),
        (_, _, true) => (" LIVE ", Color::Green),
        _ => (" PAUSED ", Color::Yellow),
    };
    Span::styled(
        text,
        Style::default()
            .fg(Color::Black)
            .bg(bg)
            .add_modifier(Modifier::BOLD),
    )
}

fn phase(p: &Phase) -> Span<'static> {
    let colour = match p {
        Phase::Done => Color::Green,
        Phase::Failed(_) => Color::Red,
        Phase::Waiting => Color::Gray,
        _ => Color::Cyan,
    };
    let mut label = p.label();
    if label.chars().count() > 48 {
        label = label.chars().take(47).collect::<String>() + "…";
    }
    Span::styled(
        format!("OTA {label}"),
        Style::default().fg(colour).add_modifier(Modifier::BOLD),
    )
}

fn serial(app: &App) -> Option<Span<'static>> {
    let (port, baud) = app.sources().serial.as_ref()?;
    let st = app.serial_state();
    let colour = match st {
        SerialState::Open => Color::Green,
        SerialState::Reconnecting => Color::Yellow,
        SerialState::Lost | SerialState::Garbled => Color::Red,
    };
    Some(Span::styled(
        format!("serial {port} {baud} {}", st.label()),
        Style::default().fg(colour),
    ))
}

fn capture(app: &App) -> Option<Span<'static>> {
    let iface = app.sources().iface.as_ref()?;
    Some(if app.sources().capturing {
        Span::styled(
            format!("capture {iface}"),
            Style::default().fg(Color::Green),
        )
    } else {
        Span::styled(
            format!("capture {iface} not permitted"),
            Style::default().fg(Color::Red),
        )
    })
}

pub fn header(f: &mut Frame, app: &App, area: Rect) {
    let device = match (app.device_ip(), app.chip()) {
        (Some(ip), Some(c)) => format!("device {ip} {c}"),
        (Some(ip), None) => format!("device {ip}"),
        (None, Some(c)) => format!("device {c}"),
        (None, None) => "device unknown".into(),
    };
    let mut spans = vec![
        badge(app),
        Span::raw(" "),
        phase(app.phase()),
        Span::raw(SEP),
        Span::raw(device),
    ];
    for s in [serial(app), capture(app)].into_iter().flatten() {
        spans.push(Span::raw(SEP));
        spans.push(s);
    }
    if app.upload_done && !app.ended {
        spans.push(Span::raw(SEP));
        spans.push(Span::styled(
            "upload ended",
            Style::default().fg(Color::Gray),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn tabs(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = Vec::new();
    for (n, v) in View::ALL.iter().enumerate() {
        let mut label = format!(" {} {} ", n + 1, v.title());
        if *v == View::Findings {
            label = format!(
                " {} {} ({}) ",
                n + 1,
                v.title(),
                app.report().findings.len()
            );
        }
        let style = if *v == app.view {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default().fg(Color::Gray)
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    if let Some(r) = &app.search.regex {
        let what = if app.search.filter {
            "filter"
        } else {
            "search"
        };
        spans.push(Span::styled(
            format!(" {what} /{}/ ", r.as_str()),
            Style::default().fg(Color::Magenta),
        ));
    }
    let time = if app.time == TimeMode::Relative {
        " t:relative "
    } else {
        " t:absolute "
    };
    spans.push(Span::styled(time, Style::default().fg(Color::DarkGray)));
    spans.push(Span::styled(
        " ? help",
        Style::default().fg(Color::DarkGray),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The bottom line: what the user is typing, what went wrong, or what to press.
pub fn footer(f: &mut Frame, app: &App, area: Rect) {
    let line = if let Some(input) = &app.search.input {
        Line::from(vec![
            Span::styled("/", Style::default().fg(Color::Magenta)),
            Span::raw(input.clone()),
            Span::styled("█", Style::default().fg(Color::Gray)),
            Span::styled(
                "  Enter search · Esc cancel",
                Style::default().fg(Color::DarkGray),
            ),
        ])
    } else if let Some(err) = &app.search.error {
        Line::styled(err.clone(), Style::default().fg(Color::Red))
    } else if let Some(m) = &app.message {
        Line::styled(m.clone(), Style::default().fg(Color::Yellow))
    } else if let Some(held) = app.held_note() {
        Line::styled(format!("{held} · ? help"), Style::default().fg(Color::Gray))
    } else {
        Line::styled(
            "q quit · space pause · / search · f filter · Tab view · Enter evidence · t time · e export · ? help",
            Style::default().fg(Color::DarkGray),
        )
    };
    f.render_widget(Paragraph::new(line), area);
}
