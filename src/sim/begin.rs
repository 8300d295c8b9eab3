//! `Update.begin()`: the checks a board makes before it accepts an image (protocol.md
//! §3.1, §3.4, §5).

use super::device::Device;
use super::proto::{Invitation, U_FLASH};
use super::scenario::{Chip, Esp8266Core, Scenario, round4k};
use super::texts;

/// A refused `begin()`: ESP8266 error code and the core's text for it.
pub struct BeginError {
    pub code: u8,
    pub text: String,
}

fn err(code: u8, text: impl Into<String>) -> Result<(), BeginError> {
    Err(BeginError {
        code,
        text: text.into(),
    })
}

pub fn begin(dev: &Device, inv: &Invitation) -> Result<(), BeginError> {
    match dev.chip {
        Chip::Esp8266 => esp8266(dev, inv),
        Chip::Esp32 => esp32(dev, inv),
    }
}

fn esp8266(dev: &Device, inv: &Invitation) -> Result<(), BeginError> {
    let modern = dev.core == Esp8266Core::V3_1;
    if modern && dev.scenario == Scenario::MissingResetAfterSerialFlash {
        return err(11, texts::ESP8266_BOOTSTRAP);
    }
    if dev.scenario == Scenario::FlashConfigMismatch {
        // Built for 4 MB, soldered chip has 1 MB (seed 000: an ESP8285 with "error 8").
        return err(
            8,
            texts::esp8266_flash_config_text(1 << 20, 4 << 20, dev.core),
        );
    }
    if inv.size <= 0 {
        return err(5, "Bad Size Given");
    }
    let size = inv.size as u32;
    let fits = if inv.cmd == U_FLASH {
        round4k(size) <= dev.layout.esp8266_free()
    } else {
        size <= dev.layout.fs
    };
    if !fits {
        return err(4, "Not Enough Space");
    }
    Ok(())
}

fn esp32(dev: &Device, inv: &Invitation) -> Result<(), BeginError> {
    if inv.size <= 0 {
        return err(5, "Bad Size Given");
    }
    let (limit, found) = if inv.cmd == U_FLASH {
        (dev.layout.app_area, dev.layout.has_ota_slot)
    } else {
        (dev.layout.fs, true)
    };
    if !found {
        return err(10, "Partition Could Not be Found");
    }
    if inv.size as u32 > limit {
        let msg = format!("too large {} > {limit}", inv.size);
        dev.console.log('E', "Updater.cpp", 93, "begin", &msg);
        return err(5, "Bad Size Given");
    }
    Ok(())
}
