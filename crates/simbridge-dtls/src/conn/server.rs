//! Server handshake, from a ClientHello that carried a valid cookie (the Endpoint checked it):
//! ServerHello [ServerKeyExchange] ServerHelloDone -> ClientKeyExchange CCS Finished ->
//! CCS Finished.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::flight_builder::FlightBuilder;
use super::machine::{
    Finish, Flow, Handshake, Keyed, Next, PeerKx, ServerFull, Step, TicketIssuer,
};
use super::{Connection, Role, State};
use crate::config::{EmsPolicy, PskAnswer, PskRefusal, PskRequest, ServerConfig};
use crate::crypto::ecdhe::EphemeralKey;
use crate::error::{Error, loggable_name};
use crate::event::Event;
use crate::reassembly::Message;
use crate::secret::SecretVec;
use crate::session::{Session, session_lifetime};
use crate::suite::CipherSuite;
use crate::ticket::TicketKey;
use crate::wire::extensions::{
    EXT_CONNECTION_ID, EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO,
    EXT_SESSION_TICKET, Extensions, GROUP_SECP256R1, connection_id_data,
    ec_point_formats_uncompressed, renegotiation_info_initial,
};
use crate::wire::handshake::HandshakeType;
use crate::wire::hello::{ClientHello, ServerHello};
use crate::wire::kx::{ClientKeyExchange, ServerKeyExchange};
use crate::wire::record::DTLS12;
use crate::wire::ticket::NewSessionTicket;

/// The last 8 bytes of ServerHello.random of a server that supports TLS (DTLS) 1.3 and
/// negotiates 1.2 (RFC 8446 §4.1.3: "DOWNGRD" and 01).
pub const DOWNGRADE_SENTINEL_12: [u8; 8] = [0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01];

/// Length of the random key that stands in for an unknown identity's (a GBA Ks_NAF is 32).
const RANDOM_PSK_LEN: usize = 32;

/// The ClientHello that opens a server connection, as the Endpoint saw it.
#[derive(Debug, Clone)]
pub struct AcceptedHello {
    /// Parsed hello (with a valid cookie).
    pub hello: ClientHello,
    /// Its body as received: the transcript hashes these bytes, not a re-encoding.
    pub body: Vec<u8>,
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
        c.rl.set_initial_write_seq(ch.record_seq);
        c.next_send_seq = ch.message_seq;
        c.client_random = ch.hello.random;
        c.stats.received(ch.datagram_len, true);
        c.half_open_until = Some(now + config.half_open_timeout);
        let mut flow = Flow::new(None);
        flow.reasm.skip_to(ch.message_seq.wrapping_add(1));
        flow.transcript
            .add(HandshakeType::ClientHello, ch.message_seq, &ch.body);
        flow.peer_last = Some((ch.message_seq, Sha256::digest(&ch.body).into()));
        match c.server_hello(now, &mut flow, &config, ch, start) {
            Ok(step) => c.state = State::Handshaking(Box::new(Handshake { step, flow })),
            Err(e) => c.abort(e),
        }
        c
    }

    /// Answers the ClientHello with our first flight: ServerHello [ServerKeyExchange]
    /// ServerHelloDone, or, resuming, ServerHello [NewSessionTicket] ChangeCipherSpec Finished.
    fn server_hello(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        config: &ServerConfig,
        ch: &AcceptedHello,
        start: ServerStart,
    ) -> Result<Step, Error> {
        let hello = &ch.hello;
        flow.sni = self.check_client_hello(config, hello)?;
        let no_ems = self.stats.without_extended_master_secret;
        let secure_reneg = hello.secure_renegotiation()?;
        let suite = choose_suite(config, hello)?;
        let resume = start
            .resume
            .filter(|r| !no_ems && can_resume(config, hello, flow.sni.as_deref(), now, r));
        let suite = resume.as_ref().map_or(suite, |(s, _)| s.suite);
        self.suite = Some(suite);
        let mut random = [0u8; 32];
        self.common()
            .rng
            .fill(&mut random)
            .map_err(|_| Error::Rng)?;
        if config.serves_dtls13() {
            // RFC 8446 §4.1.3 (kept by RFC 9147): a server that could have spoken DTLS 1.3
            // says so, so a 1.3 client whose offer was stripped in transit can tell
            random[24..].copy_from_slice(&DOWNGRADE_SENTINEL_12);
        }
        self.server_random = random;
        let session_id = match resume {
            Some(_) => hello.session_id.clone(),
            None => self.new_session_id(config)?,
        };
        let ticket = start
            .ticket_key
            .filter(|_| !no_ems && hello.extensions.get(EXT_SESSION_TICKET).is_some())
            .map(|key| TicketIssuer {
                key,
                cap: start.ticket_cap,
            });

        let extensions = self.server_extensions(
            config,
            hello,
            secure_reneg,
            suite,
            start.cid,
            ticket.is_some(),
        )?;
        let sh = ServerHello {
            version: DTLS12,
            random,
            session_id: session_id.clone(),
            cipher_suite: suite.iana(),
            compression_method: 0,
            extensions,
        }
        .encode();
        match resume {
            Some((session, expires)) => {
                let resumed = Resumed {
                    session,
                    expires,
                    session_id,
                };
                self.resume_session(now, flow, sh, resumed, ticket)
            }
            None => {
                let full = ServerFull {
                    suite,
                    ecdhe: None,
                    session_id,
                    ticket,
                };
                self.full_first_flight(now, flow, config, sh, full)
            }
        }
    }

    /// Refuses a hello for a name we do not serve or (if required) without extended master
    /// secret; returns its SNI.
    fn check_client_hello(
        &mut self,
        config: &ServerConfig,
        hello: &ClientHello,
    ) -> Result<Option<String>, Error> {
        let sni = hello.extensions.server_name()?;
        if let Some(name) = sni.as_deref().filter(|n| !config.serves_name(n)) {
            // RFC 6066 §3: refused before any key lookup
            return Err(Error::UnrecognizedName(loggable_name(name)));
        }
        if !hello.extensions.extended_master_secret()? {
            match config.extended_master_secret {
                EmsPolicy::Required => return Err(Error::NoExtendedMasterSecret),
                EmsPolicy::Preferred => self.stats.without_extended_master_secret = true,
            }
        }
        Ok(sni)
    }

    /// The session ID of a full handshake: a fresh one when sessions are cached, none when
    /// they are not or the session cannot be resumed (no EMS, RFC 7627 §5.3).
    fn new_session_id(&self, config: &ServerConfig) -> Result<Vec<u8>, Error> {
        if config.session_cache == 0 || self.stats.without_extended_master_secret {
            return Ok(Vec::new());
        }
        let mut id = vec![0u8; config.session_id_len.clamp(16, 32)];
        self.common().rng.fill(&mut id).map_err(|_| Error::Rng)?;
        Ok(id)
    }

    /// The ServerHello's extensions: what the hello asked for and we do; a Connection ID
    /// (`cid`, or one from the configured generator) is installed in the record layer.
    fn server_extensions(
        &mut self,
        config: &ServerConfig,
        hello: &ClientHello,
        secure_reneg: bool,
        suite: CipherSuite,
        cid: Option<Vec<u8>>,
        ticket: bool,
    ) -> Result<Extensions, Error> {
        let mut extensions = Extensions::default();
        if secure_reneg {
            extensions.push(EXT_RENEGOTIATION_INFO, renegotiation_info_initial());
        }
        if !self.stats.without_extended_master_secret {
            extensions.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        }
        if suite.is_ecdhe() && hello.extensions.get(EXT_EC_POINT_FORMATS).is_some() {
            extensions.push(EXT_EC_POINT_FORMATS, ec_point_formats_uncompressed());
        }
        if let (Some(peer), Some(cid_gen)) = (
            hello.extensions.connection_id()?,
            config.connection_id.as_ref(),
        ) {
            let ours = match cid {
                Some(c) => c,
                None => cid_gen
                    .generate(self.common().rng.as_ref())
                    .map_err(|_| Error::Rng)?,
            };
            extensions.push(EXT_CONNECTION_ID, connection_id_data(&ours));
            self.rl.set_cids(ours, peer);
            self.cid_negotiated = true;
        }
        if ticket {
            extensions.push(EXT_SESSION_TICKET, vec![]);
        }
        Ok(extensions)
    }

    /// Full handshake: ServerHello [ServerKeyExchange] ServerHelloDone (a ServerKeyExchange
    /// for ECDHE_PSK, or to send an identity hint).
    fn full_first_flight(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        config: &ServerConfig,
        server_hello: Vec<u8>,
        mut full: ServerFull,
    ) -> Result<Step, Error> {
        let mut b = FlightBuilder::new(flow, self.next_send_seq);
        b.message(HandshakeType::ServerHello, server_hello);
        let hint = config.identity_hint.clone();
        if full.suite.is_ecdhe() {
            let key = EphemeralKey::generate(self.common().rng.as_ref()).map_err(|_| Error::Rng)?;
            let ske = ServerKeyExchange::EcdhePsk {
                hint: hint.unwrap_or_default(),
                point: key.public_point(),
            };
            full.ecdhe = Some(key);
            b.message(HandshakeType::ServerKeyExchange, ske.encode());
        } else if let Some(hint) = hint {
            let ske = ServerKeyExchange::Psk { hint };
            b.message(HandshakeType::ServerKeyExchange, ske.encode());
        }
        b.message(HandshakeType::ServerHelloDone, vec![]);
        b.send(self, now, true)?;
        Ok(Step::ServerKx(full))
    }

    /// Abbreviated handshake (RFC 5246 §7.3): ServerHello [NewSessionTicket]
    /// ChangeCipherSpec Finished; the client finishes.
    fn resume_session(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        server_hello: Vec<u8>,
        r: Resumed,
        ticket: Option<TicketIssuer>,
    ) -> Result<Step, Error> {
        let Resumed {
            session,
            expires,
            session_id,
        } = r;
        self.resumed = true;
        self.session_expiry = Some(expires);
        self.install_keys(session.suite, &session.master);
        let mut b = FlightBuilder::new(flow, self.next_send_seq);
        b.message(HandshakeType::ServerHello, server_hello);
        if let Some(t) = &ticket {
            let left = expires.saturating_duration_since(now);
            b.message(
                HandshakeType::NewSessionTicket,
                self.new_ticket(now, t, &session, left)?,
            );
        }
        b.change_cipher_spec().finished(&session.master, false);
        b.send(self, now, true)?;
        Ok(Step::WaitCcs(Keyed {
            suite: session.suite,
            master: session.master,
            identity: session.identity,
            session_id,
            finish: Finish::ServerResumed,
        }))
    }

    /// A NewSessionTicket body sealing `session` for at most `lifetime` (also capped by the
    /// ticket key's overlap).
    fn new_ticket(
        &self,
        now: Instant,
        issuer: &TicketIssuer,
        session: &Session,
        lifetime: Duration,
    ) -> Result<Vec<u8>, Error> {
        let lifetime = lifetime.min(issuer.cap);
        let ticket = issuer
            .key
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

    /// ClientKeyExchange: the PSK is looked up (or asked for) for its identity.
    pub(super) fn on_client_key_exchange(
        &mut self,
        flow: &mut Flow,
        s: ServerFull,
        m: &Message,
    ) -> Result<Step, Error> {
        let cke = ClientKeyExchange::parse(&m.body, s.suite.is_ecdhe())?;
        flow.transcript.add(m.msg_type, m.seq, &m.body);
        let req = PskRequest {
            identity: cke.identity,
            sni: flow.sni.clone(),
            suite: s.suite,
        };
        let cfg = self.server_config().cloned().ok_or(Error::Closed)?;
        let peer = PeerKx {
            psk_left: cfg.psk.key_lifetime(&req),
            identity: req.identity.clone(),
            point: cke.point,
        };
        let answer = match cfg.psk.lookup(&req) {
            PskAnswer::Ready(key) => Ok(key),
            PskAnswer::Pending => {
                self.events.push_back(Event::PskRequested {
                    identity: req.identity,
                    hint: None,
                    sni: req.sni,
                    suite: s.suite,
                });
                return Ok(Step::ServerPsk(s, peer));
            }
            PskAnswer::Unknown => Err(PskRefusal::UnknownIdentity),
            PskAnswer::Unavailable => Err(PskRefusal::Unavailable),
        };
        self.server_keys(flow, s, peer, answer)
    }

    /// Derives the keys from the PSK answer. RFC 4279 §2: an unknown identity gets a random
    /// key (the same work as a real one), so the handshake fails at the client's Finished
    /// with decrypt_error exactly as for a wrong key; [`Keyed::finished_failed`] then names
    /// the real cause on this side.
    fn server_keys(
        &mut self,
        flow: &mut Flow,
        s: ServerFull,
        peer: PeerKx,
        answer: Result<SecretVec, PskRefusal>,
    ) -> Result<Step, Error> {
        let (key, psk_unknown) = match answer {
            Ok(key) => (key, false),
            Err(PskRefusal::UnknownIdentity) => {
                let mut random = zeroize::Zeroizing::new([0u8; RANDOM_PSK_LEN]);
                self.common()
                    .rng
                    .fill(random.as_mut())
                    .map_err(|_| Error::Rng)?;
                (SecretVec::new(random.to_vec()), true)
            }
            Err(PskRefusal::Unavailable) => return Err(Error::PskUnavailable),
        };
        let kx = match (&s.ecdhe, &peer.point) {
            (Some(k), Some(p)) => Some((k, p.as_slice())),
            (None, None) => None,
            _ => return Err(Error::BadKeyShare),
        };
        let master = self.master_secret(&key, kx, &flow.transcript.hash())?;
        self.install_keys(s.suite, &master);
        Ok(Step::WaitCcs(Keyed {
            suite: s.suite,
            master,
            identity: peer.identity,
            session_id: s.session_id,
            finish: Finish::ServerFull {
                psk_left: peer.psk_left,
                psk_unknown,
                ticket: s.ticket,
            },
        }))
    }

    /// The client's Finished of a full handshake verified: our last flight,
    /// [NewSessionTicket] ChangeCipherSpec Finished.
    pub(super) fn server_last_flight(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        keyed: &Keyed,
    ) -> Result<(), Error> {
        let Finish::ServerFull {
            psk_left, ticket, ..
        } = &keyed.finish
        else {
            return Ok(());
        };
        let cfg = self.server_config().cloned().ok_or(Error::Closed)?;
        let lifetime = session_lifetime(cfg.session_lifetime, *psk_left);
        self.session_expiry = Some(now + lifetime);
        let nst = match ticket {
            Some(t) => {
                let session = Session {
                    suite: keyed.suite,
                    master: keyed.master.clone(),
                    identity: keyed.identity.clone(),
                    session_id: Vec::new(),
                    ticket: Vec::new(),
                    ticket_lifetime: 0,
                    server_name: flow.sni.clone(),
                };
                Some(self.new_ticket(now, t, &session, lifetime)?)
            }
            None => None,
        };
        self.send_last_flight(now, flow, keyed, nst)
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
        let Some(Step::ServerPsk(..)) = self.handshake().map(|h| &h.step) else {
            return Err(Error::NoPskRequest);
        };
        self.advance(now, |c, flow, step| match step {
            Step::ServerPsk(s, mut peer) => {
                if answer.is_ok() {
                    c.refresh_psk_lifetime(flow, s.suite, &mut peer);
                }
                c.server_keys(flow, s, peer, answer).map(Next::Handshake)
            }
            other => Ok(Next::Handshake(other)),
        });
        self.resume_after_psk(now);
        Ok(())
    }

    /// A key answered late (`Pending`, then `provide_psk`) was not in the store when
    /// `key_lifetime` was first asked: ask again now that it is, with the same identity, SNI
    /// and suite, so the session, its cache entry and its tickets never outlive the key. A
    /// store that still knows no limit leaves the earlier answer in place.
    fn refresh_psk_lifetime(&self, flow: &Flow, suite: CipherSuite, peer: &mut PeerKx) {
        let Some(cfg) = self.server_config() else {
            return;
        };
        let req = PskRequest {
            identity: peer.identity.clone(),
            sni: flow.sni.clone(),
            suite,
        };
        if let Some(left) = cfg.psk.key_lifetime(&req) {
            peer.psk_left = Some(left);
        }
    }

    /// Suites a server would pick for this hello (used by tests and diagnostics).
    pub fn server_suite_for(config: &ServerConfig, hello: &ClientHello) -> Option<CipherSuite> {
        config
            .common
            .suites
            .iter()
            .copied()
            .find(|s| !s.is_tls13() && hello.cipher_suites.contains(&s.iana()))
    }
}

/// A session the hello resumes: the session, until when it may be resumed, and the session
/// ID our ServerHello echoes.
struct Resumed {
    session: Session,
    expires: Instant,
    session_id: Vec<u8>,
}

/// Whether this hello can resume `session` (found by the endpoint): not expired, its suite
/// offered and still allowed, the same SNI. The caller also refuses a hello without
/// extended master secret (RFC 7627 §5.3: it gets a full handshake).
fn can_resume(
    config: &ServerConfig,
    hello: &ClientHello,
    sni: Option<&str>,
    now: Instant,
    (session, expires): &(Session, Instant),
) -> bool {
    now < *expires
        && hello.cipher_suites.contains(&session.suite.iana())
        && config.common.suites.contains(&session.suite)
        && session.server_name.as_deref() == sni
}

/// The first of our suites that the hello offers (ECDHE_PSK only if it can do P-256).
fn choose_suite(config: &ServerConfig, hello: &ClientHello) -> Result<CipherSuite, Error> {
    let p256 = hello
        .extensions
        .supported_groups()?
        .is_none_or(|g| g.contains(&GROUP_SECP256R1));
    config
        .common
        .suites
        .iter()
        .copied()
        .filter(|s| !s.is_tls13())
        .find(|s| hello.cipher_suites.contains(&s.iana()) && (!s.is_ecdhe() || p256))
        .ok_or(Error::NoCommonSuite)
}
