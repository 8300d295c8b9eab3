//! Rule-file diagnostics that point at a file, line and column, with a hint.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Dotted path of the offending key, e.g. `sel.invite.regex`.
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error", self.file, self.line, self.col)?;
        if !self.field.is_empty() {
            write!(f, " in `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Turns byte offsets into 1-based line:column for one source text.
pub struct Locator<'a> {
    pub file: &'a str,
    src: &'a str,
}

impl<'a> Locator<'a> {
    pub fn new(file: &'a str, src: &'a str) -> Self {
        Locator { file, src }
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    pub fn at(
        &self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, col) = span.map_or((1, 1), |s| line_col(self.src, s.start));
        Diagnostic {
            file: self.file.to_string(),
            line,
            col,
            field: field.to_string(),
            message: message.into(),
            hint: None,
        }
    }
}

pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

pub trait WithHint {
    fn hint(self, h: impl Into<String>) -> Self;
}

impl WithHint for Diagnostic {
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd\nef", 4), (2, 2));
        assert_eq!(line_col("x", 99), (1, 2));
    }
}
