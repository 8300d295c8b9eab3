//! Chips, scenarios and flash layouts: what kind of board the simulator pretends to be.

use crate::error::UserError;
use std::fmt;

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Chip {
    Esp8266,
    Esp32,
}

impl Chip {
    /// The ArduinoOTA default port, so a bare `sim --chip esp32` is found by espota.py.
    pub fn default_port(self) -> u16 {
        match self {
            Chip::Esp8266 => 8266,
            Chip::Esp32 => 3232,
        }
    }
}

/// Which ESP8266 core the board runs. The core decides whether `Update.begin()` errors
/// reach the uploader (`ERR: …`, ≥2.4.0) and how error texts are worded (protocol.md §3.1).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Esp8266Core {
    /// 3.1.x: `ERR:` replies, `ERROR[n]: text\n`, bootstrapping check.
    #[default]
    #[value(name = "3.1")]
    V3_1,
    /// 2.3.0: `OK` sent at once, begin errors invisible to the host, no bootstrapping
    /// check, so a board not reset after serial flashing takes the update and then hangs.
    #[value(name = "2.3")]
    V2_3,
}

/// Device behaviours, named after the cause ids in design.md so a test can say
/// "this scenario must be diagnosed as its own name".
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Scenario {
    Ok,
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

impl Scenario {
    pub fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }

    /// Some causes only exist on one chip; simulating them on the other would teach the
    /// diagnoser something untrue.
    pub fn check_chip(self, chip: Chip) -> Result<(), UserError> {
        let only = match self {
            Scenario::WrongPartitionScheme => Some(Chip::Esp32),
            Scenario::MissingResetAfterSerialFlash => Some(Chip::Esp8266),
            _ => None,
        };
        match only {
            Some(c) if c != chip => Err(UserError::new(format!(
                "scenario `{}` does not exist on {chip}",
                self.name()
            ))
            .hint(format!("use --chip {c}, or another scenario"))),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Chip::Esp8266 => "esp8266",
            Chip::Esp32 => "esp32",
        })
    }
}

/// Flash sizes that decide `Update.begin()` (protocol.md §5).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// ESP8266: flash offset where the filesystem starts (`end`); ESP32: OTA slot size.
    pub app_area: u32,
    /// The running sketch (ESP8266 only: it shares `app_area` with the new image).
    pub sketch: u32,
    /// Filesystem partition size, the limit for `-s` uploads.
    pub fs: u32,
    /// ESP32 only: a single-app scheme (huge_app, no_ota) without a second slot.
    pub has_ota_slot: bool,
}

impl Layout {
    pub fn for_board(chip: Chip, scenario: Scenario) -> Layout {
        match (chip, scenario) {
            // 1MB (FS:64KB OTA:~470KB) with a 400 KB sketch: ~548 KB left for the image.
            (Chip::Esp8266, Scenario::InsufficientSpace) => Layout {
                app_area: 0xEB000,
                sketch: 400_000,
                fs: 0x10000,
                has_ota_slot: true,
            },
            // 4MB (FS:2MB OTA:~1019KB).
            (Chip::Esp8266, _) => Layout {
                app_area: 0x200000,
                sketch: 350_000,
                fs: 0x1FA000,
                has_ota_slot: true,
            },
            // huge_app.csv: one 3 MB app, no second slot.
            (Chip::Esp32, Scenario::WrongPartitionScheme) => Layout {
                app_area: 0x300000,
                sketch: 900_000,
                fs: 0xF0000,
                has_ota_slot: false,
            },
            // default.csv: two 1,310,720-byte slots, 1.5 MB SPIFFS.
            (Chip::Esp32, _) => Layout {
                app_area: 0x140000,
                sketch: 900_000,
                fs: 0x160000,
                has_ota_slot: true,
            },
        }
    }

    /// ESP8266 `getFreeSketchSpace()`: what is left below the filesystem.
    pub fn esp8266_free(&self) -> u32 {
        self.app_area.saturating_sub(round4k(self.sketch))
    }
}

pub fn round4k(n: u32) -> u32 {
    n.div_ceil(4096).saturating_mul(4096)
}
