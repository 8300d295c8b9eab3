//! Parsing of the OTA datagrams the way ArduinoOTA's `_onRx` reads them (protocol.md
//! §1.3, §1.5.1): the sim must accept and reject exactly what a board does, or the
//! diagnoser learns from a device that does not exist.

use md5::{Digest, Md5};

pub const U_FLASH: i32 = 0;
pub const U_FS: i32 = 100;
pub const U_AUTH: i32 = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub cmd: i32,
    /// `_ota_port` is an `int` later passed as a `uint16_t`: it truncates.
    pub host_port: u16,
    pub size: i32,
    pub md5: String,
}

/// Reads a datagram the way the device's `Stream` does: peek, read, until a stop byte.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    /// ArduinoOTA's own `parseInt()`: skip spaces, read up to 15 digits, `atoi`.
    /// A datagram that starts with anything else parses as 0.
    pub fn parse_int(&mut self) -> i32 {
        while self.data.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos - start < 15 && self.data.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = std::str::from_utf8(&self.data[start..self.pos]).unwrap_or("0");
        // atoi overflow is undefined in C; the board's newlib wraps like this.
        digits.parse::<i64>().unwrap_or(0) as i32
    }

    /// `read()`: consumes one byte, whatever it is.
    pub fn skip(&mut self) {
        self.pos = (self.pos + 1).min(self.data.len());
    }

    /// `readStringUntil(stop)`: the stop byte is consumed, not returned.
    pub fn until(&mut self, stop: u8) -> Vec<u8> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == stop).unwrap_or(rest.len());
        self.pos = (self.pos + end + 1).min(self.data.len());
        rest[..end].to_vec()
    }
}

/// Why a datagram in the idle state was not taken as an invitation.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not flash or filesystem: the core ignores it without a word.
    Command(i32),
    /// ESP32 logs `bad md5 length`.
    Md5Length,
}

pub fn parse_invitation(data: &[u8]) -> Result<Invitation, Rejected> {
    let mut c = Cursor::new(data);
    let cmd = c.parse_int();
    if cmd != U_FLASH && cmd != U_FS {
        return Err(Rejected::Command(cmd));
    }
    let host_port = c.parse_int() as u16;
    let size = c.parse_int();
    c.skip();
    let md5 = trim(&c.until(b'\n'));
    if md5.len() != 32 {
        return Err(Rejected::Md5Length);
    }
    Ok(Invitation {
        cmd,
        host_port,
        size,
        md5: String::from_utf8_lossy(&md5).into_owned(),
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum AuthMsg {
    /// `200 <cnonce> <response>` with both fields 32 long.
    Answer { cnonce: Vec<u8>, response: Vec<u8> },
    /// First number was not 200: ESP32 logs `200 was expected. got N instead`.
    NotAuth(i32),
    /// ESP32 logs `auth param fail`.
    BadParams,
}

pub fn parse_auth(data: &[u8]) -> AuthMsg {
    let mut c = Cursor::new(data);
    let cmd = c.parse_int();
    if cmd != U_AUTH {
        return AuthMsg::NotAuth(cmd);
    }
    c.skip();
    let cnonce = c.until(b' ');
    let response = c.until(b'\n');
    if cnonce.len() != 32 || response.len() != 32 {
        return AuthMsg::BadParams;
    }
    AuthMsg::Answer { cnonce, response }
}

/// What the board expects: `md5(stored_hash ":" nonce ":" cnonce)`, where the stored hash
/// is `md5(password)` (`setPassword`). Compared byte for byte, so case matters.
pub fn auth_ok(password: &str, nonce: &str, cnonce: &[u8], response: &[u8]) -> bool {
    let mut challenge = format!("{}:{nonce}:", md5_hex(password.as_bytes())).into_bytes();
    challenge.extend_from_slice(cnonce);
    md5_hex(&challenge).as_bytes() == response
}

pub fn md5_hex(data: &[u8]) -> String {
    format!("{:x}", Md5::digest(data))
}

/// Arduino `String::trim()`: ASCII whitespace at both ends.
fn trim(b: &[u8]) -> Vec<u8> {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |i| i + 1);
    b[s..e].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_as_espota_sends_it_and_without_newline() {
        let md5 = "0123456789abcdef0123456789abcdef";
        let inv = parse_invitation(format!("0 24359 325552 {md5}\n").as_bytes()).unwrap();
        assert_eq!(inv.host_port, 24359);
        assert_eq!(inv.size, 325552);
        assert_eq!(inv.md5, md5);
        // esp-ota (npm) leaves the newline out.
        assert!(parse_invitation(format!("100 1 2 {md5}").as_bytes()).is_ok());
    }

    #[test]
    fn garbage_is_rejected_like_the_core_does() {
        assert_eq!(parse_invitation(b"hello"), Err(Rejected::Md5Length));
        assert_eq!(parse_invitation(b"7 1 2 x"), Err(Rejected::Command(7)));
        assert_eq!(parse_invitation(b""), Err(Rejected::Md5Length));
        let huge = vec![b'9'; 70_000];
        assert!(parse_invitation(&huge).is_err());
        assert_eq!(parse_auth(b"0 1 2 x"), AuthMsg::NotAuth(0));
        assert_eq!(parse_auth(b"200 abc def\n"), AuthMsg::BadParams);
    }

    #[test]
    fn auth_matches_espota_arithmetic() {
        let nonce = md5_hex(b"123456");
        let cnonce = md5_hex(b"fw.bin1000abc127.0.0.1");
        let resp = md5_hex(format!("{}:{nonce}:{cnonce}", md5_hex(b"pw")).as_bytes());
        assert!(auth_ok("pw", &nonce, cnonce.as_bytes(), resp.as_bytes()));
        assert!(!auth_ok("PW", &nonce, cnonce.as_bytes(), resp.as_bytes()));
        let upper = resp.to_uppercase();
        assert!(!auth_ok("pw", &nonce, cnonce.as_bytes(), upper.as_bytes()));
    }
}
