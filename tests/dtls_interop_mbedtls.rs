//! Our DTLS engine (through the `simbridge dtls` CLI) against Mbed TLS 2.28 (python-mbedtls,
//! scripts/peers/mbedtls_dtls_psk.py in the venv), both roles, every suite Mbed TLS 2.28 has among
//! ours (the three plain-PSK AEAD suites; it has ECDHE-PSK only with CBC, not the RFC 8442 AEAD
//! suites), data both ways, close_notify, wrong PSK, a lossy, reordering relay and packed
//! handshake records: the shared scenarios of `tests/support/scenarios.rs` over [`Mbedtls`]
//! (its peer script has no psk_identity_hint).

mod support;

use support::peer_launcher::Mbedtls;

support::scenarios::interop_tests!(Mbedtls);
