//! Where results go: text for people, JSON for machines.
pub mod json;
pub mod text;
