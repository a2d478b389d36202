//! Server handshake, from a ClientHello that carried a valid cookie (the Endpoint checked it):
//! ServerHello [ServerKeyExchange] ServerHelloDone -> ClientKeyExchange CCS Finished ->
//! CCS Finished.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{Connection, Role, State};
use crate::config::{EmsPolicy, PskAnswer, PskRefusal, PskRequest, ServerConfig};
use crate::crypto::ecdhe::EphemeralKey;
use crate::error::{loggable_name, Error};
use crate::event::Event;
use crate::flight::{Flight, FlightItem};
use crate::reassembly::Message;
use crate::secret::SecretVec;
use crate::session::{session_lifetime, Session};
use crate::suite::CipherSuite;
use crate::ticket::TicketKey;
use crate::wire::extensions::{
    connection_id_data, ec_point_formats_uncompressed, renegotiation_info_initial, Extensions,
    EXT_CONNECTION_ID, EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO,
    EXT_SESSION_TICKET, GROUP_SECP256R1,
};
use crate::wire::handshake::HandshakeType;
use crate::wire::hello::{ClientHello, ServerHello};
use crate::wire::kx::{parse_finished, ClientKeyExchange, ServerKeyExchange};
use crate::wire::record::DTLS12;
use crate::wire::ticket::NewSessionTicket;

/// Length of the random key that stands in for an unknown identity's (a GBA Ks_NAF is 32).
const RANDOM_PSK_LEN: usize = 32;

/// The ClientHello that opens a server connection, as the Endpoint saw it.
#[derive(Debug, Clone)]
pub struct AcceptedHello {
    /// Parsed hello (with a valid cookie).
    pub hello: ClientHello,
    /// Its message_seq.
    pub message_seq: u16,
    /// Its record sequence number (our first records echo it, RFC 6347 §4.2.1).
    pub record_seq: u64,
    /// Size of the datagram that carried it (for the handshake byte counters; the cookie
    /// exchange before it is stateless and not counted per connection).
    pub datagram_len: usize,
}

/// What an endpoint hands a new server connection besides the hello.
#[derive(Debug, Default)]
pub struct ServerStart {
    /// CID to hand out if the client asks (`None`: made by the configured generator).
    pub cid: Option<Vec<u8>>,
    /// A session the hello offered that the endpoint found (cache or ticket), with its expiry.
    pub resume: Option<(Session, Instant)>,
    /// Key to seal a new ticket with (`None`: no tickets).
    pub ticket_key: Option<TicketKey>,
    /// Longest a ticket sealed now can be opened (the ticket key's remaining overlap).
    pub ticket_cap: Duration,
}

impl Connection {
    /// A server connection answering `ch`. Failures (no common suite, no EMS) leave a closed
    /// connection whose alert is ready in `poll_transmit`.
    pub fn server(config: Arc<ServerConfig>, now: Instant, ch: &AcceptedHello) -> Self {
        Self::server_with_cid(config, now, ch, None)
    }

    /// [`Connection::server`] with the Connection ID to hand out if the client asks for one
    /// (an endpoint passes one it knows is unique); `None` makes one with the configured
    /// generator.
    pub fn server_with_cid(
        config: Arc<ServerConfig>,
        now: Instant,
        ch: &AcceptedHello,
        cid: Option<Vec<u8>>,
    ) -> Self {
        Self::server_start(
            config,
            now,
            ch,
            ServerStart {
                cid,
                ..ServerStart::default()
            },
        )
    }

    /// A server connection with everything an endpoint may pass (CID, a session to resume, a
    /// ticket key). A resumable session gives an abbreviated handshake; otherwise a full one.
    pub fn server_start(
        config: Arc<ServerConfig>,
        now: Instant,
        ch: &AcceptedHello,
        start: ServerStart,
    ) -> Self {
        let mut c = Connection::new(Role::Server(config.clone()));
        c.state = State::ServerWaitKx;
        c.rl.set_initial_write_seq(ch.record_seq);
        c.next_send_seq = ch.message_seq;
        c.hs().reasm.skip_to(ch.message_seq.wrapping_add(1));
        c.client_random = ch.hello.random;
        c.hs().offered_cid = start.cid;
        c.hs().ticket_key = start.ticket_key;
        c.hs().ticket_cap = start.ticket_cap;
        c.stats.received(ch.datagram_len, true);
        c.half_open_until = Some(now + config.half_open_timeout);
        if let Err(e) = c.server_hello(now, &config, ch, start.resume) {
            c.fail(e);
        }
        c
    }

    fn server_hello(
        &mut self,
        now: Instant,
        config: &ServerConfig,
        ch: &AcceptedHello,
        resume: Option<(Session, Instant)>,
    ) -> Result<(), Error> {
        let hello = &ch.hello;
        let body = hello.encode();
        self.transcript_add(HandshakeType::ClientHello, ch.message_seq, &body);
        self.hs().peer_last = Some((ch.message_seq, Sha256::digest(&body).into()));
        let sni = hello.extensions.server_name()?;
        if let Some(name) = sni.as_deref().filter(|n| !config.serves_name(n)) {
            // RFC 6066 §3: refused before any key lookup
            return Err(Error::UnrecognizedName(loggable_name(name)));
        }
        self.hs().sni = sni;
        if !hello.extensions.extended_master_secret()? {
            match config.extended_master_secret {
                EmsPolicy::Required => return Err(Error::NoExtendedMasterSecret),
                EmsPolicy::Preferred => self.stats.without_extended_master_secret = true,
            }
        }
        let no_ems = self.stats.without_extended_master_secret;
        let secure_reneg = hello.secure_renegotiation()?;
        let p256 = hello
            .extensions
            .supported_groups()?
            .is_none_or(|g| g.contains(&GROUP_SECP256R1));
        let suite = config
            .common
            .suites
            .iter()
            .copied()
            .find(|s| hello.cipher_suites.contains(&s.iana()) && (!s.is_ecdhe() || p256))
            .ok_or(Error::NoCommonSuite)?;
        // resume only what this hello can resume: same suite offered and allowed, same SNI
        // RFC 7627 §5.3: a hello without EMS never resumes (it gets a full handshake)
        let resume = resume.filter(|(s, exp)| {
            !no_ems
                && now < *exp
                && hello.cipher_suites.contains(&s.suite.iana())
                && config.common.suites.contains(&s.suite)
                && s.server_name == self.hs().sni
        });
        let suite = resume.as_ref().map_or(suite, |(s, _)| s.suite);
        self.suite = Some(suite);
        let mut random = [0u8; 32];
        self.common()
            .rng
            .fill(&mut random)
            .map_err(|_| Error::Rng)?;
        self.server_random = random;
        self.hs().session_id = if resume.is_some() {
            hello.session_id.clone()
        } else if config.session_cache > 0 && !no_ems {
            let mut id = vec![0u8; config.session_id_len.clamp(16, 32)];
            self.common().rng.fill(&mut id).map_err(|_| Error::Rng)?;
            id
        } else {
            Vec::new()
        };
        self.hs().ticket_expected = !no_ems
            && self.hs().ticket_key.is_some()
            && hello.extensions.get(EXT_SESSION_TICKET).is_some();

        let mut extensions = Extensions::default();
        if secure_reneg {
            extensions.push(EXT_RENEGOTIATION_INFO, renegotiation_info_initial());
        }
        if !no_ems {
            extensions.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        }
        if suite.is_ecdhe() && hello.extensions.get(EXT_EC_POINT_FORMATS).is_some() {
            extensions.push(EXT_EC_POINT_FORMATS, ec_point_formats_uncompressed());
        }
        if let (Some(peer), Some(gen)) = (
            hello.extensions.connection_id()?,
            config.connection_id.as_ref(),
        ) {
            let ours = match self.hs().offered_cid.take() {
                Some(c) => c,
                None => gen
                    .generate(self.common().rng.as_ref())
                    .map_err(|_| Error::Rng)?,
            };
            extensions.push(EXT_CONNECTION_ID, connection_id_data(&ours));
            self.rl.set_cids(ours, peer);
            self.cid_negotiated = true;
        }
        if self.hs().ticket_expected {
            extensions.push(EXT_SESSION_TICKET, vec![]);
        }
        let sh = ServerHello {
            version: DTLS12,
            random,
            session_id: self.hs().session_id.clone(),
            cipher_suite: suite.iana(),
            compression_method: 0,
            extensions,
        }
        .encode();
        let mut items = Vec::new();
        let mut push = |c: &mut Connection, t: HandshakeType, body: Vec<u8>| {
            let seq = c.next_send_seq;
            c.next_send_seq = c.next_send_seq.wrapping_add(1);
            c.transcript_add(t, seq, &body);
            items.push(FlightItem::Handshake {
                msg_type: t,
                seq,
                body,
                epoch: 0,
            });
        };
        push(self, HandshakeType::ServerHello, sh);
        if let Some((session, expires)) = resume {
            // abbreviated handshake (RFC 5246 §7.3): SH [NST] CCS Finished, client finishes
            self.hs().identity = session.identity.clone();
            self.resumed = true;
            self.session_expiry = Some(expires);
            self.install_keys(session.master.clone())?;
            if self.hs().ticket_expected {
                let left = expires.saturating_duration_since(now);
                let nst = self.new_ticket(now, &session, left)?;
                push(self, HandshakeType::NewSessionTicket, nst);
            }
            let fin = self.our_verify_data()?.to_vec();
            let seq = self.next_send_seq;
            self.next_send_seq = seq.wrapping_add(1);
            self.transcript_add(HandshakeType::Finished, seq, &fin);
            items.push(FlightItem::Ccs { epoch: 0 });
            items.push(FlightItem::Handshake {
                msg_type: HandshakeType::Finished,
                seq,
                body: fin,
                epoch: 1,
            });
            self.send_epoch = 1;
            self.state = State::WaitCcs;
            return self.send_flight(now, Flight { items }, true);
        }
        let hint = config.identity_hint.clone();
        if suite.is_ecdhe() {
            let key = EphemeralKey::generate(self.common().rng.as_ref()).map_err(|_| Error::Rng)?;
            let ske = ServerKeyExchange::EcdhePsk {
                hint: hint.unwrap_or_default(),
                point: key.public_point(),
            };
            self.hs().ecdhe = Some(key);
            push(self, HandshakeType::ServerKeyExchange, ske.encode());
        } else if let Some(hint) = hint {
            push(
                self,
                HandshakeType::ServerKeyExchange,
                ServerKeyExchange::Psk { hint }.encode(),
            );
        }
        push(self, HandshakeType::ServerHelloDone, vec![]);
        self.send_flight(now, Flight { items }, true)
    }

    /// A NewSessionTicket body sealing `session` for at most `lifetime` (also capped by the
    /// ticket key's overlap).
    fn new_ticket(
        &self,
        now: Instant,
        session: &Session,
        lifetime: Duration,
    ) -> Result<Vec<u8>, Error> {
        let h = self.hs.as_ref().ok_or(Error::Closed)?;
        let key = h.ticket_key.as_ref().ok_or(Error::Closed)?;
        let lifetime = lifetime.min(h.ticket_cap);
        let ticket = key
            .seal(session, now, lifetime, self.common().rng.as_ref())
            .map_err(|_| Error::Rng)?;
        Ok(NewSessionTicket {
            lifetime_hint: u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX),
            ticket,
        }
        .encode())
    }

    fn server_config(&self) -> Option<&Arc<ServerConfig>> {
        match &self.role {
            Role::Server(c) => Some(c),
            Role::Client(_) => None,
        }
    }

    pub(super) fn server_message(&mut self, now: Instant, m: Message) -> Result<(), Error> {
        let state = std::mem::replace(&mut self.state, State::Closed);
        match self.server_step(now, state, &m) {
            Ok(next) => {
                self.state = next;
                Ok(())
            }
            Err(e) => {
                self.state = State::WaitCcs;
                Err(e)
            }
        }
    }

    fn server_step(&mut self, now: Instant, state: State, m: &Message) -> Result<State, Error> {
        use HandshakeType as T;
        if m.epoch > 0 && m.msg_type != T::Finished {
            return Err(Error::UnexpectedMessage(
                "protected handshake message other than Finished",
            ));
        }
        if m.epoch == 0 && m.msg_type == T::Finished {
            return Err(Error::UnexpectedMessage("Finished before ChangeCipherSpec"));
        }
        match (state, m.msg_type) {
            (State::ServerWaitKx, T::ClientKeyExchange) => {
                let suite = self
                    .suite
                    .ok_or(Error::UnexpectedMessage("ClientKeyExchange"))?;
                let cke = ClientKeyExchange::parse(&m.body, suite.is_ecdhe())?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().identity = cke.identity.clone();
                self.hs().peer_point = cke.point;
                let req = PskRequest {
                    identity: cke.identity,
                    sni: self.hs().sni.clone(),
                    suite,
                };
                let cfg = self.server_config().cloned().ok_or(Error::Closed)?;
                self.hs().psk_left = cfg.psk.key_lifetime(&req);
                match cfg.psk.lookup(&req) {
                    PskAnswer::Ready(key) => {
                        self.derive_keys(&key)?;
                        Ok(State::WaitCcs)
                    }
                    PskAnswer::Pending => {
                        self.events.push_back(Event::PskRequested {
                            identity: req.identity,
                            hint: None,
                            sni: req.sni,
                            suite,
                        });
                        Ok(State::ServerWaitPsk)
                    }
                    PskAnswer::Unknown => {
                        self.carry_on_with_random_key()?;
                        Ok(State::WaitCcs)
                    }
                    PskAnswer::Unavailable => Err(Error::PskUnavailable),
                }
            }
            (State::WaitFinished, T::Finished) if self.resumed => {
                // abbreviated handshake: the client's Finished ends it
                let got = parse_finished(&m.body)?;
                let token = self.verify_finished(&got)?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
                self.hs().flight = None;
                self.hs().retx = None;
                Ok(self.established(now, token))
            }
            (State::WaitFinished, T::Finished) => {
                let got = parse_finished(&m.body)?;
                let token = self.verify_finished(&got)?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
                let cfg = self.server_config().cloned().ok_or(Error::Closed)?;
                let lifetime = session_lifetime(cfg.session_lifetime, self.hs().psk_left);
                self.session_expiry = Some(now + lifetime);
                let mut items = Vec::new();
                if self.hs().ticket_expected {
                    let session = Session {
                        suite: self.suite.ok_or(Error::Closed)?,
                        master: self.hs().master.clone().ok_or(Error::Closed)?,
                        identity: self.hs().identity.clone(),
                        session_id: Vec::new(),
                        ticket: Vec::new(),
                        ticket_lifetime: 0,
                        server_name: self.hs().sni.clone(),
                    };
                    let nst = self.new_ticket(now, &session, lifetime)?;
                    let seq = self.next_send_seq;
                    self.next_send_seq = seq.wrapping_add(1);
                    self.transcript_add(T::NewSessionTicket, seq, &nst);
                    items.push(FlightItem::Handshake {
                        msg_type: T::NewSessionTicket,
                        seq,
                        body: nst,
                        epoch: 0,
                    });
                }
                let fin = self.our_verify_data()?.to_vec();
                let seq = self.next_send_seq;
                self.next_send_seq = self.next_send_seq.wrapping_add(1);
                self.transcript_add(T::Finished, seq, &fin);
                items.push(FlightItem::Ccs { epoch: 0 });
                items.push(FlightItem::Handshake {
                    msg_type: T::Finished,
                    seq,
                    body: fin,
                    epoch: 1,
                });
                let flight = Flight { items };
                self.send_epoch = 1;
                // the last flight: no timer, it is resent when the client's Finished repeats
                self.send_flight(now, flight, false)?;
                Ok(self.established(now, token))
            }
            (_, T::Finished) => Err(Error::UnexpectedMessage("Finished before ChangeCipherSpec")),
            (_, T::ClientHello) => Err(Error::UnexpectedMessage(
                "ClientHello during handshake (restart)",
            )),
            (_, _) => Err(Error::UnexpectedMessage("handshake message out of order")),
        }
    }

    /// RFC 4279 §2: an unknown identity gets a random key (the same work as a real one), so
    /// the handshake fails at the client's Finished with decrypt_error exactly as for a wrong
    /// key; [`Connection::finished_failed`] then names the real cause on this side.
    fn carry_on_with_random_key(&mut self) -> Result<(), Error> {
        let mut random = zeroize::Zeroizing::new([0u8; RANDOM_PSK_LEN]);
        self.common()
            .rng
            .fill(random.as_mut())
            .map_err(|_| Error::Rng)?;
        let key = SecretVec::new(random.to_vec());
        self.hs().psk_unknown = true;
        self.derive_keys(&key)
    }

    /// Answers a `PskRequested` event on a server: `None` means the identity is unknown (see
    /// [`Connection::refuse_server_psk`]).
    pub fn provide_server_psk(
        &mut self,
        now: Instant,
        key: Option<SecretVec>,
    ) -> Result<(), Error> {
        match key {
            Some(k) => self.answer_server_psk(now, Ok(k)),
            None => self.answer_server_psk(now, Err(PskRefusal::UnknownIdentity)),
        }
    }

    /// Refuses a `PskRequested` event on a server: an unknown identity carries on with a
    /// random key and fails at the client's Finished (`decrypt_error`, RFC 4279 §2); an
    /// unavailable key source fails at once with `internal_error`.
    pub fn refuse_server_psk(&mut self, now: Instant, why: PskRefusal) -> Result<(), Error> {
        self.answer_server_psk(now, Err(why))
    }

    fn answer_server_psk(
        &mut self,
        now: Instant,
        answer: Result<SecretVec, PskRefusal>,
    ) -> Result<(), Error> {
        if !matches!(self.state, State::ServerWaitPsk) {
            return Err(Error::NoPskRequest);
        }
        let res = match answer {
            Ok(k) => {
                self.refresh_psk_lifetime();
                self.derive_keys(&k)
            }
            Err(PskRefusal::UnknownIdentity) => self.carry_on_with_random_key(),
            Err(PskRefusal::Unavailable) => Err(Error::PskUnavailable),
        };
        match res {
            Ok(()) => {
                self.state = State::WaitCcs;
                self.resume_after_psk(now);
            }
            Err(e) => {
                self.state = State::WaitCcs;
                self.fail(e);
            }
        }
        Ok(())
    }

    /// A key answered late (`Pending`, then `provide_psk`) was not in the store when
    /// `key_lifetime` was first asked: ask again now that it is, with the same identity, SNI
    /// and suite, so the session, its cache entry and its tickets never outlive the key. A
    /// store that still knows no limit leaves the earlier answer in place.
    fn refresh_psk_lifetime(&mut self) {
        let Some(cfg) = self.server_config().cloned() else {
            return;
        };
        let Some(suite) = self.suite else { return };
        let req = PskRequest {
            identity: self.hs().identity.clone(),
            sni: self.hs().sni.clone(),
            suite,
        };
        if let Some(left) = cfg.psk.key_lifetime(&req) {
            self.hs().psk_left = Some(left);
        }
    }

    /// Suites a server would pick for this hello (used by tests and diagnostics).
    pub fn server_suite_for(config: &ServerConfig, hello: &ClientHello) -> Option<CipherSuite> {
        config
            .common
            .suites
            .iter()
            .copied()
            .find(|s| hello.cipher_suites.contains(&s.iana()))
    }
}
