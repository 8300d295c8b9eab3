//! Why a serial port would not open, in words that say what to do.

use crate::error::UserError;
use serialport::ErrorKind;
use std::io::ErrorKind as Io;
use std::path::{Path, PathBuf};

/// Turns a serialport open error into a message with a hint.
pub fn open_error(path: &Path, e: &serialport::Error) -> UserError {
    let shown = path.display();
    match e.kind() {
        ErrorKind::Io(Io::NotFound) => UserError::new(format!("serial port `{shown}` does not exist"))
            .hint(format!("plug the board in or pick another port; ports present: {}", present_ports())),
        ErrorKind::Io(Io::PermissionDenied) => UserError::new(format!("no permission to open serial port `{shown}`"))
            .hint("add yourself to the group that owns it (usually dialout; uucp on Arch): sudo usermod -aG dialout \"$USER\", then log out and back in"),
        // EBUSY from TIOCEXCL or a held flock: another program has the port.
        ErrorKind::NoDevice => UserError::new(format!("serial port `{shown}` is busy: another program has it open"))
            .hint(format!("close it first{}: the usual ones are the Arduino IDE Serial Monitor, `pio device monitor`, idf.py monitor, screen, minicom, picocom", holders_text(path))),
        _ if path.is_dir() || path.is_file() => UserError::new(format!("`{shown}` is not a serial port ({e})"))
            .hint(format!("ports present: {}", present_ports())),
        _ => UserError::new(format!("cannot open serial port `{shown}`: {e}")),
    }
}

/// Serial devices that exist now, where USB-serial adapters and native-USB ESPs appear.
pub fn present_ports() -> String {
    let mut found: Vec<String> = Vec::new();
    for dir in ["/dev", "/dev/serial/by-id"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten().take(4096) {
            let name = e.file_name().to_string_lossy().into_owned();
            let usb = name.starts_with("ttyUSB") || name.starts_with("ttyACM");
            if dir != "/dev" || usb {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    found.sort();
    if found.is_empty() {
        "none (no /dev/ttyUSB*, /dev/ttyACM* or /dev/serial/by-id/*: is the board plugged in, with a data cable?)".into()
    } else {
        found.join(", ")
    }
}

/// Processes holding `path` open, from /proc: names the culprit instead of guessing.
pub fn holders(path: &Path) -> Vec<(u32, String)> {
    let Ok(target) = std::fs::canonicalize(path) else {
        return Vec::new();
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in procs.flatten().take(100_000) {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || !holds(&p.path(), &target) {
            continue;
        }
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        out.push((pid, comm.trim().to_string()));
    }
    out
}

fn holds(proc_dir: &Path, target: &PathBuf) -> bool {
    let Ok(fds) = std::fs::read_dir(proc_dir.join("fd")) else {
        return false;
    };
    fds.flatten()
        .take(65_536)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| &l == target))
}

fn holders_text(path: &Path) -> String {
    let h = holders(path);
    if h.is_empty() {
        return String::new();
    }
    let names: Vec<String> = h
        .iter()
        .map(|(pid, c)| format!("{c} (pid {pid})"))
        .collect();
    format!(" ({} has it)", names.join(", "))
}
