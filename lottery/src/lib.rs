//! # lottery — Fairdraw's pure draw engine
//!
//! Everything that decides or proves an enrollment draw lives here, and nothing else: no I/O, no
//! clock, no global random source, no floating point in ranking, no hash-map iteration that
//! reaches an output. The same frozen round and seed give the same bytes on every platform.
//! Each module implements one section of `docs/PROTOCOL.md`, named as the spec names it.
#![forbid(unsafe_code)]

pub mod applicants;
pub mod bundle;
pub mod digest;
pub mod draw;
pub mod encoding;
pub mod lines;
pub mod log;
pub mod manifest;
pub mod merkle;
pub mod policy;
pub mod results;
pub mod round;
pub mod seed;
pub mod stream;
pub mod supplement;
pub mod ticket;
pub mod verify;

pub mod classes;
pub mod mechanism;
pub mod quota;

/// Inline small strings (up to 24 bytes without a heap allocation), used for applicant ids.
pub use compact_str::CompactString;
pub use digest::Digest;
pub use encoding::Domain;
pub use stream::Stream;
