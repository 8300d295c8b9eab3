//! `e`: the trace as it stands, written where the configuration says.

use crate::event::Event;
use crate::export::trace;
use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Writes a complete trace file and returns the line for the status bar. Failure is
/// a message, not an error: the live run goes on.
pub fn snapshot(path: &Path, events: &VecDeque<Event>) -> String {
    let written = std::fs::File::create(path).and_then(|f| {
        let mut w = BufWriter::new(f);
        trace::write_header(&mut w)?;
        events
            .iter()
            .try_for_each(|e| trace::write_event(&mut w, e))?;
        w.flush()
    });
    match written {
        Ok(()) => format!("exported {} events to {}", events.len(), path.display()),
        Err(e) => format!("export to {} failed: {e}", path.display()),
    }
}
