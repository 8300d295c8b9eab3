//! The simulated device the benchmarks watch: a chatty sketch, an hourly reboot and a
//! failed upload every half hour, one second at a time on simulated time.

use ota_doctor::decode::net::build;
use ota_doctor::decode::net::pcap::LinkType;
use ota_doctor::session::Input;

/// 2026-03-01 00:00 UTC, like the other fixtures.
pub const START: i64 = 1_772_323_200_000_000;
const HOST: [u8; 4] = [192, 168, 4, 10];
const DEV: [u8; 4] = [192, 168, 4, 23];
const MD5: &str = "0123456789abcdef0123456789abcdef";

/// One second of the stream: `rate` serial lines no decoder recognises, a reboot
/// banner every hour and a failed upload (uploader, wire and device) every half hour.
pub fn second(s: u32, rate: u32, out: &mut Vec<Input>) {
    let t0 = START + i64::from(s) * 1_000_000;
    let step = 1_000_000 / i64::from(rate.max(1));
    for k in 0..rate {
        let t = t0 + i64::from(k) * step;
        // Half Serial.println() chatter, half ESP32 log lines (their prefix is parsed
        // into fields, which cost more memory than the text).
        let text = if k % 2 == 0 {
            format!(
                "temp=2{}.{}C rssi=-{} heap={}",
                k % 10,
                s % 10,
                50 + k % 30,
                200_000 - (s * 7 + k) % 4096
            )
        } else {
            format!(
                "[{:>8}][I][main.cpp:61] loop(): mqtt publish {} ok",
                s as u64 * 1000 + u64::from(k),
                s * 100 + k
            )
        };
        out.push(Input::Serial {
            t_us: t,
            bytes: text.into_bytes(),
        });
    }
    if s % 3600 == 5 {
        banner(t0 + 500, out);
    }
    if s % 1800 == 60 {
        upload(t0 + 700, out);
    }
}

fn banner(t: i64, out: &mut Vec<Input>) {
    let lines = [
        "ets Jun  8 2016 00:22:57",
        "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
        "[  8231][I][main.cpp:48] setup(): IP address: 192.168.4.23",
        "Ready",
    ];
    for (i, l) in lines.iter().enumerate() {
        out.push(Input::Serial {
            t_us: t + i as i64,
            bytes: l.as_bytes().to_vec(),
        });
    }
}

fn udp(t_us: i64, from_host: bool, payload: &str) -> Input {
    let (a, b, sp, dp) = if from_host {
        (HOST, DEV, 50000, 3232)
    } else {
        (DEV, HOST, 3232, 50000)
    };
    Input::Frame {
        t_us,
        link: LinkType::Ethernet,
        data: build::frame(a, b, 17, &build::udp(sp, dp, payload.as_bytes())),
    }
}

/// The image-too-big upload of examples/esp32-image-too-big, on the wire too.
fn upload(t: i64, out: &mut Vec<Input>) {
    let host = [
        "Sending invitation to 192.168.4.23 ",
        "Authenticating...OK",
        "14:02:11 [INFO]: Waiting for device...",
    ];
    for (i, l) in host.iter().enumerate() {
        out.push(Input::Host {
            t_us: t + i as i64,
            text: l.to_string(),
        });
    }
    let nonce = "fedcba9876543210fedcba9876543210";
    out.push(udp(t + 10, true, &format!("0 41377 1399984 {MD5}\n")));
    out.push(udp(t + 20_000, false, &format!("AUTH {nonce}")));
    out.push(udp(t + 30_000, true, &format!("200 {MD5} {nonce}\n")));
    out.push(udp(t + 90_000, false, "OK"));
    let serial = [
        "Start updating sketch",
        "[ 14532][E][Updater.cpp:215] begin(): too large 1399984 > 1310720",
        "[ 14533][E][ArduinoOTA.cpp:324] _runUpdate(): Begin ERROR: Bad Size Given",
        "Error[1]: Begin Failed",
    ];
    for (i, l) in serial.iter().enumerate() {
        out.push(Input::Serial {
            t_us: t + 100_000 + i as i64,
            bytes: l.as_bytes().to_vec(),
        });
    }
    out.push(Input::Host {
        t_us: t + 10_000_000,
        text: "14:02:21 [ERROR]: No response from device".into(),
    });
}
