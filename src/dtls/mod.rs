//! Sans-IO DTLS 1.2 PSK engine (RFC 6347, RFC 4279, RFC 7627, RFC 5746, RFC 8442).
//!
//! No sockets, threads or clocks: the caller feeds datagrams with `handle_datagram(now, ..)`,
//! drains `poll_transmit()`, drives timers with `poll_timeout()` / `handle_timeout(now)` and
//! reads `poll_event()`. Randomness is injected through [`rng::DtlsRng`].

pub mod crypto;
pub mod reassembly;
pub mod rng;
pub mod suite;
pub mod wire;
