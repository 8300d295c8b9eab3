//! The timeline picture: one lane per source, events as ticks coloured by kind, the
//! evidence numbered, a time axis in seconds, and the transfer progress above the lanes.
//!
//! The size is bounded whatever the trace holds: events are gathered into columns
//! [`COLUMN_PX`] wide per lane, so there are at most [`MAX_TICKS`] ticks, and at most
//! [`MAX_PROGRESS_POINTS`] progress points.

use super::html::esc;
use super::{clean, rel_secs, source_label};
use crate::event::{Event, Source, Value};
use crate::timeline::Timeline;
use std::fmt::Write;

pub const WIDTH: f64 = 1100.0;
const LEFT: f64 = 92.0;
const RIGHT: f64 = 18.0;
const PLOT: f64 = WIDTH - LEFT - RIGHT;
/// Width of one aggregation column.
pub const COLUMN_PX: f64 = 3.0;
const COLUMNS: usize = (PLOT / COLUMN_PX) as usize;
pub const LANES: [Source; 3] = [Source::Serial, Source::Net, Source::Host];
/// Upper bound on drawn ticks: one per column per lane.
pub const MAX_TICKS: usize = COLUMNS * LANES.len();
pub const MAX_PROGRESS_POINTS: usize = COLUMNS + 1;
const PROGRESS_TOP: f64 = 14.0;
const PROGRESS_H: f64 = 64.0;
const LANE_TOP: f64 = PROGRESS_TOP + PROGRESS_H + 22.0;
const LANE_H: f64 = 58.0;

/// What an event is, for its colour. Later variants win when a column holds several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Other,
    Protocol,
    Progress,
    Success,
    Boot,
    Error,
}

impl Class {
    pub fn css(self) -> &'static str {
        match self {
            Class::Other => "k-other",
            Class::Protocol => "k-proto",
            Class::Progress => "k-prog",
            Class::Success => "k-ok",
            Class::Boot => "k-boot",
            Class::Error => "k-err",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Class::Other => "log line",
            Class::Protocol => "OTA protocol",
            Class::Progress => "progress",
            Class::Success => "success",
            Class::Boot => "boot / reset",
            Class::Error => "error",
        }
    }
}

pub fn classify(e: &Event) -> Class {
    let k = &*e.kind;
    let verdict = match e.field("verdict") {
        Some(Value::Str(v)) => Some(v.as_str()),
        _ => None,
    };
    let failed = [
        "error",
        "fail",
        "too_large",
        "crash",
        "stall",
        "refused",
        "timeout",
    ]
    .iter()
    .any(|w| k.contains(w))
        || matches!(verdict, Some("err" | "auth_failed"))
        || e.field("ok") == Some(&Value::Bool(false));
    if failed {
        Class::Error
    } else if k.starts_with("boot") || k.contains("reset") || k == "eboot" {
        Class::Boot
    } else if verdict == Some("ok")
        || e.field("ok") == Some(&Value::Bool(true))
        || k.ends_with(".ok")
    {
        Class::Success
    } else if k.ends_with("progress") {
        Class::Progress
    } else if k == "line" || k == "garbage" || k == "log" {
        Class::Other
    } else {
        Class::Protocol
    }
}

/// Percent of the image transferred, from whatever the event says.
fn percent(e: &Event) -> Option<f64> {
    if let Some(p) = e.field("percent").and_then(Value::as_f64) {
        return Some(p);
    }
    let size = e.field("image_size").and_then(Value::as_f64)?;
    // An invitation names the size but sends nothing: that is not 0 % progress.
    let done = ["bytes_acked", "bytes", "bytes_sent"]
        .iter()
        .filter_map(|k| e.field(k).and_then(Value::as_f64))
        .reduce(f64::max)?;
    (size > 0.0).then(|| done * 100.0 / size)
}

/// Width of a collapsed quiet stretch.
const BREAK_PX: f64 = 34.0;
/// Narrowest stretch of activity.
const MIN_SEG_PX: f64 = 12.0;
/// At most this many collapsed stretches.
const MAX_BREAKS: usize = 10;

/// A stretch of time drawn linearly.
#[derive(Clone, Copy, Debug)]
struct Seg {
    t0: i64,
    t1: i64,
    x0: f64,
    x1: f64,
}

/// Time to x. Long quiet stretches are collapsed to [`BREAK_PX`] so that a burst of
/// activity followed by seconds of idle log lines stays readable; the gaps are labelled
/// with their length.
struct Scale {
    start: i64,
    segs: Vec<Seg>,
}

impl Scale {
    fn new(times: &mut Vec<i64>, start: i64, end: i64) -> Scale {
        let end = end.max(start + 1000);
        let linear = Scale {
            start,
            segs: vec![Seg {
                t0: start,
                t1: end,
                x0: LEFT,
                x1: LEFT + PLOT,
            }],
        };
        times.push(start);
        times.push(end);
        times.sort_unstable();
        times.dedup();
        let span = (end - start) as f64;
        let mut gap = span / 25.0;
        let clusters = loop {
            let mut cl: Vec<(i64, i64)> = Vec::new();
            for &t in times.iter() {
                match cl.last_mut() {
                    Some(c) if ((t - c.1) as f64) <= gap => c.1 = t,
                    _ => cl.push((t, t)),
                }
            }
            if cl.len() <= MAX_BREAKS + 1 {
                break cl;
            }
            gap *= 2.0;
        };
        let busy: i64 = clusters.iter().map(|c| c.1 - c.0).sum();
        // Only worth it when most of the time is quiet.
        if clusters.len() < 2 || busy as f64 > span * 0.5 {
            return linear;
        }
        let n = clusters.len() as f64;
        let free = PLOT - BREAK_PX * (n - 1.0) - MIN_SEG_PX * n;
        let mut x = LEFT;
        let segs = clusters
            .iter()
            .map(|&(t0, t1)| {
                let w = MIN_SEG_PX + free * (t1 - t0) as f64 / busy.max(1) as f64;
                let seg = Seg {
                    t0,
                    t1,
                    x0: x,
                    x1: x + w,
                };
                x += w + BREAK_PX;
                seg
            })
            .collect();
        Scale { start, segs }
    }

    fn x(&self, t: i64) -> f64 {
        let i = self.segs.partition_point(|s| s.t0 <= t).saturating_sub(1);
        let s = self.segs[i];
        if t <= s.t1 || i + 1 == self.segs.len() {
            let f = if s.t1 > s.t0 {
                ((t - s.t0) as f64 / (s.t1 - s.t0) as f64).clamp(0.0, 1.0)
            } else {
                0.5
            };
            return s.x0 + f * (s.x1 - s.x0);
        }
        let n = self.segs[i + 1];
        s.x1 + (t - s.t1) as f64 / (n.t0 - s.t1) as f64 * (n.x0 - s.x1)
    }

    fn column(&self, t_us: i64) -> usize {
        (((self.x(t_us) - LEFT) / COLUMN_PX) as usize).min(COLUMNS - 1)
    }

    fn secs(&self, t: i64) -> f64 {
        (t - self.start) as f64 / 1e6
    }
}

#[derive(Clone, Copy, Default)]
struct Column {
    count: usize,
    class: Option<Class>,
    first: usize,
}

/// The picture as an inline `<svg>` element. `evidence` are indices into the timeline's
/// events; they are drawn on top and numbered 1, 2, … in the given order.
pub fn render(tl: &Timeline, evidence: &[usize]) -> String {
    let t0 = tl.start_us();
    let t1 = tl.end_us.max(tl.events.last().map_or(t0, |e| e.t_us));
    let mut times: Vec<i64> = tl.events.iter().map(|e| e.t_us).collect();
    let sc = Scale::new(&mut times, t0, t1);
    drop(times);
    let height = LANE_TOP + LANE_H * LANES.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="timeline of the upload: one lane per source">"#
    );
    progress(&mut s, tl, &sc);
    lane_backgrounds(&mut s, tl);
    attempts(&mut s, tl, &sc, height);
    ticks(&mut s, tl, &sc);
    axis(&mut s, &sc, height);
    evidence_marks(&mut s, tl, &sc, evidence);
    s.push_str("</svg>");
    s
}

fn lane_y(i: usize) -> f64 {
    LANE_TOP + LANE_H * i as f64
}

/// Shaded spans of the upload attempts, so retries are visible.
fn attempts(s: &mut String, tl: &Timeline, sc: &Scale, height: f64) {
    let n = tl.attempts();
    if n == 0 {
        return;
    }
    let mut span = vec![(i64::MAX, i64::MIN); n as usize + 1];
    for (e, &a) in tl.events.iter().zip(&tl.attempt) {
        if a > 0 {
            let sp = &mut span[a as usize];
            *sp = (sp.0.min(e.t_us), sp.1.max(e.t_us));
        }
    }
    let mut last_label = f64::MIN;
    for (a, &(from, to)) in span.iter().enumerate().skip(1) {
        if from > to {
            continue;
        }
        let (x0, x1) = (sc.x(from), sc.x(to));
        // Attempts that start together would print their labels on top of each other.
        let label = if x0 - last_label >= 64.0 {
            last_label = x0;
            format!("attempt {a}")
        } else {
            String::new()
        };
        let _ = write!(
            s,
            r#"<rect class="attempt" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><text class="attempt-label" x="{:.1}" y="{:.1}">{label}</text>"#,
            LANE_TOP - 4.0,
            (x1 - x0).max(2.0),
            height - LANE_TOP - 36.0,
            x0 + 3.0,
            LANE_TOP - 8.0,
        );
    }
}

/// The transfer as an area: percent over time, one run per attempt.
fn progress(s: &mut String, tl: &Timeline, sc: &Scale) {
    let base = PROGRESS_TOP + PROGRESS_H;
    let y = |p: f64| base - p.clamp(0.0, 100.0) / 100.0 * PROGRESS_H;
    let _ = write!(
        s,
        r#"<text class="lane-label" x="{:.1}" y="{:.1}">transfer</text><text class="small" x="{:.1}" y="{:.1}">100 %</text><text class="small" x="{:.1}" y="{:.1}">0 %</text>"#,
        8.0,
        PROGRESS_TOP + PROGRESS_H / 2.0 + 4.0,
        LEFT - 36.0,
        PROGRESS_TOP + 4.0,
        LEFT - 24.0,
        base,
    );
    let _ = write!(
        s,
        r#"<rect class="band" x="{LEFT}" y="{PROGRESS_TOP}" width="{PLOT}" height="{PROGRESS_H}"/><line class="grid" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
        LEFT + PLOT,
        y(50.0),
        y(50.0)
    );
    // The wire is the most exact; the device and the uploader only stand in for it.
    let pick = [Source::Net, Source::Serial, Source::Host]
        .into_iter()
        .find(|&src| {
            tl.events
                .iter()
                .any(|e| e.source == src && percent(e).is_some())
        });
    let Some(src) = pick else {
        let _ = write!(
            s,
            r#"<text class="muted" x="{:.1}" y="{:.1}">no progress recorded</text>"#,
            LEFT + 8.0,
            base - 8.0
        );
        return;
    };
    // Last value per column, split into runs wherever a new attempt starts over.
    let mut runs: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut last_attempt = None;
    for (i, e) in tl.events.iter().enumerate() {
        if e.source != src {
            continue;
        }
        let Some(p) = percent(e) else { continue };
        let col = sc.column(e.t_us);
        let att = tl.attempt.get(i).copied();
        let new_run = runs.is_empty()
            || last_attempt != Some(att)
            || runs
                .last()
                .and_then(|r| r.last())
                .is_some_and(|&(_, q)| p + 5.0 < q);
        last_attempt = Some(att);
        if new_run {
            runs.push(Vec::new());
        }
        let run = runs.last_mut().expect("pushed above");
        match run.last_mut() {
            Some(last) if last.0 == col => last.1 = p,
            _ => run.push((col, p)),
        }
    }
    let mut points = 0;
    let mut label = String::new();
    for run in &runs {
        if points + run.len() > MAX_PROGRESS_POINTS {
            break;
        }
        points += run.len();
        let xs = |c: usize| LEFT + (c as f64 + 0.5) * COLUMN_PX;
        let mut d = format!("M{:.1},{:.1}", xs(run[0].0), base);
        let mut line = String::new();
        // Steps, not slopes: the value holds until the next report says otherwise.
        let mut prev_y = base;
        for (k, &(c, p)) in run.iter().enumerate() {
            let _ = write!(d, " L{:.1},{prev_y:.1} L{:.1},{:.1}", xs(c), xs(c), y(p));
            if k == 0 {
                let _ = write!(line, "M{:.1},{:.1}", xs(c), y(p));
            } else {
                let _ = write!(line, " L{:.1},{prev_y:.1} L{:.1},{:.1}", xs(c), xs(c), y(p));
            }
            prev_y = y(p);
        }
        let last = *run.last().expect("runs are never empty");
        let _ = write!(d, " L{:.1},{:.1} Z", xs(last.0), base);
        let lx = xs(last.0);
        let (lx, anchor) = if lx > LEFT + PLOT - 40.0 {
            (lx - 4.0, "end")
        } else {
            (lx + 4.0, "start")
        };
        let _ = write!(
            s,
            r#"<path class="prog-area" d="{d}"/><path class="prog-line" d="{line}"/>"#
        );
        label = format!(
            r#"<text class="prog-value" text-anchor="{anchor}" x="{lx:.1}" y="{:.1}">{:.0} %</text>"#,
            (y(last.1) + 12.0).min(base - 2.0),
            last.1
        );
    }
    s.push_str(&label);
    // Under the band's name, where no curve or value label can cover it.
    let _ = write!(
        s,
        r#"<text class="small" x="8" y="{:.1}">from {}</text>"#,
        PROGRESS_TOP + PROGRESS_H / 2.0 + 18.0,
        source_label(src)
    );
}

fn lane_backgrounds(s: &mut String, tl: &Timeline) {
    for (li, &src) in LANES.iter().enumerate() {
        let y0 = lane_y(li);
        let _ = write!(
            s,
            r#"<rect class="lane{}" x="{LEFT}" y="{y0:.1}" width="{PLOT}" height="{LANE_H}"/><text class="lane-label" x="8" y="{:.1}">{}</text>"#,
            if li % 2 == 1 { " lane-alt" } else { "" },
            y0 + LANE_H / 2.0 + 4.0,
            source_label(src)
        );
        if !tl.sources.contains(&src) {
            let _ = write!(
                s,
                r#"<text class="muted" x="{:.1}" y="{:.1}">not captured</text>"#,
                LEFT + 8.0,
                y0 + LANE_H / 2.0 + 4.0
            );
        }
    }
}

/// The events, gathered per column; the most telling class colours the column.
fn ticks(s: &mut String, tl: &Timeline, sc: &Scale) {
    for (li, &src) in LANES.iter().enumerate() {
        let y0 = lane_y(li);
        let mut cols = vec![Column::default(); COLUMNS];
        for (i, e) in tl.events.iter().enumerate() {
            if e.source != src {
                continue;
            }
            let c = &mut cols[sc.column(e.t_us)];
            if c.count == 0 {
                c.first = i;
            }
            c.count += 1;
            let k = classify(e);
            if c.class.is_none_or(|old| k > old) {
                c.class = Some(k);
                c.first = i;
            }
        }
        let base = y0 + LANE_H - 6.0;
        for (ci, c) in cols.iter().enumerate() {
            let Some(class) = c.class else { continue };
            let tall = match class {
                Class::Error | Class::Boot => 34.0,
                Class::Success => 28.0,
                _ => 14.0,
            };
            // More events in a column draw a taller tick, up to the lane's height.
            let h = (tall + 4.0 * (c.count as f64).log2()).min(LANE_H - 20.0);
            let e = &tl.events[c.first];
            let text = clean(&e.text, 90);
            let more = if c.count > 1 {
                format!(" (+{} more here)", c.count - 1)
            } else {
                String::new()
            };
            let _ = write!(
                s,
                r#"<rect class="tick {}" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>+{:.3}s {}: {}{more}</title></rect>"#,
                class.css(),
                LEFT + ci as f64 * COLUMN_PX,
                base - h,
                COLUMN_PX - 0.8,
                rel_secs(tl, e),
                esc(&clean(&e.kind, 40)),
                esc(&text),
            );
        }
    }
}

/// Evidence: a ring around the tick and a numbered badge, staggered when they crowd.
fn evidence_marks(s: &mut String, tl: &Timeline, sc: &Scale, evidence: &[usize]) {
    let mut placed: Vec<(usize, f64, usize)> = Vec::new(); // lane, x, row
    for (n, &i) in evidence.iter().enumerate() {
        let Some(e) = tl.events.get(i) else { continue };
        let Some(li) = LANES.iter().position(|&l| l == e.source) else {
            continue;
        };
        let x = sc.x(e.t_us);
        let row = (0..4)
            .find(|r| {
                !placed
                    .iter()
                    .any(|&(l, px, pr)| l == li && pr == *r && (px - x).abs() < 17.0)
            })
            .unwrap_or(3);
        placed.push((li, x, row));
        let y0 = lane_y(li);
        let by = y0 + 10.0;
        // Badges go right of the tick, or left of it near the right edge.
        let dir = if x > LEFT + PLOT - 80.0 { -1.0 } else { 1.0 };
        let bx = x + dir * (9.0 + 17.0 * row as f64);
        let _ = write!(
            s,
            r#"<g class="evidence"><title>evidence {}: +{:.3}s {}</title><line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/><line class="leader" x1="{x:.1}" x2="{bx:.1}" y1="{by:.1}" y2="{by:.1}"/><circle cx="{bx:.1}" cy="{by:.1}" r="7.5"/><text x="{bx:.1}" y="{:.1}">{}</text></g>"#,
            n + 1,
            rel_secs(tl, e),
            esc(&clean(&e.text, 120)),
            y0 + 2.0,
            y0 + LANE_H - 2.0,
            by + 3.5,
            n + 1
        );
    }
}

/// A step of 1, 2 or 5 × 10^k, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-6);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&st| st >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

fn secs_label(t: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{t:.decimals$}")
}

/// Seconds under each stretch of activity, and a labelled break for each quiet one.
fn axis(s: &mut String, sc: &Scale, height: f64) {
    let y = height - 30.0;
    let mut last_label = f64::MIN;
    for (i, seg) in sc.segs.iter().enumerate() {
        let _ = write!(
            s,
            r#"<line class="axis" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
            seg.x0, seg.x1
        );
        let (a, b) = (sc.secs(seg.t0), sc.secs(seg.t1));
        let w = seg.x1 - seg.x0;
        let mut marks: Vec<(f64, String)> = Vec::new();
        if b - a > 0.0 && w >= 60.0 {
            let step = nice_step((b - a) / (w / 110.0).max(1.0));
            let mut k = (a / step).ceil() as i64;
            while (k as f64) * step <= b + step * 1e-9 {
                let t = k as f64 * step;
                marks.push((t, secs_label(t, step)));
                k += 1;
            }
        } else {
            marks.push((a, secs_label(a, nice_step((a.abs() / 100.0).max(0.001)))));
        }
        for (t, label) in marks {
            let x = if b > a {
                seg.x0 + (t - a) / (b - a) * w
            } else {
                (seg.x0 + seg.x1) / 2.0
            };
            if x - last_label < 44.0 {
                continue;
            }
            last_label = x;
            let _ = write!(
                s,
                r#"<line class="axis" x1="{x:.1}" x2="{x:.1}" y1="{y:.1}" y2="{:.1}"/><text class="tick-label" x="{x:.1}" y="{:.1}">{label}</text>"#,
                y + 5.0,
                y + 17.0
            );
        }
        if let Some(next) = sc.segs.get(i + 1) {
            let (bx0, bx1) = (seg.x1, next.x0);
            let gap = sc.secs(next.t0) - b;
            let _ = write!(
                s,
                r#"<g class="break"><title>{gap:.3} s without events, drawn shortened</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/><path d="M{:.1},{:.1} l6,-8 M{:.1},{:.1} l6,-8"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                bx0 + 4.0,
                LANE_TOP,
                bx1 - bx0 - 8.0,
                y - LANE_TOP,
                bx0 + 8.0,
                y + 4.0,
                bx0 + 16.0,
                y + 4.0,
                (bx0 + bx1) / 2.0,
                LANE_TOP - 4.0,
                gap_label(gap)
            );
        }
    }
    let _ = write!(
        s,
        r#"<text class="small" x="8" y="{:.1}">seconds</text>"#,
        y + 17.0
    );
}

fn gap_label(secs: f64) -> String {
    if secs >= 10.0 {
        format!("{secs:.0} s")
    } else if secs >= 1.0 {
        format!("{secs:.1} s")
    } else {
        format!("{:.0} ms", secs * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Builder;

    #[test]
    fn classes() {
        let ev = |k: &str| Event::new(Source::Serial, k.to_string(), "");
        assert_eq!(classify(&ev("updater.too_large")), Class::Error);
        assert_eq!(classify(&ev("boot")), Class::Boot);
        assert_eq!(classify(&ev("ota.progress")), Class::Progress);
        assert_eq!(classify(&ev("line")), Class::Other);
        assert_eq!(classify(&ev("ota.invite")), Class::Protocol);
        assert_eq!(
            classify(&ev("ota.reply").with("verdict", "auth_failed")),
            Class::Error
        );
        assert_eq!(
            classify(&ev("espota.result").with("ok", true)),
            Class::Success
        );
    }

    #[test]
    fn progress_needs_bytes_not_just_a_size() {
        let ev = Event::new(Source::Net, "ota.invite", "").with("image_size", 1000i64);
        assert_eq!(percent(&ev), None);
        assert_eq!(percent(&ev.clone().with("bytes_sent", 250i64)), Some(25.0));
        assert_eq!(percent(&ev.with("percent", 40i64)), Some(40.0));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(1.25), 2.0);
        assert_eq!(nice_step(0.00625), 0.01);
        assert_eq!(nice_step(50.0), 50.0);
    }

    #[test]
    fn quiet_stretches_are_collapsed_and_x_is_monotonic() {
        // A burst in the first 100 ms, then single lines at 1 s, 2 s and 3 s.
        let mut times: Vec<i64> = (0..100).map(|i| i * 1000).collect();
        times.extend([1_000_000, 2_000_000, 3_000_000]);
        let sc = Scale::new(&mut times, 0, 3_000_000);
        assert_eq!(sc.segs.len(), 4);
        assert!(
            sc.x(100_000) - sc.x(0) > PLOT * 0.5,
            "the burst gets most of the width"
        );
        let xs: Vec<f64> = (0..=300).map(|i| sc.x(i * 10_000)).collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1] + 1e-9));
        let end = sc.x(3_000_000);
        assert!(
            end <= LEFT + PLOT && end > LEFT + PLOT - MIN_SEG_PX,
            "{end}"
        );
        // Evenly busy time stays linear.
        let mut even: Vec<i64> = (0..100).map(|i| i * 30_000).collect();
        assert_eq!(Scale::new(&mut even, 0, 3_000_000).segs.len(), 1);
    }

    #[test]
    fn a_huge_timeline_gives_a_bounded_picture() {
        let mut b = Builder::new();
        b.events((0..200_000i64).map(|i| {
            let mut e = Event::new(
                LANES[(i % 3) as usize],
                if i % 7 == 0 { "ota.progress" } else { "line" },
                "x".repeat(300),
            )
            .with("percent", i % 100);
            e.t_us = i * 1000;
            e
        }));
        let tl = b.build();
        let svg = render(&tl, &[5, 100_000]);
        let ticks = svg.matches(r#"class="tick "#).count();
        assert!(ticks <= MAX_TICKS, "{ticks}");
        assert!(svg.len() < 600_000, "{}", svg.len());
        assert_eq!(svg.matches(r#"<g class="evidence">"#).count(), 2);
    }
}
