//! An analysis made off the UI thread, as the screen takes it. The rules ran over a
//! copy of the events; by the time the result arrives the screen's events moved on
//! (new ones inserted, old ones let go), so indices into the copy mean nothing to
//! it. The evidence travels as the events themselves, which the screen finds again.

use crate::analysis::Report;
use crate::event::{Event, Value};
use crate::session::{Held, Outline, Window, sort_front};
use crate::timeline::Timeline;
use std::collections::{BTreeMap, VecDeque};

/// A report whose evidence indices point into `evidence`.
#[derive(Debug, Default)]
pub struct Found {
    pub(crate) report: Report,
    /// Every event some finding rests on, once each, in timeline order.
    pub(crate) evidence: Vec<Event>,
    pub(crate) facts: BTreeMap<String, Value>,
}

impl Found {
    /// Re-points `report`, made over `tl`, at copies of its evidence only: a few
    /// events, where the timeline is the whole window.
    pub fn new(mut report: Report, tl: &Timeline) -> Found {
        let mut used: Vec<usize> = evidence_mut(&mut report)
            .flat_map(|ev| ev.iter().copied())
            .filter(|&i| i < tl.events.len())
            .collect();
        used.sort_unstable();
        used.dedup();
        // An index the timeline lacks becomes one past `evidence`, which the screen
        // drops like evidence it let go.
        evidence_mut(&mut report)
            .flat_map(|ev| ev.iter_mut())
            .for_each(|i| *i = used.partition_point(|&u| u < *i));
        Found {
            evidence: used.iter().map(|&i| tl.events[i].clone()).collect(),
            report,
            facts: tl.facts.clone(),
        }
    }
}

pub(crate) fn evidence_mut(r: &mut Report) -> impl Iterator<Item = &mut Vec<usize>> {
    r.findings
        .iter_mut()
        .chain(r.fired.iter_mut())
        .map(|f| &mut f.evidence)
}

/// The analysis thread's own copy of the session's held events, fed as they arrive
/// and let go as the session lets them go, so a request hands over no events.
pub struct Mirror {
    events: VecDeque<Event>,
    held: Held,
    window: Window,
}

impl Mirror {
    pub fn new(window: Window) -> Mirror {
        Mirror {
            events: VecDeque::new(),
            held: Held::default(),
            window,
        }
    }

    /// What one push added to the session; like the session, makes room first.
    pub fn add(&mut self, events: Vec<Event>) {
        if self.held.over(&self.window) {
            let cut = self.held.cut(&self.window);
            let front = sort_front(&mut self.events, cut);
            self.events.drain(..front.gone);
        }
        events.iter().for_each(|e| self.held.add(e));
        self.events.extend(events);
    }

    /// Runs `analyse` over the timeline the session would build now. The events go
    /// into the timeline and come back sorted, which the next sort finds cheap.
    pub fn analyse(
        &mut self,
        outline: &Outline,
        analyse: &mut dyn FnMut(&Timeline) -> Report,
    ) -> Found {
        let tl = outline.timeline(std::mem::take(&mut self.events));
        let found = Found::new(analyse(&tl), &tl);
        self.events = tl.events.into();
        // The timeline leaves out events that are not the session's to analyse.
        self.held.recount(&self.events);
        found
    }
}
