//! One-line descriptions of captured frames, for the `capture` debugging command.

use crate::decode::net::packet::{self, Layer};
use crate::decode::net::pcap::LinkType;

/// `UDP 10.0.0.1:5000 > 10.0.0.7:8266 len 12`, `ARP who-has 10.0.0.7 tell 10.0.0.1`, …
pub fn frame(link: LinkType, f: &[u8]) -> String {
    if let Some(p) = packet::parse(link, f) {
        let (src, dst) = (p.src, p.dst);
        return match p.layer {
            Layer::Udp {
                sport,
                dport,
                payload,
            } => {
                format!("UDP {src}:{sport} > {dst}:{dport} len {}", payload.len())
            }
            Layer::Tcp {
                sport,
                dport,
                flags,
                payload,
                ..
            } => {
                format!(
                    "TCP {src}:{sport} > {dst}:{dport} [{}] len {}",
                    tcp_flags(flags),
                    payload.len()
                )
            }
            Layer::IcmpUnreachable { code, .. } => {
                format!("ICMP {src} > {dst} unreachable code {code}")
            }
        };
    }
    arp(link, f).unwrap_or_else(|| format!("frame, {} bytes", f.len()))
}

fn tcp_flags(flags: u8) -> String {
    let names = [
        (packet::SYN, 'S'),
        (packet::FIN, 'F'),
        (packet::RST, 'R'),
        (0x08, 'P'),
        (packet::ACK, '.'),
    ];
    names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn arp(link: LinkType, f: &[u8]) -> Option<String> {
    if link != LinkType::Ethernet || f.get(12..14)? != [0x08, 0x06] {
        return None;
    }
    let a = f.get(14..42)?;
    let ip = |at: usize| std::net::Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]);
    let mac: Vec<String> = a[8..14].iter().map(|b| format!("{b:02x}")).collect();
    Some(match a[7] {
        1 => format!("ARP who-has {} tell {}", ip(24), ip(14)),
        2 => format!("ARP {} is-at {}", ip(14), mac.join(":")),
        op => format!("ARP op {op} {} > {}", ip(14), ip(24)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::net::build;

    #[test]
    fn describes_udp_tcp_and_junk() {
        let u = build::frame([1, 2, 3, 4], [5, 6, 7, 8], 17, &build::udp(1, 8266, b"abc"));
        assert_eq!(
            frame(LinkType::Ethernet, &u),
            "UDP 1.2.3.4:1 > 5.6.7.8:8266 len 3"
        );
        let t = build::frame([1, 2, 3, 4], [5, 6, 7, 8], 6, &build::tcp(9, 80, 0x12, b""));
        assert_eq!(
            frame(LinkType::Ethernet, &t),
            "TCP 1.2.3.4:9 > 5.6.7.8:80 [S.] len 0"
        );
        assert_eq!(frame(LinkType::Ethernet, &[0; 3]), "frame, 3 bytes");
    }
}
