//! Fairdraw service library: input import, the ceremony and the round service.
pub mod import;
pub mod supplement;
