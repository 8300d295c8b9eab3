//! Which interface carries the traffic to the device.
//!
//! The kernel's own answer would be `ip route get`, but that needs netlink; the same
//! answer for IPv4 comes from the interface addresses plus `/proc/net/route`. The choice
//! is a pure function of those two lists so it can be tested without a network.

use std::net::Ipv4Addr;

/// One interface as the selection needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct IfaceInfo {
    pub name: String,
    pub up: bool,
    pub loopback: bool,
    /// IPv4 addresses with their prefix length.
    pub v4: Vec<(Ipv4Addr, u8)>,
}

/// One row of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub iface: String,
    pub dest: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub metric: u32,
}

/// Why an interface was chosen, shown to the user so a surprise can be understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub name: String,
    pub why: String,
}

const RTF_UP: u32 = 0x0001;

/// Parses `/proc/net/route`. The kernel prints each address as the raw 32-bit word in
/// host byte order, so the bytes must be taken back out in native order.
pub fn parse_routes(text: &str) -> Vec<Route> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    let addr = |s: &str| hex(s).map(|v| Ipv4Addr::from(v.to_ne_bytes()));
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = hex(f.get(3)?)?;
            (flags & RTF_UP != 0).then_some(())?;
            Some(Route {
                iface: f.first()?.to_string(),
                dest: addr(f.get(1)?)?,
                metric: f.get(6)?.parse().ok()?,
                mask: addr(f.get(7)?)?,
            })
        })
        .collect()
}

fn prefix_mask(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn in_net(ip: Ipv4Addr, net: Ipv4Addr, mask: u32) -> bool {
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Picks the interface for `ip` among those that are up: loopback for 127/8 and for the
/// host's own addresses (Linux sends those over `lo`), then the most specific local
/// subnet, then the most specific route (the default route last), lowest metric first.
pub fn choose(ip: Ipv4Addr, ifaces: &[IfaceInfo], routes: &[Route]) -> Option<Choice> {
    let up: Vec<&IfaceInfo> = ifaces.iter().filter(|i| i.up).collect();
    let own = up.iter().any(|i| i.v4.iter().any(|(a, _)| *a == ip));
    if ip.is_loopback() || own {
        let lo = up.iter().find(|i| i.loopback)?;
        let why = if own {
            "it is this host's own address"
        } else {
            "127.0.0.0/8 is carried by loopback"
        };
        return Some(Choice {
            name: lo.name.clone(),
            why: why.into(),
        });
    }
    let subnet = up
        .iter()
        .flat_map(|i| i.v4.iter().map(move |(a, p)| (i, *a, *p)))
        .filter(|(i, a, p)| !i.loopback && in_net(ip, *a, prefix_mask(*p)))
        .max_by_key(|(_, _, p)| *p);
    if let Some((i, a, p)) = subnet {
        let net = Ipv4Addr::from(u32::from(a) & prefix_mask(p));
        return Some(Choice {
            name: i.name.clone(),
            why: format!("{ip} is on its subnet {net}/{p}"),
        });
    }
    let route = routes
        .iter()
        .filter(|r| up.iter().any(|i| i.name == r.iface))
        .filter(|r| in_net(ip, r.dest, u32::from(r.mask)))
        .min_by_key(|r| (std::cmp::Reverse(u32::from(r.mask)), r.metric))?;
    let why = if u32::from(route.mask) == 0 {
        "it carries the default route".to_string()
    } else {
        format!("the route to {} goes through it", route.dest)
    };
    Some(Choice {
        name: route.iface.clone(),
        why,
    })
}

/// One line per interface for error messages: name, state and addresses.
pub fn describe(ifaces: &[IfaceInfo]) -> String {
    let rows: Vec<String> = ifaces
        .iter()
        .map(|i| {
            let addrs: Vec<String> = i.v4.iter().map(|(a, p)| format!("{a}/{p}")).collect();
            let state = if i.up { "up" } else { "down" };
            format!(
                "{} ({state}{}{})",
                i.name,
                if addrs.is_empty() { "" } else { ", " },
                addrs.join(" ")
            )
        })
        .collect();
    if rows.is_empty() {
        "none found".into()
    } else {
        rows.join(", ")
    }
}

/// The host's interfaces as pnet sees them.
pub fn system_ifaces() -> Vec<IfaceInfo> {
    pnet::datalink::interfaces()
        .into_iter()
        .map(|i| IfaceInfo {
            up: i.is_up(),
            loopback: i.is_loopback(),
            v4: i
                .ips
                .iter()
                .filter_map(|n| match n {
                    pnet::ipnetwork::IpNetwork::V4(v) => Some((v.ip(), v.prefix())),
                    pnet::ipnetwork::IpNetwork::V6(_) => None,
                })
                .collect(),
            name: i.name,
        })
        .collect()
}

/// The kernel's IPv4 routing table; empty (so only subnets count) when unreadable.
pub fn system_routes() -> Vec<Route> {
    std::fs::read_to_string("/proc/net/route").map_or_else(|_| Vec::new(), |t| parse_routes(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, up: bool, v4: &[(&str, u8)]) -> IfaceInfo {
        IfaceInfo {
            name: name.into(),
            up,
            loopback: name == "lo",
            v4: v4.iter().map(|(a, p)| (a.parse().unwrap(), *p)).collect(),
        }
    }

    fn host() -> Vec<IfaceInfo> {
        vec![
            iface("lo", true, &[("127.0.0.1", 8)]),
            iface("eth0", true, &[("10.1.0.5", 16)]),
            iface("wlan0", true, &[("192.168.1.20", 24)]),
            iface("usb0", false, &[("172.16.0.2", 24)]),
            iface("tun0", true, &[("10.1.7.2", 24)]),
        ]
    }

    const TABLE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
        eth0\t00000000\t0100010A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
        eth0\t0000140A\t0100010A\t0003\t0\t0\t100\t0000FFFF\t0\t0\t0\n\
        usb0\t00001EAC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    fn pick(ip: &str) -> Option<String> {
        let routes = parse_routes(TABLE);
        choose(ip.parse().unwrap(), &host(), &routes).map(|c| c.name)
    }

    #[test]
    fn parses_proc_net_route_in_host_byte_order() {
        let r = parse_routes(TABLE);
        assert_eq!(r.len(), 4);
        assert_eq!(r[2].dest, Ipv4Addr::new(10, 20, 0, 0));
        assert_eq!(r[2].mask, Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(r[0].metric, 600);
        assert!(parse_routes("junk\n\x00\u{ff} garbage line\n").is_empty());
    }

    #[test]
    fn loopback_own_address_subnet_route_default() {
        assert_eq!(pick("127.0.0.2").as_deref(), Some("lo"));
        assert_eq!(pick("192.168.1.20").as_deref(), Some("lo"));
        assert_eq!(pick("192.168.1.77").as_deref(), Some("wlan0"));
        // The /24 on tun0 is more specific than eth0's /16.
        assert_eq!(pick("10.1.7.9").as_deref(), Some("tun0"));
        assert_eq!(pick("10.1.9.9").as_deref(), Some("eth0"));
        assert_eq!(pick("10.20.3.4").as_deref(), Some("eth0"));
        // Down interfaces are skipped; the lower-metric default wins.
        assert_eq!(pick("172.16.0.9").as_deref(), Some("eth0"));
        assert_eq!(pick("8.8.8.8").as_deref(), Some("eth0"));
    }

    #[test]
    fn no_route_no_choice() {
        assert_eq!(choose("8.8.8.8".parse().unwrap(), &host(), &[]), None);
        assert!(describe(&host()).contains("usb0 (down, 172.16.0.2/24)"));
    }
}
