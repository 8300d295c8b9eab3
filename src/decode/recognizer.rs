//! A small table-driven recogniser: a list of patterns, each naming an event kind and
//! the typed fields it extracts. A `RegexSet` tells in one pass which patterns can match,
//! so a line that matches nothing (most lines) costs one scan.

use crate::event::{Fields, Value};
use regex::{Captures, Regex, RegexSet};

pub type Fill = fn(&Captures<'_>, &mut Fields);

#[derive(Clone)]
pub struct Pattern {
    pub kind: &'static str,
    pub re: &'static str,
    pub fill: Fill,
}

/// Cloning gives the copy its own search scratch space (see `serial::LOCAL`).
#[derive(Clone)]
pub struct Recognizer {
    set: RegexSet,
    res: Vec<Regex>,
    pats: Vec<Pattern>,
}

impl Recognizer {
    pub fn new(pats: Vec<Pattern>) -> Recognizer {
        let set = RegexSet::new(pats.iter().map(|p| p.re)).expect("built-in patterns compile");
        let res = pats
            .iter()
            .map(|p| Regex::new(p.re).expect("built-in pattern"))
            .collect();
        Recognizer { set, res, pats }
    }

    /// The first pattern (in table order) that matches `text`.
    pub fn classify(&self, text: &str) -> Option<(&'static str, Fields)> {
        // Most lines match nothing: a plain scan says so without the overlapping search.
        if !self.set.is_match(text) {
            return None;
        }
        let hit = self.set.matches(text).into_iter().next()?;
        let caps = self.res[hit].captures(text)?;
        let mut f = Fields::new();
        (self.pats[hit].fill)(&caps, &mut f);
        Some((self.pats[hit].kind, f))
    }

    pub fn sources(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.pats.iter().map(|p| p.re)
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.pats.len()
    }
}

/// Capture group `i` as a string field.
pub fn s(f: &mut Fields, name: &str, c: &Captures<'_>, i: usize) {
    if let Some(m) = c.get(i) {
        f.insert(name.into(), Value::Str(m.as_str().trim().to_string()));
    }
}

/// Capture group `i` as an integer field (decimal).
pub fn n(f: &mut Fields, name: &str, c: &Captures<'_>, i: usize) {
    if let Some(v) = c.get(i).and_then(|m| m.as_str().trim().parse::<i64>().ok()) {
        f.insert(name.into(), Value::Int(v));
    }
}

/// Capture group `i` as an integer field (hexadecimal, without `0x`).
pub fn hex(f: &mut Fields, name: &str, c: &Captures<'_>, i: usize) {
    if let Some(v) = c
        .get(i)
        .and_then(|m| i64::from_str_radix(m.as_str(), 16).ok())
    {
        f.insert(name.into(), Value::Int(v));
    }
}

pub fn set(f: &mut Fields, name: &str, v: impl Into<Value>) {
    f.insert(name.into(), v.into());
}

/// Builds a [`Pattern`]; keeps the tables short.
pub const fn p(kind: &'static str, re: &'static str, fill: Fill) -> Pattern {
    Pattern { kind, re, fill }
}

pub fn none(_: &Captures<'_>, _: &mut Fields) {}
