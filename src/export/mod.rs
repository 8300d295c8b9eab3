//! Writing and reading what ota-doctor records.
pub mod trace;
