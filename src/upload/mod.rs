//! An espota-compatible uploader that reports its own steps as host-log lines.
