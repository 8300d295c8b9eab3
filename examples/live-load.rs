//! Load for `bench/live.sh`: the same checkable serial stream and packet flood the tests
//! in tests/live_load.rs and tests/live_net.rs use, at benchmark length, with figures
//! printed as `key=value` words for the script to read.
//!
//! ```text
//! live-load serial --secs 60 --rate 200000 --out DIR -- READER-CMD… (TTY in it is the port)
//! live-load flood --netns NS --to IP:PORT --secs 10 --count 5000000 --size 200
//! live-load pty --secs 15          (prints the port's path, holds it open, writes nothing)
//! ```
//!
//! `serial` makes a pseudo-terminal, starts the reader on it, writes the stream as a
//! 2 Mbaud UART would (never waiting; a line the port has no room for is an overrun),
//! stops the reader with SIGINT, and checks what it kept: the trace `DIR/t.jsonl` if
//! the reader wrote one, otherwise the raw bytes in `DIR/raw`.

#[path = "../tests/common/load.rs"]
mod load;

use serialport::{SerialPort, TTYPort};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("serial") => serial(&args[1..]),
        Some("flood") => flood(&args[1..]),
        Some("pty") => hold_pty(&args[1..]),
        _ => Err("usage: live-load serial|flood|pty … (see the file's docs)".into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name`, parsed; `default` when absent.
fn opt<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

fn pty() -> Result<(TTYPort, String), String> {
    let (master, slave) = TTYPort::pair().map_err(|e| format!("no pseudo-terminal: {e}"))?;
    let name = slave.name().ok_or("the pty has no name")?;
    drop(slave);
    // Not inherited by the reader: closing ours must hang the port up.
    use nix::fcntl::{F_SETFD, FdFlag, fcntl};
    use std::os::fd::AsRawFd;
    fcntl(master.as_raw_fd(), F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| e.to_string())?;
    Ok((master, name))
}

fn serial(args: &[String]) -> Result<(), String> {
    let secs: u64 = opt(args, "--secs", 60)?;
    let rate: u64 = opt(args, "--rate", load::BYTES_PER_S_2MBAUD)?;
    let out: PathBuf = opt(args, "--out", PathBuf::from("."))?;
    let cmd_at = args
        .iter()
        .position(|a| a == "--")
        .ok_or("give the reader after --")?;
    let (mut master, tty) = pty()?;
    let cmd: Vec<String> = args[cmd_at + 1..]
        .iter()
        .map(|a| a.replace("TTY", &tty))
        .collect();
    let mut child = Command::new(cmd.first().ok_or("no reader command")?)
        .args(&cmd[1..])
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    // Until the reader has opened the port, writes fail: wait for the first to land.
    let t = Instant::now();
    while std::io::Write::write_all(&mut master, b"\r\n").is_err() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            return Err("the reader never opened the port".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = load::feed_uart(&mut master, rate, Duration::from_secs(secs));
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let waited = Instant::now();
    while child.try_wait().ok().flatten().is_none() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let texts = received(&out);
    let c = load::check(&sent.lines, texts.iter().map(String::as_str));
    println!(
        "serial sent_lines={} sent_bytes={} secs={:.1} overrun={} received={} lost={} repeated={} out_of_order={} corrupt={}",
        sent.lines.len(),
        sent.bytes,
        sent.secs,
        sent.overrun,
        c.received,
        c.lost,
        c.repeated,
        c.out_of_order,
        c.corrupt
    );
    Ok(())
}

/// The lines the reader kept: from its trace, or split from its raw output.
fn received(dir: &Path) -> Vec<String> {
    let trace = dir.join("t.jsonl");
    if trace.exists() {
        return load::trace_texts(&trace);
    }
    let raw = std::fs::read(dir.join("raw")).unwrap_or_default();
    String::from_utf8_lossy(&raw)
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn flood(args: &[String]) -> Result<(), String> {
    let ns: String = opt(args, "--netns", String::new())?;
    let to: std::net::SocketAddr = opt(args, "--to", "127.0.0.1:9".parse().map_err(|_| "")?)?;
    let secs: u64 = opt(args, "--secs", 10)?;
    let count: u64 = opt(args, "--count", 5_000_000)?;
    let size: usize = opt(args, "--size", 200)?;
    let never = std::sync::atomic::AtomicBool::new(false);
    let run = move || load::udp_flood(to, count, size, Duration::from_secs(secs.min(10)), &never);
    let f = if ns.is_empty() {
        run()
    } else {
        load::in_netns(&ns, run)
            .join()
            .map_err(|_| "the flood thread failed")??
    };
    println!(
        "flood packets={} bytes={} secs={:.2} pps={:.0}",
        f.packets,
        f.bytes,
        f.secs,
        f.packets as f64 / f.secs.max(1e-9)
    );
    Ok(())
}

fn hold_pty(args: &[String]) -> Result<(), String> {
    let secs: u64 = opt(args, "--secs", 15)?;
    let (master, tty) = pty()?;
    println!("{tty}");
    std::io::Write::flush(&mut std::io::stdout()).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(secs.min(600)));
    drop(master);
    Ok(())
}
