//! Tests only: a bare DTLS 1.3 client that sends 0-RTT, built from the v13 building blocks
//! (our `Client13` sends no early data yet): a `psk_ke` ClientHello with early_data on one PSK
//! (a ticket or an external key), epoch-1 records under client_early_traffic_secret, and the
//! client's Finished for the server's flight.

use crate::v13::handshake::{
    APPLICATION_DATA, CLIENT_HELLO, ENCRYPTED_EXTENSIONS, EXT_EARLY_DATA, FINISHED, HANDSHAKE,
    LAST, P, SERVER_HELLO, alg_of, dtls_message, message_hash, parse_dtls_message_any,
    parse_plaintext, plaintext_record, tls_message,
};
use crate::v13::hello::{
    ClientHello13, EXT_PSK_KEY_EXCHANGE_MODES, EXT_SUPPORTED_VERSIONS, PskIdentity,
};
use crate::v13::key_schedule::{
    BinderKind, EarlySecret, TrafficKeys, transcript_hash, verify_data,
};
use crate::v13::key_share::EXT_SUPPORTED_GROUPS;
use crate::v13::protect::Protection13;
use crate::v13::server_hello::EXT_COOKIE;
use crate::v13::ticket::Ticket13;

/// After a HelloRetryRequest: the transcript before the second ClientHello, and the cookie.
type Retried = (Vec<u8>, Vec<u8>);

/// The suite the test client offers (CCM_8).
pub(crate) const SUITE: u16 = 0x1305;

/// One ClientHello with early data, and what the client needs to finish.
pub(crate) struct EarlyClient {
    psk: Vec<u8>,
    kind: BinderKind,
    /// The ClientHello body as sent (the transcript starts with it).
    pub(crate) hello_body: Vec<u8>,
    /// The ClientHello datagram.
    pub(crate) hello: Vec<u8>,
    prefix: Vec<u8>,
    early: Protection13,
    next_early: u64,
}

impl EarlyClient {
    /// Resuming with `ticket`, `age_ms` after it came; `early_data`: offer 0-RTT.
    pub(crate) fn ticket(ticket: &Ticket13, age_ms: u32, early_data: bool, seed: u8) -> Self {
        let id = PskIdentity {
            identity: ticket.ticket.clone(),
            obfuscated_ticket_age: age_ms.wrapping_add(ticket.age_add),
        };
        Self::new(
            id,
            ticket.psk.expose().to_vec(),
            BinderKind::Resumption,
            early_data,
            (seed, None),
        )
    }

    /// [`Self::ticket`] in `psk_dhe_ke` only, supporting X25519 but sending no key share (the
    /// server must ask for one with a HelloRetryRequest).
    pub(crate) fn ticket_without_share(ticket: &Ticket13, age_ms: u32, seed: u8) -> Self {
        let id = PskIdentity {
            identity: ticket.ticket.clone(),
            obfuscated_ticket_age: age_ms.wrapping_add(ticket.age_add),
        };
        let mut c = Self::new(
            id,
            ticket.psk.expose().to_vec(),
            BinderKind::Resumption,
            true,
            (seed, None),
        );
        let mut ch = ClientHello13::parse(&c.hello_body).expect("ours");
        for (t, d) in &mut ch.extensions {
            if *t == EXT_PSK_KEY_EXCHANGE_MODES {
                *d = vec![1, 1];
            }
        }
        ch.extensions
            .push((EXT_SUPPORTED_GROUPS, vec![0, 2, 0, 0x1d]));
        let early = EarlySecret::new(P, Some(&c.psk));
        ch.bind(&[], &[(&early, c.kind)]);
        c.hello_body = ch.encode();
        c.hello.clear();
        plaintext_record(
            0,
            &dtls_message(CLIENT_HELLO, 0, &c.hello_body),
            &mut c.hello,
        );
        c
    }

    /// With an external PSK.
    pub(crate) fn external(identity: &[u8], key: &[u8], early_data: bool, seed: u8) -> Self {
        let id = PskIdentity {
            identity: identity.to_vec(),
            obfuscated_ticket_age: 0,
        };
        Self::new(
            id,
            key.to_vec(),
            BinderKind::External,
            early_data,
            (seed, None),
        )
    }

    /// The second ClientHello of `self` after the HelloRetryRequest datagram `retry`
    /// (echoing its cookie), early_data offered again (RFC 8446 forbids it; the server must
    /// refuse the early data).
    pub(crate) fn after_retry(&self, retry: &[u8]) -> Self {
        self.retried(retry, true)
    }

    /// [`Self::after_retry`], offering early_data or not.
    pub(crate) fn retried(&self, retry: &[u8], early_data: bool) -> Self {
        let pt = parse_plaintext(retry).expect("HelloRetryRequest");
        let hrr = crate::v13::server_hello::ServerHello13::parse(pt.body).expect("parses");
        let cookie = hrr.cookie.expect("a cookie");
        let ch = ClientHello13::parse(&self.hello_body).expect("ours");
        let mut prefix = message_hash(&transcript_hash(&tls_message(
            CLIENT_HELLO,
            &self.hello_body,
        )));
        prefix.extend_from_slice(&tls_message(SERVER_HELLO, pt.body));
        let mut c = Self::new(
            ch.psks[0].0.clone(),
            self.psk.clone(),
            self.kind,
            early_data,
            (ch.random[0], Some((prefix, cookie))),
        );
        c.next_early = 0;
        c
    }

    fn new(
        id: PskIdentity,
        psk: Vec<u8>,
        kind: BinderKind,
        early_data: bool,
        (seed, retry): (u8, Option<Retried>),
    ) -> Self {
        let mut extensions = vec![
            (EXT_SUPPORTED_VERSIONS, vec![2, 0xfe, 0xfc]),
            (EXT_PSK_KEY_EXCHANGE_MODES, vec![1, 0]),
        ];
        if early_data {
            extensions.push((EXT_EARLY_DATA, Vec::new()));
        }
        let prefix = match retry {
            Some((prefix, cookie)) => {
                let mut c = (cookie.len() as u16).to_be_bytes().to_vec();
                c.extend_from_slice(&cookie);
                extensions.push((EXT_COOKIE, c));
                prefix
            }
            None => Vec::new(),
        };
        let mut ch = ClientHello13 {
            random: [seed; 32],
            session_id: Vec::new(),
            cipher_suites: vec![SUITE],
            extensions,
            psks: vec![(id, vec![0; 32])],
        };
        let early = EarlySecret::new(P, Some(&psk));
        ch.bind(&prefix, &[(&early, kind)]);
        let hello_body = ch.encode();
        let mut hello = Vec::new();
        let msg_seq = u16::from(!prefix.is_empty());
        plaintext_record(
            u64::from(msg_seq),
            &dtls_message(CLIENT_HELLO, msg_seq, &hello_body),
            &mut hello,
        );
        let mut transcript = prefix.clone();
        transcript.extend_from_slice(&tls_message(CLIENT_HELLO, &hello_body));
        let secret = early.client_early_traffic(&transcript_hash(&transcript));
        let alg = alg_of(SUITE).expect("CCM_8");
        Self {
            psk,
            kind,
            hello_body,
            hello,
            prefix,
            early: Protection13::new(alg, &TrafficKeys::from_secret(P, &secret), 1),
            next_early: 0,
        }
    }

    /// One epoch-1 datagram of early data.
    pub(crate) fn early_record(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.early
            .seal(
                self.next_early,
                APPLICATION_DATA,
                data,
                None,
                LAST,
                &mut out,
            )
            .expect("seals");
        self.next_early += 1;
        out
    }

    /// The client's Finished datagram for the server's flight, and whether the server's
    /// EncryptedExtensions took the early data.
    pub(crate) fn finish(&self, flight: &[u8]) -> (Vec<u8>, bool) {
        let pt = parse_plaintext(flight).expect("ServerHello");
        assert_eq!(pt.msg_type, SERVER_HELLO);
        let mut transcript = self.prefix.clone();
        transcript.extend_from_slice(&tls_message(CLIENT_HELLO, &self.hello_body));
        transcript.extend_from_slice(&tls_message(SERVER_HELLO, pt.body));
        let hs = EarlySecret::new(P, Some(&self.psk)).into_handshake(None);
        let hello_hash = transcript_hash(&transcript);
        let (c_hs, s_hs) = (
            hs.client_traffic(&hello_hash),
            hs.server_traffic(&hello_hash),
        );
        let alg = alg_of(SUITE).expect("CCM_8");
        let recv = Protection13::new(alg, &TrafficKeys::from_secret(P, &s_hs), 2);
        let (rec, _) = recv.open(pt.rest, 0, 0).expect("the server's flight opens");
        let (t, seq, ee, after) = parse_dtls_message_any(&rec.content).expect("EE");
        assert_eq!(t, ENCRYPTED_EXTENSIONS);
        let (t, _, fin, _) = parse_dtls_message_any(after).expect("Finished");
        assert_eq!(t, FINISHED);
        let early_taken = ee == [0, 4, 0, EXT_EARLY_DATA as u8, 0, 0];
        transcript.extend_from_slice(&tls_message(ENCRYPTED_EXTENSIONS, ee));
        transcript.extend_from_slice(&tls_message(FINISHED, fin));
        let ours = verify_data(P, &c_hs, &transcript_hash(&transcript));
        let send = Protection13::new(alg, &TrafficKeys::from_secret(P, &c_hs), 2);
        let mut out = Vec::new();
        send.seal(
            0,
            HANDSHAKE,
            &dtls_message(FINISHED, seq, &ours),
            None,
            LAST,
            &mut out,
        )
        .expect("seals");
        (out, early_taken)
    }
}
