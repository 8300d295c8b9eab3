//! Starts the live sources a run watches: the serial port and packet capture.

use crate::cli::LiveArgs;
use crate::error::UserError;
use crate::live::Msg;
use crate::session::Session;
use std::sync::mpsc::SyncSender;

pub fn start(a: &LiveArgs, _tx: &SyncSender<Msg>, _session: &mut Session) -> Result<(), UserError> {
    if a.serial.is_some() || a.ip.is_some() {
        return Err(UserError::new(
            "live serial and capture sources are being wired",
        ));
    }
    Ok(())
}
