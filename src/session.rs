//! The one owner of a live session's state. Sources (serial reader, packet capture, the
//! uploader) hand it raw, already-stamped input; it decodes that into events and can
//! build the timeline at any moment. No I/O here, so a live run, a test and a replay
//! feed the same code.
//!
//! A session can run for days: memory holds a [`Window`] of it (the newest plain
//! lines, and the events a diagnosis rests on under a cap of their own) while the
//! trace file, written as events arrive, keeps everything.

mod front;
mod window;

pub use front::{Cut, Front, GONE, sort_front};
pub use window::{Held, Window, is_plain};

use crate::decode::lines;
use crate::decode::net::arp::ArpWatch;
use crate::decode::net::auth::Password;
use crate::decode::net::ota::{Options, OtaDecoder};
use crate::decode::net::packet;
use crate::decode::net::pcap::LinkType;
use crate::decode::{decode_line, timestamp};
use crate::event::{Event, Source};
use crate::timeline::{Builder, Timeline};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// One stamped piece of input, as a source delivers it.
#[derive(Debug, Clone)]
pub enum Input {
    /// One line from the serial port (without its line ending).
    Serial { t_us: i64, bytes: Vec<u8> },
    /// One line of the uploader's output.
    Host { t_us: i64, text: String },
    /// One captured frame.
    Frame {
        t_us: i64,
        link: LinkType,
        data: Vec<u8>,
    },
}

#[derive(Default)]
pub struct Session {
    /// The password the user gave (`--auth`): removed from every line, whatever its form.
    secret: Option<Password>,
    /// Oldest first; a deque, so a trim removes its front without moving the rest.
    events: VecDeque<Event>,
    ota: OtaDecoder,
    arp: ArpWatch,
    captured: BTreeSet<Source>,
    packets: usize,
    lines: [usize; 2],
    notes: Vec<String>,
    last_t: i64,
    window: Window,
    held: Held,
    /// Events ever added, held or not.
    total: usize,
    /// Where the full trace goes, for the note that says memory let events go.
    trace: Option<PathBuf>,
    /// What the last trim let go, when the owner frees it: see
    /// [`Session::keep_released`].
    released: Option<Vec<Event>>,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// A session whose decoder checks the uploader's password answers against `pw`.
    pub fn with_password(pw: Option<Password>) -> Session {
        Session {
            secret: pw.clone(),
            ota: OtaDecoder::with_options(Options { password: pw }),
            ..Session::default()
        }
    }

    /// Holds at most `w` in memory from now on.
    pub fn with_window(mut self, w: Window) -> Session {
        self.window = w;
        self
    }

    /// The file the full trace is written to, named when memory lets events go.
    pub fn set_trace(&mut self, path: &Path) {
        self.trace = Some(path.to_path_buf());
    }

    pub fn window(&self) -> Window {
        self.window
    }

    /// Events decoded so far, including those no longer held.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Events let go to stay within the window.
    pub fn dropped(&self) -> usize {
        self.held.dropped()
    }

    /// Declares a source as watched: its silence counts as evidence.
    pub fn watch(&mut self, s: Source) {
        self.captured.insert(s);
    }

    /// Something the user should know about how the session was recorded.
    pub fn note(&mut self, n: impl Into<String>) {
        let n = n.into();
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// Decodes one input; returns how many events it added (they are the tail of
    /// [`Session::events`], see [`Session::newest`]).
    pub fn push(&mut self, input: Input) -> usize {
        self.make_room();
        let before = self.events.len();
        match input {
            Input::Serial { t_us, bytes } => {
                let clean = lines::clean(&bytes);
                self.lines[0] += 1;
                self.line(Source::Serial, t_us, clean.text.trim_end(), clean.noise);
            }
            Input::Host { t_us, text } => {
                let clean = lines::clean(text.as_bytes());
                self.lines[1] += 1;
                self.line(Source::Host, t_us, clean.text.trim_end(), clean.noise);
            }
            Input::Frame { t_us, link, data } => {
                self.packets += 1;
                self.last_t = self.last_t.max(t_us);
                if let Some(p) = packet::parse(link, &data) {
                    let evs = self.ota.packet(t_us, &p);
                    self.add_all(evs);
                } else {
                    self.arp.frame(t_us, link, &data);
                }
            }
        }
        self.events.len() - before
    }

    fn line(&mut self, source: Source, t_us: i64, text: &str, noise: f32) {
        self.last_t = self.last_t.max(t_us);
        if text.trim().is_empty() {
            return;
        }
        // A monitor that prefixes its own time (pio's `time` filter) is still stamped
        // by us at read time: one clock for every source.
        let body = timestamp::split(text).1;
        let body = if body.trim().is_empty() { text } else { body };
        let hidden = self.secret.as_ref().and_then(|pw| pw.hide_in(body));
        let body = hidden.as_deref().unwrap_or(body);
        let mut e = decode_line(source, body, noise);
        e.t_us = t_us;
        e.timed = true;
        e.line = self.lines[(source == Source::Host) as usize] as u32;
        self.add(e);
    }

    fn add(&mut self, e: Event) {
        self.held.add(&e);
        self.total += 1;
        self.events.push_back(e);
    }

    fn add_all(&mut self, evs: Vec<Event>) {
        evs.into_iter().for_each(|e| self.add(e));
    }

    /// Lets the oldest events of a full class go. Done before adding, so the events
    /// a push returns are always the tail of [`Session::events`].
    fn make_room(&mut self) {
        if !self.held.over(&self.window) {
            return;
        }
        let cut = self.held.cut(&self.window);
        let front = sort_front(&mut self.events, cut);
        let gone = self.events.drain(..front.gone);
        match &mut self.released {
            // A batch the owner did not take is freed now: at most one is held.
            Some(r) => *r = gone.collect(),
            None => gone.for_each(drop),
        }
        let w = self.window;
        let whole = match &self.trace {
            Some(p) => format!("the full trace is in `{}`", p.display()),
            None => "record with --export FILE to keep them all".into(),
        };
        self.note(format!(
            "memory holds the newest {} plain log lines and {} diagnosis events (--window); older ones were let go: {whole}",
            w.lines, w.marked
        ));
    }

    /// Held events, oldest first.
    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }

    /// The `n` newest events: what a push just added.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &Event> {
        self.events.range(self.events.len().saturating_sub(n)..)
    }

    /// With `true`, each trim keeps what it let go for [`Session::take_released`]:
    /// freeing thousands of events is most of a trim's cost, and the UI loop has
    /// them freed on another thread rather than pause for it.
    pub fn keep_released(&mut self, keep: bool) {
        self.released = keep.then(Vec::new);
    }

    /// The events the last trim let go, if [`Session::keep_released`] asked for them.
    pub fn take_released(&mut self) -> Vec<Event> {
        self.released
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn packets(&self) -> usize {
        self.packets
    }

    /// Lines read from serial and from the uploader.
    pub fn line_counts(&self) -> (usize, usize) {
        (self.lines[0], self.lines[1])
    }

    /// Closes open OTA sessions as of `end_us` (stalls, unanswered connects) and
    /// returns the events that adds. Call once, when recording stops.
    pub fn finish(&mut self, end_us: i64) -> usize {
        self.make_room();
        let mut evs = self.ota.finish(end_us);
        evs.extend(self.arp.finish(end_us));
        let n = evs.len();
        self.add_all(evs);
        self.last_t = self.last_t.max(end_us);
        n
    }

    /// The timeline as of now; recording is taken to have run until `end_us`.
    pub fn timeline(&self, end_us: i64) -> Timeline {
        self.outline(end_us).timeline(self.events.iter().cloned())
    }

    /// What [`Session::timeline`] takes besides the events, for a copy of them kept
    /// elsewhere: the UI's analysis thread builds its timeline from its own copy, so
    /// asking for one does not clone the window on the UI thread.
    pub fn outline(&self, end_us: i64) -> Outline {
        Outline {
            captured: self.captured.clone(),
            packets: self.packets,
            end_us: end_us.max(self.last_t),
        }
    }
}

/// A session's timeline without its events: see [`Session::outline`].
#[derive(Debug, Clone)]
pub struct Outline {
    captured: BTreeSet<Source>,
    packets: usize,
    end_us: i64,
}

impl Outline {
    /// The timeline over `events`, given in the session's order.
    pub fn timeline(&self, events: impl IntoIterator<Item = Event>) -> Timeline {
        let mut b = Builder::new();
        for s in &self.captured {
            b.captured(*s);
        }
        b.events(events);
        b.packets(self.packets);
        b.end(self.end_us);
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::net::build;

    #[test]
    fn serial_host_and_frames_land_on_one_clock() {
        let mut s = Session::new();
        s.watch(Source::Net);
        let invite = build::frame(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            &build::udp(
                40000,
                8266,
                b"0 12345 1000 0123456789abcdef0123456789abcdef\n",
            ),
        );
        s.push(Input::Frame {
            t_us: 1_000,
            link: LinkType::Ethernet,
            data: invite,
        });
        s.push(Input::Serial {
            t_us: 2_000,
            bytes: b"Start updating sketch\r".to_vec(),
        });
        s.push(Input::Host {
            t_us: 3_000,
            text: "Sending invitation to 10.0.0.2".into(),
        });
        let tl = s.timeline(5_000);
        let kinds: Vec<_> = tl.events.iter().map(|e| (e.source, e.t_us)).collect();
        assert_eq!(
            kinds,
            vec![
                (Source::Net, 1_000),
                (Source::Serial, 2_000),
                (Source::Host, 3_000)
            ]
        );
        assert!(tl.timed.contains(&Source::Serial) && tl.timed.contains(&Source::Net));
        assert_eq!(tl.end_us, 5_000);
        assert_eq!(tl.packets, 1);
    }

    #[test]
    fn the_given_password_is_hidden_in_any_line() {
        let mut s = Session::with_password(Some(Password::new("my secret")));
        s.push(Input::Host {
            t_us: 1,
            text: "secret is: my secret".into(),
        });
        s.push(Input::Serial {
            t_us: 2,
            bytes: b"ota password: my secret!".to_vec(),
        });
        assert!(s.events().iter().all(|e| !e.text.contains("my secret")));
        assert_eq!(s.events()[0].text, "secret is: ***");
    }

    #[test]
    fn a_trim_hands_back_what_it_let_go_only_when_asked() {
        let line = |s: &mut Session, t_us: i64| {
            s.push(Input::Serial {
                t_us,
                bytes: format!("tick {t_us}").into_bytes(),
            })
        };
        let w = Window {
            lines: 8,
            marked: 8,
        };
        let mut quiet = Session::new().with_window(w);
        let mut asked = Session::new().with_window(w);
        asked.keep_released(true);
        for t in 0..40 {
            line(&mut quiet, t);
            line(&mut asked, t);
        }
        assert!(quiet.dropped() > 0);
        assert!(quiet.take_released().is_empty());
        let gone = asked.take_released();
        assert!(!gone.is_empty());
        // The last trim's batch: older than anything still held.
        let oldest_held = asked.events()[0].t_us;
        assert!(gone.iter().all(|e| e.t_us < oldest_held), "{gone:?}");
        assert_eq!(asked.dropped(), quiet.dropped());
    }

    #[test]
    fn a_monitor_timestamp_is_replaced_by_ours() {
        let mut s = Session::new();
        s.push(Input::Serial {
            t_us: 7,
            bytes: b"12:00:01.123 > Start updating sketch".to_vec(),
        });
        let e = &s.events()[0];
        assert_eq!(e.t_us, 7);
        assert_eq!(e.text, "Start updating sketch");
    }
}
