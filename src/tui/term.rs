//! Entering and leaving the full-screen terminal. Leaving must happen on every path
//! out, a panic included: a shell left in raw mode looks like a hung machine.

use crossterm::cursor::Show;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, stdout};
use std::sync::Once;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the UI runs; dropping it restores the shell.
pub struct Guard {
    pub terminal: Term,
}

impl Guard {
    pub fn enter() -> io::Result<Guard> {
        restore_on_panic();
        enable_raw_mode()?;
        // From here on, any failure must undo what was done.
        let setup = execute!(stdout(), EnterAlternateScreen)
            .and_then(|_| Terminal::new(CrosstermBackend::new(stdout())));
        match setup {
            Ok(mut terminal) => {
                let _ = terminal.hide_cursor();
                Ok(Guard { terminal })
            }
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Idempotent: safe from the guard and the panic hook both.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

/// Restores the terminal before the default hook prints the panic, so the message is
/// readable. Installed once per process, whatever the number of UI runs.
fn restore_on_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
