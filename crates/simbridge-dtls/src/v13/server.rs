//! The DTLS 1.3 server handshake with external PSKs, one type per state: [`Server13`] (takes
//! ClientHellos, keeps nothing for one it answers with a HelloRetryRequest) →
//! [`ServerWaitFinished`] → [`Established13`].
//!
//! Choices, in order:
//! 1. Suite: the server's first that the client offers.
//! 2. Key exchange: `psk_dhe_ke` when both sides allow it (forward secrecy), in the server's
//!    first group the client sent a share in; if the client sent none the server could take,
//!    the server's first group the client supports, asked for by a HelloRetryRequest. Else
//!    `psk_ke`, when both allow it.
//! 3. Return routability: with `require_cookie`, or when a share is missing, the server answers
//!    the first ClientHello with a HelloRetryRequest and a stateless cookie (cookie.rs). No key
//!    is looked up (for GBA, no BSF request) before the cookie comes back.
//!
//! 0-RTT (v13/early.rs): with an [`EarlyGate`] ([`Server13::accept_early`]) a ClientHello
//! whose first PSK is a ticket of ours issued with early data, and that offers early_data, is
//! not asked for the cookie even under `require_cookie` (the ticket needs no key lookup, and
//! after a HelloRetryRequest its early data would be lost); the strike register decides.
//!
//! message_seq: the server answers each ClientHello with its message_seq (0, or 1 after a
//! HelloRetryRequest) and counts on from there, and its plaintext records take the
//! ClientHello's record sequence number (RFC 9147 §5.1, §5.2), so it needs no state between
//! the two ClientHellos.

use std::net::SocketAddr;

use super::ack::RecordNumber;
use super::cookie::{CookieContents, CookieKey13};
use super::early::{EarlyGate, EarlyOutcome, EarlyReceiver, EarlyRefusal, sent_ms};
use super::fragment;
use super::handshake::{
    CLIENT_HELLO, Cids, ENCRYPTED_EXTENSIONS, EXT_CONNECTION_ID, EXT_EARLY_DATA, Established13,
    FINISHED, HANDSHAKE, Handshake13Error, LAST, P, PSK_DHE_KE, PSK_KE, SERVER_HELLO, alg_of,
    dtls_message, message_hash, parse_dtls_message, parse_plaintext, plaintext_record, tls_message,
};
use super::hello::{ClientHello13, EXT_PSK_KEY_EXCHANGE_MODES, verify_binder};
use super::importer::{ImportedIdentity, imported_key};
use super::issuer::{TicketIssuer, TicketOrigin};
use super::key_schedule::{
    BinderKind, EarlySecret, HASH_LEN, MasterSecret, TrafficKeys, transcript_hash, verify_data,
};
use super::key_share::{
    EXT_KEY_SHARE, EXT_SUPPORTED_GROUPS, EphemeralShare, is_supported, parse_client_shares,
    parse_groups,
};
use super::protect::Protection13;
use super::server_hello::{EXT_COOKIE, HRR_RANDOM, ServerHello13, ServerKeyShare};
use super::strike::EarlyVerdict;
use crate::rng::DtlsRng;
use crate::secret::{Secret, SecretVec};
use crate::suite::AeadAlg;
use crate::wire::codec::Reader;
use crate::wire::{Field, WireError};
use subtle::ConstantTimeEq;

/// The server, ready for ClientHellos.
pub struct Server13 {
    /// Suites the server accepts, in its order of preference.
    pub suites: Vec<u16>,
    /// Groups for `psk_dhe_ke`, in its order of preference; empty: no `psk_dhe_ke`.
    pub groups: Vec<u16>,
    /// Whether `psk_ke` (no forward secrecy) is accepted.
    pub psk_ke: bool,
    /// Answer every first ClientHello with a HelloRetryRequest and a cookie (return
    /// routability before any key lookup or key share computation).
    pub require_cookie: bool,
    /// The cookie MAC key.
    pub cookie_key: CookieKey13,
    /// Tickets: issued after a handshake ([`Established13::new_session_ticket`]) and taken
    /// back, once each, to resume; `None`: no resumption.
    pub tickets: Option<TicketIssuer>,
    /// RFC 9258 importers: an identity that parses as an ImportedIdentity for DTLS 1.3 and
    /// HKDF-SHA256 with an empty context is looked up by its external_identity, the key is
    /// imported and its binder is an "imp binder" (v13/importer.rs); other identities are
    /// external PSKs as before.
    pub importers: bool,
    /// The longest handshake fragment the server's flight carries, for a client behind a
    /// small MTU (RFC 9147 §5.5: each fragment in a record of its own); `None`: whole
    /// messages (ours always fit a datagram). The flight's records still go in one datagram.
    pub fragment: Option<usize>,
}

impl Server13 {
    /// A server that takes `psk_ke` in `suites`, with no cookie exchange.
    pub fn psk_ke(suites: Vec<u16>, cookie_key: CookieKey13) -> Self {
        Self {
            suites,
            groups: Vec::new(),
            psk_ke: true,
            require_cookie: false,
            cookie_key,
            tickets: None,
            importers: false,
            fragment: None,
        }
    }
}

/// What a ClientHello's datagram came with.
pub struct HelloContext<'a> {
    /// The address it came from (cookies are bound to it).
    pub peer: SocketAddr,
    /// Seconds on the server's clock (cookie age).
    pub now_secs: u64,
    /// For the ServerHello random and the key share.
    pub rng: &'a dyn DtlsRng,
    /// The Connection ID this connection would receive records with, given to a client that
    /// offers connection_id; `None`: no CIDs.
    pub cid: Option<&'a [u8]>,
}

/// The answer to a ClientHello.
pub enum Accepted13 {
    /// A HelloRetryRequest to send; nothing kept.
    Retry(Vec<u8>),
    /// The server's flight to send, and the state waiting for the client's Finished.
    Flight(Box<ServerWaitFinished>, Vec<u8>),
}

/// The server after its flight, waiting for the client's Finished.
pub struct ServerWaitFinished {
    alg: AeadAlg,
    suite: u16,
    group: Option<u16>,
    client_hs: TrafficKeys,
    client_hs_secret: Secret<HASH_LEN>,
    transcript_to_server_finished: [u8; HASH_LEN],
    /// Application traffic secrets: (client, server).
    app: (Secret<HASH_LEN>, Secret<HASH_LEN>),
    /// message_seq of the client's Finished and of our next message.
    client_fin_seq: u16,
    server_next_seq: u16,
    cids: Cids,
    /// For the resumption_master_secret: the master secret and the transcript through the
    /// server's Finished.
    master: MasterSecret,
    transcript: Vec<u8>,
    /// What the ticket it resumed from carried; `None`: a full handshake.
    resumed_from: Option<TicketOrigin>,
    /// What became of the ClientHello's early data, and the reader of it when taken.
    early_outcome: EarlyOutcome,
    early: Option<EarlyReceiver>,
}

/// The key exchange chosen for a ClientHello.
enum Exchange {
    PskKe,
    /// psk_dhe_ke with the client's share in this group.
    Dhe(u16, Vec<u8>),
    /// psk_dhe_ke, but the client must first send a share in this group.
    NeedShare(u16),
}

impl Server13 {
    /// A ClientHello datagram. `key_for` returns the PSK of an identity (a GBA Ks_NAF),
    /// `None` if unknown; it is called only for a ClientHello the server goes on with, and
    /// never for an identity shaped like one of our tickets.
    pub fn accept(
        &self,
        datagram: &[u8],
        cx: &HelloContext<'_>,
        key_for: impl Fn(&[u8]) -> Option<SecretVec>,
    ) -> Result<Accepted13, Handshake13Error> {
        self.accept_with(datagram, cx, key_for, true)
    }

    /// [`Self::accept`]; `take_tickets` false looks past our tickets to the external PSKs
    /// (a caller that first learns which identity to look up, before it admits the client).
    pub fn accept_with(
        &self,
        datagram: &[u8],
        cx: &HelloContext<'_>,
        key_for: impl Fn(&[u8]) -> Option<SecretVec>,
        take_tickets: bool,
    ) -> Result<Accepted13, Handshake13Error> {
        self.accept_early(datagram, cx, key_for, take_tickets, None)
    }

    /// [`Self::accept_with`] taking 0-RTT through `gate` (v13/early.rs); `None`: early data
    /// is refused. [`ServerWaitFinished::early_outcome`] tells what became of it.
    pub fn accept_early(
        &self,
        datagram: &[u8],
        cx: &HelloContext<'_>,
        key_for: impl Fn(&[u8]) -> Option<SecretVec>,
        take_tickets: bool,
        gate: Option<&mut EarlyGate<'_>>,
    ) -> Result<Accepted13, Handshake13Error> {
        // records after the ClientHello's (a client's 0-RTT record in the same datagram) are
        // for the connection: `Connection13::server` takes them from the datagram
        let pt = parse_plaintext(datagram)?;
        if pt.msg_type != CLIENT_HELLO {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let body = pt.body;
        let ch = ClientHello13::parse(body)?;
        if !ch.offers_dtls13() {
            return Err(Handshake13Error::Incompatible(
                "client does not offer DTLS 1.3",
            ));
        }
        // the cookie as echoed (the rebuilt HelloRetryRequest carries these bytes) and what
        // it remembers
        let echoed = match ch.extension(EXT_COOKIE) {
            Some(d) => {
                let mut r = Reader::new(d);
                let c = r.vec16(Field::RetryCookie)?;
                r.finish(Field::RetryCookie)?;
                Some(c.to_vec())
            }
            None => None,
        };
        let cookie = match &echoed {
            Some(c) => Some(self.cookie_key.open(c, &cx.peer, cx.now_secs)?),
            None => None,
        };
        let suite = match &cookie {
            // the suite of the HelloRetryRequest stays (RFC 8446 §4.1.4)
            Some(c) => Some(c.suite).filter(|s| ch.cipher_suites.contains(s)),
            None => self
                .suites
                .iter()
                .copied()
                .find(|s| ch.cipher_suites.contains(s)),
        };
        let (suite, alg) = suite
            .and_then(|s| alg_of(s).map(|a| (s, a)))
            .ok_or(Handshake13Error::Incompatible("no common cipher suite"))?;
        let exchange = self.choose_exchange(&ch, cookie.as_ref())?;
        let (Some(cookie), Some(echoed)) = (cookie, echoed) else {
            if let Exchange::NeedShare(g) = exchange {
                return Ok(Accepted13::Retry(self.retry(&pt, suite, Some(g), cx)));
            }
            let early_ticket = gate.is_some() && take_tickets && self.early_ticket(&ch, cx);
            if self.require_cookie && !early_ticket {
                // no key_share in it: the client already sent one we can take (RFC 8446
                // §4.2.8 forbids asking for a group it has a share in)
                return Ok(Accepted13::Retry(self.retry(&pt, suite, None, cx)));
            }
            return self.flight(
                &pt,
                &ch,
                Vec::new(),
                (suite, alg),
                exchange,
                cx,
                (key_for, take_tickets),
                gate,
            );
        };
        // the second ClientHello: the transcript starts with the first one's hash and our
        // HelloRetryRequest, rebuilt from the cookie
        let mut prefix = message_hash(&cookie.hello_hash);
        let hrr = retry_request(suite, cookie.group, echoed);
        prefix.extend_from_slice(&tls_message(SERVER_HELLO, &hrr.encode()));
        // (choose_exchange took a share only in the group the cookie names)
        if let Exchange::NeedShare(_) = exchange {
            return Err(Handshake13Error::Incompatible(
                "second ClientHello without a share in the group asked for",
            ));
        }
        self.flight(
            &pt,
            &ch,
            prefix,
            (suite, alg),
            exchange,
            cx,
            (key_for, take_tickets),
            gate,
        )
    }

    /// Whether `ch` offers early data on a ticket of ours, offered first, that allows it: such
    /// a ClientHello skips the cookie (the ticket is its own proof, and needs no key lookup).
    pub fn early_ticket(&self, ch: &ClientHello13, cx: &HelloContext<'_>) -> bool {
        // the suite this handshake takes (the ticket must be of it to resume)
        let suite = self.suites.iter().find(|s| ch.cipher_suites.contains(s));
        ch.extension(EXT_EARLY_DATA).is_some()
            && ch.psks.first().is_some_and(|(id, _)| {
                self.tickets
                    .as_ref()
                    .and_then(|t| t.open(&id.identity, cx.now_secs).ok())
                    .is_some_and(|r| r.max_early_data.is_some() && Some(&r.suite) == suite)
            })
    }

    /// The external identity of `identity` when importers are on and it is an
    /// ImportedIdentity we import: DTLS 1.3, HKDF-SHA256, empty context (the GBA choice,
    /// docs/dtls13.md).
    pub fn imported(&self, identity: &[u8]) -> Option<Vec<u8>> {
        if !self.importers {
            return None;
        }
        ImportedIdentity::parse(identity)
            .ok()
            .filter(|i| i.is_dtls13_sha256() && i.context.is_empty())
            .map(|i| i.external_identity)
    }

    fn choose_exchange(
        &self,
        ch: &ClientHello13,
        cookie: Option<&CookieContents>,
    ) -> Result<Exchange, Handshake13Error> {
        let modes = ch
            .extension(EXT_PSK_KEY_EXCHANGE_MODES)
            .and_then(|d| d.split_first())
            .filter(|(n, m)| usize::from(**n) == m.len() && !m.is_empty())
            .map(|(_, m)| m)
            .ok_or(WireError::Invalid(Field::PskKeyExchangeModes))?;
        let client_groups = match ch.extension(EXT_SUPPORTED_GROUPS) {
            Some(d) => parse_groups(d)?,
            None => Vec::new(),
        };
        let shares = match ch.extension(EXT_KEY_SHARE) {
            Some(d) => parse_client_shares(d)?,
            None => Vec::new(),
        };
        if modes.contains(&PSK_DHE_KE) {
            let wanted = cookie.and_then(|c| c.group);
            let ours = |g: &u16| is_supported(*g) && wanted.is_none_or(|w| w == *g);
            for g in self.groups.iter().filter(|g| ours(g)) {
                if let Some((_, key)) = shares.iter().find(|(s, _)| s == g) {
                    return Ok(Exchange::Dhe(*g, key.clone()));
                }
            }
            if let Some(g) = self
                .groups
                .iter()
                .find(|g| ours(g) && client_groups.contains(g))
            {
                return Ok(Exchange::NeedShare(*g));
            }
        }
        if modes.contains(&PSK_KE) && self.psk_ke {
            return Ok(Exchange::PskKe);
        }
        Err(Handshake13Error::Incompatible(
            "no common key exchange mode or group",
        ))
    }

    /// The HelloRetryRequest datagram for a first ClientHello.
    fn retry(
        &self,
        pt: &super::handshake::Plaintext<'_>,
        suite: u16,
        group: Option<u16>,
        cx: &HelloContext<'_>,
    ) -> Vec<u8> {
        let contents = CookieContents {
            hello_hash: transcript_hash(&tls_message(CLIENT_HELLO, pt.body)),
            suite,
            group,
            issued: cx.now_secs as u32,
        };
        let cookie = self.cookie_key.mint(&contents, &cx.peer);
        let hrr = retry_request(suite, group, cookie).encode();
        let mut out = Vec::with_capacity(hrr.len() + 25);
        plaintext_record(
            pt.record_seq,
            &dtls_message(SERVER_HELLO, pt.message_seq, &hrr),
            &mut out,
        );
        out
    }

    /// The ServerHello, EncryptedExtensions and Finished for a ClientHello the server goes
    /// on with.
    #[allow(clippy::too_many_arguments)]
    fn flight(
        &self,
        pt: &super::handshake::Plaintext<'_>,
        ch: &ClientHello13,
        prefix: Vec<u8>,
        (suite, alg): (u16, AeadAlg),
        exchange: Exchange,
        cx: &HelloContext<'_>,
        (key_for, take_tickets): (impl Fn(&[u8]) -> Option<SecretVec>, bool),
        gate: Option<&mut EarlyGate<'_>>,
    ) -> Result<Accepted13, Handshake13Error> {
        if ch.psks.is_empty() {
            return Err(Handshake13Error::Incompatible("no PSK offered"));
        }
        // the first identity we know, in the client's order: one of our tickets (looked at
        // before anything else, so no key lookup for it), or an external PSK (a client offers
        // a ticket of another server first, then its external PSK)
        let (index, key, kind, ticket) = ch
            .psks
            .iter()
            .enumerate()
            .find_map(|(i, (id, _))| {
                if let Some(r) = self
                    .tickets
                    .as_ref()
                    .filter(|_| take_tickets)
                    .and_then(|t| t.open(&id.identity, cx.now_secs).ok())
                {
                    return Some((i, r.psk.clone(), BinderKind::Resumption, Some(r)));
                }
                if TicketIssuer::looks_like_ticket(&id.identity) {
                    // a ticket of ours used, expired, of an old key, or not taken now: not
                    // an identity to look a key up for
                    return None;
                }
                if let Some(external) = self.imported(&id.identity) {
                    // the key is imported for the identity as sent (RFC 9258 §5.1)
                    return key_for(&external).map(|k| {
                        let ipskx = imported_key(k.expose(), &id.identity);
                        let k = SecretVec::new(ipskx.expose().to_vec());
                        (i, k, BinderKind::Imported, None)
                    });
                }
                key_for(&id.identity).map(|k| (i, k, BinderKind::External, None))
            })
            .ok_or(Handshake13Error::UnknownIdentity)?;
        let early_secret = EarlySecret::new(P, Some(key.expose()));
        if !verify_binder(&prefix, pt.body, ch, index, &early_secret, kind) {
            return Err(Handshake13Error::BadMac(super::handshake::PSK_BINDER));
        }
        if let (Some(r), Some(issuer)) = (&ticket, &self.tickets) {
            // single use (RFC 8446 §8.1): a replay of this ClientHello does not resume again
            if r.suite != suite || !issuer.redeem(r, cx.now_secs) {
                return Err(Handshake13Error::Incompatible(
                    "ticket used or of another suite",
                ));
            }
        }
        let early_outcome = early_outcome(ch, index, !prefix.is_empty(), ticket.as_ref(), gate);
        let early = match early_outcome {
            EarlyOutcome::Accepted(max) => {
                // over the ClientHello alone: no HelloRetryRequest came before an accepted offer
                let hash = transcript_hash(&tls_message(CLIENT_HELLO, pt.body));
                Some(EarlyReceiver::new(
                    alg,
                    &early_secret.client_early_traffic(&hash),
                    max,
                ))
            }
            _ => None,
        };
        let selected =
            u16::try_from(index).map_err(|_| WireError::Invalid(Field::PskIdentities))?;
        let (dhe, key_share, group) = match exchange {
            Exchange::Dhe(g, client_key) => {
                let share = EphemeralShare::generate(g, cx.rng)?;
                let dhe = share.agree(&client_key)?;
                (
                    Some(dhe),
                    Some(ServerKeyShare::Share(g, share.public())),
                    Some(g),
                )
            }
            _ => (None, None, None),
        };
        // connection_id: the client's CID in our records, ours in its (RFC 9146 §3)
        let client_cid = match ch.extension(EXT_CONNECTION_ID) {
            Some(d) => {
                let mut r = Reader::new(d);
                let c = r.vec8(Field::ConnectionId)?.to_vec();
                r.finish(Field::ConnectionId)?;
                Some(c)
            }
            None => None,
        };
        let cids = match (client_cid, cx.cid) {
            (Some(theirs), Some(ours)) => Cids {
                send: theirs,
                recv: ours.to_vec(),
            },
            _ => Cids::default(),
        };
        let our_cid = cx.cid.filter(|_| ch.extension(EXT_CONNECTION_ID).is_some());
        let mut random = [0u8; 32];
        cx.rng.fill(&mut random)?;
        let sh = ServerHello13 {
            random,
            // RFC 9147 §5.3: a DTLS 1.3 server never echoes legacy_session_id
            session_id: Vec::new(),
            suite,
            selected_psk: Some(selected),
            key_share,
            cookie: None,
            cid: our_cid.map(<[u8]>::to_vec),
        }
        .encode();
        let mut transcript = prefix;
        transcript.extend_from_slice(&tls_message(CLIENT_HELLO, pt.body));
        transcript.extend_from_slice(&tls_message(SERVER_HELLO, &sh));
        let hs = early_secret.into_handshake(dhe.as_ref().map(|d| d.expose().as_slice()));
        let hello_hash = transcript_hash(&transcript);
        let (c_hs, s_hs) = (
            hs.client_traffic(&hello_hash),
            hs.server_traffic(&hello_hash),
        );
        let send_hs = Protection13::new(alg, &TrafficKeys::from_secret(P, &s_hs), 2);
        // EncryptedExtensions: an empty early_data when the early data is taken
        let ee: &[u8] = if early.is_some() {
            &[0, 4, 0, EXT_EARLY_DATA as u8, 0, 0]
        } else {
            &[0, 0]
        };
        transcript.extend_from_slice(&tls_message(ENCRYPTED_EXTENSIONS, ee));
        let server_verify = verify_data(P, &s_hs, &transcript_hash(&transcript));
        transcript.extend_from_slice(&tls_message(FINISHED, &server_verify));
        let server_finished_hash = transcript_hash(&transcript);

        let seq = pt.message_seq;
        let mut out = Vec::new();
        if let Some(max) = self.fragment {
            for (n, piece) in (pt.record_seq..).zip(fragment::split(SERVER_HELLO, seq, &sh, max)) {
                plaintext_record(n, &piece, &mut out);
            }
            let mut pieces = fragment::split(ENCRYPTED_EXTENSIONS, seq + 1, ee, max);
            pieces.extend(fragment::split(FINISHED, seq + 2, &server_verify, max));
            let last = pieces.len().saturating_sub(1);
            for (n, piece) in pieces.iter().enumerate() {
                let form = if n == last {
                    LAST
                } else {
                    fragment::WITH_LENGTH
                };
                send_hs.seal(n as u64, HANDSHAKE, piece, cids.send_cid(), form, &mut out)?;
            }
        } else {
            plaintext_record(
                pt.record_seq,
                &dtls_message(SERVER_HELLO, seq, &sh),
                &mut out,
            );
            // EncryptedExtensions and Finished share one record: 13 B less than a record each
            // (RFC 9147 §5.5 lets handshake messages share records)
            let mut protected = dtls_message(ENCRYPTED_EXTENSIONS, seq + 1, ee);
            protected.extend_from_slice(&dtls_message(FINISHED, seq + 2, &server_verify));
            send_hs.seal(0, HANDSHAKE, &protected, cids.send_cid(), LAST, &mut out)?;
        }
        let master = hs.into_master();
        let app = (
            master.client_traffic(&server_finished_hash),
            master.server_traffic(&server_finished_hash),
        );
        let resumed_from = ticket.map(|t| t.origin);
        Ok(Accepted13::Flight(
            Box::new(ServerWaitFinished {
                alg,
                suite,
                group,
                client_hs: TrafficKeys::from_secret(P, &c_hs),
                client_hs_secret: c_hs,
                transcript_to_server_finished: server_finished_hash,
                app,
                client_fin_seq: seq + 1,
                server_next_seq: seq + 3,
                cids,
                master,
                transcript,
                resumed_from,
                early_outcome,
                early,
            }),
            out,
        ))
    }
}

/// What becomes of the early data of `ch` whose PSK `index` was selected (`ticket`: ours,
/// redeemed; `None`: an external PSK), after a HelloRetryRequest or not. Only an offer the
/// rest allows is put to the register (which records it when it accepts).
fn early_outcome(
    ch: &ClientHello13,
    index: usize,
    after_retry: bool,
    ticket: Option<&super::issuer::Resumable>,
    gate: Option<&mut EarlyGate<'_>>,
) -> EarlyOutcome {
    if ch.extension(EXT_EARLY_DATA).is_none() {
        return EarlyOutcome::NotOffered;
    }
    let Some(gate) = gate else {
        return EarlyOutcome::Refused(EarlyRefusal::Off);
    };
    if after_retry {
        return EarlyOutcome::Refused(EarlyRefusal::AfterRetry);
    }
    let Some((id, binder)) = ch.psks.first().filter(|_| index == 0) else {
        return EarlyOutcome::Refused(EarlyRefusal::NotAllowed);
    };
    let (sent, max) = match ticket {
        Some(r) => match r.max_early_data {
            Some(max) => (
                Some(sent_ms(r.issued, id.obfuscated_ticket_age, r.age_add)),
                max,
            ),
            None => return EarlyOutcome::Refused(EarlyRefusal::NotAllowed),
        },
        // an external PSK: no age; the register says so (or that it is starting)
        None => (None, 0),
    };
    match gate.register.check(binder, sent, gate.now_ms) {
        EarlyVerdict::Accept => EarlyOutcome::Accepted(max),
        v => EarlyOutcome::Refused(EarlyRefusal::Register(v)),
    }
}

/// A HelloRetryRequest naming `suite`, asking for a share in `group` if any, with `cookie`.
fn retry_request(suite: u16, group: Option<u16>, cookie: Vec<u8>) -> ServerHello13 {
    ServerHello13 {
        random: HRR_RANDOM,
        session_id: Vec::new(),
        suite,
        selected_psk: None,
        key_share: group.map(ServerKeyShare::Group),
        cookie: Some(cookie),
        cid: None,
    }
}

/// Proof that a datagram held the client's valid Finished: only
/// [`ServerWaitFinished::verify`] makes one, and only [`ServerWaitFinished::finish`] takes it,
/// so a session is established only through the check.
pub struct ClientFinishedVerified {
    record_seq: u64,
    /// The client's Finished as the transcript takes it.
    message: Vec<u8>,
}

impl ServerWaitFinished {
    /// The identity and key expiry of the session this one resumes (from its ticket);
    /// `None`: a full handshake.
    pub fn resumed_from(&self) -> Option<&TicketOrigin> {
        self.resumed_from.as_ref()
    }

    /// What became of the ClientHello's early data.
    pub fn early_outcome(&self) -> EarlyOutcome {
        self.early_outcome
    }

    /// The early data in a datagram of epoch-1 records, when it was taken (nothing when it
    /// was refused: the records are dropped unread). More than was allowed in all is
    /// [`Handshake13Error::UnexpectedMessage`].
    pub fn open_early(&mut self, datagram: &[u8]) -> Result<Vec<Vec<u8>>, Handshake13Error> {
        match &mut self.early {
            Some(r) => r.open(datagram),
            None => Ok(Vec::new()),
        }
    }

    /// Bytes of early data taken so far.
    pub fn early_received(&self) -> u32 {
        self.early.as_ref().map_or(0, EarlyReceiver::received)
    }

    /// Checks the client's Finished datagram without giving up the state, so that a damaged
    /// or forged datagram leaves the handshake waiting (RFC 9147 §4.5.2).
    pub fn verify(&self, datagram: &[u8]) -> Result<ClientFinishedVerified, Handshake13Error> {
        let recv_hs = Protection13::new(self.alg, &self.client_hs, 2);
        let (fin, rest) = recv_hs.open(datagram, self.cids.recv_len(), 0)?;
        if !rest.is_empty() || fin.content_type != HANDSHAKE {
            return Err(WireError::Invalid(Field::RecordType).into());
        }
        let (t, verify) = parse_dtls_message(&fin.content, self.client_fin_seq)?;
        if t != FINISHED {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let expected = verify_data(
            P,
            &self.client_hs_secret,
            &self.transcript_to_server_finished,
        );
        if !bool::from(expected.ct_eq(verify)) {
            return Err(Handshake13Error::BadMac("client Finished"));
        }
        Ok(ClientFinishedVerified {
            record_seq: fin.seq,
            message: tls_message(FINISHED, verify),
        })
    }

    /// The established session and the ACK of the client's Finished (RFC 9147 §5.8.3, §7:
    /// the client's last flight has no other answer, so the server ACKs it, in its newest
    /// epoch).
    pub fn finish(
        self,
        proof: ClientFinishedVerified,
    ) -> Result<(Established13, Vec<u8>), Handshake13Error> {
        let (c_ap, s_ap) = self.app;
        let mut up = Established13::new(
            (false, self.cids),
            self.alg,
            (self.suite, self.group),
            (s_ap, c_ap),
            self.server_next_seq,
            self.client_fin_seq + 1,
        );
        let mut transcript = self.transcript;
        transcript.extend_from_slice(&proof.message);
        up.resumption = Some(self.master.resumption(&transcript_hash(&transcript)));
        up.resumed = self.resumed_from.is_some();
        let ack = up.ack(&[RecordNumber {
            epoch: 2,
            seq: proof.record_seq,
        }])?;
        Ok((up, ack))
    }

    /// [`Self::verify`] then [`Self::finish`], for a caller that gives up on a bad datagram.
    pub fn verify_and_finish(
        self,
        datagram: &[u8],
    ) -> Result<(Established13, Vec<u8>), Handshake13Error> {
        let proof = self.verify(datagram)?;
        self.finish(proof)
    }
}
