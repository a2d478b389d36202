//! The DTLS 1.3 client handshake with an external PSK, one type per state:
//! [`Client13`] → [`ClientWaitServer`] (ServerHello or one HelloRetryRequest) →
//! [`ClientWaitFinished`] (EncryptedExtensions and Finished, from one datagram or several) →
//! [`Established13`].
//!
//! A HelloRetryRequest is answered once (RFC 8446 §4.1.4): the second ClientHello echoes the
//! cookie, carries a key share in the group asked for, and its binder covers the transcript
//! that starts with `message_hash` of the first ClientHello.
//!
//! 0-RTT (RFC 8446 §4.2.10, RFC 9147 §5.6): resuming with a ticket that allows early data,
//! [`Client13::start_with_early_data`] adds early_data to the ClientHello and seals the data
//! in one epoch-1 record under client_early_traffic_secret (the ticket's early secret over the
//! hash of the ClientHello), right after the ClientHello. DTLS 1.3 has no EndOfEarlyData. The
//! server took the data when its EncryptedExtensions has early_data; after a
//! HelloRetryRequest the second ClientHello offers none (the data is lost to that server).

use super::fragment;
use super::handshake::{
    APPLICATION_DATA, CLIENT_HELLO, Cids, ENCRYPTED_EXTENSIONS, EXT_CONNECTION_ID, EXT_EARLY_DATA,
    Established13, FINISHED, HANDSHAKE, Handshake13Error, LAST, P, PSK_DHE_KE, PSK_KE,
    SERVER_HELLO, alg_of, dtls_message, message_hash, parse_plaintext, parse_plaintext_record,
    plaintext_record, tls_message,
};
use super::header::is_unified;
use super::hello::{
    ClientHello13, DTLS13, EXT_PSK_KEY_EXCHANGE_MODES, EXT_SUPPORTED_VERSIONS, PskIdentity,
};
use super::importer::ImportedIdentity;
use super::key_schedule::{
    BinderKind, EarlySecret, HandshakeSecret, TrafficKeys, transcript_hash, verify_data,
};
use super::key_share::{
    EXT_KEY_SHARE, EXT_SUPPORTED_GROUPS, EphemeralShare, encode_client_shares, encode_groups,
    is_supported,
};
use super::protect::Protection13;
use super::server_hello::{EXT_COOKIE, ServerHello13, ServerKeyShare};
use super::ticket::Resume13;
use crate::reassembly::Reassembler;
use crate::rng::DtlsRng;
use crate::secret::{Secret, SecretVec};
use crate::suite::AeadAlg;
use crate::wire::codec::{Reader, put_vec8, put_vec16};
use crate::wire::{Field, WireError};
use subtle::ConstantTimeEq;

/// The client's configuration: one external PSK, the suites and the key exchange to offer.
pub struct ClientConfig13 {
    /// The PSK identity (for GBA, as in DTLS 1.2: `3GPP-bootstrapping.<B-TID>` or a B-TID).
    pub identity: Vec<u8>,
    /// The key (Ks_NAF under the TLS 1.3 Ua identifier).
    pub key: SecretVec,
    /// Suites to offer (TLS 1.3 code points, from [`super::handshake::SUITES`]; at least one of
    /// them, other codes are offered as they are and never taken).
    pub suites: Vec<u16>,
    /// Groups for `psk_dhe_ke`, in order of preference; the first gets a key share in the
    /// first ClientHello. Empty: `psk_ke` only.
    pub groups: Vec<u16>,
    /// Offer `psk_ke` too (with groups: the server chooses; without: the only mode).
    pub psk_ke: bool,
    /// Offer connection_id with this CID for the records we receive (empty: the server's
    /// records carry none, ours carry the server's). `None`: no CID.
    pub cid: Option<Vec<u8>>,
    /// A ticket from an earlier session, offered first; the external PSK comes second, so a
    /// server that does not take the ticket can still use the key.
    pub resume: Option<Resume13>,
}

impl ClientConfig13 {
    /// `psk_ke` only: the fewest bytes, no forward secrecy.
    pub fn psk_ke(identity: Vec<u8>, key: SecretVec, suites: Vec<u16>) -> Self {
        Self {
            identity,
            key,
            suites,
            groups: Vec::new(),
            psk_ke: true,
            cid: None,
            resume: None,
        }
    }
}

/// The client before its ClientHello.
pub struct Client13;

/// The client waiting for a ServerHello or a HelloRetryRequest.
pub struct ClientWaitServer {
    /// One early secret per offered PSK, in the order offered, with its binder kind.
    earlies: Vec<(EarlySecret, BinderKind)>,
    hello: ClientHello13,
    /// The transcript so far: ClientHello1, or message_hash, HelloRetryRequest, ClientHello2.
    transcript: Vec<u8>,
    shares: Vec<EphemeralShare>,
    groups: Vec<u16>,
    psk_ke: bool,
    /// After a HelloRetryRequest: the suite it named (the ServerHello must keep it).
    retried: Option<u16>,
    /// The CID we offered.
    cid: Option<Vec<u8>>,
    /// message_seq of our last ClientHello, and its record sequence number.
    hello_seq: u16,
    /// Our last ClientHello datagram, to send again when its answer is late or lost.
    last_hello: Vec<u8>,
    /// The first PSK offered is a ticket.
    resuming: bool,
    /// The 0-RTT offer of the first ClientHello, if it made one.
    early: Option<EarlyOffer>,
    /// Fragments of the server's answer (ServerHello or HelloRetryRequest) to our last hello.
    answer: Reassembler<u8>,
}

/// What the plaintext records at the start of a datagram hold of the server's answer
/// ([`ClientWaitServer::defragment`]).
pub enum AnswerPieces {
    /// Not fragments: the datagram goes to [`ClientWaitServer::handle`] as it is.
    Whole,
    /// Fragments kept; the answer is not complete yet.
    Partial,
    /// The fragments completed the answer: this datagram holds it as one record, followed
    /// by the records that came after the completing one, for [`ClientWaitServer::handle`].
    Completed(Vec<u8>),
}

/// What the first ClientHello's 0-RTT offer binds the server to.
#[derive(Debug, Clone, Copy)]
struct EarlyOffer {
    /// The ticket's suite: a server that takes the data must choose it (RFC 8446 §4.2.10).
    suite: u16,
    /// A HelloRetryRequest came: the second ClientHello offers no early data.
    withdrawn: bool,
}

/// The datagrams of the client's first flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloFlight {
    /// The ClientHello, with the 0-RTT record after it when both fit the MTU.
    pub hello: Vec<u8>,
    /// The 0-RTT record in a datagram of its own, when it did not fit beside the ClientHello.
    pub early: Option<Vec<u8>>,
}

/// The client after the ServerHello, collecting EncryptedExtensions and Finished (epoch 2), in
/// whatever datagrams and order they come.
pub struct ClientWaitFinished {
    alg: AeadAlg,
    suite: u16,
    group: Option<u16>,
    hs: HandshakeSecret,
    client_hs: Secret<32>,
    server_hs: Secret<32>,
    recv: Protection13,
    transcript: Vec<u8>,
    encrypted_extensions_seen: bool,
    /// The server's messages (EncryptedExtensions, then Finished), whole or in fragments, in
    /// whatever order they come; released in message_seq order.
    messages: Reassembler<u8>,
    next_record: u64,
    hello_seq: u16,
    cids: Cids,
    resumed: bool,
    /// We offered supported_groups (which a server may answer in EncryptedExtensions).
    offered_groups: bool,
    /// Records that did not open (another epoch, damaged, forged), dropped.
    pub discarded: u64,
    /// Our 0-RTT offer, and whether the EncryptedExtensions took it.
    early: Option<EarlyOffer>,
    early_accepted: bool,
}

/// Where the client is after a datagram.
pub enum ClientStep {
    /// A HelloRetryRequest: send this second ClientHello and wait again.
    Retry(ClientWaitServer, Vec<u8>),
    /// The server's flight is not complete yet.
    Wait(ClientWaitFinished),
    /// Done: send this Finished; the session is up.
    Done(Box<Established13>, Vec<u8>),
}

/// Whether `data` can go as 0-RTT with `config`: a ticket offered first that allows at least
/// its size, in a suite offered and built. Never with the external PSK alone: a server has no
/// replay protection for it.
fn early_allowed(config: &ClientConfig13, data: &[u8]) -> Option<u16> {
    let r = config.resume.as_ref()?;
    let max = r.ticket.max_early_data.unwrap_or(0);
    let fits = !data.is_empty()
        && u32::try_from(data.len()).is_ok_and(|n| n <= max)
        && data.len() <= 1 << 14;
    let suite = r.ticket.suite;
    (fits && config.suites.contains(&suite) && alg_of(suite).is_some()).then_some(suite)
}

impl Client13 {
    /// The ClientHello datagram and the state waiting for the answer.
    pub fn start(
        config: &ClientConfig13,
        rng: &dyn DtlsRng,
    ) -> Result<(ClientWaitServer, Vec<u8>), Handshake13Error> {
        let (wait, flight) = Self::start_with_early_data(config, &[], usize::MAX, rng)?;
        Ok((wait, flight.hello))
    }

    /// [`Self::start`] with `early_data` sent as 0-RTT when the ticket of `config.resume`
    /// allows it (its max_early_data_size, one record of at most 2^14 bytes); else the hello
    /// offers none (see [`ClientWaitServer::early_offered`]). The 0-RTT record shares the
    /// ClientHello's datagram when both fit in `mtu` bytes.
    pub fn start_with_early_data(
        config: &ClientConfig13,
        early_data: &[u8],
        mtu: usize,
        rng: &dyn DtlsRng,
    ) -> Result<(ClientWaitServer, HelloFlight), Handshake13Error> {
        if config.groups.is_empty() && !config.psk_ke {
            return Err(Handshake13Error::Config("no key exchange mode to offer"));
        }
        if !config.groups.iter().all(|g| is_supported(*g)) {
            return Err(Handshake13Error::Config("a group this build does not have"));
        }
        // other codes ride along as offered: a client that also speaks DTLS 1.2 lists its 1.2
        // suites, which a DTLS 1.3 server never picks
        if !config.suites.iter().any(|s| alg_of(*s).is_some()) {
            return Err(Handshake13Error::Config("no DTLS 1.3 suite this build has"));
        }
        let mut random = [0u8; 32];
        rng.fill(&mut random)?;
        let versions = [&[2u8][..], &DTLS13.to_be_bytes()].concat();
        let mut modes = Vec::new();
        if !config.groups.is_empty() {
            modes.push(PSK_DHE_KE);
        }
        if config.psk_ke {
            modes.push(PSK_KE);
        }
        let mut extensions = vec![
            (EXT_SUPPORTED_VERSIONS, versions),
            (
                EXT_PSK_KEY_EXCHANGE_MODES,
                [&[modes.len() as u8][..], &modes].concat(),
            ),
        ];
        if let Some(cid) = &config.cid {
            if cid.len() > 255 {
                return Err(Handshake13Error::Config("a CID over 255 bytes"));
            }
            let mut d = Vec::with_capacity(cid.len() + 1);
            put_vec8(&mut d, cid);
            extensions.push((EXT_CONNECTION_ID, d));
        }
        let mut shares = Vec::new();
        if let Some(first) = config.groups.first() {
            shares.push(EphemeralShare::generate(*first, rng)?);
            extensions.push((EXT_SUPPORTED_GROUPS, encode_groups(&config.groups)));
            extensions.push((EXT_KEY_SHARE, encode_client_shares(&shares)));
        }
        let early_suite = early_allowed(config, early_data);
        if early_suite.is_some() {
            extensions.push((EXT_EARLY_DATA, Vec::new()));
        }
        let mut psks = Vec::new();
        let mut earlies = Vec::new();
        if let Some(r) = &config.resume {
            psks.push((
                PskIdentity {
                    identity: r.ticket.ticket.clone(),
                    obfuscated_ticket_age: r.obfuscated_age(),
                },
                Vec::new(),
            ));
            earlies.push((
                EarlySecret::new(P, Some(r.ticket.psk.expose())),
                BinderKind::Resumption,
            ));
        }
        psks.push((
            PskIdentity {
                identity: config.identity.clone(),
                obfuscated_ticket_age: 0,
            },
            Vec::new(),
        ));
        // RFC 9258 §5.2: an identity made by importer::import_for_dtls13 is bound with
        // "imp binder" (its key is the imported one)
        let kind = if ImportedIdentity::parse(&config.identity).is_ok_and(|i| i.is_dtls13_sha256())
        {
            BinderKind::Imported
        } else {
            BinderKind::External
        };
        earlies.push((EarlySecret::new(P, Some(config.key.expose())), kind));
        let mut hello = ClientHello13 {
            random,
            session_id: Vec::new(),
            cipher_suites: config.suites.clone(),
            extensions,
            psks,
        };
        hello.bind(&[], &binders(&earlies));
        let body = hello.encode();
        let mut datagram = Vec::new();
        plaintext_record(0, &dtls_message(CLIENT_HELLO, 0, &body), &mut datagram);
        let transcript = tls_message(CLIENT_HELLO, &body);
        let mut early_datagram = None;
        if let (Some(suite), Some((ticket_early, _))) = (early_suite, earlies.first()) {
            let record = early_record(ticket_early, suite, &transcript, early_data)?;
            if datagram.len() + record.len() <= mtu {
                datagram.extend_from_slice(&record);
            } else {
                early_datagram = Some(record);
            }
        }
        Ok((
            ClientWaitServer {
                earlies,
                resuming: config.resume.is_some(),
                early: early_suite.map(|suite| EarlyOffer {
                    suite,
                    withdrawn: false,
                }),
                transcript,
                hello,
                shares,
                groups: config.groups.clone(),
                psk_ke: config.psk_ke,
                retried: None,
                cid: config.cid.clone(),
                hello_seq: 0,
                last_hello: datagram.clone(),
                answer: Reassembler::starting_at(0),
            },
            HelloFlight {
                hello: datagram,
                early: early_datagram,
            },
        ))
    }
}

/// `data` in one epoch-1 record (no CID: none is negotiated yet) under
/// client_early_traffic_secret of `early` (the ticket's) over Hash(`hello`), record number 0.
fn early_record(
    early: &EarlySecret,
    suite: u16,
    hello: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, Handshake13Error> {
    let alg = alg_of(suite).ok_or(Handshake13Error::Config("0-RTT in a suite not built"))?;
    let secret = early.client_early_traffic(&transcript_hash(hello));
    let protection = Protection13::new(alg, &TrafficKeys::from_secret(P, &secret), 1);
    let mut out = Vec::with_capacity(data.len() + 32);
    protection.seal(0, APPLICATION_DATA, data, None, LAST, &mut out)?;
    Ok(out)
}

impl ClientWaitServer {
    /// Our last ClientHello datagram (to retransmit when no answer came in time).
    pub fn hello_datagram(&self) -> &[u8] {
        &self.last_hello
    }

    /// Takes the fragments of the server's answer that start `datagram` (a server behind a
    /// small MTU fragments its ServerHello, RFC 9147 §5.5). A datagram that does not start
    /// with fragments of it is [`AnswerPieces::Whole`]: `handle` judges it.
    pub fn defragment(&mut self, datagram: &[u8]) -> AnswerPieces {
        if parse_plaintext(datagram).is_ok() {
            return AnswerPieces::Whole;
        }
        let mut rest = datagram;
        let mut took = false;
        while let Ok((record_seq, content, after)) = parse_plaintext_record(rest) {
            rest = after;
            match fragment::absorb_as(&mut self.answer, content, 0, true, fragment::answer_type) {
                Ok(t) => took |= t,
                // unauthenticated and malformed: someone else's, like a ServerHello that does
                // not parse
                Err(_) => break,
            }
            if let Some(m) = self.answer.pop() {
                self.answer = Reassembler::starting_at(self.hello_seq);
                let mut whole = Vec::with_capacity(m.body.len() + 25 + rest.len());
                plaintext_record(
                    record_seq,
                    &dtls_message(m.msg_type, m.seq, &m.body),
                    &mut whole,
                );
                whole.extend_from_slice(rest);
                return AnswerPieces::Completed(whole);
            }
        }
        if took {
            AnswerPieces::Partial
        } else {
            AnswerPieces::Whole
        }
    }

    /// Whether a HelloRetryRequest was answered already.
    pub fn retried(&self) -> bool {
        self.retried.is_some()
    }

    /// Whether the first ClientHello carried 0-RTT data.
    pub fn early_offered(&self) -> bool {
        self.early.is_some()
    }

    /// A datagram from the server: a HelloRetryRequest, or the ServerHello with as much of the
    /// rest of the flight as the datagram holds. `rng` draws a new key share if the server
    /// asks for another group.
    pub fn handle(
        mut self,
        datagram: &[u8],
        rng: &dyn DtlsRng,
    ) -> Result<ClientStep, Handshake13Error> {
        let pt = parse_plaintext(datagram)?;
        if pt.msg_type != SERVER_HELLO {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        // a stateless server answers each ClientHello with its message_seq (RFC 9147 §5.2)
        if pt.message_seq != self.hello_seq {
            return Err(WireError::Invalid(Field::MessageSeq).into());
        }
        let sh = ServerHello13::parse(pt.body)?;
        // RFC 9147 §5.3: a DTLS 1.3 server echoes no legacy_session_id
        if !sh.session_id.is_empty() {
            return Err(WireError::Invalid(Field::SessionId).into());
        }
        if !self.hello.cipher_suites.contains(&sh.suite) {
            return Err(Handshake13Error::Incompatible(
                "server chose a suite not offered",
            ));
        }
        if sh.is_retry() {
            return self.retry(&sh, pt.body, rng);
        }
        if self.retried.is_some_and(|s| s != sh.suite) {
            return Err(Handshake13Error::Incompatible(
                "ServerHello changed the suite of the HelloRetryRequest",
            ));
        }
        let selected = sh
            .selected_psk
            .map(usize::from)
            .filter(|i| *i < self.earlies.len())
            .ok_or(Handshake13Error::Incompatible(
                "server selected no PSK, or one not offered",
            ))?;
        let resumed = self.resuming && selected == 0;
        let alg = alg_of(sh.suite).ok_or(Handshake13Error::Incompatible("unknown suite"))?;
        let (dhe, group) = match &sh.key_share {
            Some(ServerKeyShare::Share(group, key)) => {
                let ours = self.shares.iter().find(|s| s.group() == *group).ok_or(
                    Handshake13Error::Incompatible("server key share in a group not offered"),
                )?;
                (Some(ours.agree(key)?), Some(*group))
            }
            Some(ServerKeyShare::Group(_)) => {
                return Err(WireError::Invalid(Field::KeyShare).into());
            }
            None if self.psk_ke => (None, None),
            None => {
                return Err(Handshake13Error::Incompatible(
                    "server chose psk_ke, which was not offered",
                ));
            }
        };
        let cids = match (&sh.cid, &self.cid) {
            (Some(theirs), Some(ours)) => Cids {
                send: theirs.clone(),
                recv: ours.clone(),
            },
            (None, _) => Cids::default(),
            (Some(_), None) => {
                return Err(Handshake13Error::Incompatible(
                    "server sent connection_id, which was not offered",
                ));
            }
        };
        self.transcript
            .extend_from_slice(&tls_message(SERVER_HELLO, pt.body));
        let (early, _) = self.earlies.swap_remove(selected);
        let hs = early.into_handshake(dhe.as_ref().map(|d| d.expose().as_slice()));
        let hello_hash = transcript_hash(&self.transcript);
        let (client_hs, server_hs) = (
            hs.client_traffic(&hello_hash),
            hs.server_traffic(&hello_hash),
        );
        let wait = ClientWaitFinished {
            alg,
            suite: sh.suite,
            group,
            recv: Protection13::new(alg, &TrafficKeys::from_secret(P, &server_hs), 2),
            hs,
            client_hs,
            server_hs,
            transcript: self.transcript,
            offered_groups: !self.groups.is_empty(),
            encrypted_extensions_seen: false,
            messages: Reassembler::starting_at(self.hello_seq + 1),
            next_record: 0,
            hello_seq: self.hello_seq,
            cids,
            resumed,
            discarded: 0,
            early: self.early,
            early_accepted: false,
        };
        wait.absorb(pt.rest)
    }

    /// The second ClientHello after a HelloRetryRequest.
    fn retry(
        mut self,
        hrr: &ServerHello13,
        hrr_body: &[u8],
        rng: &dyn DtlsRng,
    ) -> Result<ClientStep, Handshake13Error> {
        if self.retried.is_some() {
            // the answer to a retransmitted first ClientHello (RFC 9147 §5.8): our second
            // ClientHello may be lost too, so send it again; a HelloRetryRequest is never
            // answered twice with a new ClientHello (RFC 8446 §4.1.4)
            let again = self.last_hello.clone();
            return Ok(ClientStep::Retry(self, again));
        }
        let new_group = match hrr.key_share {
            Some(ServerKeyShare::Group(g)) => {
                if !self.groups.contains(&g) || self.shares.iter().any(|s| s.group() == g) {
                    // RFC 8446 §4.1.4: a group not offered, or one we already sent a share in
                    return Err(Handshake13Error::Incompatible(
                        "HelloRetryRequest asks for a group not offered or already shared",
                    ));
                }
                Some(g)
            }
            Some(ServerKeyShare::Share(..)) => {
                return Err(WireError::Invalid(Field::KeyShare).into());
            }
            None => None,
        };
        if new_group.is_none() && hrr.cookie.is_none() {
            return Err(Handshake13Error::Incompatible(
                "HelloRetryRequest that changes nothing",
            ));
        }
        if let Some(g) = new_group {
            self.shares = vec![EphemeralShare::generate(g, rng)?];
            let shares = encode_client_shares(&self.shares);
            set_extension(&mut self.hello.extensions, EXT_KEY_SHARE, shares);
        }
        if let Some(cookie) = &hrr.cookie {
            let mut d = Vec::with_capacity(cookie.len() + 2);
            put_vec16(&mut d, cookie);
            set_extension(&mut self.hello.extensions, EXT_COOKIE, d);
        }
        // RFC 8446 §4.1.2: the second ClientHello drops early_data (the 0-RTT is lost)
        if let Some(e) = &mut self.early {
            self.hello.extensions.retain(|(t, _)| *t != EXT_EARLY_DATA);
            e.withdrawn = true;
        }
        let mut prefix = message_hash(&transcript_hash(&self.transcript));
        prefix.extend_from_slice(&tls_message(SERVER_HELLO, hrr_body));
        self.hello.bind(&prefix, &binders(&self.earlies));
        let body = self.hello.encode();
        self.hello_seq += 1;
        self.answer = Reassembler::starting_at(self.hello_seq);
        let mut datagram = Vec::new();
        plaintext_record(
            u64::from(self.hello_seq),
            &dtls_message(CLIENT_HELLO, self.hello_seq, &body),
            &mut datagram,
        );
        prefix.extend_from_slice(&tls_message(CLIENT_HELLO, &body));
        self.transcript = prefix;
        self.last_hello = datagram.clone();
        self.retried = Some(hrr.suite);
        Ok(ClientStep::Retry(self, datagram))
    }
}

/// The (early secret, binder kind) pairs as `ClientHello13::bind` takes them.
fn binders(earlies: &[(EarlySecret, BinderKind)]) -> Vec<(&EarlySecret, BinderKind)> {
    earlies.iter().map(|(e, k)| (e, *k)).collect()
}

/// Replaces extension `t`'s data, or adds it (before pre_shared_key, which encodes last).
fn set_extension(extensions: &mut Vec<(u16, Vec<u8>)>, t: u16, data: Vec<u8>) {
    match extensions.iter_mut().find(|(u, _)| *u == t) {
        Some((_, d)) => *d = data,
        None => extensions.push((t, data)),
    }
}

/// EncryptedExtensions may hold only what we offered and a server may answer there: its
/// supported_groups when we sent ours (RFC 8446 §4.2.7, wolfSSL sends it in `psk_ke`), and an
/// empty early_data when our ClientHello carried 0-RTT data (`offered_early`); any other
/// extension, or one twice, is refused (RFC 8446 §4.2). Whether early_data was there.
fn check_encrypted_extensions(
    body: &[u8],
    offered_groups: bool,
    offered_early: bool,
) -> Result<bool, Handshake13Error> {
    let bad = || Handshake13Error::from(WireError::Invalid(Field::EncryptedExtensions));
    let mut r = Reader::new(body);
    let list = r.vec16(Field::EncryptedExtensions)?;
    r.finish(Field::EncryptedExtensions)?;
    let mut l = Reader::new(list);
    let (mut groups_seen, mut early_seen) = (false, false);
    while !l.is_empty() {
        let t = l.u16(Field::EncryptedExtensions)?;
        let data = l.vec16(Field::EncryptedExtensions)?;
        match t {
            EXT_SUPPORTED_GROUPS if offered_groups && !groups_seen => groups_seen = true,
            EXT_EARLY_DATA if offered_early && !early_seen && data.is_empty() => early_seen = true,
            _ => return Err(bad()),
        }
    }
    Ok(early_seen)
}

impl ClientWaitFinished {
    /// A later datagram of the server's flight.
    pub fn handle(self, datagram: &[u8]) -> Result<ClientStep, Handshake13Error> {
        self.absorb(datagram)
    }

    /// Takes the epoch-2 records of `datagram`. A record that does not open is dropped (RFC
    /// 9147 §4.5.2), a retransmitted ServerHello is skipped; the handshake goes on with the
    /// rest.
    fn absorb(mut self, mut datagram: &[u8]) -> Result<ClientStep, Handshake13Error> {
        while let Some(&first) = datagram.first() {
            if !is_unified(first) {
                // a plaintext record (the ServerHello again): skip it whole
                let mut r = Reader::new(datagram);
                if r.take(11, Field::RecordSeq).is_err() || r.vec16(Field::RecordLength).is_err() {
                    self.discarded += 1;
                    break;
                }
                datagram = r.rest();
                continue;
            }
            let opened = self
                .recv
                .open(datagram, self.cids.recv_len(), self.next_record);
            let (opened, rest) = match opened {
                Ok(v) => v,
                Err(_) => {
                    // the rest of the datagram cannot be delimited after a bad record
                    self.discarded += 1;
                    break;
                }
            };
            datagram = rest;
            self.next_record = self.next_record.max(opened.seq + 1);
            if opened.content_type != HANDSHAKE {
                continue;
            }
            fragment::absorb(&mut self.messages, &opened.content, 2, true)?;
        }
        self.take_in_order()
    }

    /// Processes the collected messages in message_seq order.
    fn take_in_order(mut self) -> Result<ClientStep, Handshake13Error> {
        while let Some(m) = self.messages.pop() {
            let (seq, t, body) = (m.seq, m.msg_type, m.body);
            if !self.encrypted_extensions_seen {
                if t != ENCRYPTED_EXTENSIONS {
                    return Err(WireError::Invalid(Field::HandshakeType).into());
                }
                let offered_early = self.early.is_some_and(|e| !e.withdrawn);
                let taken = check_encrypted_extensions(&body, self.offered_groups, offered_early)?;
                if taken && !(self.resumed && self.early.is_some_and(|e| e.suite == self.suite)) {
                    // RFC 8446 §4.2.10: 0-RTT is taken only with the first PSK and its suite
                    return Err(Handshake13Error::Incompatible(
                        "server took early data with another PSK or suite",
                    ));
                }
                self.early_accepted = taken;
                self.transcript.extend_from_slice(&tls_message(t, &body));
                self.encrypted_extensions_seen = true;
                continue;
            }
            if t != FINISHED {
                return Err(WireError::Invalid(Field::HandshakeType).into());
            }
            let expected = verify_data(P, &self.server_hs, &transcript_hash(&self.transcript));
            if !bool::from(expected.ct_eq(&body)) {
                return Err(Handshake13Error::BadMac("server Finished"));
            }
            self.transcript.extend_from_slice(&tls_message(t, &body));
            return self.finish(seq);
        }
        Ok(ClientStep::Wait(self))
    }

    /// Our Finished after the server's (message_seq `server_fin_seq`).
    fn finish(self, server_fin_seq: u16) -> Result<ClientStep, Handshake13Error> {
        let server_finished_hash = transcript_hash(&self.transcript);
        let client_verify = verify_data(P, &self.client_hs, &server_finished_hash);
        let send_hs = Protection13::new(self.alg, &TrafficKeys::from_secret(P, &self.client_hs), 2);
        let mut out = Vec::new();
        let fin_seq = self.hello_seq + 1;
        send_hs.seal(
            0,
            HANDSHAKE,
            &dtls_message(FINISHED, fin_seq, &client_verify),
            self.cids.send_cid(),
            LAST,
            &mut out,
        )?;
        let master = self.hs.into_master();
        let secrets = (
            master.client_traffic(&server_finished_hash),
            master.server_traffic(&server_finished_hash),
        );
        let mut transcript = self.transcript;
        transcript.extend_from_slice(&tls_message(FINISHED, &client_verify));
        let resumption = master.resumption(&transcript_hash(&transcript));
        let mut up = Established13::new(
            (true, self.cids),
            self.alg,
            (self.suite, self.group),
            secrets,
            fin_seq + 1,
            server_fin_seq + 1,
        );
        up.resumption = Some(resumption);
        up.resumed = self.resumed;
        up.early_data_accepted = self.early.map(|_| self.early_accepted);
        Ok(ClientStep::Done(Box::new(up), out))
    }
}

#[cfg(test)]
#[path = "client_early_tests.rs"]
mod early_tests;

#[cfg(test)]
mod encrypted_extensions_tests {
    use super::check_encrypted_extensions;

    #[test]
    fn only_an_answer_to_our_supported_groups_and_early_data_is_taken() {
        assert_eq!(check_encrypted_extensions(&[0, 0], false, false), Ok(false));
        // supported_groups [x25519], as wolfSSL sends it in psk_ke
        let groups = [0, 8, 0, 10, 0, 4, 0, 2, 0, 0x1d];
        assert!(check_encrypted_extensions(&groups, true, false).is_ok());
        assert!(
            check_encrypted_extensions(&groups, false, false).is_err(),
            "not offered"
        );
        let twice = [
            0, 16, 0, 10, 0, 4, 0, 2, 0, 0x1d, 0, 10, 0, 4, 0, 2, 0, 0x1d,
        ];
        assert!(check_encrypted_extensions(&twice, true, false).is_err());
        let other = [0, 4, 0, 0, 0, 0];
        assert!(
            check_encrypted_extensions(&other, true, true).is_err(),
            "server_name not offered"
        );
        assert!(
            check_encrypted_extensions(&[0, 0, 1], true, false).is_err(),
            "trailing byte"
        );
        assert!(
            check_encrypted_extensions(&groups[..7], true, false).is_err(),
            "cut"
        );
        // early_data (42), empty: taken only when our hello carried 0-RTT data
        let early = [0, 4, 0, 42, 0, 0];
        assert_eq!(check_encrypted_extensions(&early, false, true), Ok(true));
        assert!(
            check_encrypted_extensions(&early, false, false).is_err(),
            "no 0-RTT offered"
        );
        let early_with_data = [0, 5, 0, 42, 0, 1, 0];
        assert!(check_encrypted_extensions(&early_with_data, false, true).is_err());
        let early_twice = [0, 8, 0, 42, 0, 0, 0, 42, 0, 0];
        assert!(check_encrypted_extensions(&early_twice, false, true).is_err());
    }
}
