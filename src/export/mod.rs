//! Writing and reading what ota-doctor records.
pub mod pcapng;
pub mod trace;
