//! The I/O shell of `ota-doctor report`: read the trace, analyse it exactly as
//! `analyze --trace` does, render, write.

use crate::analysis;
use crate::cli::{ReportArgs, ReportFormat};
use crate::commands::{load_rules, read_trace};
use crate::error::UserError;
use crate::timeline::Builder;
use std::io::Write;

pub fn run(a: &ReportArgs) -> Result<i32, UserError> {
    let format = a
        .format
        .unwrap_or_else(|| from_extension(a.output.as_deref()));
    let set = load_rules(&a.rules)?;
    let mut notes = Vec::new();
    let events = read_trace(&a.trace, &mut notes)?;
    let mut b = Builder::new();
    b.events(events);
    let tl = b.build();
    let mut report = analysis::analyze(&set, &tl);
    report.notes.extend(notes);
    let doc = match format {
        ReportFormat::Md => super::markdown::render(&report, &tl),
        ReportFormat::Html => super::html::render(&report, &tl),
    };
    match &a.output {
        Some(p) => write_file(p, &doc),
        None => {
            let mut o = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error.
            let _ = o.write_all(doc.as_bytes());
            let _ = o.flush();
            Ok(0)
        }
    }
}

fn from_extension(p: Option<&std::path::Path>) -> ReportFormat {
    let ext = p
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => ReportFormat::Html,
        _ => ReportFormat::Md,
    }
}

fn write_file(p: &std::path::Path, doc: &str) -> Result<i32, UserError> {
    if p.is_dir() {
        return Err(UserError::new(format!(
            "cannot write report `{}`: it is a directory",
            p.display()
        ))
        .hint("give a file name, e.g. --output report.html"));
    }
    std::fs::write(p, doc).map_err(|e| {
        UserError::new(format!("cannot write report `{}`: {e}", p.display()))
            .hint("check that the directory exists and is writable")
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn format_follows_the_output_extension() {
        assert_eq!(from_extension(None), ReportFormat::Md);
        assert_eq!(
            from_extension(Some(Path::new("r.HTML"))),
            ReportFormat::Html
        );
        assert_eq!(from_extension(Some(Path::new("r.htm"))), ReportFormat::Html);
        assert_eq!(from_extension(Some(Path::new("r.md"))), ReportFormat::Md);
    }
}
