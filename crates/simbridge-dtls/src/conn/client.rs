//! Client handshake: ClientHello (+cookie) -> ServerHello [ServerKeyExchange] ServerHelloDone
//! -> ClientKeyExchange ChangeCipherSpec Finished -> ChangeCipherSpec Finished.

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{Connection, Role, State};
use crate::config::{ClientConfig, ClientPsk, EmsPolicy, PskAnswer};
use crate::crypto::ecdhe::EphemeralKey;
use crate::error::Error;
use crate::event::Event;
use crate::flight::{Flight, FlightItem};
use crate::reassembly::Message;
use crate::suite::CipherSuite;
use crate::wire::extensions::{
    connection_id_data, ec_point_formats_uncompressed, server_name_data, supported_groups_p256,
    Extensions, EXT_CONNECTION_ID, EXT_EC_POINT_FORMATS, EXT_EXTENDED_MASTER_SECRET,
    EXT_RENEGOTIATION_INFO, EXT_SERVER_NAME, EXT_SESSION_TICKET, EXT_SUPPORTED_GROUPS,
};
use crate::wire::handshake::HandshakeType;
use crate::wire::hello::{
    ClientHello, HelloVerifyRequest, ServerHello, EMPTY_RENEGOTIATION_INFO_SCSV,
};
use crate::wire::kx::{parse_empty, parse_finished, ClientKeyExchange, ServerKeyExchange};
use crate::wire::record::{DTLS12, MAX_CID};
use crate::wire::ticket::NewSessionTicket;

/// HelloVerifyRequests accepted before giving up (a server rotating secrets sends a second one).
const MAX_HELLO_VERIFY: u8 = 3;

impl Connection {
    /// Starts a client handshake; the first ClientHello is ready in `poll_transmit`.
    pub fn client(config: Arc<ClientConfig>, now: Instant) -> Result<Self, Error> {
        if config.common.suites.is_empty() {
            return Err(Error::NoCommonSuite);
        }
        let mut c = Connection::new(Role::Client(config.clone()));
        let mut random = [0u8; 32];
        c.common().rng.fill(&mut random).map_err(|_| Error::Rng)?;
        let suites = &config.common.suites;
        let mut extensions = Extensions::default();
        extensions.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        if let Some(name) = &config.server_name {
            extensions.push(EXT_SERVER_NAME, server_name_data(name));
        }
        if suites.iter().any(|s| s.is_ecdhe()) {
            extensions.push(EXT_SUPPORTED_GROUPS, supported_groups_p256());
            extensions.push(EXT_EC_POINT_FORMATS, ec_point_formats_uncompressed());
        }
        if let Some(len) = config.connection_id {
            if len > MAX_CID {
                return Err(Error::IllegalParameter(
                    "connection_id longer than 255 bytes",
                ));
            }
            let mut cid = vec![0u8; len];
            c.common().rng.fill(&mut cid).map_err(|_| Error::Rng)?;
            extensions.push(EXT_CONNECTION_ID, connection_id_data(&cid));
            c.hs().offered_cid = Some(cid);
        }
        // resumption: offer the session by ID and, if we hold one, by ticket (RFC 5077 §3.4:
        // with a ticket the client makes up a session ID, echoed when the server accepts)
        let resume = config
            .resume
            .clone()
            .filter(|s| suites.contains(&s.suite) && s.server_name == config.server_name);
        let mut session_id = Vec::new();
        if let Some(s) = &resume {
            session_id = s.session_id.clone();
            if session_id.is_empty() && !s.ticket.is_empty() {
                // 16 bytes: short for the hellos, long enough for every server we met
                session_id = vec![0u8; 16];
                c.common()
                    .rng
                    .fill(&mut session_id)
                    .map_err(|_| Error::Rng)?;
            }
        }
        match &resume {
            Some(s) if !s.ticket.is_empty() => {
                extensions.push(EXT_SESSION_TICKET, s.ticket.clone());
            }
            _ if config.session_tickets => extensions.push(EXT_SESSION_TICKET, vec![]),
            _ => {}
        }
        if let Some(s) = &resume {
            // a ticket-holding client keeps its ticket unless the server sends a new one
            c.hs().ticket = s.ticket.clone();
            c.hs().ticket_lifetime = s.ticket_lifetime;
        }
        c.hs().resuming = resume.filter(|_| !session_id.is_empty());
        let mut cipher_suites: Vec<u16> = suites.iter().map(|s| s.iana()).collect();
        cipher_suites.push(EMPTY_RENEGOTIATION_INFO_SCSV);
        let ch = ClientHello {
            version: DTLS12,
            random,
            session_id,
            cookie: vec![],
            cipher_suites,
            compression_methods: vec![0],
            extensions,
        };
        c.client_random = random;
        c.hs().sni = config.server_name.clone();
        c.hs().client_hello = Some(ch);
        c.state = State::ClientWaitHello;
        c.send_client_hello(now)?;
        Ok(c)
    }

    fn client_config(&self) -> Option<&Arc<ClientConfig>> {
        match &self.role {
            Role::Client(c) => Some(c),
            Role::Server(_) => None,
        }
    }

    pub(super) fn send_client_hello(&mut self, now: Instant) -> Result<(), Error> {
        let body = self
            .hs()
            .client_hello
            .as_ref()
            .map(ClientHello::encode)
            .ok_or(Error::Closed)?;
        let seq = self.next_send_seq;
        self.next_send_seq = self.next_send_seq.wrapping_add(1);
        self.hs().transcript.clear();
        self.transcript_add(HandshakeType::ClientHello, seq, &body);
        let item = FlightItem::Handshake {
            msg_type: HandshakeType::ClientHello,
            seq,
            body,
            epoch: 0,
        };
        self.send_flight(now, Flight { items: vec![item] }, true)
    }

    pub(super) fn client_message(&mut self, now: Instant, m: Message) -> Result<(), Error> {
        let state = std::mem::replace(&mut self.state, State::Closed);
        let res = self.client_step(now, state, &m);
        match res {
            Ok(next) => {
                self.state = next;
                Ok(())
            }
            Err(e) => {
                // restore a live state so `fail` sends the alert and closes cleanly
                self.state = State::WaitCcs;
                Err(e)
            }
        }
    }

    fn client_step(&mut self, now: Instant, state: State, m: &Message) -> Result<State, Error> {
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
            (State::ClientWaitHello, T::HelloVerifyRequest) => {
                let hvr = HelloVerifyRequest::parse(&m.body)?;
                self.hs().hello_verify_count += 1;
                if self.hs().hello_verify_count > MAX_HELLO_VERIFY {
                    return Err(Error::UnexpectedMessage("too many HelloVerifyRequests"));
                }
                if let Some(ch) = self.hs().client_hello.as_mut() {
                    ch.cookie = hvr.cookie;
                }
                self.hs().peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
                self.send_client_hello(now)?;
                Ok(State::ClientWaitHello)
            }
            (State::ClientWaitHello, T::ServerHello) => {
                if self.on_server_hello(m)? {
                    Ok(State::WaitCcs)
                } else {
                    Ok(State::ClientWaitServerKx)
                }
            }
            (State::WaitCcs, T::NewSessionTicket) if self.hs().ticket_expected => {
                let nst = NewSessionTicket::parse(&m.body)?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().ticket_expected = false;
                self.hs().ticket = nst.ticket;
                self.hs().ticket_lifetime = nst.lifetime_hint;
                Ok(State::WaitCcs)
            }
            (State::WaitFinished, T::Finished) if self.resumed => {
                // abbreviated handshake: the server finished first; we answer CCS + Finished
                let got = parse_finished(&m.body)?;
                let token = self.verify_finished(&got)?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
                let fin = self.our_verify_data()?.to_vec();
                let seq = self.next_send_seq;
                self.next_send_seq = seq.wrapping_add(1);
                let flight = Flight {
                    items: vec![
                        FlightItem::Ccs { epoch: 0 },
                        FlightItem::Handshake {
                            msg_type: T::Finished,
                            seq,
                            body: fin,
                            epoch: 1,
                        },
                    ],
                };
                self.send_epoch = 1;
                // last flight: kept to answer a retransmitted server Finished, no timer
                self.send_flight(now, flight, false)?;
                Ok(self.established(now, token))
            }
            (State::ClientWaitServerKx, T::ServerKeyExchange) => {
                let ecdhe = self.suite.is_some_and(CipherSuite::is_ecdhe);
                let ske = ServerKeyExchange::parse(&m.body, ecdhe)?;
                self.hs().hint = Some(ske.hint().to_vec()).filter(|h| !h.is_empty());
                if let ServerKeyExchange::EcdhePsk { point, .. } = ske {
                    self.hs().peer_point = Some(point);
                }
                self.transcript_add(m.msg_type, m.seq, &m.body);
                Ok(State::ClientWaitDone)
            }
            (State::ClientWaitServerKx | State::ClientWaitDone, T::ServerHelloDone) => {
                parse_empty(&m.body, "server_hello_done")?;
                if self.suite.is_some_and(CipherSuite::is_ecdhe) && self.hs().peer_point.is_none() {
                    return Err(Error::UnexpectedMessage(
                        "ECDHE_PSK without ServerKeyExchange",
                    ));
                }
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
                self.client_ask_psk(now)
            }
            (State::WaitFinished, T::Finished) => {
                let got = parse_finished(&m.body)?;
                let token = self.verify_finished(&got)?;
                self.transcript_add(m.msg_type, m.seq, &m.body);
                self.hs().flight = None;
                self.hs().retx = None;
                Ok(self.established(now, token))
            }
            (_, T::Finished) => Err(Error::UnexpectedMessage("Finished before ChangeCipherSpec")),
            (_, T::HelloVerifyRequest) => Err(Error::UnexpectedMessage(
                "HelloVerifyRequest after ServerHello",
            )),
            (_, T::ServerHello) => Err(Error::UnexpectedMessage(
                "second ServerHello (flight restart)",
            )),
            (_, _) => Err(Error::UnexpectedMessage("handshake message out of order")),
        }
    }

    /// Handles ServerHello; true when the server resumed our session (abbreviated handshake).
    fn on_server_hello(&mut self, m: &Message) -> Result<bool, Error> {
        let sh = ServerHello::parse(&m.body)?;
        if sh.version != DTLS12 {
            return Err(Error::IllegalParameter("server_version"));
        }
        let offered = self
            .client_config()
            .map(|c| c.common.suites.clone())
            .unwrap_or_default();
        let suite = CipherSuite::from_iana(sh.cipher_suite)
            .filter(|s| offered.contains(s))
            .ok_or(Error::SuiteNotOffered(sh.cipher_suite))?;
        if sh.compression_method != 0 {
            return Err(Error::IllegalParameter("compression_method"));
        }
        for e in &sh.extensions.0 {
            let sent = match e.typ {
                EXT_EXTENDED_MASTER_SECRET | EXT_RENEGOTIATION_INFO => true,
                EXT_SERVER_NAME => self.hs().sni.is_some(),
                EXT_EC_POINT_FORMATS => offered.iter().any(|s| s.is_ecdhe()),
                EXT_CONNECTION_ID => self.hs().offered_cid.is_some(),
                EXT_SESSION_TICKET => self
                    .hs()
                    .client_hello
                    .as_ref()
                    .is_some_and(|ch| ch.extensions.get(EXT_SESSION_TICKET).is_some()),
                _ => false,
            };
            if !sent {
                return Err(Error::IllegalParameter(
                    "extension the client did not offer",
                ));
            }
        }
        if !sh.extensions.extended_master_secret()? {
            let policy = self
                .client_config()
                .map(|c| c.extended_master_secret)
                .unwrap_or_default();
            match policy {
                EmsPolicy::Required => return Err(Error::NoExtendedMasterSecret),
                EmsPolicy::Preferred => self.stats.without_extended_master_secret = true,
            }
        }
        if let Some(ri) = sh.extensions.renegotiation_info()? {
            if !ri.is_empty() {
                return Err(Error::IllegalParameter("renegotiation_info"));
            }
        }
        let ours = self.hs().offered_cid.clone();
        if let (Some(ours), Some(peer)) = (ours, sh.extensions.connection_id()?) {
            // RFC 9146: each side names the CID it wants to receive
            self.rl.set_cids(ours, peer);
            self.cid_negotiated = true;
        }
        self.suite = Some(suite);
        self.server_random = sh.random;
        self.transcript_add(m.msg_type, m.seq, &m.body);
        if let Some(t) = sh.extensions.get(EXT_SESSION_TICKET) {
            if !t.is_empty() {
                return Err(Error::IllegalParameter("session_ticket in ServerHello"));
            }
            self.hs().ticket_expected = true;
        }
        let offered_id = self
            .hs()
            .client_hello
            .as_ref()
            .map(|ch| ch.session_id.clone())
            .unwrap_or_default();
        self.hs().session_id = sh.session_id.clone();
        let resumed = !sh.session_id.is_empty() && sh.session_id == offered_id;
        let Some(session) = self.hs().resuming.take().filter(|_| resumed) else {
            if resumed {
                return Err(Error::IllegalParameter(
                    "session_id echoed but nothing offered",
                ));
            }
            // a full handshake: a ticket we held is spent
            self.hs().ticket.clear();
            return Ok(false);
        };
        if self.stats.without_extended_master_secret {
            // RFC 7627 §5.3: our sessions all used EMS; a resumption without it is aborted
            return Err(Error::NoExtendedMasterSecret);
        }
        if session.suite != suite {
            return Err(Error::IllegalParameter(
                "resumed session with another suite",
            ));
        }
        if !self.hs().ticket_expected && session.ticket.is_empty() {
            self.hs().ticket.clear();
        }
        self.hs().identity = session.identity.clone();
        self.resumed = true;
        self.install_keys(session.master.clone())?;
        Ok(true)
    }

    fn client_ask_psk(&mut self, now: Instant) -> Result<State, Error> {
        let suite = self.suite.ok_or(Error::UnexpectedMessage(
            "ServerHelloDone before ServerHello",
        ))?;
        let cfg = self.client_config().cloned().ok_or(Error::Closed)?;
        match cfg.psk.psk(self.hs().hint.as_deref(), suite) {
            PskAnswer::Ready(psk) => self.client_key_exchange(now, psk),
            PskAnswer::Pending => {
                let hint = self.hs().hint.clone();
                let sni = self.hs().sni.clone();
                self.events.push_back(Event::PskRequested {
                    identity: vec![],
                    hint,
                    sni,
                    suite,
                });
                Ok(State::ClientWaitPsk)
            }
            PskAnswer::Unknown | PskAnswer::Unavailable => Err(Error::NoPsk),
        }
    }

    fn client_key_exchange(&mut self, now: Instant, psk: ClientPsk) -> Result<State, Error> {
        let ecdhe = self.suite.is_some_and(CipherSuite::is_ecdhe);
        let point = if ecdhe {
            let key = EphemeralKey::generate(self.common().rng.as_ref()).map_err(|_| Error::Rng)?;
            let p = key.public_point();
            self.hs().ecdhe = Some(key);
            Some(p)
        } else {
            None
        };
        let cke = ClientKeyExchange {
            identity: psk.identity.clone(),
            point,
        }
        .encode();
        let cke_seq = self.next_send_seq;
        self.transcript_add(HandshakeType::ClientKeyExchange, cke_seq, &cke);
        self.derive_keys(&psk.key)?;
        self.hs().identity = psk.identity;
        let fin = self.our_verify_data()?.to_vec();
        let fin_seq = cke_seq.wrapping_add(1);
        self.next_send_seq = fin_seq.wrapping_add(1);
        self.transcript_add(HandshakeType::Finished, fin_seq, &fin);
        let flight = Flight {
            items: vec![
                FlightItem::Handshake {
                    msg_type: HandshakeType::ClientKeyExchange,
                    seq: cke_seq,
                    body: cke,
                    epoch: 0,
                },
                FlightItem::Ccs { epoch: 0 },
                FlightItem::Handshake {
                    msg_type: HandshakeType::Finished,
                    seq: fin_seq,
                    body: fin,
                    epoch: 1,
                },
            ],
        };
        self.send_epoch = 1;
        self.send_flight(now, flight, true)?;
        Ok(State::WaitCcs)
    }

    /// Answers a `PskRequested` event on a client: `None` fails the handshake.
    pub fn provide_client_psk(
        &mut self,
        now: Instant,
        psk: Option<ClientPsk>,
    ) -> Result<(), Error> {
        if !matches!(self.state, State::ClientWaitPsk) {
            return Err(Error::NoPskRequest);
        }
        let res = match psk {
            Some(p) => self.client_key_exchange(now, p),
            None => Err(Error::NoPsk),
        };
        match res {
            Ok(s) => {
                self.state = s;
                self.resume_after_psk(now);
            }
            Err(e) => {
                self.state = State::WaitCcs;
                self.fail(e);
            }
        }
        Ok(())
    }
}
