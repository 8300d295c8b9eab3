//! Live capture end to end: the real binary, real sockets, real interfaces. Loopback
//! and two private network namespaces; no traffic leaves the machine. These tests need
//! root and fail (never skip) without it.

use ota_doctor::decode::net::packet::{self, Layer};
use ota_doctor::decode::net::pcap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ota-doctor");

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2));
    assert_eq!(
        euid,
        Some("0"),
        "this test captures packets and needs root (geteuid() == 0); run the tests as root"
    );
}

/// A child process killed on drop, so a failed assertion leaves nothing running.
struct Running {
    child: Child,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn spawn(prefix: &[&str], args: &[&str]) -> Running {
        let mut cmd = if prefix.is_empty() {
            Command::new(BIN)
        } else {
            Command::new(prefix[0])
        };
        if !prefix.is_empty() {
            cmd.args(&prefix[1..]).arg(BIN);
        }
        let mut child = cmd
            .arg("capture")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ota-doctor");
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Running {
            child,
            stderr,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 10 s) until the capture reports it is running; returns that line.
    fn ready(&mut self) -> String {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(l) = self.stderr.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(l.clone());
                if l.starts_with("capturing on") {
                    return l;
                }
            }
        }
        panic!("capture did not start: {:?}", self.seen);
    }

    /// Waits (at most 15 s) for the run to end by itself; returns (status, stdout).
    fn finish(&mut self) -> (i32, String) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(st)) = self.child.try_wait() {
                let mut out = String::new();
                if let Some(mut o) = self.child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                return (st.code().unwrap_or(-1), out);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("capture did not stop within its duration");
    }
}

/// (src, dst, what) for every IPv4 frame in a pcap file written by the capture.
fn frames(path: &Path) -> Vec<(Ipv4Addr, Ipv4Addr, String)> {
    let bytes = std::fs::read(path).expect("pcap written");
    let cap = pcap::read(&bytes).expect("a pcap file");
    cap.frames
        .iter()
        .filter_map(|f| packet::parse(f.link, f.data))
        .map(|p| {
            let what = match p.layer {
                Layer::Udp { dport, payload, .. } => {
                    format!("udp:{dport}:{}", String::from_utf8_lossy(payload))
                }
                Layer::Tcp {
                    dport,
                    flags,
                    payload,
                    ..
                } => format!("tcp:{dport}:{flags}:{}", String::from_utf8_lossy(payload)),
                Layer::IcmpUnreachable { code, .. } => format!("icmp:{code}"),
            };
            (p.src, p.dst, what)
        })
        .collect()
}

fn loopback_traffic(dev: Ipv4Addr, other: Ipv4Addr) {
    let udp_in = UdpSocket::bind((dev, 0)).unwrap();
    let udp_port = udp_in.local_addr().unwrap().port();
    let tcp_in = TcpListener::bind((dev, 0)).unwrap();
    let tcp_port = tcp_in.local_addr().unwrap().port();
    let out = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
    for i in 0..3 {
        out.send_to(format!("invite {i}").as_bytes(), (dev, udp_port))
            .unwrap();
        out.send_to(format!("noise {i}").as_bytes(), (other, udp_port))
            .unwrap();
    }
    let mut c = TcpStream::connect((dev, tcp_port)).unwrap();
    std::io::Write::write_all(&mut c, b"firmware-bytes").unwrap();
    let (mut s, _) = tcp_in.accept().unwrap();
    let mut got = [0u8; 14];
    s.read_exact(&mut got).unwrap();
    let noise_l = TcpListener::bind((other, 0)).unwrap();
    let _noise = TcpStream::connect(noise_l.local_addr().unwrap()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn loopback_frames_arrive_once_and_other_hosts_are_dropped() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lo.pcap");
    let file_s = file.to_string_lossy().into_owned();
    let mut run = Running::spawn(
        &[],
        &["--ip", "127.0.0.2", "--duration", "2.5", "--write", &file_s],
    );
    assert!(run.ready().contains("on lo"));
    let (dev, other) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));
    loopback_traffic(dev, other);
    let (code, stdout) = run.finish();
    assert_eq!(code, 0, "{stdout}");
    let f = frames(&file);
    for i in 0..3 {
        let n = f
            .iter()
            .filter(|(_, d, w)| *d == dev && w.ends_with(&format!(":invite {i}")))
            .count();
        assert_eq!(n, 1, "datagram {i} seen {n} times: {f:?}");
    }
    let syn = f
        .iter()
        .filter(|(_, d, w)| *d == dev && w.starts_with("tcp:") && w.contains(":2:"))
        .count();
    let data = f
        .iter()
        .filter(|(_, _, w)| w.ends_with(":firmware-bytes"))
        .count();
    assert_eq!((syn, data), (1, 1), "{f:?}");
    assert!(
        f.iter().all(|(s, d, _)| *s == dev || *d == dev),
        "foreign frames kept: {f:?}"
    );
    let stats = stdout
        .lines()
        .find(|l| l.starts_with("stats net:"))
        .expect("stats line");
    assert!(
        !stats.contains("deduped 0 ") && stats.ends_with("dropped 0"),
        "{stats}"
    );
    // Every kept frame is also printed with its time.
    assert!(stdout.lines().filter(|l| l.contains(" net ")).count() >= f.len());
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair: "host" 10.X.Y.1/24 and "device" 10.X.Y.2/24.
/// Deleting the namespaces on drop also deletes the veth pair.
struct Netns {
    host: String,
    dev: String,
    host_if: String,
    dev_ip: String,
}

impl Netns {
    fn new() -> Netns {
        let id = std::process::id() % 60_000;
        let (a, b) = (200 + id / 250 % 50, id % 250 + 1);
        let n = Netns {
            host: format!("otad-h-{id}"),
            dev: format!("otad-d-{id}"),
            host_if: format!("otah{id}"),
            dev_ip: format!("10.{a}.{b}.2"),
        };
        let dev_if = format!("otad{id}");
        ip(&["netns", "add", &n.host]);
        ip(&["netns", "add", &n.dev]);
        ip(&[
            "link", "add", &n.host_if, "type", "veth", "peer", "name", &dev_if,
        ]);
        ip(&["link", "set", &n.host_if, "netns", &n.host]);
        ip(&["link", "set", &dev_if, "netns", &n.dev]);
        for (ns, ifname, host) in [(&n.host, &n.host_if, 1), (&n.dev, &dev_if, 2)] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.{a}.{b}.{host}/24"),
                "dev",
                ifname,
            ]);
            ip(&["-n", ns, "link", "set", ifname, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.host, &self.dev] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

const ECHO: &str = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],8266))\ns.settimeout(8)\nfor _ in range(3):\n    d,a=s.recvfrom(100)\n    s.sendto(b'OK '+d,a)\n";
const SEND: &str = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\nfor i in range(3):\n    s.sendto(b'invite %d' % i,(sys.argv[1],8266))\n    print(s.recvfrom(100)[0].decode())\n";

#[test]
fn namespace_capture_keeps_device_traffic_and_its_arp() {
    require_root();
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("veth.pcap");
    let file_s = file.to_string_lossy().into_owned();
    let mut echo = Command::new("ip")
        .args(["netns", "exec", &ns.dev, "python3", "-c", ECHO, &ns.dev_ip])
        .spawn()
        .expect("python3 echo");
    let mut run = Running::spawn(
        &["ip", "netns", "exec", &ns.host],
        &["--ip", &ns.dev_ip, "--duration", "3", "--write", &file_s],
    );
    let line = run.ready();
    assert!(
        line.contains(&ns.host_if) && line.contains("subnet"),
        "{line}"
    );
    std::thread::sleep(Duration::from_millis(300)); // let the echo bind
    let sent = Command::new("ip")
        .args(["netns", "exec", &ns.host, "python3", "-c", SEND, &ns.dev_ip])
        .output()
        .expect("python3 send");
    assert!(
        String::from_utf8_lossy(&sent.stdout).contains("OK invite 2"),
        "{sent:?}"
    );
    let (code, stdout) = run.finish();
    let _ = echo.kill();
    let _ = echo.wait();
    assert_eq!(code, 0, "{stdout}");
    let dev: Ipv4Addr = ns.dev_ip.parse().unwrap();
    let f = frames(&file);
    for i in 0..3 {
        assert!(
            f.iter()
                .any(|(_, d, w)| *d == dev && w.ends_with(&format!(":invite {i}"))),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|(s, _, w)| *s == dev && w.ends_with(&format!("OK invite {i}"))),
            "{f:?}"
        );
    }
    assert!(stdout.contains(&format!("ARP who-has {dev}")), "{stdout}");
    assert!(stdout.contains(&format!("ARP {dev} is-at")), "{stdout}");
    let stats = stdout
        .lines()
        .find(|l| l.starts_with("stats net:"))
        .expect("stats line");
    assert!(
        stats.contains("deduped 0 "),
        "veth frames must not be de-duplicated: {stats}"
    );
}

fn assert_permission_message(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(lines[0], "error: no permission to capture packets on `lo`");
    assert!(lines[1].starts_with("  hint: run as root"), "{err}");
    assert!(
        lines[1].contains("sudo setcap cap_net_raw,cap_net_admin=eip \"$(command -v ota-doctor)\""),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn without_capture_capabilities_the_message_says_how_to_get_them() {
    require_root();
    let out = Command::new("setpriv")
        .args([
            "--inh-caps=-all",
            "--bounding-set=-net_raw,-net_admin",
            "--",
            BIN,
            "capture",
            "--ip",
            "127.0.0.2",
            "--duration",
            "1",
        ])
        .output()
        .expect("setpriv");
    assert_permission_message(&out);
}

#[test]
fn as_user_nobody_the_message_says_how_to_get_them() {
    require_root();
    // nobody may not be able to reach target/; give it its own copy.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("ota-doctor");
    std::fs::copy(BIN, &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&bin)
        .args(["capture", "--ip", "127.0.0.2", "--duration", "1"])
        .output()
        .expect("setpriv");
    assert_permission_message(&out);
}
