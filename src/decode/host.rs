//! Uploader output → typed events: espota.py (ESP8266 and ESP32 variants, all versions in
//! docs/protocol.md §2), PlatformIO's wrapper, Arduino IDE / arduino-cli, esptool and
//! ESPHome. The OTA password is redacted here, at the first place it is read, so it can
//! never reach a trace or a report.

use super::pydict;
use super::recognizer::{Pattern, Recognizer, n, none, p, s, set};
use crate::event::{Fields, Value};
use regex::Regex;
use std::sync::LazyLock;

static TABLE: LazyLock<Recognizer> = LazyLock::new(|| Recognizer::new(patterns()));
static LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]:\s?|^(INFO|WARNING|ERROR|DEBUG)\s+")
        .unwrap()
});

fn patterns() -> Vec<Pattern> {
    // The log viewer that ESPHome opens after an upload fails on its own; that is not an
    // upload failure and must not read as one.
    let mut v = vec![p(
        "esphome.api_error",
        r"Can't connect to ESPHome API",
        none,
    )];
    v.extend(espota_patterns());
    v.extend(tool_patterns());
    v.extend(esphome_patterns());
    v
}

fn espota_patterns() -> Vec<Pattern> {
    vec![
        p(
            "espota.listen",
            r"^Starting on\s*(\S*?):?(\d*)\s*$",
            |c, f| {
                s(f, "host_ip", c, 1);
                n(f, "host_port", c, 2);
            },
        ),
        p("espota.size", r"^Upload size:?\s*(\d+)", |c, f| {
            n(f, "size", c, 1)
        }),
        p(
            "espota.invite",
            r"^Sending invitation to(:?)\s*(\S*)\s*(\.*)\s*(failed)?",
            |c, f| {
                set(f, "tool", if c[1].is_empty() { "esp32" } else { "esp8266" });
                s(f, "ip", c, 2);
                set(f, "retries", c.get(3).map_or(0, |m| m.len()) as i64);
            },
        ),
        p(
            "espota.auth",
            r"^Authenticating[^.]*\.\.\.\s*(OK|FAIL)?",
            |c, f| set(f, "result", c.get(1).map_or("pending", |m| m.as_str())),
        ),
        p("espota.wait", r"^Waiting for device", none),
        // The 3.3.1+ tool prints the verdict on its own line after "Authenticating (…)...".
        p("espota.auth", r"^(OK|FAIL)\s*$", |c, f| {
            s(f, "result", c, 1)
        }),
        // Old tools print whatever the device sent last as an error; a bare number is the
        // device's byte count, not an error text.
        p("espota.error", r"^(\d+)\s*$", |c, f| {
            cls(f, "count_as_error");
            n(f, "code", c, 1);
        }),
        p(
            "espota.progress",
            r"^Uploading:?\s*\[[=\s]*\]\s*(\d{1,3})%(.*Done)?",
            |c, f| {
                n(f, "percent", c, 1);
                set(f, "done", c.get(2).is_some());
            },
        ),
        p("espota.progress", r"^Uploading(\.+)\s*$", |c, f| {
            set(f, "chunks", c[1].len() as i64)
        }),
        p("espota.wait_result", r"^Waiting for result", none),
        p("espota.result", r"^Result:\s*$", |_, f| {
            set(f, "ok", false);
            set(f, "text", "");
        }),
        p("espota.result", r"^(?:Result: OK|Success)\s*$", |_, f| {
            set(f, "ok", true)
        }),
        p("espota.result", r"^Result: (.+)$", |c, f| {
            set(f, "ok", false);
            s(f, "text", c, 1);
        }),
        p(
            "espota.error",
            r"^No Answer to our Authentication",
            |_, f| cls(f, "no_auth_answer"),
        ),
        p("espota.error", r"^No Answer\s*$", |_, f| {
            cls(f, "no_answer")
        }),
        p("espota.error", r"^No response from the ESP", |_, f| {
            cls(f, "no_response_esp")
        }),
        p(
            "espota.error",
            r"^No response from device after upload",
            |_, f| cls(f, "no_result"),
        ),
        p("espota.error", r"^No response from device", |_, f| {
            cls(f, "no_response_device")
        }),
        p("espota.error", r"^Error Uploading:?\s*(.*)", |c, f| {
            cls(f, "error_uploading");
            s(f, "detail", c, 1);
        }),
        p("espota.error", r"^Bad Answer:\s*(.*)", |c, f| {
            cls(f, "bad_answer");
            device_text(f, c.get(1).map_or("", |m| m.as_str()));
        }),
        p(
            "espota.error",
            r"^Authentication Failed(?::\s*(.*))?",
            |c, f| {
                cls(f, "auth_failed");
                s(f, "detail", c, 1);
            },
        ),
        p("espota.error", r"^(ERR: .*)", |c, f| {
            cls(f, "device_error");
            device_text(f, &c[1]);
        }),
        p(
            "espota.error",
            r"^(ERROR\[\d+\].*|MD5 Check Failed.*|Wrong Magic Byte.*|Could Not Activate.*)",
            |c, f| {
                cls(f, "result_error");
                device_text(f, &c[1]);
            },
        ),
        p("espota.error", r"^Listen Failed:?\s*(.*)", |c, f| {
            cls(f, "listen_failed");
            s(f, "detail", c, 1);
        }),
        p("espota.error", r"^No Result", |_, f| cls(f, "no_result")),
        p("espota.error", r"^Error response from device", |_, f| {
            cls(f, "error_response")
        }),
        p(
            "espota.error",
            r"Host (\S+) Not Found|socket\.gaierror|Name or service not known|getaddrinfo failed",
            |_, f| cls(f, "host_not_found"),
        ),
        p(
            "espota.error",
            r"^Invalid nonce length:?\s*(\d+)",
            |c, f| {
                cls(f, "nonce_length");
                n(f, "length", c, 1);
            },
        ),
        p("espota.error", r"^Not enough arguments", |_, f| {
            cls(f, "arguments")
        }),
        p("espota.error", r"unrecognized arguments:\s*(.*)", |c, f| {
            cls(f, "arguments");
            s(f, "detail", c, 1);
        }),
        p(
            "espota.warning",
            r"^Unexpected response from device:\s*'?(.*?)'?\s*$",
            |c, f| {
                cls(f, "unexpected_response");
                device_text(f, c.get(1).map_or("", |m| m.as_str()));
            },
        ),
        p(
            "espota.warning",
            r"^Upload completed but device sent unexpected response",
            |_, f| cls(f, "completed_unexpected"),
        ),
        p(
            "espota.warning",
            r"Device is using old MD5 authentication|Retrying with MD5 password|MD5 password hash \(deprecated\)",
            |_, f| cls(f, "md5_legacy"),
        ),
        p(
            "espota.traceback",
            r"NameError: name 'e' is not defined|^Traceback \(most recent call last\)",
            none,
        ),
    ]
}

fn tool_patterns() -> Vec<Pattern> {
    vec![
        p(
            "pio.protocol",
            r"CURRENT: upload_protocol = (\S+)",
            |c, f| s(f, "protocol", c, 1),
        ),
        p(
            "pio.hardware",
            r"HARDWARE: (ESP\w+) (\d+)MHz, [\d.]+KB RAM, ([\d.]+)(MB|KB) Flash",
            |c, f| {
                set(f, "chip", c[1].to_lowercase());
                set(f, "flash_kb", flash_kb(&c[3], &c[4]));
            },
        ),
        p("pio.platform", r"PLATFORM: Espressif (32|8266)", |c, f| {
            set(f, "chip", format!("esp{}", &c[1]))
        }),
        p("pio.upload", r"^Uploading (\S+\.bin)\s*$", |c, f| {
            s(f, "image", c, 1)
        }),
        p("pio.fail", r"\*\*\* \[upload\] Error (\d+)", |c, f| {
            n(f, "code", c, 1)
        }),
        p("pio.result", r"\[(SUCCESS|FAILED)\] Took", |c, f| {
            set(f, "ok", &c[1] == "SUCCESS")
        }),
        p(
            "build.size",
            r"Flash:\s*\[[^\]]*\]\s*[\d.]+% \(used (\d+) bytes from (\d+) bytes\)",
            |c, f| {
                n(f, "used", c, 1);
                n(f, "max", c, 2);
            },
        ),
        p(
            "build.size",
            r"Sketch uses (\d+) bytes \(\d+%\) of program storage space\. Maximum is (\d+) bytes",
            |c, f| {
                n(f, "used", c, 1);
                n(f, "max", c, 2);
            },
        ),
        p(
            "build.too_big",
            r"(?i)sketch too big|program size \((\d+) bytes\) is greater than maximum allowed \((\d+) bytes\)",
            |c, f| {
                n(f, "used", c, 1);
                n(f, "max", c, 2);
            },
        ),
        p(
            "ide.fail",
            r"Failed uploading: uploading error: exit status (\d+)",
            |c, f| n(f, "code", c, 1),
        ),
        p("esptool.chip", r"Chip is (ESP\w+)", |c, f| {
            set(f, "chip", c[1].to_lowercase())
        }),
        p(
            "esptool.flash",
            r"Detected flash size: (\d+)(MB|KB)",
            |c, f| set(f, "flash_kb", flash_kb(&c[1], &c[2])),
        ),
        p("esptool.reset", r"Hard resetting via RTS pin", none),
        p(
            "esptool.write",
            r"write_flash.*(?:-fs|--flash_size|--flash-size)\s+(\w+)",
            |c, f| s(f, "flash_size", c, 1),
        ),
    ]
}

fn esphome_patterns() -> Vec<Pattern> {
    vec![
        p(
            "esphome.upload",
            r"^Uploading (\S+) \((\d+) bytes\)",
            |c, f| n(f, "size", c, 2),
        ),
        p("esphome.ok", r"^OTA successful", none),
        p("esphome.error", r"(?i)invalid magic byte", |_, f| {
            cls(f, "magic")
        }),
        p(
            "esphome.error",
            r"(?i)couldn't prepare flash memory",
            |_, f| cls(f, "prepare"),
        ),
        p("esphome.error", r"(?i)authentication invalid", |_, f| {
            cls(f, "auth_invalid")
        }),
        p(
            "esphome.error",
            r"(?i)requests password, but no password given",
            |_, f| cls(f, "auth_missing"),
        ),
        p(
            "esphome.error",
            r"(?i)writing OTA data to flash memory failed",
            |_, f| cls(f, "write_flash"),
        ),
        p("esphome.error", r"(?i)finishing update failed", |_, f| {
            cls(f, "update_end")
        }),
        p("esphome.error", r"(?i)press the reset button", |_, f| {
            cls(f, "bootstrapping")
        }),
        p(
            "esphome.error",
            r"(?i)flashed with wrong flash size|does not have the requested flash size",
            |_, f| cls(f, "flash_config"),
        ),
        p(
            "esphome.error",
            r"(?i)does not have enough space to store OTA",
            |_, f| cls(f, "space"),
        ),
        p(
            "esphome.error",
            r"(?i)OTA partition on the ESP is too small",
            |_, f| cls(f, "partition_small"),
        ),
        p(
            "esphome.error",
            r"(?i)OTA partition on the ESP couldn't be found",
            |_, f| cls(f, "partition"),
        ),
        p(
            "esphome.error",
            r"(?i)acknowledge binary size: timed out",
            |_, f| cls(f, "ack_size_timeout"),
        ),
        p(
            "esphome.error",
            r"(?i)Int or String expected|TypeError|AttributeError|KeyError",
            |_, f| cls(f, "uploader_bug"),
        ),
        p("esphome.error", r"(?i)Unknown error from ESP", |_, f| {
            cls(f, "unknown_response")
        }),
        p("esphome.error", r"(?i)MD5 code mismatch", |_, f| {
            cls(f, "md5")
        }),
        p(
            "esphome.error",
            r"(?i)connection refused|Errno 111\b",
            |_, f| cls(f, "refused"),
        ),
        p(
            "esphome.error",
            r"(?i)connection reset by peer|broken pipe|Errno 104\b|Errno 32\b",
            |_, f| cls(f, "reset"),
        ),
        p(
            "esphome.error",
            r"(?i)no route to host|host is unreachable|Errno 113\b|Error resolving IP address|nodename nor servname",
            |_, f| cls(f, "unreachable"),
        ),
        p(
            "esphome.connect",
            r"^Connecting to (\S+) port (\d+)\.*\s*$",
            |c, f| {
                s(f, "ip", c, 1);
                n(f, "port", c, 2);
            },
        ),
        p(
            "esphome.error",
            r"(?i)^Error .*timed out|^Connecting to .* failed: timed out|\btimed out\b",
            |_, f| cls(f, "timeout"),
        ),
    ]
}

fn cls(f: &mut Fields, c: &str) {
    set(f, "class", c);
}

fn flash_kb(num: &str, unit: &str) -> i64 {
    let v: f64 = num.parse().unwrap_or(0.0);
    if unit == "MB" {
        (v * 1024.0) as i64
    } else {
        v as i64
    }
}

/// Records what a device answered (`ERR: ERROR[4]: Not Enough Space`) with its code.
fn device_text(f: &mut Fields, text: &str) {
    set(f, "answer", text.trim());
    static CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ERROR\[(\d+)\]").unwrap());
    if let Some(c) = CODE.captures(text) {
        n(f, "code", &c, 1);
    }
}

/// Classifies one uploader line. Returns the kind, its fields, and the text to keep
/// (with any password replaced by `***`).
pub fn classify(line: &str) -> (&'static str, Fields, String) {
    let (body, level) = split_level(line.trim_start());
    if let Some(rest) = body.strip_prefix("Options:") {
        // espota 2023+ (argparse) prints `Namespace(k=v, …)` instead of a dict.
        let rest = rest.trim();
        let dict = match rest.strip_prefix("Namespace(") {
            Some(ns) => namespace_as_dict(ns),
            None => rest.to_string(),
        };
        let (f, redacted) = options(&dict);
        return (
            "espota.options",
            f,
            format!("{}Options: {redacted}", prefix(line, body)),
        );
    }
    if let Some((f, redacted)) = espota_command(line) {
        return ("espota.cmd", f, redacted);
    }
    let (kind, mut f) = TABLE.classify(body).unwrap_or(("line", Fields::new()));
    if let Some(l) = level {
        set(&mut f, "level", l);
    }
    (kind, f, line.to_string())
}

fn prefix<'a>(line: &'a str, body: &str) -> &'a str {
    let trimmed = line.trim_start();
    &trimmed[..trimmed.len() - body.len()]
}

fn split_level(line: &str) -> (&str, Option<&str>) {
    match LEVEL.captures(line) {
        Some(c) => {
            let lvl = c.get(1).or(c.get(2)).map(|m| m.as_str());
            (&line[c.get(0).unwrap().end()..], lvl)
        }
        None => (line, None),
    }
}

/// Decodes espota's `Options: {…}` dict. The password is dropped; what remains of it
/// is whether one was set and any command-line flags that were swallowed into it
/// (PlatformIO passes `upload_flags = --auth=x --port=8266` as one argument).
fn options(dict: &str) -> (Fields, String) {
    let mut f = Fields::new();
    let mut shown = Vec::new();
    for (k, v) in pydict::parse(dict) {
        if k == "auth" {
            let pw = v.to_string();
            let swallowed = swallowed_flags(&pw);
            set(&mut f, "auth_set", !pw.is_empty());
            let mut red = if pw.is_empty() {
                String::new()
            } else {
                "***".to_string()
            };
            if !swallowed.is_empty() {
                set(&mut f, "auth_swallowed", swallowed.join(" "));
                red = format!("*** {}", swallowed.join(" "));
            }
            shown.push(format!("'auth': '{red}'"));
            continue;
        }
        shown.push(match &v {
            Value::Str(s) => format!("'{k}': '{s}'"),
            Value::Bool(true) => format!("'{k}': True"),
            Value::Bool(false) => format!("'{k}': False"),
            other => format!("'{k}': {other}"),
        });
        f.insert(k, v);
    }
    (f, format!("{{{}}}", shown.join(", ")))
}

/// Rewrites `auth='x', esp_port=3232)` as `{'auth': 'x', 'esp_port': 3232}`.
fn namespace_as_dict(ns: &str) -> String {
    static KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(^|,\s*)([A-Za-z_]\w*)=").unwrap());
    let body = ns.trim_end().trim_end_matches(')');
    format!("{{{}}}", KEY.replace_all(body, "${1}'${2}': "))
}

/// Flags such as `--port=8266` or `-p 8266` that ended up inside a password value.
fn swallowed_flags(pw: &str) -> Vec<String> {
    let toks: Vec<&str> = pw.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 1; // the first token is the password itself
    while i < toks.len() {
        let t = toks[i];
        if t.starts_with('-') && t.len() > 1 {
            let takes_value =
                !t.contains('=') && toks.get(i + 1).is_some_and(|n| !n.starts_with('-'));
            if takes_value {
                out.push(format!("{t} {}", toks[i + 1]));
                i += 1;
            } else {
                out.push(t.to_string());
            }
        }
        i += 1;
    }
    out
}

static CMD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"espota(?:\.py|\.exe)?"?\s+(.+)$"#).unwrap());

/// An espota command line as printed by Arduino IDE verbose output or `pio -v`.
fn espota_command(line: &str) -> Option<(Fields, String)> {
    let c = CMD.captures(line)?;
    let args: Vec<&str> = c[1].split_whitespace().collect();
    let mut f = Fields::new();
    let lower = line.to_lowercase();
    let tool = if lower.contains("esp32") {
        "esp32"
    } else if lower.contains("esp8266") {
        "esp8266"
    } else {
        "unknown"
    };
    set(&mut f, "tool", tool);
    let mut i = 0;
    while i < args.len() {
        // IDEs quote whole arguments: `"--auth=a b"`.
        let arg = args[i].trim_start_matches(['"', '\'']);
        let (flag, inline) = match arg.split_once('=') {
            Some((a, b)) => (a, Some(b)),
            None => (arg, None),
        };
        let mut value = || {
            inline.map(str::to_string).or_else(|| {
                i += 1;
                args.get(i).map(|s| s.trim_matches('"').to_string())
            })
        };
        match flag {
            "-i" | "--ip" => set(&mut f, "esp_ip", value().unwrap_or_default()),
            "-p" | "--port" => set(
                &mut f,
                "esp_port",
                Value::infer(&value().unwrap_or_default()),
            ),
            "-a" | "--auth" => {
                let _ = value();
                set(&mut f, "auth_set", true);
            }
            a if a.starts_with("-a") && !a.starts_with("--") => set(&mut f, "auth_set", true),
            "-f" | "--file" => set(&mut f, "image", value().unwrap_or_default()),
            "-s" | "--spiffs" => set(&mut f, "spiffs", true),
            _ => {}
        }
        i += 1;
    }
    let redacted = super::redact::redact(line).into_owned();
    if redacted != line {
        set(&mut f, "auth_set", true);
    }
    Some((f, redacted))
}

pub fn pattern_count() -> usize {
    TABLE.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(line: &str) -> (&'static str, Fields) {
        let (kind, f, _) = classify(line);
        (kind, f)
    }

    #[test]
    fn espota_options_redacts_password_and_finds_swallowed_port() {
        let line = "[DEBUG]: Options: {'esp_ip': '192.168.1.242', 'host_ip': '0.0.0.0', 'esp_port': 3232, 'host_port': 13509, 'auth': '2357 --port=8266', 'spiffs': False}";
        let (kind, f, text) = classify(line);
        assert_eq!(kind, "espota.options");
        assert_eq!(f["esp_port"], Value::Int(3232));
        assert_eq!(f["auth_swallowed"], Value::from("--port=8266"));
        assert!(!text.contains("2357"), "{text}");
        assert!(text.contains("*** --port=8266"));
        assert!(!f.values().any(|v| v.to_string().contains("2357")));
    }

    #[test]
    fn namespace_options_are_decoded_and_redacted() {
        let (kind, f, text) = classify(
            "[DEBUG]: Options: Namespace(auth='pw x', debug=True, esp_ip='192.168.1.161', esp_port=3232, host_port=13591, image='C:\\\\fw-ok.bin', spiffs=False, timeout=10)",
        );
        assert_eq!(kind, "espota.options");
        assert_eq!(f["esp_port"], Value::Int(3232));
        assert_eq!(f["esp_ip"], Value::from("192.168.1.161"));
        assert_eq!(f["spiffs"], Value::Bool(false));
        assert!(!text.contains("pw x"), "{text}");
    }

    #[test]
    fn plain_password_is_never_kept() {
        let (_, f, text) = classify("Options: {‘auth’: ‘Set4OTA’, ‘esp_port’: 8266}");
        assert!(!text.contains("Set4OTA"));
        assert_eq!(f["auth_set"], Value::Bool(true));
        assert!(!f.contains_key("auth_swallowed"));
        let (_, _, cmd) = classify(
            r#""python3" "/x/esp8266/tools/espota.py" -i 10.0.0.2 -p 8266 --auth=s3cret -f /tmp/a.bin"#,
        );
        assert!(!cmd.contains("s3cret"), "{cmd}");
    }

    #[test]
    fn espota_command_line() {
        let (kind, f) = k(
            r#"C:\Users\x\esp32\hardware\esp32\1.0.4/tools/espota.exe -i 192.168.1.5 -p 8266 --auth=OTAPASSWORD -f C:\t\main.ino.bin"#,
        );
        assert_eq!(kind, "espota.cmd");
        assert_eq!(f["esp_port"], Value::Int(8266));
        assert_eq!(f["tool"], Value::from("esp32"));
    }

    #[test]
    fn espota_messages() {
        assert_eq!(
            k("[ERROR]: No response from the ESP").1["class"],
            Value::from("no_response_esp")
        );
        assert_eq!(
            k("[ERROR]: No response from device").1["class"],
            Value::from("no_response_device")
        );
        let (kind, f) = k("[ERROR]: Bad Answer: ERR: ERROR[11]: Invalid bootstrapping");
        assert_eq!(kind, "espota.error");
        assert_eq!(f["code"], Value::Int(11));
        assert_eq!(f["level"], Value::from("ERROR"));
        assert_eq!(
            k("Sending invitation to 192.168.1.242 ..........").1["retries"],
            Value::Int(10)
        );
        assert_eq!(
            k("[INFO]: Sending invitation to: 10.0.0.2").1["tool"],
            Value::from("esp8266")
        );
        assert_eq!(k("Authenticating...FAIL").1["result"], Value::from("FAIL"));
        assert_eq!(k("Uploading: [==      ] 3%").1["percent"], Value::Int(3));
        assert_eq!(
            k("[ERROR]: Error Uploading: [Errno 104] Connection reset by peer").1["class"],
            Value::from("error_uploading")
        );
        assert_eq!(k("[INFO]: Result: OK").0, "espota.result");
    }

    #[test]
    fn platformio_and_esptool() {
        assert_eq!(
            k("HARDWARE: ESP32 240MHz, 320KB RAM, 4MB Flash").1["flash_kb"],
            Value::Int(4096)
        );
        assert_eq!(
            k("Flash: [=======   ]  66.4% (used 869965 bytes from 1310720 bytes)").1["max"],
            Value::Int(1310720)
        );
        assert_eq!(k("*** [upload] Error 1").0, "pio.fail");
        assert_eq!(
            k("Detected flash size: 1MB").1["flash_kb"],
            Value::Int(1024)
        );
        assert_eq!(k("Chip is ESP8285").1["chip"], Value::from("esp8285"));
    }

    #[test]
    fn esphome() {
        assert_eq!(
            k("ERROR Error: Please press the reset button on the ESP.").1["class"],
            Value::from("bootstrapping")
        );
        assert_eq!(
            k("ERROR Connecting to 192.168.1.9 port 3232 failed: [Errno 111] Connection refused").1
                ["class"],
            Value::from("refused")
        );
        assert_eq!(
            k("INFO Connecting to 192.168.1.9 port 3232...").1["port"],
            Value::Int(3232)
        );
    }

    #[test]
    fn hostile_lines() {
        assert_eq!(k("").0, "line");
        assert_eq!(k("Options: {").0, "espota.options");
        let long = format!("Options: {{'auth': '{}'}}", "x".repeat(100_000));
        let (_, _, text) = classify(&long);
        assert!(text.len() < 100);
    }
}
