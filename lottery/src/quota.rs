//! Quota allocation (PROTOCOL.md, quota allocation).
