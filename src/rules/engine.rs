//! Runs compiled rules over a timeline.
//!
//! Phase 1 finds, per selection, the events that match it on their own (source, kind,
//! regex, literal conditions). Matching events are rare, so phase 2 — a bounded
//! depth-first search that fits events to each pattern's steps — works on short lists.
//!
//! Order between two events is only enforced where it is known: within one source, or
//! between sources that both carry real timestamps. A pasted log without times still
//! has its own order but no place relative to another log, so a step may then match it
//! on either side. Absence is judged on event time only, and only for sources that were
//! captured, with timestamps, for the whole window; otherwise the branch is inconclusive.

use super::model::*;
use crate::event::{Event, Source, Value};
use crate::timeline::Timeline;
use std::collections::HashMap;

/// How many search steps one branch may take before giving up (bounds hostile input).
const BUDGET: usize = 2_000_000;

#[derive(Debug, Clone)]
pub struct Fired {
    pub rule: usize,
    pub branch: usize,
    /// Event indices bound by the pattern, in timeline order.
    pub evidence: Vec<usize>,
    pub confidence: f64,
    pub severity: Severity,
    pub message: String,
    /// Other branches of the same rule that also matched.
    pub corroborating: usize,
}

#[derive(Debug, Clone)]
pub struct Inconclusive {
    pub rule: usize,
    pub branch: usize,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Evaluation {
    pub fired: Vec<Fired>,
    pub inconclusive: Vec<Inconclusive>,
}

/// Events of the timeline indexed by (source, kind), built once per evaluation.
struct Index<'a> {
    by_kind: HashMap<Source, HashMap<&'a str, Vec<usize>>>,
    by_source: HashMap<Source, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(events: &'a [Event]) -> Index<'a> {
        let mut by_kind: HashMap<Source, HashMap<&str, Vec<usize>>> = HashMap::new();
        let mut by_source: HashMap<Source, Vec<usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            by_kind
                .entry(e.source)
                .or_default()
                .entry(&*e.kind)
                .or_default()
                .push(i);
            by_source.entry(e.source).or_default().push(i);
        }
        Index { by_kind, by_source }
    }

    fn candidates(&self, sel: &Sel) -> &[usize] {
        let v = match &sel.kind {
            Some(k) => self
                .by_kind
                .get(&sel.source)
                .and_then(|m| m.get(k.as_str())),
            None => self.by_source.get(&sel.source),
        };
        match v {
            Some(v) => v.as_slice(),
            None => &[],
        }
    }
}

pub fn evaluate(rules: &[Rule], tl: &Timeline) -> Evaluation {
    let index = Index::new(&tl.events);
    let mut out = Evaluation::default();
    for (ri, rule) in rules.iter().enumerate() {
        if !chip_applies(rule, tl.chip()) {
            continue;
        }
        let hits: Vec<Vec<usize>> = rule
            .sels
            .iter()
            .map(|s| {
                index
                    .candidates(s)
                    .iter()
                    .copied()
                    .filter(|&i| static_match(s, &tl.events[i]))
                    .collect()
            })
            .collect();
        let mut matched: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        for (bi, br) in rule.branches.iter().enumerate() {
            let mut ctx = Search {
                rule,
                br,
                tl,
                hits: &hits,
                budget: BUDGET,
                exhausted: false,
                inconclusive: None,
            };
            match ctx.run() {
                Some(bound) => matched.push((bi, bound)),
                None => {
                    if let Some(reason) = ctx.inconclusive {
                        out.inconclusive.push(Inconclusive {
                            rule: ri,
                            branch: bi,
                            reason,
                        });
                    }
                }
            }
        }
        // The strongest matching branch speaks for the rule (ties: the first written):
        // decisive device evidence must not be capped by an earlier, vaguer branch.
        let best =
            matched
                .iter()
                .enumerate()
                .fold(None, |best: Option<usize>, (i, m)| match best {
                    Some(b)
                        if rule.branches[matched[b].0].confidence
                            >= rule.branches[m.0].confidence =>
                    {
                        Some(b)
                    }
                    _ => Some(i),
                });
        if let Some((bi, bound)) = best.map(|i| &matched[i]) {
            let br = &rule.branches[*bi];
            let mut evidence: Vec<usize> = matched
                .iter()
                .flat_map(|(_, b)| b.iter().map(|x| x.1))
                .collect();
            // The attempts the evidence belongs to; the symptoms shown come from them.
            let attempts: Vec<u32> = evidence
                .iter()
                .map(|&i| tl.attempt[i])
                .filter(|&a| a > 0)
                .collect();
            let same_attempt =
                |i: &usize| attempts.is_empty() || attempts.contains(&tl.attempt[*i]);
            evidence.extend(
                br.context
                    .iter()
                    .flat_map(|&s| hits[s].iter().copied().filter(same_attempt).take(3)),
            );
            evidence.sort_unstable();
            evidence.dedup();
            let extra = matched.len() - 1;
            let template = br.message.as_deref().unwrap_or(&rule.message);
            out.fired.push(Fired {
                rule: ri,
                branch: *bi,
                evidence,
                confidence: (br.confidence + 0.03 * extra as f64).min(0.99),
                severity: br.severity.unwrap_or(rule.severity),
                message: render(template, rule, bound, tl),
                corroborating: extra,
            });
        }
    }
    out
}

/// Family names: an ESP8285 is an ESP8266 with built-in flash; S2/S3/C3 are ESP32s.
pub fn chip_family(chip: &str) -> &str {
    if chip.starts_with("esp8266") || chip.starts_with("esp8285") {
        "esp8266"
    } else if chip.starts_with("esp32") {
        "esp32"
    } else {
        chip
    }
}

fn chip_applies(rule: &Rule, chip: Option<&str>) -> bool {
    match chip {
        None => true,
        Some(_) if rule.chips.is_empty() => true,
        Some(c) => rule.chips.iter().any(|r| r == c || r == chip_family(c)),
    }
}

/// A decoded field; `text` falls back to the event's text when no field of that name
/// was decoded (an uploader's result text is a field, the line is the event text).
fn field_value(e: &Event, name: &str) -> Option<Value> {
    match e.field(name) {
        Some(v) => Some(v.clone()),
        None if name == "text" => Some(Value::Str(e.text.clone())),
        None => None,
    }
}

pub fn static_match(sel: &Sel, e: &Event) -> bool {
    if e.source != sel.source || sel.kind.as_ref().is_some_and(|k| *k != e.kind) {
        return false;
    }
    if let Some(c) = &sel.contains
        && !e.text.contains(c.as_str())
    {
        return false;
    }
    if let Some(re) = &sel.regex {
        // The text is matched in place: this runs on every line of a long log.
        let hay = if sel.field == "text" {
            std::borrow::Cow::Borrowed(e.text.as_str())
        } else {
            std::borrow::Cow::Owned(
                field_value(e, &sel.field)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            )
        };
        if !re.is_match(&hay) {
            return false;
        }
    }
    sel.conds.iter().all(|c| match &c.rhs {
        Operand::Ref { .. } => true,
        Operand::Field(other) => cond_holds(
            c,
            field_value(e, &c.field).as_ref(),
            field_value(e, other).as_ref(),
        ),
        _ => cond_holds(c, field_value(e, &c.field).as_ref(), None),
    })
}

/// Compares a field value with a condition; `reference` carries the value of a `ref`.
fn cond_holds(c: &Cond, v: Option<&Value>, reference: Option<&Value>) -> bool {
    let rhs = match (&c.rhs, reference) {
        (Operand::Ref { .. } | Operand::Field(_), Some(r)) => Some(r.clone()),
        (Operand::Ref { .. } | Operand::Field(_), None) => return false,
        (Operand::Lit(l), _) => Some(l.clone()),
        _ => None,
    };
    match c.op {
        Op::Exists => v.is_some(),
        Op::Missing => v.is_none(),
        Op::In | Op::NotIn => {
            let Operand::List(list) = &c.rhs else {
                return false;
            };
            let found = v.is_some_and(|v| list.iter().any(|x| values_eq(v, x)));
            found == (c.op == Op::In)
        }
        Op::Re => match (&c.rhs, v) {
            (Operand::Re(re), Some(v)) => re.is_match(&v.to_string()),
            _ => false,
        },
        _ => {
            let (Some(v), Some(r)) = (v, rhs.as_ref()) else {
                return c.op == Op::Ne && v.is_none();
            };
            compare(c.op, v, r)
        }
    }
}

fn values_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if !matches!((a, b), (Value::Bool(_), _) | (_, Value::Bool(_))) => {
            x == y
        }
        _ => a.to_string().eq_ignore_ascii_case(&b.to_string()),
    }
}

fn compare(op: Op, v: &Value, r: &Value) -> bool {
    match op {
        Op::Eq => values_eq(v, r),
        Op::Ne => !values_eq(v, r),
        Op::Contains => v.to_string().contains(&r.to_string()),
        Op::StartsWith => v.to_string().starts_with(&r.to_string()),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let (Some(x), Some(y)) = (v.as_f64(), r.as_f64()) else {
                return false;
            };
            match op {
                Op::Gt => x > y,
                Op::Gte => x >= y,
                Op::Lt => x < y,
                _ => x <= y,
            }
        }
        _ => false,
    }
}

/// A field of a bound event, or a named group of the selection's regex.
pub fn capture(sel: &Sel, e: &Event, name: &str) -> Option<Value> {
    if let Some(v) = field_value(e, name) {
        return Some(v);
    }
    let re = sel.regex.as_ref()?;
    let hay = if sel.field == "text" {
        e.text.clone()
    } else {
        field_value(e, &sel.field)?.to_string()
    };
    let caps = re.captures(&hay)?;
    caps.name(name).map(|m| Value::infer(m.as_str()))
}

#[derive(Clone, Copy, Debug)]
struct Pos {
    /// The next event of a comparable source must have at least this index.
    min_idx: usize,
    t: i64,
    source: Option<Source>,
    timed: bool,
}

struct Search<'a> {
    rule: &'a Rule,
    br: &'a Branch,
    tl: &'a Timeline,
    hits: &'a [Vec<usize>],
    budget: usize,
    exhausted: bool,
    inconclusive: Option<String>,
}

impl Search<'_> {
    fn run(&mut self) -> Option<Vec<(usize, usize)>> {
        // `unless` selections without references can be decided before searching; those
        // that refer to a step are checked on each complete match.
        if self
            .br
            .unless
            .iter()
            .any(|&s| !has_refs(&self.rule.sels[s]) && !self.hits[s].is_empty())
        {
            return None;
        }
        // A step nothing can satisfy fails the branch without searching.
        let impossible = self.br.steps.iter().any(|st| match st {
            Step::Match { sel, count } => self.hits[*sel].len() < *count as usize,
            Step::Any(alts) => alts.iter().all(|(s, c)| self.hits[*s].len() < *c as usize),
            Step::Absent { .. } => false,
        });
        if impossible {
            return None;
        }
        let mut bound = Vec::new();
        if self.dfs(0, None, None, &mut bound) {
            return Some(bound);
        }
        if self.exhausted {
            self.inconclusive.get_or_insert("the search limit was reached on this much input; analyse a shorter excerpt around the failure".into());
        }
        None
    }

    /// Hits of `sel` that also satisfy its references to the bound steps.
    fn ref_hits<'b>(
        &'b self,
        sel: usize,
        bound: &'b [(usize, usize)],
    ) -> impl Iterator<Item = usize> + 'b {
        self.hits[sel]
            .iter()
            .copied()
            .filter(move |&i| self.refs_hold(sel, i, bound))
    }

    fn pos_of(&self, idx: usize) -> Pos {
        let e = &self.tl.events[idx];
        Pos {
            min_idx: idx + 1,
            t: e.t_us,
            source: Some(e.source),
            timed: e.timed,
        }
    }

    /// Whether the order between a position and an event is known.
    fn comparable(&self, p: &Pos, e: &Event) -> bool {
        p.source == Some(e.source) || (p.timed && e.timed)
    }

    fn fits(
        &self,
        idx: usize,
        prev: Option<Pos>,
        first: Option<Pos>,
        bound: &[(usize, usize)],
    ) -> bool {
        let e = &self.tl.events[idx];
        if bound.iter().any(|b| b.1 == idx) {
            return false;
        }
        if let Some(p) = prev
            && self.comparable(&p, e)
            && idx < p.min_idx
        {
            return false;
        }
        if let Some(f) = first
            && self.comparable(&f, e)
            && e.t_us.saturating_sub(f.t).saturating_abs() > self.br.within_us
        {
            return false;
        }
        true
    }

    fn refs_hold(&self, sel: usize, idx: usize, bound: &[(usize, usize)]) -> bool {
        let s = &self.rule.sels[sel];
        let e = &self.tl.events[idx];
        s.conds.iter().all(|c| match &c.rhs {
            Operand::Ref { sel: rs, field } => {
                let Some(&(_, bi)) = bound.iter().rev().find(|b| b.0 == *rs) else {
                    return false;
                };
                let r = capture(&self.rule.sels[*rs], &self.tl.events[bi], field);
                r.is_some() && cond_holds(c, field_value(e, &c.field).as_ref(), r.as_ref())
            }
            _ => true,
        })
    }

    fn dfs(
        &mut self,
        step: usize,
        prev: Option<Pos>,
        first: Option<Pos>,
        bound: &mut Vec<(usize, usize)>,
    ) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let Some(st) = self.br.steps.get(step) else {
            return self.complete(first, prev, bound);
        };
        match st.clone() {
            Step::Match { sel, count } => self.try_match(step, sel, count, prev, first, bound),
            Step::Any(alts) => alts
                .iter()
                .any(|&(sel, count)| self.try_match(step, sel, count, prev, first, bound)),
            Step::Absent {
                sels,
                for_us,
                meanwhile,
            } => self.try_absent(step, &sels, for_us, meanwhile, prev, first, bound),
        }
    }

    /// Events that can fill a step after `prev`, in timeline order. Scans only the part
    /// of the selection's hits that can qualify, and charges every event it looks at
    /// to the budget.
    fn candidates(
        &mut self,
        sel: usize,
        prev: Option<Pos>,
        first: Option<Pos>,
        bound: &[(usize, usize)],
    ) -> Vec<usize> {
        let hits = &self.hits[sel];
        let source = self.rule.sels[sel].source;
        let lo = match prev {
            Some(p) if p.source == Some(source) => hits.partition_point(|&i| i < p.min_idx),
            _ => 0,
        };
        let mut out = Vec::new();
        for &i in &hits[lo..] {
            if self.budget == 0 {
                self.exhausted = true;
                break;
            }
            self.budget -= 1;
            // One file's events are in time order: past the window, none can qualify.
            if let Some(f) = first
                && f.source == Some(source)
                && self.tl.events[i].t_us.saturating_sub(f.t) > self.br.within_us
            {
                break;
            }
            if self.fits(i, prev, first, bound) && self.refs_hold(sel, i, bound) {
                out.push(i);
            }
        }
        out
    }

    fn try_match(
        &mut self,
        step: usize,
        sel: usize,
        count: u32,
        prev: Option<Pos>,
        first: Option<Pos>,
        bound: &mut Vec<(usize, usize)>,
    ) -> bool {
        let cands = self.candidates(sel, prev, first, bound);
        let n = count as usize;
        if cands.len() < n {
            return false;
        }
        // Windows of `count` consecutive candidates. The first step tries the latest
        // window first, so evidence is the occurrence closest to what follows (the last
        // progress line before the error, not the first).
        let mut starts: Vec<usize> = (0..=cands.len() - n).collect();
        if step == 0 {
            starts.reverse();
        }
        for s in starts {
            let window = &cands[s..s + n];
            let (a, b) = (self.pos_of(window[0]), self.pos_of(window[n - 1]));
            let span_ok = first.is_some()
                || !self.comparable(&a, &self.tl.events[window[n - 1]])
                || b.t.saturating_sub(a.t) <= self.br.within_us;
            if !span_ok {
                continue;
            }
            let mark = bound.len();
            bound.extend(window.iter().map(|&i| (sel, i)));
            if self.dfs(step + 1, Some(b), first.or(Some(a)), bound) {
                return true;
            }
            bound.truncate(mark);
            if self.budget == 0 {
                self.exhausted = true;
                return false;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn try_absent(
        &mut self,
        step: usize,
        sels: &[usize],
        for_us: i64,
        meanwhile: Option<usize>,
        prev: Option<Pos>,
        first: Option<Pos>,
        bound: &mut Vec<(usize, usize)>,
    ) -> bool {
        let Some(p) = prev else { return false };
        if !p.timed {
            self.inconclusive.get_or_insert(
                "the anchor event has no timestamp, so silence after it cannot be measured".into(),
            );
            return false;
        }
        let needed: Vec<Source> = sels
            .iter()
            .chain(meanwhile.iter())
            .map(|&s| self.rule.sels[s].source)
            .collect();
        if let Some(s) = needed
            .iter()
            .find(|s| !self.tl.sources.contains(s) || !self.tl.timed.contains(s))
        {
            let why = if self.tl.sources.contains(s) {
                "has no timestamps"
            } else {
                "was not captured"
            };
            self.inconclusive.get_or_insert(format!(
                "the {s} source {why}, so its silence proves nothing"
            ));
            return false;
        }
        let deadline = p.t.saturating_add(for_us);
        if deadline > self.tl.end_us {
            self.inconclusive
                .get_or_insert("the capture ended before the silence window closed".into());
            return false;
        }
        let in_window = |i: &usize| {
            let t = self.tl.events[*i].t_us;
            t > p.t && t <= deadline
        };
        if sels
            .iter()
            .any(|&s| self.ref_hits(s, bound).any(|i| in_window(&i)))
        {
            return false;
        }
        if let Some(m) = meanwhile {
            match self.hits[m].iter().find(|i| in_window(i)) {
                Some(&i) => bound.push((m, i)),
                None => return false,
            }
        }
        let min_idx = self.tl.events.partition_point(|e| e.t_us <= deadline);
        let v = Pos {
            min_idx,
            t: deadline,
            source: None,
            timed: true,
        };
        let mark = bound.len();
        if self.dfs(step + 1, Some(v), first, bound) {
            return true;
        }
        bound.truncate(mark.saturating_sub(usize::from(meanwhile.is_some())));
        false
    }

    fn complete(&self, first: Option<Pos>, last: Option<Pos>, bound: &[(usize, usize)]) -> bool {
        let (Some(f), Some(l)) = (first, last) else {
            return false;
        };
        let between = |i: &usize| {
            let e = &self.tl.events[*i];
            self.comparable(&f, e)
                && self.comparable(&l, e)
                && *i >= f.min_idx
                && *i < l.min_idx
                && !bound.iter().any(|b| b.1 == *i)
        };
        if self
            .br
            .until
            .iter()
            .any(|&s| self.ref_hits(s, bound).any(|i| between(&i)))
        {
            return false;
        }
        if self
            .br
            .unless
            .iter()
            .any(|&s| has_refs(&self.rule.sels[s]) && self.ref_hits(s, bound).next().is_some())
        {
            return false;
        }
        let after = |i: &usize| {
            let e = &self.tl.events[*i];
            self.comparable(&l, e) && *i >= l.min_idx
        };
        !self
            .br
            .unless_after
            .iter()
            .any(|&s| self.ref_hits(s, bound).any(|i| after(&i)))
    }
}

fn has_refs(sel: &Sel) -> bool {
    sel.conds
        .iter()
        .any(|c| matches!(c.rhs, Operand::Ref { .. }))
}

/// Fills `{sel.field}` and `{facts.name}` placeholders; `{{`/`}}` are literal braces.
pub fn render(template: &str, rule: &Rule, bound: &[(usize, usize)], tl: &Timeline) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let Some(close) = tail.find('}').filter(|_| tail.starts_with('{')) else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
            continue;
        };
        out.push_str(&placeholder(&tail[1..close], rule, bound, tl));
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

fn placeholder(name: &str, rule: &Rule, bound: &[(usize, usize)], tl: &Timeline) -> String {
    let Some((scope, field)) = name.split_once('.') else {
        return "?".into();
    };
    if scope == "facts" {
        return tl.facts.get(field).map_or("?".into(), ToString::to_string);
    }
    let Some(si) = rule.sels.iter().position(|s| s.name == scope) else {
        return "?".into();
    };
    if field == "count" {
        return bound.iter().filter(|b| b.0 == si).count().to_string();
    }
    bound
        .iter()
        .rev()
        .find(|b| b.0 == si)
        .and_then(|&(_, ei)| capture(&rule.sels[si], &tl.events[ei], field))
        .map_or("?".into(), |v| v.to_string())
}
