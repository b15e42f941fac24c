//! Sunshine class assignment (PROTOCOL.md, class assignment).
