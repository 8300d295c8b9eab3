//! Network decoding: capture files, frames, ArduinoOTA and ESPHome OTA sessions. Pure
//! functions over bytes; live capture feeds the same [`ota::OtaDecoder`].

pub mod arp;
pub mod auth;
pub mod build;
pub mod esphome;
pub mod ota;
pub mod packet;
pub mod pcap;
mod ports;
mod stream;

use super::DecodedLog;
use super::timestamp::Clock;
pub use ota::Options;

/// Decodes a pcap/pcapng file into network events on the epoch clock.
pub fn decode_capture(bytes: &[u8]) -> Result<(DecodedLog, usize), pcap::PcapError> {
    decode_capture_with(bytes, &Options::default())
}

/// As [`decode_capture`], with what the analyst knows (e.g. the OTA password, to tell
/// whether the uploader used the right one).
pub fn decode_capture_with(
    bytes: &[u8],
    opts: &Options,
) -> Result<(DecodedLog, usize), pcap::PcapError> {
    decode_frames(pcap::Reader::with_capacity(bytes, bytes.len()), opts)
}

/// As [`decode_capture_with`], reading the capture from `src` front to back through a
/// fixed buffer: memory does not grow with the size of the file. Returns the events and
/// how many packets (IPv4 and ARP) were decoded.
pub fn decode_stream(
    src: impl std::io::Read,
    opts: &Options,
) -> Result<(DecodedLog, usize), pcap::PcapError> {
    decode_frames(pcap::Reader::new(src), opts)
}

fn decode_frames<R: std::io::Read>(
    frames: Result<pcap::Reader<R>, pcap::PcapError>,
    opts: &Options,
) -> Result<(DecodedLog, usize), pcap::PcapError> {
    let mut frames = frames?;
    let mut d = Decoder::new(opts);
    while let Some(f) = frames.next_frame()? {
        d.frame(&f);
    }
    let mut log = d.finish();
    if let Some(why) = frames.truncated() {
        log.notes.insert(
            0,
            format!("the capture is incomplete ({why}); every complete frame before that was used"),
        );
    }
    log.notes.extend(frames.notes());
    Ok((log, d.packets))
}

/// The state of one capture's decoding, fed frame by frame.
struct Decoder {
    ota: ota::OtaDecoder,
    arp: arp::ArpWatch,
    events: Vec<crate::event::Event>,
    end: i64,
    packets: usize,
    fragments: usize,
    /// IPv4 frames whose header lengths do not add up: count, and the first one's defect.
    defects: usize,
    first_defect: Option<(usize, String)>,
    frames: usize,
}

impl Decoder {
    fn new(opts: &Options) -> Decoder {
        Decoder {
            ota: ota::OtaDecoder::with_options(opts.clone()),
            arp: arp::ArpWatch::new(),
            events: Vec::new(),
            end: 0,
            packets: 0,
            fragments: 0,
            defects: 0,
            first_defect: None,
            frames: 0,
        }
    }

    fn frame(&mut self, f: &pcap::Frame<'_>) {
        self.frames += 1;
        self.end = self.end.max(f.t_us);
        if f.echo {
            return;
        }
        if let Some(p) = packet::parse(f.link, f.data) {
            self.packets += 1;
            self.ota.packet_into(f.t_us, &p, &mut self.events);
        } else if self.arp.frame(f.t_us, f.link, f.data) {
            self.packets += 1;
        } else if packet::is_fragment(f.link, f.data) {
            self.fragments += 1;
        } else if let Some(why) = packet::defect(f.link, f.data) {
            self.defects += 1;
            self.first_defect.get_or_insert((self.frames, why));
        }
    }

    fn finish(&mut self) -> DecodedLog {
        let mut log = DecodedLog {
            clock: Some(Clock::Epoch),
            end_us: Some(self.end),
            ..DecodedLog::default()
        };
        log.events = std::mem::take(&mut self.events);
        log.events.extend(self.ota.finish(self.end));
        log.events.extend(self.arp.finish(self.end));
        log.events.sort_by_key(|e| e.t_us);
        if self.fragments > 0 {
            log.notes.push(format!(
                "{} IP fragment(s) were skipped: fragments are not reassembled (OTA messages are far smaller than a frame, so real OTA traffic is never fragmented)",
                self.fragments
            ));
        }
        if let Some((n, why)) = &self.first_defect {
            log.notes.push(format!(
                "{} IPv4 packet(s) were skipped because their header lengths do not add up (the first, frame {n}: {why}); a capture taken with a small snapshot length (tcpdump -s) cuts headers, so capture with the default",
                self.defects
            ));
        }
        log.notes.extend(self.ota.notes());
        log
    }
}

#[cfg(test)]
mod tests {
    use super::build::{frame, pcap, udp};
    use super::*;

    #[test]
    fn fragments_are_counted_in_a_note() {
        let mut f = frame([1, 1, 1, 1], [2, 2, 2, 2], 17, &udp(1, 3232, b"x"));
        f[14 + 6] = 0x20;
        let (log, packets) = decode_capture(&pcap(&[(0, f)])).unwrap();
        assert_eq!(packets, 0);
        assert!(log.notes.iter().any(|n| n.contains("1 IP fragment")));
    }
}
