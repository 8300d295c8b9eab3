//! Live packet capture on a thread of its own.
//!
//! The socket (`capture::socket`) is filtered in the kernel and its reads block, so it
//! cannot live on the async runtime. The thread reads a frame, stamps it, keeps or drops
//! it (see [`super::filter`]), and hands kept frames on a bounded channel. A slow
//! consumer costs dropped frames, counted, never a stalled capture: the kernel would
//! then drop frames silently instead, and we could not say so. pnet still lists the
//! interfaces.

use super::clock::HostClock;
use super::filter::{Dedupe, keep};
use super::route::{self, Choice, IfaceInfo};
use super::socket::{Filtered, Framing};
use crate::decode::net::pcap::LinkType;
use crate::error::UserError;
use pnet::datalink::{self, DataLinkReceiver, NetworkInterface};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to capture.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub device: Ipv4Addr,
    /// Interface name; `None` picks the one that routes to `device`.
    pub iface: Option<String>,
    /// Frames buffered between the thread and the consumer.
    pub capacity: usize,
    /// How long a read waits; bounds how late the thread notices `stop`.
    pub read_timeout: Duration,
}

impl LiveConfig {
    pub fn new(device: Ipv4Addr) -> LiveConfig {
        LiveConfig {
            device,
            iface: None,
            capacity: 4096,
            read_timeout: Duration::from_millis(100),
        }
    }
}

/// A kept frame, stamped with the host clock when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub t_us: i64,
    pub link: LinkType,
    pub bytes: Vec<u8>,
}

/// Counters the thread updates and anyone may read while it runs (a status bar).
/// `seen` counts frames that passed the kernel filter, not every frame on the link.
#[derive(Debug, Default)]
pub struct NetStats {
    seen: AtomicU64,
    kept: AtomicU64,
    deduped: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of [`NetStats`]. `kept` counts frames delivered; `dropped` those kept by
/// the filter but lost because the consumer's queue was full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetCounts {
    pub seen: u64,
    pub kept: u64,
    pub deduped: u64,
    pub dropped: u64,
}

impl NetStats {
    pub fn counts(&self) -> NetCounts {
        NetCounts {
            seen: self.seen.load(Ordering::Relaxed),
            kept: self.kept.load(Ordering::Relaxed),
            deduped: self.deduped.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Receives what the user should be told while capture runs (the interface went down,
/// capture resumed), as it happens.
pub type Notes = Box<dyn FnMut(String) + Send>;

/// A running capture. Dropping it stops the thread too.
#[derive(Debug)]
pub struct LiveCapture {
    pub iface: Choice,
    pub link: LinkType,
    stats: Arc<NetStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<String>>>,
}

/// How a capture ended: the counts, and the read error that ended it early, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSummary {
    pub counts: NetCounts,
    pub error: Option<String>,
}

impl LiveCapture {
    /// Opens the interface and starts the thread. Errors are the user's to fix (wrong
    /// name, interface down, no permission); the caller can carry on without packets.
    pub fn start(
        cfg: &LiveConfig,
        clock: HostClock,
    ) -> Result<(LiveCapture, mpsc::Receiver<Frame>), UserError> {
        Self::start_noting(cfg, clock, None)
    }

    /// Like [`LiveCapture::start`], but an interface that goes down or away does not
    /// end the capture: `notes` hears about it, and capture resumes when it is back.
    pub fn start_noting(
        cfg: &LiveConfig,
        clock: HostClock,
        notes: Option<Notes>,
    ) -> Result<(LiveCapture, mpsc::Receiver<Frame>), UserError> {
        let (iface, choice) = find_iface(cfg)?;
        let link = link_type(&iface.name);
        let rx = open(&iface, link, cfg.device, cfg.read_timeout)?;
        let (tx, out) = mpsc::channel(cfg.capacity.max(1));
        let stats = Arc::new(NetStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            rx,
            ifindex: iface.index,
            name: iface.name.clone(),
            timeout: cfg.read_timeout,
            notes,
            tx,
            link,
            device: cfg.device,
            dedupe: iface.is_loopback().then(Dedupe::new),
            clock,
            stats: Arc::clone(&stats),
            stop: Arc::clone(&stop),
        };
        let thread = std::thread::Builder::new()
            .name(format!("capture-{}", iface.name))
            .spawn(move || reader.run())
            .map_err(|e| UserError::new(format!("cannot start the capture thread: {e}")))?;
        let cap = LiveCapture {
            iface: choice,
            link,
            stats,
            stop,
            thread: Some(thread),
        };
        Ok((cap, out))
    }

    pub fn counts(&self) -> NetCounts {
        self.stats.counts()
    }

    /// Shared counters, for a display that outlives borrowing the capture.
    pub fn stats(&self) -> Arc<NetStats> {
        Arc::clone(&self.stats)
    }

    /// Stops the thread (within one read timeout) and reports how it went.
    pub fn stop(mut self) -> NetSummary {
        self.stop.store(true, Ordering::Relaxed);
        let error = self.thread.take().and_then(|t| {
            t.join()
                .unwrap_or_else(|_| Some("the capture thread crashed".into()))
        });
        NetSummary {
            counts: self.stats.counts(),
            error,
        }
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Reader {
    rx: Box<dyn DataLinkReceiver>,
    ifindex: u32,
    name: String,
    timeout: Duration,
    notes: Option<Notes>,
    tx: mpsc::Sender<Frame>,
    link: LinkType,
    device: Ipv4Addr,
    dedupe: Option<Dedupe>,
    clock: HostClock,
    stats: Arc<NetStats>,
    stop: Arc<AtomicBool>,
}

impl Reader {
    /// Returns the error that ended the capture early, if one did.
    fn run(mut self) -> Option<String> {
        let mut checked = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            // The socket is not bound to the interface, so it reports no error when the
            // interface goes: look at the interface itself now and then.
            if self.notes.is_some() && checked.elapsed() >= IFACE_CHECK {
                checked = Instant::now();
                if iface_now(&self.name) != Some(self.ifindex)
                    && let Some(end) = self.lost(None)
                {
                    return Some(end);
                }
            }
            let frame = match self.rx.next() {
                Ok(f) => f,
                Err(e) if is_timeout(&e) => continue,
                Err(e) => match self.lost(Some(&e)) {
                    Some(end) => return Some(end),
                    None => continue,
                },
            };
            let t_us = self.clock.now_us();
            NetStats::bump(&self.stats.seen);
            if !keep(self.link, frame, self.device) {
                continue;
            }
            if self.dedupe.as_mut().is_some_and(|d| d.repeat(t_us, frame)) {
                NetStats::bump(&self.stats.deduped);
                continue;
            }
            let f = Frame {
                t_us,
                link: self.link,
                bytes: frame.to_vec(),
            };
            match self.tx.try_send(f) {
                Ok(()) => NetStats::bump(&self.stats.kept),
                Err(mpsc::error::TrySendError::Full(_)) => NetStats::bump(&self.stats.dropped),
                Err(mpsc::error::TrySendError::Closed(_)) => return None,
            }
        }
        None
    }
}

impl Reader {
    /// A read failed: usually the interface went down or was removed (Wi-Fi dropped, a
    /// USB adapter unplugged). With someone to tell, say so and wait for it to come back
    /// instead of ending: the other sources go on, and a reconnect is part of the story.
    /// Returns why capture ended, or None once it runs again.
    fn lost(&mut self, e: Option<&std::io::Error>) -> Option<String> {
        let state = iface_state(&self.name);
        let detail = e.map(|e| format!(" ({e})")).unwrap_or_default();
        let msg = format!(
            "packet capture on `{}` stopped: the interface {state}{detail}",
            self.name
        );
        let Some(notes) = self.notes.as_mut() else {
            return Some(msg);
        };
        notes(format!(
            "{msg}; the other sources are still recorded, and capture resumes if it comes back up (check it with `ip link show {}`)",
            self.name
        ));
        let since = Instant::now();
        while !self.stop.load(Ordering::Relaxed) && !self.tx.is_closed() {
            std::thread::sleep(Duration::from_millis(200));
            if let Some((rx, ifindex)) = reopen(&self.name, self.link, self.device, self.timeout) {
                self.rx = rx;
                self.ifindex = ifindex;
                let secs = since.elapsed().as_secs_f32();
                if let Some(n) = self.notes.as_mut() {
                    n(format!(
                        "packet capture on `{}` resumed after {secs:.1} s; packets sent meanwhile were not seen",
                        self.name
                    ));
                }
                return None;
            }
        }
        Some(format!(
            "the interface `{}` {} and had not come back when recording ended",
            self.name,
            iface_state(&self.name)
        ))
    }
}

/// In words, what became of an interface whose capture failed.
fn iface_state(name: &str) -> &'static str {
    match datalink::interfaces().into_iter().find(|i| i.name == name) {
        None => "was removed",
        Some(i) if !i.is_up() => "went down",
        Some(_) => "failed",
    }
}

/// How often a running capture looks at its interface: a few reads of /sys a second.
const IFACE_CHECK: Duration = Duration::from_millis(300);

/// The interface's index while it exists and is up.
fn iface_now(name: &str) -> Option<u32> {
    let dir = std::path::Path::new("/sys/class/net").join(name);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let flags = u32::from_str_radix(read("flags")?.trim().trim_start_matches("0x"), 16).ok()?;
    // IFF_UP: the administrative state that `ip link set … down` clears.
    if flags & 1 == 0 {
        return None;
    }
    read("ifindex")?.trim().parse().ok()
}

/// A fresh socket once the interface is up again (a re-created interface has a new
/// index); returns it with that index.
fn reopen(
    name: &str,
    link: LinkType,
    device: Ipv4Addr,
    timeout: Duration,
) -> Option<(Box<dyn DataLinkReceiver>, u32)> {
    let index = iface_now(name)?;
    let iface = datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name && i.index == index)?;
    open(&iface, link, device, timeout)
        .ok()
        .map(|rx| (rx, index))
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::Interrupted
    )
}

fn find_iface(cfg: &LiveConfig) -> Result<(NetworkInterface, Choice), UserError> {
    let all = datalink::interfaces();
    let infos = route::system_ifaces();
    let choice = match &cfg.iface {
        Some(name) => Choice {
            name: name.clone(),
            why: "given with --iface".into(),
        },
        None => route::choose(cfg.device, &infos, &route::system_routes()).ok_or_else(|| {
            UserError::new(format!("no network interface routes to {}", cfg.device)).hint(format!(
                "connect to the board's network or name one with --iface; interfaces: {}",
                route::describe(&infos)
            ))
        })?,
    };
    let Some(iface) = all.into_iter().find(|i| i.name == choice.name) else {
        return Err(unusable(&choice.name, "there is no such interface", &infos));
    };
    if !iface.is_up() {
        return Err(unusable(&choice.name, "the interface is down", &infos));
    }
    Ok((iface, choice))
}

fn unusable(name: &str, why: &str, infos: &[IfaceInfo]) -> UserError {
    UserError::new(format!("cannot capture on `{name}`: {why}")).hint(format!(
        "pick one that is up with --iface; interfaces: {}",
        route::describe(infos)
    ))
}

/// The frame format a packet socket delivers, from the interface's ARPHRD type.
fn link_type(name: &str) -> LinkType {
    let path = format!("/sys/class/net/{name}/type");
    match std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    {
        // Tunnels (tun, WireGuard) have no link header.
        Some(65534) => LinkType::Raw,
        // Ethernet, Wi-Fi in managed mode and loopback all arrive with an Ethernet header.
        _ => LinkType::Ethernet,
    }
}

/// Capture permission is the usual failure; its message must say how to get it.
pub const PERMISSION_HINT: &str = "run as root (sudo), or allow capturing once: sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v ota-doctor)\"";

/// Opens the kernel-filtered socket (see [`super::socket`]). Not promiscuous: traffic
/// to and from this host and broadcasts reach us anyway; other hosts' unicast is not
/// ours to diagnose, and promiscuous Wi-Fi drivers misbehave.
fn open(
    iface: &NetworkInterface,
    link: LinkType,
    device: Ipv4Addr,
    timeout: Duration,
) -> Result<Box<dyn DataLinkReceiver>, UserError> {
    let framing = match link {
        LinkType::Raw => Framing::Raw,
        _ => Framing::Ethernet,
    };
    match Filtered::open(iface.index, framing, device, timeout) {
        Ok(rx) => Ok(Box::new(rx)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(UserError::new(format!(
            "no permission to capture packets on `{}`",
            iface.name
        ))
        .hint(PERMISSION_HINT)),
        Err(e) => Err(UserError::new(format!(
            "cannot capture on `{}`: {e}",
            iface.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::net::build::{frame, udp};

    /// Plays back frames, then reports timeouts like an idle interface.
    struct Script(Vec<Vec<u8>>, usize);

    impl DataLinkReceiver for Script {
        fn next(&mut self) -> std::io::Result<&[u8]> {
            self.1 += 1;
            match self.0.get(self.1 - 1) {
                Some(f) => Ok(f),
                None => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "idle")),
            }
        }
    }

    fn reader(frames: Vec<Vec<u8>>, cap: usize) -> (Reader, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(cap);
        let r = Reader {
            rx: Box::new(Script(frames, 0)),
            ifindex: 1,
            name: "test0".into(),
            timeout: Duration::from_millis(10),
            notes: None,
            tx,
            link: LinkType::Ethernet,
            device: Ipv4Addr::new(10, 0, 0, 7),
            dedupe: Some(Dedupe::new()),
            clock: HostClock::new(),
            stats: Arc::default(),
            stop: Arc::default(),
        };
        (r, rx)
    }

    #[test]
    fn a_full_queue_counts_drops_and_stop_is_prompt() {
        let to_dev = |i: u8| frame([10, 0, 0, 1], [10, 0, 0, 7], 17, &udp(1, 8266, &[i]));
        let mut frames: Vec<Vec<u8>> = (0..10).map(to_dev).collect();
        frames.insert(1, to_dev(0)); // lo's second copy
        frames.push(frame([10, 0, 0, 1], [10, 0, 0, 9], 17, &udp(1, 8266, b"x")));
        let (r, mut rx) = reader(frames, 4);
        let (stats, stop) = (Arc::clone(&r.stats), Arc::clone(&r.stop));
        let t = std::thread::spawn(move || r.run());
        let start = std::time::Instant::now();
        while stats.counts().seen < 12 && start.elapsed() < Duration::from_secs(5) {
            std::thread::yield_now();
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(t.join().unwrap(), None);
        let c = stats.counts();
        assert_eq!(
            c,
            NetCounts {
                seen: 12,
                kept: 4,
                deduped: 1,
                dropped: 6
            }
        );
        assert_eq!(rx.try_recv().unwrap().bytes, to_dev(0));
    }

    #[test]
    fn a_gone_consumer_ends_the_thread() {
        let (r, rx) = reader(vec![frame([10, 0, 0, 7], [1, 1, 1, 1], 6, &[0; 20])], 1);
        drop(rx);
        assert_eq!(r.run(), None);
    }
}
