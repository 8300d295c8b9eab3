//! `ota-doctor demo`: a simulated board on a loopback address of its own, its serial
//! log on a pseudo-terminal, and an upload against it, watched and diagnosed like a
//! real one. No hardware and no root needed (with root the packets are captured too).

use crate::cli::{Format, RuleDirs, UploadCmd};
use crate::error::UserError;
use crate::sim::{self, Chip, Scenario, SimConfig};
use crate::upload::UploadArgs;
use clap::{Args, ValueEnum};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// What the demo shows: a device behaviour, or an environment around a normal device.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum DemoScenario {
    Ok,
    WrongPort,
    BlockingLoop,
    AuthFailed,
    InsufficientSpace,
    FlashConfigMismatch,
    WrongPartitionScheme,
    InvalidImage,
    Md5Mismatch,
    WeakWifiOrPacketLoss,
    DeviceCrashDuringUpdate,
    MissingResetAfterSerialFlash,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The failure to show (named after its cause).
    #[arg(long, value_enum, default_value_t = DemoScenario::InsufficientSpace)]
    pub scenario: DemoScenario,
    #[arg(long, value_enum, default_value_t = Chip::Esp32)]
    pub chip: Chip,
    /// Write the trace (JSON Lines) to this file, and the packets next to it.
    #[arg(long, value_name = "FILE.jsonl")]
    pub export: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print lines instead of the terminal UI.
    #[arg(long)]
    pub no_tui: bool,
}

impl DemoScenario {
    fn device(self) -> Scenario {
        match self {
            DemoScenario::Ok | DemoScenario::WrongPort | DemoScenario::InvalidImage => Scenario::Ok,
            DemoScenario::BlockingLoop => Scenario::BlockingLoop,
            DemoScenario::AuthFailed => Scenario::AuthFailed,
            DemoScenario::InsufficientSpace => Scenario::InsufficientSpace,
            DemoScenario::FlashConfigMismatch => Scenario::FlashConfigMismatch,
            DemoScenario::WrongPartitionScheme => Scenario::WrongPartitionScheme,
            DemoScenario::Md5Mismatch => Scenario::Md5Mismatch,
            DemoScenario::WeakWifiOrPacketLoss => Scenario::WeakWifiOrPacketLoss,
            DemoScenario::DeviceCrashDuringUpdate => Scenario::DeviceCrashDuringUpdate,
            DemoScenario::MissingResetAfterSerialFlash => Scenario::MissingResetAfterSerialFlash,
        }
    }
}

pub fn run(d: &DemoArgs) -> Result<i32, UserError> {
    let chip = match d.scenario {
        // These two exist on one family only.
        DemoScenario::MissingResetAfterSerialFlash | DemoScenario::FlashConfigMismatch => {
            Chip::Esp8266
        }
        DemoScenario::WrongPartitionScheme => Chip::Esp32,
        _ => d.chip,
    };
    // An address of its own, so other loopback traffic stays out of the capture.
    let ip = Ipv4Addr::new(127, 77, (std::process::id() % 250) as u8 + 1, 2);
    let mut cfg = SimConfig::new(chip, d.scenario.device());
    cfg.bind = IpAddr::V4(ip);
    cfg.port = if chip == Chip::Esp32 { 3232 } else { 8266 };
    cfg.stall = std::time::Duration::from_secs(5);
    if d.scenario == DemoScenario::AuthFailed {
        cfg.password = Some("the-right-one".into());
    }
    let device = sim::start(cfg)?;
    let serial = device.serial_path().map(|p| p.display().to_string());
    let image = demo_image(d.scenario, chip)?;
    eprintln!(
        "ota-doctor demo: simulated {} at {ip}, serial on {}; uploading `{}` ({} scenario)",
        if chip == Chip::Esp32 {
            "ESP32"
        } else {
            "ESP8266"
        },
        serial.as_deref().unwrap_or("(none)"),
        image.path().display(),
        d.scenario
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string()),
    );
    let port = match d.scenario {
        DemoScenario::WrongPort => 8266 + 3232 - device.udp_port(),
        _ => device.udp_port(),
    };
    let cmd = UploadCmd {
        up: upload_args(ip, port, image.path().into(), serial, d.scenario),
        tui: !d.no_tui,
        iface: None,
        export: d.export.clone(),
        format: d.format,
        rules: RuleDirs::default(),
    };
    let code = super::live::upload(cmd);
    device.stop();
    // The demo ran whatever it found; its job is to show the diagnosis.
    code.map(|_| 0)
}

fn upload_args(
    ip: Ipv4Addr,
    port: u16,
    file: PathBuf,
    serial: Option<String>,
    s: DemoScenario,
) -> UploadArgs {
    UploadArgs {
        ip: ip.to_string(),
        host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port,
        host_port: None,
        auth: if s == DemoScenario::AuthFailed {
            "a-wrong-one".into()
        } else {
            String::new()
        },
        file,
        spiffs: false,
        progress: false,
        timeout: 5.0,
        debug: false,
        tool: None,
        serial,
        baud: 115200,
    }
}

/// A firmware-like image: ESP magic byte first (unless the scenario is a bad image),
/// sized to overflow the OTA slot when the scenario is about space.
fn demo_image(s: DemoScenario, chip: Chip) -> Result<tempfile_like::TempImage, UserError> {
    let size = match (s, chip) {
        (DemoScenario::InsufficientSpace, Chip::Esp32) => 1_400_000,
        (DemoScenario::InsufficientSpace, Chip::Esp8266) => 600_000,
        _ => 300_000,
    };
    let mut data: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    data[0] = if s == DemoScenario::InvalidImage {
        0x50
    } else {
        0xE9
    };
    tempfile_like::TempImage::write(&data)
}

mod tempfile_like {
    use crate::error::UserError;
    use std::path::{Path, PathBuf};

    /// A file in the temp directory, removed when dropped.
    pub struct TempImage(PathBuf);

    impl TempImage {
        pub fn write(data: &[u8]) -> Result<TempImage, UserError> {
            let p =
                std::env::temp_dir().join(format!("ota-doctor-demo-{}.bin", std::process::id()));
            std::fs::write(&p, data).map_err(|e| {
                UserError::new(format!(
                    "cannot write the demo image `{}`: {e}",
                    p.display()
                ))
                .hint("set TMPDIR to a writable directory")
            })?;
            Ok(TempImage(p))
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempImage {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
