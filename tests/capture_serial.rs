//! Serial capture through real pseudo-terminals: the crate opens them exactly as it
//! opens a USB serial adapter, so framing, stamping, errors and reconnects are real.

use ota_doctor::capture::baud::BaudHint;
use ota_doctor::capture::clock::HostClock;
use ota_doctor::capture::serial::{SerialCapture, SerialConfig, SerialMsg, SerialStatus};
use serialport::{SerialPort, TTYPort};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Receiver;

fn recv(rx: &mut Receiver<SerialMsg>, within: Duration) -> Option<SerialMsg> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    rt.block_on(async { tokio::time::timeout(within, rx.recv()).await.ok().flatten() })
}

/// Collects messages until `done` says so or five seconds pass.
fn collect(rx: &mut Receiver<SerialMsg>, done: impl Fn(&[SerialMsg]) -> bool) -> Vec<SerialMsg> {
    let start = Instant::now();
    let mut got = Vec::new();
    while !done(&got) && start.elapsed() < Duration::from_secs(5) {
        if let Some(m) = recv(rx, Duration::from_millis(200)) {
            got.push(m);
        }
    }
    got
}

fn texts(msgs: &[SerialMsg]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            SerialMsg::Line(l) => Some(String::from_utf8_lossy(&l.bytes).into_owned()),
            SerialMsg::Status { .. } => None,
        })
        .collect()
}

fn pty() -> (TTYPort, String) {
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal");
    let name = slave.name().expect("pty name");
    drop(slave);
    (master, name)
}

fn write(m: &mut TTYPort, b: &[u8]) {
    m.write_all(b).expect("write to pty");
    m.flush().expect("flush pty");
}

#[test]
fn lines_are_whole_and_stamped_in_order() {
    let (mut master, name) = pty();
    let (cap, mut rx) =
        SerialCapture::start(&SerialConfig::new(&name, 115_200), HostClock::new()).unwrap();
    write(&mut master, b"ets Jan  8 2013,rst cause:2\r\n[OTA] Rea");
    std::thread::sleep(Duration::from_millis(120));
    write(&mut master, b"dy\r\nIP address: 10.0.0.7\r\n");
    for i in 0..20 {
        write(&mut master, format!("Progress: {}%\r\n", i * 5).as_bytes());
    }
    let got = collect(&mut rx, |m| texts(m).len() >= 23);
    let lines: Vec<_> = got
        .iter()
        .filter_map(|m| {
            if let SerialMsg::Line(l) = m {
                Some(l)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        texts(&got)[..3],
        [
            "ets Jan  8 2013,rst cause:2",
            "[OTA] Ready",
            "IP address: 10.0.0.7"
        ]
    );
    assert_eq!(lines.len(), 23);
    assert!(lines.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    // "[OTA] Ready" is stamped when "[OTA] Rea" arrived, before the pause.
    assert!(
        lines[2].t_us - lines[1].t_us >= 100_000,
        "{} {}",
        lines[1].t_us,
        lines[2].t_us
    );
    let counts = cap.stop();
    assert_eq!(counts.lines, 23);
}

#[test]
fn garbage_is_survived_and_reported_as_wrong_baud() {
    let (mut master, name) = pty();
    let (cap, mut rx) =
        SerialCapture::start(&SerialConfig::new(&name, 115_200), HostClock::new()).unwrap();
    let noise: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    write(&mut master, &noise);
    let got = collect(&mut rx, |m| {
        m.iter().any(|x| {
            matches!(
                x,
                SerialMsg::Status {
                    status: SerialStatus::Baud(BaudHint::Garbled { .. }),
                    ..
                }
            )
        })
    });
    let status = got.iter().find_map(|m| match m {
        SerialMsg::Status { status, .. } => Some(status.to_string()),
        SerialMsg::Line(_) => None,
    });
    assert!(
        status
            .as_deref()
            .is_some_and(|s| s.contains("baud rate is probably wrong")),
        "{got:?}"
    );
    // Still reading after the junk.
    write(&mut master, b"\r\nhello after noise\r\n");
    let after = collect(&mut rx, |m| {
        texts(m).iter().any(|t| t == "hello after noise")
    });
    assert!(texts(&after).iter().any(|t| t == "hello after noise"));
    cap.stop();
}

#[test]
fn missing_port_lists_what_exists() {
    let e = SerialCapture::start(
        &SerialConfig::new("/dev/ttyUSB-nope-42", 115_200),
        HostClock::new(),
    )
    .unwrap_err();
    assert!(e.message.contains("does not exist"), "{e}");
    let hint = e.hint.unwrap_or_default();
    assert!(hint.contains("ports present:"), "{hint}");
}

#[test]
fn busy_port_names_the_usual_suspects() {
    let (_master, name) = pty();
    let (first, _rx) =
        SerialCapture::start(&SerialConfig::new(&name, 115_200), HostClock::new()).unwrap();
    let e = SerialCapture::start(&SerialConfig::new(&name, 115_200), HostClock::new()).unwrap_err();
    assert!(e.message.contains("busy"), "{e}");
    assert!(e.hint.unwrap_or_default().contains("pio device monitor"));
    first.stop();
}

/// A USB serial device vanishes while the ESP reboots and comes back under the same
/// name. A pty cannot vanish, so the test opens a symlink, removes it with the pty
/// behind it, and points it at a new pty.
#[test]
fn reconnects_without_losing_the_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyESP");
    let (mut master, name) = pty();
    std::os::unix::fs::symlink(&name, &link).unwrap();
    let mut cfg = SerialConfig::new(&link, 115_200);
    cfg.reopen_for = Duration::from_secs(5);
    let (cap, mut rx) = SerialCapture::start(&cfg, HostClock::new()).unwrap();
    write(&mut master, b"first line\r\nUpdate: 10");
    let _ = collect(&mut rx, |m| !texts(m).is_empty());
    std::thread::sleep(Duration::from_millis(100));
    std::fs::remove_file(&link).unwrap();
    drop(master);
    let gone = collect(&mut rx, |m| {
        m.iter().any(|x| {
            matches!(
                x,
                SerialMsg::Status {
                    status: SerialStatus::Disconnected { .. },
                    ..
                }
            )
        })
    });
    assert!(!gone.is_empty(), "no disconnect status");
    std::thread::sleep(Duration::from_millis(300));
    let (mut master2, name2) = pty();
    std::os::unix::fs::symlink(&name2, &link).unwrap();
    let back = collect(&mut rx, |m| {
        m.iter().any(|x| {
            matches!(
                x,
                SerialMsg::Status {
                    status: SerialStatus::Reconnected { .. },
                    ..
                }
            )
        })
    });
    assert!(!back.is_empty(), "no reconnect status");
    write(&mut master2, b"0%\r\n");
    let got = collect(&mut rx, |m| !texts(m).is_empty());
    assert_eq!(texts(&got), ["Update: 100%"]);
    let counts = cap.stop();
    assert_eq!(counts.reconnects, 1);
}

#[test]
fn stop_delivers_the_unfinished_line() {
    let (mut master, name) = pty();
    let (cap, mut rx) =
        SerialCapture::start(&SerialConfig::new(&name, 74_880), HostClock::new()).unwrap();
    write(&mut master, b"no newline yet");
    std::thread::sleep(Duration::from_millis(150));
    cap.stop();
    let got = collect(&mut rx, |m| !texts(m).is_empty());
    assert_eq!(texts(&got), ["no newline yet"]);
}

#[test]
fn capture_command_prints_stamped_serial_lines_and_stats() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let (mut master, name) = pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
        .args(["capture", "--serial", &name, "--duration", "1.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.starts_with("reading serial"), "{first}");
    write(
        &mut master,
        b"[OTA] Ready\r\nIP address: 10.0.0.7\r\npartial",
    );
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with(" serial [OTA] Ready"), "{out}");
    assert!(lines[1].ends_with(" serial IP address: 10.0.0.7"), "{out}");
    assert!(lines[2].ends_with(" serial partial"), "{out}");
    assert!(
        lines[0]
            .split(' ')
            .next()
            .is_some_and(|t| t.parse::<f64>().is_ok()),
        "{out}"
    );
    assert_eq!(
        lines.last().copied(),
        Some("stats serial: bytes 42 lines 3 dropped 0 reconnects 0")
    );
}

/// A reset happens only on request, and the outcome is reported either way (a
/// pseudo-terminal may refuse modem-line changes; a USB adapter accepts them).
#[test]
fn a_requested_reset_is_performed_once_and_reported() {
    let (mut master, name) = pty();
    let (cap, mut rx) =
        SerialCapture::start(&SerialConfig::new(&name, 115_200), HostClock::new()).unwrap();
    write(&mut master, b"before\r\n");
    let flag = cap.reset_handle();
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    let msgs = collect(&mut rx, |m| {
        m.iter().any(|x| {
            matches!(
                x,
                SerialMsg::Status {
                    status: SerialStatus::Reset { .. },
                    ..
                }
            )
        })
    });
    let resets = msgs
        .iter()
        .filter(|x| {
            matches!(
                x,
                SerialMsg::Status {
                    status: SerialStatus::Reset { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(resets, 1);
    assert!(
        !flag.load(std::sync::atomic::Ordering::SeqCst),
        "the request was not consumed"
    );
    write(&mut master, b"after\r\n");
    let more = collect(&mut rx, |m| texts(m).iter().any(|t| t == "after"));
    assert!(!more.iter().any(|x| matches!(
        x,
        SerialMsg::Status {
            status: SerialStatus::Reset { .. },
            ..
        }
    )));
    drop(cap);
}
