//! Lines of a file read in one pass through a bounded buffer, without a copy or an
//! allocation per line. Same rules as [`super::lines::LineSplitter`] (CR, LF and CRLF
//! end a line, empty lines are skipped but counted, a run longer than
//! [`super::lines::MAX_LINE`] is cut), which stays for live serial input where the time
//! of each read matters.

use super::lines::MAX_LINE;
use std::io::Read;

/// Bytes read per call: big enough that the per-read cost vanishes, small enough that
/// memory does not depend on the file.
const CHUNK: usize = 1 << 20;

/// One line as the callback sees it: its bytes, 1-based physical line number, and
/// whether it was cut at `MAX_LINE` rather than ended by a line break.
pub struct Line<'a> {
    pub bytes: &'a [u8],
    pub line: u32,
    pub cut: bool,
}

#[derive(Default)]
struct State {
    /// Physical line the next byte belongs to.
    line: u32,
    /// The previous chunk ended in CR: an LF first in this one belongs to that break.
    after_cr: bool,
}

/// Calls `f` for every non-empty line of `r`, in order.
pub fn for_each_line<R: Read>(mut r: R, mut f: impl FnMut(Line<'_>)) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK + MAX_LINE];
    let mut have = 0usize;
    let mut st = State {
        line: 1,
        ..State::default()
    };
    loop {
        let n = read_some(&mut r, &mut buf[have..])?;
        let eof = n == 0;
        have += n;
        let used = split(&buf[..have], &mut st, eof, &mut f);
        buf.copy_within(used..have, 0);
        have -= used;
        if eof {
            return Ok(());
        }
    }
}

fn read_some<R: Read>(r: &mut R, into: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(into) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Emits the complete lines of `data`; returns how many bytes were consumed. The rest
/// (an unfinished line shorter than `MAX_LINE`) waits for the next read unless `eof`.
fn split(data: &[u8], st: &mut State, eof: bool, f: &mut impl FnMut(Line<'_>)) -> usize {
    let mut pos = 0;
    if st.after_cr && !data.is_empty() {
        st.after_cr = false;
        if data[0] == b'\n' {
            pos = 1;
        }
    }
    while pos < data.len() {
        let rest = &data[pos..];
        let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
            return pos + tail(rest, st, eof, f);
        };
        emit(&rest[..end], st, f);
        st.line = st.line.saturating_add(1);
        pos += end + 1;
        if rest[end] == b'\r' {
            match data.get(pos) {
                Some(b'\n') => pos += 1,
                Some(_) => {}
                None => st.after_cr = true,
            }
        }
    }
    pos
}

/// An unfinished line: cut off `MAX_LINE` pieces now, keep the rest for the next read.
fn tail(rest: &[u8], st: &mut State, eof: bool, f: &mut impl FnMut(Line<'_>)) -> usize {
    if eof {
        emit(rest, st, f);
        return rest.len();
    }
    let whole = rest.len() / MAX_LINE * MAX_LINE;
    emit(&rest[..whole], st, f);
    whole
}

/// A complete line; one longer than `MAX_LINE` leaves in cut pieces, as live input does.
fn emit(mut bytes: &[u8], st: &State, f: &mut impl FnMut(Line<'_>)) {
    while bytes.len() >= MAX_LINE {
        f(Line {
            bytes: &bytes[..MAX_LINE],
            line: st.line,
            cut: true,
        });
        bytes = &bytes[MAX_LINE..];
    }
    if !bytes.is_empty() {
        f(Line {
            bytes,
            line: st.line,
            cut: false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines::LineSplitter;
    use super::*;

    /// Reads `data` in pieces of `step` bytes, like a slow disk or a pipe.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn mine(data: &[u8], step: usize) -> Vec<(Vec<u8>, u32, bool)> {
        let mut v = Vec::new();
        for_each_line(Trickle(data, step), |l| {
            v.push((l.bytes.to_vec(), l.line, l.cut))
        })
        .unwrap();
        v
    }

    fn reference(data: &[u8]) -> Vec<(Vec<u8>, u32, bool)> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(data, 0, &mut out);
        s.flush(0, &mut out);
        out.into_iter().map(|l| (l.bytes, l.line, l.cut)).collect()
    }

    #[test]
    fn same_lines_as_the_live_splitter_whatever_the_read_sizes() {
        let mut rng = 7u64;
        let alphabet = b"ab\r\n\n\r x";
        for len in [0, 1, 2, 5, 40, 300, 5000] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                    alphabet[(rng >> 33) as usize % alphabet.len()]
                })
                .collect();
            for step in [1, 2, 3, 7, 64, 1 << 20] {
                assert_eq!(mine(&data, step), reference(&data), "len {len} step {step}");
            }
        }
    }

    #[test]
    fn crlf_split_between_reads_is_one_break() {
        assert_eq!(mine(b"a\r\nb", 2), reference(b"a\r\nb"));
        assert_eq!(mine(b"a\r\nb", 2).len(), 2);
    }

    #[test]
    fn long_runs_are_cut_like_the_live_splitter() {
        let mut data = vec![b'a'; 3 * MAX_LINE + 10];
        data.extend_from_slice(b"\nz\n");
        data.extend(std::iter::repeat_n(b'b', MAX_LINE));
        data.extend_from_slice(b"\r\ny");
        for step in [1000, 1 << 20] {
            let got = mine(&data, step);
            assert_eq!(got, reference(&data));
            assert_eq!(got.len(), 7);
            assert!(got[..3].iter().all(|l| l.2 && l.1 == 1));
        }
    }
}
