//! Removes OTA passwords from any line, whatever tool printed it: espota's `Options`
//! dict or `Namespace(...)`, command lines (`--auth=…`, `-a …`, quoted, with spaces),
//! PlatformIO `upload_flags`, ESPHome `password:`. Applied to every line of every
//! source, so a log passed with the wrong option cannot leak a password either.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

const MASK: &str = "***";

// argparse accepts unique prefixes (--au=) and a short option glued to its value (-apw).
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'“‘=])(?:--au(?:th?)?|--auth|--password|-a)(?:=|\s+)"#).unwrap()
});
/// On espota command lines only, `-a` may be glued to its value (`ls -al` is not a password).
static FLAG_GLUED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'“‘=])(?:(?:--au(?:th?)?|--auth|--password)(?:=|\s+)|-a(?:=|\s+)?)"#)
        .unwrap()
});
static NEXT_FLAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s-{1,2}[A-Za-z]").unwrap());
static KEYED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((?:^|[\s{(,])['"‘’“”]?(?:auth|password)['"‘’“”]?\s*[:=]\s*[bu]?)(['"‘’“”])([^'"‘’“”]*)(['"‘’“”]|$)"#).unwrap()
});
/// Unquoted `password=x` (arduino-cli --upload-field, upload.field.password=x).
static BARE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)(\bpassword\s*=\s*)([^\s'"‘’“”*][^\s]*)"#).unwrap());
/// Sketch source pasted into a log.
static SKETCH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(setPassword(?:Hash)?\s*\(\s*")([^"]*)(")"#).unwrap());
static YAML: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(\s*-?\s*(?:ota_)?password:\s*)(\S.*)$").unwrap());

/// The line with every password replaced by `***`.
pub fn redact(line: &str) -> Cow<'_, str> {
    if !may_hold_secret(line) {
        return Cow::Borrowed(line);
    }
    let mut out = Cow::Borrowed(line);
    if KEYED.is_match(&out) {
        let replaced = KEYED.replace_all(&out, |c: &regex::Captures<'_>| {
            if c[3].starts_with(MASK) {
                c[0].to_string()
            } else {
                format!("{}{}{MASK}{}", &c[1], &c[2], &c[4])
            }
        });
        out = Cow::Owned(replaced.into_owned());
    }
    for re in [&*BARE, &*SKETCH] {
        if re.is_match(&out) {
            out = Cow::Owned(
                re.replace_all(&out, |c: &regex::Captures<'_>| {
                    format!("{}{MASK}{}", &c[1], c.get(3).map_or("", |m| m.as_str()))
                })
                .into_owned(),
            );
        }
    }
    if YAML.is_match(&out) {
        out = Cow::Owned(YAML.replace(&out, format!("${{1}}{MASK}")).into_owned());
    }
    let flag = if out.to_ascii_lowercase().contains("espota") {
        &*FLAG_GLUED
    } else {
        &*FLAG
    };
    if flag.is_match(&out) {
        out = Cow::Owned(redact_flags(&out, flag));
    }
    out
}

/// Every pattern above needs `-a` (all flags start so), `pass` or `auth` in some case.
/// Checking that first spares the regexes on nearly every line of a long log. Only for
/// ASCII: Unicode case folding lets `(?i)` match letters such as `ſ` for `s`.
fn may_hold_secret(line: &str) -> bool {
    let b = line.as_bytes();
    !line.is_ascii()
        || memchr::memmem::find(b, b"-a").is_some()
        || b.windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"pass") || w.eq_ignore_ascii_case(b"auth"))
}

/// A flag's value runs to the next flag or the end of the line: passwords may contain
/// spaces and quotes, and a value cut short would leak its tail.
fn redact_flags(line: &str, flag: &Regex) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(m) = flag.find(rest) {
        out.push_str(&rest[..m.end()]);
        let tail = &rest[m.end()..];
        let end = NEXT_FLAG.find(tail).map_or(tail.len(), |n| n.start());
        if tail[..end].starts_with(MASK) {
            out.push_str(&tail[..end]);
        } else if !tail[..end].trim().is_empty() {
            out.push_str(MASK);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(line: &str, secret: &str) {
        let r = redact(line);
        for word in secret.split_whitespace() {
            assert!(
                !r.contains(word),
                "`{word}` leaked in `{r}` (from `{line}`)"
            );
        }
        assert!(r.contains(MASK), "{r}");
    }

    #[test]
    fn the_quick_check_passes_every_line_the_patterns_rewrite() {
        for l in [
            "x -a secret",
            "'Password': 'x'",
            "AUTH=1 password=hunter2",
            "setPassword(\"x\")",
            "  ota_password: x",
            "pa\u{17F}sword = x",
        ] {
            assert!(may_hold_secret(l), "{l}");
        }
        assert!(!may_hold_secret("sensor t=21.5C"));
        assert!(!redact("x --auth=hunter2").contains("hunter2"));
    }

    #[test]
    fn command_lines() {
        clean(
            r#""python3" "espota.py" -i 1.2.3.4 -p 8266 "--auth=correct horse battery staple" -f x.bin"#,
            "correct horse battery staple",
        );
        clean(
            "espota.py -i 1.2.3.4 --auth=“my secret” -f x.bin",
            "my secret",
        );
        clean("espota.py -i 1.2.3.4 -a 'pass word' -f x.bin", "pass word");
        clean("espota.py -i 1.2.3.4 -a\tsecret -f x.bin", "secret");
        clean("upload_flags = --auth=hunter3", "hunter3");
        clean("upload_flags=--auth=SECRET", "SECRET");
        clean(
            "python3 espota.py -i 1.2.3.4 -aHUNTER2 -f fw.bin",
            "HUNTER2",
        );
        clean("espota.py -i 1.2.3.4 --au=SECRET -f x", "SECRET");
        clean(
            "arduino-cli upload -p 1.2.3.4 --upload-field password=SECRET",
            "SECRET",
        );
        clean("upload.field.password=SECRET", "SECRET");
        clean("ArduinoOTA.setPassword(\"SECRET\");", "SECRET");
        let r = redact("espota.py -i 1.2.3.4 --auth=pw -p 3232 -f x.bin");
        assert!(r.contains("-p 3232") && r.contains("-f x.bin"), "{r}");
    }

    #[test]
    fn dicts_namespaces_and_yaml() {
        clean(
            "Options: {'esp_ip': '1.2.3.4', 'auth': 'wrongpw', 'esp_port': 8266}",
            "wrongpw",
        );
        clean("Options: {‘auth’: ‘Set4OTA’, ‘esp_port’: 8266}", "Set4OTA");
        clean("Options: Namespace(auth='pw x', debug=True)", "pw x");
        clean("Options: {'auth': b'SECRET', 'esp_port': 1}", "SECRET");
        clean("Options: {'esp_ip': '1.2.3.4', 'auth': 'SECRET", "SECRET");
        clean("  password: \"s3cret\"", "s3cret");
        assert_eq!(
            redact("'auth': '*** --port=8266'"),
            "'auth': '*** --port=8266'"
        );
    }

    #[test]
    fn lines_without_passwords_are_untouched() {
        for l in [
            "Authenticating...OK",
            "Hard resetting via RTS pin",
            "ls -al",
            "[ERROR]: Authentication Failed",
        ] {
            assert!(matches!(redact(l), Cow::Borrowed(_)), "{l}");
        }
    }
}
