//! Every handshake message parser, and encode/parse round trips where parsing succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge::dtls::internal::wire::alert::{parse_ccs, Alert};
use simbridge::dtls::internal::wire::hello::{ClientHello, HelloVerifyRequest, ServerHello};
use simbridge::dtls::internal::wire::kx::{parse_finished, ClientKeyExchange, ServerKeyExchange};

fuzz_target!(|data: &[u8]| {
    if let Ok(ch) = ClientHello::parse(data) {
        assert_eq!(ClientHello::parse(&ch.encode()).ok(), Some(ch.clone()));
        let _ = ch.secure_renegotiation();
        let _ = ch.extensions.server_name();
        let _ = ch.extensions.supported_groups();
        let _ = ch.extensions.extended_master_secret();
    }
    if let Ok(sh) = ServerHello::parse(data) {
        assert_eq!(ServerHello::parse(&sh.encode()).ok(), Some(sh.clone()));
        let _ = sh.extensions.renegotiation_info();
    }
    if let Ok(h) = HelloVerifyRequest::parse(data) {
        assert_eq!(HelloVerifyRequest::parse(&h.encode()).ok(), Some(h));
    }
    for ecdhe in [false, true] {
        if let Ok(s) = ServerKeyExchange::parse(data, ecdhe) {
            assert_eq!(ServerKeyExchange::parse(&s.encode(), ecdhe).ok(), Some(s));
        }
        if let Ok(c) = ClientKeyExchange::parse(data, ecdhe) {
            assert_eq!(ClientKeyExchange::parse(&c.encode(), ecdhe).ok(), Some(c));
        }
    }
    let _ = parse_finished(data);
    let _ = Alert::parse(data);
    let _ = parse_ccs(data);
});
