//! Rule files (TOML) → checked [`Rule`]s, with file:line:col diagnostics.
//!
//! Parsing happens in two passes: serde with `deny_unknown_fields` catches unknown keys
//! and wrong types (toml reports their spans), then `compile` checks meaning — kinds and
//! fields against the vocabulary, regexes, selection references — keeping spans through
//! `toml::Spanned` so every error names the line.

use super::diag::{Diagnostic, Locator, WithHint};
use super::model::*;
use super::vocab;
use crate::event::{Source, Value};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    schema: Option<S<i64>>,
    id: S<String>,
    cause: S<String>,
    title: String,
    severity: S<String>,
    #[serde(default)]
    chips: Vec<String>,
    message: S<String>,
    explanation: String,
    #[serde(default)]
    fix: Vec<String>,
    #[serde(default)]
    decide: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    supersedes: Vec<String>,
    #[serde(default)]
    sel: BTreeMap<String, S<RawSel>>,
    #[serde(default)]
    when: Vec<S<RawWhen>>,
    #[serde(default)]
    example: Vec<S<RawExample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSel {
    source: S<String>,
    #[serde(default)]
    kind: Option<S<String>>,
    #[serde(default)]
    regex: Option<S<String>>,
    #[serde(default)]
    field: Option<S<String>>,
    #[serde(default)]
    contains: Option<String>,
    #[serde(default, rename = "where")]
    conds: BTreeMap<String, S<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    steps: Vec<S<toml::Value>>,
    #[serde(default)]
    within: Option<S<String>>,
    #[serde(default)]
    until: Vec<S<String>>,
    #[serde(default)]
    unless: Vec<S<String>>,
    #[serde(default)]
    unless_after: Vec<S<String>>,
    #[serde(default)]
    context: Vec<S<String>>,
    #[serde(default)]
    confidence: Option<S<toml::Value>>,
    #[serde(default)]
    message: Option<S<String>>,
    #[serde(default)]
    severity: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    name: String,
    expect: S<String>,
    events: Vec<String>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    expect_message: Option<String>,
    #[serde(default)]
    expect_top: bool,
    #[serde(default)]
    sources: Vec<S<String>>,
}

/// Known cause ids (design.md). Rules may name others only with a `x_` prefix, so a typo
/// in a cause id is caught.
pub const CAUSES: &[&str] = &[
    "wrong_port",
    "missing_reset_after_serial_flash",
    "blocking_loop",
    "insufficient_space",
    "flash_config_mismatch",
    "auth_failed",
    "host_firewall",
    "weak_wifi_or_packet_loss",
    "concurrent_activity",
    "device_crash_during_update",
    "md5_mismatch",
    "device_unreachable",
    "wrong_partition_scheme",
    "invalid_image",
    "ota_not_started",
    "protocol_mismatch",
    "uploader_quirk",
    "ok",
];

/// "unknown field `mesage`, expected one of `id`, `message`, …" → "did you mean `message`?"
fn unknown_field_hint(msg: &str) -> String {
    let names: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    match names.split_first() {
        Some((bad, known)) => match vocab::suggest(bad, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("allowed here: {}", known.join(", ")),
        },
        None => "check the spelling; see README.md, \"Writing a rule\"".into(),
    }
}

/// Longest pattern a rule may hold. Real rule patterns are a few dozen characters; a
/// limit keeps a pasted or generated monster from being parsed at all.
pub const MAX_PATTERN_LEN: usize = 4096;
/// Memory one compiled rule regex may take (its program), and the lazy DFA's cache per
/// search: both bound what a hostile pattern costs, at load time and on every line.
pub const REGEX_SIZE_LIMIT: usize = 1 << 22;
pub const REGEX_DFA_LIMIT: usize = 1 << 21;
/// Deepest group nesting accepted (the parser's stack).
const REGEX_NEST_LIMIT: u32 = 64;

/// Compiles a pattern from a rule file under fixed limits. The error is the message and
/// a hint for what to do instead.
pub fn compile_user_regex(re: &str) -> Result<Regex, (String, String)> {
    if re.len() > MAX_PATTERN_LEN {
        return Err((
            format!(
                "the pattern is {} bytes long; at most {MAX_PATTERN_LEN} are accepted",
                re.len()
            ),
            "match a short distinctive part of the line (a rule needs one telling phrase, not the whole text), or split it into several selections".into(),
        ));
    }
    regex::RegexBuilder::new(re)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => (
                format!("the pattern compiles to more than {} KiB", limit / 1024),
                "large counted repetitions multiply (`(a{1000}){1000}` is a million states): use `+` or `*`, or a smaller count".into(),
            ),
            e => (
                regex_error(&e.to_string()),
                "patterns use Rust regex syntax: no look-around or backreferences; use '''…''' to avoid escaping".into(),
            ),
        })
}

/// The regex crate draws a caret under the fault; keep its message and where it points.
fn regex_error(full: &str) -> String {
    let lines: Vec<&str> = full.lines().collect();
    let msg = lines
        .last()
        .map_or("invalid regex", |l| l.trim().trim_start_matches("error: "));
    let caret = lines.iter().position(|l| l.trim_start().starts_with('^'));
    match caret {
        Some(c) if c > 0 => {
            let col = lines[c].find('^').unwrap_or(0);
            let at: String = lines[c - 1].chars().skip(col).take(20).collect();
            format!("{msg} at `{}`", at.trim_end())
        }
        _ => msg.to_string(),
    }
}

/// Parses and checks one rule file. Returns every problem found, not just the first.
pub fn load_rule(file: &str, src: &str) -> Result<Rule, Vec<Diagnostic>> {
    let loc = Locator::new(file, src);
    let raw: RawRule = toml::from_str(src).map_err(|e| {
        let mut d = loc.at(e.span(), "", e.message().trim().to_string());
        if e.message().contains("unknown field") {
            d = d.hint(unknown_field_hint(e.message()));
        }
        vec![d]
    })?;
    let mut c = Compiler {
        loc: &loc,
        diags: Vec::new(),
        sel_names: Vec::new(),
    };
    let rule = c.rule(raw);
    if c.diags.is_empty() {
        Ok(rule)
    } else {
        Err(c.diags)
    }
}

struct Compiler<'a> {
    loc: &'a Locator<'a>,
    diags: Vec<Diagnostic>,
    sel_names: Vec<String>,
}

impl Compiler<'_> {
    fn err(
        &mut self,
        span: std::ops::Range<usize>,
        field: &str,
        msg: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags.push(self.loc.at(Some(span), field, msg));
        self.diags.last_mut().unwrap()
    }

    fn rule(&mut self, raw: RawRule) -> Rule {
        if let Some(s) = &raw.schema
            && *s.get_ref() != 1
        {
            self.err(
                s.span(),
                "schema",
                format!("unsupported schema {}", s.get_ref()),
            )
            .hint = Some("this ota-doctor reads rule schema 1".into());
        }
        self.check_header(&raw);
        let severity = Severity::parse(raw.severity.get_ref()).unwrap_or(Severity::Error);
        self.sel_names = raw.sel.keys().cloned().collect();
        let sels: Vec<Sel> = raw.sel.iter().map(|(n, s)| self.sel(n, s)).collect();
        if raw.when.is_empty() {
            self.err(
                raw.id.span(),
                "when",
                "a rule needs at least one [[when]] pattern",
            )
            .hint = Some("add e.g. [[when]] steps = [ { match = \"my_selection\" } ]".into());
        }
        let branches = raw
            .when
            .iter()
            .enumerate()
            .map(|(i, w)| self.branch(i, w, &sels))
            .collect();
        self.check_template(&raw.message, "message", &sels);
        for (i, w) in raw.when.iter().enumerate() {
            if let Some(m) = &w.get_ref().message {
                self.check_template(m, &format!("when[{}].message", i + 1), &sels);
            }
        }
        let examples = raw
            .example
            .iter()
            .enumerate()
            .map(|(i, e)| self.example(i, e))
            .collect();
        Rule {
            id: raw.id.into_inner(),
            cause: raw.cause.into_inner(),
            title: raw.title,
            severity,
            chips: raw.chips,
            message: raw.message.into_inner(),
            explanation: raw.explanation,
            fix: raw.fix,
            decide: raw.decide,
            references: raw.references,
            supersedes: raw.supersedes,
            sels,
            branches,
            examples,
            origin: self.loc.file.to_string(),
        }
    }

    fn check_header(&mut self, raw: &RawRule) {
        if Severity::parse(raw.severity.get_ref()).is_none() {
            self.err(
                raw.severity.span(),
                "severity",
                format!("unknown severity `{}`", raw.severity.get_ref()),
            )
            .hint = Some("use one of: error, warning, info".into());
        }
        let cause = raw.cause.get_ref();
        if !CAUSES.contains(&cause.as_str()) && !cause.starts_with("x_") {
            let hint = match vocab::suggest(cause, CAUSES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? New causes must start with `x_`"),
                None => format!(
                    "known causes: {}; new causes must start with `x_`",
                    CAUSES.join(", ")
                ),
            };
            self.err(
                raw.cause.span(),
                "cause",
                format!("unknown cause `{cause}`"),
            )
            .hint = Some(hint);
        }
        if raw.id.get_ref().trim().is_empty() || raw.id.get_ref().contains(char::is_whitespace) {
            self.err(
                raw.id.span(),
                "id",
                "the id must be one word, e.g. OTA123 or USR-mqtt-storm",
            );
        }
    }

    fn sel(&mut self, name: &str, raw: &S<RawSel>) -> Sel {
        let path = format!("sel.{name}");
        let r = raw.get_ref();
        let source = match Source::parse(r.source.get_ref()) {
            Some(s) => s,
            None => {
                self.err(
                    r.source.span(),
                    &format!("{path}.source"),
                    format!("unknown source `{}`", r.source.get_ref()),
                )
                .hint = Some("use one of: serial, host, net".into());
                Source::Serial
            }
        };
        let kind = r.kind.as_ref().map(|k| {
            if !vocab::has_kind(source, k.get_ref()) {
                let hint = match vocab::suggest(k.get_ref(), vocab::kind_names(source)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "{source} kinds: {}",
                        vocab::kind_names(source).collect::<Vec<_>>().join(", ")
                    ),
                };
                self.err(
                    k.span(),
                    &format!("{path}.kind"),
                    format!("{source} events have no kind `{}`", k.get_ref()),
                )
                .hint = Some(hint);
            }
            k.get_ref().clone()
        });
        let field = r.field.as_ref().map_or("text".to_string(), |f| {
            self.check_field(
                source,
                kind.as_deref(),
                f.get_ref(),
                f.span(),
                &format!("{path}.field"),
            );
            f.get_ref().clone()
        });
        let regex = r
            .regex
            .as_ref()
            .and_then(|re| self.regex(re, &format!("{path}.regex")));
        let conds = r
            .conds
            .iter()
            .flat_map(|(f, v)| {
                self.check_field(
                    source,
                    kind.as_deref(),
                    f,
                    v.span(),
                    &format!("{path}.where.{f}"),
                );
                self.conds(f, v, &format!("{path}.where.{f}"))
            })
            .collect();
        Sel {
            name: name.to_string(),
            source,
            kind,
            field,
            regex,
            contains: r.contains.clone(),
            conds,
        }
    }

    /// Every `{sel.field}` must name a selection and something it can capture.
    fn check_template(&mut self, msg: &S<String>, path: &str, sels: &[Sel]) {
        static PH: std::sync::LazyLock<Regex> =
            std::sync::LazyLock::new(|| Regex::new(r"\{([^{}]*)\}").unwrap());
        let text = msg.get_ref().replace("{{", "").replace("}}", "");
        for c in PH.captures_iter(&text) {
            let name = &c[1];
            let Some((scope, field)) = name.split_once('.') else {
                self.err(
                    msg.span(),
                    path,
                    format!("placeholder `{{{name}}}` must be `{{selection.field}}`"),
                );
                continue;
            };
            if scope == "facts" {
                continue;
            }
            let Some(sel) = sels.iter().find(|s| s.name == scope) else {
                let hint = match vocab::suggest(scope, sels.iter().map(|s| s.name.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "placeholders name a selection of this file, or facts".into(),
                };
                self.err(
                    msg.span(),
                    path,
                    format!("placeholder `{{{name}}}` names no selection"),
                )
                .hint = Some(hint);
                continue;
            };
            let group = sel
                .regex
                .as_ref()
                .is_some_and(|r| r.capture_names().flatten().any(|g| g == field));
            if field != "count"
                && !group
                && !vocab::has_field(sel.source, sel.kind.as_deref(), field)
            {
                self.err(msg.span(), path, format!("placeholder `{{{name}}}`: `{scope}` captures no `{field}`"))
                    .hint = Some("use a field of the selection's kind, a named regex group (?P<name>…), or `count`".into());
            }
        }
    }

    fn check_field(
        &mut self,
        source: Source,
        kind: Option<&str>,
        field: &str,
        span: std::ops::Range<usize>,
        path: &str,
    ) {
        if vocab::has_field(source, kind, field) {
            return;
        }
        let names = vocab::field_names(source, kind);
        let hint = match vocab::suggest(field, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("fields here: {}", names.join(", ")),
        };
        let what = kind.map_or(format!("{source} events"), |k| {
            format!("{source} `{k}` events")
        });
        self.err(span, path, format!("{what} have no field `{field}`"))
            .hint = Some(hint);
    }

    fn regex(&mut self, re: &S<String>, path: &str) -> Option<Regex> {
        match compile_user_regex(re.get_ref()) {
            Ok(r) => Some(r),
            Err((msg, hint)) => {
                self.err(re.span(), path, format!("bad regex: {msg}")).hint = Some(hint);
                None
            }
        }
    }

    /// `where.f = value` (equality) or `where.f = { op = value, op2 = value2 }` (all hold).
    fn conds(&mut self, field: &str, v: &S<toml::Value>, path: &str) -> Vec<Cond> {
        let pairs: Vec<(Op, toml::Value)> = match v.get_ref() {
            toml::Value::Table(t) if !t.contains_key("ref") && !t.contains_key("field") => {
                let mut out = Vec::new();
                for (k, val) in t {
                    match Op::parse(k) {
                        Some(op) => out.push((op, val.clone())),
                        None => {
                            let hint = match vocab::suggest(k, Op::NAMES.split(' ')) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => format!("operators: {}", Op::NAMES),
                            };
                            self.err(v.span(), path, format!("unknown operator `{k}`"))
                                .hint = Some(hint);
                        }
                    }
                }
                out
            }
            other => vec![(Op::Eq, other.clone())],
        };
        pairs
            .into_iter()
            .filter_map(|(op, rhs)| {
                let rhs = self.operand(op, &rhs, v.span(), path)?;
                Some(Cond {
                    field: field.to_string(),
                    op,
                    rhs,
                })
            })
            .collect()
    }

    fn operand(
        &mut self,
        op: Op,
        v: &toml::Value,
        span: std::ops::Range<usize>,
        path: &str,
    ) -> Option<Operand> {
        if let toml::Value::Table(t) = v
            && let Some(toml::Value::String(f)) = t.get("field")
        {
            return Some(Operand::Field(f.clone()));
        }
        if let toml::Value::Table(t) = v
            && let Some(toml::Value::String(r)) = t.get("ref")
        {
            let Some((sel, field)) = r.split_once('.') else {
                self.err(
                    span,
                    path,
                    format!("`ref = \"{r}\"` must be `selection.field`"),
                );
                return None;
            };
            let Some(idx) = self.sel_names.iter().position(|n| n == sel) else {
                self.err(
                    span,
                    path,
                    format!("`ref` names selection `{sel}`, which does not exist"),
                )
                .hint = Some(format!(
                    "selections in this file: {}",
                    self.sel_names.join(", ")
                ));
                return None;
            };
            return Some(Operand::Ref {
                sel: idx,
                field: field.to_string(),
            });
        }
        Some(match op {
            Op::Exists | Op::Missing => Operand::None,
            Op::In | Op::NotIn => match v {
                toml::Value::Array(a) => Operand::List(a.iter().map(toml_scalar).collect()),
                _ => {
                    self.err(
                        span,
                        path,
                        "`in` / `not_in` take a list, e.g. { in = [1, 4] }",
                    );
                    return None;
                }
            },
            Op::Re => {
                let s = S::new(span.clone(), v.as_str().unwrap_or_default().to_string());
                Operand::Re(self.regex(&s, path)?)
            }
            _ => Operand::Lit(toml_scalar(v)),
        })
    }

    fn sel_ref(&mut self, name: &S<String>, path: &str) -> Option<usize> {
        let idx = self.sel_names.iter().position(|n| n == name.get_ref());
        if idx.is_none() {
            let hint =
                match vocab::suggest(name.get_ref(), self.sel_names.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("selections in this file: {}", self.sel_names.join(", ")),
                };
            self.err(
                name.span(),
                path,
                format!("no selection named `{}`", name.get_ref()),
            )
            .hint = Some(hint);
        }
        idx
    }

    fn branch(&mut self, i: usize, raw: &S<RawWhen>, sels: &[Sel]) -> Branch {
        let path = format!("when[{}]", i + 1);
        let w = raw.get_ref();
        let steps: Vec<Step> = w
            .steps
            .iter()
            .filter_map(|s| self.step(s, &format!("{path}.steps")))
            .collect();
        if w.steps.is_empty() {
            self.err(raw.span(), &path, "`steps` is empty");
        }
        if let Some(Step::Absent { .. }) = steps.first() {
            self.err(
                w.steps[0].span(),
                &format!("{path}.steps"),
                "an `absent` step cannot come first",
            )
            .hint =
                Some("absence needs an anchor: put the event it is measured from before it".into());
        }
        self.check_refs(&steps, sels, &w.steps, &path);
        let within_us = match &w.within {
            Some(d) => parse_duration(d.get_ref()).unwrap_or_else(|| {
                self.err(
                    d.span(),
                    &format!("{path}.within"),
                    format!("bad duration `{}`", d.get_ref()),
                )
                .hint = Some("write e.g. \"10s\", \"500ms\", \"2m\", \"24h\"".into());
                0
            }),
            None => 600_000_000,
        };
        let absent_total: i64 = steps
            .iter()
            .map(|s| {
                if let Step::Absent { for_us, .. } = s {
                    *for_us
                } else {
                    0
                }
            })
            .sum();
        if absent_total > within_us
            && let Some(d) = &w.within
        {
            self.err(
                d.span(),
                &format!("{path}.within"),
                "the absent windows are longer than `within`",
            );
        }
        let mut names = |v: &[S<String>], key: &str| -> Vec<usize> {
            v.iter()
                .filter_map(|n| self.sel_ref(n, &format!("{path}.{key}")))
                .collect()
        };
        let until = names(&w.until, "until");
        let unless = names(&w.unless, "unless");
        let unless_after = names(&w.unless_after, "unless_after");
        let context = names(&w.context, "context");
        let confidence = match &w.confidence {
            Some(c) => parse_confidence(c.get_ref()).unwrap_or_else(|| {
                self.err(
                    c.span(),
                    &format!("{path}.confidence"),
                    "confidence must be high, medium, low or a number from 0 to 1",
                );
                0.5
            }),
            None => 0.6,
        };
        let severity = w.severity.as_ref().and_then(|s| {
            let v = Severity::parse(s.get_ref());
            if v.is_none() {
                self.err(
                    s.span(),
                    &format!("{path}.severity"),
                    "use one of: error, warning, info",
                );
            }
            v
        });
        Branch {
            steps,
            within_us,
            until,
            unless,
            unless_after,
            context,
            confidence,
            message: w.message.as_ref().map(|m| m.get_ref().clone()),
            severity,
        }
    }

    fn step(&mut self, raw: &S<toml::Value>, path: &str) -> Option<Step> {
        let Some(t) = raw.get_ref().as_table() else {
            self.err(
                raw.span(),
                path,
                "each step is an inline table, e.g. { match = \"sel\" }",
            );
            return None;
        };
        const KEYS: [&str; 6] = ["match", "count", "any", "absent", "for", "meanwhile"];
        for k in t.keys() {
            if !KEYS.contains(&k.as_str()) {
                let hint = match vocab::suggest(k, KEYS) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("step keys: {}", KEYS.join(", ")),
                };
                self.err(raw.span(), path, format!("unknown step key `{k}`"))
                    .hint = Some(hint);
                return None;
            }
        }
        let span = raw.span();
        let name =
            |v: &toml::Value| S::new(span.clone(), v.as_str().unwrap_or_default().to_string());
        if let Some(m) = t.get("match") {
            let sel = self.sel_ref(&name(m), path)?;
            let count = t
                .get("count")
                .and_then(toml::Value::as_integer)
                .unwrap_or(1)
                .clamp(1, 10_000) as u32;
            return Some(Step::Match { sel, count });
        }
        if let Some(toml::Value::Array(alts)) = t.get("any") {
            let mut out = Vec::new();
            for a in alts {
                let m = a.as_table().and_then(|t| t.get("match"));
                let Some(m) = m else {
                    self.err(
                        span.clone(),
                        path,
                        "`any` takes a list of { match = \"sel\" } steps",
                    );
                    return None;
                };
                let count = a
                    .get("count")
                    .and_then(toml::Value::as_integer)
                    .unwrap_or(1)
                    .clamp(1, 10_000) as u32;
                out.push((self.sel_ref(&name(m), path)?, count));
            }
            return Some(Step::Any(out));
        }
        if let Some(a) = t.get("absent") {
            let list: Vec<toml::Value> = match a {
                toml::Value::Array(v) => v.clone(),
                other => vec![other.clone()],
            };
            let sels = list
                .iter()
                .filter_map(|v| self.sel_ref(&name(v), path))
                .collect();
            let Some(for_us) = t
                .get("for")
                .and_then(toml::Value::as_str)
                .and_then(parse_duration)
            else {
                self.err(
                    span,
                    path,
                    "an `absent` step needs `for = \"10s\"` (how long the silence lasts)",
                );
                return None;
            };
            let meanwhile = match t.get("meanwhile") {
                Some(m) => Some(self.sel_ref(&name(m), path)?),
                None => None,
            };
            return Some(Step::Absent {
                sels,
                for_us,
                meanwhile,
            });
        }
        self.err(span, path, "a step needs `match`, `any` or `absent`");
        None
    }

    /// A `where` that refers to another selection only works if that selection is bound
    /// by an earlier step.
    fn check_refs(&mut self, steps: &[Step], sels: &[Sel], raw: &[S<toml::Value>], path: &str) {
        let mut bound: Vec<usize> = Vec::new();
        for (i, st) in steps.iter().enumerate() {
            let used: Vec<usize> = match st {
                Step::Match { sel, .. } => vec![*sel],
                Step::Any(a) => a.iter().map(|x| x.0).collect(),
                Step::Absent {
                    sels, meanwhile, ..
                } => sels.iter().chain(meanwhile).copied().collect(),
            };
            for u in &used {
                for c in &sels[*u].conds {
                    if let Operand::Ref { sel, .. } = &c.rhs
                        && !bound.contains(sel)
                    {
                        let span = raw.get(i).map_or(0..0, |r| r.span());
                        self.err(
                            span,
                            path,
                            format!(
                                "selection `{}` refers to `{}`, which no earlier step matches",
                                sels[*u].name, sels[*sel].name
                            ),
                        )
                        .hint = Some(
                            "put a step that matches the referenced selection before this one"
                                .into(),
                        );
                    }
                }
            }
            bound.extend(used);
        }
    }

    fn example(&mut self, i: usize, raw: &S<RawExample>) -> Example {
        let e = raw.get_ref();
        let path = format!("example[{}]", i + 1);
        let expect_match = match e.expect.get_ref().as_str() {
            "match" => true,
            "no_match" => false,
            other => {
                self.err(
                    e.expect.span(),
                    &format!("{path}.expect"),
                    format!("unknown expectation `{other}`"),
                )
                .hint = Some("use \"match\" or \"no_match\"".into());
                false
            }
        };
        let sources = e
            .sources
            .iter()
            .filter_map(|s| {
                let v = Source::parse(s.get_ref());
                if v.is_none() {
                    self.err(
                        s.span(),
                        &format!("{path}.sources"),
                        "use serial, host or net",
                    );
                }
                v
            })
            .collect();
        let line = super::diag::line_col(self.loc_src(), raw.span().start).0;
        Example {
            name: e.name.clone(),
            expect_match,
            events: e.events.clone(),
            end_s: e.end,
            expect_message: e.expect_message.clone(),
            expect_top: e.expect_top,
            sources,
            line,
        }
    }

    fn loc_src(&self) -> &str {
        self.loc.src()
    }
}

fn toml_scalar(v: &toml::Value) -> Value {
    match v {
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::String(s) => Value::Str(s.clone()),
        other => Value::Str(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id = \"U1\"\ncause = \"x_t\"\ntitle = \"t\"\nseverity = \"error\"\nmessage = \"m\"\nexplanation = \"e\"\n";

    fn errors(body: &str) -> Vec<Diagnostic> {
        load_rule("u.toml", &format!("{HEAD}{body}"))
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn pathological_regex_is_refused_quickly() {
        let e = errors(
            "[sel.s]\nsource = \"serial\"\nregex = '''(a{1000}){1000}'''\n[[when]]\nsteps = [ { match = \"s\" } ]\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.contains("bad regex"), "{}", e[0]);
        assert_eq!(e[0].line, 9);
        let e = errors(
            "[sel.s]\nsource = \"serial\"\nregex = '''MQTT (reconnect'''\n[[when]]\nsteps = [ { match = \"s\" } ]\n",
        );
        assert!(
            e[0].message.contains("unclosed group at `(reconnect`"),
            "{}",
            e[0]
        );
        let e = load_rule("u.toml", &HEAD.replace("message", "mesage")).unwrap_err();
        assert_eq!(e[0].hint.as_deref(), Some("did you mean `message`?"));
    }

    #[test]
    fn absent_first_and_missing_for_are_errors() {
        let e = errors(
            "[sel.s]\nsource = \"serial\"\n[[when]]\nsteps = [ { absent = \"s\", for = \"1s\" } ]\n",
        );
        assert!(
            e.iter().any(|d| d.message.contains("cannot come first")),
            "{e:?}"
        );
        let e = errors(
            "[sel.s]\nsource = \"serial\"\n[[when]]\nsteps = [ { match = \"s\" }, { absent = \"s\" } ]\n",
        );
        assert!(e.iter().any(|d| d.message.contains("needs `for")), "{e:?}");
    }

    #[test]
    fn garbage_toml_never_panics() {
        for src in [
            "",
            "[[[",
            "id = ",
            "\u{0}",
            "when = 5",
            "[sel]\nx = 1",
            "[[when]]\nsteps = [1, \"a\", {}]",
        ] {
            let _ = load_rule("g.toml", src);
            let _ = load_rule("g.toml", &format!("{HEAD}{src}"));
        }
    }
}
