//! Placement mechanisms (PROTOCOL.md, mechanisms).
