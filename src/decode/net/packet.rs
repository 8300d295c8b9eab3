//! Frames → IPv4 packets with their UDP, TCP or ICMP layer. Every length is checked
//! against the bytes actually present; anything that does not add up is skipped.

use super::pcap::LinkType;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq)]
pub struct Packet<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub layer: Layer<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Layer<'a> {
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
    },
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        payload: &'a [u8],
    },
    /// Destination unreachable, with what it quotes of the datagram that caused it.
    IcmpUnreachable { code: u8, orig: Option<Quoted> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quoted {
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// The IPv4 packet inside a frame of the given link type, if any.
pub fn ip_payload(link: LinkType, f: &[u8]) -> Option<&[u8]> {
    let (ethertype, rest) = l3(link, f)?;
    (ethertype == 0x0800).then_some(rest)
}

/// The frame's EtherType and what follows the link header.
pub fn l3(link: LinkType, f: &[u8]) -> Option<(u16, &[u8])> {
    Some(match link {
        LinkType::Ethernet => {
            let mut at = 12;
            let mut et = u16::from_be_bytes(f.get(at..at + 2)?.try_into().ok()?);
            // 802.1Q VLAN tags.
            while et == 0x8100 || et == 0x88A8 {
                at += 4;
                et = u16::from_be_bytes(f.get(at..at + 2)?.try_into().ok()?);
            }
            (et, f.get(at + 2..)?)
        }
        LinkType::LinuxSll => (
            u16::from_be_bytes(f.get(14..16)?.try_into().ok()?),
            f.get(16..)?,
        ),
        LinkType::LinuxSll2 => (
            u16::from_be_bytes(f.get(0..2)?.try_into().ok()?),
            f.get(20..)?,
        ),
        LinkType::Null => (0x0800, f.get(4..)?),
        LinkType::Raw => (0x0800, f),
        LinkType::Other(_) => return None,
    })
}

pub fn parse(link: LinkType, frame: &[u8]) -> Option<Packet<'_>> {
    let ip = ip_payload(link, frame)?;
    let (src, dst, proto, body) = ipv4(ip)?;
    let layer = match proto {
        17 => udp(body)?,
        6 => tcp(body)?,
        1 => icmp(body)?,
        _ => return None,
    };
    Some(Packet { src, dst, layer })
}

/// Whether a frame is an IPv4 fragment (first or later). Fragments are not reassembled:
/// a later fragment has no transport header, and reading its first bytes as ports would
/// invent traffic; a first fragment holds an incomplete datagram. OTA messages are
/// small enough never to be fragmented, so what is skipped is counted in a note.
pub fn is_fragment(link: LinkType, frame: &[u8]) -> bool {
    ip_payload(link, frame)
        .and_then(|ip| ip.get(6..8))
        .is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x3FFF != 0)
        && ip_payload(link, frame)
            .and_then(|ip| ip.first())
            .is_some_and(|b| b >> 4 == 4)
}

/// Why an IPv4 frame that [`parse`] skipped could not be read, when the reason is a
/// header length that does not add up (rather than a protocol that is not decoded).
pub fn defect(link: LinkType, frame: &[u8]) -> Option<String> {
    let ip = ip_payload(link, frame)?;
    let first = *ip.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0F) * 4;
    let Some(total) = ip
        .get(2..4)
        .map(|t| usize::from(u16::from_be_bytes([t[0], t[1]])))
    else {
        return Some(format!("IPv4 header cut off after {} byte(s)", ip.len()));
    };
    if ihl < 20 {
        return Some(format!("IPv4 header length {ihl}, below the minimum of 20"));
    }
    if ihl > ip.len() {
        return Some(format!(
            "IPv4 header length {ihl}, beyond the {} byte(s) captured",
            ip.len()
        ));
    }
    if total < ihl {
        return Some(format!(
            "IPv4 total length {total}, shorter than its own header ({ihl})"
        ));
    }
    let body = &ip[ihl..total.min(ip.len())];
    match ip[9] {
        17 if body.len() < 8 => Some(format!("UDP header cut off after {} byte(s)", body.len())),
        6 => tcp_defect(body),
        _ => None,
    }
}

fn tcp_defect(body: &[u8]) -> Option<String> {
    let Some(&b) = body.get(12) else {
        return Some(format!("TCP header cut off after {} byte(s)", body.len()));
    };
    let off = usize::from(b >> 4) * 4;
    if off < 20 {
        Some(format!("TCP data offset {off}, below the minimum of 20"))
    } else if off > body.len() {
        Some(format!(
            "TCP header length {off}, beyond the {} byte(s) of the segment",
            body.len()
        ))
    } else {
        None
    }
}

fn ipv4(ip: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, &[u8])> {
    let first = *ip.first()?;
    let ihl = usize::from(first & 0x0F) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes(ip.get(2..4)?.try_into().ok()?));
    let frag = u16::from_be_bytes(ip.get(6..8)?.try_into().ok()?);
    // Only whole datagrams: OTA messages are small, and a fragment's ports are not known.
    if frag & 0x3FFF != 0 {
        return None;
    }
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?);
    let end = total.min(ip.len());
    Some((src, dst, ip[9], ip.get(ihl..end)?))
}

fn ports(b: &[u8]) -> Option<(u16, u16)> {
    Some((
        u16::from_be_bytes(b.get(0..2)?.try_into().ok()?),
        u16::from_be_bytes(b.get(2..4)?.try_into().ok()?),
    ))
}

fn udp(b: &[u8]) -> Option<Layer<'_>> {
    let (sport, dport) = ports(b)?;
    let len = usize::from(u16::from_be_bytes(b.get(4..6)?.try_into().ok()?));
    let payload = b.get(8..len.min(b.len()).max(8))?;
    Some(Layer::Udp {
        sport,
        dport,
        payload,
    })
}

fn tcp(b: &[u8]) -> Option<Layer<'_>> {
    let (sport, dport) = ports(b)?;
    let word = |at: usize| {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_be_bytes)
    };
    let off = usize::from(*b.get(12)? >> 4) * 4;
    if off < 20 {
        return None;
    }
    Some(Layer::Tcp {
        sport,
        dport,
        seq: word(4)?,
        ack: word(8)?,
        flags: *b.get(13)?,
        window: u16::from_be_bytes(b.get(14..16)?.try_into().ok()?),
        payload: b.get(off..)?,
    })
}

fn icmp(b: &[u8]) -> Option<Layer<'_>> {
    if *b.first()? != 3 {
        return None;
    }
    let code = *b.get(1)?;
    let orig = b.get(8..).and_then(|q| {
        let (src, dst, proto, body) = ipv4(q).or_else(|| quoted_header(q))?;
        let (sport, dport) = ports(body)?;
        Some(Quoted {
            proto,
            src,
            dst,
            sport,
            dport,
        })
    });
    Some(Layer::IcmpUnreachable { code, orig })
}

/// The quoted header's total length is the original's, longer than what was quoted.
fn quoted_header(q: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u8, &[u8])> {
    let ihl = usize::from(q.first()? & 0x0F) * 4;
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(q.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(q.get(16..20)?).ok()?);
    Some((src, dst, *q.get(9)?, q.get(ihl..)?))
}

#[cfg(test)]
mod tests {
    use super::super::build::{frame, udp as udp_bytes};
    use super::*;

    #[test]
    fn udp_invitation() {
        let f = frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            &udp_bytes(50000, 3232, b"0 40000 123 abc\n"),
        );
        let p = parse(LinkType::Ethernet, &f).unwrap();
        assert_eq!(p.dst, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(
            p.layer,
            Layer::Udp {
                sport: 50000,
                dport: 3232,
                payload: b"0 40000 123 abc\n"
            }
        );
    }

    #[test]
    fn icmp_port_unreachable_quotes_the_invitation() {
        let quoted = frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            &udp_bytes(50000, 8266, b"0 1 2 x\n"),
        );
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted[14..14 + 28]);
        let f = frame([10, 0, 0, 2], [10, 0, 0, 1], 1, &icmp);
        let Layer::IcmpUnreachable { code, orig } = parse(LinkType::Ethernet, &f).unwrap().layer
        else {
            panic!()
        };
        assert_eq!(code, 3);
        assert_eq!(orig.unwrap().dport, 8266);
    }

    #[test]
    fn hostile_frames_are_skipped_not_panicked_on() {
        let good = frame([1, 1, 1, 1], [2, 2, 2, 2], 17, &udp_bytes(1, 2, &[7; 64]));
        for cut in 0..good.len() {
            let _ = parse(LinkType::Ethernet, &good[..cut]);
        }
        let mut lying = good.clone();
        lying[14 + 2] = 0xFF; // total length beyond the frame
        lying[14 + 20 + 4] = 0xFF; // UDP length beyond the frame
        assert!(parse(LinkType::Ethernet, &lying).is_some());
        let mut frag = good.clone();
        frag[14 + 6] = 0x20; // more fragments
        assert!(parse(LinkType::Ethernet, &frag).is_none());
        for link in [
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Raw,
            LinkType::Other(9),
        ] {
            let _ = parse(link, &good);
        }
    }

    #[test]
    fn sixty_four_kilobyte_invitation() {
        let big = vec![b'9'; 65_000];
        let f = frame(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            17,
            &udp_bytes(1, 3232, &big[..65_000 - 28]),
        );
        assert!(matches!(
            parse(LinkType::Ethernet, &f).unwrap().layer,
            Layer::Udp { .. }
        ));
    }

    fn invitation() -> Vec<u8> {
        frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            &udp_bytes(
                50000,
                3232,
                b"0 40000 10 0123456789abcdef0123456789abcdef\n",
            ),
        )
    }

    #[test]
    fn bogus_ihl_and_total_length() {
        let good = invitation();
        for ihl in [0u8, 1, 4, 15] {
            let mut f = good.clone();
            f[14] = 0x40 | ihl;
            let p = parse(LinkType::Ethernet, &f);
            // IHL 15 runs past the UDP header; it must not panic, whatever it yields.
            if ihl < 5 {
                assert!(p.is_none());
            }
        }
        let mut short = good.clone();
        short[14 + 2..14 + 4].copy_from_slice(&10u16.to_be_bytes()); // total < IHL
        assert!(parse(LinkType::Ethernet, &short).is_none());
        let mut v6 = good.clone();
        v6[14] = 0x65;
        assert!(parse(LinkType::Ethernet, &v6).is_none());
    }

    #[test]
    fn udp_length_below_its_header() {
        let mut f = invitation();
        f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&3u16.to_be_bytes());
        let Layer::Udp { payload, .. } = parse(LinkType::Ethernet, &f).unwrap().layer else {
            panic!()
        };
        assert!(payload.is_empty());
    }

    #[test]
    fn truncated_tcp_and_bad_data_offset() {
        let seg = crate::decode::net::build::tcp(1, 2, SYN, b"data");
        let f = frame([1, 1, 1, 1], [2, 2, 2, 2], 6, &seg);
        for cut in 14 + 20..14 + 20 + 20 {
            assert!(parse(LinkType::Ethernet, &f[..cut]).is_none(), "cut {cut}");
        }
        let mut bad = f.clone();
        bad[14 + 20 + 12] = 0x40; // data offset 16 < 20
        assert!(parse(LinkType::Ethernet, &bad).is_none());
        bad[14 + 20 + 12] = 0xF0; // 60 bytes: beyond the segment
        assert!(parse(LinkType::Ethernet, &bad).is_none());
    }

    #[test]
    fn fragments_of_an_invitation_are_never_read_as_udp() {
        // First fragment: offset 0, more fragments set. Its UDP header is real, but the
        // datagram is incomplete: skipped, and reported as a fragment.
        let mut first = invitation();
        first[14 + 6] = 0x20;
        assert!(parse(LinkType::Ethernet, &first).is_none());
        assert!(is_fragment(LinkType::Ethernet, &first));
        // A later fragment: offset 3 (24 bytes), no UDP header. Its first bytes are
        // invitation text, which must not become "ports".
        let mut later = frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            b"0 40000 10 0123456789abcdef",
        );
        later[14 + 6..14 + 8].copy_from_slice(&3u16.to_be_bytes());
        assert!(parse(LinkType::Ethernet, &later).is_none());
        assert!(is_fragment(LinkType::Ethernet, &later));
        assert!(!is_fragment(LinkType::Ethernet, &invitation()));
        assert!(!is_fragment(LinkType::Ethernet, &[0; 10]));
    }

    #[test]
    fn icmp_with_a_cut_quote() {
        let inv = invitation();
        for n in 0..28 {
            let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
            icmp.extend_from_slice(&inv[14..14 + n]);
            let f = frame([10, 0, 0, 2], [10, 0, 0, 1], 1, &icmp);
            let Layer::IcmpUnreachable { orig, .. } = parse(LinkType::Ethernet, &f).unwrap().layer
            else {
                panic!()
            };
            assert_eq!(orig.is_some(), n >= 24, "quote of {n} bytes");
        }
    }
}
