//! An espota-compatible uploader that reports its own steps as host-log lines.
//!
//! It speaks the protocol of espota.py (docs/protocol.md §1–2) and words every step as
//! espota.py does, so the same recogniser reads our output and the real tool's. Unlike
//! espota.py, every wait (accept and result included) is bounded by `--timeout`, and the
//! password never appears in a line.

mod invite;
mod log;
mod outcome;
mod transfer;

pub use outcome::Outcome;

use crate::error::UserError;
use clap::{Args, ValueEnum};
use log::Log;
use md5::{Digest, Md5};
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// Which espota.py to behave like: they differ in retries, chunk size and wording.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Tool {
    /// esp8266/Arduino tools/espota.py: one invitation, 1460-byte chunks, `Result: OK`.
    Esp8266,
    /// arduino-esp32 tools/espota.py (≤3.3.0): up to 10 invitations, 1024-byte chunks,
    /// `Success`.
    Esp32,
}

#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    /// ESP IP address (or host name).
    #[arg(short = 'i', long = "ip")]
    pub ip: String,
    /// Host IP address to listen on for the device's connection.
    #[arg(
        short = 'I',
        long = "host_ip",
        alias = "host-ip",
        default_value = "0.0.0.0"
    )]
    pub host_ip: IpAddr,
    /// ESP OTA port.
    #[arg(short = 'p', long = "port", default_value_t = 8266)]
    pub port: u16,
    /// Host TCP port for the device's connection (default: random 10000–60000).
    #[arg(short = 'P', long = "host_port", alias = "host-port")]
    pub host_port: Option<u16>,
    /// OTA password.
    #[arg(
        short = 'a',
        long = "auth",
        default_value = "",
        hide_default_value = true
    )]
    pub auth: String,
    /// Image to upload.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Upload a filesystem image (command 100) instead of a sketch.
    #[arg(short = 's', long = "spiffs")]
    pub spiffs: bool,
    /// Show a progress bar.
    #[arg(short = 'r', long = "progress")]
    pub progress: bool,
    /// Seconds to wait for each answer (invitation, device connection, acknowledgement).
    #[arg(short = 't', long = "timeout", default_value_t = 10.0)]
    pub timeout: f64,
    /// Show INFO and DEBUG lines.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Behave like this espota.py (default: esp32 for port 3232, else esp8266).
    #[arg(long, value_enum)]
    pub tool: Option<Tool>,
    /// The device's serial port, captured alongside the upload.
    #[arg(long, value_name = "PORT")]
    pub serial: Option<String>,
    #[arg(long, value_name = "N", default_value_t = 115200)]
    pub baud: u32,
}

impl UploadArgs {
    pub fn tool(&self) -> Tool {
        self.tool.unwrap_or(if self.port == 3232 {
            Tool::Esp32
        } else {
            Tool::Esp8266
        })
    }

    fn wait(&self) -> Result<Duration, UserError> {
        Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                UserError::new(format!(
                    "--timeout {} is not a positive number of seconds",
                    self.timeout
                ))
                .hint("espota waits 10 s; give e.g. -t 10")
            })
    }
}

/// The image as espota.py sees it.
pub struct Image {
    pub path: String,
    pub data: Vec<u8>,
    pub md5: String,
}

fn load_image(args: &UploadArgs) -> Result<Image, UserError> {
    let data = std::fs::read(&args.file).map_err(|e| {
        UserError::new(format!("cannot read image `{}`: {e}", args.file.display()))
            .hint("give -f/--file the .bin the build produced (Arduino: Sketch > Export compiled binary; PlatformIO: .pio/build/<env>/firmware.bin)")
    })?;
    if data.is_empty() {
        return Err(
            UserError::new(format!("image `{}` is empty", args.file.display())).hint(
                "give the .bin the build produced (Arduino: Sketch > Export compiled binary)",
            ),
        );
    }
    Ok(Image {
        path: args.file.display().to_string(),
        md5: format!("{:x}", Md5::digest(&data)),
        data,
    })
}

/// Uploads `args.file`, reporting each step as espota.py words it. Bad input is an
/// error; anything the device or network did is an [`Outcome`].
pub fn upload(args: &UploadArgs, report: &mut dyn FnMut(&str)) -> Result<Outcome, UserError> {
    let wait = args.wait()?;
    let image = load_image(args)?;
    let host_port = args.host_port.unwrap_or_else(random_port);
    let mut log = Log::new(report, args.tool());
    log.debug(&options_line(args, host_port));
    log.info(&format!("Starting on {}:{}", args.host_ip, host_port));
    let listener = match TcpListener::bind((args.host_ip, host_port)) {
        Ok(l) => l,
        Err(e) => return Ok(listen_failed(&mut log, e)),
    };
    log.info(&format!("Upload size: {}", image.data.len()));
    let Some(device) = resolve(&args.ip, args.port) else {
        log.error(&format!("Host {} Not Found", args.ip));
        return Ok(Outcome::HostNotFound);
    };
    let inv = invite::Invite {
        args,
        image: &image,
        device,
        host_port,
        wait,
    };
    if let Err(o) = inv.run(&mut log) {
        return Ok(o);
    }
    Ok(transfer::run(&mut log, args, &image, &listener, wait))
}

fn listen_failed(log: &mut Log, e: std::io::Error) -> Outcome {
    match log.tool {
        Tool::Esp8266 => log.error("Listen Failed"),
        Tool::Esp32 => log.error(&format!("Listen Failed: {}", log::py_error(&e))),
    }
    Outcome::ListenFailed(e.to_string())
}

fn resolve(ip: &str, port: u16) -> Option<SocketAddr> {
    let addrs: Vec<SocketAddr> = (ip, port).to_socket_addrs().ok()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
}

/// espota picks `random.randint(10000, 60000)`; no RNG crate is needed for that.
fn random_port() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix = nanos ^ std::process::id().rotate_left(16);
    10000 + (mix % 50001) as u16
}

/// espota's `Options:` debug line, with the password shown as `***`.
fn options_line(a: &UploadArgs, host_port: u16) -> String {
    let py = |b: bool| if b { "True" } else { "False" };
    let auth = if a.auth.is_empty() { "" } else { "***" };
    // Only the ESP32 espota.py has --timeout, so only its Options line shows one.
    let timeout = match a.tool() {
        Tool::Esp32 => format!(", 'timeout': {}", a.timeout),
        Tool::Esp8266 => String::new(),
    };
    format!(
        "Options: {{'esp_ip': '{}', 'host_ip': '{}', 'esp_port': {}, 'host_port': {host_port}, 'auth': '{auth}', 'image': '{}', 'spiffs': {}, 'debug': {}, 'progress': {}{timeout}}}",
        a.ip,
        a.host_ip,
        a.port,
        a.file.display(),
        py(a.spiffs),
        py(a.debug),
        py(a.progress),
    )
}

/// `ota-doctor upload`: uploads and prints espota's lines (INFO/DEBUG only with -d),
/// then the outcome. The exit code is espota's: 0 success, 1 failure.
pub fn run_cli(args: &UploadArgs) -> Result<i32, UserError> {
    let debug = args.debug;
    let outcome = upload(args, &mut |line: &str| {
        if debug || !(line.contains(" [INFO]: ") || line.contains(" [DEBUG]: ")) {
            eprintln!("{line}");
        }
    })?;
    println!("outcome: {} ({})", outcome.id(), outcome.describe());
    Ok(outcome.exit_code())
}
