//! The search/filter regex: what is being typed, what compiled, and what failed.

use crate::event::Event;
use regex::Regex;

#[derive(Debug, Default, Clone)]
pub struct Search {
    /// Some while the user types after `/`.
    pub input: Option<String>,
    pub regex: Option<Regex>,
    /// Why the last pattern did not compile; shown in the status line.
    pub error: Option<String>,
    /// The timeline (and log panes) show only matching events.
    pub filter: bool,
}

impl Search {
    /// Compiles what was typed. An invalid pattern keeps the previous regex so a typo
    /// does not throw away a working filter.
    pub fn commit(&mut self) -> bool {
        let Some(text) = self.input.take() else {
            return false;
        };
        if text.is_empty() {
            self.regex = None;
            self.error = None;
            self.filter = false;
            return false;
        }
        match Regex::new(&text) {
            Ok(r) => {
                self.regex = Some(r);
                self.error = None;
                true
            }
            Err(e) => {
                // regex's messages span lines with a caret diagram; the last line says
                // what is wrong.
                let why = e.to_string();
                let last = why
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                self.error = Some(format!("invalid regex `{text}`: {}", last.trim()));
                false
            }
        }
    }

    /// Kind, source and text are all searchable: `ota.result`, `serial`, `Bad Size`.
    pub fn matches(&self, e: &Event) -> bool {
        self.regex.as_ref().is_none_or(|r| {
            r.is_match(&e.text) || r.is_match(&e.kind) || r.is_match(e.source.name())
        })
    }

    /// Whether `e` is shown under the current filter.
    pub fn shows(&self, e: &Event) -> bool {
        !self.filter || self.matches(e)
    }
}
