//! The files a live run writes as it goes: the trace (JSON Lines) and the captured
//! frames (pcapng). Both are readable at every moment, and a write that fails half-way
//! (a full disk) is cut back to the last complete record, so what was already recorded
//! stays valid: a reader never meets half a JSON line or half a pcapng block.

use crate::decode::net::pcap::LinkType;
use crate::error::UserError;
use crate::event::Event;
use crate::export::pcapng::PcapngWriter;
use crate::export::trace;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A file that only ever holds whole records: bytes are collected until `flush`, then
/// written at once; if that fails, the file is truncated to what it held before.
pub struct WholeRecords {
    file: File,
    pending: Vec<u8>,
    good: u64,
}

impl WholeRecords {
    pub fn create(path: &Path) -> io::Result<WholeRecords> {
        Ok(WholeRecords {
            file: File::create(path)?,
            pending: Vec::new(),
            good: 0,
        })
    }

    /// Opens an existing file to add records at its end.
    pub fn append(path: &Path) -> io::Result<WholeRecords> {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        let good = file.seek(SeekFrom::End(0))?;
        Ok(WholeRecords {
            file,
            pending: Vec::new(),
            good,
        })
    }

    /// Bytes in the file that are known complete.
    pub fn len(&self) -> u64 {
        self.good
    }

    pub fn is_empty(&self) -> bool {
        self.good == 0
    }

    fn cut_back(&mut self) {
        // Truncating frees the space the partial write took, so this works on a full disk.
        let _ = self.file.set_len(self.good);
        let _ = self.file.seek(SeekFrom::Start(self.good));
    }
}

impl Write for WholeRecords {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.pending);
        let n = self.pending.len() as u64;
        self.pending.clear();
        match r {
            Ok(()) => {
                self.good += n;
                Ok(())
            }
            Err(e) => {
                self.cut_back();
                Err(e)
            }
        }
    }
}

/// Why writing `path` stopped, in words that say what was kept and what to do.
pub fn write_failed(path: &Path, kept: u64, e: &io::Error) -> String {
    let free = free_space(path)
        .map(|b| format!("; {} free on its filesystem", human_bytes(b)))
        .unwrap_or_default();
    let what = if e.raw_os_error() == Some(28) {
        "the disk is full"
    } else {
        "a write failed"
    };
    format!(
        "writing `{}` stopped: {what} ({e}{free}). The {} already in it are complete and readable; recording goes on without it. Free some space or give --export a path on another disk",
        path.display(),
        human_bytes(kept),
    )
}

fn free_space(path: &Path) -> Option<u64> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let s = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(s.blocks_available().saturating_mul(s.fragment_size()))
}

fn human_bytes(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        _ => format!("{:.1} MB", b as f64 / 1e6),
    }
}

/// Writes the trace as events arrive, and the captured frames as pcapng next to it
/// (same name, `.pcapng`) for Wireshark.
pub struct TraceSink {
    trace: Option<WholeRecords>,
    path: PathBuf,
    frames: Option<PcapngWriter<WholeRecords>>,
    frames_made: bool,
    pub pcap_path: PathBuf,
    /// Why a file stopped being written; reported once through [`TraceSink::news`].
    pub failed: Option<String>,
    news: Vec<String>,
}

impl TraceSink {
    pub fn create(path: &Path) -> Result<TraceSink, UserError> {
        let mut w = WholeRecords::create(path).map_err(|e| {
            UserError::new(format!("cannot write trace `{}`: {e}", path.display()))
                .hint("choose a writable path for --export")
        })?;
        if let Err(e) = trace::write_header(&mut w).and_then(|_| w.flush()) {
            return Err(UserError::new(write_failed(path, 0, &e))
                .hint("choose a writable path for --export"));
        }
        Ok(TraceSink {
            trace: Some(w),
            path: path.to_path_buf(),
            frames: None,
            frames_made: false,
            pcap_path: path.with_extension("pcapng"),
            failed: None,
            news: Vec::new(),
        })
    }

    /// Whether captured frames were written to [`TraceSink::pcap_path`].
    pub fn wrote_frames(&self) -> bool {
        self.frames_made
    }

    /// What went wrong since the last call, to tell the user now rather than at the end.
    pub fn news(&mut self) -> Vec<String> {
        std::mem::take(&mut self.news)
    }

    fn fail(&mut self, why: String) {
        self.news.push(why.clone());
        self.failed.get_or_insert(why);
    }

    /// Called for every captured frame; the pcapng file is made on the first one.
    pub(crate) fn frame(&mut self, t_us: i64, link: LinkType, data: &[u8]) {
        if self.frames.is_none() && !self.frames_made {
            self.frames_made = true;
            let made = WholeRecords::create(&self.pcap_path).and_then(PcapngWriter::new);
            match made {
                Ok(w) => self.frames = Some(w),
                Err(e) => return self.fail(write_failed(&self.pcap_path, 0, &e)),
            }
        }
        let Some(w) = self.frames.as_mut() else {
            return;
        };
        if let Err(e) = w.write_frame(t_us, link, data) {
            let kept = self.frames.take().map_or(0, |w| w.into_inner().len());
            let why = write_failed(&self.pcap_path, kept, &e);
            self.fail(why);
        }
    }

    pub(crate) fn write<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) {
        let Some(w) = self.trace.as_mut() else {
            return;
        };
        let r = (events.into_iter())
            .try_for_each(|e| trace::write_event(w, e))
            .and_then(|_| w.flush());
        if let Err(e) = r {
            let why = write_failed(&self.path, w.len(), &e);
            self.trace = None;
            self.fail(why);
        }
    }
}
