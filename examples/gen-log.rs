//! Writes a large, deterministic ESP8266 serial log for `bench/log.sh`: hours of ordinary
//! sketch output (sensor readings, MQTT, heap reports, some lines from an IDF-style
//! logger), boot banners, a little baud-rate garbage, and a few OTA attempts whose cause
//! is known. A benchmark workload, not a test: its value is that the answer is known.
//!
//! ```text
//! cargo run --release --example gen-log -- --out big.log [--size-mb 200] [--seed 1]
//! ```
//!
//! The expected diagnosis is written to `<out>.manifest` (`expect_cause=…`). Lines go to
//! disk as they are made; memory stays small whatever the size asked for.

use std::fs::File;
use std::io::{BufWriter, Write};

/// SplitMix64: the same sequence on every platform, so a seed names one exact file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

struct Args {
    out: String,
    size_mb: u64,
    seed: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        out: String::new(),
        size_mb: 200,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().ok_or(format!("{k} needs a value"))?;
        match k.as_str() {
            "--out" => a.out = v,
            "--size-mb" => a.size_mb = v.parse().map_err(|_| "--size-mb takes a number")?,
            "--seed" => a.seed = v.parse().map_err(|_| "--seed takes a number")?,
            _ => return Err(format!("unknown option {k}")),
        }
    }
    if a.out.is_empty() {
        return Err("usage: gen-log --out FILE [--size-mb N] [--seed N]".into());
    }
    Ok(a)
}

/// Writes lines with a PlatformIO `time` filter stamp; the clock advances a few ms per line.
struct Log<W: Write> {
    w: W,
    t_ms: u64,
    bytes: u64,
    lines: u64,
}

impl<W: Write> Log<W> {
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        let ms = self.t_ms % 86_400_000;
        let s = format!(
            "{:02}:{:02}:{:02}.{:03} > {text}\n",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        );
        self.bytes += s.len() as u64;
        self.lines += 1;
        self.w.write_all(s.as_bytes())
    }
    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.bytes += bytes.len() as u64;
        self.lines += 1;
        self.w.write_all(bytes)
    }
    fn tick(&mut self, ms: u64) {
        self.t_ms += ms;
    }
}

/// One line of what a busy sketch prints between updates.
fn app_line(r: &mut Rng, n: u64) -> String {
    let t = 180 + r.below(80);
    match r.below(10) {
        0..=2 => format!(
            "sensor bme280: t={}.{}C h={}% p={}hPa",
            t / 10,
            t % 10,
            30 + r.below(40),
            990 + r.below(40)
        ),
        3..=4 => format!(
            "MQTT publish home/esp-{:02}/state {{\"seq\":{n},\"rssi\":-{}}}",
            r.below(16),
            40 + r.below(50)
        ),
        5 => format!(
            "loop {n}: free heap {} bytes, max block {}",
            20_000 + r.below(20_000),
            8_000 + r.below(8_000)
        ),
        6 => format!("I ({}) app_main: tick {n}", r.below(10_000_000)),
        7 => format!(
            "[{:6}][D][main.cpp:{}] loop(): relay {} -> {}",
            r.below(10_000_000),
            40 + r.below(200),
            r.below(4),
            ["on", "off"][r.below(2) as usize]
        ),
        8 => "Connecting to MQTT broker 192.168.1.2 ... connected".into(),
        _ => format!("display refresh {} ms, frame {n}", 10 + r.below(30)),
    }
}

const BANNER: [&str; 6] = [
    "",
    " ets Jan  8 2013,rst cause:2, boot mode:(3,6)",
    "",
    "load 0x4010f000, len 3424, room 16 ",
    "tail 0",
    "chksum 0x2e",
];

fn boot<W: Write>(log: &mut Log<W>) -> std::io::Result<()> {
    for l in BANNER {
        log.line(l)?;
    }
    log.line("Booting")?;
    log.line("IP address: 192.168.1.60")?;
    log.line("Ready")
}

/// An ESP8266 update that runs out of room: the known answer of this log.
fn failed_update<W: Write>(log: &mut Log<W>) -> std::io::Result<()> {
    log.line("Start updating sketch")?;
    for p in [0, 10, 20, 30] {
        log.line(&format!("Progress: {p}%"))?;
        log.tick(200);
    }
    log.line("ERROR[4]: Not Enough Space")?;
    log.line("Error[1]: Begin Failed")
}

fn garbage<W: Write>(log: &mut Log<W>, r: &mut Rng) -> std::io::Result<()> {
    let mut b: Vec<u8> = (0..24).map(|_| r.below(256) as u8).collect();
    b.retain(|&c| c != b'\n' && c != b'\r');
    b.push(b'\n');
    log.raw(&b)
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = write_log(&a) {
        eprintln!("cannot write {}: {e}", a.out);
        std::process::exit(1);
    }
}

fn write_log(a: &Args) -> std::io::Result<()> {
    let mut r = Rng(a.seed);
    let target = a.size_mb * 1_000_000;
    let w = BufWriter::with_capacity(1 << 20, File::create(&a.out)?);
    let mut log = Log {
        w,
        t_ms: 8 * 3_600_000,
        bytes: 0,
        lines: 0,
    };
    boot(&mut log)?;
    // Updates are spread evenly; each fails the same known way.
    let updates = 3u64;
    let mut next_update = 1;
    let mut n = 0u64;
    while log.bytes < target {
        n += 1;
        log.tick(1 + r.below(4));
        if r.below(200_000) == 0 {
            garbage(&mut log, &mut r)?;
        } else if r.below(2_000_000) == 0 {
            boot(&mut log)?;
        } else {
            log.line(&app_line(&mut r, n))?;
        }
        if next_update <= updates && log.bytes >= target * next_update / (updates + 1) {
            failed_update(&mut log)?;
            next_update += 1;
        }
    }
    log.w.flush()?;
    let mut m = File::create(format!("{}.manifest", a.out))?;
    writeln!(
        m,
        "bytes={}\nlines={}\nupdates={updates}\nexpect_cause=insufficient_space",
        log.bytes, log.lines
    )
}
