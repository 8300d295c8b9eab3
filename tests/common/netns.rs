//! Two network namespaces joined by a veth pair: "host" (the uploader and ota-doctor)
//! and "device" (the simulated ESP), each with its own address in a private /24 that
//! exists only inside them. Dropping the pair deletes both namespaces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct NetPair {
    pub host_ns: String,
    pub device_ns: String,
    pub host_ip: String,
    pub device_ip: String,
    /// An address in the subnet that no one holds (for "device unreachable").
    pub absent_ip: String,
}

/// Fails the test with the reason when it cannot run, never skips silently.
pub fn require_root() {
    let uid = unsafe_free_euid();
    assert_eq!(
        uid, 0,
        "this test needs root (network namespaces, live capture); run `sudo cargo test` or as root in CI"
    );
    assert!(
        Command::new("ip").arg("-V").output().is_ok(),
        "this test needs `ip` from iproute2 (apt-get install iproute2)"
    );
}

fn unsafe_free_euid() -> u32 {
    // /proc/self/status has "Uid: real effective saved fs".
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX)
}

pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl NetPair {
    pub fn new(tag: &str) -> NetPair {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // Subnet octet from pid and counter so parallel test binaries don't collide.
        let octet = (pid.wrapping_mul(7) + n * 13) % 200 + 20;
        let id = format!("{}{}", pid % 100_000, n);
        let p = NetPair {
            host_ns: format!("otad-h-{tag}-{id}"),
            device_ns: format!("otad-d-{tag}-{id}"),
            host_ip: format!("10.213.{octet}.1"),
            device_ip: format!("10.213.{octet}.2"),
            absent_ip: format!("10.213.{octet}.77"),
        };
        p.setup(&format!("oh{id}"), &format!("od{id}"));
        p
    }

    fn setup(&self, vh: &str, vd: &str) {
        sh(&["ip", "netns", "add", &self.host_ns]);
        sh(&["ip", "netns", "add", &self.device_ns]);
        sh(&[
            "ip",
            "-n",
            &self.host_ns,
            "link",
            "add",
            vh,
            "type",
            "veth",
            "peer",
            "name",
            vd,
            "netns",
            &self.device_ns,
        ]);
        for (ns, dev, ip) in [
            (&self.host_ns, vh, &self.host_ip),
            (&self.device_ns, vd, &self.device_ip),
        ] {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
    }

    /// A command to run inside the host namespace.
    pub fn in_host(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.host_ns, program]);
        c
    }

    pub fn in_device(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.device_ns, program]);
        c
    }

    /// Drops new TCP connections arriving at the host: a host firewall, as the device
    /// sees it when it connects back to the uploader.
    pub fn firewall_incoming_tcp(&self) {
        let rule = "table inet otad { chain in { type filter hook input priority 0; tcp flags syn drop; }; }";
        sh(&["ip", "netns", "exec", &self.host_ns, "nft", rule]);
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.host_ns, &self.device_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A tmpfs of a given size at a fresh directory, to fill a disk on purpose; unmounted
/// on drop.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn new(size: &str) -> SmallDisk {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        let opt = format!("size={size}");
        sh(&["mount", "-t", "tmpfs", "-o", &opt, "otad-full", &path]);
        SmallDisk { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A child process killed when dropped, so no simulated device outlives its test.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl NetPair {
    /// Starts `ota-doctor sim` with `args` in the device namespace, bound to the
    /// device's address; returns it once its serial pty exists, with the pty's link.
    pub fn start_sim(&self, dir: &Path, args: &[&str]) -> (Killed, PathBuf) {
        let link = dir.join("tty");
        let child = self
            .in_device(env!("CARGO_BIN_EXE_ota-doctor"))
            .arg("sim")
            .args(args)
            .args(["--bind", &self.device_ip, "--duration", "60"])
            .arg("--serial-link")
            .arg(&link)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sim");
        let child = Killed(child);
        let t = Instant::now();
        while !link.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the sim made no serial pty"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the boot banner pass before an upload starts, as on a real board.
        std::thread::sleep(Duration::from_millis(300));
        (child, link)
    }
}

/// A firmware image of `size` bytes that starts with `magic` (0xE9 for a valid one)
/// and does not compress, written to `dir/fw.bin`.
pub fn firmware(dir: &Path, magic: u8, size: usize) -> PathBuf {
    let mut data: Vec<u8> = (0..size as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    data[0] = magic;
    let p = dir.join("fw.bin");
    std::fs::write(&p, data).unwrap();
    p
}
