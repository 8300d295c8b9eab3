//! A set of port numbers as a 64 Kibit bitmap. The decoders keep the ports of the
//! sessions they follow in one, so the segments of unrelated traffic (nearly all of a
//! large capture) are turned away with one bit test instead of a scan of every session.

#[derive(Debug)]
pub struct PortSet {
    bits: Box<[u64; 1024]>,
}

impl Default for PortSet {
    fn default() -> PortSet {
        PortSet {
            bits: Box::new([0; 1024]),
        }
    }
}

impl PortSet {
    pub fn insert(&mut self, port: u16) {
        self.bits[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// Replaces the contents, e.g. after a session was dropped (ports may be shared, so
    /// one cannot simply be removed).
    pub fn rebuild(&mut self, ports: impl Iterator<Item = u16>) {
        self.bits.fill(0);
        for p in ports {
            self.insert(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_rebuild() {
        let mut s = PortSet::default();
        for p in [0, 63, 64, 8266, u16::MAX] {
            assert!(!s.contains(p));
            s.insert(p);
            assert!(s.contains(p));
        }
        assert!(!s.contains(8267) && !s.contains(1));
        s.rebuild([3232].into_iter());
        assert!(s.contains(3232) && !s.contains(8266));
    }
}
