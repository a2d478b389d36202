//! A DTLS 1.3 connection, sans-IO, over the handshake states: the caller hands in datagrams
//! and the time, and takes out datagrams to send, events and the next deadline (as the DTLS
//! 1.2 [`crate::Connection`] does). What it adds to the states is reliability (RFC 9147 §5.8):
//!
//! - The client sends its ClientHello again when no answer came before the timer (1 s by
//!   default, doubling up to 60 s), and its Finished until the server's ACK or its first
//!   application record shows the Finished arrived.
//! - The server sends its flight again on the timer until the client's Finished comes, and at
//!   once when the client's ClientHello comes again (its flight was lost); it ACKs a client
//!   Finished that comes again (its ACK was lost).
//! - A datagram that does not parse or open is dropped and the handshake goes on (RFC 9147
//!   §4.5.2): only an authenticated failure, or a server that offers nothing we take, ends it.
//! - A client's 0-RTT data ([`Connection13::client_with_early_data`]) goes with every copy of
//!   its first ClientHello; if the server does not take it (or no ticket allowed it), it is
//!   sent again as application data right after our Finished, so the caller never loses it;
//!   [`Event13::EarlyDataStatus`] says which.
//!
//! - The server takes the client's early data (epoch-1 records) while it waits for the
//!   client's Finished, when [`super::server::Server13::accept_early`] took the offer; it drops
//!   them otherwise, and always once the Finished came.
//!
//! A server connection starts from what [`super::server::Server13::accept`] gave for a
//! ClientHello; the HelloRetryRequest before it keeps no state, so it is the endpoint's to send.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{AnswerPieces, ClientStep, ClientWaitFinished, ClientWaitServer};
use super::handshake::{
    CLOSE_NOTIFY, Established13, HANDSHAKE, Handshake13Error, SERVER_HELLO, parse_plaintext,
};
use super::header::{UnifiedHeader, is_unified};
use super::key_update::Received13;
use super::server::ServerWaitFinished;
use super::server_hello::ServerHello13;
use super::ticket::Ticket13;
use crate::config::RetransmitConfig;
use crate::export::{ExportError, ImportLedger};
use crate::rng::DtlsRng;

/// What a connection tells its caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Event13 {
    /// The handshake completed.
    Connected {
        /// The negotiated suite.
        suite: u16,
        /// The (EC)DHE group; `None` in psk_ke.
        group: Option<u16>,
    },
    /// Application data.
    Data(Vec<u8>),
    /// The server's: early data (0-RTT, v13/early.rs) of a ClientHello whose early data was
    /// taken, before [`Event13::Connected`]. Until Connected follows it may be a replay's
    /// (RFC 8446 §8): an attacker who recorded the ClientHello cannot finish the handshake.
    EarlyData(Vec<u8>),
    /// A ticket from the server, to resume with later (`ClientConfig13::resume`).
    Ticket(Box<Ticket13>),
    /// The client's: what became of the early data given to
    /// [`Connection13::client_with_early_data`], after [`Event13::Connected`]. `accepted`:
    /// the server took it as 0-RTT; otherwise (no ticket allowing it, a HelloRetryRequest, the
    /// server refused it) it has been sent again as application data after the handshake.
    EarlyDataStatus {
        /// The server took the 0-RTT data.
        accepted: bool,
    },
    /// The connection ended; nothing more comes.
    Closed(Close13),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close13 {
    /// The peer sent close_notify.
    PeerClosed,
    /// We closed it.
    Closed,
    /// The peer sent a fatal alert.
    Alert(u8),
    /// The handshake failed.
    Failed(Handshake13Error),
    /// The peer did not answer through every retransmission.
    TimedOut,
}

enum State {
    ClientWaitServer(ClientWaitServer),
    ClientWaitFinished(ClientWaitFinished),
    ServerWaitFinished(Box<ServerWaitFinished>),
    Up(Box<Established13>),
    Closed,
}

/// A flight kept for retransmission, and its timer.
struct Retransmit {
    flight: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    sent: u32,
}

/// Counters of one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats13 {
    /// Handshake datagrams sent again (on the timer or on a repeated datagram of the peer).
    pub retransmitted: u64,
    /// Datagrams dropped (they did not parse or open, or came for a state that was over).
    pub dropped: u64,
    /// Our flights the peer answered with a flight of its own (the client: a
    /// HelloRetryRequest or the server's flight after a ClientHello).
    pub round_trips: u64,
    /// Bytes sent (UDP payload), retransmissions included, as DTLS 1.2's
    /// [`crate::Stats::bytes_sent`]: every datagram queued or sealed for the caller.
    pub bytes_sent: u64,
    /// Bytes received (UDP payload): every datagram handed in, dropped ones too; a server's
    /// includes the ClientHello it started from (not the one a HelloRetryRequest answered).
    pub bytes_received: u64,
    /// Datagrams sent, retransmissions included.
    pub datagrams_sent: u64,
    /// Datagrams received, dropped ones included.
    pub datagrams_received: u64,
    /// The server's: 0-RTT plaintext bytes taken ([`Event13::EarlyData`]).
    pub early_data_received: u64,
    /// The client's: 0-RTT plaintext bytes the server took (early data it refused was sent
    /// again as application data and is not counted here).
    pub early_data_sent: u64,
}

/// A DTLS 1.3 connection (client or server).
pub struct Connection13 {
    state: State,
    retx: Option<Retransmit>,
    config: RetransmitConfig,
    rng: Arc<dyn DtlsRng>,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event13>,
    /// The server's: the ClientHello that started it (a copy coming again means our flight
    /// was lost).
    hello: Vec<u8>,
    /// Our KeyUpdate until its ACK: sent again on its own timer (RFC 9147 §8).
    update_retx: Option<Retransmit>,
    /// The latest time the caller gave (a KeyUpdate's timer starts from it).
    last_now: Instant,
    /// The client's Finished, or the server's ACK of it: sent again when the peer shows it
    /// did not get it.
    last_flight: Option<Vec<u8>>,
    stats: Stats13,
    /// The client's early data until the handshake says whether the server took it.
    early_data: Option<Vec<u8>>,
    /// The client's 0-RTT record in a datagram of its own, sent again with the ClientHello.
    early_datagram: Option<Vec<u8>>,
}

impl Connection13 {
    /// A client: its ClientHello is queued.
    pub fn client(
        config: &super::client::ClientConfig13,
        retransmit: RetransmitConfig,
        rng: Arc<dyn DtlsRng>,
        now: Instant,
    ) -> Result<Self, Handshake13Error> {
        let (wait, hello) = super::client::Client13::start(config, rng.as_ref())?;
        let mut c = Self::new(State::ClientWaitServer(wait), retransmit, rng, now);
        c.send_flight(hello, now);
        Ok(c)
    }

    /// A client that sends `early_data` as 0-RTT when `config.resume` holds a ticket that
    /// allows it ([`super::client::Client13::start_with_early_data`]; `mtu`: the largest
    /// datagram), else as the first application data after the handshake; either way
    /// [`Event13::EarlyDataStatus`] follows [`Event13::Connected`].
    pub fn client_with_early_data(
        config: &super::client::ClientConfig13,
        early_data: Vec<u8>,
        mtu: usize,
        retransmit: RetransmitConfig,
        rng: Arc<dyn DtlsRng>,
        now: Instant,
    ) -> Result<Self, Handshake13Error> {
        let (wait, flight) =
            super::client::Client13::start_with_early_data(config, &early_data, mtu, rng.as_ref())?;
        let mut c = Self::new(State::ClientWaitServer(wait), retransmit, rng, now);
        c.send_flight(flight.hello, now);
        if let Some(d) = flight.early {
            c.push(d.clone());
            c.early_datagram = Some(d);
        }
        // nothing to send: no status to report either
        c.early_data = (!early_data.is_empty()).then_some(early_data);
        Ok(c)
    }

    /// A server after [`super::server::Server13::accept`] gave a flight for `hello`: the
    /// flight is queued.
    pub fn server(
        wait: Box<ServerWaitFinished>,
        flight: Vec<u8>,
        hello: &[u8],
        retransmit: RetransmitConfig,
        rng: Arc<dyn DtlsRng>,
        now: Instant,
    ) -> Self {
        let mut c = Self::new(State::ServerWaitFinished(wait), retransmit, rng, now);
        c.hello = hello.to_vec();
        c.count_received(hello.len());
        c.send_flight(flight, now);
        // a client may put its 0-RTT record in the ClientHello's datagram (ours does when
        // both fit): taken, or dropped, as if it had come in a datagram of its own
        if let Some(rest) = parse_plaintext(hello).ok().map(|pt| pt.rest.to_vec()) {
            if !rest.is_empty() {
                // counted with the ClientHello's datagram above
                c.receive(now, &rest);
            }
        }
        c
    }

    fn new(state: State, config: RetransmitConfig, rng: Arc<dyn DtlsRng>, now: Instant) -> Self {
        Self {
            update_retx: None,
            last_now: now,
            state,
            retx: None,
            config,
            rng,
            out: VecDeque::new(),
            events: VecDeque::new(),
            hello: Vec::new(),
            last_flight: None,
            stats: Stats13::default(),
            early_data: None,
            early_datagram: None,
        }
    }

    /// Queues a datagram, counting it as sent (as DTLS 1.2 does, when it is queued).
    fn push(&mut self, d: Vec<u8>) {
        self.count_sent(d.len());
        self.out.push_back(d);
    }

    fn count_sent(&mut self, len: usize) {
        self.stats.bytes_sent += len as u64;
        self.stats.datagrams_sent += 1;
    }

    fn count_received(&mut self, len: usize) {
        self.stats.bytes_received += len as u64;
        self.stats.datagrams_received += 1;
    }

    /// Queues `flight` and arms its retransmission timer.
    fn send_flight(&mut self, flight: Vec<u8>, now: Instant) {
        self.push(flight.clone());
        self.retx = Some(Retransmit {
            flight,
            deadline: now + self.config.initial,
            timeout: self.config.initial,
            sent: 0,
        });
    }

    fn resend(&mut self, d: Vec<u8>) {
        self.stats.retransmitted += 1;
        self.push(d);
    }

    fn close_with(&mut self, why: Close13) {
        self.state = State::Closed;
        self.retx = None;
        self.update_retx = None;
        self.last_flight = None;
        self.events.push_back(Event13::Closed(why));
    }

    /// A datagram from the peer.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        self.count_received(datagram.len());
        self.receive(now, datagram);
    }

    /// [`Self::handle_datagram`] without counting it.
    fn receive(&mut self, now: Instant, datagram: &[u8]) {
        self.last_now = self.last_now.max(now);
        let state = std::mem::replace(&mut self.state, State::Closed);
        self.state = match state {
            State::ClientWaitServer(w) => self.client_wait_server(w, datagram, now),
            State::ClientWaitFinished(w) => match w.handle(datagram) {
                Ok(step) => self.client_step(step, now),
                Err(e) => {
                    self.close_with(Close13::Failed(e));
                    State::Closed
                }
            },
            State::ServerWaitFinished(w) => self.server_wait_finished(w, datagram),
            State::Up(up) => self.established(up, datagram),
            State::Closed => {
                self.stats.dropped += 1;
                State::Closed
            }
        };
    }

    fn client_wait_server(
        &mut self,
        mut w: ClientWaitServer,
        datagram: &[u8],
        now: Instant,
    ) -> State {
        let whole = match w.defragment(datagram) {
            AnswerPieces::Whole => None,
            AnswerPieces::Partial => return State::ClientWaitServer(w),
            AnswerPieces::Completed(d) => Some(d),
        };
        let datagram = whole.as_deref().unwrap_or(datagram);
        if let Some(description) = plaintext_fatal_alert(datagram) {
            // a server that refuses the ClientHello (a binder that does not verify: the wrong
            // key; no common suite) says so in a plaintext alert before any key is shared; it
            // is unauthenticated, but so is the ServerHello it stands in for
            self.close_with(Close13::Alert(description));
            return State::Closed;
        }
        // a ServerHello is not authenticated until Finished: one that does not even parse is
        // someone else's datagram, not the end of the handshake
        let parses = parse_plaintext(datagram)
            .ok()
            .filter(|p| p.msg_type == SERVER_HELLO)
            .is_some_and(|p| ServerHello13::parse(p.body).is_ok());
        if !parses {
            self.stats.dropped += 1;
            return State::ClientWaitServer(w);
        }
        match w.handle(datagram, self.rng.as_ref()) {
            Ok(step) => self.client_step(step, now),
            Err(e) => {
                self.close_with(Close13::Failed(e));
                State::Closed
            }
        }
    }

    fn client_step(&mut self, step: ClientStep, now: Instant) -> State {
        match step {
            ClientStep::Retry(w, hello) => {
                self.stats.round_trips += 1;
                // the second ClientHello offers no 0-RTT: its record stays home
                self.early_datagram = None;
                self.send_flight(hello, now);
                State::ClientWaitServer(w)
            }
            ClientStep::Wait(w) => {
                // the server's timer brings the rest of its flight; ours only gives up
                if let Some(r) = &mut self.retx {
                    r.flight.clear();
                }
                self.early_datagram = None;
                State::ClientWaitFinished(w)
            }
            ClientStep::Done(up, fin) => {
                self.stats.round_trips += 1;
                self.events.push_back(Event13::Connected {
                    suite: up.suite,
                    group: up.group,
                });
                // kept until the server's ACK or application data shows it arrived
                self.send_flight(fin.clone(), now);
                self.last_flight = Some(fin);
                self.early_datagram = None;
                self.settle_early_data(up)
            }
        }
    }

    /// After our Finished: the early data the server did not take goes again as application
    /// data (behind the Finished), and the caller learns which it was.
    fn settle_early_data(&mut self, mut up: Box<Established13>) -> State {
        let Some(data) = self.early_data.take() else {
            return State::Up(up);
        };
        let accepted = up.early_data_accepted == Some(true);
        if !accepted {
            // as many records as it takes (0-RTT data is one record, but data too long for one
            // was never offered as 0-RTT)
            for chunk in data.chunks(1 << 14) {
                match up.seal(chunk) {
                    Ok(d) => self.push(d),
                    Err(e) => {
                        self.close_with(Close13::Failed(e));
                        return State::Closed;
                    }
                }
            }
        }
        if accepted {
            self.stats.early_data_sent += data.len() as u64;
        }
        self.events.push_back(Event13::EarlyDataStatus { accepted });
        State::Up(up)
    }

    fn server_wait_finished(&mut self, w: Box<ServerWaitFinished>, datagram: &[u8]) -> State {
        if datagram == self.hello {
            // the client did not get our flight: send it again now
            if let Some(f) = self.retx.as_ref().map(|r| r.flight.clone()) {
                self.resend(f);
            }
            return State::ServerWaitFinished(w);
        }
        // the client has no CID of ours before our ServerHello: its early records carry none
        if epoch_bits(datagram, 0) == Some(1) {
            return self.server_early(w, datagram);
        }
        match w.verify(datagram) {
            Ok(proof) => match w.finish(proof) {
                Ok((up, ack)) => {
                    self.retx = None;
                    self.events.push_back(Event13::Connected {
                        suite: up.suite,
                        group: up.group,
                    });
                    self.push(ack.clone());
                    self.last_flight = Some(ack);
                    State::Up(Box::new(up))
                }
                Err(e) => {
                    self.close_with(Close13::Failed(e));
                    State::Closed
                }
            },
            Err(Handshake13Error::BadMac(what)) => {
                // an authenticated Finished that does not verify: the keys differ
                self.close_with(Close13::Failed(Handshake13Error::BadMac(what)));
                State::Closed
            }
            Err(_) => {
                self.stats.dropped += 1;
                State::ServerWaitFinished(w)
            }
        }
    }

    /// Epoch-1 records while waiting for the client's Finished: early data when it was taken,
    /// else dropped; beyond the allowed size the handshake ends with unexpected_message.
    fn server_early(&mut self, mut w: Box<ServerWaitFinished>, datagram: &[u8]) -> State {
        match w.open_early(datagram) {
            Ok(data) if data.is_empty() => self.stats.dropped += 1,
            Ok(data) => {
                let n: usize = data.iter().map(Vec::len).sum();
                self.stats.early_data_received += n as u64;
                self.events.extend(data.into_iter().map(Event13::EarlyData));
            }
            Err(e) => {
                // the client holds no key of ours it would read an alert under yet: plaintext
                let seq = parse_plaintext(&self.hello).map_or(0, |p| p.record_seq);
                self.push(super::early::plaintext_alert(seq, UNEXPECTED_MESSAGE));
                self.close_with(Close13::Failed(e));
                return State::Closed;
            }
        }
        State::ServerWaitFinished(w)
    }

    fn established(&mut self, mut up: Box<Established13>, datagram: &[u8]) -> State {
        // the peer's handshake again (a plaintext hello or a record of epoch 2): it did not
        // get our last flight (the client's Finished, the server's ACK of it). The header
        // carries the epoch's low 2 bits only: after KeyUpdates, epoch 6 has them too, so
        // "epoch 2" means it only while both sides are still in epoch 3.
        let again = datagram.first() == Some(&HANDSHAKE)
            || (epoch_bits(datagram, up.cids.recv_len()) == Some(2) && up.epochs().1 == 3);
        if again {
            match self.last_flight.clone() {
                Some(f) => self.resend(f),
                None => self.stats.dropped += 1,
            }
            return State::Up(up);
        }
        match up.receive(datagram) {
            Ok(r) => {
                if up.is_client {
                    // anything the server sends in epoch 3 comes after our Finished
                    self.retx = None;
                }
                match r {
                    Received13::Data(d) => self.events.push_back(Event13::Data(d)),
                    Received13::Pending => {}
                    Received13::Ack { switched } => {
                        if switched {
                            // our KeyUpdate arrived: its timer stops
                            self.update_retx = None;
                        }
                    }
                    Received13::KeyUpdate { ack, update } => {
                        self.push(ack);
                        if let Some(u) = update {
                            self.push(u);
                        }
                    }
                    Received13::Ticket { ack, ticket } => {
                        self.push(ack);
                        self.events.push_back(Event13::Ticket(ticket));
                    }
                    Received13::Alert { description } => {
                        self.close_with(if description == CLOSE_NOTIFY {
                            Close13::PeerClosed
                        } else {
                            Close13::Alert(description)
                        });
                        return State::Closed;
                    }
                }
            }
            Err(_) => self.stats.dropped += 1,
        }
        State::Up(up)
    }

    /// The next deadline for [`Self::handle_timeout`], if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [&self.retx, &self.update_retx]
            .into_iter()
            .flatten()
            .map(|r| r.deadline)
            .min()
    }

    /// The time has come: retransmit, or give up after the configured number of times.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        if let Some(u) = self.update_retx.as_mut().filter(|u| now >= u.deadline) {
            if u.sent >= self.config.max_retransmits {
                // a peer that ACKs no KeyUpdate through every retransmission is gone
                self.close_with(Close13::TimedOut);
                return;
            }
            u.sent += 1;
            u.timeout = (u.timeout * 2).min(self.config.max);
            u.deadline = now + u.timeout;
            let f = u.flight.clone();
            self.resend(f);
        }
        let Some(r) = &mut self.retx else {
            return;
        };
        if now < r.deadline {
            return;
        }
        if r.sent >= self.config.max_retransmits {
            if matches!(self.state, State::Up(_)) {
                // our Finished was never ACKed, but the session is up: stop sending it
                self.retx = None;
            } else {
                self.close_with(Close13::TimedOut);
            }
            return;
        }
        r.sent += 1;
        r.timeout = (r.timeout * 2).min(self.config.max);
        r.deadline = now + r.timeout;
        if !r.flight.is_empty() {
            let f = r.flight.clone();
            self.resend(f);
            // the 0-RTT record that did not fit beside the ClientHello goes with it
            if let Some(e) = self.early_datagram.clone() {
                self.resend(e);
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event13> {
        self.events.pop_front()
    }

    /// Sends application data (after [`Event13::Connected`]).
    pub fn send(&mut self, data: &[u8]) -> Result<(), Handshake13Error> {
        let d = self.seal_uncounted(data)?;
        self.push(d);
        Ok(())
    }

    /// Application data sealed into a datagram the caller sends itself (not queued, but
    /// counted as sent).
    pub fn seal(&mut self, data: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        let d = self.seal_uncounted(data)?;
        self.count_sent(d.len());
        Ok(d)
    }

    fn seal_uncounted(&mut self, data: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        match &mut self.state {
            State::Up(up) => up.seal(data),
            _ => Err(Handshake13Error::Config("not established")),
        }
    }

    /// Starts a KeyUpdate (RFC 9147 §8), asking the peer to update its keys too when
    /// `request_peer`: the datagram is queued, and our new sending keys take over at its ACK.
    /// `false` while an earlier KeyUpdate still waits for its ACK.
    pub fn update_keys(&mut self, request_peer: bool) -> Result<bool, Handshake13Error> {
        match &mut self.state {
            State::Up(up) => match up.update_keys(request_peer)? {
                Some(d) => {
                    self.push(d.clone());
                    self.update_retx = Some(Retransmit {
                        flight: d,
                        deadline: self.last_now + self.config.initial,
                        timeout: self.config.initial,
                        sent: 0,
                    });
                    Ok(true)
                }
                None => Ok(false),
            },
            _ => Err(Handshake13Error::Config("not established")),
        }
    }

    /// Ends the session with close_notify.
    pub fn close(&mut self) {
        if let State::Up(up) = &mut self.state {
            if let Ok(d) = up.close_notify() {
                self.count_sent(d.len());
                self.out.push_back(d);
            }
        }
        if !matches!(self.state, State::Closed) {
            self.close_with(Close13::Closed);
        }
    }

    /// Whether the handshake completed and the connection is open.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Up(_))
    }

    /// The established session (epochs, CIDs, KeyUpdate), if any.
    pub fn session(&mut self) -> Option<&mut Established13> {
        match &mut self.state {
            State::Up(up) => Some(up),
            _ => None,
        }
    }

    /// Exports the established session (see [`Established13::export_state`]).
    pub fn export_state(&mut self, key: &[u8], reserve: u64) -> Result<Vec<u8>, ExportError> {
        match &mut self.state {
            State::Up(up) => up.export_state(key, reserve, self.rng.as_ref()),
            _ => Err(ExportError::NotEstablished),
        }
    }

    /// A connection from an export (see [`Established13::import_state`]): established, no
    /// handshake; `now` starts its clock (a KeyUpdate's timer).
    pub fn import_state(
        blob: &[u8],
        key: &[u8],
        client: bool,
        ledger: &mut dyn ImportLedger,
        retransmit: RetransmitConfig,
        rng: Arc<dyn DtlsRng>,
        now: Instant,
    ) -> Result<Self, ExportError> {
        let up = Established13::import_state(blob, key, client, ledger)?;
        Ok(Self::new(State::Up(Box::new(up)), retransmit, rng, now))
    }

    /// The counters.
    pub fn stats(&self) -> Stats13 {
        self.stats
    }
}

/// AlertDescription unexpected_message.
const UNEXPECTED_MESSAGE: u8 = 10;

/// The description of a fatal alert in a plaintext (epoch 0) record, if the datagram starts
/// with one: type 21, any version, epoch 0, sequence number, length 2, level 2 (fatal).
fn plaintext_fatal_alert(datagram: &[u8]) -> Option<u8> {
    const FATAL: u8 = 2;
    match datagram {
        [
            21,
            _,
            _,
            0,
            0,
            _,
            _,
            _,
            _,
            _,
            _,
            0,
            2,
            FATAL,
            description,
            ..,
        ] => Some(*description),
        _ => None,
    }
}

/// The epoch bits of a datagram's first record if it has a unified header.
fn epoch_bits(datagram: &[u8], cid_len: usize) -> Option<u8> {
    let first = *datagram.first()?;
    if !is_unified(first) {
        return None;
    }
    UnifiedHeader::parse(datagram, cid_len)
        .ok()
        .map(|r| r.header.epoch_bits)
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
