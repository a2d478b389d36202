//! One client connection for either DTLS version: [`ClientLink`] wraps the DTLS 1.2
//! [`Connection`] or the DTLS 1.3 [`Connection13`] behind the API a long-lived session needs
//! (datagrams in and out, timers, [`Event`]s, send, close, counters, state export), so that a
//! gateway's session policy drives both the same way.
//!
//! What the DTLS 1.3 side adds to [`Connection13`]:
//! - The PSK before the ClientHello: its binder needs the key (RFC 8446 §4.2.11), so the key
//!   is asked for at once, for the first DTLS 1.3 suite configured (one key serves every TLS
//!   1.3 suite: the binder's hash is SHA-256 in all of them). A source that answers later
//!   (a GBA_U card) gets [`Event::PskRequested`] and the ClientHello goes out on
//!   [`ClientLink::provide_client_psk`].
//! - The 1.2 event and close vocabulary: [`Close13`] becomes a [`CloseReason`] whose
//!   [`CloseReason::failure_kind`] a retry policy reads (a binder or Finished that does not
//!   verify or a refusing alert: `KeyRejected`; silence: `Timeout`).
//! - The 1.2 [`Stats`], counted here from the datagrams that pass.
//! - KeyUpdate instead of a new handshake: when the sending key nears its confidentiality limit
//!   (RFC 9147 §4.5.3), or after a set number of records ([`ClientLink::set_key_update_after`]).
//!
//! - Tickets and 0-RTT: [`ClientLink::connect_with_early_data`] resumes with a ticket (kept
//!   from an earlier session's [`ClientLink::take_ticket`]) and sends early data as 0-RTT when
//!   the ticket allows it; [`Event::EarlyDataStatus`] says whether the server took it (if not,
//!   the data went again after the handshake).
//!
//! `Versions::Auto`: the DTLS 1.3 ClientHello first; when the server answers in DTLS 1.2, a
//! DTLS 1.2 handshake of its own with the downgrade sentinel checked
//! (`crate::version_fallback` says why and how).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{ClientConfig, ClientPsk, PskAnswer};
use crate::conn::Connection;
use crate::error::Error;
use crate::event::{CloseReason, Event};
use crate::export::{ExportError, ImportLedger, ImportRole};
use crate::session::Session;
use crate::stats::{HandshakeKind, Stats};
use crate::suite::CipherSuite;
use crate::v13::client::ClientConfig13;
use crate::v13::connection::{Connection13, Event13};
use crate::v13::handshake::Handshake13Error;
use crate::v13::importer::import_for_dtls13;
use crate::v13::key_share::X25519;
use crate::v13::ticket::{Resume13, Ticket13};
use crate::version::Versions;

/// A client connection of either DTLS version.
pub struct ClientLink {
    inner: Inner,
    /// `Versions::Auto` before the server's answer: a DTLS 1.2 answer makes it fall back.
    auto: bool,
    /// What the DTLS 1.3 attempt sent and received before a fall-back (counted in `stats`).
    before_fallback: Option<Stats>,
}

enum Inner {
    V12(Box<Connection>),
    V13(Box<Link13>),
}

/// The DTLS 1.3 side: the connection once the PSK is known, and what the 1.2 API reports.
struct Link13 {
    cfg: Arc<ClientConfig>,
    /// `None` until the PSK is known (the ClientHello needs it).
    conn: Option<Connection13>,
    /// TLS 1.3 code points to offer.
    suites: Vec<u16>,
    /// Our CID, when Connection IDs are asked for.
    cid: Option<Vec<u8>>,
    identity: Vec<u8>,
    events: VecDeque<Event>,
    /// Datagrams sealed here (application data) or taken from the connection and put back
    /// (too long for the caller's buffer), sent before the connection's queue.
    out: VecDeque<Vec<u8>>,
    stats: Stats,
    /// Once established: the suite and the CIDs (send, receive).
    suite: Option<CipherSuite>,
    cids: (Vec<u8>, Vec<u8>),
    /// Our last handshake datagram (the Finished) has been counted.
    finished_sent: bool,
    closed: bool,
    key_update_after: Option<u64>,
    records_since_update: u64,
    /// The ticket to offer first, and the data to send as 0-RTT with it.
    resume: Option<Resume13>,
    early_data: Option<Vec<u8>>,
    early_len: usize,
    /// The newest ticket from the server, and whether the caller took it already.
    ticket: Option<Ticket13>,
    ticket_taken: bool,
    /// The handshake resumed from the ticket.
    resumed: bool,
}

impl ClientLink {
    /// A client of `versions`: DTLS 1.2 starts its handshake at once; DTLS 1.3 sends its
    /// ClientHello once the PSK is known (at once from a source that answers at once).
    /// [`Versions::Auto`] starts as DTLS 1.3 and falls back to 1.2 on a DTLS 1.2 answer.
    pub fn client(
        config: Arc<ClientConfig>,
        versions: Versions,
        now: Instant,
    ) -> Result<Self, Error> {
        let inner = match versions {
            Versions::Dtls12 => Inner::V12(Box::new(Connection::client(config, now)?)),
            Versions::Dtls13 => Inner::V13(Box::new(Link13::start(config, now, false)?)),
            Versions::Auto => Inner::V13(Box::new(Link13::start(config, now, true)?)),
        };
        Ok(Self {
            inner,
            auto: versions == Versions::Auto,
            before_fallback: None,
        })
    }

    /// A DTLS 1.3 client that offers `resume`'s ticket first (the external PSK of `config`
    /// second, for a server that does not take it) and, with `early_data`, sends the data as
    /// 0-RTT when the ticket allows early data (max_early_data_size ≥ its length, one record),
    /// else as the first application data after the handshake. Never 0-RTT under the external
    /// PSK: a server has no replay protection for it. [`Event::EarlyDataStatus`] follows
    /// [`Event::Connected`] when `early_data` was given.
    pub fn connect_with_early_data(
        config: Arc<ClientConfig>,
        resume: Option<Resume13>,
        early_data: Option<Vec<u8>>,
        now: Instant,
    ) -> Result<Self, Error> {
        let l = Link13::start_with(config, now, false, (resume, early_data))?;
        Ok(Self {
            inner: Inner::V13(Box::new(l)),
            auto: false,
            before_fallback: None,
        })
    }

    /// DTLS 1.3: the newest ticket from the server that this call has not returned yet (to
    /// keep for the next connection's [`Self::connect_with_early_data`]; a ticket is meant to
    /// be used once).
    pub fn take_ticket(&mut self) -> Option<Ticket13> {
        match &mut self.inner {
            Inner::V13(l) if !l.ticket_taken => {
                l.ticket_taken = true;
                l.ticket.clone()
            }
            _ => None,
        }
    }

    /// DTLS 1.3: the newest ticket from the server, if any.
    pub fn last_ticket(&self) -> Option<&Ticket13> {
        match &self.inner {
            Inner::V13(l) => l.ticket.as_ref(),
            Inner::V12(_) => None,
        }
    }

    /// `Versions::Auto`: the server answered our DTLS 1.3 ClientHello in DTLS 1.2, so a DTLS
    /// 1.2 handshake starts, refusing a ServerHello with the downgrade sentinel.
    fn fall_back(&mut self, now: Instant, answer_len: usize) {
        self.auto = false;
        let Inner::V13(l) = &mut self.inner else {
            return;
        };
        l.stats.received(answer_len, true);
        let mut cfg = (*l.cfg).clone();
        cfg.downgrade_check = true;
        match Connection::client(Arc::new(cfg), now) {
            Ok(c) => {
                self.before_fallback = Some(l.stats.clone());
                self.inner = Inner::V12(Box::new(c));
            }
            Err(e) => l.fail(CloseReason::Error(e)),
        }
    }

    /// Whether this datagram makes an `Auto` client fall back to DTLS 1.2.
    fn falls_back(&self, data: &[u8]) -> bool {
        self.auto
            && matches!(&self.inner, Inner::V13(l) if !l.finished_sent)
            && crate::version_fallback::answers_in_dtls12(data)
    }

    /// A connection from a state export of [`Self::export_state`] (no handshake). The export
    /// must be of the version asked for (else [`ExportError::OtherProtocol`]).
    pub fn import_state(
        blob: &[u8],
        key: &[u8],
        (config, versions): (Arc<ClientConfig>, Versions),
        ledger: &mut dyn ImportLedger,
        now: Instant,
    ) -> Result<Self, ExportError> {
        let inner = if versions == Versions::Dtls13 {
            let conn = Connection13::import_state(
                blob,
                key,
                true,
                ledger,
                config.common.retransmit,
                config.common.rng.clone(),
                now,
            )?;
            let mut l = Link13::new(config, Vec::new(), None);
            l.stats.handshake_kind = Some(HandshakeKind::NoneNeeded);
            l.finished_sent = true;
            l.conn = Some(conn);
            l.note_established();
            Inner::V13(Box::new(l))
        } else {
            Inner::V12(Box::new(Connection::import_state(
                blob,
                key,
                ImportRole::Client(config),
                ledger,
            )?))
        };
        Ok(Self {
            inner,
            auto: false,
            before_fallback: None,
        })
    }

    /// The DTLS version of this connection.
    pub fn version(&self) -> Versions {
        match &self.inner {
            Inner::V12(_) => Versions::Dtls12,
            Inner::V13(_) => Versions::Dtls13,
        }
    }

    /// A datagram from the server.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        if self.falls_back(data) {
            // the answer was to a hello we no longer continue: our 1.2 hello goes out now
            return self.fall_back(now, data.len());
        }
        match &mut self.inner {
            Inner::V12(c) => c.handle_datagram(now, data),
            Inner::V13(l) => l.handle_datagram(now, data),
        }
    }

    /// [`Self::handle_datagram`] with the records opened in place; application data goes to
    /// `on_data` in order with the events (data behind an event not yet polled waits for
    /// [`Self::poll_event`]).
    pub fn handle_datagram_in_place<F: FnMut(&[u8])>(
        &mut self,
        now: Instant,
        data: &mut [u8],
        mut on_data: F,
    ) {
        if self.falls_back(data) {
            return self.fall_back(now, data.len());
        }
        match &mut self.inner {
            Inner::V12(c) => c.handle_datagram_in_place(now, data, on_data),
            Inner::V13(l) => {
                let fresh = l.events.is_empty();
                l.handle_datagram(now, data);
                // a DTLS 1.3 record is opened into a new buffer; hand its data on when no
                // event waits before it
                while fresh && matches!(l.events.front(), Some(Event::Data(_))) {
                    if let Some(Event::Data(d)) = l.events.pop_front() {
                        on_data(&d);
                    }
                }
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match &mut self.inner {
            Inner::V12(c) => c.poll_transmit(),
            Inner::V13(l) => l.poll_transmit(),
        }
    }

    /// The next datagram to send, copied into `buf`; its length. A datagram longer than `buf`
    /// stays queued ([`Error::BufferTooSmall`]).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        match &mut self.inner {
            Inner::V12(c) => c.poll_transmit_into(buf),
            Inner::V13(l) => {
                let Some(d) = l.next_datagram() else {
                    return Ok(None);
                };
                match buf.get_mut(..d.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(&d);
                        l.count_sent(d.len());
                        Ok(Some(d.len()))
                    }
                    None => {
                        let needed = d.len();
                        // first in line again, for a larger buffer or for poll_transmit
                        l.out.push_front(d);
                        Err(Error::BufferTooSmall {
                            needed,
                            available: buf.len(),
                        })
                    }
                }
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        match &mut self.inner {
            Inner::V12(c) => c.poll_event(),
            Inner::V13(l) => l.events.pop_front(),
        }
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.inner {
            Inner::V12(c) => c.poll_timeout(),
            Inner::V13(l) => l.conn.as_ref().and_then(Connection13::poll_timeout),
        }
    }

    /// Drives the retransmission timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.inner {
            Inner::V12(c) => c.handle_timeout(now),
            Inner::V13(l) => {
                if let Some(c) = l.conn.as_mut() {
                    c.handle_timeout(now);
                }
                l.pump();
            }
        }
    }

    /// Sends one application datagram (once established).
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        match &mut self.inner {
            Inner::V12(c) => c.send(data),
            Inner::V13(l) => l.send(data),
        }
    }

    /// [`Self::send`] sealed into `buf`; the datagram's length. A buffer too short for the
    /// datagram is [`Error::BufferTooSmall`] and consumes nothing.
    pub fn send_into(&mut self, data: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        match &mut self.inner {
            Inner::V12(c) => c.send_into(data, buf),
            Inner::V13(l) => {
                // an upper bound of the record's overhead (16-bit sequence number, length, CID,
                // content type, 16-byte tag, padding to the 16 bytes the mask samples), checked
                // before a sequence number is spent
                let needed = data.len() + 16 + 5 + l.cids.0.len() + 1 + 16;
                if buf.len() < needed {
                    return Err(Error::BufferTooSmall {
                        needed,
                        available: buf.len(),
                    });
                }
                let d = l.seal(data)?;
                // within the bound checked above, so this always fits
                let available = buf.len();
                let dst = buf.get_mut(..d.len()).ok_or(Error::BufferTooSmall {
                    needed: d.len(),
                    available,
                })?;
                dst.copy_from_slice(&d);
                l.stats.sent(d.len(), false);
                Ok(d.len())
            }
        }
    }

    /// Ends the connection with close_notify.
    pub fn close(&mut self) {
        match &mut self.inner {
            Inner::V12(c) => c.close(),
            Inner::V13(l) => l.close(),
        }
    }

    /// Whether the handshake completed and the connection is open.
    pub fn is_established(&self) -> bool {
        match &self.inner {
            Inner::V12(c) => c.is_established(),
            Inner::V13(l) => l.conn.as_ref().is_some_and(Connection13::is_established),
        }
    }

    /// Whether the connection ended.
    pub fn is_closed(&self) -> bool {
        match &self.inner {
            Inner::V12(c) => c.is_closed(),
            Inner::V13(l) => l.closed,
        }
    }

    /// Answers [`Event::PskRequested`]: `None` fails the handshake.
    pub fn provide_client_psk(
        &mut self,
        now: Instant,
        psk: Option<ClientPsk>,
    ) -> Result<(), Error> {
        match &mut self.inner {
            Inner::V12(c) => c.provide_client_psk(now, psk),
            Inner::V13(l) => l.provide_psk(now, psk),
        }
    }

    /// The negotiated suite (once known).
    pub fn suite(&self) -> Option<CipherSuite> {
        match &self.inner {
            Inner::V12(c) => c.suite(),
            Inner::V13(l) => l.suite,
        }
    }

    /// The PSK identity sent.
    pub fn identity(&self) -> &[u8] {
        match &self.inner {
            Inner::V12(c) => c.identity(),
            Inner::V13(l) => &l.identity,
        }
    }

    /// The CID the server puts on its records to us (empty: none).
    pub fn connection_id(&self) -> &[u8] {
        match &self.inner {
            Inner::V12(c) => c.connection_id(),
            Inner::V13(l) => &l.cids.1,
        }
    }

    /// The CID we put on our records (the server's; empty: none).
    pub fn peer_connection_id(&self) -> &[u8] {
        match &self.inner {
            Inner::V12(c) => c.peer_connection_id(),
            Inner::V13(l) => &l.cids.0,
        }
    }

    /// DTLS 1.2: whether the session has the RFC 7627 extended master secret; `None` for
    /// DTLS 1.3, whose key schedule binds the transcript anyway.
    pub fn extended_master_secret(&self) -> Option<bool> {
        match &self.inner {
            Inner::V12(c) => Some(c.extended_master_secret()),
            Inner::V13(_) => None,
        }
    }

    /// Whether Connection IDs were negotiated.
    pub fn cid_negotiated(&self) -> bool {
        match &self.inner {
            Inner::V12(c) => c.cid_negotiated(),
            Inner::V13(l) => !l.cids.0.is_empty() || !l.cids.1.is_empty(),
        }
    }

    /// The connection's counters.
    pub fn stats(&self) -> Stats {
        let mut s = match &self.inner {
            Inner::V12(c) => c.stats().clone(),
            Inner::V13(l) => l.stats(),
        };
        // an `Auto` client's DTLS 1.3 hello and the 1.2 answer to it were on air too
        if let Some(b) = &self.before_fallback {
            s.handshake_bytes_sent += b.handshake_bytes_sent;
            s.handshake_datagrams_sent += b.handshake_datagrams_sent;
            s.handshake_bytes_received += b.handshake_bytes_received;
            s.handshake_datagrams_received += b.handshake_datagrams_received;
            s.bytes_sent += b.bytes_sent;
            s.datagrams_sent += b.datagrams_sent;
            s.bytes_received += b.bytes_received;
            s.datagrams_received += b.datagrams_received;
            s.flights_sent += b.flights_sent;
            s.round_trips += 1;
        }
        s
    }

    /// DTLS 1.2: the session to resume later. DTLS 1.3: none (a restart continues from the
    /// state export instead).
    pub fn session(&self) -> Option<&Session> {
        match &self.inner {
            Inner::V12(c) => c.session(),
            Inner::V13(_) => None,
        }
    }

    /// DTLS 1.3: a KeyUpdate (the server asked to update too) after every `records`
    /// application records we send, besides the one at the confidentiality limit. `None`:
    /// only at the limit. DTLS 1.2 has no KeyUpdate: ignored.
    pub fn set_key_update_after(&mut self, records: Option<u64>) {
        if let Inner::V13(l) = &mut self.inner {
            l.key_update_after = records.filter(|n| *n > 0);
        }
    }

    /// DTLS 1.3: the (send, receive) epochs of the established session (3 after the
    /// handshake, one more per KeyUpdate each way).
    pub fn epochs(&mut self) -> Option<(u64, u64)> {
        match &mut self.inner {
            Inner::V12(_) => None,
            Inner::V13(l) => l
                .conn
                .as_mut()
                .and_then(|c| c.session())
                .map(|s| s.epochs()),
        }
    }

    /// Exports the established connection, sealed under `key`, reserving `reserve` sequence
    /// numbers for this live connection (DTLS 1.3: at most 2^14).
    pub fn export_state(&mut self, key: &[u8], reserve: u64) -> Result<Vec<u8>, ExportError> {
        match &mut self.inner {
            Inner::V12(c) => c.export_state(key, reserve),
            Inner::V13(l) => match l.conn.as_mut() {
                Some(c) => c.export_state(key, reserve),
                None => Err(ExportError::NotEstablished),
            },
        }
    }
}

impl Link13 {
    fn new(cfg: Arc<ClientConfig>, suites: Vec<u16>, cid: Option<Vec<u8>>) -> Self {
        Self {
            cfg,
            conn: None,
            suites,
            cid,
            identity: Vec::new(),
            events: VecDeque::new(),
            out: VecDeque::new(),
            stats: Stats::default(),
            suite: None,
            cids: (Vec::new(), Vec::new()),
            finished_sent: false,
            closed: false,
            key_update_after: None,
            records_since_update: 0,
            resume: None,
            early_data: None,
            early_len: 0,
            ticket: None,
            ticket_taken: true,
            resumed: false,
        }
    }

    /// The PSK asked for at once; the ClientHello goes out if it is there. With `also_12` (an
    /// `Auto` client) the hello offers the configured DTLS 1.2 suites after the 1.3 ones, so
    /// that a DTLS 1.2 server finds a suite and answers in 1.2 (a 1.3 server takes only 1.3
    /// suites).
    fn start(cfg: Arc<ClientConfig>, now: Instant, also_12: bool) -> Result<Self, Error> {
        Self::start_with(cfg, now, also_12, (None, None))
    }

    /// [`Self::start`] with a ticket to offer first and early data to send.
    fn start_with(
        cfg: Arc<ClientConfig>,
        now: Instant,
        also_12: bool,
        (resume, early_data): (Option<Resume13>, Option<Vec<u8>>),
    ) -> Result<Self, Error> {
        let offered: Vec<CipherSuite> = cfg
            .common
            .suites
            .iter()
            .copied()
            .filter(|s| s.is_tls13())
            .collect();
        let offered = if offered.is_empty() {
            CipherSuite::TLS13.to_vec()
        } else {
            offered
        };
        let first = offered[0];
        let cid = match cfg.connection_id {
            Some(n) => {
                let mut c = vec![0u8; n.min(255)];
                cfg.common.rng.fill(&mut c).map_err(|_| Error::Rng)?;
                Some(c)
            }
            None => None,
        };
        let legacy = cfg
            .common
            .suites
            .iter()
            .filter(|s| also_12 && !s.is_tls13());
        let codes = offered.iter().chain(legacy).map(|s| s.iana()).collect();
        let mut l = Self::new(cfg.clone(), codes, cid);
        l.resume = resume;
        l.early_len = early_data.as_ref().map_or(0, Vec::len);
        l.early_data = early_data;
        match cfg.psk.psk(None, first) {
            PskAnswer::Ready(psk) => l.provide_psk(now, Some(psk))?,
            PskAnswer::Pending => l.events.push_back(Event::PskRequested {
                identity: Vec::new(),
                hint: None,
                sni: cfg.server_name.clone(),
                suite: first,
            }),
            PskAnswer::Unknown => l.fail(CloseReason::Error(Error::NoPsk)),
            PskAnswer::Unavailable => l.fail(CloseReason::Error(Error::PskUnavailable)),
        }
        Ok(l)
    }

    fn fail(&mut self, reason: CloseReason) {
        self.closed = true;
        self.events.push_back(Event::Closed { reason });
    }

    fn provide_psk(&mut self, now: Instant, psk: Option<ClientPsk>) -> Result<(), Error> {
        if self.conn.is_some() || self.closed {
            return Err(Error::NoPskRequest);
        }
        let Some(psk) = psk else {
            self.fail(CloseReason::Error(Error::NoPsk));
            return Ok(());
        };
        self.identity = psk.identity.clone();
        // RFC 9258: the server knows the external identity, the wire carries the imported one
        let (identity, key) = if self.cfg.psk_importers {
            match import_for_dtls13(&psk.identity, b"", &psk.key) {
                Ok(imported) => imported,
                Err(_) => {
                    self.fail(CloseReason::Error(Error::Dtls13(Handshake13Error::Config(
                        "the PSK identity is too long to import (RFC 9258)",
                    ))));
                    return Ok(());
                }
            }
        } else {
            (psk.identity, psk.key)
        };
        // psk_dhe_ke with X25519 first (3GPP's profile wants (EC)DHE for GBA keys), psk_ke
        // for a server without it
        let c13 = ClientConfig13 {
            identity,
            key,
            suites: self.suites.clone(),
            groups: vec![X25519],
            psk_ke: true,
            cid: self.cid.clone(),
            resume: self.resume.clone(),
        };
        let (retransmit, rng) = (self.cfg.common.retransmit, self.cfg.common.rng.clone());
        let started = match self.early_data.take() {
            Some(data) => Connection13::client_with_early_data(
                &c13,
                data,
                self.cfg.common.mtu,
                retransmit,
                rng,
                now,
            ),
            None => Connection13::client(&c13, retransmit, rng, now),
        };
        match started {
            Ok(c) => {
                self.stats.flights_sent += 1;
                self.conn = Some(c);
            }
            Err(e) => self.fail(CloseReason::Error(e.into())),
        }
        Ok(())
    }

    fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        let Some(c) = self.conn.as_mut() else {
            self.stats.drop(crate::stats::DropReason::Unexpected);
            return;
        };
        self.stats.received(data.len(), !c.is_established());
        c.handle_datagram(now, data);
        self.pump();
    }

    /// Moves the connection's events into the 1.2 vocabulary.
    fn pump(&mut self) {
        while let Some(e) = self.conn.as_mut().and_then(Connection13::poll_event) {
            match e {
                Event13::Connected { suite, .. } => {
                    self.note_established();
                    self.stats.handshake_kind = Some(if self.resumed {
                        HandshakeKind::Abbreviated
                    } else {
                        HandshakeKind::Full
                    });
                    self.suite = CipherSuite::from_iana(suite);
                    self.events.push_back(Event::Connected {
                        suite: self.suite.unwrap_or(CipherSuite::Tls13Aes128Ccm8Sha256),
                        identity: self.identity.clone(),
                        resumed: self.resumed,
                    });
                }
                Event13::EarlyDataStatus { accepted } => {
                    // one application record as 0-RTT; after the Finished, one per 2^14 B
                    self.stats.app_records_sent += if accepted {
                        1
                    } else {
                        self.early_len.div_ceil(1 << 14) as u64
                    };
                    self.stats.app_bytes_sent += self.early_len as u64;
                    self.events.push_back(Event::EarlyDataStatus { accepted });
                }
                Event13::Data(d) => {
                    self.stats.app_records_received += 1;
                    self.stats.app_bytes_received += d.len() as u64;
                    self.events.push_back(Event::Data(d));
                }
                // kept for the caller to persist (a gateway may rather keep the state export)
                Event13::Ticket(t) => {
                    self.ticket = Some(*t);
                    self.ticket_taken = false;
                }
                // a server's event
                Event13::EarlyData(_) => {}
                Event13::Closed(why) => {
                    let reason =
                        CloseReason::from_close13(why, self.cfg.common.retransmit.max_retransmits);
                    self.fail(reason);
                }
            }
        }
    }

    /// Caches what the 1.2 API reads without `&mut` (suite, CIDs).
    fn note_established(&mut self) {
        if let Some(s) = self.conn.as_mut().and_then(|c| c.session()) {
            self.suite = CipherSuite::from_iana(s.suite);
            self.cids = (s.cids.send.clone(), s.cids.recv.clone());
            self.resumed = s.resumed;
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let d = self.next_datagram()?;
        self.count_sent(d.len());
        Some(d)
    }

    /// The next datagram to send, not counted yet.
    fn next_datagram(&mut self) -> Option<Vec<u8>> {
        match self.out.pop_front() {
            Some(d) => Some(d),
            None => self.conn.as_mut()?.poll_transmit(),
        }
    }

    /// Counts a datagram sent: a handshake datagram until and with the Finished, the one
    /// handshake datagram sent once established.
    fn count_sent(&mut self, len: usize) {
        let established = self.conn.as_ref().is_some_and(Connection13::is_established);
        let handshake = !established || !self.finished_sent;
        if established {
            self.finished_sent = true;
        }
        self.stats.sent(len, handshake);
    }

    /// One application record, queued behind what the connection has queued (our Finished
    /// goes first: a record of epoch 3 before it would not open at the server).
    fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        let c = self.established()?;
        c.send(data).map_err(send_error)?;
        self.sent_record(data.len());
        Ok(())
    }

    /// One application record sealed for the caller to send at once.
    fn seal(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let c = self.established()?;
        let d = c.seal(data).map_err(send_error)?;
        self.sent_record(data.len());
        Ok(d)
    }

    fn established(&mut self) -> Result<&mut Connection13, Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        self.conn.as_mut().ok_or(Error::NotConnected)
    }

    /// Counts a record sent and starts a KeyUpdate when one is due.
    fn sent_record(&mut self, len: usize) {
        self.stats.app_records_sent += 1;
        self.stats.app_bytes_sent += len as u64;
        self.records_since_update += 1;
        let Some(c) = self.conn.as_mut() else { return };
        let due = c.session().is_some_and(|s| s.needs_key_update())
            || self
                .key_update_after
                .is_some_and(|n| self.records_since_update >= n);
        if due {
            // KeyUpdate instead of a new handshake; the peer updates too (update_requested)
            match c.update_keys(true) {
                Ok(true) => self.records_since_update = 0,
                Ok(false) => {}
                Err(e) => log::debug!("KeyUpdate not started: {e}"),
            }
        }
    }

    fn close(&mut self) {
        match self.conn.as_mut() {
            Some(c) => {
                c.close();
                self.pump();
            }
            None if !self.closed => self.fail(CloseReason::Local),
            None => {}
        }
        self.closed = true;
    }

    fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        if let Some(c) = &self.conn {
            let s13 = c.stats();
            s.retransmissions = s13.retransmitted;
            s.dropped_malformed = s13.dropped;
            s.round_trips = s13.round_trips;
        }
        s
    }
}

/// A send that failed: before the handshake is "not connected", as in DTLS 1.2.
fn send_error(e: Handshake13Error) -> Error {
    match e {
        Handshake13Error::Config(_) => Error::NotConnected,
        other => other.into(),
    }
}

#[cfg(test)]
#[path = "client_link_tests.rs"]
mod tests;
