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

/// CPU ticks (user + system) the process has used, from /proc/PID/stat.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    get(11) + get(12)
}

/// Idle, the monitor must sleep: watching a silent port and an interface with no
/// traffic for the device costs next to nothing. The bound is far above the measured
/// figure (bench/live.sh: well under 1 %) and far below a busy loop (100 %), so other
/// tests running at the same time cannot make it flake.
#[test]
fn an_idle_monitor_does_not_spin() {
    #[path = "common/netns.rs"]
    #[allow(dead_code)]
    mod netns;
    netns::require_root();
    let (_master, tty) = live::pty();
    let (_dir, trace) = live::tmp();
    // An address nobody uses: the kernel filter passes none of the other tests' traffic.
    let mut child = live::monitor(&tty, &trace, &["--ip", "127.0.99.213", "--duration", "20s"])
        .spawn()
        .unwrap();
    let (out, err) = live::drain(&mut child);
    std::thread::sleep(Duration::from_secs(1));
    let (a, t) = (cpu_ticks(child.id()), std::time::Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_ticks(child.id()) - a;
    let secs = t.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let (_, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        err.contains("capturing on lo"),
        "capture did not start: {err}"
    );
    // Ticks are 1/100 s on Linux: 5 % of one core over 5 s is 25 ticks.
    let share = used as f64 / 100.0 / secs;
    assert!(
        share < 0.05,
        "idle monitor used {:.1} % of a core",
        share * 100.0
    );
}
