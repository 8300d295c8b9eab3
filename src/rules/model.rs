//! The compiled, checked form of a rule that the engine runs.

use crate::event::{Source, Value};
use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub cause: String,
    pub title: String,
    pub severity: Severity,
    pub chips: Vec<String>,
    pub message: String,
    pub explanation: String,
    pub fix: Vec<String>,
    /// Which input would tell this cause apart from its look-alikes.
    pub decide: Option<String>,
    pub references: Vec<String>,
    pub supersedes: Vec<String>,
    pub sels: Vec<Sel>,
    pub branches: Vec<Branch>,
    pub examples: Vec<Example>,
    /// File the rule came from (`builtin:rules/x.toml` or a path).
    pub origin: String,
}

/// A selection: what one event must look like.
#[derive(Debug, Clone)]
pub struct Sel {
    pub name: String,
    pub source: Source,
    pub kind: Option<String>,
    pub field: String,
    pub regex: Option<Regex>,
    pub contains: Option<String>,
    pub conds: Vec<Cond>,
}

#[derive(Debug, Clone)]
pub struct Cond {
    pub field: String,
    pub op: Op,
    pub rhs: Operand,
}

#[derive(Debug, Clone)]
pub enum Operand {
    Lit(Value),
    List(Vec<Value>),
    /// A value captured by an earlier step: selection index and field or group name.
    Ref {
        sel: usize,
        field: String,
    },
    /// Another field of the same event (`{ field = "max" }`).
    Field(String),
    Re(Regex),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Re,
    Contains,
    StartsWith,
    Exists,
    Missing,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "re" => Op::Re,
            "contains" => Op::Contains,
            "starts_with" => Op::StartsWith,
            "exists" => Op::Exists,
            "missing" => Op::Missing,
            _ => return None,
        })
    }
    pub const NAMES: &'static str =
        "eq ne in not_in gt gte lt lte re contains starts_with exists missing";
}

#[derive(Debug, Clone)]
pub enum Step {
    /// `count` events matching the selection, after the previous step.
    Match { sel: usize, count: u32 },
    /// The first alternative to be satisfied.
    Any(Vec<(usize, u32)>),
    /// Nothing matching `sels` within `for_us` after the previous step (event time).
    Absent {
        sels: Vec<usize>,
        for_us: i64,
        meanwhile: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub steps: Vec<Step>,
    pub within_us: i64,
    /// An event of these between the first and the last step cancels the instance.
    pub until: Vec<usize>,
    /// Any event of these anywhere in the input disables the branch.
    pub unless: Vec<usize>,
    /// Any event of these after the last step disables the branch.
    pub unless_after: Vec<usize>,
    /// Events of these are shown with the evidence (the symptom the cause explains),
    /// without being required.
    pub context: Vec<usize>,
    pub confidence: f64,
    pub message: Option<String>,
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone)]
pub struct Example {
    pub name: String,
    pub expect_match: bool,
    pub events: Vec<String>,
    pub end_s: Option<f64>,
    pub expect_message: Option<String>,
    pub expect_top: bool,
    pub sources: Vec<Source>,
    pub line: usize,
}

/// Parses `10s`, `500ms`, `2m`, `24h` into microseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mul = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some((v * mul) as i64)
}

/// `high`/`medium`/`low` or a number in 0..=1.
pub fn parse_confidence(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::String(s) => match s.as_str() {
            "high" => Some(0.9),
            "medium" => Some(0.6),
            "low" => Some(0.35),
            _ => None,
        },
        toml::Value::Float(f) if (0.0..=1.0).contains(f) => Some(*f),
        toml::Value::Integer(i) if (0..=1).contains(i) => Some(*i as f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Some(10_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000));
        assert_eq!(parse_duration("24h"), Some(86_400_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("10 parsecs"), None);
    }
}
