//! Checks an uploader's password answer against a password the analyst knows.
//!
//! Everything but the password is on the wire, so the answer can be recomputed:
//! * ArduinoOTA legacy (ESP8266, ESP32 ≤ 3.3.0), 32-hex nonce: the device stores
//!   `md5hex(pw)` and expects `md5hex(md5hex(pw) ":" nonce ":" cnonce)` (read in
//!   esp8266/Arduino libraries/ArduinoOTA/ArduinoOTA.cpp `_onRx`, OTA_WAITAUTH branch, and
//!   tools/espota.py `passmd5`/`result_text`).
//! * ArduinoOTA ESP32 ≥ 3.3.1, 64-hex nonce (docs/protocol.md §1.5.2, reconstructed from
//!   the 2025 espota.py, not from device source): `derived = hex(PBKDF2-HMAC-SHA256(
//!   hash(pw), nonce ":" cnonce, 10000, 32))`, answer `sha256hex(derived ":" nonce ":"
//!   cnonce)`, where hash(pw) is `sha256hex(pw)` or, for the uploader's MD5 fallback,
//!   `md5hex(pw)`.
//! * ESPHome native OTA: `hash(pw nonce cnonce)` with MD5 or SHA-256, no separators
//!   (esphome/esphome esphome/espota2.py `perform_auth`).
//!
//! The password lives only in [`Password`], whose Debug output hides it; nothing here
//! returns it or anything derived from it except a yes/no.

use md5::Md5;
use sha2::{Digest, Sha256};

/// The analyst's OTA password. Never printed: Debug shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(p: impl Into<String>) -> Password {
        Password(p.into())
    }

    /// `text` with every occurrence of the password replaced by `***`, or None when
    /// it does not occur (an empty password occurs nowhere).
    pub fn hide_in(&self, text: &str) -> Option<String> {
        (!self.0.is_empty() && text.contains(self.0.as_str()))
            .then(|| text.replace(self.0.as_str(), "***"))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The answer was made from this password; the str names the hash variant used.
    Right(&'static str),
    Wrong,
    /// The scheme is unknown (odd nonce length): nothing can be said.
    Unknown,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256 with the keyed inner/outer states prepared once, since PBKDF2 runs it
/// 20,000 times per check.
struct Hmac {
    inner: Sha256,
    outer: Sha256,
}

impl Hmac {
    fn new(key: &[u8]) -> Hmac {
        let mut k = [0u8; 64];
        if key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |x: u8| k.iter().map(|b| b ^ x).collect::<Vec<u8>>();
        Hmac {
            inner: Sha256::new_with_prefix(pad(0x36)),
            outer: Sha256::new_with_prefix(pad(0x5c)),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut i = self.inner.clone();
        for p in parts {
            i.update(p);
        }
        let mut o = self.outer.clone();
        o.update(i.finalize());
        o.finalize().into()
    }
}

/// PBKDF2-HMAC-SHA256 with a 32-byte output (one block, which is all OTA uses).
fn pbkdf2_sha256_32(password: &[u8], salt: &[u8], rounds: u32) -> [u8; 32] {
    let h = Hmac::new(password);
    let mut u = h.mac(&[salt, &1u32.to_be_bytes()]);
    let mut out = u;
    for _ in 1..rounds {
        u = h.mac(&[&u]);
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks an ArduinoOTA `200 <cnonce> <response>` answer to `AUTH <nonce>`.
pub fn arduino(pw: &Password, nonce: &str, cnonce: &str, response: &str) -> Check {
    if !is_hex(nonce) || !is_hex(cnonce) {
        return Check::Unknown;
    }
    match (nonce.len(), response.len()) {
        (32, 32) => legacy(pw, nonce, cnonce, response),
        // An uploader that read only 37 bytes of a 69-byte challenge answers the legacy
        // way with the first 32 nonce characters (docs/protocol.md §1.5.2 mismatch matrix).
        (64, 32) => legacy(pw, &nonce[..32], cnonce, response),
        (64, 64) => pbkdf2(pw, nonce, cnonce, response),
        _ => Check::Unknown,
    }
}

fn legacy(pw: &Password, nonce: &str, cnonce: &str, response: &str) -> Check {
    let stored = md5_hex(pw.0.as_bytes());
    let want = md5_hex(format!("{stored}:{nonce}:{cnonce}").as_bytes());
    if want == response {
        Check::Right("md5")
    } else {
        Check::Wrong
    }
}

fn pbkdf2(pw: &Password, nonce: &str, cnonce: &str, response: &str) -> Check {
    let salt = format!("{nonce}:{cnonce}");
    for (name, hash) in [
        ("sha256", sha256_hex(pw.0.as_bytes())),
        ("md5", md5_hex(pw.0.as_bytes())),
    ] {
        let derived = hex(&pbkdf2_sha256_32(hash.as_bytes(), salt.as_bytes(), 10_000));
        if sha256_hex(format!("{derived}:{nonce}:{cnonce}").as_bytes()) == response {
            return Check::Right(name);
        }
    }
    Check::Wrong
}

/// Checks an ESPHome answer: `sha256` or `md5` over password, nonce and cnonce.
pub fn esphome(pw: &Password, sha256: bool, nonce: &[u8], cnonce: &[u8], response: &[u8]) -> Check {
    let mut data = pw.0.as_bytes().to_vec();
    data.extend_from_slice(nonce);
    data.extend_from_slice(cnonce);
    let (name, want) = if sha256 {
        ("sha256", sha256_hex(&data))
    } else {
        ("md5", md5_hex(&data))
    };
    if want.as_bytes() == response {
        Check::Right(name)
    } else {
        Check::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_rfc7914_vector() {
        // RFC 7914 §11: P="passwd", S="salt", c=1; the first 32 of its 64 bytes.
        assert_eq!(
            hex(&pbkdf2_sha256_32(b"passwd", b"salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn pbkdf2_many_rounds_matches_python() {
        // python3: hashlib.pbkdf2_hmac('sha256', b'a', b'b', 2).hex()
        assert_eq!(
            hex(&pbkdf2_sha256_32(b"a", b"b", 2)),
            "a14585f5814048d390dd0b5029e26d08e70c788dc4afc77e1bb9bbf2cb0b704c"
        );
    }

    #[test]
    fn legacy_answer_from_espota() {
        let pw = Password::new("admin");
        let nonce = "0123456789abcdef0123456789abcdef";
        let cnonce = "fedcba9876543210fedcba9876543210";
        // md5(md5("admin") ":" nonce ":" cnonce), computed the espota.py way.
        let answer =
            md5_hex(format!("21232f297a57a5a743894a0e4a801fc3:{nonce}:{cnonce}").as_bytes());
        assert_eq!(arduino(&pw, nonce, cnonce, &answer), Check::Right("md5"));
        assert_eq!(
            arduino(&Password::new("x"), nonce, cnonce, &answer),
            Check::Wrong
        );
        assert_eq!(arduino(&pw, "abc", cnonce, &answer), Check::Unknown);
    }

    #[test]
    fn sha256_scheme_and_its_md5_fallback() {
        let nonce = "a".repeat(64);
        let cnonce = "b".repeat(64);
        let make = |hash: String| {
            let d = hex(&pbkdf2_sha256_32(
                hash.as_bytes(),
                format!("{nonce}:{cnonce}").as_bytes(),
                10_000,
            ));
            sha256_hex(format!("{d}:{nonce}:{cnonce}").as_bytes())
        };
        let pw = Password::new("admin");
        let by_sha = make(sha256_hex(b"admin"));
        let by_md5 = make(md5_hex(b"admin"));
        assert_eq!(
            arduino(&pw, &nonce, &cnonce, &by_sha),
            Check::Right("sha256")
        );
        assert_eq!(arduino(&pw, &nonce, &cnonce, &by_md5), Check::Right("md5"));
        assert_eq!(
            arduino(&Password::new("nope"), &nonce, &cnonce, &by_sha),
            Check::Wrong
        );
    }

    #[test]
    fn esphome_answers() {
        let pw = Password::new("secret");
        let r = md5_hex(b"secretNONCECNONCE");
        assert_eq!(
            esphome(&pw, false, b"NONCE", b"CNONCE", r.as_bytes()),
            Check::Right("md5")
        );
        let r = sha256_hex(b"secretNONCECNONCE");
        assert_eq!(
            esphome(&pw, true, b"NONCE", b"CNONCE", r.as_bytes()),
            Check::Right("sha256")
        );
        assert_eq!(esphome(&pw, true, b"N", b"C", r.as_bytes()), Check::Wrong);
    }

    #[test]
    fn debug_hides_the_password() {
        assert!(!format!("{:?}", Password::new("hunter2")).contains("hunter2"));
    }
}
