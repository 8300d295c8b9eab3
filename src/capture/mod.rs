//! Sources that do I/O and nothing else: the serial port and live packet capture. Each
//! stamps what it reads with the shared host clock and hands it on over a bounded channel.

pub mod baud;
pub mod clock;
pub mod filter;
pub mod live;
mod port_errors;
pub mod route;
pub mod serial;
