//! CLI tests for fairdraw-verify.
