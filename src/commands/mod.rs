//! Command implementations: the I/O shell around the pure pipeline.

use crate::analysis;
use crate::cli::{AnalyzeArgs, Cli, Command, Format, RuleDirs, RulesCommand};
use crate::decode::decode_log;
use crate::error::{UserError, read_input};
use crate::event::Source;
use crate::export::trace;
use crate::rules::{RuleSet, example};
use crate::sinks::{json, text};
use crate::timeline::{Builder, Timeline};
use std::io::Write;

pub mod demo;
mod live;
mod sources;

pub fn run(cli: Cli) -> Result<i32, UserError> {
    match cli.command {
        None => live::monitor(&cli.live),
        Some(Command::Analyze(a)) => analyze(&a),
        Some(Command::Run(r)) => live::run(&r),
        Some(Command::Demo(d)) => demo::run(&d),
        Some(Command::Replay { trace, rules }) => replay(&trace, &rules),
        Some(Command::Rules(r)) => rules(r),
        Some(Command::Capture(a)) => crate::capture::run(&a),
        Some(Command::Upload(u)) => live::upload(u),
        Some(Command::Sim(s)) => crate::sim::run_cli(&s),
        Some(Command::Report(r)) => crate::sinks::report::run(&r),
    }
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Built-in rules plus the user's directories. Broken user rules stop the run: a rule
/// the user believes is active must not silently be missing.
pub fn load_rules(dirs: &RuleDirs) -> Result<RuleSet, UserError> {
    let mut set = RuleSet::builtin();
    for d in &dirs.dirs {
        let errs = set.load_path(d).map_err(|e| {
            UserError::new(format!("cannot read rules from `{}`: {e}", d.display()))
                .hint("--rules takes a directory of *.toml rule files or one rule file")
        })?;
        if !errs.0.is_empty() {
            return Err(
                UserError::new(format!("rule files have errors:\n{errs}")).hint(format!(
                    "run `ota-doctor rules check {}` while editing",
                    d.display()
                )),
            );
        }
    }
    Ok(set)
}

fn analyze(a: &AnalyzeArgs) -> Result<i32, UserError> {
    if a.serial_log.is_none() && a.host_log.is_none() && a.trace.is_none() && a.pcap.is_none() {
        return Err(UserError::new("nothing to analyze").hint(
            "give at least one of --serial-log FILE, --host-log FILE, --pcap FILE, --trace FILE",
        ));
    }
    let set = load_rules(&a.rules)?;
    let mut b = Builder::new();
    let mut labels = text::Labels::default();
    let mut notes = Vec::new();
    let mut lines = 0;
    for (path, source) in [(&a.serial_log, Source::Serial), (&a.host_log, Source::Host)] {
        let Some(p) = path else { continue };
        let log = read_log(p, source, &set, a.export.is_some(), &mut notes)?;
        lines += log.lines();
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match source {
            Source::Serial => labels.serial = Some(name),
            _ => labels.host = Some(name),
        }
        b.log(source, log);
    }
    if let Some(p) = &a.pcap {
        let file = crate::error::open_input(p, "capture")?;
        let opts = crate::decode::net::Options {
            password: a.auth.clone(),
        };
        let (log, packets) =
            crate::decode::net::decode_stream(file, &opts).map_err(|e| capture_error(p, e))?;
        notes.extend(
            log.notes
                .iter()
                .map(|n| format!("In `{}`: {n}.", p.display())),
        );
        if log.events.is_empty() {
            notes.push(format!(
                "`{}`: {packets} IPv4 packet(s), none of them ArduinoOTA traffic.",
                p.display()
            ));
        }
        lines += packets;
        b.packets(packets);
        labels.net = p.file_name().map(|n| n.to_string_lossy().into_owned());
        b.log(Source::Net, log);
    }
    if let Some(p) = &a.trace {
        let events = read_trace(p, &mut notes)?;
        lines += events.len();
        b.events(events);
    }
    if lines == 0 {
        return Err(UserError::new("the inputs contain no text lines to analyse")
            .hint("check that you saved the right output (the uploader's messages, the device's serial output) and that the files are not empty"));
    }
    let tl = b.build();
    // For bench/log.sh: how much of the input is held in memory.
    if std::env::var_os("OTA_DOCTOR_STATS").is_some() {
        eprintln!(
            "stats: {lines} lines/packets read, {} events held",
            tl.events.len()
        );
    }
    let mut report = analysis::analyze(&set, &tl);
    report.notes.extend(notes);
    if let Some(path) = &a.export {
        export_trace(path, &tl, &report)?;
    }
    print_report(&report, &tl, &labels, a.format);
    Ok(0)
}

fn capture_error(p: &std::path::Path, e: crate::decode::net::pcap::PcapError) -> UserError {
    let base = UserError::new(format!("cannot read capture `{}`: {e}", p.display()));
    match e {
        crate::decode::net::pcap::PcapError::NotACapture => {
            base.hint("give a .pcap or .pcapng file (tcpdump -w, Wireshark 'Save As')")
        }
        crate::decode::net::pcap::PcapError::Io(_) => {
            base.hint("check that the file is on a working disk and not being replaced; copy it somewhere local and try again")
        }
    }
}

pub fn print_report(report: &analysis::Report, tl: &Timeline, labels: &text::Labels, f: Format) {
    match f {
        Format::Text => out(&text::render(report, tl, labels)),
        Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json::render(report, tl)).unwrap_or_default()
        )),
    }
}

fn replay(path: &std::path::Path, dirs: &RuleDirs) -> Result<i32, UserError> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Err(UserError::new(
            "replay shows the terminal UI, but the output is not a terminal",
        )
        .hint(format!(
            "for a printed diagnosis use `ota-doctor analyze --trace {}`",
            path.display()
        )));
    }
    let mut notes = Vec::new();
    let events = read_trace(path, &mut notes)?;
    let mut info = crate::tui::SourcesInfo::new();
    info.rules = load_rules(dirs)?;
    info.snapshot = path.with_extension("snapshot.jsonl");
    crate::tui::replay(events, info).map_err(|e| {
        UserError::new(format!("the terminal UI failed: {e}"))
            .hint("try `ota-doctor analyze --trace` instead")
    })?;
    Ok(0)
}

fn what(source: Source) -> &'static str {
    if source == Source::Serial {
        "serial log"
    } else {
        "uploader log"
    }
}

/// Reads and decodes one log file, noting anything odd about it. A serial log is read
/// in one pass and keeps only what `set` can use, unless every line is to be exported.
fn read_log(
    p: &std::path::Path,
    source: Source,
    set: &RuleSet,
    keep_all: bool,
    notes: &mut Vec<String>,
) -> Result<crate::decode::DecodedLog, UserError> {
    let log = if source == Source::Serial {
        stream_serial(p, set, keep_all)?
    } else {
        decode_log(source, &read_input(p, what(source))?)
    };
    let empty = log.lines() == 0 && std::fs::metadata(p).is_ok_and(|m| m.len() == 0);
    let shown = p.display();
    if empty {
        notes.push(format!("The {} `{shown}` is empty.", what(source)));
    }
    notes.extend(log.notes.iter().map(|n| format!("In `{shown}`: {n}.")));
    if log.cut_lines > 0 {
        notes.push(format!(
            "{} over-long line(s) in `{shown}` were split.",
            log.cut_lines
        ));
    }
    notes.extend(input_check(&log, source).map(|n| format!("`{shown}` {n}")));
    Ok(log)
}

fn stream_serial(
    p: &std::path::Path,
    set: &RuleSet,
    keep_all: bool,
) -> Result<crate::decode::DecodedLog, UserError> {
    let file = crate::error::open_input(p, what(Source::Serial))?;
    let fail = |e: std::io::Error| crate::error::input_error(p, what(Source::Serial), e);
    let interest = crate::rules::interest::Interest::for_serial(set);
    let budget = if keep_all {
        usize::MAX
    } else {
        crate::decode::stream::PLAIN_BUDGET
    };
    crate::decode::stream::decode_serial(file, &interest, budget).map_err(fail)
}

/// Catches a log given with the wrong option, or a file that is not a log at all.
fn input_check(log: &crate::decode::DecodedLog, source: Source) -> Option<String> {
    let n = log.lines();
    let garbage = log.count_kind("garbage");
    if source == Source::Host && n > 0 && garbage * 2 > n {
        return Some("is mostly unreadable bytes: it does not look like uploader output (a binary file, or a serial capture at the wrong baud rate?).".into());
    }
    let looks = |re: &str| {
        let re = regex::Regex::new(re).expect("fixed pattern");
        log.events.iter().filter(|e| re.is_match(&e.text)).count()
    };
    let recognised = log
        .events
        .iter()
        .filter(|e| e.kind != "line" && e.kind != "garbage")
        .count()
        + log.unheld.get("log").copied().unwrap_or(0);
    if source == Source::Serial
        && recognised == 0
        && looks(crate::rules::interest::LOOKS_LIKE_UPLOADER) >= 2
    {
        return Some(
            "looks like uploader output, not a device log: did you mean --host-log?".into(),
        );
    }
    if source == Source::Host
        && recognised == 0
        && looks(crate::rules::interest::LOOKS_LIKE_DEVICE) >= 2
    {
        return Some(
            "looks like a device's serial output, not uploader output: did you mean --serial-log?"
                .into(),
        );
    }
    None
}

/// Reads a trace for analysis; `report` uses it too, so both see the same timeline.
pub(crate) fn read_trace(
    p: &std::path::Path,
    notes: &mut Vec<String>,
) -> Result<Vec<crate::event::Event>, UserError> {
    // Streamed, not read whole: a damaged trace can be any size.
    let file = crate::error::open_input(p, "trace")?;
    let t = trace::read(std::io::BufReader::new(file))
        .map_err(|e| UserError::new(format!("cannot read trace `{}`: {e}", p.display())))?;
    if t.events.is_empty() {
        let first_skip = t
            .skipped
            .first()
            .map(|(line, why)| format!("line {line}: {why}"));
        let why = t
            .damaged
            .clone()
            .or(first_skip)
            .unwrap_or("it has no events".to_string());
        return Err(UserError::new(format!("`{}` is not a usable ota-doctor trace: {why}", p.display()))
            .hint("traces are JSON Lines written by ota-doctor --export; pass plain logs with --serial-log / --host-log"));
    }
    if let Some(why) = &t.damaged {
        notes.push(format!("In the trace `{}`: {why}.", p.display()));
    }
    if !t.skipped.is_empty() {
        notes.push(format!(
            "{} unreadable line(s) in the trace were skipped (first: line {}).",
            t.skipped_total, t.skipped[0].0
        ));
    }
    Ok(t.events)
}

/// Writes the timeline and the findings; the findings are stamped at the end of the
/// timeline so a replay shows them where the diagnosis was made.
/// A finding as a trace line: read back, it is shown but never fed to the rules again.
pub(crate) fn finding_event(tl: &Timeline, f: &analysis::Finding) -> crate::event::Event {
    crate::event::Event {
        t_us: tl.end_us,
        line: 0,
        ..crate::event::Event::new(
            Source::Finding,
            "finding",
            format!("{}: {}", f.cause, f.message),
        )
        .with("rule", f.rule.as_str())
        .with("cause", f.cause.as_str())
    }
}

fn export_trace(
    path: &std::path::Path,
    tl: &crate::timeline::Timeline,
    report: &analysis::Report,
) -> Result<(), UserError> {
    if path.is_dir() {
        return Err(UserError::new(format!(
            "cannot write trace `{}`: it is a directory",
            path.display()
        ))
        .hint("give a file name, e.g. --export session.jsonl"));
    }
    let fail = |e: std::io::Error| {
        UserError::new(format!("cannot write trace `{}`: {e}", path.display()))
            .hint("check that the directory exists and has free space")
    };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut w = std::io::BufWriter::new(file);
    trace::write_header(&mut w).map_err(fail)?;
    for e in &tl.events {
        trace::write_event(&mut w, e).map_err(fail)?;
    }
    for f in &report.findings {
        trace::write_event(&mut w, &finding_event(tl, f)).map_err(fail)?;
    }
    w.flush().map_err(fail)
}

fn rules(cmd: RulesCommand) -> Result<i32, UserError> {
    match cmd {
        RulesCommand::List(dirs) => {
            let set = load_rules(&dirs)?;
            let mut s = format!(
                "{:<10} {:<34} {:<8} {:<18} {}\n",
                "ID", "CAUSE", "SEVERITY", "SOURCES", "TITLE"
            );
            for r in &set.rules {
                let mut srcs: Vec<&str> = r.sels.iter().map(|x| x.source.name()).collect();
                srcs.sort_unstable();
                srcs.dedup();
                s.push_str(&format!(
                    "{:<10} {:<34} {:<8} {:<18} {}\n",
                    r.id,
                    r.cause,
                    r.severity.name(),
                    srcs.join(","),
                    r.title
                ));
            }
            s.push_str(&format!("{} rules\n", set.rules.len()));
            out(&s);
            Ok(0)
        }
        RulesCommand::Check { paths, rules } => check(&paths, &rules),
        RulesCommand::Patterns { grep, rules } => patterns(grep, &rules),
        RulesCommand::Test {
            paths,
            filter,
            rules,
        } => test(&paths, filter.as_deref(), &rules),
        RulesCommand::Explain { id, rules } => {
            let set = load_rules(&rules)?;
            let r = set.get(&id).ok_or_else(|| {
                UserError::new(format!("no rule `{id}`"))
                    .hint("`ota-doctor rules list` shows the ids")
            })?;
            out(&explain(r));
            Ok(0)
        }
    }
}

/// The serial prefilter's patterns; `--grep` gives them in ERE for the benchmark's peer.
fn patterns(grep: bool, dirs: &RuleDirs) -> Result<i32, UserError> {
    let set = load_rules(dirs)?;
    let interest = crate::rules::interest::Interest::for_serial(&set);
    if let Some(why) = &interest.opaque {
        eprintln!("note: lines are not prefiltered at all: {why}");
    }
    let mut s = String::new();
    let mut missing = 0;
    for p in interest.patterns() {
        match (grep, crate::rules::ere::to_ere(p)) {
            (false, _) => s.push_str(&format!("{p}\n")),
            (true, Ok(e)) => s.push_str(&format!("{e}\n")),
            (true, Err(why)) => {
                missing += 1;
                eprintln!("not expressible in ERE ({why}): {p}");
            }
        }
    }
    out(&s);
    if missing > 0 {
        eprintln!("{missing} pattern(s) left out of the ERE list");
    }
    Ok(0)
}

/// Loads the given paths (or built-ins + --rules dirs) and reports every problem.
fn collect(
    paths: &[std::path::PathBuf],
    dirs: &RuleDirs,
) -> Result<(RuleSet, Vec<crate::rules::Diagnostic>), UserError> {
    let mut set = RuleSet::default();
    let mut diags = Vec::new();
    if paths.is_empty() {
        let errs = set.add_sources(
            RuleSet::builtin_sources()
                .iter()
                .map(|(n, s)| (format!("builtin:{n}"), s.to_string())),
        );
        diags.extend(errs.0);
    }
    for p in paths.iter().chain(&dirs.dirs) {
        let errs = set.load_path(p).map_err(|e| {
            UserError::new(format!("cannot read `{}`: {e}", p.display()))
                .hint("give rule files or directories of *.toml files")
        })?;
        diags.extend(errs.0);
    }
    Ok((set, diags))
}

fn check(paths: &[std::path::PathBuf], dirs: &RuleDirs) -> Result<i32, UserError> {
    let (set, mut diags) = collect(paths, dirs)?;
    diags.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    let mut s = String::new();
    for d in &diags {
        s.push_str(&format!("{d}\n"));
    }
    let bad_examples = example_syntax(&set);
    for e in &bad_examples {
        s.push_str(&format!("{e}\n"));
    }
    let errors = diags.len() + bad_examples.len();
    s.push_str(&format!(
        "checked {} rule(s): {errors} error(s)\n",
        set.rules.len()
    ));
    out(&s);
    Ok(if errors == 0 { 0 } else { 1 })
}

/// Example event lines must parse; `rules check` says where they do not.
fn example_syntax(set: &RuleSet) -> Vec<String> {
    let mut v = Vec::new();
    for r in &set.rules {
        for ex in &r.examples {
            for (i, l) in ex.events.iter().enumerate() {
                if let Err(m) = example::parse_event(l) {
                    v.push(format!(
                        "{}:{}:1: error in `example \"{}\"` event {}: {m}",
                        r.origin,
                        ex.line,
                        ex.name,
                        i + 1
                    ));
                }
            }
        }
        if r.examples.iter().all(|e| !e.expect_match) {
            v.push(format!("{}:1:1: error in `example`: rule {} has no example with expect = \"match\"\n  hint: every rule needs at least one example that shows it firing", r.origin, r.id));
        }
    }
    v
}

fn test(
    paths: &[std::path::PathBuf],
    filter: Option<&str>,
    dirs: &RuleDirs,
) -> Result<i32, UserError> {
    let (mut set, diags) = collect(paths, dirs)?;
    if !diags.is_empty() {
        let list: Vec<String> = diags.iter().map(ToString::to_string).collect();
        return Err(
            UserError::new(format!("rule files have errors:\n{}", list.join("\n")))
                .hint("fix them first: `ota-doctor rules check`"),
        );
    }
    if let Some(f) = filter
        && set.get(f).is_none()
    {
        return Err(
            UserError::new(format!("no rule `{f}` among the rules tested"))
                .hint("`ota-doctor rules list` shows the ids"),
        );
    }
    // Examples of user rules run against the built-ins too, so overlaps show up; only
    // the user's own examples are reported.
    let mine: Vec<String> = set.rules.iter().map(|r| r.id.clone()).collect();
    if !paths.is_empty() {
        let mut all = RuleSet::builtin();
        all.rules.retain(|r| !mine.contains(&r.id));
        all.rules.append(&mut set.rules);
        set = all;
    }
    let mut results = example::run_all(&set, filter);
    results.retain(|r| mine.contains(&r.rule));
    let (mut pass, mut fail) = (0, 0);
    let mut s = String::new();
    for r in &results {
        if r.passed {
            pass += 1;
            s.push_str(&format!("PASS {} {}\n", r.rule, r.example));
        } else {
            fail += 1;
            s.push_str(&format!(
                "FAIL {} {} ({}:{})\n     {}\n",
                r.rule, r.example, r.origin, r.line, r.detail
            ));
        }
    }
    s.push_str(&format!("{pass} passed, {fail} failed\n"));
    out(&s);
    Ok(if fail == 0 && pass > 0 { 0 } else { 1 })
}

fn explain(r: &crate::rules::Rule) -> String {
    let mut s = format!(
        "{} — {}\ncause: {}   severity: {}\nfrom: {}\n",
        r.id,
        r.title,
        r.cause,
        r.severity.name(),
        r.origin
    );
    if !r.chips.is_empty() {
        s.push_str(&format!("only for: {}\n", r.chips.join(", ")));
    }
    s.push_str("\nFires when:\n");
    for (i, b) in r.branches.iter().enumerate() {
        let steps: Vec<String> = b.steps.iter().map(|st| step_words(r, st)).collect();
        s.push_str(&format!(
            "  {}. {} (confidence {:.2})\n",
            i + 1,
            steps.join(", then "),
            b.confidence
        ));
        for (label, list) in [
            ("unless anywhere", &b.unless),
            ("unless afterwards", &b.unless_after),
            ("cancelled by", &b.until),
        ] {
            if !list.is_empty() {
                let names: Vec<String> = list.iter().map(|&x| sel_words(&r.sels[x])).collect();
                s.push_str(&format!("     {label}: {}\n", names.join(" or ")));
            }
        }
    }
    s.push_str(&format!("\nWhy:\n{}\n", r.explanation.trim()));
    if !r.fix.is_empty() {
        s.push_str("\nFix:\n");
        for (i, f) in r.fix.iter().enumerate() {
            s.push_str(&format!("  {}. {f}\n", i + 1));
        }
    }
    if let Some(d) = &r.decide {
        s.push_str(&format!("\nTo decide: {d}\n"));
    }
    for u in &r.references {
        s.push_str(&format!("see: {u}\n"));
    }
    s
}

fn step_words(r: &crate::rules::Rule, st: &crate::rules::model::Step) -> String {
    use crate::rules::model::Step;
    match st {
        Step::Match { sel, count: 1 } => sel_words(&r.sels[*sel]),
        Step::Match { sel, count } => format!("{count} × {}", sel_words(&r.sels[*sel])),
        Step::Any(a) => {
            let alts: Vec<String> = a.iter().map(|(x, _)| sel_words(&r.sels[*x])).collect();
            format!("any of ({})", alts.join(" | "))
        }
        Step::Absent {
            sels,
            for_us,
            meanwhile,
        } => {
            let names: Vec<String> = sels.iter().map(|&x| sel_words(&r.sels[x])).collect();
            let mut w = format!("no {} for {}s", names.join(" or "), *for_us as f64 / 1e6);
            if let Some(m) = meanwhile {
                w.push_str(&format!(" while {}", sel_words(&r.sels[*m])));
            }
            w
        }
    }
}

fn sel_words(s: &crate::rules::model::Sel) -> String {
    let mut w = format!("{} {}", s.source, s.kind.as_deref().unwrap_or("event"));
    if let Some(re) = &s.regex {
        w.push_str(&format!(" matching /{}/", re.as_str()));
    }
    for c in &s.conds {
        w.push_str(&format!(" [{} {:?}]", c.field, c.op).to_lowercase());
    }
    w
}
