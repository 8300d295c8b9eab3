//! What real boards print on serial and send on the wire (protocol.md §1.4, §1.8, §3, §4).
//! Kept apart from the state machine so the wording can be checked against the spec in
//! one place.

use super::scenario::{Chip, Esp8266Core};

/// The ROM and bootloader lines a board prints when it (re)starts.
/// `cause` is the ESP8266 `rst cause` or the ESP32 `rst:` code.
pub fn boot_banner(chip: Chip, cause: u8, boot_mode: u8, staged_copy: bool) -> Vec<String> {
    match chip {
        Chip::Esp8266 => esp8266_banner(cause, boot_mode, staged_copy),
        Chip::Esp32 => esp32_banner(cause),
    }
}

fn esp8266_banner(cause: u8, boot_mode: u8, staged_copy: bool) -> Vec<String> {
    let mut v = vec![
        String::new(),
        format!(" ets Jan  8 2013,rst cause:{cause}, boot mode:({boot_mode},6)"),
        String::new(),
    ];
    // In UART download mode the ROM stops here and waits for esptool.
    if boot_mode != 3 {
        return v;
    }
    v.extend(
        [
            "load 0x4010f000, len 3460, room 16 ",
            "tail 4",
            "chksum 0xcc",
            "load 0x3fff20b8, len 40, room 4 ",
            "tail 4",
            "chksum 0xc9",
            "csum 0xc9",
            "v0004b030",
        ]
        .map(String::from),
    );
    // eboot: `@` = a staged OTA image is copied over the old one first (§4.2).
    if staged_copy {
        v.extend(["@cp:0".to_string(), "ld".to_string()]);
    } else {
        v.push("~ld".to_string());
    }
    v
}

fn esp32_banner(code: u8) -> Vec<String> {
    let reason = match code {
        0x1 => "POWERON_RESET",
        0xc => "SW_CPU_RESET",
        0xf => "RTCWDT_BROWN_OUT_RESET",
        _ => "SW_RESET",
    };
    let mut v = vec![
        "ets Jun  8 2016 00:22:57".to_string(),
        String::new(),
        format!("rst:0x{code:x} ({reason}),boot:0x13 (SPI_FAST_FLASH_BOOT)"),
    ];
    v.extend(
        [
            "configsip: 0, SPIWP:0xee",
            "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00",
            "mode:DIO, clock div:1",
            "load:0x3fff0030,len:1184",
            "load:0x40078000,len:13260",
            "load:0x40080400,len:3028",
            "entry 0x400805e4",
        ]
        .map(String::from),
    );
    v
}

/// ESP8266 `Update.printError()` text, newline included: 3.1+ ends in `\n`, older cores
/// used `println` (`\r\n`).
pub fn esp8266_print_error(code: u8, text: &str, core: Esp8266Core) -> String {
    match core {
        Esp8266Core::V3_1 => format!("ERROR[{code}]: {text}\n"),
        Esp8266Core::V2_3 => format!("ERROR[{code}]: {text}\r\n"),
    }
}

pub fn esp8266_md5_text(expected: &str, calculated: &str, core: Esp8266Core) -> String {
    match core {
        Esp8266Core::V3_1 => {
            format!("MD5 verification failed: expected: {expected}, calculated: {calculated}")
        }
        Esp8266Core::V2_3 => format!("MD5 Failed: expected:{expected}, calculated:{calculated}"),
    }
}

pub fn esp8266_flash_config_text(real: u32, sdk: u32, core: Esp8266Core) -> String {
    match core {
        Esp8266Core::V3_1 => format!("Flash config wrong: real: {real}, SDK: {sdk}"),
        Esp8266Core::V2_3 => format!("Flash config wrong real: {real} IDE: {sdk}"),
    }
}

pub fn esp8266_magic_text(core: Esp8266Core) -> &'static str {
    match core {
        Esp8266Core::V3_1 => "Magic byte is not 0xE9",
        Esp8266Core::V2_3 => "Magic byte is wrong, not 0xE9",
    }
}

pub const ESP8266_BOOTSTRAP: &str = "Invalid bootstrapping state, reset ESP8266 before updating";

/// The core's post-mortem for an exception in the sketch's context (§4.3).
pub fn esp8266_crash() -> Vec<String> {
    [
        "",
        "--------------- CUT HERE FOR EXCEPTION DECODER ---------------",
        "",
        "Exception (29):",
        "epc1=0x4000e1c3 epc2=0x00000000 epc3=0x00000000 excvaddr=0x00000000 depc=0x00000000",
        "",
        ">>>stack>>>",
        "",
        "ctx: cont",
        "sp: 3ffffd70 end: 3fffffc0 offset: 0190",
        "3ffffda0:  00000000 3ffeeb2c 3ffe8a44 40203f1c  ",
        "3ffffdb0:  3fffdad0 00000000 3ffeeb2c 4020573d  ",
        "<<<stack<<<",
        "",
        "--------------- CUT HERE FOR EXCEPTION DECODER ---------------",
    ]
    .map(String::from)
    .to_vec()
}

/// An unhandled exception on ESP32 (§4.5), ending with the IDF's reboot notice.
pub fn esp32_crash() -> Vec<String> {
    [
        "Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.",
        "",
        "Core  1 register dump:",
        "PC      : 0x400d2f4e  PS      : 0x00060330  A0      : 0x800d3a1c  A1      : 0x3ffb1f40  ",
        "EXCCAUSE: 0x0000001c  EXCVADDR: 0x00000000  LBEG    : 0x4000c2e0  LEND    : 0x4000c2f6  ",
        "",
        "",
        "Backtrace: 0x400d2f4b:0x3ffb1f40 0x400d3a19:0x3ffb1f60 0x400d8e6d:0x3ffb1f90",
        "",
        "",
        "ELF file SHA256: 5f0a6c3e2b9d41a7",
        "",
        "Rebooting...",
    ]
    .map(String::from)
    .to_vec()
}
