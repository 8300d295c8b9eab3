//! Writes a large, deterministic classic pcap of mixed home-LAN traffic with ArduinoOTA
//! sessions embedded in it, for `bench/pcap.sh`. A benchmark workload, not a test: its
//! value is that the answer is known. Next to the pcap it writes `<out>.manifest`
//! (key=value lines) with what was generated: frames, sessions, outcomes.
//!
//! ```text
//! cargo run --release --example gen-pcap -- --out big.pcap [--size-mb 200] [--seed 1] [--sessions 150]
//! ```
//!
//! Traffic: OTA uploads from two developer PCs to a fleet of ESP8266/ESP32 devices (most
//! succeed; some invitations go unanswered, hit a closed port, are refused, time out on
//! the connect-back, or end with the device resetting mid-transfer), HTTP and TLS
//! downloads, DNS, mDNS, SSDP, NTP, RTP-like voice streams and ARP. Frames go to disk as
//! they are made; memory stays small whatever the size asked for.

use ota_doctor::decode::net::build;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};

// ---------------------------------------------------------------- randomness

/// SplitMix64: small, fast, and the same sequence on every platform, so a seed names
/// one exact file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn us(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Exponential gaps make Poisson arrivals.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    /// median · e^(σ·N(0,1)); the normal comes from Box–Muller.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        let n = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * n).exp()
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

// ---------------------------------------------------------------- frames

#[derive(Clone, Copy)]
struct Node {
    ip: [u8; 4],
    mac: [u8; 6],
}

const BROADCAST: [u8; 6] = [0xFF; 6];
const MDNS_MAC: [u8; 6] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB];
const MDNS_IP: [u8; 4] = [224, 0, 0, 251];
const SSDP_MAC: [u8; 6] = [0x01, 0x00, 0x5E, 0x7F, 0xFF, 0xFA];
const SSDP_IP: [u8; 4] = [239, 255, 255, 250];

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One's-complement sum of 16-bit words, as IP, UDP, TCP and ICMP checksums use.
fn sum16(mut acc: u64, b: &[u8]) -> u64 {
    let mut words = b.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

/// An Ethernet/IPv4 frame with real checksums and addresses. The layout comes from
/// `build::frame`; MACs, TTL and checksums are filled in here because the builder,
/// made for tests, leaves them zero.
fn ip_frame(
    src: (&[u8; 6], [u8; 4]),
    dst: (&[u8; 6], [u8; 4]),
    proto: u8,
    ttl: u8,
    mut l4: Vec<u8>,
) -> Vec<u8> {
    let at = match proto {
        6 => 16,
        17 => 6,
        _ => 2,
    };
    let mut acc = 0;
    if proto != 1 {
        acc = sum16(acc, &src.1);
        acc = sum16(acc, &dst.1);
        acc += u64::from(proto) + l4.len() as u64;
    }
    let mut c = fold(sum16(acc, &l4));
    if proto == 17 && c == 0 {
        c = 0xFFFF;
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    let mut f = build::frame(src.1, dst.1, proto, &l4);
    f[0..6].copy_from_slice(dst.0);
    f[6..12].copy_from_slice(src.0);
    f[22] = ttl;
    let c = fold(sum16(0, &f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f
}

/// A TCP segment with real sequence numbers: `build::tcp` fixes seq/ack at 1 and the
/// window at 4096, so those fields are overwritten.
fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, win: u16, data: &[u8]) -> Vec<u8> {
    let mut t = build::tcp(sport, dport, flags, data);
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[14..16].copy_from_slice(&win.to_be_bytes());
    t
}

fn arp(
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
    eth_dst: [u8; 6],
) -> Vec<u8> {
    let mut f = eth_dst.to_vec();
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f.resize(60, 0);
    f
}

/// A DNS name as labels, uncompressed.
fn dns_name(v: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
}

/// A DNS message: header, then questions (name, type), then records (name, type, data).
fn dns(id: u16, flags: u16, qs: &[(&str, u16)], rrs: &[(&str, u16, Vec<u8>)], ttl: u32) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend_from_slice(&flags.to_be_bytes());
    for n in [qs.len(), rrs.len(), 0, 0] {
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    for (name, ty) in qs {
        dns_name(&mut v, name);
        v.extend_from_slice(&ty.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
    }
    for (name, ty, data) in rrs {
        dns_name(&mut v, name);
        v.extend_from_slice(&ty.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
    }
    v
}

// ---------------------------------------------------------------- the network

const T0_US: i64 = 1_731_000_000_000_000; // November 2024

const NAMES: &[&str] = &[
    "github.com",
    "objects.githubusercontent.com",
    "registry.platformio.org",
    "dl.registry.platformio.org",
    "downloads.arduino.cc",
    "dl.espressif.com",
    "deb.debian.org",
    "security.debian.org",
    "static.rust-lang.org",
    "index.crates.io",
    "pypi.org",
    "files.pythonhosted.org",
    "www.youtube.com",
    "rr3---sn-4g5e6nzz.googlevideo.com",
    "api.openweathermap.org",
    "mqtt.home.arpa",
    "updates.home.arpa",
    "cdn.jsdelivr.net",
];

const MDNS_SERVICES: &[&str] = &[
    "_googlecast._tcp.local",
    "_airplay._tcp.local",
    "_spotify-connect._tcp.local",
    "_hap._tcp.local",
    "_ipp._tcp.local",
];

struct Net {
    gw: Node,
    uploaders: Vec<Node>,
    lan: Vec<Node>,
    devices: Vec<Node>,
    esp32: Vec<bool>,
    busy: Vec<bool>,
    servers: Vec<[u8; 4]>,
    ntp: Vec<[u8; 4]>,
}

fn mac(rng: &mut Rng, oui: [u8; 3]) -> [u8; 6] {
    let r = rng.next().to_be_bytes();
    [oui[0], oui[1], oui[2], r[0], r[1], r[2]]
}

fn public_ip(rng: &mut Rng) -> [u8; 4] {
    loop {
        let r = rng.next().to_be_bytes();
        let ip = [r[0], r[1], r[2], r[3].max(1)];
        let private = ip[0] == 10
            || ip[0] == 127
            || ip[0] >= 224
            || ip[0] == 0
            || (ip[0] == 192 && ip[1] == 168)
            || (ip[0] == 172 && (16..32).contains(&ip[1]))
            || (ip[0] == 169 && ip[1] == 254)
            || (ip[0] == 100 && (64..128).contains(&ip[1]));
        if !private {
            return ip;
        }
    }
}

impl Net {
    fn new(rng: &mut Rng) -> Net {
        let pc = [0x3C, 0x52, 0x82];
        let gw = Node {
            ip: [192, 168, 1, 1],
            mac: mac(rng, [0xE8, 0x48, 0xB8]),
        };
        let uploaders = (10..12)
            .map(|i| Node {
                ip: [192, 168, 1, i],
                mac: mac(rng, pc),
            })
            .collect();
        let lan = (20..46)
            .map(|i| Node {
                ip: [192, 168, 1, i],
                mac: mac(rng, [0xA4, 0x83, 0xE7]),
            })
            .collect();
        let mut devices = Vec::new();
        let mut esp32 = Vec::new();
        for i in 100..164 {
            let is32 = rng.chance(0.5);
            let oui = if is32 {
                [0x24, 0x0A, 0xC4]
            } else {
                [0x5C, 0xCF, 0x7F]
            };
            devices.push(Node {
                ip: [192, 168, 1, i],
                mac: mac(rng, oui),
            });
            esp32.push(is32);
        }
        let busy = vec![false; devices.len()];
        Net {
            gw,
            uploaders,
            lan,
            devices,
            esp32,
            busy,
            servers: (0..48).map(|_| public_ip(rng)).collect(),
            ntp: (0..4).map(|_| public_ip(rng)).collect(),
        }
    }

    fn device_name(&self, d: usize) -> String {
        let m = self.devices[d].mac;
        let chip = if self.esp32[d] { "esp32" } else { "esp8266" };
        format!("{chip}-{:02x}{:02x}{:02x}", m[3], m[4], m[5])
    }

    /// An unsolicited mDNS announcement of a device's ArduinoOTA service.
    fn announce(&self, d: usize) -> Vec<u8> {
        let dev = self.devices[d];
        let inst = format!("{}._arduino._tcp.local", self.device_name(d));
        let host = format!("{}.local", self.device_name(d));
        let port: u16 = if self.esp32[d] { 3232 } else { 8266 };
        let mut srv = vec![0, 0, 0, 0];
        srv.extend_from_slice(&port.to_be_bytes());
        dns_name(&mut srv, &host);
        let board = if self.esp32[d] {
            "esp32dev"
        } else {
            "nodemcuv2"
        };
        let mut txt = Vec::new();
        for kv in [
            format!("board={board}"),
            "tcp_check=no".into(),
            "ssh_upload=no".into(),
            "auth_upload=no".into(),
        ] {
            txt.push(kv.len() as u8);
            txt.extend_from_slice(kv.as_bytes());
        }
        let mut ptr = Vec::new();
        dns_name(&mut ptr, &inst);
        let msg = dns(
            0,
            0x8400,
            &[],
            &[
                ("_arduino._tcp.local", 12, ptr),
                (&inst, 33, srv),
                (&inst, 16, txt),
                (&host, 1, dev.ip.to_vec()),
            ],
            120,
        );
        ip_frame(
            (&dev.mac, dev.ip),
            (&MDNS_MAC, MDNS_IP),
            17,
            255,
            build::udp(5353, 5353, &msg),
        )
    }
}

// ---------------------------------------------------------------- flows

type Queue = VecDeque<(i64, Vec<u8>)>;

/// Shared by every flow: randomness, the network, and 256 KiB of noise to slice
/// payloads from.
struct Ctx {
    rng: Rng,
    net: Net,
    noise: Vec<u8>,
}

impl Ctx {
    fn noise(&mut self, n: usize) -> &[u8] {
        let at = self.rng.below((self.noise.len() - n) as u64) as usize;
        &self.noise[at..at + n]
    }
}

/// A conversation that makes packets a batch at a time. `more` appends the next batch,
/// every time at or after `now` (when the previous batch's last packet was written)
/// and in order; appending nothing ends the flow.
trait Flow {
    fn more(&mut self, cx: &mut Ctx, now: i64, q: &mut Queue);
}

/// A fixed handful of packets (DNS, ARP, NTP, SSDP, mDNS): built whole at spawn.
struct Burst(Option<Queue>);

impl Flow for Burst {
    fn more(&mut self, _: &mut Ctx, _: i64, q: &mut Queue) {
        if let Some(b) = self.0.take() {
            q.extend(b);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Outcome {
    Ok,
    /// Nothing listens and nothing answers (device asleep, wrong IP).
    NoAnswer,
    /// The device is up but its OTA port is closed: ICMP port unreachable.
    Unreachable,
    /// The device connects back but the host's port is closed: RST.
    Refused,
    /// The host's firewall drops the device's SYNs.
    ConnectTimeout,
    /// The device crashes part-way and resets the connection.
    Reset,
}

const OUTCOMES: [Outcome; 6] = [
    Outcome::Ok,
    Outcome::NoAnswer,
    Outcome::Unreachable,
    Outcome::Refused,
    Outcome::ConnectTimeout,
    Outcome::Reset,
];

#[derive(PartialEq)]
enum OtaStep {
    Invite,
    Connect,
    Data,
    Finish,
    Reboot,
    Done,
}

/// One espota-style upload: UDP invitation, the device's "OK", the device's TCP
/// connection back to the host's port, 1460-byte data segments from the host each
/// acknowledged with an ASCII byte count, then the device's final "OK".
struct Ota {
    host: Node,
    dev: usize,
    esp32: bool,
    outcome: Outcome,
    size: u64,
    md5: String,
    udp_port: u16,
    host_port: u16,
    dev_port: u16,
    invites: u32,
    step: OtaStep,
    sent: u64,
    reset_at: u64,
    seq_h: u32,
    seq_d: u32,
    window: u64,
    /// Device time per segment to write flash, µs.
    per_seg: (i64, i64),
}

impl Ota {
    fn host_frame(&self, cx: &Ctx, proto: u8, l4: Vec<u8>) -> Vec<u8> {
        let d = cx.net.devices[self.dev];
        ip_frame(
            (&self.host.mac, self.host.ip),
            (&d.mac, d.ip),
            proto,
            64,
            l4,
        )
    }
    fn dev_frame(&self, cx: &Ctx, proto: u8, l4: Vec<u8>) -> Vec<u8> {
        let d = cx.net.devices[self.dev];
        ip_frame(
            (&d.mac, d.ip),
            (&self.host.mac, self.host.ip),
            proto,
            255,
            l4,
        )
    }
    fn dev_tcp(&self, cx: &Ctx, flags: u8, data: &[u8]) -> Vec<u8> {
        let seg = tcp(
            self.dev_port,
            self.host_port,
            self.seq_d,
            self.seq_h,
            flags,
            5744,
            data,
        );
        self.dev_frame(cx, 6, seg)
    }
    fn host_tcp(&self, cx: &Ctx, flags: u8, data: &[u8]) -> Vec<u8> {
        let seg = tcp(
            self.host_port,
            self.dev_port,
            self.seq_h,
            self.seq_d,
            flags,
            64240,
            data,
        );
        self.host_frame(cx, 6, seg)
    }
    fn ota_port(&self) -> u16 {
        if self.esp32 { 3232 } else { 8266 }
    }
}

impl Flow for Ota {
    fn more(&mut self, cx: &mut Ctx, now: i64, q: &mut Queue) {
        let r = &mut cx.rng;
        match self.step {
            OtaStep::Invite => {
                let t = if self.invites == 0 {
                    now
                } else {
                    now + r.us(950_000, 1_050_000)
                };
                let msg = format!("0 {} {} {}\n", self.host_port, self.size, self.md5);
                let inv = build::udp(self.udp_port, self.ota_port(), msg.as_bytes());
                let inv = self.host_frame(cx, 17, inv);
                self.invites += 1;
                // The ESP32 flavour of espota retries the invitation; the ESP8266 one
                // waits once.
                let tries = if self.esp32 { 10 } else { 1 };
                match self.outcome {
                    Outcome::NoAnswer | Outcome::Unreachable => {
                        if self.outcome == Outcome::Unreachable {
                            let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
                            icmp.extend_from_slice(&inv[14..14 + 28]);
                            let dt = cx.rng.us(2_000, 9_000);
                            q.push_back((t, inv));
                            q.push_back((t + dt, self.dev_frame(cx, 1, icmp)));
                        } else {
                            q.push_back((t, inv));
                        }
                        if self.invites >= tries {
                            self.step = OtaStep::Done;
                        }
                    }
                    _ => {
                        let dt = cx.rng.us(3_000, 25_000);
                        let ok = build::udp(self.ota_port(), self.udp_port, b"OK");
                        q.push_back((t, inv));
                        q.push_back((t + dt, self.dev_frame(cx, 17, ok)));
                        self.step = OtaStep::Connect;
                    }
                }
            }
            OtaStep::Connect => {
                let t = now + r.us(20_000, 250_000);
                let syn = self.dev_tcp(cx, SYN, b"");
                q.push_back((t, syn.clone()));
                match self.outcome {
                    Outcome::Refused => {
                        let seg = tcp(
                            self.host_port,
                            self.dev_port,
                            0,
                            self.seq_d.wrapping_add(1),
                            RST | ACK,
                            0,
                            b"",
                        );
                        q.push_back((t + 90, self.host_frame(cx, 6, seg)));
                        self.step = OtaStep::Done;
                    }
                    Outcome::ConnectTimeout => {
                        // lwIP backs off 3 s, then 6 s; ArduinoOTA gives up after that.
                        let mut again = t;
                        for gap in [3_000_000, 6_000_000] {
                            again += gap + cx.rng.us(0, 20_000);
                            q.push_back((again, syn.clone()));
                        }
                        self.step = OtaStep::Done;
                    }
                    _ => {
                        self.seq_d = self.seq_d.wrapping_add(1);
                        let synack = tcp(
                            self.host_port,
                            self.dev_port,
                            self.seq_h,
                            self.seq_d,
                            SYN | ACK,
                            64240,
                            b"",
                        );
                        self.seq_h = self.seq_h.wrapping_add(1);
                        let t2 = t + cx.rng.us(60, 200);
                        q.push_back((t2, self.host_frame(cx, 6, synack)));
                        let t3 = t2 + cx.rng.us(2_000, 12_000);
                        q.push_back((t3, self.dev_tcp(cx, ACK, b"")));
                        self.step = OtaStep::Data;
                    }
                }
            }
            OtaStep::Data => {
                let first = self.sent == 0;
                let mut t = now + cx.rng.us(80, 400);
                let mut round = 0u64;
                for _ in 0..self.window {
                    let n = (self.size - self.sent).min(1460) as usize;
                    if n == 0 {
                        break;
                    }
                    let data = cx.noise(n).to_vec();
                    let f = self.host_tcp(cx, PSH | ACK, &data);
                    q.push_back((t, f));
                    self.seq_h = self.seq_h.wrapping_add(n as u32);
                    self.sent += n as u64;
                    round += n as u64;
                    t += cx.rng.us(8, 40);
                }
                let segs = round.div_ceil(1460) as i64;
                let mut work = segs * cx.rng.us(self.per_seg.0, self.per_seg.1);
                if first {
                    work += cx.rng.us(50_000, 300_000);
                }
                if cx.rng.chance(0.01) {
                    work += cx.rng.us(50_000, 400_000); // a Wi-Fi hiccup
                }
                t += work;
                if self.outcome == Outcome::Reset && self.sent >= self.reset_at {
                    q.push_back((t, self.dev_tcp(cx, RST | ACK, b"")));
                    self.step = OtaStep::Done;
                    return;
                }
                let count = round.to_string();
                q.push_back((t, self.dev_tcp(cx, PSH | ACK, count.as_bytes())));
                self.seq_d = self.seq_d.wrapping_add(count.len() as u32);
                if self.sent == self.size {
                    self.step = OtaStep::Finish;
                }
            }
            OtaStep::Finish => {
                // MD5 check and boot-partition switch, then "OK" and close.
                let (lo, hi) = if self.esp32 {
                    (100_000, 500_000)
                } else {
                    (200_000, 900_000)
                };
                let t = now + r.us(lo, hi);
                q.push_back((t, self.dev_tcp(cx, PSH | ACK, b"OK")));
                self.seq_d = self.seq_d.wrapping_add(2);
                q.push_back((t + 40, self.host_tcp(cx, ACK, b"")));
                let t = t + cx.rng.us(500, 3_000);
                q.push_back((t, self.dev_tcp(cx, FIN | ACK, b"")));
                self.seq_d = self.seq_d.wrapping_add(1);
                q.push_back((t + 50, self.host_tcp(cx, FIN | ACK, b"")));
                self.seq_h = self.seq_h.wrapping_add(1);
                let t = t + 50 + cx.rng.us(2_000, 10_000);
                q.push_back((t, self.dev_tcp(cx, ACK, b"")));
                self.step = OtaStep::Reboot;
            }
            OtaStep::Reboot => {
                // The new firmware boots, announces its address and its OTA service.
                let d = cx.net.devices[self.dev];
                let t = now + r.us(2_500_000, 6_000_000);
                q.push_back((t, arp(1, d.mac, d.ip, [0; 6], d.ip, BROADCAST)));
                let t = t + cx.rng.us(200_000, 1_000_000);
                q.push_back((t, cx.net.announce(self.dev)));
                self.step = OtaStep::Done;
            }
            OtaStep::Done => cx.net.busy[self.dev] = false,
        }
    }
}

/// A download from the internet over HTTP or TLS: handshake, request, MSS-sized
/// segments at the flow's rate with an ACK every two, and a FIN exchange.
struct Bulk {
    client: Node,
    server: [u8; 4],
    cport: u16,
    sport: u16,
    seq_c: u32,
    seq_s: u32,
    /// Server bytes still to send, and a buffer of the server's stream.
    left: u64,
    buf: Vec<u8>,
    pos: usize,
    tls: bool,
    seg_us: f64,
    rtt: i64,
    step: u8,
}

impl Bulk {
    fn c2s(&self, cx: &Ctx, flags: u8, data: &[u8]) -> Vec<u8> {
        let seg = tcp(
            self.cport, self.sport, self.seq_c, self.seq_s, flags, 64240, data,
        );
        ip_frame(
            (&self.client.mac, self.client.ip),
            (&cx.net.gw.mac, self.server),
            6,
            64,
            seg,
        )
    }
    fn s2c(&self, cx: &Ctx, flags: u8, data: &[u8]) -> Vec<u8> {
        let seg = tcp(
            self.sport, self.cport, self.seq_s, self.seq_c, flags, 65160, data,
        );
        ip_frame(
            (&cx.net.gw.mac, self.server),
            (&self.client.mac, self.client.ip),
            6,
            54,
            seg,
        )
    }
    /// The next `n` bytes of the server's stream: TLS application-data records of up
    /// to 16 KiB, or plain body bytes after the HTTP header.
    fn take(&mut self, cx: &mut Ctx, n: usize) -> Vec<u8> {
        while self.buf.len() - self.pos < n {
            if self.pos > 1 << 16 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            if self.tls {
                let len = cx.rng.range(1_000, 16_401) as usize;
                self.buf.extend_from_slice(&[0x17, 3, 3]);
                self.buf.extend_from_slice(&(len as u16).to_be_bytes());
                let chunk = cx.noise(len).to_vec();
                self.buf.extend_from_slice(&chunk);
            } else {
                let chunk = cx.noise(16_384).to_vec();
                self.buf.extend_from_slice(&chunk);
            }
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        out
    }
}

fn client_hello(cx: &mut Ctx, sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    let mut sn = vec![0];
    sn.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    sn.extend_from_slice(sni.as_bytes());
    let mut list = (sn.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&sn);
    ext.extend_from_slice(&[0, 0]);
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    ext.extend_from_slice(&[0x00, 0x2B, 0, 3, 2, 3, 4]); // supported_versions: TLS 1.3
    let mut body = vec![3, 3];
    body.extend_from_slice(cx.noise(32));
    body.push(32);
    body.extend_from_slice(cx.noise(32));
    body.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0xC0, 0x2F, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    record(0x16, 1, &body)
}

fn server_hello(cx: &mut Ctx) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(cx.noise(32));
    body.push(32);
    body.extend_from_slice(cx.noise(32));
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut ext = vec![0x00, 0x2B, 0, 2, 3, 4, 0x00, 0x33, 0, 36, 0, 0x1D, 0, 32];
    ext.extend_from_slice(cx.noise(32));
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut v = record(0x16, 2, &body);
    v.extend_from_slice(&[0x14, 3, 3, 0, 1, 1]); // change_cipher_spec, for middleboxes
    v
}

/// A TLS record holding one handshake message.
fn record(ct: u8, hs: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct, 3, 1];
    v.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    v.push(hs);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

impl Flow for Bulk {
    fn more(&mut self, cx: &mut Ctx, now: i64, q: &mut Queue) {
        match self.step {
            0 => {
                let name = *cx.rng.pick(NAMES);
                q.push_back((now, self.c2s(cx, SYN, b"")));
                self.seq_c = self.seq_c.wrapping_add(1);
                let t = now + self.rtt;
                let synack = tcp(
                    self.sport,
                    self.cport,
                    self.seq_s,
                    self.seq_c,
                    SYN | ACK,
                    65160,
                    b"",
                );
                let synack = ip_frame(
                    (&cx.net.gw.mac, self.server),
                    (&self.client.mac, self.client.ip),
                    6,
                    54,
                    synack,
                );
                q.push_back((t, synack));
                self.seq_s = self.seq_s.wrapping_add(1);
                q.push_back((t + 60, self.c2s(cx, ACK, b"")));
                let req = if self.tls {
                    client_hello(cx, name)
                } else {
                    let path = cx.rng.hex(16);
                    format!("GET /dist/{path}.tar.gz HTTP/1.1\r\nHost: {name}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n").into_bytes()
                };
                q.push_back((t + 150, self.c2s(cx, PSH | ACK, &req)));
                self.seq_c = self.seq_c.wrapping_add(req.len() as u32);
                let head = if self.tls {
                    server_hello(cx)
                } else {
                    format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", self.left).into_bytes()
                };
                self.left += head.len() as u64;
                self.buf = head;
                self.step = 1;
            }
            1 => {
                // Two segments, then the client's ACK.
                let mut t = now;
                for _ in 0..2 {
                    let n = self.left.min(1460) as usize;
                    if n == 0 {
                        break;
                    }
                    t += (self.seg_us * (0.7 + 0.6 * cx.rng.unit())) as i64 + 1;
                    let data = self.take(cx, n);
                    q.push_back((t, self.s2c(cx, ACK, &data)));
                    self.seq_s = self.seq_s.wrapping_add(n as u32);
                    self.left -= n as u64;
                }
                q.push_back((t + cx.rng.us(30, 120), self.c2s(cx, ACK, b"")));
                if self.left == 0 {
                    self.step = 2;
                }
            }
            2 => {
                let t = now + cx.rng.us(100, 2_000);
                q.push_back((t, self.s2c(cx, FIN | ACK, b"")));
                self.seq_s = self.seq_s.wrapping_add(1);
                let t = t + cx.rng.us(100, 50_000);
                q.push_back((t, self.c2s(cx, FIN | ACK, b"")));
                self.seq_c = self.seq_c.wrapping_add(1);
                q.push_back((t + self.rtt, self.s2c(cx, ACK, b"")));
                self.step = 3;
            }
            _ => {}
        }
    }
}

/// An RTP-like voice call: 172-byte datagrams every 20 ms in both directions between
/// a phone and a peer on the internet, on random high ports.
struct Voice {
    phone: Node,
    peer: [u8; 4],
    ports: (u16, u16),
    ssrc: (u32, u32),
    seq: u16,
    ticks: u32,
}

impl Flow for Voice {
    fn more(&mut self, cx: &mut Ctx, now: i64, q: &mut Queue) {
        if self.ticks == 0 {
            return;
        }
        self.ticks -= 1;
        self.seq = self.seq.wrapping_add(1);
        let rtp = |cx: &mut Ctx, ssrc: u32, seq: u16| {
            let mut v = vec![0x80, 0x00];
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            v.extend_from_slice(&ssrc.to_be_bytes());
            v.extend_from_slice(cx.noise(160));
            v
        };
        let out = rtp(cx, self.ssrc.0, self.seq);
        let inn = rtp(cx, self.ssrc.1, self.seq.wrapping_add(7));
        let t = now + cx.rng.us(19_000, 21_000);
        let gw = cx.net.gw.mac;
        q.push_back((
            t,
            ip_frame(
                (&self.phone.mac, self.phone.ip),
                (&gw, self.peer),
                17,
                64,
                build::udp(self.ports.0, self.ports.1, &out),
            ),
        ));
        q.push_back((
            t + cx.rng.us(200, 8_000),
            ip_frame(
                (&gw, self.peer),
                (&self.phone.mac, self.phone.ip),
                17,
                52,
                build::udp(self.ports.1, self.ports.0, &inn),
            ),
        ));
    }
}

// ---------------------------------------------------------------- spawning

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ota,
    Bulk,
    Dns,
    Mdns,
    Arp,
    Ssdp,
    Ntp,
    Voice,
}

struct Plan {
    outcome: Outcome,
    esp32: bool,
    size: u64,
}

fn image_size(rng: &mut Rng, esp32: bool) -> u64 {
    if esp32 {
        rng.range(750_000, 1_650_000)
    } else {
        rng.range(280_000, 620_000)
    }
}

fn plan(rng: &mut Rng) -> Plan {
    let p = rng.unit();
    let outcome = match p {
        p if p < 0.70 => Outcome::Ok,
        p if p < 0.78 => Outcome::NoAnswer,
        p if p < 0.84 => Outcome::Unreachable,
        p if p < 0.90 => Outcome::Refused,
        p if p < 0.94 => Outcome::ConnectTimeout,
        _ => Outcome::Reset,
    };
    let esp32 = rng.chance(0.5);
    Plan {
        outcome,
        esp32,
        size: image_size(rng, esp32),
    }
}

struct Generator {
    cx: Ctx,
    plans: VecDeque<Plan>,
    used: HashSet<(usize, u16)>,
    counts: [u64; 6],
    bulk_flows: u64,
}

impl Generator {
    fn spawn(&mut self, kind: Kind, t: i64) -> (Box<dyn Flow>, bool) {
        let cx = &mut self.cx;
        let r = &mut cx.rng;
        let flow: Box<dyn Flow> = match kind {
            Kind::Ota => {
                let mut p = self.plans.pop_front().expect("a plan per OTA spawn");
                let idle = |chip: Option<bool>| -> Vec<usize> {
                    (0..cx.net.devices.len())
                        .filter(|&d| !cx.net.busy[d] && chip.is_none_or(|c| cx.net.esp32[d] == c))
                        .collect()
                };
                let mut pool = idle(Some(p.esp32));
                if pool.is_empty() {
                    // Every device of that chip is busy: take another and its image.
                    pool = idle(None);
                    p.esp32 = !p.esp32;
                    p.size = image_size(r, p.esp32);
                }
                let dev = *r.pick(&pool);
                cx.net.busy[dev] = true;
                let host_port = loop {
                    let port = r.range(10_000, 60_000) as u16;
                    if self.used.insert((dev, port)) {
                        break port;
                    }
                };
                let idx = OUTCOMES.iter().position(|&o| o == p.outcome).unwrap_or(0);
                self.counts[idx] += 1;
                let window = if p.esp32 || r.chance(0.5) { 4 } else { 2 };
                let reset_at = r.range(p.size / 10, p.size * 9 / 10);
                Box::new(Ota {
                    host: *r.pick(&cx.net.uploaders),
                    dev,
                    esp32: p.esp32,
                    outcome: p.outcome,
                    size: p.size,
                    md5: r.hex(32),
                    udp_port: r.range(32_768, 60_999) as u16,
                    host_port,
                    dev_port: r.range(49_152, 65_535) as u16,
                    invites: 0,
                    step: OtaStep::Invite,
                    sent: 0,
                    reset_at,
                    seq_h: r.next() as u32,
                    seq_d: r.next() as u32,
                    window,
                    per_seg: if p.esp32 {
                        (4_000, 9_000)
                    } else {
                        (12_000, 22_000)
                    },
                })
            }
            Kind::Bulk => {
                self.bulk_flows += 1;
                let size = r.lognormal(400_000.0, 1.4).clamp(2_000.0, 40e6) as u64;
                let rate = r.lognormal(3e6, 0.7).clamp(300e3, 12e6); // bytes/s
                let sport = if r.chance(0.75) { 443 } else { 80 };
                Box::new(Bulk {
                    client: *r.pick(&cx.net.lan),
                    server: *r.pick(&cx.net.servers),
                    cport: r.range(32_768, 60_999) as u16,
                    sport,
                    seq_c: r.next() as u32,
                    seq_s: r.next() as u32,
                    left: size,
                    buf: Vec::new(),
                    pos: 0,
                    tls: sport == 443,
                    seg_us: 1460.0 / rate * 1e6,
                    rtt: r.us(8_000, 90_000),
                    step: 0,
                })
            }
            Kind::Voice => Box::new(Voice {
                phone: *r.pick(&cx.net.lan),
                peer: public_ip(r),
                ports: (
                    r.range(16_384, 32_767) as u16,
                    r.range(10_000, 60_000) as u16,
                ),
                ssrc: (r.next() as u32, r.next() as u32),
                seq: r.next() as u16,
                ticks: r.range(500, 4_500) as u32,
            }),
            _ => Box::new(Burst(Some(burst(cx, kind, t)))),
        };
        (flow, kind == Kind::Ota)
    }
}

/// The packets of one small exchange, starting at `t`.
fn burst(cx: &mut Ctx, kind: Kind, t: i64) -> Queue {
    let mut q = Queue::new();
    let r = &mut cx.rng;
    let net = &cx.net;
    match kind {
        Kind::Dns => {
            let c = *r.pick(&net.lan);
            let name = *r.pick(NAMES);
            let port = r.range(32_768, 60_999) as u16;
            let mut dt = 0;
            for ty in [1u16, 28] {
                let id = r.next() as u16;
                let query = dns(id, 0x0100, &[(name, ty)], &[], 0);
                q.push_back((
                    t + dt,
                    ip_frame(
                        (&c.mac, c.ip),
                        (&net.gw.mac, net.gw.ip),
                        17,
                        64,
                        build::udp(port, 53, &query),
                    ),
                ));
                let data = if ty == 1 {
                    public_ip(r).to_vec()
                } else {
                    let mut v = vec![0x26, 0x06, 0x47, 0x00];
                    v.extend_from_slice(&r.next().to_be_bytes()[..4]);
                    v.extend_from_slice(&r.next().to_be_bytes());
                    v
                };
                let ttl = r.range(30, 3600) as u32;
                let answer = dns(id, 0x8180, &[(name, ty)], &[(name, ty, data)], ttl);
                let back = r.us(1_000, 40_000);
                q.push_back((
                    t + dt + back,
                    ip_frame(
                        (&net.gw.mac, net.gw.ip),
                        (&c.mac, c.ip),
                        17,
                        64,
                        build::udp(53, port, &answer),
                    ),
                ));
                dt += back + r.us(50, 500);
            }
        }
        Kind::Mdns => {
            // Someone browses for a service; for _arduino._tcp some devices answer.
            let arduino = r.chance(0.4);
            let asker = if arduino {
                *r.pick(&net.uploaders)
            } else {
                *r.pick(&net.lan)
            };
            let svc = if arduino {
                "_arduino._tcp.local"
            } else {
                *r.pick(MDNS_SERVICES)
            };
            let query = dns(0, 0, &[(svc, 12)], &[], 0);
            q.push_back((
                t,
                ip_frame(
                    (&asker.mac, asker.ip),
                    (&MDNS_MAC, MDNS_IP),
                    17,
                    255,
                    build::udp(5353, 5353, &query),
                ),
            ));
            if arduino {
                let mut dt = 0;
                for _ in 0..r.range(1, 4) {
                    let d = r.below(net.devices.len() as u64) as usize;
                    dt += r.us(20_000, 120_000);
                    q.push_back((t + dt, net.announce(d)));
                }
            }
        }
        Kind::Arp => {
            let who = *r.pick(&net.lan);
            let target = if r.chance(0.5) {
                net.gw
            } else {
                *r.pick(&net.devices)
            };
            q.push_back((t, arp(1, who.mac, who.ip, [0; 6], target.ip, BROADCAST)));
            q.push_back((
                t + r.us(300, 6_000),
                arp(2, target.mac, target.ip, who.mac, who.ip, who.mac),
            ));
        }
        Kind::Ssdp => {
            let tv = *r.pick(&net.lan);
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                r.hex(8),
                r.hex(4),
                r.hex(4),
                r.hex(4),
                r.hex(12)
            );
            let mut dt = 0;
            for nt in [
                "upnp:rootdevice",
                "urn:schemas-upnp-org:device:MediaRenderer:1",
                "urn:schemas-upnp-org:service:AVTransport:1",
            ] {
                let msg = format!(
                    "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://{}.{}.{}.{}:49152/description.xml\r\nNT: {nt}\r\nNTS: ssdp:alive\r\nSERVER: Linux/4.9 UPnP/1.0 TV/1.0\r\nUSN: uuid:{uuid}::{nt}\r\n\r\n",
                    tv.ip[0], tv.ip[1], tv.ip[2], tv.ip[3]
                );
                q.push_back((
                    t + dt,
                    ip_frame(
                        (&tv.mac, tv.ip),
                        (&SSDP_MAC, SSDP_IP),
                        17,
                        4,
                        build::udp(49_152, 1900, msg.as_bytes()),
                    ),
                ));
                dt += r.us(1_000, 5_000);
            }
        }
        Kind::Ntp => {
            let c = if r.chance(0.5) {
                *r.pick(&net.devices)
            } else {
                *r.pick(&net.lan)
            };
            let server = *r.pick(&net.ntp);
            let mut req = vec![0x23, 0, 6, 0xEC];
            req.resize(40, 0);
            req.extend_from_slice(&r.next().to_be_bytes());
            let mut resp = vec![0x24, 2, 6, 0xE9];
            resp.extend_from_slice(&r.next().to_be_bytes());
            resp.extend_from_slice(&r.next().to_be_bytes()[..4]);
            resp.extend_from_slice(&req[40..48]);
            resp.extend_from_slice(&r.next().to_be_bytes());
            resp.extend_from_slice(&r.next().to_be_bytes());
            resp.extend_from_slice(&r.next().to_be_bytes());
            resp.truncate(48);
            let port = if r.chance(0.5) {
                123
            } else {
                r.range(32_768, 60_999) as u16
            };
            q.push_back((
                t,
                ip_frame(
                    (&c.mac, c.ip),
                    (&net.gw.mac, server),
                    17,
                    64,
                    build::udp(port, 123, &req),
                ),
            ));
            q.push_back((
                t + r.us(8_000, 60_000),
                ip_frame(
                    (&net.gw.mac, server),
                    (&c.mac, c.ip),
                    17,
                    55,
                    build::udp(123, port, &resp),
                ),
            ));
        }
        Kind::Ota | Kind::Bulk | Kind::Voice => {}
    }
    q
}

// ---------------------------------------------------------------- output

struct Out {
    w: BufWriter<File>,
    bytes: u64,
    frames: u64,
    ip_frames: u64,
    icmp_frames: u64,
    last: i64,
}

impl Out {
    /// One record in the layout `build::pcap` writes (µs timestamps, little-endian).
    fn put(&mut self, t: i64, f: &[u8]) -> std::io::Result<()> {
        assert!(t >= self.last, "timestamps must not go backwards");
        self.last = t;
        let len = (f.len() as u32).to_le_bytes();
        self.w.write_all(&((t / 1_000_000) as u32).to_le_bytes())?;
        self.w.write_all(&((t % 1_000_000) as u32).to_le_bytes())?;
        self.w.write_all(&len)?;
        self.w.write_all(&len)?;
        self.w.write_all(f)?;
        self.bytes += 16 + f.len() as u64;
        self.frames += 1;
        if f[12..14] == [0x08, 0x00] {
            self.ip_frames += 1;
            self.icmp_frames += u64::from(f[23] == 1);
        }
        Ok(())
    }
}

struct Args {
    out: String,
    size_mb: u64,
    seed: u64,
    sessions: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        out: String::new(),
        size_mb: 200,
        seed: 1,
        sessions: 150,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        let num = |s: String| s.parse::<u64>().map_err(|e| format!("{k}: {e}"));
        match k.as_str() {
            "--out" => a.out = v()?,
            "--size-mb" => a.size_mb = num(v()?)?,
            "--seed" => a.seed = num(v()?)?,
            "--sessions" => a.sessions = num(v()?)? as usize,
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if a.out.is_empty() {
        return Err(
            "usage: gen-pcap --out FILE [--size-mb 200] [--seed 1] [--sessions 150]".into(),
        );
    }
    Ok(a)
}

fn main() {
    let a = args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    if let Err(e) = run(&a) {
        eprintln!("gen-pcap: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> std::io::Result<()> {
    let target = a.size_mb * 1_000_000;
    let mut rng = Rng(a.seed);
    let net = Net::new(&mut rng);
    let noise = (0..1 << 15)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    let plans: VecDeque<Plan> = (0..a.sessions).map(|_| plan(&mut rng)).collect();

    // Pace the background so that the OTA sessions, one every OTA_GAP_S on average,
    // spread over the whole file instead of bunching at its start or end.
    const OTA_GAP_S: f64 = 4.0;
    let ota_bytes: f64 = plans
        .iter()
        .map(|p| match p.outcome {
            Outcome::Ok => p.size as f64 * 1.05,
            Outcome::Reset => p.size as f64 * 0.5,
            _ => 0.0,
        })
        .sum();
    let span_s = (a.sessions as f64 * OTA_GAP_S).max(60.0);
    // Calls last 2,500 ticks of 20 ms on average, one every 45 s; 100 frames/s of
    // about 230 bytes each while one is up.
    let voice_bytes = span_s * (2_500.0 * 0.02 / 45.0) * 100.0 * 230.0;
    let bulk_bytes = (target as f64 - ota_bytes - voice_bytes).max(target as f64 * 0.2);
    let bulk_mean = 400_000.0 * (1.4f64 * 1.4 / 2.0).exp();
    let bulk_gap_s = span_s / (bulk_bytes / bulk_mean).max(1.0);

    let mut g = Generator {
        cx: Ctx { rng, net, noise },
        plans,
        used: HashSet::new(),
        counts: [0; 6],
        bulk_flows: 0,
    };
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, File::create(&a.out)?),
        bytes: 24,
        frames: 0,
        ip_frames: 0,
        icmp_frames: 0,
        last: T0_US,
    };
    out.w.write_all(&build::pcap(&[]))?;

    // Arrival processes: (kind, mean gap in seconds, next arrival).
    let mut procs: Vec<(Kind, f64, i64)> = [
        (Kind::Ota, OTA_GAP_S),
        (Kind::Bulk, bulk_gap_s),
        (Kind::Dns, 0.4),
        (Kind::Mdns, 4.0),
        (Kind::Arp, 1.5),
        (Kind::Ssdp, 15.0),
        (Kind::Ntp, 8.0),
        (Kind::Voice, 45.0),
    ]
    .into_iter()
    .map(|(k, gap)| (k, gap, T0_US + (g.cx.rng.exp(gap) * 1e6) as i64))
    .collect();

    struct Active {
        flow: Box<dyn Flow>,
        q: Queue,
        ota: bool,
    }
    let mut slots: Vec<Option<Active>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut tie = 0u64;
    let (mut ota_spawned, mut ota_active) = (0usize, 0usize);

    loop {
        let done_spawning = ota_spawned == a.sessions;
        if done_spawning && ota_active == 0 && out.bytes >= target {
            break;
        }
        let (pi, next_spawn) = procs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.0 != Kind::Ota || !done_spawning)
            .map(|(i, p)| (i, p.2))
            .min_by_key(|&(_, t)| t)
            .expect("background processes never stop");
        let next_pkt = heap.peek().map(|Reverse((t, _, _))| *t);
        if next_pkt.is_none_or(|t| next_spawn <= t) {
            let kind = procs[pi].0;
            procs[pi].2 += (g.cx.rng.exp(procs[pi].1) * 1e6) as i64 + 1;
            if kind == Kind::Ota && !g.cx.net.busy.iter().any(|b| !b) {
                continue;
            }
            let (mut flow, ota) = g.spawn(kind, next_spawn);
            let mut q = Queue::new();
            flow.more(&mut g.cx, next_spawn, &mut q);
            if ota {
                ota_spawned += 1;
            }
            let Some(&(t, _)) = q.front() else { continue };
            ota_active += usize::from(ota);
            let slot = free.pop().unwrap_or_else(|| {
                slots.push(None);
                slots.len() - 1
            });
            slots[slot] = Some(Active { flow, q, ota });
            tie += 1;
            heap.push(Reverse((t, tie, slot)));
            continue;
        }
        let Reverse((t, _, slot)) = heap.pop().expect("peeked");
        let act = slots[slot].as_mut().expect("live slot");
        let (_, frame) = act.q.pop_front().expect("queued packet");
        out.put(t, &frame)?;
        if act.q.is_empty() {
            act.flow.more(&mut g.cx, t, &mut act.q);
        }
        if let Some(&(next, _)) = act.q.front() {
            tie += 1;
            heap.push(Reverse((next, tie, slot)));
        } else {
            // Its last `more` appended nothing (and let go of what it held).
            ota_active -= usize::from(act.ota);
            slots[slot] = None;
            free.push(slot);
        }
    }
    out.w.flush()?;
    drop(out.w);

    let c = g.counts;
    let manifest = format!(
        "seed={}\nsize_mb={}\nsessions={}\nbytes={}\nframes={}\nip_frames={}\nicmp_frames={}\nota_ok={}\nota_no_answer={}\nota_unreachable={}\nota_refused={}\nota_connect_timeout={}\nota_reset={}\nbulk_flows={}\nduration_s={:.1}\n",
        a.seed,
        a.size_mb,
        a.sessions,
        out.bytes,
        out.frames,
        out.ip_frames,
        out.icmp_frames,
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        g.bulk_flows,
        (out.last - T0_US) as f64 / 1e6,
    );
    std::fs::write(format!("{}.manifest", a.out), &manifest)?;
    print!("{manifest}");
    Ok(())
}
