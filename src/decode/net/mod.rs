//! Network decoding: capture files, frames, ArduinoOTA and ESPHome OTA sessions. Pure
//! functions over bytes; live capture feeds the same [`ota::OtaDecoder`].

pub mod arp;
pub mod auth;
pub mod build;
pub mod esphome;
pub mod ota;
pub mod packet;
pub mod pcap;
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
    let cap = pcap::read(bytes)?;
    let mut dec = ota::OtaDecoder::with_options(opts.clone());
    let mut arp = arp::ArpWatch::new();
    let mut log = DecodedLog {
        clock: Some(Clock::Epoch),
        ..DecodedLog::default()
    };
    let mut last: Option<&pcap::Frame<'_>> = None;
    let (mut packets, mut fragments) = (0, 0);
    for f in &cap.frames {
        // On `lo` every frame is captured twice (out and in): drop the echo.
        if last.is_some_and(|l| l.data == f.data && f.t_us - l.t_us < 1000) {
            continue;
        }
        last = Some(f);
        if let Some(p) = packet::parse(f.link, f.data) {
            packets += 1;
            log.events.extend(dec.packet(f.t_us, &p));
        } else if arp.frame(f.t_us, f.link, f.data) {
            packets += 1;
        } else if packet::is_fragment(f.link, f.data) {
            fragments += 1;
        }
    }
    let end = cap.frames.iter().map(|f| f.t_us).max().unwrap_or(0);
    log.events.extend(dec.finish(end));
    log.events.extend(arp.finish());
    log.end_us = Some(end);
    log.events.sort_by_key(|e| e.t_us);
    if let Some(why) = cap.truncated {
        log.notes.push(format!(
            "the capture is incomplete ({why}); every complete frame before that was used"
        ));
    }
    if fragments > 0 {
        log.notes.push(format!(
            "{fragments} IP fragment(s) were skipped: fragments are not reassembled (OTA messages are far smaller than a frame, so real OTA traffic is never fragmented)"
        ));
    }
    log.notes.extend(dec.notes());
    Ok((log, packets))
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
