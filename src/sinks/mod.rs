//! Where results go: text for people, JSON for machines, shareable reports.
pub mod json;
pub mod report;
pub mod text;
