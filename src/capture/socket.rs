//! The capture socket: an AF_PACKET socket with a kernel filter (classic BPF) that
//! passes only frames on the chosen interface that [`super::filter::keep`] could want.
//!
//! Without it every frame on the interface is copied to us and judged in user space;
//! a flood of unrelated traffic (a backup, a video stream on the same Wi-Fi) then fills
//! the socket's queue faster than one thread empties it, and the kernel drops frames
//! silently, OTA frames among them. Filtered in the kernel, that traffic never reaches
//! the queue. User space still applies `keep`, which stays the definition.

use pnet::datalink::DataLinkReceiver;
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use std::io::{self, Read};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Largest frame kept (loopback frames reach 64 KiB).
const SNAP: u32 = 262_144;
/// Room for bursts while the thread is busy: a second of a fast upload, and more.
const RCVBUF: usize = 4 << 20;
const ETH_P_ALL: u16 = 0x0003;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LDX_B_MSH: u16 = 0xb1;
const LD_H_IND: u16 = 0x48;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
/// SKF_AD_OFF + SKF_AD_IFINDEX: the index of the interface the frame came by.
const AD_IFINDEX: u32 = 0xFFFF_F000 + 8;

/// How frames on the interface begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Ethernet,
    /// No link header (tunnels): everything on the interface passes to user space.
    Raw,
}

/// One classic BPF instruction, kept readable so the program can be tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ins {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Ins {
    Ins { code, jt, jf, k }
}

/// The filter program for frames on `ifindex` about `device` (see module docs).
pub fn program(ifindex: u32, framing: Framing, device: Ipv4Addr) -> Vec<Ins> {
    const ACCEPT: u8 = 21;
    const DROP: u8 = 22;
    // Jump offsets count from the next instruction.
    let to = |at: u8, target: u8| target - at - 1;
    let dev = u32::from(device);
    if framing == Framing::Raw {
        return vec![
            ins(LD_W_ABS, 0, 0, AD_IFINDEX),
            ins(JEQ_K, 0, 1, ifindex),
            ins(RET_K, 0, 0, SNAP),
            ins(RET_K, 0, 0, 0),
        ];
    }
    vec![
        /* 0 */ ins(LD_W_ABS, 0, 0, AD_IFINDEX),
        /* 1 */ ins(JEQ_K, 0, to(1, DROP), ifindex),
        /* 2 */ ins(LD_H_ABS, 0, 0, 12),
        // ARP, IPv6 (mDNS) and VLAN-tagged frames: judged in user space.
        /* 3 */
        ins(JEQ_K, to(3, ACCEPT), 0, 0x0806),
        /* 4 */ ins(JEQ_K, to(4, ACCEPT), 0, 0x86DD),
        /* 5 */ ins(JEQ_K, to(5, ACCEPT), 0, 0x8100),
        /* 6 */ ins(JEQ_K, to(6, ACCEPT), 0, 0x88A8),
        /* 7 */ ins(JEQ_K, 0, to(7, DROP), 0x0800),
        // IPv4 from or to the device.
        /* 8 */ ins(LD_W_ABS, 0, 0, 26),
        /* 9 */ ins(JEQ_K, to(9, ACCEPT), 0, dev),
        /* 10 */ ins(LD_W_ABS, 0, 0, 30),
        /* 11 */ ins(JEQ_K, to(11, ACCEPT), 0, dev),
        // Otherwise only mDNS: UDP, first fragment, either port 5353.
        /* 12 */
        ins(LD_B_ABS, 0, 0, 23),
        /* 13 */ ins(JEQ_K, 0, to(13, DROP), 17),
        /* 14 */ ins(LD_H_ABS, 0, 0, 20),
        /* 15 */ ins(JSET_K, to(15, DROP), 0, 0x1FFF),
        /* 16 */ ins(LDX_B_MSH, 0, 0, 14),
        /* 17 */ ins(LD_H_IND, 0, 0, 14),
        /* 18 */ ins(JEQ_K, to(18, ACCEPT), 0, 5353),
        /* 19 */ ins(LD_H_IND, 0, 0, 16),
        /* 20 */ ins(JEQ_K, to(20, ACCEPT), to(20, DROP), 5353),
        /* 21 */ ins(RET_K, 0, 0, SNAP),
        /* 22 */ ins(RET_K, 0, 0, 0),
    ]
}

/// A filtered packet socket, read like pnet's receiver.
pub struct Filtered {
    sock: Socket,
    buf: Vec<u8>,
    framing: Framing,
    device: Ipv4Addr,
}

impl Filtered {
    /// Opens the socket for frames on `ifindex`. Needs CAP_NET_RAW.
    pub fn open(
        ifindex: u32,
        framing: Framing,
        device: Ipv4Addr,
        timeout: Duration,
    ) -> io::Result<Filtered> {
        let proto = Protocol::from(i32::from(ETH_P_ALL.to_be()));
        let sock = Socket::new(Domain::PACKET, Type::RAW, Some(proto))?;
        // Best effort: the default queue still works, only with less slack.
        let _ = sock.set_recv_buffer_size(RCVBUF);
        let mut f = Filtered {
            sock,
            buf: vec![0; SNAP as usize],
            framing,
            device,
        };
        f.follow(ifindex)?;
        f.sock.set_read_timeout(Some(timeout))?;
        Ok(f)
    }

    /// Filters for the interface's (new) index; frames queued before are discarded,
    /// since they passed no filter and may come from any interface.
    pub fn follow(&mut self, ifindex: u32) -> io::Result<()> {
        let prog: Vec<SockFilter> = program(ifindex, self.framing, self.device)
            .iter()
            .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        self.sock.attach_filter(&prog)?;
        self.sock.set_nonblocking(true)?;
        for _ in 0..100_000 {
            if (&self.sock).read(&mut self.buf).is_err() {
                break;
            }
        }
        self.sock.set_nonblocking(false)
    }
}

impl DataLinkReceiver for Filtered {
    fn next(&mut self) -> io::Result<&[u8]> {
        let n = (&self.sock).read(&mut self.buf)?;
        Ok(&self.buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::filter::keep;
    use crate::decode::net::build::{frame, tcp, udp};
    use crate::decode::net::pcap::LinkType;

    /// Runs a program the way the kernel does, for the instructions it uses.
    fn run(p: &[Ins], ifindex: u32, f: &[u8]) -> u32 {
        let (mut pc, mut a, mut x) = (0usize, 0u32, 0u32);
        let byte = |at: usize| u32::from(*f.get(at).unwrap_or(&0));
        let half = |at: usize| byte(at) << 8 | byte(at + 1);
        while let Some(i) = p.get(pc) {
            pc += 1;
            let k = i.k as usize;
            match i.code {
                LD_W_ABS if i.k == AD_IFINDEX => a = ifindex,
                LD_W_ABS => a = half(k) << 16 | half(k + 2),
                LD_H_ABS => a = half(k),
                LD_B_ABS => a = byte(k),
                LDX_B_MSH => x = (byte(k) & 0xF) * 4,
                LD_H_IND => a = half(x as usize + k),
                JEQ_K | JSET_K => {
                    let hit = if i.code == JEQ_K {
                        a == i.k
                    } else {
                        a & i.k != 0
                    };
                    pc += usize::from(if hit { i.jt } else { i.jf });
                }
                RET_K => return i.k,
                c => panic!("opcode {c:#x} not simulated"),
            }
        }
        panic!("fell off the end")
    }

    #[test]
    fn the_kernel_filter_passes_everything_keep_wants() {
        let dev = Ipv4Addr::new(10, 0, 0, 7);
        let p = program(4, Framing::Ethernet, dev);
        let mut arp = vec![0xFF; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[10, 0, 0, 1]);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&[10, 0, 0, 7]);
        let frames = [
            frame(
                [10, 0, 0, 1],
                [10, 0, 0, 7],
                17,
                &udp(5000, 8266, b"0 8266 9 x"),
            ),
            frame(
                [10, 0, 0, 7],
                [10, 0, 0, 1],
                6,
                &tcp(40000, 5000, 0x10, b"OK"),
            ),
            frame([10, 0, 0, 1], [10, 0, 0, 3], 17, &udp(5000, 9, &[0; 200])),
            frame(
                [10, 0, 0, 1],
                [10, 0, 0, 3],
                6,
                &tcp(5000, 80, 0x18, b"GET /"),
            ),
            frame(
                [10, 0, 0, 9],
                [224, 0, 0, 251],
                17,
                &udp(5353, 5353, b"mdns"),
            ),
            arp,
        ];
        for f in &frames {
            let wanted = keep(LinkType::Ethernet, f, dev);
            assert_eq!(run(&p, 4, f) > 0, wanted, "{f:02x?}");
            assert_eq!(run(&p, 5, f), 0, "another interface's frame passed");
        }
        let passed = frames.iter().filter(|f| run(&p, 4, f) > 0).count();
        assert_eq!(passed, 4, "the flood frames must be dropped in the kernel");
        let raw = program(4, Framing::Raw, dev);
        assert!(run(&raw, 4, &frames[2]) > 0 && run(&raw, 5, &frames[2]) == 0);
    }
}
