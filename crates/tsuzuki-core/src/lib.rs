//! The rules of tsuzuki, free of I/O.
//!
//! Everything here is plain Rust: no HTTP, no SQL, no async, and no reading of the clock. Time
//! arrives as a [`clock::Timestamp`] argument; randomness only through [`token::random_bytes`],
//! which asks the operating system's CSPRNG. Adapters (storage, HTTP, CLI) call these rules and
//! never re-implement them.

pub mod access;
pub mod alerts;
pub mod clock;
pub mod device;
pub mod drafts;
pub mod email;
pub mod events;
pub mod flow;
pub mod otp;
pub mod password_policy;
pub mod recovery;
pub mod remember;
pub mod return_to;
pub mod revocation;
pub mod sealing;
pub mod session;
pub mod throttle;
pub mod token;
pub mod totp;
