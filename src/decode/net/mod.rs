//! Network decoding: capture files, frames, and ArduinoOTA sessions. Pure functions
//! over bytes; live capture feeds the same [`ota::OtaDecoder`].

pub mod build;
pub mod ota;
pub mod packet;
pub mod pcap;

use super::DecodedLog;
use super::timestamp::Clock;

/// Decodes a pcap/pcapng file into network events on the epoch clock.
pub fn decode_capture(bytes: &[u8]) -> Result<(DecodedLog, usize), pcap::PcapError> {
    let cap = pcap::read(bytes)?;
    let mut dec = ota::OtaDecoder::new();
    let mut log = DecodedLog {
        clock: Some(Clock::Epoch),
        ..DecodedLog::default()
    };
    let mut last: Option<&pcap::Frame<'_>> = None;
    let mut packets = 0;
    for f in &cap.frames {
        // On `lo` every frame is captured twice (out and in): drop the echo.
        if last.is_some_and(|l| l.data == f.data && f.t_us - l.t_us < 1000) {
            continue;
        }
        last = Some(f);
        if let Some(p) = packet::parse(f.link, f.data) {
            packets += 1;
            log.events.extend(dec.packet(f.t_us, &p));
        }
    }
    let end = cap.frames.iter().map(|f| f.t_us).max().unwrap_or(0);
    log.events.extend(dec.finish(end));
    log.end_us = Some(end);
    log.events.sort_by_key(|e| e.t_us);
    if let Some(why) = cap.truncated {
        log.notes.push(format!(
            "the capture is incomplete ({why}); every complete frame before that was used"
        ));
    }
    Ok((log, packets))
}
