//! The closed event vocabulary rules are checked against: every kind a decoder can emit,
//! with its fields. `rules check` rejects a kind or field that is not listed here, so a
//! typo in a rule file is an error instead of a rule that silently never fires.

use crate::event::Source;

/// Fields every serial event may carry (from an ESP32 / ESP-IDF log prefix).
const SERIAL_COMMON: &[&str] = &[
    "level",
    "file",
    "src_line",
    "func",
    "uptime_ms",
    "tag",
    "chip",
];
const HOST_COMMON: &[&str] = &["level"];

pub const SERIAL: &[(&str, &[&str])] = &[
    ("line", &[]),
    ("log", &[]),
    ("garbage", &["noise"]),
    (
        "boot",
        &[
            "rst_cause",
            "boot_mode",
            "boot_sub",
            "rst_code",
            "rst_reason",
            "boot_strap",
            "boot_mode_name",
            "download",
        ],
    ),
    ("boot.rom", &[]),
    ("boot.download", &[]),
    ("eboot", &["copy_result"]),
    ("crash", &["crash", "code", "detail"]),
    ("crash.detail", &[]),
    ("updater.too_large", &["size", "slot"]),
    ("updater.premature", &["pos", "size"]),
    ("updater.error", &["phase", "text", "code"]),
    ("ota.error", &["code", "text"]),
    ("ota.progress", &["percent"]),
    ("ota.start", &["target", "size"]),
    ("ota.setup_failed", &["component"]),
    ("ota.end", &[]),
    ("ota.server", &["host", "port"]),
    ("ota.auth_unexpected", &["got"]),
    ("ota.auth_param", &[]),
    ("ota.auth_failed", &[]),
    ("ota.bad_md5", &[]),
    ("ota.retry", &["try", "written"]),
    ("ota.receive_failed", &[]),
    ("ota.connect_timeout", &["ms"]),
    ("ota.connect_failed", &[]),
    ("ota.md5_hash_warning", &[]),
    ("ota.udp_bind", &[]),
    ("wifi.fail", &[]),
    ("wifi.ip", &["ip"]),
];

pub const HOST: &[(&str, &[&str])] = &[
    ("line", &[]),
    (
        "espota.options",
        &[
            "esp_ip",
            "esp_port",
            "host_ip",
            "host_port",
            "auth_set",
            "auth_swallowed",
            "image",
            "spiffs",
            "timeout",
            "debug",
            "progress",
        ],
    ),
    (
        "espota.cmd",
        &["tool", "esp_ip", "esp_port", "auth_set", "image", "spiffs"],
    ),
    ("espota.listen", &["host_ip", "host_port"]),
    ("espota.size", &["size"]),
    ("espota.invite", &["tool", "ip", "retries"]),
    ("espota.auth", &["result"]),
    ("espota.wait", &[]),
    ("espota.progress", &["percent", "done", "chunks"]),
    ("espota.wait_result", &[]),
    ("espota.result", &["ok", "text"]),
    (
        "espota.error",
        &["class", "detail", "answer", "code", "length"],
    ),
    ("espota.warning", &["class", "answer", "code"]),
    ("espota.traceback", &[]),
    ("pio.protocol", &["protocol"]),
    ("pio.hardware", &["chip", "flash_kb"]),
    ("pio.platform", &["chip"]),
    ("pio.upload", &["image"]),
    ("pio.fail", &["code"]),
    ("pio.result", &["ok"]),
    ("build.size", &["used", "max"]),
    ("build.too_big", &["used", "max"]),
    ("ide.fail", &["code"]),
    ("esptool.chip", &["chip"]),
    ("esptool.flash", &["flash_kb"]),
    ("esptool.reset", &[]),
    ("esptool.write", &["flash_size"]),
    ("esphome.connect", &["ip", "port"]),
    ("esphome.upload", &["size"]),
    ("esphome.ok", &[]),
    ("esphome.api_error", &[]),
    ("esphome.error", &["class"]),
];

/// Network events (written by live capture and pcap decoding; readable from traces and
/// example timelines today).
pub const NET: &[(&str, &[&str])] = &[
    ("arp.unanswered", &["ip", "requests"]),
    (
        "ota.invite",
        &[
            "device_ip",
            "host_ip",
            "dst_port",
            "src_port",
            "command",
            "target",
            "host_port",
            "image_size",
            "md5",
            "attempt",
            "try",
            "retry",
        ],
    ),
    (
        "ota.auth",
        &[
            "device_ip",
            "host_ip",
            "dst_port",
            "src_port",
            "cnonce",
            "response",
            "scheme",
            "scheme_mismatch",
            "password_ok",
            "password_hash",
            "attempt",
        ],
    ),
    (
        "ota.reply",
        &[
            "device_ip",
            "host_ip",
            "src_port",
            "dst_port",
            "text",
            "verdict",
            "phase",
            "latency_ms",
            "nonce",
            "nonce_len",
            "scheme",
            "error_code",
            "cause_hint",
            "attempt",
        ],
    ),
    (
        "icmp.unreachable",
        &[
            "reporter_ip",
            "code",
            "code_name",
            "orig_proto",
            "orig_src_ip",
            "orig_dst_ip",
            "orig_src_port",
            "orig_dst_port",
            "about",
        ],
    ),
    (
        "tcp.connect",
        &[
            "device_ip",
            "host_ip",
            "host_port",
            "device_port",
            "outcome",
            "syn_count",
            "latency_ms",
            "attempt",
        ],
    ),
    (
        "tcp.stall",
        &[
            "device_ip",
            "host_port",
            "gap_ms",
            "bytes_acked",
            "bytes_sent",
            "percent",
            "ended",
            "attempt",
        ],
    ),
    (
        "tcp.zero_window",
        &["device_ip", "host_port", "bytes_acked", "attempt"],
    ),
    (
        "ota.progress",
        &[
            "bytes",
            "percent",
            "bytes_acked",
            "device_bytes",
            "rate_bps",
            "attempt",
        ],
    ),
    (
        "ota.result",
        &[
            "text",
            "verdict",
            "closed_by",
            "how",
            "bytes_sent",
            "image_size",
            "complete",
            "error_code",
            "cause_hint",
            "attempt",
        ],
    ),
    (
        "ota.transfer",
        &[
            "bytes_sent",
            "bytes_acked",
            "device_bytes",
            "device_counts_merged",
            "image_size",
            "duration_ms",
            "rate_bps",
            "retransmits",
            "zero_windows",
            "max_gap_ms",
            "complete",
            "attempt",
        ],
    ),
    (
        "esphome.ota.start",
        &["device_ip", "device_port", "host_ip", "version"],
    ),
    (
        "esphome.ota.auth",
        &[
            "device_ip",
            "device_port",
            "host_ip",
            "scheme",
            "result",
            "password_ok",
        ],
    ),
    (
        "esphome.ota.begin",
        &["device_ip", "device_port", "host_ip", "size", "md5"],
    ),
    (
        "esphome.ota.progress",
        &["device_ip", "device_port", "host_ip", "bytes", "percent"],
    ),
    (
        "esphome.ota.error",
        &[
            "device_ip",
            "device_port",
            "host_ip",
            "code",
            "error",
            "class",
            "stage",
            "cause_hint",
        ],
    ),
    (
        "esphome.ota.result",
        &[
            "device_ip",
            "device_port",
            "host_ip",
            "verdict",
            "bytes",
            "size",
            "closed_by",
            "how",
            "chunks_ok",
            "code",
            "error",
            "class",
            "cause_hint",
            "missing_bytes",
        ],
    ),
];

pub const FINDING: &[(&str, &[&str])] = &[("finding", &["rule", "cause", "confidence"])];

pub fn kinds(source: Source) -> &'static [(&'static str, &'static [&'static str])] {
    match source {
        Source::Serial => SERIAL,
        Source::Host => HOST,
        Source::Net => NET,
        Source::Finding => FINDING,
    }
}

pub fn has_kind(source: Source, kind: &str) -> bool {
    kinds(source).iter().any(|(k, _)| *k == kind)
}

/// Whether `field` can appear on events of `source`/`kind` (`kind = None`: any kind).
pub fn has_field(source: Source, kind: Option<&str>, field: &str) -> bool {
    if field == "text" {
        return true;
    }
    let common = match source {
        Source::Serial => SERIAL_COMMON,
        Source::Host => HOST_COMMON,
        _ => &[],
    };
    if common.contains(&field) {
        return true;
    }
    kinds(source)
        .iter()
        .filter(|(k, _)| kind.is_none_or(|want| want == *k))
        .any(|(_, fs)| fs.contains(&field))
}

/// The closest known name, for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub fn kind_names(source: Source) -> impl Iterator<Item = &'static str> {
    kinds(source).iter().map(|(k, _)| *k)
}

pub fn field_names(source: Source, kind: Option<&str>) -> Vec<&'static str> {
    let mut v: Vec<&str> = kinds(source)
        .iter()
        .filter(|(k, _)| kind.is_none_or(|want| want == *k))
        .flat_map(|(_, fs)| fs.iter().copied())
        .collect();
    v.push("text");
    v
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("espota.eror", kind_names(Source::Host)),
            Some("espota.error")
        );
        assert_eq!(suggest("zzzzzzzz", kind_names(Source::Host)), None);
        assert!(has_field(Source::Serial, Some("boot"), "boot_mode"));
        assert!(has_field(Source::Serial, Some("updater.error"), "level"));
        assert!(!has_field(Source::Host, Some("espota.error"), "boot_mode"));
    }
}
