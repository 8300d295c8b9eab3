//! Keys → state changes. A pure function of the state and one key, so every binding
//! is unit-tested without a terminal; the loop performs the returned [`Action`].

use super::app::{App, TimeMode, View};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the loop must do that the state alone cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Write the trace as it stands to the configured snapshot file.
    Export,
    /// Reset the board through RTS (only when the user allowed it).
    Reset,
}

/// Every binding, for the help overlay (keep in step with [`on_key`]).
pub const HELP: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit and print the diagnosis"),
    ("space", "pause / follow new lines"),
    (
        "↑ ↓ PgUp PgDn",
        "scroll; findings: ↑↓ select, PgUp/PgDn detail",
    ),
    ("Home End", "first line / last line and follow"),
    ("Tab, 1 2 3", "switch view: serial|net, timeline, findings"),
    ("/", "search (regex); Enter runs it, Esc cancels"),
    ("n N", "next / previous match"),
    ("f", "filter the lines to those matching the search"),
    ("Enter", "findings: jump to the evidence in the timeline"),
    ("t", "absolute / relative time"),
    ("e", "export a snapshot of the trace"),
    ("r", "reset the board via RTS (only with --reset-key)"),
    ("Esc", "clear the mark, message and regex error"),
    ("?", "this help"),
];

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Action> {
    // Terminals that report releases would otherwise act twice per press.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if app.search.input.is_some() {
        typing(app, key);
        return None;
    }
    if app.help {
        // The overlay hides the view; any key closes it, and q still quits.
        app.help = false;
        return (key.code == KeyCode::Char('q')).then_some(Action::Quit);
    }
    match key.code {
        KeyCode::Char('q') => return Some(Action::Quit),
        KeyCode::Char('e') => return Some(Action::Export),
        KeyCode::Char('r') => return Some(Action::Reset),
        KeyCode::Char('?') => app.help = true,
        KeyCode::Char('/') => app.search.input = Some(String::new()),
        KeyCode::Char('n') => next_match(app, true),
        KeyCode::Char('N') => next_match(app, false),
        KeyCode::Char('f') => toggle_filter(app),
        KeyCode::Char('t') => app.time = toggle_time(app.time),
        KeyCode::Char(' ') => toggle_follow(app),
        KeyCode::Char(c @ '1'..='3') => app.view = View::ALL[c as usize - '1' as usize],
        KeyCode::Tab => app.view = app.view.next(),
        KeyCode::BackTab => app.view = app.view.next().next(),
        KeyCode::Enter if app.view == View::Findings => jump_to_evidence(app),
        KeyCode::Esc => {
            app.highlight = None;
            app.message = None;
            app.search.error = None;
        }
        code => movement(app, code),
    }
    None
}

fn movement(app: &mut App, code: KeyCode) {
    let page = app.page.max(1) as isize;
    let delta = match code {
        KeyCode::Up => -1,
        KeyCode::Down => 1,
        KeyCode::PageUp => -page,
        KeyCode::PageDown => page,
        KeyCode::Home => isize::MIN / 2,
        KeyCode::End => isize::MAX / 2,
        _ => return,
    };
    if app.view == View::Findings {
        findings_movement(app, code, delta);
    } else if code == KeyCode::End {
        app.follow = true;
    } else {
        app.scroll_by(delta);
    }
}

/// The list is short; the selected finding's detail is what may need scrolling.
fn findings_movement(app: &mut App, code: KeyCode, delta: isize) {
    if let KeyCode::PageUp | KeyCode::PageDown = code {
        let d = i16::try_from(delta).unwrap_or(i16::MAX);
        app.detail_scroll = app.detail_scroll.saturating_add_signed(d);
        return;
    }
    let last = app.report().findings.len().saturating_sub(1);
    app.selected = app.selected.saturating_add_signed(delta).min(last);
    app.detail_scroll = 0;
}

fn toggle_time(t: TimeMode) -> TimeMode {
    match t {
        TimeMode::Absolute => TimeMode::Relative,
        TimeMode::Relative => TimeMode::Absolute,
    }
}

fn toggle_follow(app: &mut App) {
    if app.follow {
        app.pause();
    } else {
        app.follow = true;
    }
}

/// Typing a search pattern: Enter compiles it, Esc gives up, Backspace edits.
fn typing(app: &mut App, key: KeyEvent) {
    let Some(input) = app.search.input.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Char(c) => input.push(c),
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Esc => app.search.input = None,
        KeyCode::Enter => {
            let found = app.search.commit();
            // The filter follows the new pattern (or switches off with an empty one).
            app.rebuild_rows();
            if found {
                app.highlight = None;
                next_match(app, true);
            }
        }
        _ => {}
    }
}

/// Marks the next (or previous) matching event after the mark or the page top.
fn next_match(app: &mut App, forward: bool) {
    let Some(re) = app.search.regex.as_ref().map(|r| r.as_str().to_string()) else {
        app.message = Some("no search yet: press / and type a regex".into());
        return;
    };
    let from = app
        .highlight
        .or_else(|| app.rows().get(app.window(app.page).start).copied());
    let n = app.events().len();
    let hit = if forward {
        let start = from.map_or(0, |f| f + usize::from(app.highlight.is_some()));
        (start..n).find(|&i| app.search.matches(&app.events()[i]))
    } else {
        (0..from.unwrap_or(n))
            .rev()
            .find(|&i| app.search.matches(&app.events()[i]))
    };
    match hit {
        Some(i) => {
            let view = app.view;
            app.jump_to_event(i);
            // A search from the serial|net panes stays there; both follow the same rows.
            app.view = if view == View::Findings {
                View::Timeline
            } else {
                view
            };
            app.message = None;
        }
        None => app.message = Some(format!("no more matches for /{re}/")),
    }
}

fn toggle_filter(app: &mut App) {
    if app.search.regex.is_none() {
        app.message = Some("nothing to filter by: press / and type a regex first".into());
        return;
    }
    app.search.filter = !app.search.filter;
    app.rebuild_rows();
}

fn jump_to_evidence(app: &mut App) {
    let first = app
        .report()
        .findings
        .get(app.selected)
        .and_then(|f| f.evidence.iter().min().copied());
    match first {
        Some(i) => app.jump_to_event(i),
        None => app.message = Some("this finding has no evidence lines".into()),
    }
}
