//! Spotting a wrong baud rate from the bytes themselves.
//!
//! At the wrong rate a UART still delivers bytes, just meaningless ones: control codes,
//! NULs and invalid UTF-8 make up most of them, where real log text has almost none. So
//! the stream is judged in small windows by the share of such bytes.
//!
//! One case is normal and must not be called wrong: the ESP8266 ROM prints its boot
//! banner at 74880 baud, so a monitor at 115200 shows a short garbled burst at every
//! reset, then clean text. A run of a few bad windows followed by a good one is that
//! burst; junk that goes on for [`SUSTAINED`] windows is a wrong rate.

/// Bytes judged at a time.
pub const WINDOW: usize = 64;
/// Bad windows in a row that mean "wrong baud" rather than a boot burst (512 bytes; the
/// ROM banner read at 115200 is 150–300 bytes).
pub const SUSTAINED: u32 = 8;
/// Share of junk that makes a window bad. Text has ~0; wrong-rate bytes ~0.6.
const BAD_SHARE: f32 = 0.25;

#[derive(Debug, Clone, PartialEq)]
pub enum BaudHint {
    /// Junk for at least [`SUSTAINED`] windows: the baud rate is probably wrong.
    Garbled { junk_share: f32 },
    /// Clean text again after [`BaudHint::Garbled`].
    Readable,
    /// A short garbled run between clean text: most likely the ESP8266 ROM banner at
    /// 74880 baud after a reset. The rate in use is right for the application.
    BootBurst { bytes: usize },
}

#[derive(Debug, Default)]
pub struct BaudWatch {
    window: Vec<u8>,
    bad_run: u32,
    bad_bytes: usize,
    seen_good: bool,
    garbled: bool,
}

impl BaudWatch {
    pub fn new() -> BaudWatch {
        BaudWatch::default()
    }

    /// Feeds bytes as read; returns what changed, if anything.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<BaudHint>) {
        for chunk in data.chunks(WINDOW) {
            let room = WINDOW - self.window.len();
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.window.extend_from_slice(now);
            if self.window.len() == WINDOW {
                self.judge(out);
                self.window.clear();
                self.window.extend_from_slice(later);
            }
        }
    }

    fn judge(&mut self, out: &mut Vec<BaudHint>) {
        let share = junk_share(&self.window);
        if share >= BAD_SHARE {
            self.bad_run += 1;
            self.bad_bytes += WINDOW;
            if self.bad_run == SUSTAINED && !self.garbled {
                self.garbled = true;
                out.push(BaudHint::Garbled { junk_share: share });
            }
            return;
        }
        if self.garbled {
            out.push(BaudHint::Readable);
        } else if self.bad_run > 0 && self.seen_good {
            out.push(BaudHint::BootBurst {
                bytes: self.bad_bytes,
            });
        }
        self.garbled = false;
        self.seen_good = true;
        self.bad_run = 0;
        self.bad_bytes = 0;
    }
}

/// Share of bytes that no log line contains: invalid UTF-8 and control characters other
/// than tab, line breaks and the escape that starts colour codes.
pub fn junk_share(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut bad = 0usize;
    for chunk in bytes.utf8_chunks() {
        bad += chunk.invalid().len();
        bad += chunk
            .valid()
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n' | '\x1b'))
            .map(char::len_utf8)
            .sum::<usize>();
    }
    bad as f32 / bytes.len() as f32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a UART at `to` baud makes of bytes sent at `from` baud (8N1, idle high).
    /// Samples the line the way a receiver does: wait for a falling edge, then read each
    /// bit in the middle of its slot.
    pub(crate) fn resample(bytes: &[u8], from: u32, to: u32) -> Vec<u8> {
        let tx_bit = 1.0 / f64::from(from);
        let level = |t: f64| -> bool {
            let slot = (t / tx_bit).floor();
            if slot < 0.0 {
                return true;
            }
            let (byte, bit) = ((slot as usize) / 10, (slot as usize) % 10);
            match bytes.get(byte) {
                None => true,
                Some(b) => match bit {
                    0 => false,
                    9 => true,
                    n => b >> (n - 1) & 1 == 1,
                },
            }
        };
        let (rx_bit, end) = (1.0 / f64::from(to), tx_bit * 10.0 * bytes.len() as f64);
        let (mut out, mut t, step) = (Vec::new(), 0.0, tx_bit / 16.0);
        while t < end {
            if level(t) {
                t += step;
                continue;
            }
            let mut b = 0u8;
            for n in 0..8 {
                if level(t + rx_bit * (1.5 + f64::from(n))) {
                    b |= 1 << n;
                }
            }
            out.push(b);
            t += rx_bit * 9.5;
        }
        out
    }

    const BANNER: &[u8] = b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n\r\nload 0x4010f000, len 3460, room 16 \r\ntail 4\r\nchksum 0xcc\r\nload 0x3fff20b8, len 40, room 4 \r\ntail 4\r\nchksum 0xc9\r\ncsum 0xc9\r\nv00059b40\r\n~ld\r\n";

    fn hints(parts: &[&[u8]]) -> Vec<BaudHint> {
        let mut w = BaudWatch::new();
        let mut out = Vec::new();
        for p in parts {
            w.feed(p, &mut out);
        }
        out
    }

    #[test]
    fn resampling_at_the_same_rate_is_identity() {
        assert_eq!(
            resample(b"Hello, ESP\r\n", 115_200, 115_200),
            b"Hello, ESP\r\n"
        );
    }

    #[test]
    fn rom_banner_between_clean_text_is_a_boot_burst() {
        let text = b"[OTA] Ready, IP address: 192.168.1.50\r\n".repeat(4);
        let junk = resample(BANNER, 74_880, 115_200);
        assert!(junk_share(&junk) > 0.4, "{}", junk_share(&junk));
        let h = hints(&[&text, &junk, &text]);
        assert!(
            matches!(h.as_slice(), [BaudHint::BootBurst { .. }]),
            "{h:?}"
        );
    }

    #[test]
    fn sustained_junk_is_a_wrong_rate_and_clears_once() {
        let text = b"[OTA] Start updating sketch\r\nProgress: 10%\r\n".repeat(40);
        let junk = resample(&text, 115_200, 74_880);
        let h = hints(&[&junk, &junk, &text]);
        assert!(
            matches!(h.as_slice(), [BaudHint::Garbled { .. }, BaudHint::Readable]),
            "{h:?}"
        );
        assert!(hints(&[&text, "Größe ✓ \x1b[0;32mI (12) ok\x1b[0m\r\n".as_bytes()]).is_empty());
    }

    #[test]
    fn any_bytes_in_any_chunking_never_panic() {
        let noise: Vec<u8> = (0..10_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let mut w = BaudWatch::new();
        let mut out = Vec::new();
        for n in [1, 3, 63, 64, 65, 1000] {
            for c in noise.chunks(n) {
                w.feed(c, &mut out);
            }
        }
        assert!(out.iter().any(|h| matches!(h, BaudHint::Garbled { .. })));
    }
}
