use super::*;
use crate::decode::net::build::{frame, tcp as tcp_bytes, tcp_seg, udp as udp_bytes};
use crate::decode::net::packet::{ACK, FIN, RST, SYN, parse};
use crate::decode::net::pcap::LinkType;
use crate::event::Value;

const HOST: [u8; 4] = [10, 0, 0, 1];
const DEV: [u8; 4] = [10, 0, 0, 2];
const MD5: &str = "0123456789abcdef0123456789abcdef";
const ISN: u32 = 1000;

fn feed(d: &mut OtaDecoder, t: i64, f: Vec<u8>) -> Vec<Event> {
    d.packet(t, &parse(LinkType::Ethernet, &f).unwrap())
}

fn udp(
    d: &mut OtaDecoder,
    t: i64,
    from_host: bool,
    sport: u16,
    dport: u16,
    p: &[u8],
) -> Vec<Event> {
    let (a, b) = if from_host { (HOST, DEV) } else { (DEV, HOST) };
    feed(d, t, frame(a, b, 17, &udp_bytes(sport, dport, p)))
}

/// Host → device segment carrying bytes at offset `off` of the upload.
fn data(d: &mut OtaDecoder, t: i64, off: u32, len: usize) -> Vec<Event> {
    let seg = tcp_seg(40000, 51000, ACK, ISN + 1 + off, 1, 4096, &vec![0xE9; len]);
    feed(d, t, frame(HOST, DEV, 6, &seg))
}

/// Device → host segment acknowledging `acked` bytes with `window`.
fn dev(d: &mut OtaDecoder, t: i64, flags: u8, acked: u32, window: u16, p: &[u8]) -> Vec<Event> {
    let seg = tcp_seg(51000, 40000, flags, 1, ISN + 1 + acked, window, p);
    feed(d, t, frame(DEV, HOST, 6, &seg))
}

fn invite(d: &mut OtaDecoder, t: i64, sport: u16, size: u64) -> Vec<Event> {
    udp(
        d,
        t,
        true,
        sport,
        3232,
        format!("0 40000 {size} {MD5}\n").as_bytes(),
    )
}

fn connect(d: &mut OtaDecoder, t: i64) -> Vec<Event> {
    let mut ev = feed(
        d,
        t,
        frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
    );
    let synack = tcp_seg(40000, 51000, SYN | ACK, ISN, 1, 4096, b"");
    ev.extend(feed(d, t + 1000, frame(HOST, DEV, 6, &synack)));
    ev
}

fn find<'a>(ev: &'a [Event], kind: &str) -> &'a Event {
    ev.iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} in {ev:#?}"))
}

fn f<'a>(e: &'a Event, k: &str) -> &'a Value {
    e.fields.get(k).unwrap_or_else(|| panic!("no {k} in {e:?}"))
}

#[test]
fn a_successful_session() {
    let mut d = OtaDecoder::new();
    let mut ev = invite(&mut d, 0, 50000, 3000);
    ev.extend(udp(&mut d, 1, false, 3232, 50000, b"OK"));
    ev.extend(connect(&mut d, 2));
    for i in 0..3 {
        ev.extend(data(&mut d, 1_000_000 + i * 1000, (i * 1000) as u32, 1000));
    }
    ev.extend(dev(&mut d, 1_010_000, ACK, 2000, 4096, b"10001000"));
    ev.extend(dev(&mut d, 1_011_000, ACK | FIN, 3000, 4096, b"1000OK"));
    let kinds: Vec<&str> = ev.iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds[..4],
        ["ota.invite", "ota.reply", "tcp.connect", "ota.progress"]
    );
    let res = find(&ev, "ota.result");
    assert_eq!(f(res, "verdict"), &"ok".into());
    assert_eq!(f(res, "closed_by"), &"device".into());
    assert_eq!(f(res, "complete"), &true.into());
    assert_eq!(
        f(
            ev.iter().rfind(|e| e.kind == "ota.progress").unwrap(),
            "percent"
        ),
        &100i64.into()
    );
    let tr = find(&ev, "ota.transfer");
    assert_eq!(f(tr, "bytes_sent"), &3000i64.into());
    assert_eq!(f(tr, "bytes_acked"), &3000i64.into());
    assert_eq!(f(tr, "retransmits"), &0i64.into());
    assert_eq!(f(tr, "rate_bps"), &1_500_000i64.into());
    assert_eq!(f(tr, "device_counts_merged"), &true.into());
    assert_eq!(f(find(&ev, "tcp.connect"), "latency_ms"), &1i64.into());
}

#[test]
fn invitation_retries_are_one_attempt() {
    let mut d = OtaDecoder::new();
    for i in 0..3 {
        let e = invite(&mut d, i * 10_000_000, 50000 + i as u16, 10);
        assert_eq!(f(&e[0], "try"), &(i + 1).into());
        assert_eq!(f(&e[0], "attempt"), &1i64.into());
    }
    udp(&mut d, 30_000_001, false, 3232, 50002, b"OK");
    // After an answer, the same invitation is a new attempt.
    assert_eq!(
        f(&invite(&mut d, 40_000_000, 50003, 10)[0], "attempt"),
        &2i64.into()
    );
}

fn auth_flow(pw: Option<&str>, nonce: &str, answer_pw: &str) -> Vec<Event> {
    let opts = Options {
        password: pw.map(Password::new),
    };
    let mut d = OtaDecoder::with_options(opts);
    let mut ev = invite(&mut d, 0, 50000, 10);
    ev.extend(udp(
        &mut d,
        1,
        false,
        8266,
        50000,
        format!("AUTH {nonce}").as_bytes(),
    ));
    // The fixture uses port 8266 for replies: make the invite match.
    let mut d2 = OtaDecoder::with_options(Options {
        password: pw.map(Password::new),
    });
    ev = udp(
        &mut d2,
        0,
        true,
        50000,
        8266,
        format!("0 40000 10 {MD5}\n").as_bytes(),
    );
    ev.extend(udp(
        &mut d2,
        1000,
        false,
        8266,
        50000,
        format!("AUTH {nonce}").as_bytes(),
    ));
    let cnonce = "c".repeat(32);
    let resp = legacy_answer(answer_pw, &nonce[..32], &cnonce);
    ev.extend(udp(
        &mut d2,
        2000,
        true,
        50000,
        8266,
        format!("200 {cnonce} {resp}\n").as_bytes(),
    ));
    ev.extend(udp(
        &mut d2,
        3000,
        false,
        8266,
        50000,
        b"Authentication Failed",
    ));
    ev
}

fn legacy_answer(pw: &str, nonce: &str, cnonce: &str) -> String {
    use md5::{Digest, Md5};
    let h = |b: &[u8]| {
        Md5::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    h(format!("{}:{nonce}:{cnonce}", h(pw.as_bytes())).as_bytes())
}

#[test]
fn auth_answer_checked_against_the_password() {
    let nonce = "a".repeat(32);
    let ev = auth_flow(Some("admin"), &nonce, "admin");
    let a = find(&ev, "ota.auth");
    assert_eq!(f(a, "password_ok"), &true.into());
    assert_eq!(f(a, "scheme_mismatch"), &false.into());
    let r = find(&ev, "ota.reply");
    assert_eq!(f(r, "scheme"), &"md5".into());
    assert_eq!(f(r, "nonce"), &nonce.as_str().into());
    let last = ev.iter().rfind(|e| e.kind == "ota.reply").unwrap();
    assert_eq!(f(last, "verdict"), &"auth_failed".into());
    assert_eq!(f(last, "phase"), &"auth".into());

    let ev = auth_flow(Some("admin"), &nonce, "wrong");
    assert_eq!(f(find(&ev, "ota.auth"), "password_ok"), &false.into());
    let ev = auth_flow(None, &nonce, "admin");
    assert!(find(&ev, "ota.auth").field("password_ok").is_none());
}

#[test]
fn old_tool_answering_a_long_challenge_is_a_scheme_mismatch() {
    let ev = auth_flow(Some("admin"), &"b".repeat(64), "admin");
    let a = find(&ev, "ota.auth");
    assert_eq!(f(a, "scheme_mismatch"), &true.into());
    assert_eq!(f(a, "password_ok"), &true.into());
}

#[test]
fn the_password_never_appears_in_events() {
    let ev = auth_flow(Some("s3cr3t-pw"), &"a".repeat(32), "s3cr3t-pw");
    let all = serde_json::to_string(&ev).unwrap();
    assert!(!all.contains("s3cr3t-pw"));
}

#[test]
fn nonce_of_the_wrong_length() {
    let mut d = OtaDecoder::with_options(Options {
        password: Some(Password::new("x")),
    });
    invite(&mut d, 0, 50000, 10);
    let r = udp(&mut d, 1, false, 3232, 50000, b"AUTH 12345");
    assert_eq!(f(&r[0], "scheme"), &"invalid".into());
    assert_eq!(f(&r[0], "nonce_len"), &5i64.into());
    assert!(r[0].field("nonce").is_none());
    let a = udp(
        &mut d,
        2,
        true,
        50000,
        3232,
        format!("200 {MD5} {MD5}\n").as_bytes(),
    );
    assert!(a[0].field("password_ok").is_none());
    assert!(d.notes().iter().any(|n| n.contains("could not be checked")));
}

#[test]
fn err_reply_carries_code_and_cause() {
    let mut d = OtaDecoder::new();
    invite(&mut d, 0, 50000, 10);
    let r = udp(
        &mut d,
        1,
        false,
        3232,
        50000,
        b"ERR: ERROR[4]: Not Enough Space\n",
    );
    assert_eq!(f(&r[0], "verdict"), &"err".into());
    assert_eq!(f(&r[0], "error_code"), &4i64.into());
    assert_eq!(f(&r[0], "cause_hint"), &"insufficient_space".into());
}

#[test]
fn unanswered_connect_back_is_a_timeout() {
    let mut d = OtaDecoder::new();
    udp(
        &mut d,
        0,
        true,
        50000,
        8266,
        format!("0 40000 10 {MD5}").as_bytes(),
    );
    feed(
        &mut d,
        1_000,
        frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
    );
    feed(
        &mut d,
        1_001_000,
        frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
    );
    let end = d.finish(20_000_000);
    assert_eq!(end.len(), 1);
    assert_eq!(f(&end[0], "outcome"), &"timeout".into());
    assert_eq!(f(&end[0], "syn_count"), &2i64.into());
}

#[test]
fn refused_connect_back() {
    let mut d = OtaDecoder::new();
    invite(&mut d, 0, 50000, 10);
    feed(
        &mut d,
        1,
        frame(DEV, HOST, 6, &tcp_bytes(51000, 40000, SYN, b"")),
    );
    let e = feed(
        &mut d,
        2,
        frame(HOST, DEV, 6, &tcp_bytes(40000, 51000, RST | ACK, b"")),
    );
    assert_eq!(f(&e[0], "outcome"), &"refused".into());
    assert!(d.finish(10).is_empty());
}

#[test]
fn retransmissions_zero_windows_stalls_and_a_host_reset() {
    let mut d = OtaDecoder::new();
    invite(&mut d, 0, 50000, 10_000);
    connect(&mut d, 1);
    data(&mut d, 100_000, 0, 1000);
    data(&mut d, 200_000, 0, 1000); // retransmitted
    let z = dev(&mut d, 300_000, ACK, 1000, 0, b"");
    assert_eq!(find(&z, "tcp.zero_window").kind, "tcp.zero_window");
    assert!(
        dev(&mut d, 310_000, ACK, 1000, 0, b"").is_empty(),
        "one event per episode"
    );
    dev(&mut d, 400_000, ACK, 1000, 4096, b"1000");
    let s = data(&mut d, 3_500_000, 1000, 1000);
    assert_eq!(f(find(&s, "tcp.stall"), "gap_ms"), &3400i64.into());
    let seg = tcp_seg(40000, 51000, RST, ISN + 2001, 0, 0, b"");
    let end = feed(&mut d, 9_000_000, frame(HOST, DEV, 6, &seg));
    let stall = find(&end, "tcp.stall");
    assert_eq!(f(stall, "ended"), &true.into());
    let res = find(&end, "ota.result");
    assert_eq!(f(res, "closed_by"), &"host".into());
    assert_eq!(f(res, "how"), &"rst".into());
    assert_eq!(f(res, "complete"), &false.into());
    let tr = find(&end, "ota.transfer");
    assert_eq!(f(tr, "retransmits"), &1i64.into());
    assert_eq!(f(tr, "zero_windows"), &1i64.into());
    assert_eq!(f(tr, "device_bytes"), &1000i64.into());
    assert_eq!(f(tr, "bytes_acked"), &1000i64.into());
}

#[test]
fn device_error_text_at_the_end() {
    let mut d = OtaDecoder::new();
    invite(&mut d, 0, 50000, 1000);
    connect(&mut d, 1);
    data(&mut d, 10, 0, 1000);
    let e = dev(
        &mut d,
        20,
        ACK | FIN,
        1000,
        4096,
        b"1000ERROR[7]: MD5 verification failed: expected: a, calculated: b\n",
    );
    let res = find(&e, "ota.result");
    assert_eq!(f(res, "verdict"), &"err".into());
    assert_eq!(f(res, "error_code"), &7i64.into());
    assert_eq!(f(res, "cause_hint"), &"md5_mismatch".into());
}

#[test]
fn transfer_open_at_capture_end() {
    let mut d = OtaDecoder::new();
    invite(&mut d, 0, 50000, 1000);
    connect(&mut d, 1);
    data(&mut d, 10, 0, 500);
    let e = d.finish(5_000_000);
    assert_eq!(f(find(&e, "ota.result"), "how"), &"capture_end".into());
    assert!(e.iter().all(|e| e.t_us == 5_000_000));
}

#[test]
fn icmp_says_what_was_unreachable() {
    let mut d = OtaDecoder::new();
    let inv = frame(
        HOST,
        DEV,
        17,
        &udp_bytes(50000, 3232, format!("0 40000 10 {MD5}\n").as_bytes()),
    );
    d.packet(0, &parse(LinkType::Ethernet, &inv).unwrap());
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&inv[14..14 + 28]);
    let e = feed(&mut d, 1, frame(DEV, HOST, 1, &icmp));
    assert_eq!(f(&e[0], "about"), &"invitation".into());
    assert_eq!(f(&e[0], "code_name"), &"port_unreachable".into());
    assert_eq!(f(&e[0], "orig_dst_port"), &3232i64.into());
    // A late device reply to a socket the uploader closed.
    let reply = frame(DEV, HOST, 17, &udp_bytes(3232, 50000, b"OK"));
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&reply[14..14 + 28]);
    let e = feed(&mut d, 2, frame(HOST, DEV, 1, &icmp));
    assert_eq!(f(&e[0], "about"), &"device_reply".into());
}

#[test]
fn unrelated_traffic_makes_no_events() {
    let mut d = OtaDecoder::new();
    assert!(udp(&mut d, 0, true, 53, 53, b"dns").is_empty());
    assert!(udp(&mut d, 0, true, 5, 3232, b"0 1 2 not-an-md5\n").is_empty());
    assert!(udp(&mut d, 0, true, 5, 8266, &[0xFF; 300]).is_empty());
    assert!(
        udp(&mut d, 0, false, 3232, 5, b"OK").is_empty(),
        "no invitation, no reply"
    );
    assert!(
        feed(
            &mut d,
            0,
            frame(HOST, DEV, 6, &tcp_bytes(80, 40000, SYN, b""))
        )
        .is_empty()
    );
    // HTTP to the uploader's port from a machine that is not the device.
    invite(&mut d, 0, 50000, 10);
    let http = frame(
        [10, 0, 0, 7],
        HOST,
        6,
        &tcp_bytes(51000, 40000, ACK, b"GET / HTTP/1.1\r\n\r\n"),
    );
    assert!(feed(&mut d, 1, http).is_empty());
    assert!(d.finish(100).is_empty());
}

#[test]
fn invitation_as_big_as_a_datagram_gets() {
    let mut d = OtaDecoder::new();
    let mut big = format!("0 40000 10 {MD5}").into_bytes();
    big.resize(65_000, b' ');
    assert!(udp(&mut d, 0, true, 50000, 3232, &big).is_empty());
}

#[test]
fn thousands_of_invitations_stay_bounded() {
    let mut d = OtaDecoder::new();
    for i in 0..5000u32 {
        let host = [10, 1, (i >> 8) as u8, i as u8];
        let inv = format!("0 {} 10 {MD5}\n", 10000 + i % 50000);
        d.packet(
            i64::from(i),
            &parse(
                LinkType::Ethernet,
                &frame(host, DEV, 17, &udp_bytes(50000, 3232, inv.as_bytes())),
            )
            .unwrap(),
        );
    }
    assert!(d.sessions.len() <= MAX_SESSIONS);
    assert!(d.notes().iter().any(|n| n.contains("only the latest 256")));
    // The port filter forgets dropped attempts and keeps every followed one.
    for port in 10000..15000u16 {
        let followed = d.sessions.iter().any(|s| s.host_port == port);
        assert_eq!(d.host_ports.contains(port), followed, "port {port}");
    }
}
