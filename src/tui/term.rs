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
use std::time::Duration;

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

/// Waits up to `timeout` for input on the terminal when it is stdin, and fails once it
/// has hung up (its window closed, its tmux session killed). crossterm retries a read
/// of 0 bytes forever in that state: asked to wait itself, it would spin a core and
/// never come back to see Ctrl-C or SIGTERM. `Ok(false)`: stdin is not the terminal
/// (crossterm then reads /dev/tty), so the caller waits through crossterm as before.
pub fn wait_input(timeout: Duration) -> io::Result<bool> {
    use nix::poll::{PollFd, PollFlags, poll};
    use std::io::IsTerminal;
    use std::os::fd::AsRawFd;
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    let mut fds = [PollFd::new(stdin.as_raw_fd(), PollFlags::POLLIN)];
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    match poll(&mut fds, ms) {
        // A signal: return so the caller sees its stop flag.
        Err(nix::errno::Errno::EINTR) => return Ok(true),
        Err(e) => return Err(io::Error::from(e)),
        Ok(_) => {}
    }
    let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
    if fds[0].revents().is_some_and(|r| r.intersects(gone)) {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the terminal was closed",
        ));
    }
    Ok(true)
}
