//! toolgate-oauth through its public API, with real keys and signatures:
//! tokens are signed with the test keys in `tests/fixtures`, key sets are
//! served by a real HTTP server on loopback, and time is a manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod algorithms;
mod claims;
mod jwks;
mod support;
