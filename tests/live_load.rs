//! The live monitor under load, on real parts. Serial: a checkable stream at the rate
//! of a 2 Mbaud UART through a pseudo-terminal must arrive whole — every line once, in
//! order — in the exported trace. The 60 s version, with `cat` reading the same kind of
//! pty as a peer, is in bench/live.sh; this one is short and asserts no timing.

#[path = "common/live.rs"]
mod live;
#[path = "common/load.rs"]
mod load;

use std::time::Duration;

#[test]
fn serial_at_2_mbaud_arrives_whole_in_the_trace() {
    let (mut master, tty) = live::pty();
    let (_dir, trace) = live::tmp();
    let mut child = live::monitor(&tty, &trace, &["--duration", "60s"])
        .spawn()
        .unwrap();
    let (out, err) = live::drain(&mut child);
    // The monitor opens the port within this; a write before that fails (not counted).
    std::thread::sleep(Duration::from_millis(700));
    let sent = load::feed_uart(
        &mut master,
        load::BYTES_PER_S_2MBAUD,
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let st = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = live::wait_bounded(&mut child, Duration::from_secs(30));
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let texts = load::trace_texts(&trace);
    let c = load::check(&sent.lines, texts.iter().map(String::as_str));
    let what = format!(
        "{status:?}; sent {} lines ({} bytes in {:.1} s), {} overrun; {c:?}\nstderr:\n{err}\nstdout tail:\n{}",
        sent.lines.len(),
        sent.bytes,
        sent.secs,
        sent.overrun,
        &out[out.len().saturating_sub(2000)..]
    );
    assert_eq!(status.code(), Some(0), "{what}");
    assert!(
        sent.lines.len() > 10_000,
        "the writer did not get going: {what}"
    );
    assert_eq!(sent.overrun, 0, "the monitor fell behind the port: {what}");
    assert_eq!(
        c,
        load::Check {
            received: sent.lines.len() as u64,
            ..Default::default()
        },
        "{what}"
    );
}
