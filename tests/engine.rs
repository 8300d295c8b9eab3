//! The rule engine's semantics, one property per test, without I/O.

use ota_doctor::analysis::{self, Report};
use ota_doctor::decode::decode_log;
use ota_doctor::event::Source;
use ota_doctor::rules::RuleSet;
use ota_doctor::rules::example::parse_event;
use ota_doctor::timeline::{Builder, Timeline};

fn rule(body: &str) -> RuleSet {
    let src = format!(
        "id = \"T1\"\ncause = \"x_test\"\ntitle = \"t\"\nseverity = \"error\"\nmessage = \"m\"\nexplanation = \"e\"\n{body}"
    );
    let mut set = RuleSet::default();
    let errs = set.add_sources([("t.toml".to_string(), src)]);
    assert!(errs.0.is_empty(), "{errs}");
    set
}

fn timeline(lines: &[&str], end: Option<f64>, captured: &[Source]) -> Timeline {
    let mut b = Builder::new();
    b.events(lines.iter().map(|l| parse_event(l).unwrap()));
    for s in captured {
        b.captured(*s);
    }
    if let Some(e) = end {
        b.end((e * 1e6) as i64);
    }
    b.build()
}

fn fires(set: &RuleSet, tl: &Timeline) -> bool {
    analysis::analyze(set, tl)
        .findings
        .iter()
        .any(|f| f.rule == "T1")
}

const AB: &str = r#"
[sel.a]
source = "serial"
regex = '''^A'''
[sel.b]
source = "serial"
regex = '''^B'''
[sel.c]
source = "host"
regex = '''^C'''
"#;

#[test]
fn order_within_a_source_is_enforced() {
    let set = rule(&format!(
        "{AB}[[when]]\nsteps = [ {{ match = \"a\" }}, {{ match = \"b\" }} ]"
    ));
    assert!(fires(
        &set,
        &timeline(&["0 serial | A", "1 serial | B"], None, &[])
    ));
    assert!(!fires(
        &set,
        &timeline(&["0 serial | B", "1 serial | A"], None, &[])
    ));
}

#[test]
fn within_bounds_the_span() {
    let set = rule(&format!(
        "{AB}[[when]]\nwithin = \"5s\"\nsteps = [ {{ match = \"a\" }}, {{ match = \"b\" }} ]"
    ));
    assert!(fires(
        &set,
        &timeline(&["0 serial | A", "4 serial | B"], None, &[])
    ));
    assert!(!fires(
        &set,
        &timeline(&["0 serial | A", "6 serial | B"], None, &[])
    ));
}

#[test]
fn untimed_logs_match_across_sources_in_any_order() {
    let set = rule(&format!(
        "{AB}[[when]]\nsteps = [ {{ match = \"c\" }}, {{ match = \"a\" }} ]"
    ));
    let mut b = Builder::new();
    b.log(Source::Serial, decode_log(Source::Serial, b"A\n"));
    b.log(Source::Host, decode_log(Source::Host, b"C\n"));
    assert!(
        fires(&set, &b.build()),
        "a pasted serial log has no place relative to the uploader log"
    );
    // With timestamps on both sides the order is known and enforced.
    let mut b = Builder::new();
    b.log(
        Source::Serial,
        decode_log(Source::Serial, b"[10:00:00.000] A\n"),
    );
    b.log(
        Source::Host,
        decode_log(Source::Host, b"[10:00:05.000] C\n"),
    );
    assert!(!fires(&set, &b.build()));
}

#[test]
fn until_cancels_and_unless_disables() {
    let until = rule(&format!(
        "{AB}[[when]]\nuntil = [\"c\"]\nsteps = [ {{ match = \"a\" }}, {{ match = \"b\" }} ]"
    ));
    assert!(!fires(
        &until,
        &timeline(&["0 serial | A", "1 host | C", "2 serial | B"], None, &[])
    ));
    assert!(fires(
        &until,
        &timeline(&["0 serial | A", "2 serial | B", "3 host | C"], None, &[])
    ));
    let unless = rule(&format!(
        "{AB}[[when]]\nunless = [\"c\"]\nsteps = [ {{ match = \"a\" }} ]"
    ));
    assert!(!fires(
        &unless,
        &timeline(&["5 host | C", "0 serial | A"], None, &[])
    ));
    let after = rule(&format!(
        "{AB}[[when]]\nunless_after = [\"b\"]\nsteps = [ {{ match = \"a\" }} ]"
    ));
    assert!(fires(
        &after,
        &timeline(&["0 serial | B", "1 serial | A"], None, &[])
    ));
    assert!(!fires(
        &after,
        &timeline(&["0 serial | A", "1 serial | B"], None, &[])
    ));
}

#[test]
fn count_needs_that_many_events() {
    let set = rule(&format!(
        "{AB}[[when]]\nsteps = [ {{ match = \"a\", count = 3 }} ]"
    ));
    assert!(!fires(
        &set,
        &timeline(&["0 serial | A", "1 serial | A"], None, &[])
    ));
    assert!(fires(
        &set,
        &timeline(&["0 serial | A", "1 serial | A", "2 serial | A"], None, &[])
    ));
}

#[test]
fn refs_compare_with_an_earlier_step() {
    let body = r#"
[sel.server]
source = "serial"
kind = "ota.server"
[sel.opts]
source = "host"
kind = "espota.options"
where.esp_port = { ne = { ref = "server.port" } }
[[when]]
steps = [ { match = "server" }, { match = "opts" } ]
"#;
    let set = rule(body);
    let server = "0 serial | OTA server at: esp.local:3232";
    assert!(fires(
        &set,
        &timeline(&[server, "1 host | Options: {'esp_port': 8266}"], None, &[])
    ));
    assert!(!fires(
        &set,
        &timeline(&[server, "1 host | Options: {'esp_port': 3232}"], None, &[])
    ));
}

const SILENCE: &str = r#"
[sel.invite]
source = "net"
kind = "ota.invite"
[sel.reply]
source = "net"
kind = "ota.reply"
[sel.talk]
source = "serial"
[[when]]
within = "30s"
steps = [ { match = "invite" }, { absent = "reply", for = "10s", meanwhile = "talk" } ]
"#;

#[test]
fn absence_is_judged_on_event_time_and_coverage() {
    let set = rule(SILENCE);
    let inv = "0 net ota.invite dst_port=3232";
    // Silent for 10 s while the device talks: fires.
    assert!(fires(
        &set,
        &timeline(&[inv, "4 serial | hello"], Some(12.0), &[])
    ));
    // A reply inside the window: no.
    assert!(!fires(
        &set,
        &timeline(
            &[inv, "1 net ota.reply verdict=ok", "4 serial | hello"],
            Some(12.0),
            &[]
        )
    ));
    // The capture stopped before 10 s passed: cannot claim silence.
    assert!(!fires(
        &set,
        &timeline(&[inv, "4 serial | hello"], Some(5.0), &[])
    ));
    // The device said nothing meanwhile: not this pattern.
    assert!(!fires(
        &set,
        &timeline(&[inv], Some(12.0), &[Source::Serial])
    ));
}

#[test]
fn absence_on_an_uncaptured_source_is_inconclusive_not_a_finding() {
    let body = r#"
[sel.start]
source = "host"
regex = '''Sending invitation'''
[sel.reply]
source = "net"
kind = "ota.reply"
[[when]]
steps = [ { match = "start" }, { absent = "reply", for = "10s" } ]
"#;
    let set = rule(body);
    let tl = timeline(
        &[
            "0 host | Sending invitation to: 1.2.3.4",
            "20 host | No Answer",
        ],
        None,
        &[],
    );
    let report: Report = analysis::analyze(&set, &tl);
    assert!(report.findings.is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("net source was not captured")),
        "{:?}",
        report.notes
    );
}

#[test]
fn chips_filter_only_applies_when_the_chip_is_known() {
    let set = rule(&format!(
        "chips = [\"esp32\"]\n{AB}[[when]]\nsteps = [ {{ match = \"a\" }} ]"
    ));
    assert!(fires(&set, &timeline(&["0 serial | A"], None, &[])));
    assert!(!fires(
        &set,
        &timeline(
            &[
                "0 serial | ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
                "1 serial | A"
            ],
            None,
            &[]
        )
    ));
    assert!(fires(
        &set,
        &timeline(
            &[
                "0 serial | rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
                "1 serial | A"
            ],
            None,
            &[]
        )
    ));
}

#[test]
fn search_is_bounded_on_hostile_input() {
    // 30,000 candidates for each step and an impossible last step: the search must give
    // up within its budget instead of trying every combination.
    let set = rule(&format!(
        "{AB}[[when]]\nsteps = [ {{ match = \"a\" }}, {{ match = \"a\" }}, {{ match = \"c\" }} ]"
    ));
    let mut log = Vec::new();
    for _ in 0..30_000 {
        log.extend_from_slice(b"A\n");
    }
    let mut b = Builder::new();
    b.log(Source::Serial, decode_log(Source::Serial, &log));
    let t0 = std::time::Instant::now();
    assert!(!fires(&set, &b.build()));
    assert!(
        t0.elapsed().as_secs() < 30,
        "search took {:?}",
        t0.elapsed()
    );
}

#[test]
fn supersedes_hides_the_general_finding() {
    let mut set = rule(&format!("{AB}[[when]]\nsteps = [ {{ match = \"a\" }} ]"));
    let specific = format!(
        "id = \"T2\"\ncause = \"x_specific\"\ntitle = \"t\"\nseverity = \"error\"\nmessage = \"m\"\nexplanation = \"e\"\nsupersedes = [\"T1\"]\n{AB}[[when]]\nsteps = [ {{ match = \"b\" }} ]"
    );
    assert!(
        set.add_sources([("t2.toml".to_string(), specific)])
            .0
            .is_empty()
    );
    let report = analysis::analyze(
        &set,
        &timeline(&["0 serial | A", "1 serial | B"], None, &[]),
    );
    let ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(ids, ["T2"]);
    assert_eq!(report.fired.len(), 2);
}

#[test]
fn count_windows_respect_within_and_slide() {
    let set = rule(&format!(
        "{AB}[[when]]\nwithin = \"60s\"\nsteps = [ {{ match = \"a\", count = 2 }}, {{ match = \"b\" }} ]"
    ));
    // Spread over hours: not a burst.
    assert!(!fires(
        &set,
        &timeline(
            &["0 serial | A", "3600 serial | A", "7200 serial | B"],
            None,
            &[]
        )
    ));
    // An old unrelated A must not hide a later burst.
    assert!(fires(
        &set,
        &timeline(
            &[
                "0 serial | A",
                "1000 serial | A",
                "1001 serial | A",
                "1002 serial | B"
            ],
            None,
            &[]
        )
    ));
}

#[test]
fn refs_apply_inside_absence() {
    let body = r#"
[sel.invite]
source = "net"
kind = "ota.invite"
[sel.reply]
source = "net"
kind = "ota.reply"
where.device_ip = { eq = { ref = "invite.device_ip" } }
[[when]]
within = "30s"
steps = [ { match = "invite" }, { absent = "reply", for = "10s" } ]
"#;
    let set = rule(body);
    let inv = "0 net ota.invite device_ip=192.168.4.2";
    assert!(
        fires(
            &set,
            &timeline(
                &[inv, "1 net ota.reply device_ip=192.168.4.99"],
                Some(12.0),
                &[]
            )
        ),
        "another device's reply is not a reply"
    );
    assert!(!fires(
        &set,
        &timeline(
            &[inv, "1 net ota.reply device_ip=192.168.4.2"],
            Some(12.0),
            &[]
        )
    ));
}

#[test]
fn evidence_is_the_occurrence_closest_to_the_failure() {
    let set = rule(&format!(
        "{AB}[[when]]\nmessage = \"{{a.text}}\"\nsteps = [ {{ match = \"a\" }}, {{ match = \"c\" }} ]"
    ));
    let report = analysis::analyze(
        &set,
        &timeline(
            &[
                "0 serial | A1",
                "1 serial | A2",
                "2 serial | A3",
                "3 host | C",
            ],
            None,
            &[],
        ),
    );
    assert_eq!(report.findings[0].message, "A3");
}

#[test]
fn long_logs_are_searched_within_the_window() {
    // 45,000 lines of progress and chatter, the failure at the end (review finding).
    let set = rule(&format!(
        "{AB}[[when]]\nwithin = \"2m\"\nsteps = [ {{ match = \"a\" }}, {{ match = \"a\" }}, {{ match = \"b\" }} ]"
    ));
    let mut log = String::new();
    for i in 0..45_000 {
        log.push_str(&format!(
            "[10:{:02}:{:02}.{:03}] {}\n",
            i / 3000 % 60,
            i / 50 % 60,
            i % 50 * 20,
            if i % 2 == 0 { "A" } else { "x" }
        ));
    }
    log.push_str("[10:15:00.500] B\n");
    let mut b = Builder::new();
    b.log(Source::Serial, decode_log(Source::Serial, log.as_bytes()));
    assert!(fires(&set, &b.build()));
}

#[test]
fn placeholders_are_checked_when_loading() {
    let src = format!(
        "id = \"T9\"\ncause = \"x_t\"\ntitle = \"t\"\nseverity = \"error\"\nmessage = \"{{strom.count}}\"\nexplanation = \"e\"\n{AB}[[when]]\nsteps = [ {{ match = \"a\" }} ]"
    );
    let mut set = RuleSet::default();
    let errs = set.add_sources([("p.toml".to_string(), src)]);
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].line, 5);
    assert!(errs.0[0].message.contains("strom"));
}
