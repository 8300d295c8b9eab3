//! The event model shared by every pipeline stage.
//!
//! An [`Event`] is one thing that happened: a serial line, an uploader line, a decoded
//! packet, or a finding. Decoders turn raw input into events; the timeline orders them;
//! rules read them. Nothing here does I/O.

mod fields;

pub use fields::Fields;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// Where an event came from.
///
/// The declaration order is the tie-break order on equal timestamps: the wire is the
/// cause of what the device prints, which is the cause of what the uploader prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Net,
    Serial,
    Host,
    Finding,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Net, Source::Serial, Source::Host, Source::Finding];

    pub fn name(self) -> &'static str {
        match self {
            Source::Net => "net",
            Source::Serial => "serial",
            Source::Host => "host",
            Source::Finding => "finding",
        }
    }

    /// Accepts the names users type in rule files and example timelines.
    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "net" => Some(Source::Net),
            "serial" => Some(Source::Serial),
            "host" | "uploader" => Some(Source::Host),
            "finding" => Some(Source::Finding),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed field value. Integers stay integers so rules can compare sizes and ports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) => Some(*f as i64),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    /// Parses a value written in an example timeline or a rule: numbers become numbers.
    pub fn infer(s: &str) -> Value {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
        match s {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Str(s.to_string()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// One event on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Host time in microseconds. For time-of-day logs: since midnight; for ISO stamps
    /// and live capture: since the Unix epoch; for untimed logs: a synthetic order.
    pub t_us: i64,
    pub source: Source,
    /// What the decoder recognised, e.g. `line`, `boot`, `espota.error`, `ota.invite`.
    /// Decoders name kinds with constants, so most events hold no copy of the name.
    pub kind: Cow<'static, str>,
    /// The human-readable text (the line as read, secrets redacted).
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// False when the input carried no timestamp and `t_us` only gives order.
    #[serde(default = "yes")]
    pub timed: bool,
    /// True when the time was taken from a neighbouring line (the line had no stamp).
    #[serde(default, skip_serializing_if = "is_false")]
    pub approx: bool,
    /// 1-based line in the input file, 0 when not from a file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: u32,
}

fn yes() -> bool {
    true
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Event {
    pub fn new(
        source: Source,
        kind: impl Into<Cow<'static, str>>,
        text: impl Into<String>,
    ) -> Event {
        Event {
            t_us: 0,
            source,
            kind: kind.into(),
            text: text.into(),
            fields: Fields::new(),
            timed: true,
            approx: false,
            line: 0,
        }
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Event {
        self.fields.insert(name.to_string(), v.into());
        self
    }
}
