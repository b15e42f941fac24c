//! The verifier's library side: reading a bundle directory for [`lottery::verify`].

pub mod bundle_dir;
