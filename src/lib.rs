//! ota-doctor: finds out why an ESP8266/ESP32 ArduinoOTA upload failed.
//!
//! Pipeline: sources → [`decode`] → [`timeline`] → [`rules`] → [`analysis`] → [`sinks`].
//! Decoders, the timeline and the rule engine do no I/O, so they run the same on live
//! input, saved logs, traces and rule examples.

// ota-doctor itself needs no unsafe code; fuzzing without a sanitizer relies on it.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod error;
pub mod event;
pub mod export;
pub mod live;
pub mod rules;
pub mod session;
pub mod sim;
pub mod sinks;
pub mod timeline;
pub mod tui;
pub mod upload;
