//! The UDP half: invitation, optional MD5 challenge (protocol.md §1.3–1.5.1).

use super::log::Log;
use super::{Image, Outcome, Tool, UploadArgs};
use md5::{Digest, Md5};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

const FLASH: u32 = 0;
const SPIFFS: u32 = 100;
const AUTH: u32 = 200;

pub struct Invite<'a> {
    pub args: &'a UploadArgs,
    pub image: &'a Image,
    pub device: SocketAddr,
    pub host_port: u16,
    pub wait: Duration,
}

fn md5_hex(s: &str) -> String {
    format!("{:x}", Md5::digest(s.as_bytes()))
}

/// The answer espota.py computes: `cnonce = md5(path + size + md5 + ip-as-typed)`,
/// `response = md5(md5(password) ":" nonce ":" cnonce)`.
pub fn auth_answer(
    password: &str,
    nonce: &str,
    path: &str,
    size: usize,
    md5: &str,
    ip: &str,
) -> String {
    let cnonce = md5_hex(&format!("{path}{size}{md5}{ip}"));
    let response = md5_hex(&format!("{}:{nonce}:{cnonce}", md5_hex(password)));
    format!("{AUTH} {cnonce} {response}\n")
}

impl Invite<'_> {
    fn message(&self) -> String {
        let cmd = if self.args.spiffs { SPIFFS } else { FLASH };
        let (size, md5) = (self.image.data.len(), &self.image.md5);
        format!("{cmd} {} {size} {md5}\n", self.host_port)
    }

    pub fn run(&self, log: &mut Log) -> Result<(), Outcome> {
        let (sock, reply) = match log.tool {
            Tool::Esp8266 => self.invite_once(log)?,
            Tool::Esp32 => self.invite_retrying(log)?,
        };
        if reply == "OK" {
            return Ok(());
        }
        if reply.starts_with("AUTH") {
            return self.authenticate(log, &sock, &reply);
        }
        log.error(&format!("Bad Answer: {}", reply.trim_end()));
        Err(Outcome::DeviceError(reply.trim_end().to_string()))
    }

    fn socket(&self) -> Option<UdpSocket> {
        let any: SocketAddr = if self.device.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let s = UdpSocket::bind(any).ok()?;
        s.set_read_timeout(Some(self.wait)).ok()?;
        Some(s)
    }

    fn ask(&self, sock: &UdpSocket, msg: &str, max: usize) -> Option<String> {
        sock.send_to(msg.as_bytes(), self.device).ok()?;
        let mut buf = vec![0u8; max];
        let n = sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// esp8266's espota: one datagram, one wait.
    fn invite_once(&self, log: &mut Log) -> Result<(UdpSocket, String), Outcome> {
        log.info(&format!("Sending invitation to: {}", self.args.ip));
        let sock = self.socket().ok_or_else(|| no_answer(log))?;
        match self.ask(&sock, &self.message(), 128) {
            Some(r) => Ok((sock, r)),
            None => Err(no_answer(log)),
        }
    }

    /// arduino-esp32's espota: up to 10 tries, each from a new socket, one dot per miss.
    fn invite_retrying(&self, log: &mut Log) -> Result<(UdpSocket, String), Outcome> {
        let mut dots = String::new();
        for _ in 0..10 {
            if let Some(sock) = self.socket()
                && let Some(r) = self.ask(&sock, &self.message(), 128)
            {
                log.raw(&format!("Sending invitation to {} {dots}", self.args.ip));
                return Ok((sock, r));
            }
            dots.push('.');
        }
        log.raw(&format!("Sending invitation to {} {dots}", self.args.ip));
        log.error("No response from the ESP");
        Err(Outcome::NoResponse)
    }

    fn authenticate(&self, log: &mut Log, sock: &UdpSocket, reply: &str) -> Result<(), Outcome> {
        let Some(nonce) = reply.split_whitespace().nth(1) else {
            log.error(&format!("Bad Answer: {reply}"));
            return Err(Outcome::DeviceError(reply.to_string()));
        };
        let img = self.image;
        let msg = auth_answer(
            &self.args.auth,
            nonce,
            &img.path,
            img.data.len(),
            &img.md5,
            &self.args.ip,
        );
        let Some(answer) = self.ask(sock, &msg, 32) else {
            log.raw("Authenticating...FAIL");
            log.error("No Answer to our Authentication");
            return Err(Outcome::NoAuthAnswer);
        };
        if answer == "OK" {
            log.raw("Authenticating...OK");
            return Ok(());
        }
        log.raw("Authenticating...FAIL");
        let text = answer.trim_end().to_string();
        log.error(&text);
        Err(if text.starts_with("ERR") {
            Outcome::DeviceError(text)
        } else {
            Outcome::AuthFailed(text)
        })
    }
}

fn no_answer(log: &mut Log) -> Outcome {
    log.error("No Answer");
    Outcome::NoResponse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_matches_a_hand_computed_espota_run() {
        // md5("admin") is well known; the rest follows espota's formula step by step.
        assert_eq!(md5_hex("admin"), "21232f297a57a5a743894a0e4a801fc3");
        let cnonce = md5_hex("fw.bin3abc10.0.0.2");
        let resp = md5_hex(&format!("21232f297a57a5a743894a0e4a801fc3:n0:{cnonce}"));
        assert_eq!(
            auth_answer("admin", "n0", "fw.bin", 3, "abc", "10.0.0.2"),
            format!("200 {cnonce} {resp}\n")
        );
    }
}
