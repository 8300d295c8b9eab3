//! Ctrl-C (SIGINT), SIGTERM and SIGHUP end recording cleanly instead of killing the
//! process mid-write. The handlers are in place when [`stop_on_signals`] returns, so a
//! signal that arrives at any later moment is caught; a second one while the run is
//! finishing exits at once, since the trace on disk is already complete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The number of the first signal caught, 0 before any.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// Sets the returned flag on the first SIGINT, SIGTERM or SIGHUP.
pub fn stop_on_signals() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    if let Err(e) = listen(Arc::clone(&flag)) {
        eprintln!(
            "warning: cannot catch Ctrl-C or SIGTERM ({e}); stopping this run with them ends it without the diagnosis (use --duration instead)"
        );
    }
    flag
}

/// What stopped recording, for the notes: "Ctrl-C (SIGINT)", "SIGTERM", ….
pub fn caught() -> Option<&'static str> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        2 => Some("Ctrl-C (SIGINT)"),
        15 => Some("SIGTERM"),
        1 => Some("SIGHUP (the terminal closed)"),
        _ => Some("a signal"),
    }
}

fn listen(flag: Arc<AtomicBool>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registering inside the runtime, on this thread, installs the handlers before we
    // return: no window in which a signal would still kill the process.
    let streams = {
        let _in_rt = rt.enter();
        [
            (2, signal(SignalKind::interrupt())?),
            (15, signal(SignalKind::terminate())?),
            (1, signal(SignalKind::hangup())?),
        ]
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || rt.block_on(wait(streams, flag)))?;
    Ok(())
}

async fn wait(mut streams: [(i32, Signal); 3], flag: Arc<AtomicBool>) {
    for n in 0..2 {
        let [(a, s1), (b, s2), (c, s3)] = &mut streams;
        let got = tokio::select! {
            _ = s1.recv() => *a,
            _ = s2.recv() => *b,
            _ = s3.recv() => *c,
        };
        if n == 0 {
            let _ = CAUGHT.compare_exchange(0, got, Ordering::SeqCst, Ordering::SeqCst);
            flag.store(true, Ordering::SeqCst);
        }
    }
    eprintln!(
        "ota-doctor: second signal, exiting now; the exported trace holds everything recorded"
    );
    std::process::exit(128 + CAUGHT.load(Ordering::SeqCst));
}
