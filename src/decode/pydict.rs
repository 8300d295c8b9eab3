//! Parses the Python dict that espota.py prints as `Options: {…}`.
//!
//! Forum software turns the quotes into ‘ ’ “ ”, so any of them opens or closes a
//! string. Values are strings, numbers, True/False/None.

use crate::event::Value;

const QUOTES: [char; 6] = ['\'', '"', '‘', '’', '“', '”'];

/// Returns the key/value pairs in order. Malformed input yields what could be read.
pub fn parse(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut it = body.char_indices().peekable();
    loop {
        skip(&mut it, |c| c.is_whitespace() || c == ',' || c == '{');
        let Some(key) = read_string(&mut it) else {
            break;
        };
        skip(&mut it, |c| c.is_whitespace());
        if it.next().map(|(_, c)| c) != Some(':') {
            break;
        }
        skip(&mut it, |c| c.is_whitespace());
        let value = match it.peek().map(|&(_, c)| c) {
            Some(c) if QUOTES.contains(&c) => read_string(&mut it).map(Value::Str),
            Some(_) => Some(read_bare(&mut it)),
            None => None,
        };
        match value {
            Some(v) => out.push((key, v)),
            None => break,
        }
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn skip(it: &mut Chars<'_>, pred: impl Fn(char) -> bool) {
    while it.peek().is_some_and(|&(_, c)| pred(c)) {
        it.next();
    }
}

fn read_string(it: &mut Chars<'_>) -> Option<String> {
    let (_, q) = it.next()?;
    if !QUOTES.contains(&q) {
        return None;
    }
    let mut s = String::new();
    while let Some((_, c)) = it.next() {
        if c == '\\' {
            // Python repr doubles backslashes in Windows paths.
            if let Some((_, n)) = it.next() {
                s.push(n);
            }
            continue;
        }
        if QUOTES.contains(&c) {
            return Some(s);
        }
        s.push(c);
    }
    Some(s)
}

fn read_bare(it: &mut Chars<'_>) -> Value {
    let mut s = String::new();
    while let Some(&(_, c)) = it.peek() {
        if c == ',' || c == '}' {
            break;
        }
        s.push(c);
        it.next();
    }
    let s = s.trim();
    match s {
        "True" => Value::Bool(true),
        "False" => Value::Bool(false),
        "None" => Value::Str(String::new()),
        _ => Value::infer(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_quotes() {
        let d = parse(
            "{'esp_ip': '192.168.1.242', 'host_port': 13509, 'auth': '2357 --port=8266', 'image': '.pio\\\\build\\\\x.bin', 'spiffs': False}",
        );
        assert_eq!(d[0], ("esp_ip".into(), Value::from("192.168.1.242")));
        assert_eq!(d[1].1, Value::Int(13509));
        assert_eq!(d[2].1, Value::from("2357 --port=8266"));
        assert_eq!(d[3].1, Value::from(".pio\\build\\x.bin"));
        assert_eq!(d[4].1, Value::Bool(false));
    }

    #[test]
    fn curly_quotes_and_empty_values() {
        let d = parse("{‘esp_ip’: ‘’, ‘host_port’: 55888, ‘spiffs’: True}");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].1, Value::from(""));
        assert_eq!(d[2].1, Value::Bool(true));
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(parse("").is_empty());
        assert!(parse("{'a'").is_empty());
        assert_eq!(parse("{'a': 'unterminated").len(), 1);
        let _ = parse("{'a': 1, 'b': , : 'c'}");
    }
}
