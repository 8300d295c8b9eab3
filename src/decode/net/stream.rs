//! In-order TCP byte streams from captured segments, tolerant of a capture that missed
//! some: a hole is skipped (and counted) rather than waited for, because a passive
//! observer never gets a retransmission it did not capture. Late out-of-order segments
//! are treated as retransmissions. Nothing is buffered here.

/// A jump further than this is not believed to belong to the same stream.
const MAX_JUMP: u32 = 16 << 20;

#[derive(Debug, Default)]
pub struct Stream {
    next: Option<u32>,
    /// Bytes the capture missed (holes skipped over).
    pub missing: u64,
    /// Segments that carried nothing new.
    pub retransmits: u32,
}

impl Stream {
    /// The part of this segment's payload that is new, in stream order.
    pub fn accept<'a>(&mut self, seq: u32, syn: bool, data: &'a [u8]) -> &'a [u8] {
        if syn {
            self.next = Some(seq.wrapping_add(1));
            return &[];
        }
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let new = if ahead < MAX_JUMP {
            self.missing += u64::from(ahead);
            data
        } else {
            let behind = next.wrapping_sub(seq);
            if behind > MAX_JUMP || behind >= len {
                if !data.is_empty() {
                    self.retransmits += 1;
                }
                return &[];
            }
            &data[behind as usize..]
        };
        let new_len = u32::try_from(new.len()).unwrap_or(u32::MAX);
        self.next = Some(
            seq.wrapping_add(len)
                .max_by_wrap(next.wrapping_add(new_len)),
        );
        new
    }
}

trait WrapMax {
    fn max_by_wrap(self, other: u32) -> u32;
}

impl WrapMax for u32 {
    /// The later of two sequence numbers in modular order.
    fn max_by_wrap(self, other: u32) -> u32 {
        if other.wrapping_sub(self) < 1 << 31 {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_overlap_gap_and_wrap() {
        let mut s = Stream::default();
        assert_eq!(s.accept(u32::MAX - 1, true, b""), b"");
        assert_eq!(s.accept(u32::MAX, false, b"ab"), b"ab");
        assert_eq!(s.accept(1, false, b"cd"), b"cd");
        assert_eq!(s.accept(2, false, b"def"), b"ef"); // overlaps one byte
        assert_eq!(s.accept(1, false, b"cd"), b""); // retransmission
        assert_eq!(s.retransmits, 1);
        assert_eq!(s.accept(10, false, b"xy"), b"xy"); // hole of 5
        assert_eq!(s.missing, 5);
        assert_eq!(s.accept(0x4000_0000, false, b"zz"), b""); // absurd jump
    }
}
