//! Captures whose lengths lie, built byte by byte: each must end in a clear note or
//! error, keep every frame before the damage, and never panic or allocate by a length
//! read from the file. Also: the streaming reader yields exactly what the in-memory
//! reader does, however the bytes arrive.

use ota_doctor::decode::net::build::{self, udp};
use ota_doctor::decode::net::pcap::{self, MAX_FRAME, PcapError, Reader};
use ota_doctor::decode::net::{Options, decode_capture, decode_stream};
use std::io::Read;

const T0: i64 = 1_700_000_000_000_000;

fn invite() -> Vec<u8> {
    let inv = b"0 40000 900000 0123456789abcdef0123456789abcdef\n";
    build::frame([10, 0, 0, 1], [10, 0, 0, 2], 17, &udp(50000, 3232, inv))
}

fn noise(n: usize) -> Vec<u8> {
    build::frame([10, 0, 0, 3], [10, 0, 0, 4], 17, &udp(1, 2, &vec![7; n]))
}

/// A pcap of `frames` with the snapshot length raised so large frames are legitimate.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let timed: Vec<(i64, Vec<u8>)> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| (T0 + i as i64 * 10_000, f.clone()))
        .collect();
    let mut v = build::pcap(&timed);
    v[16..20].copy_from_slice(&(MAX_FRAME as u32).to_le_bytes());
    v
}

/// Byte offset of record `i`'s header in a file made by [`pcap`].
fn record_at(frames: &[Vec<u8>], i: usize) -> usize {
    24 + frames[..i].iter().map(|f| 16 + f.len()).sum::<usize>()
}

fn set_caplen(file: &mut [u8], at: usize, len: u32) {
    file[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
}

/// A source that hands out at most `n` bytes per read, and is interrupted now and then.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let k = self.n.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

type Seen = (Vec<(i64, Vec<u8>, bool)>, Option<String>, Vec<String>);

fn streamed(data: &[u8], n: usize) -> Seen {
    streamed_from(data, n, usize::MAX)
}

/// As [`streamed`], the reader's buffer starting at `cap` bytes (and growing).
fn streamed_from(data: &[u8], n: usize, cap: usize) -> Seen {
    let src = Trickle { data, n, calls: 0 };
    let mut r = Reader::with_capacity(src, cap).expect("a capture");
    let mut frames = Vec::new();
    while let Some(f) = r.next_frame().expect("no I/O error") {
        frames.push((f.t_us, f.data.to_vec(), f.echo));
    }
    (frames, r.truncated().map(str::to_string), r.notes())
}

fn in_memory(data: &[u8]) -> Seen {
    let c = pcap::read(data).expect("a capture");
    let frames = c.frames.iter().map(|f| (f.t_us, f.data.to_vec(), f.echo));
    (frames.collect(), c.truncated, c.notes)
}

fn notes(data: &[u8]) -> String {
    decode_capture(data).expect("a capture").0.notes.join("\n")
}

#[test]
fn absurd_record_length_stops_with_a_note_keeping_earlier_frames() {
    let frames = [invite(), noise(10), noise(20)];
    let mut f = pcap(&frames);
    set_caplen(&mut f, record_at(&frames, 1), u32::MAX);
    let (seen, why, _) = in_memory(&f);
    assert_eq!(seen.len(), 1);
    let why = why.expect("a reason");
    assert!(
        why.contains("4294967295") && why.contains("damaged"),
        "{why}"
    );
    assert_eq!(streamed(&f, 3), in_memory(&f));
    let (log, packets) = decode_capture(&f).unwrap();
    assert_eq!(packets, 1);
    assert!(log.notes[0].contains("incomplete"), "{:?}", log.notes);
    assert!(log.events.iter().any(|e| e.kind == "ota.invite"));
}

#[test]
fn record_length_at_the_cap_is_a_frame_and_one_past_it_is_not() {
    let frames = [noise(10), vec![0; MAX_FRAME], noise(30)];
    let f = pcap(&frames);
    assert_eq!(in_memory(&f).0.len(), 3);
    assert_eq!(streamed(&f, 1 << 16), in_memory(&f));
    let frames = [noise(10), vec![0; MAX_FRAME + 1], noise(30)];
    let f = pcap(&frames);
    let (seen, why, _) = in_memory(&f);
    assert_eq!(seen.len(), 1);
    assert!(why.unwrap().contains(&format!("{}", MAX_FRAME + 1)));
}

#[test]
fn record_longer_than_the_rest_of_the_file_is_a_cut() {
    let frames = [invite(), noise(10)];
    let mut f = pcap(&frames);
    set_caplen(&mut f, record_at(&frames, 1), 5000);
    let (seen, why, _) = in_memory(&f);
    assert_eq!(seen.len(), 1);
    assert!(why.unwrap().contains("cut off"));
    assert_eq!(streamed(&f, 100), in_memory(&f));
}

#[test]
fn record_longer_than_the_snapshot_length_is_read_and_noted() {
    let mut f = pcap(&[invite(), noise(100), noise(10)]);
    f[16..20].copy_from_slice(&64u32.to_le_bytes());
    let (seen, why, notes) = in_memory(&f);
    assert_eq!(seen.len(), 3);
    assert!(why.is_none());
    assert!(
        notes[0].starts_with("2 record(s)") && notes[0].contains("(64)"),
        "{notes:?}"
    );
    assert!(self::notes(&f).contains("snapshot length"));
}

#[test]
fn every_cut_of_a_file_reads_the_same_streamed_and_in_memory() {
    let frames = [invite(), noise(1), noise(700), invite(), noise(0)];
    let f = pcap(&frames);
    for cut in 0..f.len() {
        let part = &f[..cut];
        match pcap::read(part) {
            Err(e) => {
                assert_eq!(e, PcapError::NotACapture, "cut {cut}");
                assert!(Reader::new(part).is_err());
            }
            Ok(_) => {
                assert_eq!(streamed(part, 1), in_memory(part), "cut {cut}");
                assert_eq!(streamed(part, 5), in_memory(part), "cut {cut}");
                assert_eq!(streamed_from(part, 64, 0), in_memory(part), "cut {cut}");
            }
        }
    }
}

#[test]
fn many_megabytes_stream_through_the_fixed_buffer_unchanged() {
    // Sizes up to the cap, so records straddle every refill of the buffer, and echoes
    // (same bytes, same time) whose original sits before a refill.
    let mut frames = Vec::new();
    for i in 0..60usize {
        let mut d = noise((i * 7919) % (MAX_FRAME - 100));
        d[20] = i as u8;
        frames.push(d);
    }
    let mut timed: Vec<(i64, Vec<u8>)> = Vec::new();
    for (i, d) in frames.iter().enumerate() {
        timed.push((T0 + i as i64 * 10_000, d.clone()));
        if i % 3 == 0 {
            timed.push((T0 + i as i64 * 10_000 + 5, d.clone()));
        }
    }
    let mut f = build::pcap(&timed);
    f[16..20].copy_from_slice(&(MAX_FRAME as u32).to_le_bytes());
    assert!(f.len() > 4 << 20);
    let want = in_memory(&f);
    assert_eq!(want.0.iter().filter(|x| x.2).count(), 20);
    assert_eq!(streamed(&f, 1 << 20), want);
    assert_eq!(streamed(&f, 4099), want);
    assert_eq!(streamed_from(&f, 1 << 20, 0), want);
}

#[test]
fn a_read_error_is_an_error_with_its_offset() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let f = pcap(&[invite(), invite()]);
            if self.0 >= 60 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let k = buf.len().min(60 - self.0);
            buf[..k].copy_from_slice(&f[self.0..self.0 + k]);
            self.0 += k;
            Ok(k)
        }
    }
    let err = decode_stream(Failing(0), &Options::default()).unwrap_err();
    let PcapError::Io(msg) = err else {
        panic!("{err:?}")
    };
    assert!(
        msg.contains("byte 60") && msg.contains("disk on fire"),
        "{msg}"
    );
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = 12 + body.len().div_ceil(4) * 4;
    let mut v = kind.to_le_bytes().to_vec();
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(body);
    v.resize(len - 4, 0);
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v
}

fn shb() -> Vec<u8> {
    let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 0, 0, 0]);
    body.extend_from_slice(&[0xFF; 8]);
    block(0x0A0D_0D0A, &body)
}

fn idb() -> Vec<u8> {
    block(1, &[1, 0, 0, 0, 0, 0, 4, 0])
}

fn epb(iface: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&caplen.to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

fn pcapng(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut v = shb();
    v.extend(idb());
    for b in blocks {
        v.extend_from_slice(b);
    }
    v
}

fn good_epb() -> Vec<u8> {
    let f = invite();
    epb(0, f.len() as u32, &f)
}

/// Sets the leading (and, if `both`, the trailing) length of the block at `at`.
fn set_block_len(file: &mut [u8], at: usize, len: u32, both: bool) {
    let old = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
    file[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
    if both {
        file[at + old - 4..at + old].copy_from_slice(&len.to_le_bytes());
    }
}

#[test]
fn pcapng_block_lengths_that_lie_stop_reading_with_a_note() {
    let base = pcapng(&[good_epb(), good_epb(), good_epb()]);
    let second = shb().len() + idb().len() + good_epb().len();
    for (len, both, says) in [
        (8, true, "impossible length (8)"),
        (13, true, "impossible length (13)"),
        (0xFFFF_FFFC, true, "claims 4294967292 bytes"),
        (good_epb().len() as u32 + 4, false, "trailing length"),
        (good_epb().len() as u32 - 4, false, "trailing length"),
    ] {
        let mut f = base.clone();
        set_block_len(&mut f, second, len, both);
        let (seen, why, _) = in_memory(&f);
        assert_eq!(seen.len(), 1, "length {len}");
        let why = why.unwrap_or_default();
        assert!(
            why.contains(says) && why.contains(&format!("byte {second}")),
            "{why}"
        );
        assert_eq!(streamed(&f, 7), in_memory(&f), "length {len}");
        assert!(notes(&f).contains("incomplete"));
    }
}

#[test]
fn pcapng_without_a_byte_order_mark_stops() {
    let mut f = pcapng(&[good_epb()]);
    f[8..12].copy_from_slice(b"ABCD");
    let (seen, why, _) = in_memory(&f);
    assert!(seen.is_empty());
    assert!(why.unwrap().contains("byte-order"));
}

#[test]
fn pcapng_packet_blocks_that_lie_are_skipped_and_counted() {
    let f = invite();
    let too_long = epb(0, f.len() as u32 + 8, &f);
    let absurd = epb(0, u32::MAX, &f);
    let unknown_iface = epb(3, f.len() as u32, &f);
    let file = pcapng(&[too_long, good_epb(), absurd, unknown_iface]);
    let (seen, why, notes) = in_memory(&file);
    assert_eq!(seen.len(), 1);
    assert!(why.is_none());
    assert!(
        notes[0].starts_with("3 packet block(s) were skipped"),
        "{notes:?}"
    );
    assert_eq!(streamed(&file, 11), in_memory(&file));
    assert!(self::notes(&file).contains("3 packet block(s)"));
}

#[test]
fn large_blocks_of_other_kinds_are_skipped_without_buffering_them() {
    // A custom block (kind 0xBAD) of 3 MB: longer than any buffer, not decoded.
    let big = block(0xBAD, &vec![0x55; 3 << 20]);
    let file = pcapng(&[good_epb(), big.clone(), good_epb()]);
    assert_eq!(in_memory(&file).0.len(), 2);
    assert_eq!(streamed(&file, 1 << 20), in_memory(&file));
    assert_eq!(streamed_from(&file, 1 << 20, 0), in_memory(&file));
    // The same block cut short by the end of the file.
    let file = pcapng(&[good_epb(), big[..1 << 20].to_vec()]);
    let (seen, why, _) = streamed(&file, 1 << 16);
    assert_eq!(seen.len(), 1);
    assert!(why.unwrap().contains("cut off"));
    assert_eq!(in_memory(&file).1, streamed(&file, 1 << 16).1);
}

#[test]
fn ip_and_transport_lengths_that_lie_are_skipped_and_noted() {
    let good = invite();
    let mut ihl_beyond = good.clone();
    ihl_beyond.truncate(14 + 30);
    ihl_beyond[14] = 0x4F; // 60-byte header in 30 bytes
    let mut total_short = good.clone();
    total_short[14 + 2..14 + 4].copy_from_slice(&12u16.to_be_bytes());
    let seg = build::tcp(1, 2, 0x10, b"data");
    let mut tcp_beyond = build::frame([1, 1, 1, 1], [2, 2, 2, 2], 6, &seg);
    tcp_beyond[14 + 20 + 12] = 0xF0; // 60-byte TCP header in a 24-byte segment
    let mut udp_cut = build::frame([1, 1, 1, 1], [2, 2, 2, 2], 17, &[0, 1, 0, 2]);
    udp_cut.truncate(14 + 24);
    let f = pcap(&[good, ihl_beyond, total_short, tcp_beyond, udp_cut]);
    let (log, packets) = decode_capture(&f).unwrap();
    assert_eq!(packets, 1);
    let n = log.notes.join("\n");
    assert!(
        n.contains("4 IPv4 packet(s) were skipped")
            && n.contains("frame 2: IPv4 header length 60, beyond the 30 byte(s)"),
        "{n}"
    );
}

#[test]
fn analyze_reports_a_damaged_capture_and_refuses_a_directory() {
    let frames = [invite(), noise(10)];
    let mut f = pcap(&frames);
    set_caplen(&mut f, record_at(&frames, 1), u32::MAX);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.pcap");
    std::fs::write(&p, &f).unwrap();
    let run = |arg: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ota-doctor"))
            .args(["analyze", "--format", "json", "--pcap"])
            .arg(arg)
            .output()
            .unwrap()
    };
    let out = run(&p);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("claims 4294967295 bytes"), "{stdout}");
    let out = run(dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("directory") && err.contains("hint"), "{err}");
}
