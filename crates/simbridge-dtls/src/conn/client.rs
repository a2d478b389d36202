//! Client handshake: ClientHello (+cookie) -> ServerHello [ServerKeyExchange] ServerHelloDone
//! -> ClientKeyExchange ChangeCipherSpec Finished -> ChangeCipherSpec Finished.

use std::sync::Arc;
use std::time::Instant;

use super::flight_builder::FlightBuilder;
use super::machine::{
    ClientEnd, ClientFull, ClientHelloSent, ClientTicket, Finish, Flow, Handshake, Keyed, Next,
    Step,
};
use super::{Connection, Role, State};
use crate::config::{ClientConfig, ClientPsk, EmsPolicy, PskAnswer};
use crate::crypto::ecdhe::EphemeralKey;
use crate::error::{Error, IllegalParameter, Unexpected};
use crate::event::Event;
use crate::reassembly::Message;
use crate::session::Session;
use crate::suite::CipherSuite;
use crate::wire::Field;
use crate::wire::extensions::{
    EXT_CONNECTION_ID, EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET, EXT_RENEGOTIATION_INFO,
    EXT_SERVER_NAME, EXT_SESSION_TICKET, EXT_SUPPORTED_GROUPS, Extensions, connection_id_data,
    ec_point_formats_uncompressed, server_name_data, supported_groups_p256,
};
use crate::wire::handshake::HandshakeType;
use crate::wire::hello::{
    ClientHello, EMPTY_RENEGOTIATION_INFO_SCSV, HelloVerifyRequest, ServerHello,
};
use crate::wire::kx::{ClientKeyExchange, ServerKeyExchange, parse_empty};
use crate::wire::record::{DTLS12, MAX_CID};
use crate::wire::ticket::NewSessionTicket;

/// HelloVerifyRequests accepted before giving up (a server rotating secrets sends a second one).
const MAX_HELLO_VERIFY: u8 = 3;

impl Connection {
    /// Starts a client handshake; the first ClientHello is ready in `poll_transmit`.
    pub fn client(config: Arc<ClientConfig>, now: Instant) -> Result<Self, Error> {
        // DTLS 1.3 suites in the list are for a 1.3 connection; this handshake offers the rest.
        if config.common.suites.iter().all(|s| s.is_tls13()) {
            return Err(Error::NoCommonSuite);
        }
        let mut c = Connection::new(Role::Client(config.clone()));
        let mut random = [0u8; 32];
        c.common().rng.fill(&mut random).map_err(|_| Error::Rng)?;
        let (mut extensions, offered_cid) = c.hello_extensions(&config)?;
        let (resume, session_id) = c.offer_resumption(&config)?;
        match &resume {
            Some(s) if !s.ticket.is_empty() => {
                extensions.push(EXT_SESSION_TICKET, s.ticket.clone());
            }
            _ if config.session_tickets => extensions.push(EXT_SESSION_TICKET, vec![]),
            _ => {}
        }
        // a ticket-holding client keeps its ticket unless the server sends a new one
        let ticket = resume
            .as_ref()
            .map_or_else(ClientTicket::default, |s| ClientTicket {
                ticket: s.ticket.clone(),
                lifetime: s.ticket_lifetime,
            });
        let resuming = resume.filter(|_| !session_id.is_empty());
        let mut cipher_suites: Vec<u16> = (config.common.suites.iter())
            .filter(|s| !s.is_tls13())
            .map(|s| s.iana())
            .collect();
        cipher_suites.push(EMPTY_RENEGOTIATION_INFO_SCSV);
        let hello = ClientHello {
            version: DTLS12,
            random,
            session_id,
            cookie: vec![],
            cipher_suites,
            compression_methods: vec![0],
            extensions,
        };
        c.client_random = random;
        let mut flow = Flow::new(config.server_name.clone());
        c.send_client_hello(now, &mut flow, &hello)?;
        let step = Step::ClientHello(ClientHelloSent {
            hello,
            hello_verify_count: 0,
            offered_cid,
            resuming,
            ticket,
        });
        c.state = State::Handshaking(Box::new(Handshake { step, flow }));
        Ok(c)
    }

    /// The hello's extensions but the session ticket, and the Connection ID we ask for.
    fn hello_extensions(
        &self,
        config: &ClientConfig,
    ) -> Result<(Extensions, Option<Vec<u8>>), Error> {
        let mut extensions = Extensions::default();
        extensions.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        if let Some(name) = &config.server_name {
            extensions.push(EXT_SERVER_NAME, server_name_data(name));
        }
        if config.common.suites.iter().any(|s| s.is_ecdhe()) {
            extensions.push(EXT_SUPPORTED_GROUPS, supported_groups_p256());
            extensions.push(EXT_EC_POINT_FORMATS, ec_point_formats_uncompressed());
        }
        let mut offered_cid = None;
        if let Some(len) = config.connection_id {
            if len > MAX_CID {
                return Err(Error::ConnectionIdTooLong(len));
            }
            let mut cid = vec![0u8; len];
            self.common().rng.fill(&mut cid).map_err(|_| Error::Rng)?;
            extensions.push(EXT_CONNECTION_ID, connection_id_data(&cid));
            offered_cid = Some(cid);
        }
        Ok((extensions, offered_cid))
    }

    /// The configured session to resume, if this config can resume it, and the session ID
    /// to offer: the session's, or, for a ticket, one we make up (RFC 5077 §3.4: echoed when
    /// the server accepts the ticket).
    fn offer_resumption(&self, config: &ClientConfig) -> Result<(Option<Session>, Vec<u8>), Error> {
        let resume = config.resume.clone().filter(|s| {
            config.common.suites.contains(&s.suite) && s.server_name == config.server_name
        });
        let mut session_id = Vec::new();
        if let Some(s) = &resume {
            session_id = s.session_id.clone();
            if session_id.is_empty() && !s.ticket.is_empty() {
                // 16 bytes: short for the hellos, long enough for every server we met
                session_id = vec![0u8; 16];
                self.common()
                    .rng
                    .fill(&mut session_id)
                    .map_err(|_| Error::Rng)?;
            }
        }
        Ok((resume, session_id))
    }

    fn client_config(&self) -> Option<&Arc<ClientConfig>> {
        match &self.role {
            Role::Client(c) => Some(c),
            Role::Server(_) => None,
        }
    }

    /// Sends `hello` as a flight of its own; the transcript starts again with it (RFC 6347
    /// §4.2.1: the hello before a HelloVerifyRequest is not part of it).
    fn send_client_hello(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        hello: &ClientHello,
    ) -> Result<(), Error> {
        flow.transcript = Default::default();
        let mut b = FlightBuilder::new(flow, self.next_send_seq);
        b.message(HandshakeType::ClientHello, hello.encode());
        b.send(self, now, true)
    }

    /// Test hook: changes the ClientHello of a client still waiting for the ServerHello and
    /// sends it again.
    #[cfg(test)]
    pub(super) fn resend_edited_hello(
        &mut self,
        now: Instant,
        edit: impl FnOnce(&mut ClientHello),
    ) {
        self.advance(now, |c, flow, step| match step {
            Step::ClientHello(mut s) => {
                edit(&mut s.hello);
                c.send_client_hello(now, flow, &s.hello)?;
                Ok(Next::Handshake(Step::ClientHello(s)))
            }
            other => Ok(Next::Handshake(other)),
        });
    }

    /// A HelloVerifyRequest: the hello again, with its cookie.
    pub(super) fn on_hello_verify(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        mut s: ClientHelloSent,
        m: &Message,
    ) -> Result<ClientHelloSent, Error> {
        let hvr = HelloVerifyRequest::parse(&m.body)?;
        s.hello_verify_count += 1;
        if s.hello_verify_count > MAX_HELLO_VERIFY {
            return Err(Unexpected::TooManyHelloVerifyRequests.into());
        }
        s.hello.cookie = hvr.cookie;
        flow.note_peer_last(m);
        self.send_client_hello(now, flow, &s.hello)?;
        Ok(s)
    }

    /// Handles ServerHello: a full handshake goes on to the server's key exchange; a resumed
    /// session (abbreviated handshake) has its keys at once.
    pub(super) fn on_server_hello(
        &mut self,
        flow: &mut Flow,
        s: ClientHelloSent,
        m: &Message,
    ) -> Result<Step, Error> {
        let sh = ServerHello::parse(&m.body)?;
        let suite = self.check_server_hello(flow, &s, &sh)?;
        if let (Some(ours), Some(peer)) = (s.offered_cid, sh.extensions.connection_id()?) {
            // RFC 9146: each side names the CID it wants to receive
            self.rl.set_cids(ours, peer);
            self.cid_negotiated = true;
        }
        self.suite = Some(suite);
        self.server_random = sh.random;
        flow.transcript.add(m.msg_type, m.seq, &m.body);
        let mut end = ClientEnd {
            ticket_expected: false,
            ticket: s.ticket,
        };
        if let Some(t) = sh.extensions.get(EXT_SESSION_TICKET) {
            if !t.is_empty() {
                return Err(IllegalParameter::TicketInServerHello.into());
            }
            end.ticket_expected = true;
        }
        let resumed = !sh.session_id.is_empty() && sh.session_id == s.hello.session_id;
        match s.resuming.filter(|_| resumed) {
            Some(session) => self.accept_resumption(suite, session, sh.session_id, end),
            None if resumed => Err(IllegalParameter::SessionIdNotOffered.into()),
            None => {
                // a full handshake: a ticket we held is spent
                end.ticket.ticket.clear();
                Ok(Step::ClientServerKx(ClientFull {
                    suite,
                    session_id: sh.session_id,
                    end,
                }))
            }
        }
    }

    /// Checks a ServerHello against our hello and config; returns the suite it chose.
    fn check_server_hello(
        &mut self,
        flow: &Flow,
        s: &ClientHelloSent,
        sh: &ServerHello,
    ) -> Result<CipherSuite, Error> {
        if sh.version != DTLS12 {
            return Err(IllegalParameter::ServerVersion.into());
        }
        let cfg = self.client_config().cloned().ok_or(Error::Closed)?;
        let offered = &cfg.common.suites;
        let suite = CipherSuite::from_iana(sh.cipher_suite)
            .filter(|s| !s.is_tls13() && offered.contains(s))
            .ok_or(Error::SuiteNotOffered(sh.cipher_suite))?;
        if sh.compression_method != 0 {
            return Err(IllegalParameter::CompressionMethod.into());
        }
        if cfg.downgrade_check && sh.random[24..] == super::server::DOWNGRADE_SENTINEL_12 {
            return Err(IllegalParameter::DowngradeSentinel.into());
        }
        for e in &sh.extensions.0 {
            let sent = match e.typ {
                EXT_EXTENDED_MASTER_SECRET | EXT_RENEGOTIATION_INFO => true,
                EXT_SERVER_NAME => flow.sni.is_some(),
                EXT_EC_POINT_FORMATS => offered.iter().any(|s| s.is_ecdhe()),
                EXT_CONNECTION_ID => s.offered_cid.is_some(),
                EXT_SESSION_TICKET => s.hello.extensions.get(EXT_SESSION_TICKET).is_some(),
                _ => false,
            };
            if !sent {
                return Err(IllegalParameter::UnofferedExtension.into());
            }
        }
        if !sh.extensions.extended_master_secret()? {
            match cfg.extended_master_secret {
                EmsPolicy::Required => return Err(Error::NoExtendedMasterSecret),
                EmsPolicy::Preferred => self.stats.without_extended_master_secret = true,
            }
        }
        if let Some(ri) = sh.extensions.renegotiation_info()? {
            if !ri.is_empty() {
                return Err(IllegalParameter::RenegotiationInfo.into());
            }
        }
        Ok(suite)
    }

    /// The server resumed the session we offered (abbreviated handshake): its keys at once.
    fn accept_resumption(
        &mut self,
        suite: CipherSuite,
        session: Session,
        session_id: Vec<u8>,
        mut end: ClientEnd,
    ) -> Result<Step, Error> {
        if self.stats.without_extended_master_secret {
            // RFC 7627 §5.3: our sessions all used EMS; a resumption without it is aborted
            return Err(Error::NoExtendedMasterSecret);
        }
        if session.suite != suite {
            return Err(IllegalParameter::ResumedWithAnotherSuite.into());
        }
        if !end.ticket_expected && session.ticket.is_empty() {
            end.ticket.ticket.clear();
        }
        self.resumed = true;
        self.install_keys(suite, &session.master);
        Ok(Step::WaitCcs(Keyed {
            suite,
            master: session.master,
            identity: session.identity,
            session_id,
            finish: Finish::ClientResumed(end),
        }))
    }

    /// ServerHelloDone (after `ske`, the server's key exchange, or none for plain PSK
    /// without a hint): our key exchange once the PSK is known.
    pub(super) fn on_server_hello_done(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        s: ClientFull,
        ske: ServerKeyExchange,
        m: &Message,
    ) -> Result<Step, Error> {
        parse_empty(&m.body, Field::ServerHelloDone)?;
        flow.transcript.add(m.msg_type, m.seq, &m.body);
        flow.note_peer_last(m);
        let cfg = self.client_config().cloned().ok_or(Error::Closed)?;
        let hint = Some(ske.hint()).filter(|h| !h.is_empty());
        match cfg.psk.psk(hint, s.suite) {
            PskAnswer::Ready(psk) => self.client_key_exchange(now, flow, s, ske, psk),
            PskAnswer::Pending => {
                self.events.push_back(Event::PskRequested {
                    identity: vec![],
                    hint: hint.map(<[u8]>::to_vec),
                    sni: flow.sni.clone(),
                    suite: s.suite,
                });
                Ok(Step::ClientPsk(s, ske))
            }
            PskAnswer::Unknown | PskAnswer::Unavailable => Err(Error::NoPsk),
        }
    }

    /// Sends ClientKeyExchange, ChangeCipherSpec and Finished.
    fn client_key_exchange(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        s: ClientFull,
        ske: ServerKeyExchange,
        psk: ClientPsk,
    ) -> Result<Step, Error> {
        let ecdhe = match ske {
            ServerKeyExchange::EcdhePsk { point, .. } => {
                let rng = self.common().rng.as_ref();
                let key = EphemeralKey::generate(rng).map_err(|_| Error::Rng)?;
                Some((key, point))
            }
            ServerKeyExchange::Psk { .. } => None,
        };
        let cke = ClientKeyExchange {
            identity: psk.identity.clone(),
            point: ecdhe.as_ref().map(|(key, _)| key.public_point()),
        }
        .encode();
        let mut b = FlightBuilder::new(flow, self.next_send_seq);
        b.message(HandshakeType::ClientKeyExchange, cke);
        let kx = ecdhe.as_ref().map(|(key, point)| (key, point.as_slice()));
        let master = self.master_secret(&psk.key, kx, &b.transcript_hash())?;
        self.install_keys(s.suite, &master);
        b.change_cipher_spec().finished(&master, true);
        b.send(self, now, true)?;
        Ok(Step::WaitCcs(Keyed {
            suite: s.suite,
            master,
            identity: psk.identity,
            session_id: s.session_id,
            finish: Finish::ClientFull(s.end),
        }))
    }

    /// A NewSessionTicket before the server's ChangeCipherSpec (RFC 5077 §3.3).
    pub(super) fn on_new_session_ticket(
        &mut self,
        flow: &mut Flow,
        keyed: &mut Keyed,
        m: &Message,
    ) -> Result<(), Error> {
        let nst = NewSessionTicket::parse(&m.body)?;
        flow.transcript.add(m.msg_type, m.seq, &m.body);
        if let Finish::ClientFull(end) | Finish::ClientResumed(end) = &mut keyed.finish {
            end.ticket_expected = false;
            end.ticket = ClientTicket {
                ticket: nst.ticket,
                lifetime: nst.lifetime_hint,
            };
        }
        Ok(())
    }

    /// Sends the handshake's last flight: [NewSessionTicket] ChangeCipherSpec Finished. It
    /// has no timer: it is sent again when the peer's last flight repeats.
    pub(super) fn send_last_flight(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        keyed: &Keyed,
        ticket: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let client = self.is_client();
        let mut b = FlightBuilder::new(flow, self.next_send_seq);
        if let Some(nst) = ticket {
            b.message(HandshakeType::NewSessionTicket, nst);
        }
        b.change_cipher_spec().finished(&keyed.master, client);
        b.send(self, now, false)
    }

    /// Answers a `PskRequested` event on a client: `None` fails the handshake.
    pub fn provide_client_psk(
        &mut self,
        now: Instant,
        psk: Option<ClientPsk>,
    ) -> Result<(), Error> {
        let Some(Step::ClientPsk(..)) = self.handshake().map(|h| &h.step) else {
            return Err(Error::NoPskRequest);
        };
        self.advance(now, |c, flow, step| match step {
            Step::ClientPsk(s, ske) => {
                let psk = psk.ok_or(Error::NoPsk)?;
                c.client_key_exchange(now, flow, s, ske, psk)
                    .map(Next::Handshake)
            }
            other => Ok(Next::Handshake(other)),
        });
        self.resume_after_psk(now);
        Ok(())
    }
}
