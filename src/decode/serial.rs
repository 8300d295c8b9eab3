//! Device serial log lines → typed events (ROM banners, updater errors, ArduinoOTA
//! messages, crashes, Wi-Fi). Strings follow docs/protocol.md §3–4.

use super::logprefix::{self, Parsed, Prefix};
use super::recognizer::{Pattern, Recognizer, hex, n, none, p, s, set};
use crate::event::{Fields, Value};
use regex::Regex;
use std::sync::LazyLock;

/// Lines with at least this share of unreadable bytes are baud-rate garbage.
pub const GARBAGE_NOISE: f32 = 0.3;

/// ESP32 `Update` error texts in code order (Update.h); the index is the error code.
pub const ESP32_UPDATE_ERRORS: [&str; 15] = [
    "No Error",
    "Flash Write Failed",
    "Flash Erase Failed",
    "Flash Read Failed",
    "Not Enough Space",
    "Bad Size Given",
    "Stream Read Timeout",
    "MD5 Check Failed",
    "Wrong Magic Byte",
    "Could Not Activate The Firmware",
    "Partition Could Not be Found",
    "Bad Argument",
    "Aborted",
    "Decryption error",
    "Signature Verification Failed",
];

pub(crate) const ARDUINO_LOG_RE: &str =
    r"^(?:\[\s*(\d+)\])?\[([EWIDV])\]\[([^:\]\s]+):(\d+)\]:?\s*(?:(\w+)\(\):\s?)?(.*)$";
pub(crate) const IDF_LOG_RE: &str = r"^([EWIDV]) \((\d+)\) ([^:]{1,40}): (.*)$";
static ARDUINO_LOG: LazyLock<Regex> = LazyLock::new(|| Regex::new(ARDUINO_LOG_RE).unwrap());
static IDF_LOG: LazyLock<Regex> = LazyLock::new(|| Regex::new(IDF_LOG_RE).unwrap());

static TABLE: LazyLock<Recognizer> = LazyLock::new(|| Recognizer::new(patterns()));

/// This thread's copies of the recognisers: a regex shared by threads that decode at
/// once passes its scratch space through a lock on every search; a copy has its own.
struct Local {
    arduino: Regex,
    idf: Regex,
    table: Recognizer,
}

thread_local! {
    static LOCAL: Local = Local {
        arduino: ARDUINO_LOG.clone(),
        idf: IDF_LOG.clone(),
        table: TABLE.clone(),
    };
}

fn patterns() -> Vec<Pattern> {
    vec![
        p(
            "boot",
            r"rst cause:?\s*(\d+),\s*boot mode:\((\d),(\d+)\)",
            |c, f| {
                set(f, "chip", "esp8266");
                n(f, "rst_cause", c, 1);
                n(f, "boot_mode", c, 2);
                n(f, "boot_sub", c, 3);
            },
        ),
        p(
            "boot",
            r"rst:0x([0-9a-fA-F]+) \(([A-Z0-9_]+)\),\s*boot:0x([0-9a-fA-F]+) \(([^)]*)\)",
            |c, f| {
                set(f, "chip", "esp32");
                hex(f, "rst_code", c, 1);
                s(f, "rst_reason", c, 2);
                hex(f, "boot_strap", c, 3);
                s(f, "boot_mode_name", c, 4);
                let download = c.get(4).is_some_and(|m| m.as_str().contains("DOWNLOAD"));
                set(f, "download", download);
            },
        ),
        p("boot.rom", r"ets Jun\s+8 2016", |_, f| {
            set(f, "chip", "esp32")
        }),
        p("boot.rom", r"ESP-ROM:(esp32[a-z0-9]*)", |c, f| {
            s(f, "chip", c, 1)
        }),
        p("boot.rom", r"ets Jan\s+8 201[34]", |_, f| {
            set(f, "chip", "esp8266")
        }),
        p("boot.download", r"waiting for download", none),
        p("eboot", r"^@?cp:(\d+)\s*$", |c, f| {
            n(f, "copy_result", c, 1)
        }),
        p("crash", r"^\s*wdt reset\s*$", |_, f| {
            set(f, "crash", "hw_wdt")
        }),
        p("crash", r"Exception \((\d+)\):", |c, f| {
            set(f, "crash", "exception");
            n(f, "code", c, 1);
        }),
        p("crash", r"Fatal exception:?\s*\(?(\d+)", |c, f| {
            set(f, "crash", "exception");
            n(f, "code", c, 1);
        }),
        p("crash", r"Soft WDT reset", |_, f| {
            set(f, "crash", "soft_wdt")
        }),
        p(
            "crash",
            r"Guru Meditation Error: Core\s+(\d)\s+panic'ed \(([^)]*)\)",
            |c, f| {
                set(f, "crash", "guru");
                s(f, "detail", c, 2);
            },
        ),
        p("crash", r"Brownout detector was triggered", |_, f| {
            set(f, "crash", "brownout")
        }),
        p("crash", r"abort\(\) was called at PC", |_, f| {
            set(f, "crash", "abort")
        }),
        p("crash", r"Task watchdog got triggered", |_, f| {
            set(f, "crash", "task_wdt")
        }),
        p(
            "crash",
            r"CORRUPT HEAP|Stack smashing|Stack overflow detected|Stack canary watchpoint",
            |_, f| set(f, "crash", "memory"),
        ),
        p("crash", r"^Panic \S+", |_, f| set(f, "crash", "panic")),
        p(
            "crash",
            r"^Abort called|Unhandled C\+\+ exception",
            |_, f| set(f, "crash", "abort"),
        ),
        p(
            "crash.detail",
            r"^(?:Backtrace:|>>>stack>>>|<<<stack<<<|epc1=|Core\s+\d register dump|--------------- CUT HERE)",
            none,
        ),
        p("updater.too_large", r"too large (\d+) > (\d+)", |c, f| {
            n(f, "size", c, 1);
            n(f, "slot", c, 2);
        }),
        p(
            "updater.premature",
            r"premature end: res:(\d+), pos:(\d+)/(\d+)",
            |c, f| {
                n(f, "pos", c, 2);
                n(f, "size", c, 3);
            },
        ),
        p(
            "updater.error",
            r"(Begin|Write|Update) ERROR: (.*)",
            |c, f| {
                let phase = match &c[1] {
                    "Begin" => "begin",
                    "Write" => "write",
                    _ => "end",
                };
                set(f, "phase", phase);
                set(f, "chip", "esp32");
                s(f, "text", c, 2);
                if let Some(code) = esp32_error_code(&c[2]) {
                    set(f, "code", code);
                }
            },
        ),
        p("updater.error", r"ERROR\[(\d+)\]:?\s*(.*)", |c, f| {
            set(f, "chip", "esp8266");
            n(f, "code", c, 1);
            s(f, "text", c, 2);
        }),
        p("ota.error", r"Error\[(\d+)\]:?\s*(.*)", |c, f| {
            n(f, "code", c, 1);
            s(f, "text", c, 2);
        }),
        p(
            "ota.progress",
            r"(?i)progress:?\s*(\d{1,3})(?:\.\d+)?\s*%",
            |c, f| n(f, "percent", c, 1),
        ),
        p("ota.error", r"OTA Error (\d): (.*)", |c, f| {
            n(f, "code", c, 1);
            s(f, "text", c, 2);
        }),
        p("ota.progress", r"(?i)\bOTA\b.*\b(\d{1,3})%", |c, f| {
            n(f, "percent", c, 1)
        }),
        p(
            "ota.start",
            r"^(?:\w+:\s*)?(?:OTA:?\s*)?Start(?:ing)?(?: updating (sketch|filesystem))?(?: OTA)?\.*\s*$",
            |c, f| set(f, "target", c.get(1).map_or("unknown", |m| m.as_str())),
        ),
        p(
            "ota.start",
            r"(?i)^(?:\w+:\s*)?(?:OTA update started|OTA update start|Starting OTA update)",
            |_, f| set(f, "target", "unknown"),
        ),
        p(
            "ota.start",
            r"^Update Start: ip:(\S+), port:(\d+), size:(\d+)",
            |c, f| {
                set(f, "target", "unknown");
                n(f, "size", c, 3);
            },
        ),
        p("ota.error", r"^Update Begin Error", |_, f| {
            set(f, "code", 1);
            set(f, "text", "Begin Failed");
        }),
        p(
            "ota.setup_failed",
            r"Component (\S*ota\S*) is marked FAILED",
            |c, f| s(f, "component", c, 1),
        ),
        p("ota.end", r"^(?:\\n)?(?:OTA:?\s*)?End\s*$", none),
        p(
            "ota.server",
            r"OTA server at:\s*(\S+?):(\d+)\s*$",
            |c, f| {
                s(f, "host", c, 1);
                n(f, "port", c, 2);
            },
        ),
        p(
            "ota.auth_unexpected",
            r"200 was expected\. got (\d+) instead",
            |c, f| n(f, "got", c, 1),
        ),
        p("ota.auth_param", r"auth param fail", none),
        p("ota.auth_failed", r"Authentication Failed", none),
        p("ota.bad_md5", r"bad md5 length", none),
        p("ota.retry", r"Try\[(\d+)\]: (\d+)", |c, f| {
            n(f, "try", c, 1);
            n(f, "written", c, 2);
        }),
        p("ota.receive_failed", r"Receive Failed", none),
        p(
            "ota.connect_timeout",
            r"select returned due to timeout (\d+) ms",
            |c, f| n(f, "ms", c, 1),
        ),
        p("ota.connect_failed", r"^Connect Failed", none),
        p("ota.md5_hash_warning", r"MD5 password hash detected", none),
        p("ota.udp_bind", r"udp bind failed", none),
        p(
            "wifi.fail",
            r"Connection Failed! Rebooting|(?i:\bwi-?fi\b.*\b(?:disconnected|connection failed|connection lost)\b)",
            none,
        ),
        p(
            "wifi.ip",
            // Only the device's own address: a line that starts with it ("IP address:",
            // "WiFi connected, IP: …", "Local IP …"), not "Gateway IP" or "broker IP".
            r"(?i)(?:^(?:[A-Z]:\s*)?(?:(?:wi-?fi\s+)?connected[,.!]?\s*|local\s+|my\s+|sta(?:tion)?\s+)?IP(?:\s+address)?(?:\s+is)?\s*[:=]?\s*|got ip\s*:?\s*|sta ip:\s*)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})",
            |c, f| s(f, "ip", c, 1),
        ),
    ]
}

/// Maps an ESP32 `Update` error text to its code.
pub fn esp32_error_code(text: &str) -> Option<i64> {
    let t = text.trim();
    ESP32_UPDATE_ERRORS
        .iter()
        .position(|e| t.starts_with(e))
        .map(|i| i as i64)
}

/// Classifies one serial line (already stripped of timestamps and ANSI codes).
/// `noise` is the share of unreadable bytes the line had.
pub fn classify(text: &str, noise: f32) -> (&'static str, Fields) {
    LOCAL
        .try_with(|l| classify_with(l, text, noise))
        .unwrap_or_else(|_| {
            // Only while this thread shuts down; the shared copies serve as well.
            let shared = Local {
                arduino: ARDUINO_LOG.clone(),
                idf: IDF_LOG.clone(),
                table: TABLE.clone(),
            };
            classify_with(&shared, text, noise)
        })
}

fn classify_with(l: &Local, text: &str, noise: f32) -> (&'static str, Fields) {
    let (msg, mut log) = split_log_prefix(l, text);
    if let Some((kind, fields)) = l.table.classify(msg) {
        log.extend(fields);
        return (kind, log);
    }
    if text.len() >= 4 && noise >= GARBAGE_NOISE {
        let mut f = Fields::new();
        f.insert(
            "noise".into(),
            Value::Float((noise * 100.0).round() as f64 / 100.0),
        );
        return ("garbage", f);
    }
    if !log.is_empty() {
        return ("log", log);
    }
    ("line", log)
}

/// Splits ESP32 Arduino (`[  123][E][file.cpp:12] func(): msg`) and ESP-IDF
/// (`E (123) tag: msg`) prefixes off, returning the message and the prefix fields.
fn split_log_prefix<'t>(l: &Local, text: &'t str) -> (&'t str, Fields) {
    let t = text.trim_start();
    let prefix = match logprefix::parse(t) {
        Parsed::Match(p) => Some(p),
        Parsed::NoMatch => None,
        Parsed::AskRegex => logprefix::by_regex(&l.arduino, &l.idf, t),
    };
    match prefix {
        Some(p) => (p.msg, prefix_fields(&p)),
        None => (t, Fields::new()),
    }
}

/// The fields the logger regexes' captures gave (trimmed, numbers parsed).
fn prefix_fields(p: &Prefix<'_>) -> Fields {
    let mut f = Fields::new();
    let text = |f: &mut Fields, name: &str, v: Option<&str>| {
        if let Some(v) = v {
            set(f, name, v.trim());
        }
    };
    let int = |f: &mut Fields, name: &str, v: Option<&str>| {
        if let Some(v) = v.and_then(|v| v.trim().parse::<i64>().ok()) {
            set(f, name, v);
        }
    };
    int(&mut f, "uptime_ms", p.uptime);
    text(&mut f, "level", Some(p.level));
    text(&mut f, "file", p.file);
    int(&mut f, "src_line", p.src_line);
    text(&mut f, "func", p.func);
    text(&mut f, "tag", p.tag);
    if p.arduino {
        set(&mut f, "chip", "esp32");
    }
    f
}

/// Every pattern a serial line is tested against: the logger prefixes, then the table.
/// A line none of them matches (anywhere, not only where anchored) decodes as `line`.
pub fn pattern_sources() -> Vec<&'static str> {
    let mut v = vec![ARDUINO_LOG_RE, IDF_LOG_RE];
    v.extend(table_sources());
    v
}

/// The recognisers' patterns without the logger prefixes, which
/// [`logprefix::parse`] tells apart faster.
pub fn table_sources() -> Vec<&'static str> {
    TABLE.sources().collect()
}

/// Whether the fields `prefix_fields` makes of `p` name the chip the way the
/// timeline reads it (an uptime, a file and the chip), without making them.
pub fn prefix_names_chip(p: &Prefix<'_>) -> bool {
    let uptime = p.uptime.and_then(|v| v.trim().parse::<i64>().ok());
    p.arduino && uptime.is_some() && p.file.is_some()
}

pub fn pattern_count() -> usize {
    TABLE.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(t: &str) -> &'static str {
        classify(t, 0.0).0
    }
    fn field(t: &str, name: &str) -> Value {
        classify(t, 0.0)
            .1
            .remove(name)
            .unwrap_or_else(|| panic!("{name} missing in {t}"))
    }

    #[test]
    fn esp8266_banner_and_boot_mode() {
        let t = " ets Jan  8 2013,rst cause:2, boot mode:(1,6)";
        assert_eq!(kind(t), "boot");
        assert_eq!(field(t, "boot_mode"), Value::Int(1));
        assert_eq!(field(t, "rst_cause"), Value::Int(2));
        assert_eq!(
            field("ets Jan  8 2014,rst cause 1, boot mode:(3,7)", "boot_mode"),
            Value::Int(3)
        );
    }

    #[test]
    fn esp32_banner() {
        let t = "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)";
        assert_eq!(field(t, "rst_code"), Value::Int(12));
        assert_eq!(field(t, "rst_reason"), Value::from("SW_CPU_RESET"));
        assert_eq!(field(t, "download"), Value::Bool(false));
        let d = "rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))";
        assert_eq!(field(d, "download"), Value::Bool(true));
    }

    #[test]
    fn updater_errors_both_cores() {
        let t = "ERROR[4]: Not Enough Space";
        assert_eq!(kind(t), "updater.error");
        assert_eq!(field(t, "code"), Value::Int(4));
        let e = "[ 25334][E][ArduinoOTA.cpp:356] _runUpdate(): Update ERROR: Aborted";
        assert_eq!(kind(e), "updater.error");
        assert_eq!(field(e, "phase"), Value::from("end"));
        assert_eq!(field(e, "code"), Value::Int(12));
        assert_eq!(field(e, "level"), Value::from("E"));
        assert_eq!(field(e, "uptime_ms"), Value::Int(25334));
        let w = "[E][ArduinoOTA.cpp:321] _runUpdate(): Write ERROR: Not Enough Space";
        assert_eq!(field(w, "phase"), Value::from("write"));
        assert_eq!(
            field(
                "[E][Updater.cpp:93] begin(): too large 1400000 > 1310720",
                "slot"
            ),
            Value::Int(1310720)
        );
    }

    #[test]
    fn arduino_ota_errors_and_progress() {
        assert_eq!(field("Error[2]: Connect Failed", "code"), Value::Int(2));
        assert_eq!(field("Error[3]: E: Receive Failed", "code"), Value::Int(3));
        assert_eq!(field("T: Progress: 66%", "percent"), Value::Int(66));
        assert_eq!(kind("Start updating sketch"), "ota.start");
        assert_eq!(kind("Starting WiFi"), "line");
        assert_eq!(kind("End"), "ota.end");
        assert_eq!(
            field(
                "[E][ArduinoOTA.cpp:200] _onRx(): 200 was expected. got 0 instead",
                "got"
            ),
            Value::Int(0)
        );
        assert_eq!(
            field(
                "[I][ArduinoOTA.cpp:141] begin(): OTA server at: esp32-ab.local:3232",
                "port"
            ),
            Value::Int(3232)
        );
    }

    #[test]
    fn crashes() {
        assert_eq!(
            field(
                "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.",
                "detail"
            ),
            Value::from("LoadProhibited")
        );
        assert_eq!(
            field("Brownout detector was triggered", "crash"),
            Value::from("brownout")
        );
        assert_eq!(field("Exception (28):", "code"), Value::Int(28));
        assert_eq!(field("Soft WDT reset", "crash"), Value::from("soft_wdt"));
        assert_eq!(
            field(
                "E (12345) task_wdt: Task watchdog got triggered. The following tasks did not reset the watchdog in time:",
                "crash"
            ),
            Value::from("task_wdt")
        );
        assert_eq!(
            field("E (12345) task_wdt: Task watchdog got triggered.", "tag"),
            Value::from("task_wdt")
        );
    }

    #[test]
    fn wifi_ip() {
        assert_eq!(
            field("IP address: 192.168.1.60", "ip"),
            Value::from("192.168.1.60")
        );
        assert_eq!(
            field(
                "I (3000) esp_netif_handlers: sta ip: 10.0.0.5, mask: 255.255.255.0",
                "ip"
            ),
            Value::from("10.0.0.5")
        );
        assert_eq!(kind("Connecting to MQTT 192.168.1.2"), "line");
        assert_eq!(kind("Gateway IP: 10.0.0.1"), "line");
        assert_eq!(kind("MQTT broker IP: 10.0.0.2"), "line");
        assert_eq!(
            field("WiFi connected, IP: 10.0.0.7", "ip"),
            Value::from("10.0.0.7")
        );
        assert_eq!(field("Local IP 10.0.0.8", "ip"), Value::from("10.0.0.8"));
    }

    #[test]
    fn garbage_is_flagged_only_when_noisy() {
        assert_eq!(classify("\\x8F\\x00l\\x9C", 0.75).0, "garbage");
        assert_eq!(classify("hello", 0.0).0, "line");
    }

    #[test]
    fn hostile_text_never_panics() {
        let long = "A".repeat(1 << 20);
        assert_eq!(kind(&long), "line");
        assert_eq!(kind(""), "line");
        assert_eq!(kind("[E][x:1] "), "log");
        assert_eq!(kind("ERROR[99999999999999999999]: x"), "updater.error");
    }
}
