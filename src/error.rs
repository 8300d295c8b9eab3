//! Errors shown to users: what went wrong, with context, and what to do next.

use std::fmt;

#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
}

impl UserError {
    pub fn new(message: impl Into<String>) -> UserError {
        UserError {
            message: message.into(),
            hint: None,
        }
    }
    pub fn hint(mut self, h: impl Into<String>) -> UserError {
        self.hint = Some(h.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UserError {}

/// Reads an input file, turning the usual failures into messages a user can act on.
pub fn read_input(path: &std::path::Path, what: &str) -> Result<Vec<u8>, UserError> {
    std::fs::read(path).map_err(|e| input_error(path, what, e))
}

/// Opens an input file to be read as a stream, with the same messages as [`read_input`].
pub fn open_input(path: &std::path::Path, what: &str) -> Result<std::fs::File, UserError> {
    if path.is_dir() {
        // Opening a directory succeeds on Unix; only reading it fails.
        return Err(UserError::new(format!(
            "cannot read {what} `{}`: it is a directory",
            path.display()
        ))
        .hint("give a file, not a directory"));
    }
    std::fs::File::open(path).map_err(|e| input_error(path, what, e))
}

fn input_error(path: &std::path::Path, what: &str, e: std::io::Error) -> UserError {
    let base = UserError::new(format!("cannot read {what} `{}`: {e}", path.display()));
    match e.kind() {
        std::io::ErrorKind::NotFound => base.hint("check the path; save the log to a file first (e.g. copy the terminal output into a .log file)"),
        std::io::ErrorKind::PermissionDenied => base.hint("check the file's permissions or run as a user that can read it"),
        _ if path.is_dir() => base.hint("give a file, not a directory"),
        _ => base,
    }
}
