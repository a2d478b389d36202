//! The I/O loops around the protocol cores: the gateway (local UDP ↔ upstream DTLS sessions) and
//! the server (DTLS ↔ backend UDP), plus the gateway's key service (card + GBA in one thread).
//! Protocol logic lives in [`crate::upstream`], [`crate::dtls`] and [`crate::gba`].

mod batch;
pub mod early;
mod event_wait;
pub mod gateway;
pub mod key_lookup;
pub mod keyservice;
pub mod lifecycle;
pub mod log_limit;
pub mod naf_keys;
pub mod oscore;
pub mod peers;
pub mod route_state;
pub mod server;
pub mod state;

pub use gateway::{Gateway, Route, RouteSpec, RouteUpdate};
pub use keyservice::{KeyService, KeyServiceConfig};
pub use naf_keys::{NafKeySource, NafKeys};
pub use server::{Server, ServerSpec};
