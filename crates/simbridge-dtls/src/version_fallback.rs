//! A client that offers DTLS 1.3 and also speaks 1.2 (`Versions::Auto`): how it tells that the
//! server answered in DTLS 1.2.
//!
//! The client sends its DTLS 1.3 ClientHello. A DTLS 1.2 server reads it as a 1.2 ClientHello
//! (the legacy fields are 1.2's) and answers with a HelloVerifyRequest or a 1.2 ServerHello;
//! the client then starts a DTLS 1.2 handshake of its own, one round trip more on first contact,
//! with the RFC 8446 §4.1.3 downgrade sentinel checked (`ClientConfig::downgrade_check`): a
//! server that speaks 1.3 marks every 1.2 ServerHello, so an attacker who forges a 1.2 answer
//! to make a 1.3 server's client fall back gets a handshake that fails, never a 1.2 session.
//!
//! Why a second handshake rather than one ClientHello for both: the DTLS 1.2 engine would have
//! to take over a hello it did not build (the 1.3 key share and binders sit in its transcript);
//! a fallback costs a round trip once per server, a gateway's session then lives for days.

use crate::v13::hello::EXT_SUPPORTED_VERSIONS;
use crate::wire::codec::Reader;
use crate::wire::handshake::{HandshakeType, parse_fragments};
use crate::wire::hello::ServerHello;
use crate::wire::record::{ContentType, parse_record};

/// Whether `datagram` is a DTLS 1.2 server's answer to a ClientHello: its first record is a
/// plaintext handshake record holding a HelloVerifyRequest, or a ServerHello without
/// supported_versions (a DTLS 1.3 ServerHello or HelloRetryRequest always has it, RFC 8446
/// §4.2.1). Anything else (encrypted records, alerts, damaged bytes) is not.
pub(crate) fn answers_in_dtls12(datagram: &[u8]) -> bool {
    let mut r = Reader::new(datagram);
    let Ok(record) = parse_record(&mut r) else {
        return false;
    };
    if record.header.content_type != ContentType::Handshake || record.header.epoch != 0 {
        return false;
    }
    let Ok(fragments) = parse_fragments(record.fragment) else {
        return false;
    };
    let Some(first) = fragments.first() else {
        return false;
    };
    match first.msg_type {
        HandshakeType::HelloVerifyRequest => true,
        // a whole ServerHello (ours never fragment it; a fragment cannot be judged)
        HandshakeType::ServerHello
            if first.offset == 0 && first.body.len() == first.length as usize =>
        {
            ServerHello::parse(first.body)
                .is_ok_and(|sh| sh.extensions.get(EXT_SUPPORTED_VERSIONS).is_none())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StaticPsk;
    use crate::rng::SeededRng;
    use crate::secret::SecretVec;
    use crate::{CipherSuite, ClientConfig, Connection, Endpoint, ServerConfig};
    use std::sync::Arc;
    use std::time::Instant;

    /// Configurations with one static PSK and a seeded RNG (the `testing` feature's, which
    /// this crate's own tests cannot count on).
    mod testing {
        use super::*;

        fn psk() -> Arc<StaticPsk> {
            Arc::new(StaticPsk {
                identity: b"fallback-test".to_vec(),
                key: SecretVec::from(&[0x4b; 16][..]),
            })
        }

        pub fn client_config(suites: &[CipherSuite], seed: u64) -> ClientConfig {
            let mut c = ClientConfig::new(psk());
            c.common.suites = suites.to_vec();
            c.common.rng = Arc::new(SeededRng::new(seed));
            c
        }

        pub fn server_config(suites: &[CipherSuite], seed: u64) -> ServerConfig {
            let mut c = ServerConfig::new(psk());
            c.common.suites = suites.to_vec();
            c.common.rng = Arc::new(SeededRng::new(seed));
            c
        }
    }

    /// The first datagram a server answers our ClientHello with.
    fn answer(server: ServerConfig, hello: &[u8]) -> Vec<u8> {
        let mut ep = Endpoint::new(Arc::new(server)).expect("endpoint");
        let from = "192.0.2.7:5684".parse().expect("address");
        ep.handle_datagram(Instant::now(), from, hello);
        ep.poll_transmit().expect("an answer").payload
    }

    #[test]
    fn a_dtls12_hello_verify_request_is_a_12_answer_and_a_13_hello_retry_request_is_not() {
        let now = Instant::now();
        let client = testing::client_config(&[CipherSuite::PskAes128Ccm8], 3);
        let hello12 = Connection::client(Arc::new(client), now)
            .expect("client")
            .poll_transmit()
            .expect("hello");
        let cfg12 = testing::server_config(&[CipherSuite::PskAes128Ccm8], 4);
        let hvr = answer(cfg12, &hello12);
        assert!(answers_in_dtls12(&hvr), "a HelloVerifyRequest");

        let mut both = testing::client_config(
            &[
                CipherSuite::PskAes128Ccm8,
                CipherSuite::Tls13Aes128Ccm8Sha256,
            ],
            5,
        );
        both.connection_id = None;
        let mut link =
            crate::client_link::ClientLink::client(Arc::new(both), crate::Versions::Dtls13, now)
                .expect("1.3 client");
        let hello13 = link.poll_transmit().expect("1.3 hello");
        let cfg13 = testing::server_config(
            &[
                CipherSuite::PskAes128Ccm8,
                CipherSuite::Tls13Aes128Ccm8Sha256,
            ],
            6,
        );
        let hrr = answer(cfg13, &hello13);
        assert!(!answers_in_dtls12(&hrr), "a HelloRetryRequest is DTLS 1.3");
        let mut only12 = testing::server_config(&[CipherSuite::PskAes128Ccm8], 7);
        only12.versions = crate::Versions::Dtls12;
        assert!(
            answers_in_dtls12(&answer(only12, &hello13)),
            "a DTLS 1.2 server answers the 1.3 hello in 1.2"
        );
        assert!(!answers_in_dtls12(&hello12), "a ClientHello is no answer");
        assert!(!answers_in_dtls12(&[]));
        assert!(!answers_in_dtls12(&hvr[..20]), "cut short");
    }

    use crate::client_link::ClientLink;
    use crate::{CloseReason, Error, Event, IllegalParameter, Versions};

    /// Moves datagrams between `link` and the endpoint until the link is up or closed (or
    /// nothing moves); returns the link's events.
    fn run(link: &mut ClientLink, ep: &mut Endpoint, now: Instant) -> Vec<Event> {
        let from = "192.0.2.9:40000".parse().expect("address");
        let mut events = Vec::new();
        for _ in 0..32 {
            let mut moved = false;
            while let Some(d) = link.poll_transmit() {
                ep.handle_datagram(now, from, &d);
                moved = true;
            }
            while let Some(t) = ep.poll_transmit() {
                link.handle_datagram(now, &t.payload);
                moved = true;
            }
            while ep.poll_event().is_some() {}
            events.extend(std::iter::from_fn(|| link.poll_event()));
            if !moved {
                break;
            }
        }
        events
    }

    fn both() -> [CipherSuite; 2] {
        [
            CipherSuite::PskAes128Ccm8,
            CipherSuite::Tls13Aes128Ccm8Sha256,
        ]
    }

    fn auto_client(seed: u64, now: Instant) -> ClientLink {
        let cfg = testing::client_config(&both(), seed);
        ClientLink::client(Arc::new(cfg), Versions::Auto, now).expect("auto client")
    }

    fn endpoint(versions: Versions, seed: u64) -> Endpoint {
        let mut cfg = testing::server_config(&both(), seed);
        cfg.versions = versions;
        Endpoint::new(Arc::new(cfg)).expect("endpoint")
    }

    #[test]
    fn an_auto_client_gets_dtls13_from_a_server_that_speaks_it() {
        let now = Instant::now();
        let mut link = auto_client(11, now);
        let events = run(&mut link, &mut endpoint(Versions::Auto, 12), now);
        assert!(link.is_established(), "{events:?}");
        assert_eq!(link.version(), Versions::Dtls13);
        assert!(matches!(
            events.first(),
            Some(Event::Connected {
                suite: CipherSuite::Tls13Aes128Ccm8Sha256,
                ..
            })
        ));
    }

    #[test]
    fn an_auto_client_falls_back_to_dtls12_with_a_server_that_speaks_only_12() {
        let now = Instant::now();
        let mut link = auto_client(13, now);
        let events = run(&mut link, &mut endpoint(Versions::Dtls12, 14), now);
        assert!(link.is_established(), "{events:?}");
        assert_eq!(link.version(), Versions::Dtls12);
        assert!(matches!(
            events.first(),
            Some(Event::Connected {
                suite: CipherSuite::PskAes128Ccm8,
                ..
            })
        ));
        let s = link.stats();
        // the 1.3 hello and the server's 1.2 answer to it are counted: one round trip more
        // than the 1.2 handshake's three (cookie, keys, finished)
        assert_eq!(s.round_trips, 4, "{s:?}");
        assert!(s.handshake_datagrams_sent >= 4, "{s:?}");
    }

    /// An attacker answers the 1.3 hello with a forged 1.2 answer (here: a 1.2-only server's)
    /// so that the client falls back; the real server speaks 1.3 and marks its 1.2
    /// ServerHello, so the client refuses it instead of settling for 1.2.
    #[test]
    fn a_forced_fall_back_meets_the_downgrade_sentinel_and_fails() {
        let now = Instant::now();
        let mut link = auto_client(15, now);
        let hello13 = link.poll_transmit().expect("1.3 hello");
        let mut forger = endpoint(Versions::Dtls12, 16);
        let forged = answer_from(&mut forger, &hello13);
        link.handle_datagram(now, &forged);
        assert_eq!(link.version(), Versions::Dtls12, "fell back");
        let events = run(&mut link, &mut endpoint(Versions::Auto, 17), now);
        assert!(!link.is_established());
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Closed {
                    reason: CloseReason::Error(Error::IllegalParameter(
                        IllegalParameter::DowngradeSentinel
                    ))
                }
            )),
            "{events:?}"
        );
    }

    fn answer_from(ep: &mut Endpoint, hello: &[u8]) -> Vec<u8> {
        let from = "192.0.2.9:40000".parse().expect("address");
        ep.handle_datagram(Instant::now(), from, hello);
        ep.poll_transmit().expect("an answer").payload
    }
}
