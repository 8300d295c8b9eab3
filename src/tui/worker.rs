//! The live analysis, on a thread of its own. Over a full window one analysis takes
//! a few hundred milliseconds; on the UI loop that froze keys and redraws for as
//! long. The loop now only sends what arrived and asks; it never waits for an answer.

use super::found::{Found, Mirror};
use crate::analysis::Report;
use crate::event::Event;
use crate::session::{Outline, Window};
use crate::timeline::Timeline;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread;
use std::time::{Duration, Instant};

/// The rules' evaluation; tests put a slow one in its place.
pub type Analyse = Box<dyn FnMut(&Timeline) -> Report + Send>;

enum Job {
    Events(Vec<Event>),
    Analyse(Outline),
    /// Events the screen let go, freed here because freeing them takes a while.
    Free(Vec<Event>),
}

/// One finished analysis and what it took, which spaces the next one.
pub struct Done {
    pub found: Found,
    pub cost: Duration,
}

pub enum Reply {
    Done(Done),
    /// The thread is gone (it panicked); no analysis will come.
    Lost,
}

struct State {
    mirror: Mirror,
    analyse: Analyse,
}

impl State {
    fn run(&mut self, outline: &Outline) -> Done {
        let began = Instant::now();
        let found = self.mirror.analyse(outline, &mut self.analyse);
        Done {
            found,
            cost: began.elapsed(),
        }
    }
}

enum How {
    Thread {
        jobs: Sender<Job>,
        done: Receiver<Done>,
    },
    /// On the caller's thread, as before the thread existed: the benchmark's peer,
    /// and what is left when no thread can be started.
    Inline {
        state: State,
        ready: Option<Done>,
    },
    Lost,
}

/// At most one analysis in flight; the loop asks again only after an answer.
pub struct Worker {
    how: How,
    busy: bool,
}

impl Worker {
    pub fn start(window: Window, analyse: Analyse, thread: bool) -> Worker {
        let state = State {
            mirror: Mirror::new(window),
            analyse,
        };
        let how = if thread {
            spawn(state)
        } else {
            How::Inline { state, ready: None }
        };
        Worker { how, busy: false }
    }

    /// Events the session just added, in its order.
    pub fn events(&mut self, events: Vec<Event>) {
        match &mut self.how {
            How::Thread { jobs, .. } => {
                // A lost thread is noticed by `poll`.
                let _ = jobs.send(Job::Events(events));
            }
            How::Inline { state, .. } => state.mirror.add(events),
            How::Lost => {}
        }
    }

    /// Frees `events` on the thread, if there is one.
    pub fn free(&mut self, events: Vec<Event>) {
        if let (How::Thread { jobs, .. }, false) = (&self.how, events.is_empty()) {
            let _ = jobs.send(Job::Free(events));
        }
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Starts an analysis of everything sent so far, unless one is in flight.
    pub fn request(&mut self, outline: Outline) {
        if self.busy {
            return;
        }
        self.busy = match &mut self.how {
            How::Thread { jobs, .. } => jobs.send(Job::Analyse(outline)).is_ok(),
            How::Inline { state, ready } => {
                *ready = Some(state.run(&outline));
                true
            }
            How::Lost => false,
        };
    }

    /// The answer, once it is there; `Lost` once if the thread went away.
    pub fn poll(&mut self) -> Option<Reply> {
        let got = match &mut self.how {
            How::Thread { done, .. } => match done.try_recv() {
                Ok(d) => Ok(d),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => Err(()),
            },
            How::Inline { ready, .. } => Ok(ready.take()?),
            How::Lost => return None,
        };
        self.busy = false;
        match got {
            Ok(d) => Some(Reply::Done(d)),
            Err(()) => {
                self.how = How::Lost;
                Some(Reply::Lost)
            }
        }
    }
}

/// The state reaches the thread by channel, so it is still here to run inline if
/// the thread cannot be started.
fn spawn(state: State) -> How {
    let (jobs, jobs_rx) = channel();
    let (done_tx, done) = channel();
    let (give, take) = channel::<State>();
    let spawned = thread::Builder::new()
        .name("analysis".into())
        .spawn(move || {
            if let Ok(state) = take.recv() {
                serve(state, &jobs_rx, &done_tx);
            }
        });
    if spawned.is_err() {
        return How::Inline { state, ready: None };
    }
    match give.send(state) {
        Ok(()) => How::Thread { jobs, done },
        Err(back) => How::Inline {
            state: back.0,
            ready: None,
        },
    }
}

/// Until the loop is gone: its events are copied, its requests answered.
fn serve(mut state: State, jobs: &Receiver<Job>, done: &Sender<Done>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Events(e) => state.mirror.add(e),
            Job::Free(e) => drop(e),
            Job::Analyse(o) => {
                if done.send(state.run(&o)).is_err() {
                    return;
                }
            }
        }
    }
}
