//! `ota-doctor capture`: a hidden debugging command that runs the sources alone and
//! prints what they deliver. It is also what the end-to-end capture tests drive.

use super::clock::HostClock;
use super::live::{Frame, LiveCapture, LiveConfig, NetSummary};
use super::pcap_out::PcapWriter;
use super::serial::{SerialCapture, SerialConfig, SerialCounts, SerialMsg};
use super::summary;
use crate::decode::lines::clean;
use crate::error::UserError;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The device's IPv4 address: capture traffic to and from it (plus ARP and mDNS).
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// Capture on this interface instead of the one that routes to --ip.
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    /// The device's serial port.
    #[arg(long, value_name = "PORT")]
    pub serial: Option<PathBuf>,
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Write the kept frames to this pcap file.
    #[arg(long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
}

struct Sources {
    net: Option<(LiveCapture, Receiver<Frame>)>,
    serial: Option<(SerialCapture, Receiver<SerialMsg>)>,
    pcap: Option<PcapWriter<BufWriter<File>>>,
}

/// Runs the command; exit status 0, or an error when no source could be started.
pub fn run(a: &CaptureArgs) -> Result<i32, UserError> {
    if a.ip.is_none() && a.serial.is_none() {
        return Err(
            UserError::new("nothing to capture").hint("give --ip IP, --serial PORT, or both")
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserError::new(format!("cannot start the runtime: {e}")))?;
    let clock = HostClock::new();
    let mut src = start(a, clock)?;
    let limit = a
        .duration
        .filter(|d| d.is_finite() && *d >= 0.0)
        .map(Duration::from_secs_f64);
    rt.block_on(pump(&mut src, limit));
    finish(src);
    Ok(0)
}

/// Starts what can be started. One failing source is reported and the other carries
/// on, as in the live monitor; only when nothing starts is it an error.
fn start(a: &CaptureArgs, clock: HostClock) -> Result<Sources, UserError> {
    let mut first_err = None;
    let mut net = None;
    if let Some(ip) = a.ip {
        let cfg = LiveConfig {
            iface: a.iface.clone(),
            ..LiveConfig::new(ip)
        };
        match LiveCapture::start(&cfg, clock) {
            Ok((cap, rx)) => {
                eprintln!(
                    "capturing on {} ({}) for {ip}",
                    cap.iface.name, cap.iface.why
                );
                net = Some((cap, rx));
            }
            Err(e) => first_err = Some(e),
        }
    }
    let mut serial = None;
    if let Some(path) = &a.serial {
        match SerialCapture::start(&SerialConfig::new(path, a.baud), clock) {
            Ok(s) => {
                eprintln!("reading serial {} at {} baud", path.display(), a.baud);
                serial = Some(s);
            }
            Err(e) if first_err.is_none() => first_err = Some(e),
            Err(e) => eprintln!("{e}"),
        }
    }
    match (first_err, net.is_some() || serial.is_some()) {
        (Some(e), false) => return Err(e),
        (Some(e), true) => eprintln!("{e}\n(continuing with the other source)"),
        (None, _) => {}
    }
    let pcap = open_pcap(a, net.as_ref().map(|(c, _)| c.link))?;
    Ok(Sources { net, serial, pcap })
}

fn open_pcap(
    a: &CaptureArgs,
    link: Option<crate::decode::net::pcap::LinkType>,
) -> Result<Option<PcapWriter<BufWriter<File>>>, UserError> {
    let (Some(path), Some(link)) = (&a.write, link) else {
        return Ok(None);
    };
    let fail = |e: std::io::Error| {
        UserError::new(format!("cannot write `{}`: {e}", path.display()))
            .hint("check the directory exists and is writable")
    };
    let f = File::create(path).map_err(fail)?;
    PcapWriter::new(BufWriter::new(f), link)
        .map(Some)
        .map_err(fail)
}

async fn pump(src: &mut Sources, limit: Option<Duration>) {
    let end = tokio::time::sleep(limit.unwrap_or(Duration::from_secs(u64::from(u32::MAX))));
    tokio::pin!(end);
    while src.net.is_some() || src.serial.is_some() {
        tokio::select! {
            f = async { src.net.as_mut()?.1.recv().await }, if src.net.is_some() => match f {
                Some(f) => show_frame(&mut src.pcap, &f),
                None => stop_net(src),
            },
            m = async { src.serial.as_mut()?.1.recv().await }, if src.serial.is_some() => match m {
                Some(m) => show_serial(&m),
                None => stop_serial(src),
            },
            _ = &mut end => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
}

fn secs(t_us: i64) -> String {
    format!(
        "{}.{:06}",
        t_us.div_euclid(1_000_000),
        t_us.rem_euclid(1_000_000)
    )
}

fn show_frame(pcap: &mut Option<PcapWriter<BufWriter<File>>>, f: &Frame) {
    out(&format!(
        "{} net {}\n",
        secs(f.t_us),
        summary::frame(f.link, &f.bytes)
    ));
    if let Some(w) = pcap
        && let Err(e) = w.frame(f.t_us, &f.bytes)
    {
        eprintln!("error: writing the capture file failed: {e}; no more frames are written");
        *pcap = None;
    }
}

fn show_serial(m: &SerialMsg) {
    match m {
        SerialMsg::Line(l) => out(&format!(
            "{} serial {}\n",
            secs(l.t_us),
            clean(&l.bytes).text
        )),
        SerialMsg::Status { t_us, status } => {
            out(&format!("{} serial-status {status}\n", secs(*t_us)))
        }
    }
}

fn stop_net(src: &mut Sources) {
    if let Some((cap, rx)) = src.net.take() {
        print_net(&cap.stop(), rx, &mut src.pcap);
    }
}

fn stop_serial(src: &mut Sources) {
    if let Some((cap, rx)) = src.serial.take() {
        print_serial(cap.stop(), rx);
    }
}

/// Stops both threads, shows what they still held, and prints the statistics.
fn finish(mut src: Sources) {
    stop_net(&mut src);
    stop_serial(&mut src);
    if let Some(w) = &mut src.pcap
        && let Err(e) = w.flush()
    {
        eprintln!("error: writing the capture file failed: {e}");
    }
}

fn print_net(
    s: &NetSummary,
    mut rx: Receiver<Frame>,
    pcap: &mut Option<PcapWriter<BufWriter<File>>>,
) {
    while let Ok(f) = rx.try_recv() {
        show_frame(pcap, &f);
    }
    let c = s.counts;
    out(&format!(
        "stats net: seen {} kept {} deduped {} dropped {}\n",
        c.seen, c.kept, c.deduped, c.dropped
    ));
    if let Some(e) = &s.error {
        eprintln!("note: packet capture ended early: {e}");
    }
}

fn print_serial(c: SerialCounts, mut rx: Receiver<SerialMsg>) {
    while let Ok(m) = rx.try_recv() {
        show_serial(&m);
    }
    out(&format!(
        "stats serial: bytes {} lines {} dropped {} reconnects {}\n",
        c.bytes, c.lines, c.dropped, c.reconnects
    ));
}

/// A closed pipe (`| head`) is not an error for a debugging printout.
fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}
