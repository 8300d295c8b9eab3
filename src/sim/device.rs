//! The board's UDP side: ArduinoOTA's `_onRx` state machine (idle → wait-auth →
//! run-update) and the sketch's `loop()` that calls `handle()`.

use super::console::Console;
use super::proto::{self, AuthMsg, Invitation, Rejected};
use super::scenario::{Chip, Esp8266Core, Layout, Scenario};
use super::{SessionOutcome, SessionRecord, Shared, update};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Everything the device code needs; cloned into the device thread.
pub struct Device {
    pub chip: Chip,
    pub scenario: Scenario,
    pub core: Esp8266Core,
    pub password: Option<String>,
    pub layout: Layout,
    pub stall: Duration,
    pub ip: String,
    pub port: u16,
    pub console: Console,
    pub shared: Shared,
}

enum State {
    Idle,
    WaitAuth {
        inv: Invitation,
        nonce: String,
        src: SocketAddr,
    },
    Run {
        inv: Invitation,
        src: SocketAddr,
    },
}

/// ESP UDP buffers hold one MSS; anything longer is cut, never a reason to fail.
const UDP_BUF: usize = 1460;

impl Device {
    pub fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// `delay()` that still notices `stop()`; false when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = std::time::Instant::now() + d;
        while std::time::Instant::now() < end {
            if self.stopped() {
                return false;
            }
            std::thread::sleep((end - std::time::Instant::now()).min(Duration::from_millis(50)));
        }
        !self.stopped()
    }

    pub fn record(&self, r: SessionRecord) {
        let (lock, cv) = &*self.shared.sessions;
        if let Ok(mut v) = lock.lock() {
            v.push(r);
        }
        cv.notify_all();
    }

    /// The BasicOTA `onError` callback's line.
    pub fn ota_error(&self, code: u8) {
        let name = ["Auth", "Begin", "Connect", "Receive", "End"][code as usize % 5];
        self.console.line(&format!("Error[{code}]: {name} Failed"));
    }

    pub fn run(self, sock: UdpSocket) {
        let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
        let mut state = State::Idle;
        let mut buf = vec![0u8; UDP_BUF];
        while !self.stopped() {
            if self.shared.hung.load(Ordering::Relaxed) || self.handle_starved() {
                self.sleep(Duration::from_millis(100));
                continue;
            }
            state = match state {
                State::Run { inv, src } if !self.busy_loop() => {
                    self.run_update(&sock, inv, src);
                    State::Idle
                }
                s => match sock.recv_from(&mut buf) {
                    Ok((n, src)) => self.on_rx(&sock, s, &buf[..n], src),
                    Err(_) => s,
                },
            };
        }
    }

    /// The sketch's loop() blocks, so `ArduinoOTA.handle()` is never called.
    fn busy_loop(&self) -> bool {
        self.scenario == Scenario::BlockingLoop
    }

    /// ESP32 reads its UDP socket only from `handle()`; ESP8266 reads it in the lwIP
    /// callback, so a blocked loop still answers `AUTH` there (protocol.md §6).
    fn handle_starved(&self) -> bool {
        self.busy_loop() && self.chip == Chip::Esp32
    }

    fn run_update(&self, sock: &UdpSocket, inv: Invitation, src: SocketAddr) {
        self.shared.sketch_running.store(false, Ordering::Relaxed);
        update::run(self, sock, inv, src);
        self.shared.sketch_running.store(true, Ordering::Relaxed);
    }

    fn on_rx(&self, sock: &UdpSocket, state: State, data: &[u8], src: SocketAddr) -> State {
        match state {
            State::Idle => self.on_invitation(sock, data, src),
            State::WaitAuth {
                inv,
                nonce,
                src: inv_src,
            } => self.on_auth(sock, inv, &nonce, inv_src, data, src),
            // While an update is pending the core drops further datagrams.
            run => run,
        }
    }

    fn on_invitation(&self, sock: &UdpSocket, data: &[u8], src: SocketAddr) -> State {
        let inv = match proto::parse_invitation(data) {
            Ok(inv) => inv,
            Err(Rejected::Md5Length) => {
                self.console
                    .log('E', "ArduinoOTA.cpp", 175, "_onRx", "bad md5 length");
                return State::Idle;
            }
            Err(Rejected::Command(_)) => return State::Idle,
        };
        if self.password.is_some() {
            // The board hashes micros() for its nonce.
            let nonce = proto::md5_hex(self.console.micros().to_string().as_bytes());
            let _ = sock.send_to(format!("AUTH {nonce}").as_bytes(), src);
            return State::WaitAuth { inv, nonce, src };
        }
        if self.ok_before_begin() {
            let _ = sock.send_to(b"OK", src);
        }
        State::Run { inv, src }
    }

    /// ESP32 and old ESP8266 cores answer `OK` before trying `Update.begin()`; ESP8266
    /// ≥2.4.0 answers only after it, so it can send `ERR: …` instead.
    pub fn ok_before_begin(&self) -> bool {
        self.chip == Chip::Esp32 || self.core == Esp8266Core::V2_3
    }

    fn on_auth(
        &self,
        sock: &UdpSocket,
        inv: Invitation,
        nonce: &str,
        inv_src: SocketAddr,
        data: &[u8],
        src: SocketAddr,
    ) -> State {
        let (cnonce, response) = match proto::parse_auth(data) {
            AuthMsg::Answer { cnonce, response } => (cnonce, response),
            AuthMsg::NotAuth(got) => {
                let msg = format!("200 was expected. got {got} instead");
                self.console.log('E', "ArduinoOTA.cpp", 200, "_onRx", &msg);
                return State::Idle;
            }
            AuthMsg::BadParams => {
                self.console
                    .log('E', "ArduinoOTA.cpp", 211, "_onRx", "auth param fail");
                return State::Idle;
            }
        };
        // ESP8266 answers to the invitation's port, ESP32 to the auth datagram's source.
        let reply_to = if self.chip == Chip::Esp8266 {
            inv_src
        } else {
            src
        };
        let pw = self.password.as_deref().unwrap_or_default();
        if !proto::auth_ok(pw, nonce, &cnonce, &response) {
            let _ = sock.send_to(b"Authentication Failed", reply_to);
            self.console
                .log('W', "ArduinoOTA.cpp", 226, "_onRx", "Authentication Failed");
            self.ota_error(0);
            self.record(SessionRecord::new(&inv, SessionOutcome::AuthFailed));
            return State::Idle;
        }
        if self.ok_before_begin() {
            let _ = sock.send_to(b"OK", reply_to);
        }
        State::Run { inv, src: inv_src }
    }
}
