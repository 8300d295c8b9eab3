//! A serial log decoded on several threads. Recognising a line depends on that line
//! only ([`prepare`]), so batches of lines go to workers; what carries from line to line
//! (times borrowed from the line before, the chip, sampling) is then applied on one
//! thread in file order, exactly as a single thread would.
//!
//! Batches are recycled from a fixed pool: the reader waits for a free one, so memory
//! stays bounded however far the workers fall behind or run ahead.

use super::split::{Line, for_each_line};
use super::stream::{Decoder, Pre, prepare};
use crate::rules::interest::Interest;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// Lines copied out of the read buffer, and what they decoded to.
#[derive(Default)]
struct Batch {
    seq: u64,
    bytes: Vec<u8>,
    /// Per line: where its bytes end in `bytes`, its line number, whether it was cut.
    lines: Vec<(usize, u32, bool)>,
    pre: Vec<Pre>,
}

impl Batch {
    fn push(&mut self, l: &Line<'_>) {
        self.bytes.extend_from_slice(l.bytes);
        self.lines.push((self.bytes.len(), l.line, l.cut));
    }

    /// Each line with its bytes.
    fn each(&self) -> impl Iterator<Item = Line<'_>> {
        self.each_with_text(None).map(|(l, _)| l)
    }

    /// Each line with its bytes and, when `text` is the batch's bytes as UTF-8, the
    /// line as text: one check of the whole batch costs less than one per line.
    fn each_with_text<'b>(
        &'b self,
        text: Option<&'b str>,
    ) -> impl Iterator<Item = (Line<'b>, Option<&'b str>)> {
        let starts = std::iter::once(0).chain(self.lines.iter().map(|l| l.0));
        starts.zip(&self.lines).map(move |(a, &(b, line, cut))| {
            let l = Line {
                bytes: &self.bytes[a..b],
                line,
                cut,
            };
            (l, text.and_then(|t| t.get(a..b)))
        })
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
        self.pre.clear();
    }
}

/// Reads `input` and feeds every line to `d`, decoding on `threads` workers.
pub(super) fn run<R: Read + Send>(
    input: R,
    d: &mut Decoder<'_>,
    threads: usize,
    batch_bytes: usize,
) -> std::io::Result<()> {
    let interest = d.interest;
    let (work_tx, work_rx) = channel::<Batch>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = channel::<Batch>();
    let (free_tx, free_rx) = channel::<Batch>();
    // Enough batches that every worker has one queued while the merger holds one.
    for _ in 0..threads * 3 {
        free_tx.send(Batch::default()).ok();
    }
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (rx, tx) = (Arc::clone(&work_rx), done_tx.clone());
            // A regex shared by threads passes its scratch space through a lock on
            // every search; each worker's copy has its own.
            let interest = interest.clone();
            s.spawn(move || work(&interest, &rx, &tx));
        }
        drop(done_tx);
        let reader = s.spawn(move || read(input, batch_bytes, &free_rx, work_tx));
        merge(d, &done_rx, &free_tx);
        reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("serial reader failed")))
    })
}

/// Splits `input` into batches of whole lines and queues them in order.
fn read<R: Read>(
    input: R,
    batch_bytes: usize,
    free: &Receiver<Batch>,
    work: Sender<Batch>,
) -> std::io::Result<()> {
    let mut seq = 0;
    let take = |seq: &mut u64| -> Option<Batch> {
        let mut b = free.recv().ok()?;
        b.clear();
        b.seq = *seq;
        *seq += 1;
        Some(b)
    };
    let Some(mut cur) = take(&mut seq) else {
        return Ok(());
    };
    let mut stopped = false;
    let result = for_each_line(input, |l| {
        if stopped {
            return;
        }
        cur.push(&l);
        if cur.bytes.len() >= batch_bytes {
            let next = take(&mut seq);
            stopped = next.is_none();
            let full = std::mem::replace(&mut cur, next.unwrap_or_default());
            stopped |= work.send(full).is_err();
        }
    });
    if !cur.lines.is_empty() {
        work.send(cur).ok();
    }
    result
}

fn work(interest: &Interest, rx: &Mutex<Receiver<Batch>>, tx: &Sender<Batch>) {
    loop {
        // The lock is held only to take the next batch, not to decode it.
        let next = rx.lock().map(|r| r.recv());
        let Ok(Ok(mut b)) = next else {
            return;
        };
        // The batch's own vector, emptied by the merger: a fresh one per batch is a
        // large allocation, and glibc consolidates its free lists on each large free.
        let mut pre = std::mem::take(&mut b.pre);
        let text = std::str::from_utf8(&b.bytes).ok();
        pre.extend(
            b.each_with_text(text)
                .map(|(l, text)| prepare(interest, &l, text)),
        );
        b.pre = pre;
        if tx.send(b).is_err() {
            return;
        }
    }
}

/// Applies decoded batches in file order, returning each to the pool when done.
fn merge(d: &mut Decoder<'_>, done: &Receiver<Batch>, free: &Sender<Batch>) {
    let mut next = 0u64;
    let mut early = BTreeMap::new();
    for b in done {
        early.insert(b.seq, b);
        while let Some(mut b) = early.remove(&next) {
            let mut pre = std::mem::take(&mut b.pre);
            for (p, l) in pre.drain(..).zip(b.each()) {
                d.apply(p, l.bytes);
            }
            b.pre = pre;
            next += 1;
            free.send(b).ok();
        }
    }
}
