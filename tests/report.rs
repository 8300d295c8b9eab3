//! `ota-doctor report TRACE` as a user runs it: traces made by the real binary from the
//! example and from recorded network sessions, both formats, escaping, passwords, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(args)
        .output()
        .expect("run ota-doctor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

/// `analyze … --export` into a temporary trace.
fn trace(dir: &tempfile::TempDir, name: &str, inputs: &[&str]) -> PathBuf {
    let out = dir.path().join(format!("{name}.jsonl"));
    let mut args = vec!["analyze"];
    args.extend_from_slice(inputs);
    let o_str = out.display().to_string();
    args.extend_from_slice(&["--export", &o_str]);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn example_trace(dir: &tempfile::TempDir) -> PathBuf {
    trace(
        dir,
        "example",
        &[
            "--host-log",
            &repo("examples/esp32-image-too-big/host.log"),
            "--serial-log",
            &repo("examples/esp32-image-too-big/serial.log"),
        ],
    )
}

fn session_trace(dir: &tempfile::TempDir, session: &str) -> PathBuf {
    let f = |ext: &str| repo(&format!("tests/fixtures/net/{session}.{ext}"));
    trace(
        dir,
        session,
        &[
            "--pcap",
            &f("pcap"),
            "--serial-log",
            &f("serial.log"),
            "--host-log",
            &f("host.log"),
        ],
    )
}

fn report(trace: &Path, format: &str) -> String {
    let o = run(&["report", &trace.display().to_string(), "--format", format]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Checks that tags nest and close, that every `<` starts a tag and every `&` an entity:
/// what a broken escape or a truncated page would violate.
fn well_formed(html: &str) -> Result<(), String> {
    const VOID: [&str; 8] = ["meta", "br", "hr", "img", "input", "link", "col", "wbr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    for (i, _) in html.match_indices('&') {
        let b = html.as_bytes();
        let ent = String::from_utf8_lossy(&b[i + 1..b.len().min(i + 10)]);
        let semi = ent.find(';').ok_or(format!("bare & at {i}"))?;
        let name = &ent[..semi];
        if name.is_empty()
            || !name
                .trim_start_matches('#')
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        {
            return Err(format!("bad entity at {i}: {ent}"));
        }
    }
    while let Some(p) = rest.find('<') {
        rest = &rest[p + 1..];
        if rest.starts_with('!') {
            let end = rest.find('>').ok_or("unclosed <!")?;
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .ok_or(format!("</{name}> without an open tag"))?;
            if open != name {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("`<{tag}>` is not a tag (unescaped `<`?)"));
        }
        if name == "style" {
            let close = rest.find("</style>").ok_or("unclosed <style>")?;
            rest = &rest[close + "</style>".len()..];
            continue;
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("left open: {stack:?}"))
    }
}

fn top_cause_of_analyze(trace: &Path) -> Option<String> {
    let o = run(&[
        "analyze",
        "--trace",
        &trace.display().to_string(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    v["findings"][0]["cause"].as_str().map(String::from)
}

#[test]
fn markdown_of_the_example_names_cause_fix_evidence_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let md = report(&example_trace(&dir), "md");
    let first = md.lines().next().unwrap();
    assert!(
        first.starts_with("## ") && first.contains("insufficient_space (confidence 0.98)"),
        "{md}"
    );
    assert!(md.contains("The new firmware does not fit"), "{md}");
    assert!(
        md.contains("**Fix**") && md.contains("partition scheme"),
        "{md}"
    );
    assert!(md.contains("```text\n"), "{md}");
    assert!(md.contains("too large 1399984 > 1310720"), "{md}");
    assert!(md.contains("serial:5"), "{md}");
    for row in [
        "| chip | esp32 |",
        "| flash size | 4 MB |",
        "| device IP | 192.168.4.23 |",
        "| serial lines | 8 |",
        "| uploader lines | 16 |",
        "| upload attempts | 1 |",
    ] {
        assert!(md.contains(row), "missing {row}: {md}");
    }
    assert!(md.contains(env!("CARGO_PKG_VERSION")));
    assert!(md.lines().count() < 60, "a forum post, not a dump:\n{md}");
}

#[test]
fn html_of_a_network_session_has_a_timeline_and_is_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let t = session_trace(&dir, "stall-upload");
    let html = report(&t, "html");
    well_formed(&html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("weak_wifi_or_packet_loss"), "{html}");
    assert!(html.contains("<h2>Fix</h2>"));
    assert!(html.contains("no data for 5049 ms at 48364 bytes"));
    assert!(html.contains("<svg"));
    for lane in [">serial</text>", ">network</text>", ">uploader</text>"] {
        assert!(html.contains(lane), "lane {lane} missing");
    }
    assert!(html.contains(r#"class="tick k-err""#));
    assert!(html.contains(r#"<g class="evidence">"#));
    assert!(
        html.contains(r#"class="prog-line""#),
        "progress from ota.progress"
    );
    assert!(html.contains("<details>") && html.contains("All 75 events"));
    // Self-contained: nothing fetched, nothing run.
    for bad in ["<script", "src=", "<link", "url(", "@import"] {
        assert!(!html.contains(bad), "found {bad}");
    }
}

#[test]
fn report_names_the_same_top_cause_as_analyze_trace() {
    let dir = tempfile::tempdir().unwrap();
    let mut traces = vec![example_trace(&dir)];
    let mut sessions: Vec<String> = std::fs::read_dir(repo("tests/fixtures/net"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".pcap").map(String::from)
        })
        .collect();
    sessions.sort();
    assert!(sessions.len() >= 10);
    for s in &sessions {
        traces.push(session_trace(&dir, s));
    }
    for t in &traces {
        let md = report(t, "md");
        let head = md.lines().next().unwrap();
        match top_cause_of_analyze(t) {
            Some(cause) => {
                assert!(
                    head.contains(&format!(" {cause} (")),
                    "{}: analyze says {cause}, report says {head}",
                    t.display()
                );
                let html = report(t, "html");
                assert!(html.contains(&format!("{cause} (confidence")));
                well_formed(&html).unwrap_or_else(|e| panic!("{}: {e}", t.display()));
            }
            None => assert!(head.contains("no known failure signature"), "{head}"),
        }
    }
}

fn write_trace(dir: &tempfile::TempDir, lines: &[&str]) -> PathBuf {
    let p = dir.path().join("hand.jsonl");
    let mut s = String::from("{\"ota_doctor_trace\":1,\"tool\":\"test\"}\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn log_text_cannot_inject_html() {
    let dir = tempfile::tempdir().unwrap();
    let t = write_trace(
        &dir,
        &[
            r#"{"t_us":1000000,"source":"serial","kind":"line","text":"<script>alert('x')</script> & <b>bold</b> \"q\""}"#,
            r#"{"t_us":2000000,"source":"host","kind":"espota.error","text":"[ERROR]: No response from device <img src=x onerror=alert(1)>"}"#,
            r#"{"t_us":2100000,"source":"host","kind":"line","text":"a ``` fence and </details></table>"}"#,
        ],
    );
    let html = report(&t, "html");
    well_formed(&html).unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<b>bold"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt; &quot;q&quot;"));
    assert!(html.contains("&lt;/details&gt;&lt;/table&gt;"));
    let md = report(&t, "md");
    assert!(
        !md.contains("<img"),
        "HTML outside code blocks must be escaped: {md}"
    );
}

#[test]
fn the_password_never_appears() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Hunter2Sekrit";
    let lines = [
        format!(
            r#"{{"t_us":1000000,"source":"host","kind":"line","text":"python3 espota.py -i 192.168.1.5 -p 8266 -a {secret} -f fw.bin"}}"#
        ),
        format!(
            r#"{{"t_us":1100000,"source":"host","kind":"line","text":"upload_flags = --auth={secret}"}}"#
        ),
        format!(
            r#"{{"t_us":1200000,"source":"host","kind":"espota.options","text":"[DEBUG]: Options: {{'esp_ip': '192.168.1.5', 'auth': '{secret}', 'esp_port': 8266}}","fields":{{"auth":"{secret}","esp_ip":"192.168.1.5","password":"{secret}"}}}}"#
        ),
        r#"{"t_us":2000000,"source":"host","kind":"espota.auth","text":"Authenticating...FAIL"}"#.to_string(),
        r#"{"t_us":2000100,"source":"host","kind":"espota.error","text":"[ERROR]: Authentication Failed"}"#.to_string(),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let t = write_trace(&dir, &refs);
    for f in ["md", "html"] {
        let out = report(&t, f);
        assert!(!out.contains(secret), "{f} leaks the password:\n{out}");
        if f == "html" {
            assert!(
                out.contains("***"),
                "the full timeline shows the redacted lines"
            );
        }
    }
}

#[test]
fn output_file_and_format_from_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let t = example_trace(&dir);
    let out = dir.path().join("r.html");
    let o = run(&[
        "report",
        &t.display().to_string(),
        "--output",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    well_formed(&html).unwrap();
}

#[test]
fn bad_traces_give_a_clear_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, b"\x00\xff\xfe not json at all\n{\"t_us\":").unwrap();
    let missing = dir.path().join("missing.jsonl");
    let unwritable = dir.path().join("no/such/dir/r.md");
    let ex = example_trace(&dir);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![empty.display().to_string()],
            "not a usable ota-doctor trace",
        ),
        (
            vec![garbage.display().to_string()],
            "not a usable ota-doctor trace",
        ),
        (vec![missing.display().to_string()], "cannot read trace"),
        (
            vec![
                ex.display().to_string(),
                "--output".into(),
                unwritable.display().to_string(),
            ],
            "cannot write report",
        ),
    ];
    for (args, msg) in cases {
        let mut a = vec!["report".to_string()];
        a.extend(args);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = run(&refs);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{refs:?}: {err}");
        assert!(
            err.contains(msg) && err.contains("hint:"),
            "{refs:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
