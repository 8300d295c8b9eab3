//! Command-line interface (design.md, "The user-facing contract").

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ota-doctor",
    version,
    about = "Finds out why an ESP8266/ESP32 OTA upload failed, and how to fix it."
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command: watch a device live (`--serial PORT --ip IP`).
    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Diagnose saved logs: the device's serial log, the uploader's output, a trace.
    Analyze(AnalyzeArgs),
    /// A simulated board and an upload against it, diagnosed: no hardware needed.
    Demo(crate::commands::demo::DemoArgs),
    /// Browse a recorded trace in the terminal UI.
    Replay {
        /// A trace written by --export.
        trace: PathBuf,
        #[command(flatten)]
        rules: RuleDirs,
    },
    /// Run your uploader (pio, espota.py, arduino-cli) and diagnose the upload it does.
    Run(RunArgs),
    /// Write, check and test rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Upload an image like espota.py does, reporting every step.
    Upload(UploadCmd),
    /// A shareable report of a trace: Markdown for a forum post, or an HTML page.
    Report(ReportArgs),
    /// A simulated ESP8266/ESP32 running ArduinoOTA (for demos and tests).
    #[command(hide = true)]
    Sim(crate::sim::SimArgs),
    /// Debugging: run the live sources alone and print what they deliver.
    #[command(hide = true)]
    Capture(crate::capture::CaptureArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// The device's serial output, saved to a file (any monitor; timestamps help).
    #[arg(long, value_name = "FILE")]
    pub serial_log: Option<PathBuf>,
    /// The uploader's output (espota.py, PlatformIO, Arduino IDE, ESPHome).
    #[arg(long, value_name = "FILE")]
    pub host_log: Option<PathBuf>,
    /// A packet capture of the upload (pcap or pcapng, e.g. from tcpdump or Wireshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// A trace recorded by ota-doctor (JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The OTA password, to check whether the uploader in --pcap used the right one.
    /// It is only used for that check and never printed or exported.
    #[arg(long, value_name = "PASSWORD", value_parser = password)]
    pub auth: Option<crate::decode::net::auth::Password>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the merged timeline and the findings as a trace (JSON Lines).
    #[arg(long, value_name = "FILE.jsonl")]
    pub export: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleDirs,
}

#[derive(Args, Debug, Default)]
pub struct RuleDirs {
    /// Extra rule files or directories of *.toml rules (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// List the loaded rules.
    List(RuleDirs),
    /// Debugging and benchmarks: the patterns each serial line is tested with before it
    /// is decoded (recognisers and rule regexes), one per line.
    #[command(hide = true)]
    Patterns {
        /// As POSIX extended regexes for `grep -E -f`; the ones that have no ERE form
        /// are named on stderr.
        #[arg(long)]
        grep: bool,
        #[command(flatten)]
        rules: RuleDirs,
    },
    /// Check rule files; errors name file, line and field. With PATHS, checks only those.
    Check {
        paths: Vec<PathBuf>,
        #[command(flatten)]
        rules: RuleDirs,
    },
    /// Run the examples embedded in the rule files.
    Test {
        paths: Vec<PathBuf>,
        /// Only this rule id.
        #[arg(long)]
        filter: Option<String>,
        #[command(flatten)]
        rules: RuleDirs,
    },
    /// Explain one rule in words: what it matches, why, and the fix.
    Explain {
        id: String,
        #[command(flatten)]
        rules: RuleDirs,
    },
}

/// What to watch during a live run. Either of `--serial`/`--ip` may be left out.
#[derive(Args, Debug)]
pub struct LiveArgs {
    /// The device's serial port (e.g. /dev/ttyUSB0). Opening it does not reset the board.
    #[arg(long, value_name = "PORT")]
    pub serial: Option<String>,
    /// The device's IP address: its OTA traffic is captured live.
    #[arg(long, value_name = "IP")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// Capture on this interface (default: the one that routes to --ip).
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    #[arg(long, default_value_t = 115200, value_name = "N")]
    pub baud: u32,
    /// The device's OTA port, if the sketch changed it (default 8266 / 3232).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Write the trace (JSON Lines) continuously to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub export: Option<std::path::PathBuf>,
    /// Print timeline lines and the findings instead of the terminal UI.
    #[arg(long)]
    pub no_tui: bool,
    /// Stop by itself after this long (e.g. 30s, 2m).
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Let the `r` key in the terminal UI reset the board through RTS/DTR (off by
    /// default: watching never resets the board by itself).
    #[arg(long)]
    pub reset_key: bool,
    /// The OTA password: tells whether the uploader sent the right one. Never shown.
    #[arg(long, value_name = "PASSWORD", value_parser = password)]
    pub auth: Option<crate::decode::net::auth::Password>,
    /// The final summary's format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Plain log lines held in memory (diagnosis events: half as many more); older
    /// ones are let go, the --export trace keeps everything.
    #[arg(long, value_name = "N", default_value_t = crate::session::Window::DEFAULT_LINES)]
    pub window: usize,
    #[command(flatten)]
    pub rules: RuleDirs,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub live: LiveArgs,
    /// The uploader command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

/// `30s`, `2m`, `1h`, `500ms` or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 30s, 2m, 500ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use ms, s, m or h")),
    };
    if !(0.0..=7.0 * 86400.0).contains(&secs) {
        return Err(format!("`{s}` is out of range (0 to 7 days)"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Wraps the password at once so that no Debug print of the arguments can show it.
fn password(s: &str) -> Result<crate::decode::net::auth::Password, String> {
    Ok(crate::decode::net::auth::Password::new(s))
}

#[derive(Args, Debug)]
pub struct UploadCmd {
    #[command(flatten)]
    pub up: crate::upload::UploadArgs,
    /// Show the upload in the terminal UI instead of lines.
    #[arg(long)]
    pub tui: bool,
    /// Capture on this interface (default: the one that routes to the device).
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    /// Write the trace (JSON Lines) continuously to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub export: Option<std::path::PathBuf>,
    /// The final summary's format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub rules: RuleDirs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A trace written with --export (JSON Lines).
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    /// md: to paste into a forum post or an issue; html: one page with a timeline
    /// picture. Default: from the --output extension (.html/.htm), else md.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ReportFormat>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleDirs,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
}
