//! Not part of the API, no stability promise: the wire types, record protection, flights,
//! reassembly and cookies, reachable for this workspace's fuzz targets, benches and tests
//! (rustls keeps its `internal` module for the same reason).
#[path = "bench.rs"]
pub mod bench;
#[path = "cookie.rs"]
pub mod cookie;
#[path = "crypto/mod.rs"]
pub mod crypto;
#[path = "flight.rs"]
pub mod flight;
#[path = "reassembly.rs"]
pub mod reassembly;
#[path = "record_layer.rs"]
pub mod record_layer;
#[path = "replay.rs"]
pub mod replay;
#[path = "wire/mod.rs"]
pub mod wire;
