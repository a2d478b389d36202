//! The in-memory client/server link of the DTLS tests: `simbridge_dtls::testing` (feature
//! `testing`), one copy for this workspace's tests, fuzz targets and benches.
#![allow(unused_imports)]

pub use simbridge_dtls::testing::*;
