//! Which serial lines the loaded rules could ever use, decided before a line is decoded.
//!
//! Most lines of a long serial log are the sketch's own chatter. Rules see such a line
//! only through selections that take any serial line ("the device kept printing"); for
//! those a thinned sample serves as well as every line. Everything else a rule can match
//! — recognised events, and plain lines a selection's regex or literal picks out — is
//! decoded and held; lines picked by the same selections form a class that is thinned
//! the same way only if it grows huge (an MQTT line every second for hours).
//! [`Interest::quick`] is the cheap test on the raw text: it says how a line decodes
//! when that is certain without decoding it (a plain `line`, or a `log` line whose
//! logger prefix the hand parser splits off and whose message nothing recognises; the
//! selections that test a logger line's chip or level are answered from a table made
//! when the rules load). [`Interest::class`] is the exact test on the decoded event;
//! tests and the fuzzer hold the two to the same answers.

use super::RuleSet;
use super::engine::static_match;
use super::model::{Op, Operand, Sel, Step};
use crate::decode::logprefix::{self, Parsed};
use crate::decode::serial;
use crate::event::{Event, Source};
use regex::{Regex, bytes};

/// What [`Interest::quick`] tells of a line without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quick {
    /// As [`Interest::class`] would give it.
    pub class: u64,
    /// `line`, or `log` for a line with a logger prefix.
    pub kind: &'static str,
    /// Whether the line names the chip (see `serial::prefix_names_chip`).
    pub names_chip: bool,
}

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

/// Cloning gives the copy its own regex scratch space: one copy per decoding thread.
#[derive(Clone)]
pub struct Interest {
    /// Selections that pick some plain lines but not all of them.
    picky: Vec<Sel>,
    /// The patterns of the cheap tests, for `rules patterns`.
    patterns: Vec<String>,
    /// Lines this matches must be decoded to be judged. None when some selection
    /// cannot be judged on the raw text: then every line is decoded.
    decode: Option<bytes::Regex>,
    /// `decode` (entry 0) and `by_text_set` (entry k + 1) in one: most lines match
    /// neither, and one scan says so; one more says which for the rest.
    either: Option<bytes::RegexSet>,
    /// Selections that are a text regex and nothing else: a plain line's class is which
    /// of these match, no decoding needed. Entry k of the set is `picky[by_text[k]]`.
    by_text_set: bytes::RegexSet,
    by_text: Vec<usize>,
    /// Text-only selections that take only plain lines, not logger lines.
    line_only: u64,
    /// The class bits a logger line gets from the selections that test its fields, by
    /// chip (none, esp32) and level (E W I D V); None (in the entry: hold it whole) when
    /// they test other fields, which only decoding can tell.
    log_classes: Option<[Option<u64>; 10]>,
    /// Why there is no cheap test, if there is none.
    pub opaque: Option<String>,
    /// Widest time bucket a thinned sample may use (see `decode::sample`).
    pub bucket_cap_us: i64,
}

impl Interest {
    pub fn for_serial(set: &RuleSet) -> Interest {
        // The logger prefixes are told apart by `logprefix::parse`, not by the scan.
        let mut decode: Vec<String> = crate::decode::serial::table_sources()
            .into_iter()
            .map(unanchor)
            .collect();
        decode.push(LOOKS_LIKE_UPLOADER.to_string());
        decode.push(REDACTED.to_string());
        let mut picky = Vec::new();
        let (mut by_text, mut text_res) = (Vec::new(), Vec::new());
        let (mut opaque, mut field_sels) = (None, Vec::new());
        let mut line_only = 0u64;
        for sel in set.rules.iter().flat_map(|r| &r.sels) {
            if !may_pick_plain(sel) || takes_any_line(sel) {
                continue;
            }
            match (text_only(sel), text_pattern(sel)) {
                (Some(re), _) if picky.len() < 63 => {
                    line_only |= u64::from(sel.kind.is_some()) << picky.len();
                    by_text.push(picky.len());
                    text_res.push(re.to_string());
                }
                (_, Ok(Some(p))) => decode.push(p),
                (_, Ok(None)) => field_sels.push(picky.len()),
                (_, Err(why)) => {
                    opaque.get_or_insert(why);
                }
            }
            picky.push(sel.clone());
        }
        let by_text_set = ascii_set(&text_res).unwrap_or_else(|| {
            // Cannot happen for patterns that compiled one by one; stay correct anyway.
            decode.extend(text_res.iter().cloned());
            by_text.clear();
            bytes::RegexSet::empty()
        });
        let prefilter = if opaque.is_some() {
            None
        } else {
            combine(&decode)
        };
        let either = prefilter.as_ref().and_then(|_| {
            let mut all = vec![combine_source(&decode)];
            all.extend(by_text_set.patterns().iter().cloned());
            ascii_set(&all)
        });
        // What grep is given in the benchmark: every pattern a line meets, prefixes too.
        let mut patterns: Vec<String> = crate::decode::serial::pattern_sources()
            .into_iter()
            .take(2)
            .map(unanchor)
            .collect();
        patterns.extend(decode);
        patterns.extend(by_text_set.patterns().iter().cloned());
        Interest {
            log_classes: log_classes(&picky, &field_sels),
            picky,
            patterns,
            decode: prefilter,
            either,
            by_text_set,
            by_text,
            line_only,
            opaque,
            bucket_cap_us: shortest_window(set) / 2,
        }
    }

    /// How a line (timestamp removed, plain printable ASCII) decodes, if that can be
    /// told without decoding it: to a plain `line`, or to a `log` line whose message
    /// nothing recognises. None: decode it.
    pub fn quick(&self, body: &str) -> Option<Quick> {
        let (kind, names_chip, fields) = match logprefix::parse(body.trim_start()) {
            Parsed::NoMatch => ("line", false, None),
            Parsed::Match(p) => {
                let level = "EWIDV".find(p.level)?;
                let fields = self.log_classes?[usize::from(p.arduino) * 5 + level]?;
                ("log", serial::prefix_names_chip(&p), Some(fields))
            }
            Parsed::AskRegex => return None,
        };
        let by_text = self.quick_class(body)?;
        let class = match fields {
            None => by_text,
            Some(f) => by_text & !self.line_only | f,
        };
        Some(Quick {
            class,
            kind,
            names_chip,
        })
    }

    /// The class [`Self::class`] gives the line, if it can be told without decoding;
    /// logger prefixes aside (see [`Self::quick`]).
    fn quick_class(&self, body: &str) -> Option<u64> {
        let body = body.as_bytes();
        let Some(either) = &self.either else {
            return self.quick_class_slow(body);
        };
        if !either.is_match(body) {
            return Some(0);
        }
        let hits = either.matches(body);
        if hits.matched(0) {
            return None;
        }
        let class = hits
            .iter()
            .filter_map(|k| self.by_text.get(k.checked_sub(1)?))
            .fold(0u64, |c, k| c | 1 << k);
        Some(class)
    }

    /// [`Self::quick_class`] when the combined set could not be built.
    fn quick_class_slow(&self, body: &[u8]) -> Option<u64> {
        if self.decode.as_ref().is_none_or(|re| re.is_match(body)) {
            return None;
        }
        let class = self
            .by_text_set
            .matches(body)
            .iter()
            .fold(0u64, |c, k| c | 1 << self.by_text[k]);
        Some(class)
    }

    /// Whether a line may need decoding or singling out (the test behind
    /// [`Self::quick`]).
    pub fn may_matter(&self, body: &str) -> bool {
        self.quick(body).is_none_or(|q| q.class != 0)
    }

    /// How a decoded serial event is held: None = always, whole (a recognised event);
    /// Some(class) = with the lines that the same selections pick (0: none picks it),
    /// which are thinned together once there are very many of them.
    pub fn class(&self, e: &Event) -> Option<u64> {
        if !matches!(&*e.kind, "line" | "log" | "garbage") {
            return None;
        }
        let mut class = u64::from(looks_like_uploader(&e.text)) << 63;
        // The text-only selections in one scan (the set is ASCII-only, like its usual
        // input); the others, and any line with other text, one by one.
        let ascii = e.text.is_ascii();
        if ascii && self.by_text_set.is_match(e.text.as_bytes()) {
            for k in self.by_text_set.matches(e.text.as_bytes()).iter() {
                let sel = &self.picky[self.by_text[k]];
                if sel.kind.as_deref().is_none_or(|kind| kind == e.kind) {
                    class |= 1 << self.by_text[k];
                }
            }
        }
        for (k, s) in self.picky.iter().enumerate() {
            if ascii && self.by_text.contains(&k) {
                continue;
            }
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

/// The class bits [`Interest::class`] gives a logger line from the selections at
/// `field_sels` (which test no text), for each chip and level; see `log_classes` in
/// [`Interest`]. None when one of them tests a field other than the chip and level.
fn log_classes(picky: &[Sel], field_sels: &[usize]) -> Option<[Option<u64>; 10]> {
    let known = |f: &str| matches!(f, "chip" | "level");
    for sel in field_sels.iter().map(|&k| &picky[k]) {
        let others = sel.conds.iter().filter_map(|c| match &c.rhs {
            Operand::Field(other) => Some(other.as_str()),
            _ => None,
        });
        let mut read = sel.conds.iter().map(|c| c.field.as_str()).chain(others);
        let regex_field = sel.regex.as_ref().map(|_| sel.field.as_str());
        if !read.all(known) || !regex_field.is_none_or(known) {
            return None;
        }
    }
    let mut out = [None; 10];
    for (i, slot) in out.iter_mut().enumerate() {
        let mut e = Event::new(Source::Serial, "log", "").with("level", &"EWIDV"[i % 5..i % 5 + 1]);
        if i >= 5 {
            e = e.with("chip", "esp32");
        }
        let hits = field_sels.iter().filter(|&&k| static_match(&picky[k], &e));
        *slot = hits
            .map(|&k| 1u64.checked_shl(k as u32).filter(|_| k < 63))
            .try_fold(0, |c, b| Some(c | b?));
    }
    Some(out)
}

/// The shortest time a rule measures (an absence, or a `within`): a thinned sample must
/// still show whether anything was printed in a window that short.
fn shortest_window(set: &RuleSet) -> i64 {
    let windows = set.rules.iter().flat_map(|r| &r.branches).flat_map(|b| {
        let absent = b.steps.iter().filter_map(|s| match s {
            Step::Absent { for_us, .. } => Some(*for_us),
            _ => None,
        });
        absent.chain(std::iter::once(b.within_us))
    });
    windows.filter(|w| *w > 0).min().unwrap_or(i64::MAX).max(2)
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

/// The regex of a selection that tests the line's text and nothing else.
fn text_only(sel: &Sel) -> Option<&Regex> {
    let plain_kind = sel.kind.as_deref().is_none_or(|k| k == "line");
    let re = sel.regex.as_ref()?;
    (plain_kind && sel.field == "text" && sel.contains.is_none() && sel.conds.is_empty())
        .then_some(re)
}

/// Matches a plain line with empty text: then it matches every plain line.
fn takes_any_line(sel: &Sel) -> bool {
    let kind = sel.kind.as_deref().unwrap_or("line");
    static_match(sel, &Event::new(Source::Serial, kind.to_string(), ""))
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
///
/// The quick tests only ever see printable ASCII, where `\w`, `\b`, `\s` and case
/// folding mean the same with Unicode off; off, the automaton is far smaller and faster.
/// A pattern that needs Unicode (a non-ASCII literal) keeps it.
fn combine(patterns: &[String]) -> Option<bytes::Regex> {
    let alt = combine_source(patterns);
    let build = |unicode: bool| {
        bytes::RegexBuilder::new(&alt)
            .unicode(unicode)
            .size_limit(PREFILTER_SIZE)
            .build()
            .ok()
    };
    build(false).or_else(|| build(true))
}

fn combine_source(patterns: &[String]) -> String {
    let alt: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    alt.join("|")
}

/// The text-only selections' regexes as one set, under the same rule as [`combine`].
fn ascii_set(patterns: &[String]) -> Option<bytes::RegexSet> {
    let build = |unicode: bool| {
        bytes::RegexSetBuilder::new(patterns)
            .unicode(unicode)
            .size_limit(PREFILTER_SIZE)
            .build()
            .ok()
    };
    build(false).or_else(|| build(true))
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
        assert!(i.decode.is_some(), "{:?}", i.opaque);
        // blocking_loop's "serial kept printing" window is 3 s.
        assert!(i.bucket_cap_us <= 1_500_000, "{}", i.bucket_cap_us);
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
        for t in [
            "MQTT publish home/x 1",
            "BLE scan done",
            "display refresh 12 ms",
        ] {
            assert_eq!(i.quick_class(t), class(t), "{t}");
        }
        for line in [
            "sensor t=21.5C",
            "display refresh 12 ms",
            "loop 5: heap 1000",
        ] {
            assert!(!i.may_matter(line), "{line}");
        }
    }
}
