//! A capture read front to back through one fixed buffer: memory does not depend on the
//! size of the file, and each byte is read once.

use super::format::{Cut, MAX_BLOCK, MAX_FRAME, Parser, Step};
use super::{ECHO_GAP, Frame, PcapError, is_echo};
use std::io::{ErrorKind, Read};

/// The buffer's size: big enough for the largest record plus the previous frame (kept
/// for [`Frame::echo`]); large reads keep the number of system calls small.
const BUF: usize = 1 << 20;
/// The smallest starting buffer: room for the file's magic number and header.
const MIN_BUF: usize = 4096;
// Room for the previous frame, the gap an echo may have after it and the next record.
const _: () = assert!(MAX_FRAME + ECHO_GAP + MAX_BLOCK <= BUF);

/// Frames of a pcap or pcapng stream, in file order.
pub struct Reader<R> {
    src: R,
    buf: Vec<u8>,
    /// The next record starts at `buf[start]`; bytes up to `end` have been read.
    start: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    done: bool,
    parser: Parser,
    /// The last frame that was not an echo: data range in `buf`, time.
    prev: Option<(usize, usize, i64)>,
    truncated: Option<String>,
}

impl<R: Read> Reader<R> {
    /// Reads the magic number; fails if `src` is not a capture or cannot be read.
    pub fn new(src: R) -> Result<Reader<R>, PcapError> {
        Reader::with_capacity(src, BUF)
    }

    /// As [`Reader::new`], starting with a buffer of about `cap` bytes, which grows as
    /// records need up to the same fixed size. For small inputs (a capture already in
    /// memory, a fuzzer's case) that saves clearing a megabyte per call.
    pub fn with_capacity(mut src: R, cap: usize) -> Result<Reader<R>, PcapError> {
        let mut buf = vec![0; cap.clamp(MIN_BUF, BUF)];
        let mut end = 0;
        while end < 4 {
            match read_some(&mut src, &mut buf[end..], end as u64)? {
                0 => break,
                got => end += got,
            }
        }
        let parser = Parser::new(&buf[..end.min(4)]).ok_or(PcapError::NotACapture)?;
        Ok(Reader {
            src,
            buf,
            start: 0,
            end,
            base: 0,
            eof: false,
            done: false,
            parser,
            prev: None,
            truncated: None,
        })
    }

    /// The next frame, or `None` at the end of the file or where it stops making sense
    /// (then [`Reader::truncated`] says why).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, PcapError> {
        while !self.done {
            let at = self.base + self.start as u64;
            match self.parser.step(&self.buf[self.start..self.end], at) {
                Step::Frame {
                    t_us,
                    link,
                    data,
                    len,
                } => {
                    let (s, e) = (self.start + data.start, self.start + data.end);
                    self.start += len;
                    let prev = self.prev.map(|(ps, pe, pt)| (pt, &self.buf[ps..pe]));
                    let gap = self.prev.map_or(0, |(_, pe, _)| s - pe);
                    let echo = is_echo(prev, gap, t_us, &self.buf[s..e]);
                    if !echo {
                        self.prev = Some((s, e, t_us));
                    }
                    let data = &self.buf[s..e];
                    return Ok(Some(Frame {
                        t_us,
                        link,
                        data,
                        echo,
                    }));
                }
                Step::Skip(n) => self.skip(n, at)?,
                Step::Need(n, cut) => {
                    if !self.fill(n)? {
                        self.stop_short(cut, at);
                    }
                }
                Step::Stop(why) => {
                    self.truncated = Some(why);
                    self.done = true;
                }
            }
        }
        Ok(None)
    }

    /// Why reading stopped before the end of the file, if it did.
    pub fn truncated(&self) -> Option<&str> {
        self.truncated.as_deref()
    }

    /// What looked wrong in the records read so far.
    pub fn notes(&self) -> Vec<String> {
        self.parser.notes()
    }

    /// The file ended inside a record (or, with nothing left over, cleanly).
    fn stop_short(&mut self, cut: Cut, at: u64) {
        if self.start < self.end || self.parser.in_header() {
            self.truncated = Some(cut.message(at));
        }
        self.done = true;
    }

    /// Makes at least `n` bytes from `start` available; false if the file ends first.
    fn fill(&mut self, n: usize) -> Result<bool, PcapError> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start + n > self.buf.len() {
                self.compact();
            }
            if self.start + n > self.buf.len() {
                let len = (self.start + n).max(2 * self.buf.len()).min(BUF);
                self.buf.resize(len, 0);
            }
            if self.end == self.buf.len() {
                // Only a record larger than the buffer gets here; the parser never asks.
                return Ok(false);
            }
            let got = read_some(
                &mut self.src,
                &mut self.buf[self.end..],
                self.base + self.end as u64,
            )?;
            self.eof = got == 0;
            self.end += got;
        }
        Ok(true)
    }

    /// Moves the unread bytes (and the previous frame, if close) to the buffer's start.
    fn compact(&mut self) {
        let keep = match self.prev {
            Some((ps, pe, _)) if self.start - pe <= ECHO_GAP => ps,
            _ => {
                self.prev = None;
                self.start
            }
        };
        self.buf.copy_within(keep..self.end, 0);
        self.base += keep as u64;
        self.start -= keep;
        self.end -= keep;
        if let Some((ps, pe, _)) = &mut self.prev {
            *ps -= keep;
            *pe -= keep;
        }
    }

    /// Passes over `n` bytes from `start`, reading and dropping what is not buffered yet
    /// (a large block of a kind that is not decoded).
    fn skip(&mut self, n: usize, at: u64) -> Result<(), PcapError> {
        let have = self.end - self.start;
        if n <= have {
            self.start += n;
            return Ok(());
        }
        let mut rest = n - have;
        self.base += self.end as u64;
        (self.start, self.end, self.prev) = (0, 0, None);
        while rest > 0 {
            let want = rest.min(self.buf.len());
            let got = read_some(&mut self.src, &mut self.buf[..want], self.base)?;
            if got == 0 {
                self.eof = true;
                self.truncated = Some(Cut::Block.message(at));
                self.done = true;
                return Ok(());
            }
            rest -= got;
            self.base += got as u64;
        }
        Ok(())
    }
}

/// One `read`, retried when interrupted by a signal.
fn read_some(src: &mut impl Read, buf: &mut [u8], at: u64) -> Result<usize, PcapError> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(PcapError::Io(format!("reading failed at byte {at}: {e}"))),
        }
    }
}
