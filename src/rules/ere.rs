//! Rust regex syntax → POSIX extended regular expressions (GNU `grep -E`), for the
//! benchmark's peer: `grep -E -c -f` with the patterns ota-doctor tests each line with.
//! Only the syntax the recognisers and rule files use is translated; anything else is
//! refused with the reason, so the benchmark can say which patterns grep did not get.

/// The ERE form of `re`, or why there is none.
pub fn to_ere(re: &str) -> Result<String, String> {
    let mut t = Translator {
        chars: re.chars().collect(),
        at: 0,
        out: String::with_capacity(re.len() * 2),
        ci: vec![false],
    };
    t.run()?;
    Ok(t.out)
}

struct Translator {
    chars: Vec<char>,
    at: usize,
    out: String,
    /// Case-insensitivity per open group (the last is the current one).
    ci: Vec<bool>,
}

impl Translator {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.at + k).copied()
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '(' => self.group()?,
                ')' => {
                    if self.ci.len() > 1 {
                        self.ci.pop();
                    }
                    self.out.push(')');
                }
                '*' | '+' | '?' | '}' => {
                    self.out.push(c);
                    // A lazy quantifier matches the same lines as a greedy one.
                    if self.peek(0) == Some('?') {
                        self.at += 1;
                    }
                }
                c if c.is_ascii_alphabetic() && self.ci_now() => {
                    self.out.push_str(&format!(
                        "[{}{}]",
                        c.to_ascii_lowercase(),
                        c.to_ascii_uppercase()
                    ));
                }
                c => self.out.push(c),
            }
        }
        Ok(())
    }

    fn ci_now(&self) -> bool {
        self.ci.last().copied().unwrap_or(false)
    }

    fn escape(&mut self) -> Result<(), String> {
        let c = self.peek(0).ok_or("a trailing backslash")?;
        self.at += 1;
        let s = match c {
            'd' => "[0-9]",
            'D' => "[^0-9]",
            's' => "[[:space:]]",
            'S' => "[^[:space:]]",
            'w' => "[[:alnum:]_]",
            'W' => "[^[:alnum:]_]",
            'b' => "\\b",
            'B' => "\\B",
            c if c.is_ascii_punctuation() => {
                self.out.push('\\');
                self.out.push(c);
                return Ok(());
            }
            c => return Err(format!("`\\{c}` has no ERE form")),
        };
        self.out.push_str(s);
        Ok(())
    }

    /// `(?:`, `(?i)`, `(?i:`, `(?P<name>` and plain groups.
    fn group(&mut self) -> Result<(), String> {
        let ci = self.ci_now();
        if self.peek(0) != Some('?') {
            self.ci.push(ci);
            self.out.push('(');
            return Ok(());
        }
        self.at += 1;
        let mut flags = String::new();
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                ':' => {
                    self.ci.push(flag_ci(&flags, ci)?);
                    self.out.push('(');
                    return Ok(());
                }
                ')' => {
                    // `(?i)`: from here to the end of the enclosing group.
                    let now = flag_ci(&flags, ci)?;
                    if let Some(top) = self.ci.last_mut() {
                        *top = now;
                    }
                    return Ok(());
                }
                'P' | '<' if flags.is_empty() => return self.named(),
                c => flags.push(c),
            }
        }
        Err("an unclosed group".into())
    }

    fn named(&mut self) -> Result<(), String> {
        if self.peek(0) == Some('<') {
            self.at += 1;
        }
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == '>' {
                let ci = self.ci_now();
                self.ci.push(ci);
                self.out.push('(');
                return Ok(());
            }
        }
        Err("an unclosed group name".into())
    }

    /// A bracket class; `]` moves first (ERE has no escapes inside brackets).
    fn class(&mut self) -> Result<(), String> {
        let negated = self.peek(0) == Some('^');
        if negated {
            self.at += 1;
        }
        let (mut items, mut close) = (String::new(), false);
        let mut bracket = false;
        while let Some(c) = self.peek(0) {
            self.at += 1;
            match c {
                ']' => {
                    close = true;
                    break;
                }
                '\\' => {
                    let e = self.peek(0).ok_or("a trailing backslash")?;
                    self.at += 1;
                    match e {
                        ']' => bracket = true,
                        'd' => items.push_str("0-9"),
                        's' => items.push_str("[:space:]"),
                        'w' => items.push_str("[:alnum:]_"),
                        '-' => items.push('-'),
                        e if e.is_ascii_punctuation() => items.push(e),
                        e => return Err(format!("`\\{e}` in a class has no ERE form")),
                    }
                }
                '[' if self.peek(0) == Some(':') => return Err("nested classes".into()),
                c if c.is_ascii_alphabetic() && self.ci_now() => self.ci_item(c, &mut items),
                c => items.push(c),
            }
        }
        if !close {
            return Err("an unclosed class".into());
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        if bracket {
            self.out.push(']');
        }
        self.out.push_str(&items);
        self.out.push(']');
        Ok(())
    }
}

impl Translator {
    /// A letter, or a letter range, in a class under `(?i)`: both cases.
    fn ci_item(&mut self, c: char, items: &mut String) {
        let end = match (self.peek(0), self.peek(1)) {
            (Some('-'), Some(d)) if d.is_ascii_alphabetic() => Some(d),
            _ => None,
        };
        let (lo, up) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
        match end {
            Some(d) => {
                self.at += 2;
                let (dl, du) = (d.to_ascii_lowercase(), d.to_ascii_uppercase());
                items.push_str(&format!("{lo}-{dl}{up}-{du}"));
            }
            None => {
                items.push(lo);
                items.push(up);
            }
        }
    }
}

fn flag_ci(flags: &str, current: bool) -> Result<bool, String> {
    match flags {
        "" => Ok(current),
        "i" => Ok(true),
        "-i" => Ok(false),
        f => Err(format!("the flag `(?{f})` has no ERE form")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_what_the_rules_use() {
        assert_eq!(to_ere(r"(?:a|b)\d+\s*").unwrap(), "(a|b)[0-9]+[[:space:]]*");
        assert_eq!(to_ere(r"(?i)ok\b").unwrap(), r"[oO][kK]\b");
        assert_eq!(to_ere(r"x(?i:ab)c").unwrap(), "x([aA][bB])c");
        assert_eq!(to_ere(r"[^:\]\s]+").unwrap(), "[^]:[:space:]]+");
        assert_eq!(to_ere(r"\S+?:(\d+)").unwrap(), "[^[:space:]]+:([0-9]+)");
        assert_eq!(to_ere(r"Error\[(\d+)\]").unwrap(), r"Error\[([0-9]+)\]");
        assert_eq!(to_ere(r"(?i)[A-Z_]").unwrap(), "[a-zA-Z_]");
        assert!(to_ere(r"\p{L}").is_err());
        assert!(to_ere(r"(?s).").is_err());
    }

    #[test]
    fn every_builtin_pattern_means_the_same_to_grep() {
        let set = crate::rules::RuleSet::builtin();
        let interest = crate::rules::interest::Interest::for_serial(&set);
        let lines = [
            " ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
            "[E][Updater.cpp:93] begin(): too large 1400000 > 1310720",
            "T: Progress: 66%",
            "MQTT publish home/x 1",
            "display refresh 12 ms",
            "WiFi connected, IP: 10.0.0.7",
        ];
        // Checked with the regex crate on the translated text (close to ERE for these).
        for p in interest.patterns() {
            let Ok(ere) = to_ere(p) else { continue };
            let (a, b) = (regex::Regex::new(p).unwrap(), regex::Regex::new(&ere));
            let Ok(b) = b else { continue };
            for l in lines {
                assert_eq!(a.is_match(l), b.is_match(l), "{p} vs {ere} on {l}");
            }
        }
    }
}
