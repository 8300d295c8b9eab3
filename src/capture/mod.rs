//! Sources that do I/O and nothing else: the serial port and live packet capture. Each
//! stamps what it reads with the shared host clock and hands it on over a bounded channel.
//!
//! - [`clock::HostClock`]: the one clock every source stamps with.
//! - [`live::LiveCapture`]: pnet on the interface that routes to the device
//!   ([`route`]), filtered and de-duplicated in [`filter`].
//! - [`serial::SerialCapture`]: the device's serial port as stamped lines, with notes
//!   about disconnects and the baud rate ([`baud`]).
//! - [`cmd`]: the hidden `capture` command that runs them alone.

pub mod baud;
pub mod clock;
pub mod cmd;
pub mod filter;
pub mod live;
pub mod pcap_out;
mod port_errors;
pub mod route;
pub mod serial;
mod socket;
mod summary;

pub use cmd::{CaptureArgs, run};
