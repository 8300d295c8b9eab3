use crate::decode::net::auth::Password;
use crate::decode::net::build::{frame, tcp_seg};
use crate::decode::net::ota::{Options, OtaDecoder};
use crate::decode::net::packet::{ACK, FIN, parse};
use crate::decode::net::pcap::LinkType;
use crate::event::{Event, Value};
use md5::{Digest, Md5};

const HOST: [u8; 4] = [10, 0, 0, 1];
const DEV: [u8; 4] = [10, 0, 0, 2];
const MAGIC: [u8; 5] = [0x6C, 0x26, 0xF7, 0x5C, 0x45];

/// One ESPHome upload as the two byte streams, fed segment by segment.
struct Run {
    d: OtaDecoder,
    up: u32,
    down: u32,
    t: i64,
    ev: Vec<Event>,
}

impl Run {
    fn new(pw: Option<&str>) -> Run {
        let d = OtaDecoder::with_options(Options {
            password: pw.map(Password::new),
        });
        Run {
            d,
            up: 100,
            down: 900,
            t: 0,
            ev: Vec::new(),
        }
    }
    fn host(&mut self, b: &[u8]) -> &mut Run {
        self.host_flags(ACK, b)
    }
    fn host_flags(&mut self, flags: u8, b: &[u8]) -> &mut Run {
        let seg = tcp_seg(45000, 3232, flags, self.up, self.down, 65535, b);
        self.up = self.up.wrapping_add(b.len() as u32);
        self.feed(frame(HOST, DEV, 6, &seg))
    }
    fn dev(&mut self, b: &[u8]) -> &mut Run {
        self.dev_flags(ACK, b)
    }
    fn dev_flags(&mut self, flags: u8, b: &[u8]) -> &mut Run {
        let seg = tcp_seg(3232, 45000, flags, self.down, self.up, 5840, b);
        self.down = self.down.wrapping_add(b.len() as u32);
        self.feed(frame(DEV, HOST, 6, &seg))
    }
    fn feed(&mut self, f: Vec<u8>) -> &mut Run {
        self.t += 1000;
        let p = parse(LinkType::Ethernet, &f).unwrap();
        self.ev.extend(self.d.packet(self.t, &p));
        self
    }
    /// Hello, features (extended protocol), and the device's auth byte.
    fn hello(&mut self, auth: &[u8]) -> &mut Run {
        self.host(&MAGIC)
            .dev(&[0x00, 0x02])
            .host(&[0x07])
            .dev(&[0x48, 0x01])
            .dev(auth)
    }
    fn size(&mut self, n: u32) -> &mut Run {
        self.host(&[0x00]).host(&n.to_be_bytes())
    }
    fn get(&self, kind: &str) -> &Event {
        self.ev
            .iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}: {:#?}", self.ev))
    }
}

fn f<'a>(e: &'a Event, k: &str) -> &'a Value {
    e.fields.get(k).unwrap_or_else(|| panic!("no {k} in {e:?}"))
}

#[test]
fn successful_upload_without_password() {
    let mut r = Run::new(None);
    r.hello(&[0x41])
        .size(20000)
        .dev(&[0x42])
        .host(&[b'a'; 32])
        .dev(&[0x43]);
    for _ in 0..2 {
        r.host(&[0xE9; 8192]).dev(&[0x47]);
    }
    r.host(&[0xE9; 3616]).dev(&[0x47, 0x44, 0x45]).host(&[0x00]);
    r.host_flags(ACK | FIN, b"");
    assert_eq!(f(r.get("esphome.ota.start"), "version"), &2i64.into());
    assert_eq!(f(r.get("esphome.ota.auth"), "scheme"), &"none".into());
    assert_eq!(f(r.get("esphome.ota.begin"), "size"), &20000i64.into());
    let res = r.get("esphome.ota.result");
    assert_eq!(f(res, "verdict"), &"ok".into());
    assert_eq!(f(res, "bytes"), &20000i64.into());
    assert_eq!(f(res, "chunks_ok"), &3i64.into());
    assert_eq!(f(res, "closed_by"), &"host".into());
    let last =
        r.ev.iter()
            .rfind(|e| e.kind == "esphome.ota.progress")
            .unwrap();
    assert_eq!(f(last, "percent"), &100i64.into());
    assert!(r.ev.iter().all(|e| e.kind != "esphome.ota.error"));
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn auth_run(password: Option<&str>, used: &str, verdict: u8) -> Run {
    let mut r = Run::new(password);
    let nonce = "n".repeat(32);
    let cnonce = "c".repeat(32);
    let mut challenge = vec![0x01];
    challenge.extend_from_slice(nonce.as_bytes());
    r.hello(&challenge);
    r.host(cnonce.as_bytes());
    r.host(md5_hex(format!("{used}{nonce}{cnonce}").as_bytes()).as_bytes());
    r.dev(&[verdict]);
    r.dev_flags(ACK | FIN, b"");
    r
}

#[test]
fn auth_invalid_with_the_password_checked() {
    let r = auth_run(Some("right"), "wrong", 0x82);
    let a = r.get("esphome.ota.auth");
    assert_eq!(f(a, "result"), &"invalid".into());
    assert_eq!(f(a, "scheme"), &"md5".into());
    assert_eq!(f(a, "password_ok"), &false.into());
    let e = r.get("esphome.ota.error");
    assert_eq!(f(e, "error"), &"ERROR_AUTH_INVALID".into());
    assert_eq!(f(e, "cause_hint"), &"auth_failed".into());
    assert_eq!(f(e, "stage"), &"auth".into());
    assert_eq!(f(r.get("esphome.ota.result"), "verdict"), &"err".into());
    assert!(!serde_json::to_string(&r.ev).unwrap().contains("right"));

    let r = auth_run(Some("right"), "right", 0x41);
    assert_eq!(f(r.get("esphome.ota.auth"), "password_ok"), &true.into());
    let r = auth_run(None, "x", 0x41);
    assert!(r.get("esphome.ota.auth").field("password_ok").is_none());
}

fn refused_after_size(code: u8) -> Run {
    let mut r = Run::new(None);
    r.hello(&[0x41]).size(2_000_000).dev(&[code]);
    r.dev_flags(ACK | FIN, b"");
    r
}

#[test]
fn not_enough_space() {
    let r = refused_after_size(0x89);
    let e = r.get("esphome.ota.error");
    assert_eq!(f(e, "code"), &0x89i64.into());
    assert_eq!(f(e, "class"), &"partition_small".into());
    assert_eq!(f(e, "cause_hint"), &"insufficient_space".into());
    assert_eq!(f(e, "stage"), &"prepare".into());
    let r = refused_after_size(0x88);
    assert_eq!(
        f(r.get("esphome.ota.error"), "cause_hint"),
        &"insufficient_space".into()
    );
}

#[test]
fn wrong_flash_config() {
    let r = refused_after_size(0x86);
    let e = r.get("esphome.ota.error");
    assert_eq!(f(e, "error"), &"ERROR_WRONG_CURRENT_FLASH_CONFIG".into());
    assert_eq!(f(e, "cause_hint"), &"flash_config_mismatch".into());
    let res = r.get("esphome.ota.result");
    assert_eq!(f(res, "cause_hint"), &"flash_config_mismatch".into());
    assert_eq!(f(res, "closed_by"), &"device".into());
}

#[test]
fn missing_segments_are_skipped_and_counted() {
    let mut r = Run::new(None);
    r.hello(&[0x41])
        .size(10000)
        .dev(&[0x42])
        .host(&[b'a'; 32])
        .dev(&[0x43]);
    r.host(&[0; 4000]);
    r.up = r.up.wrapping_add(3000); // the capture missed 3000 bytes
    r.host(&[0; 3000]);
    r.dev_flags(ACK | FIN, &[0x8B]);
    let res = r.get("esphome.ota.result");
    assert_eq!(f(res, "missing_bytes"), &3000i64.into());
    assert_eq!(f(res, "bytes"), &10000i64.into());
    assert_eq!(f(res, "cause_hint"), &"md5_mismatch".into());
}

#[test]
fn other_traffic_on_the_ports_is_not_esphome() {
    let mut r = Run::new(None);
    r.host(b"GET / HTTP/1.1\r\n\r\n").dev(&[0x00, 0x02, 0x82]);
    r.host(&[0x6C, 0x26]); // half a magic, later in a stream: not a start
    assert!(r.ev.is_empty(), "{:#?}", r.ev);
    assert!(r.d.finish(10).is_empty());
}

#[test]
fn a_capture_cut_mid_upload_ends_incomplete() {
    let mut r = Run::new(None);
    r.hello(&[0x41])
        .size(10000)
        .dev(&[0x42])
        .host(&[b'a'; 32])
        .dev(&[0x43]);
    r.host(&[0; 1000]);
    let end = r.d.finish(99);
    assert_eq!(f(&end[0], "verdict"), &"incomplete".into());
    assert_eq!(f(&end[0], "how"), &"capture_end".into());
}

#[test]
fn sessions_are_capped() {
    let mut d = OtaDecoder::new();
    for i in 0..200u16 {
        let seg = tcp_seg(10000 + i, 3232, ACK, 1, 1, 100, &MAGIC);
        d.packet(
            0,
            &parse(LinkType::Ethernet, &frame(HOST, DEV, 6, &seg)).unwrap(),
        );
    }
    assert!(
        d.notes()
            .iter()
            .any(|n| n.contains("ESPHome OTA connections"))
    );
}
