//! Our DTLS engine (through the `simbridge dtls` CLI) against OpenSSL's s_server / s_client, both
//! roles, every suite OpenSSL has among ours (the three plain-PSK AEAD suites; OpenSSL 3.0 has
//! no RFC 8442 ECDHE_PSK AEAD suite), data both ways, close_notify, wrong PSK, a lossy,
//! reordering relay, packed handshake records and the psk_identity_hint: the shared scenarios
//! of `tests/support/scenarios.rs` over [`Openssl`].

mod support;

use support::peer_launcher::Openssl;

support::scenarios::interop_tests!(Openssl);
support::scenarios::hint_tests!(Openssl);
