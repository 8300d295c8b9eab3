//! Command-line interface (design.md, "The user-facing contract").

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ota-doctor",
    version,
    about = "Finds out why an ESP8266/ESP32 OTA upload failed, and how to fix it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Diagnose saved logs: the device's serial log, the uploader's output, a trace.
    Analyze(AnalyzeArgs),
    /// Write, check and test rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Upload an image like espota.py does, reporting every step.
    Upload(crate::upload::UploadArgs),
    /// A simulated ESP8266/ESP32 running ArduinoOTA (for demos and tests).
    #[command(hide = true)]
    Sim(crate::sim::SimArgs),
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
