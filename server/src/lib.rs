//! Fairdraw service library: input import, the ceremony and the round service.
pub mod ceremony;
pub mod html;
pub mod import;
pub mod output;
pub mod supplement;
