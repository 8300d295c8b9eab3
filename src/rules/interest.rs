//! Which serial lines the loaded rules could ever use, decided before a line is decoded.
//!
//! Most lines of a long serial log are the sketch's own chatter. Rules see such a line
//! only through selections that take any serial line ("the device kept printing"); for
//! those a thinned sample serves as well as every line. Everything else a rule can match
//! — recognised events, and plain lines a selection's regex or literal picks out — is
//! decoded and held; lines picked by the same selections form a class that is thinned
//! the same way only if it grows huge (an MQTT line every second for hours).
//! [`Interest::may_matter`] is the cheap test on the raw text (a superset: false means
//! the line decodes to a plain `line` no rule singles out); [`Interest::class`] is the
//! exact test on the decoded event.

use super::RuleSet;
use super::engine::static_match;
use super::model::{Op, Operand, Sel};
use crate::event::{Event, Source};
use regex::{Regex, RegexBuilder};

/// Uploader lines in a serial log: `analyze` warns when a file looks like the wrong one,
/// so these lines must be seen even though no rule selects them.
pub const LOOKS_LIKE_UPLOADER: &str =
    r"Sending invitation|Uploading:|\[(ERROR|INFO|DEBUG)\]:|Options:";
/// Device lines in an uploader log (the same check, the other way round).
pub const LOOKS_LIKE_DEVICE: &str = r"rst cause|rst:0x|Guru Meditation|Error\[\d\]|Progress:|\[[EWIDV]\]\[[^]]+:\d+\]|Start updating|OTA server at";
/// Lines the password redaction may rewrite; rules see the rewritten text, so these are
/// decoded in full rather than judged on the raw text.
const REDACTED: &str = r"(?i:pass|auth|espota)|-a[=\s]";

/// The combined test may take this much memory; past it, every line is decoded.
const PREFILTER_SIZE: usize = 1 << 25;

pub struct Interest {
    /// Selections that pick some plain lines but not all of them.
    picky: Vec<Sel>,
    /// The patterns of the cheap test, for `rules patterns`.
    patterns: Vec<String>,
    /// None when some selection cannot be judged on the raw text: decode every line.
    prefilter: Option<Regex>,
    /// A text pattern that cannot be turned into a prefilter pattern (reason).
    pub opaque: Option<String>,
}

impl Interest {
    pub fn for_serial(set: &RuleSet) -> Interest {
        let mut patterns: Vec<String> = crate::decode::serial::pattern_sources()
            .into_iter()
            .map(unanchor)
            .collect();
        patterns.push(LOOKS_LIKE_UPLOADER.to_string());
        patterns.push(REDACTED.to_string());
        let mut picky = Vec::new();
        let mut opaque = None;
        for sel in set.rules.iter().flat_map(|r| &r.sels) {
            if !may_pick_plain(sel) || takes_any_line(sel) {
                continue;
            }
            match text_pattern(sel) {
                Ok(Some(p)) => patterns.push(p),
                Ok(None) => {}
                Err(why) => {
                    opaque.get_or_insert(why);
                }
            }
            picky.push(sel.clone());
        }
        let prefilter = match opaque {
            Some(_) => None,
            None => combine(&patterns),
        };
        Interest {
            picky,
            patterns,
            prefilter,
            opaque,
        }
    }

    /// False only when the line (timestamp removed) certainly decodes to a plain `line`
    /// that no rule singles out.
    pub fn may_matter(&self, body: &str) -> bool {
        self.prefilter.as_ref().is_none_or(|re| re.is_match(body))
    }

    /// How a decoded serial event is held: None = always, whole (a recognised event);
    /// Some(class) = with the lines that the same selections pick (0: none picks it),
    /// which are thinned together once there are very many of them.
    pub fn class(&self, e: &Event) -> Option<u64> {
        if !matches!(e.kind.as_str(), "line" | "log" | "garbage") {
            return None;
        }
        let mut class = u64::from(looks_like_uploader(&e.text)) << 63;
        for (k, s) in self.picky.iter().enumerate() {
            if static_match(s, e) {
                // Past 63 selections, classes are not worth telling apart: hold it.
                class |= 1u64.checked_shl(k as u32).filter(|_| k < 63)?;
            }
        }
        Some(class)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

fn looks_like_uploader(text: &str) -> bool {
    static RE: std::sync::LazyLock<Regex> =
        std::sync::LazyLock::new(|| Regex::new(LOOKS_LIKE_UPLOADER).expect("fixed pattern"));
    RE.is_match(text)
}

/// A serial selection whose kind a plain line (or logger line, or garbage) can have.
fn may_pick_plain(sel: &Sel) -> bool {
    sel.source == Source::Serial
        && sel
            .kind
            .as_deref()
            .is_none_or(|k| matches!(k, "line" | "log" | "garbage"))
}

/// Matches a plain line with empty text: then it matches every plain line.
fn takes_any_line(sel: &Sel) -> bool {
    let kind = sel.kind.as_deref().unwrap_or("line");
    static_match(sel, &Event::new(Source::Serial, kind, ""))
}

/// A pattern every plain line the selection matches also matches, when the selection
/// constrains the text; Ok(None) when it constrains only decoded fields (which plain
/// lines do not have); Err when the text constraint cannot be written as a pattern.
fn text_pattern(sel: &Sel) -> Result<Option<String>, String> {
    if let Some(re) = &sel.regex {
        return Ok((sel.field == "text").then(|| format!("(?:{})", re.as_str())));
    }
    if let Some(c) = &sel.contains {
        return Ok(Some(regex::escape(c)));
    }
    for c in sel.conds.iter().filter(|c| c.field == "text") {
        match (&c.op, &c.rhs) {
            (Op::Re, Operand::Re(re)) => return Ok(Some(format!("(?:{})", re.as_str()))),
            (Op::Eq | Op::Contains | Op::StartsWith, Operand::Lit(v)) => {
                return Ok(Some(format!("(?i:{})", regex::escape(&v.to_string()))));
            }
            (Op::In, Operand::List(l)) => {
                let alts: Vec<String> = l.iter().map(|v| regex::escape(&v.to_string())).collect();
                return Ok(Some(format!("(?i:{})", alts.join("|"))));
            }
            _ => {}
        }
    }
    if sel.conds.iter().any(|c| c.field == "text") {
        return Err(format!(
            "selection `{}` compares the text in a way no pattern expresses",
            sel.name
        ));
    }
    Ok(None)
}

/// One regex for all patterns; each keeps its own flags inside its group.
fn combine(patterns: &[String]) -> Option<Regex> {
    let alt: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    RegexBuilder::new(&alt.join("|"))
        .size_limit(PREFILTER_SIZE)
        .build()
        .ok()
}

/// Drops `^` anchors (outside classes), so a pattern anchored to the message after a
/// logger prefix still finds it in the whole line: a superset, which is all we need.
pub fn unanchor(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let (mut escaped, mut class) = (false, 0usize);
    for c in re.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' => class += 1,
            ']' if class > 0 => class -= 1,
            '^' if class == 0 => continue,
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_go_but_negated_classes_stay() {
        assert_eq!(unanchor(r"^(?:a|^b)[^:\]]\^x$"), r"(?:a|b)[^:\]]\^x$");
    }

    #[test]
    fn builtin_rules_have_a_prefilter_that_passes_what_they_use() {
        let i = Interest::for_serial(&RuleSet::builtin());
        assert!(i.prefilter.is_some(), "{:?}", i.opaque);
        for line in [
            " ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
            "[E][Updater.cpp:93] begin(): too large 1400000 > 1310720",
            "Progress: 40%",
            "Invalid bootstrapping state",
            "I (300) wifi: sta ip: 10.0.0.5",
            "options: 'password': 'x'",
            "MQTT publish home/x 1",
        ] {
            assert!(i.may_matter(line), "{line}");
        }
        let class = |t: &str| i.class(&crate::decode::decode_line(Source::Serial, t, 0.0));
        assert_eq!(class("Progress: 40%"), None);
        assert_eq!(class("display refresh 12 ms"), Some(0));
        assert_ne!(class("MQTT publish home/x 1"), Some(0));
        assert_ne!(class("MQTT publish home/x 1"), None);
        for line in [
            "sensor t=21.5C",
            "display refresh 12 ms",
            "loop 5: heap 1000",
        ] {
            assert!(!i.may_matter(line), "{line}");
        }
    }
}
