//! Which frames are worth keeping, decided from a few header bytes.
//!
//! The capture thread sees every frame on the interface; on a busy Wi-Fi link that is
//! thousands a second, almost none about the device. These checks read fixed offsets
//! from the borrowed frame and allocate nothing, so dropping costs next to nothing.

use crate::decode::net::pcap::LinkType;
use std::net::Ipv4Addr;

const MDNS: u16 = 5353;

/// True for IPv4 to or from `device`, ARP naming `device`, and mDNS (the IDE finds boards
/// by their `_arduino._tcp` announcements, so their absence is evidence too).
pub fn keep(link: LinkType, frame: &[u8], device: Ipv4Addr) -> bool {
    let Some((ethertype, l3)) = network_layer(link, frame) else {
        return false;
    };
    match ethertype {
        0x0800 => ipv4(l3, device),
        0x0806 => arp_names(l3, device),
        0x86DD => ipv6_mdns(l3),
        _ => false,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn addr(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s = b.get(at..at + 4)?;
    Some(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
}

fn network_layer(link: LinkType, f: &[u8]) -> Option<(u16, &[u8])> {
    match link {
        LinkType::Ethernet => {
            let mut at = 12;
            let mut et = be16(f, at)?;
            // Up to two VLAN tags (802.1Q, QinQ); more is not a network a board sits on.
            for _ in 0..2 {
                if et != 0x8100 && et != 0x88A8 {
                    break;
                }
                at += 4;
                et = be16(f, at)?;
            }
            Some((et, f.get(at + 2..)?))
        }
        // Tunnels and other header-less links hand over the IP packet itself.
        LinkType::Raw => match f.first()? >> 4 {
            4 => Some((0x0800, f)),
            6 => Some((0x86DD, f)),
            _ => None,
        },
        _ => None,
    }
}

fn ipv4(ip: &[u8], device: Ipv4Addr) -> bool {
    let (Some(src), Some(dst)) = (addr(ip, 12), addr(ip, 16)) else {
        return false;
    };
    if src == device || dst == device {
        return true;
    }
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    let first_fragment = be16(ip, 6).is_some_and(|f| f & 0x1FFF == 0);
    ip[9] == 17 && first_fragment && udp_mdns(ip, ihl)
}

fn udp_mdns(ip: &[u8], at: usize) -> bool {
    be16(ip, at) == Some(MDNS) || be16(ip, at + 2) == Some(MDNS)
}

fn ipv6_mdns(ip: &[u8]) -> bool {
    ip.get(6) == Some(&17) && udp_mdns(ip, 40)
}

/// ARP for IPv4: sender and target protocol addresses sit after each hardware address.
fn arp_names(arp: &[u8], device: Ipv4Addr) -> bool {
    if be16(arp, 2) != Some(0x0800) || arp.get(5) != Some(&4) {
        return false;
    }
    let hlen = usize::from(arp.get(4).copied().unwrap_or(0));
    let sender = addr(arp, 8 + hlen);
    let target = addr(arp, 8 + hlen + 4 + hlen);
    sender == Some(device) || target == Some(device)
}

/// Drops the second copy of each frame on loopback.
///
/// `lo` hands a packet socket every frame twice, once leaving and once arriving, and
/// pnet does not say which is which. The two copies are byte-identical and read
/// back-to-back, while a genuine repeat (a TCP retransmission, espota's re-sent
/// invitation) comes hundreds of milliseconds later and usually differs in IP id or
/// TCP timestamp. So: identical bytes within [`Dedupe::WINDOW_US`] are one frame. A
/// match is consumed, so a third copy counts again.
#[derive(Debug, Default)]
pub struct Dedupe {
    recent: Vec<Seen>,
    next: usize,
}

#[derive(Debug, Default)]
struct Seen {
    t_us: i64,
    used: bool,
    bytes: Vec<u8>,
}

impl Dedupe {
    pub const WINDOW_US: i64 = 20_000;
    /// Frames remembered; copies interleave with at most a few other frames on `lo`.
    const SLOTS: usize = 32;

    pub fn new() -> Dedupe {
        Dedupe::default()
    }

    /// True when `frame` repeats one seen within the window (and is to be dropped).
    pub fn repeat(&mut self, t_us: i64, frame: &[u8]) -> bool {
        let hit = self
            .recent
            .iter_mut()
            .find(|s| s.used && t_us - s.t_us <= Self::WINDOW_US && s.bytes == frame);
        if let Some(s) = hit {
            s.used = false;
            return true;
        }
        if self.recent.len() < Self::SLOTS {
            self.recent.push(Seen::default());
        }
        // Reuse the oldest slot's buffer: no allocation once the ring is warm.
        let slot = &mut self.recent[self.next];
        slot.bytes.clear();
        slot.bytes.extend_from_slice(frame);
        slot.t_us = t_us;
        slot.used = true;
        self.next = (self.next + 1) % Self::SLOTS;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::net::build::{frame, udp};

    const DEV: Ipv4Addr = Ipv4Addr::new(10, 9, 8, 7);

    fn arp(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&[2; 6]);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
        f.extend_from_slice(&[2; 6]);
        f.extend_from_slice(&sender);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target);
        f
    }

    #[test]
    fn keeps_device_traffic_arp_and_mdns_only() {
        let to_dev = frame(
            [10, 9, 8, 1],
            DEV.octets(),
            17,
            &udp(4000, 8266, b"0 1 2 x\n"),
        );
        let from_dev = frame(DEV.octets(), [10, 9, 8, 1], 6, &[0; 20]);
        let other = frame([10, 9, 8, 1], [10, 9, 8, 3], 17, &udp(4000, 8266, b"x"));
        let mdns = frame([10, 9, 8, 3], [224, 0, 0, 251], 17, &udp(5353, 5353, b"q"));
        let e = LinkType::Ethernet;
        assert!(keep(e, &to_dev, DEV) && keep(e, &from_dev, DEV) && keep(e, &mdns, DEV));
        assert!(!keep(e, &other, DEV));
        assert!(keep(e, &arp([10, 9, 8, 1], DEV.octets()), DEV));
        assert!(!keep(e, &arp([10, 9, 8, 1], [10, 9, 8, 3]), DEV));
        assert!(keep(LinkType::Raw, &to_dev[14..], DEV));
        let mut vlan = to_dev[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0, 5]);
        vlan.extend_from_slice(&to_dev[12..]);
        assert!(keep(e, &vlan, DEV));
    }

    #[test]
    fn truncated_and_odd_frames_are_dropped_without_panic() {
        let good = frame(DEV.octets(), [1, 1, 1, 1], 17, &udp(5353, 5353, b"abc"));
        for cut in 0..good.len() {
            let _ = keep(LinkType::Ethernet, &good[..cut], DEV);
            let _ = keep(LinkType::Raw, &good[14..14 + cut.min(good.len() - 14)], DEV);
        }
        assert!(!keep(LinkType::Other(147), &good, DEV));
        assert!(!keep(LinkType::Ethernet, &[0xFF; 64], DEV));
    }

    #[test]
    fn dedupe_pairs_within_window_only() {
        let mut d = Dedupe::new();
        assert!(!d.repeat(0, b"a"));
        assert!(!d.repeat(5, b"b"));
        assert!(d.repeat(10, b"a"));
        assert!(d.repeat(12, b"b"));
        // A third identical copy is a new frame; so is one after the window.
        assert!(!d.repeat(20, b"a"));
        assert!(!d.repeat(20 + Dedupe::WINDOW_US + 1, b"a"));
        for i in 0..1000u32 {
            assert!(!d.repeat(1_000_000 + i64::from(i), &i.to_be_bytes()));
        }
    }
}
