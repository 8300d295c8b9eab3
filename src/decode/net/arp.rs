//! ARP about the device: requests for its address that nobody answers mean no host
//! with that address is on the link (switched off, other network, wrong IP), which
//! tells "unreachable" apart from "there but not answering".

use super::packet::l3;
use super::pcap::LinkType;
use crate::event::{Event, Source};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Bounded: a flood of requests for many addresses cannot grow this without limit.
const MAX_TARGETS: usize = 256;

/// A request this close to the end of recording may still have had its answer on the
/// way (Linux re-asks a neighbour it has not heard from in a while, and a live run can
/// stop just then). A missing host is asked again each second, so it is still seen.
const ANSWER_GRACE_US: i64 = 1_000_000;

#[derive(Default)]
pub struct ArpWatch {
    /// Target address → (first request time, requests, answered).
    targets: HashMap<Ipv4Addr, (i64, u32, bool)>,
}

impl ArpWatch {
    pub fn new() -> ArpWatch {
        ArpWatch::default()
    }

    /// Returns whether the frame was an ARP packet.
    pub fn frame(&mut self, t_us: i64, link: LinkType, f: &[u8]) -> bool {
        let Some((0x0806, a)) = l3(link, f) else {
            return false;
        };
        // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
        if a.len() < 28 || a[0..6] != [0, 1, 8, 0, 6, 4] {
            return false;
        }
        let op = u16::from_be_bytes([a[6], a[7]]);
        let sender = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
        let target = Ipv4Addr::new(a[24], a[25], a[26], a[27]);
        match op {
            1 if sender != target
                && (self.targets.len() < MAX_TARGETS || self.targets.contains_key(&target)) =>
            {
                let e = self.targets.entry(target).or_insert((t_us, 0, false));
                e.1 += 1;
            }
            2 => {
                if let Some(e) = self.targets.get_mut(&sender) {
                    e.2 = true;
                }
            }
            _ => {}
        }
        true
    }

    /// One `arp.unanswered` event per address that was asked for and never answered,
    /// recording having ended at `end_us`.
    pub fn finish(&mut self, end_us: i64) -> Vec<Event> {
        let asked_in_time = |first: i64| end_us.saturating_sub(first) >= ANSWER_GRACE_US;
        let mut out: Vec<Event> = self
            .targets
            .drain()
            .filter(|(_, (first, n, answered))| !answered && *n > 0 && asked_in_time(*first))
            .map(|(ip, (t, n, _))| {
                let mut e = Event::new(
                    Source::Net,
                    "arp.unanswered",
                    format!("who-has {ip}: {n} ARP request(s), no reply: no host holds this address on the link"),
                )
                .with("ip", ip.to_string())
                .with("requests", n as i64);
                e.t_us = t;
                e.timed = true;
                e
            })
            .collect();
        out.sort_by_key(|e| e.t_us);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arp(op: u8, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend([0, 1, 8, 0, 6, 4, 0, op]);
        f.extend([2, 0, 0, 0, 0, 1]);
        f.extend(sender);
        f.extend([0; 6]);
        f.extend(target);
        f
    }

    #[test]
    fn unanswered_requests_are_reported_once_and_answered_ones_not() {
        let mut w = ArpWatch::new();
        for t in 0..3 {
            w.frame(
                t,
                LinkType::Ethernet,
                &arp(1, [10, 0, 0, 1], [10, 0, 0, 77]),
            );
        }
        w.frame(5, LinkType::Ethernet, &arp(1, [10, 0, 0, 1], [10, 0, 0, 2]));
        w.frame(6, LinkType::Ethernet, &arp(2, [10, 0, 0, 2], [10, 0, 0, 1]));
        // Gratuitous ARP and a cut frame are ignored.
        w.frame(7, LinkType::Ethernet, &arp(1, [10, 0, 0, 9], [10, 0, 0, 9]));
        w.frame(
            8,
            LinkType::Ethernet,
            &arp(1, [10, 0, 0, 1], [10, 0, 0, 8])[..30],
        );
        let ev = w.finish(5_000_000);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].fields["ip"], "10.0.0.77".to_string().into());
        assert_eq!(ev[0].fields["requests"], 3i64.into());
        assert_eq!(ev[0].t_us, 0);
    }

    /// A request made as recording stopped is not evidence that nobody answers.
    #[test]
    fn a_request_just_before_the_end_is_not_judged() {
        let ask = arp(1, [10, 0, 0, 1], [10, 0, 0, 77]);
        let mut w = ArpWatch::new();
        w.frame(14_500_000, LinkType::Ethernet, &ask);
        assert!(w.finish(15_000_000).is_empty());
        let mut w = ArpWatch::new();
        w.frame(13_000_000, LinkType::Ethernet, &ask);
        w.frame(14_500_000, LinkType::Ethernet, &ask);
        assert_eq!(w.finish(15_000_000).len(), 1);
    }
}
