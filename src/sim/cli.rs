//! `ota-doctor sim`: the simulated board as a process, for demos and for tests that put
//! it in its own network namespace.

use super::{Chip, Esp8266Core, Scenario, SerialTarget, SimConfig, start};
use crate::error::UserError;
use clap::Args;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    #[arg(long, value_enum, default_value_t = Chip::Esp8266)]
    pub chip: Chip,
    /// Device behaviour, named after the cause it shows. `invalid_image` is a normal
    /// board: upload an image that does not start with 0xE9 to see its check.
    #[arg(long, value_enum, default_value_t = Scenario::Ok)]
    pub scenario: Scenario,
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// OTA UDP port (default: 8266 for esp8266, 3232 for esp32; 0 = any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Require this OTA password (legacy MD5 challenge).
    #[arg(long)]
    pub password: Option<String>,
    /// Also make PATH a symlink to the serial pseudo-terminal.
    #[arg(long, value_name = "PATH", conflicts_with = "serial_out")]
    pub serial_link: Option<PathBuf>,
    /// Write serial output to FILE (`-` = stdout) instead of a pseudo-terminal.
    #[arg(long, value_name = "FILE")]
    pub serial_out: Option<PathBuf>,
    /// Exit after N OTA sessions have ended.
    #[arg(long, value_name = "N")]
    pub exit_after: Option<usize>,
    /// Exit after SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// ESP8266 core generation (changes replies and error texts).
    #[arg(long, value_enum, default_value_t = Esp8266Core::V3_1)]
    pub core: Esp8266Core,
    /// Seconds the radio stays quiet in weak_wifi_or_packet_loss (ESP8266).
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub stall: f64,
}

impl SimArgs {
    fn config(&self) -> Result<SimConfig, UserError> {
        let mut c = SimConfig::new(self.chip, self.scenario);
        c.bind = self.bind;
        c.port = self.port.unwrap_or(self.chip.default_port());
        c.password = self.password.clone().filter(|p| !p.is_empty());
        c.core = self.core;
        c.stall = seconds(self.stall, "--stall")?;
        c.serial = match (&self.serial_link, &self.serial_out) {
            (Some(l), _) => SerialTarget::PtyLinked(l.clone()),
            (None, Some(p)) if p.as_os_str() == "-" => SerialTarget::Stdout,
            (None, Some(p)) => SerialTarget::File(p.clone()),
            (None, None) => SerialTarget::Pty,
        };
        Ok(c)
    }
}

fn seconds(v: f64, what: &str) -> Result<Duration, UserError> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        UserError::new(format!("{what} {v} is not a duration")).hint(format!(
            "give {what} a number of seconds ≥ 0, e.g. {what} 5"
        ))
    })
}

/// Runs until SIGINT/SIGTERM, `--duration` or `--exit-after`. The first stdout line is
/// the serial port's path, so a test can read it before anything else happens.
pub fn run_cli(args: &SimArgs) -> Result<i32, UserError> {
    let cfg = args.config()?;
    let limit = args
        .duration
        .map(|d| seconds(d, "--duration"))
        .transpose()?;
    let sim = start(cfg)?;
    {
        let mut out = std::io::stdout().lock();
        if let Some(p) = sim.serial_path().filter(|_| args.serial_out.is_none()) {
            let _ = writeln!(out, "{}", p.display());
        }
        let _ = out.flush();
    }
    eprintln!(
        "sim: {} `{}` listening on udp {}",
        args.chip,
        args.scenario.name(),
        sim.local_addr()
    );
    wait_for_end(&sim, limit, args.exit_after)?;
    sim.stop();
    Ok(0)
}

fn wait_for_end(
    sim: &super::SimHandle,
    limit: Option<Duration>,
    exit_after: Option<usize>,
) -> Result<(), UserError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::new(format!("cannot start the signal handler: {e}")))?;
    let started = Instant::now();
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| UserError::new(format!("cannot watch SIGTERM: {e}")))?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = term.recv() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            let done = exit_after.is_some_and(|n| sim.sessions().len() >= n);
            if done || limit.is_some_and(|l| started.elapsed() >= l) {
                return Ok(());
            }
        }
    })
}
