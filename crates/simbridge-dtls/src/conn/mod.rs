//! A DTLS 1.2 connection, sans-IO: datagrams in, datagrams and events out, timers driven by
//! `now` given by the caller. The handshake is a state machine with one type per state
//! (`machine.rs`, which also dispatches each message); the handlers of each role live in
//! `client.rs` and `server.rs`, flights are put together by `flight_builder.rs`; this file
//! holds the record processing shared by both roles.

mod budget;
mod buffers;
mod client;
mod export;
pub use server::{AcceptedHello, DOWNGRADE_SENTINEL_12, ServerStart};
mod established;
mod flight_builder;
mod keys;
mod machine;
pub use established::FINAL_FLIGHT_LINGER;
use established::KeptFlight;
use machine::{Handshake, Next, Step};
#[cfg(test)]
mod ems_tests;
mod server;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::config::{ClientConfig, CommonConfig, ServerConfig};
use super::error::Error;
use super::event::{CloseReason, Event};
use super::flight::Flight;
use super::reassembly::{FragmentStatus, max_message_len};
use super::record_layer::RecordLayer;
use super::session::Session;
use super::stats::{DropReason, Stats};
use super::suite::CipherSuite;
use super::wire::alert::{Alert, AlertDescription, AlertLevel, parse_ccs};
use super::wire::handshake::{Fragment, HandshakeType, parse_fragments};
use super::wire::record::{ContentType, Record, split_datagram_cid};

/// Largest application record (RFC 6347: 2^14).
pub const MAX_APP_RECORD: usize = 16384;
/// Records of the next epoch held until the ChangeCipherSpec that opens it.
const MAX_FUTURE_RECORDS: usize = 8;
/// Records held while the handshake waits for a PSK.
const MAX_PARKED_RECORDS: usize = 32;

/// Proof that the peer's Finished verified; only `keys::verify_finished` makes one, and
/// `State::Established` cannot be built without it.
#[derive(Debug)]
pub(crate) struct FinishedVerified(());

/// Where a connection is: handshaking (with the data of its handshake state), established,
/// or closed.
enum State {
    Handshaking(Box<Handshake>),
    Established {
        _proof: FinishedVerified,
        /// Our last flight while the peer may still ask for it again.
        kept: Option<Box<KeptFlight>>,
    },
    Closed,
}

enum Role {
    Client(Arc<ClientConfig>),
    Server(Arc<ServerConfig>),
}

/// One DTLS association with one peer.
pub struct Connection {
    role: Role,
    /// The handshake state lives in [`State::Handshaking`] and is freed once established.
    state: State,
    rl: RecordLayer,
    /// The established session (master secret, identity, session ID, ticket, SNI): the one
    /// copy kept after the handshake, for export and resumption.
    session: Option<Session>,
    session_expiry: Option<Instant>,
    stats: Stats,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    suite: Option<CipherSuite>,
    /// PMTU (the config's, or what `set_mtu` set).
    mtu: u16,
    next_send_seq: u16,
    /// Next peer message_seq once the handshake state (and its reassembler) is gone.
    next_recv_seq: u16,
    send_epoch: u16,
    resumed: bool,
    replied_this_datagram: bool,
    closing: bool,
    newest_in_datagram: bool,
    cid_negotiated: bool,
    /// Most bytes the handshake may hold in buffers (reassembly, early and parked records).
    buffer_limit: usize,
    /// Server: a handshake not completed by then is dropped (half-open lifetime).
    half_open_until: Option<Instant>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("established", &self.is_established())
            .field("closed", &self.is_closed())
            .field("suite", &self.suite)
            .field("handshake_state", &self.handshake().is_some())
            .finish()
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl Connection {
    /// A connection in state Closed (the role's constructor starts the handshake).
    fn new(role: Role) -> Self {
        let (mtu, buffer_limit) = match &role {
            Role::Client(c) => (c.common.mtu, budget::CLIENT_HANDSHAKE_BUFFER),
            Role::Server(s) => (s.common.mtu, s.handshake_buffer_per_connection),
        };
        Self {
            role,
            state: State::Closed,
            rl: RecordLayer::default(),
            session: None,
            session_expiry: None,
            stats: Stats::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            client_random: [0; 32],
            server_random: [0; 32],
            suite: None,
            mtu: clamp_mtu(mtu),
            next_send_seq: 0,
            next_recv_seq: 0,
            send_epoch: 0,
            resumed: false,
            replied_this_datagram: false,
            closing: false,
            newest_in_datagram: false,
            cid_negotiated: false,
            buffer_limit,
            half_open_until: None,
        }
    }

    /// The settings of our role.
    fn common(&self) -> &CommonConfig {
        match &self.role {
            Role::Client(c) => &c.common,
            Role::Server(s) => &s.common,
        }
    }

    /// Whether our flights pack several handshake messages into one record.
    fn pack(&self) -> bool {
        match &self.role {
            Role::Client(c) => c.pack_handshake_records,
            Role::Server(s) => s.pack_handshake_records,
        }
    }

    /// The running handshake, if any.
    fn handshake(&self) -> Option<&Handshake> {
        match &self.state {
            State::Handshaking(h) => Some(h),
            _ => None,
        }
    }

    fn handshake_mut(&mut self) -> Option<&mut Handshake> {
        match &mut self.state {
            State::Handshaking(h) => Some(h),
            _ => None,
        }
    }

    /// Next message_seq expected from the peer.
    fn next_recv_seq(&self) -> u16 {
        match self.handshake() {
            Some(h) => h.flow.reasm.next_seq(),
            None => self.next_recv_seq,
        }
    }

    /// Feeds one received UDP datagram (it may hold several records).
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        let (records, err) = split_datagram_cid(data, self.rl.read_cid().len());
        let hs = records.iter().any(|r| {
            matches!(
                r.header.content_type,
                ContentType::Handshake | ContentType::ChangeCipherSpec
            )
        });
        self.stats.received(data.len(), hs);
        if err.is_some() {
            self.stats.drop(DropReason::Malformed);
        }
        self.replied_this_datagram = false;
        self.newest_in_datagram = false;
        for rec in records {
            self.process_record(now, &rec);
        }
        self.maybe_drop_handshake(now, false);
    }

    fn process_record(&mut self, now: Instant, rec: &Record<'_>) {
        if matches!(self.state, State::Closed) {
            self.stats.drop(DropReason::Closed);
            return;
        }
        if let Err(e) = self.handle_record(now, rec) {
            self.fail(e);
        }
    }

    fn raw(rec: &Record<'_>) -> Vec<u8> {
        let mut v = Vec::with_capacity(13 + rec.cid.len() + rec.fragment.len());
        rec.header.encode_with_cid(&mut v, rec.cid);
        v.extend_from_slice(rec.fragment);
        v
    }

    fn replay_raw(&mut self, now: Instant, raws: Vec<Vec<u8>>) {
        for raw in raws {
            let (records, _) = split_datagram_cid(&raw, self.rl.read_cid().len());
            for rec in records {
                self.process_record(now, &rec);
            }
        }
    }

    fn is_parked(&self) -> bool {
        self.handshake().is_some_and(|h| h.step.waits_for_psk())
    }

    fn handle_record(&mut self, now: Instant, rec: &Record<'_>) -> Result<(), Error> {
        if self.is_parked() {
            let raw = Self::raw(rec);
            let room = self.buffer_room();
            match self.handshake_mut() {
                Some(h) if h.flow.parked.len() < MAX_PARKED_RECORDS && room >= raw.len() => {
                    h.flow.parked.push(raw);
                }
                _ => self.stats.drop(DropReason::Overflow),
            }
            return Ok(());
        }
        let epoch = rec.header.epoch;
        match self.rl.epoch_status(epoch) {
            Err(why) => {
                self.stats.drop(why);
                return Ok(());
            }
            Ok(false) => {
                self.hold_future(rec);
                return Ok(());
            }
            Ok(true) => {}
        }
        let ct = rec.header.content_type;
        // Once keys are in use, plaintext epoch 0 is only good for spotting a retransmitted flight.
        if epoch < self.rl.read_epoch() && ct != ContentType::Handshake {
            self.stats.drop(DropReason::Unexpected);
            return Ok(());
        }
        let opened = match self.rl.open(rec) {
            Ok(p) => p,
            Err(DropReason::BadMac)
                if epoch > 0 && matches!(ct, ContentType::Handshake | ContentType::Tls12Cid) =>
            {
                // the first protected record after the peer's CCS is its Finished: if it
                // does not authenticate, the peer's key differs from ours (RFC 4279 §2:
                // decrypt_error, told the same way for an unknown identity)
                self.stats.drop(DropReason::BadMac);
                if let Some(Step::WaitFinished(k)) = self.handshake().map(|h| &h.step) {
                    return Err(k.finished_failed());
                }
                return Ok(());
            }
            Err(why) => {
                self.stats.drop(why);
                return Ok(());
            }
        };
        if opened.newest && epoch > 0 && epoch == self.rl.read_epoch() {
            self.newest_in_datagram = true;
        }
        self.on_plaintext(now, epoch, opened.content_type, opened.plain)
    }

    /// An authenticated record's plaintext, by content type.
    fn on_plaintext(
        &mut self,
        now: Instant,
        epoch: u16,
        content_type: ContentType,
        plain: Vec<u8>,
    ) -> Result<(), Error> {
        match content_type {
            ContentType::Handshake => self.on_handshake_record(now, epoch, &plain),
            ContentType::ChangeCipherSpec => {
                self.on_ccs(now, &plain);
                Ok(())
            }
            ContentType::Alert => {
                self.on_alert(&plain);
                Ok(())
            }
            ContentType::ApplicationData => {
                if self.is_established() && epoch > 0 {
                    self.data_received(now, plain.len());
                    self.events.push_back(Event::Data(plain));
                } else {
                    self.stats.drop(DropReason::Unexpected);
                }
                Ok(())
            }
            ContentType::Tls12Cid => {
                // the record layer never returns tls12_cid as a real type
                self.stats.drop(DropReason::Malformed);
                Ok(())
            }
        }
    }

    /// An application record of `len` bytes authenticated and is being delivered.
    fn data_received(&mut self, now: Instant, len: usize) {
        self.stats.app_records_received += 1;
        self.stats.app_bytes_received += len as u64;
        // authenticated data in the new epoch: the peer has our last flight
        self.maybe_drop_handshake(now, true);
    }

    /// A record of the next epoch: held until the ChangeCipherSpec that opens it, within
    /// the handshake's budget.
    fn hold_future(&mut self, rec: &Record<'_>) {
        let raw = Self::raw(rec);
        let room = self.buffer_room();
        match self.handshake_mut() {
            Some(h) if h.flow.future.len() < MAX_FUTURE_RECORDS => {
                if room < raw.len() {
                    self.stats.drop(DropReason::Overflow);
                } else {
                    h.flow.future.push(raw);
                }
            }
            _ => self.stats.drop(DropReason::BadEpoch),
        }
    }

    fn on_handshake_record(&mut self, now: Instant, epoch: u16, plain: &[u8]) -> Result<(), Error> {
        let frags = match parse_fragments(plain) {
            Ok(f) => f,
            Err(e) if epoch > 0 => return Err(Error::Decode(e)),
            Err(_) => {
                self.stats.drop(DropReason::Malformed);
                return Ok(());
            }
        };
        for f in frags {
            if self.is_established() {
                self.on_post_handshake_fragment(epoch, &f);
                continue;
            }
            let max_len = max_message_len(f.msg_type, self.is_server());
            let room = self.buffer_room();
            let Some(h) = self.handshake_mut() else {
                break;
            };
            if matches!(h.step, Step::ClientHello(_))
                && f.message_seq > h.flow.reasm.next_seq()
                && matches!(
                    f.msg_type,
                    HandshakeType::HelloVerifyRequest | HandshakeType::ServerHello
                )
            {
                // the server's first message may carry any message_seq (RFC 6347 §4.2.2)
                h.flow.reasm.skip_to(f.message_seq);
            }
            match h.flow.reasm.insert(&f, epoch, max_len, room) {
                FragmentStatus::Old => self.on_old_fragment(&f),
                FragmentStatus::Rejected => self.stats.drop(DropReason::Unexpected),
                FragmentStatus::TooLarge => self.stats.drop(DropReason::Overflow),
                FragmentStatus::Accepted => self.drain_messages(now),
            }
            if matches!(self.state, State::Closed) {
                break;
            }
        }
        Ok(())
    }

    /// Handles the complete messages the reassembler holds, in order, while the handshake
    /// runs and is not waiting for a PSK.
    fn drain_messages(&mut self, now: Instant) {
        while let Some(h) = self.handshake_mut().filter(|h| !h.step.waits_for_psk()) {
            let Some(m) = h.flow.reasm.pop() else {
                break;
            };
            if h.flow.retx.take().is_some() {
                // the first message of the peer's next flight: our flight arrived
                self.stats.round_trips += 1;
            }
            self.on_message(now, m);
        }
    }

    /// A message older than the next expected one. If it repeats, byte for byte, the last
    /// message of the peer's previous flight, the peer lost our answer: send it again. Anything
    /// else (an invalid Finished posing as a retransmission, say) is dropped.
    fn on_old_fragment(&mut self, f: &Fragment<'_>) {
        let (peer_last, has_flight) = match (self.kept(), self.handshake()) {
            (Some(k), _) => (k.peer_last, true),
            (None, Some(h)) => (h.flow.peer_last, !h.flow.flight.items.is_empty()),
            (None, None) => {
                // handshake over and our last flight done with: nothing to answer
                self.stats.drop(DropReason::Unexpected);
                return;
            }
        };
        let repeat = peer_last.is_some_and(|(seq, d)| {
            seq == f.message_seq
                && f.offset == 0
                && f.body.len() == f.length as usize
                && digest(f.body) == d
        });
        if repeat && !self.replied_this_datagram && has_flight {
            self.replied_this_datagram = true;
            self.resend_flight();
        } else if !repeat {
            self.stats.drop(DropReason::Unexpected);
        }
    }

    fn on_post_handshake_fragment(&mut self, epoch: u16, f: &Fragment<'_>) {
        if f.message_seq < self.next_recv_seq() {
            self.on_old_fragment(f);
            return;
        }
        let reneg = match self.role {
            Role::Client(_) => f.msg_type == HandshakeType::HelloRequest,
            Role::Server(_) => f.msg_type == HandshakeType::ClientHello,
        };
        if reneg && epoch > 0 && !self.replied_this_datagram {
            // RFC 5746 / 5246 §7.2.2: refuse renegotiation with a warning, keep the connection
            self.replied_this_datagram = true;
            self.send_alert(AlertLevel::Warning, AlertDescription::NoRenegotiation);
        } else {
            self.stats.drop(DropReason::Unexpected);
        }
    }

    fn on_ccs(&mut self, now: Instant, plain: &[u8]) {
        if parse_ccs(plain).is_err() {
            self.stats.drop(DropReason::Malformed);
            return;
        }
        let waits = matches!(self.handshake().map(|h| &h.step), Some(Step::WaitCcs(_)));
        if waits && self.rl.activate_read() {
            self.advance(now, |_, _, step| {
                Ok(Next::Handshake(match step {
                    Step::WaitCcs(k) => Step::WaitFinished(k),
                    other => other,
                }))
            });
            if let Some(h) = self.handshake_mut() {
                let future = std::mem::take(&mut h.flow.future);
                self.replay_raw(now, future);
            }
        } else {
            // early, repeated or out-of-state CCS: never moves the state machine
            self.stats.drop(DropReason::Unexpected);
        }
    }

    fn on_alert(&mut self, plain: &[u8]) {
        let Ok(alert) = Alert::parse(plain) else {
            self.stats.drop(DropReason::Malformed);
            return;
        };
        if alert.description == AlertDescription::CloseNotify {
            if !self.closing && self.is_established() {
                self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
            }
            let reason = if self.closing {
                CloseReason::Local
            } else {
                CloseReason::PeerClosed
            };
            self.close_with(reason);
        } else if alert.level == AlertLevel::Fatal {
            self.close_with(CloseReason::PeerAlert(alert.description));
        }
    }

    fn close_with(&mut self, reason: CloseReason) {
        if !matches!(self.state, State::Closed) {
            self.closed(reason);
        }
    }

    fn closed(&mut self, reason: CloseReason) {
        // handshake state, flight and timer go (the session stays: its ID is still asked for)
        self.state = State::Closed;
        self.events.push_back(Event::Closed { reason });
    }

    /// Fails the connection with `e`: sends the matching fatal alert and closes.
    fn fail(&mut self, e: Error) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.abort(e);
    }

    /// Sends the fatal alert for `e` (if it has one) and closes, whatever the state (the
    /// handshake code calls it with the handshake taken out of the connection).
    fn abort(&mut self, e: Error) {
        if let Some(desc) = e.alert() {
            self.send_alert(AlertLevel::Fatal, desc);
        }
        self.closed(CloseReason::Error(e));
    }

    fn send_alert(&mut self, level: AlertLevel, desc: AlertDescription) {
        let mut d = Vec::new();
        let a = Alert {
            level,
            description: desc,
        }
        .encode();
        if self
            .rl
            .seal(self.send_epoch, ContentType::Alert, &a, &mut d)
            .is_ok()
        {
            self.stats.sent(d.len(), false);
            self.out.push_back(d);
        }
    }

    /// Encodes `flight` into datagrams and queues them.
    fn transmit_flight(&mut self, flight: &Flight) -> Result<(), Error> {
        let pack = self.pack();
        let dgrams = flight.encode(&mut self.rl, usize::from(self.mtu), pack)?;
        for d in dgrams {
            self.stats.sent(d.len(), true);
            self.out.push_back(d);
        }
        Ok(())
    }

    fn resend_flight(&mut self) {
        let flight = match (self.kept(), self.handshake()) {
            (Some(k), _) => k.flight.clone(),
            (None, Some(h)) => h.flow.flight.clone(),
            (None, None) => return,
        };
        match self.transmit_flight(&flight) {
            Ok(()) => self.stats.retransmissions += 1,
            Err(e) => self.fail(e),
        }
    }

    /// The next datagram to send, if any. Once drained the queue gives its buffer back (an
    /// idle connection holds no queue memory).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let d = self.out.pop_front();
        if d.is_none() && self.out.capacity() > 0 {
            self.out = VecDeque::new();
        }
        d
    }

    /// The next event, if any (the queue's buffer is freed once drained, as for datagrams).
    pub fn poll_event(&mut self) -> Option<Event> {
        let e = self.events.pop_front();
        if e.is_none() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
        e
    }

    /// When `handle_timeout` must be called next (a retransmission, or the end of a server
    /// handshake's half-open lifetime).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retx = self.handshake()?.flow.retx.as_ref().map(|r| r.deadline);
        match (retx, self.half_open_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drives the retransmission timer (RFC 6347 §4.2.4): resend the flight and double the
    /// timeout up to the maximum; give up after the retry limit. Once established, drops the
    /// kept last flight (and all handshake state) when its linger time is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        let rc = self.common().retransmit;
        self.maybe_drop_handshake(now, false);
        if self.half_open_expired(now) {
            self.fail(Error::HandshakeExpired);
            return;
        }
        let Some(r) = self.handshake_mut().and_then(|h| h.flow.retx.as_mut()) else {
            return;
        };
        if now < r.deadline {
            return;
        }
        if r.count >= rc.max_retransmits {
            let n = r.count;
            self.fail(Error::HandshakeTimeout(n));
            return;
        }
        r.count += 1;
        r.timeout = (r.timeout * 2).min(rc.max);
        r.deadline = now + r.timeout;
        self.resend_flight();
    }

    /// Sends one application data record.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if data.len() > MAX_APP_RECORD {
            // refused before the buffer is made (send_into checks the rest)
            return Err(Error::RecordTooLarge);
        }
        let mut d = vec![0; self.rl.record_len(self.send_epoch, data.len())];
        let n = self.send_into(data, &mut d)?;
        d.truncate(n);
        self.out.push_back(d);
        Ok(())
    }

    /// Sends close_notify. An established connection still delivers data until the peer's
    /// close_notify (then `Closed { Local }`); a handshake in progress ends at once.
    pub fn close(&mut self) {
        if matches!(self.state, State::Closed) || self.closing {
            return;
        }
        self.send_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        if self.is_established() {
            self.closing = true;
        } else {
            self.close_with(CloseReason::Local);
        }
    }

    /// True once the handshake completed (and until closed).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established { .. })
    }

    /// True when the connection ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// True while the handshake waits for `provide_*_psk`.
    pub fn is_waiting_for_psk(&self) -> bool {
        self.is_parked()
    }

    /// Negotiated suite (after ServerHello).
    pub fn suite(&self) -> Option<CipherSuite> {
        self.suite
    }

    /// PSK identity (after ClientKeyExchange).
    pub fn identity(&self) -> &[u8] {
        match (&self.session, self.handshake()) {
            (Some(s), _) => &s.identity,
            (None, Some(h)) => h.step.identity(),
            (None, None) => &[],
        }
    }

    /// SNI host name (server: what the client sent; client: what we sent).
    pub fn server_name(&self) -> Option<&str> {
        match (&self.session, self.handshake()) {
            (Some(s), _) => s.server_name.as_deref(),
            (None, Some(h)) => h.flow.sni.as_deref(),
            (None, None) => None,
        }
    }

    /// Changes the PMTU (largest UDP payload) for the flights sent from now on.
    pub fn set_mtu(&mut self, mtu: usize) {
        self.mtu = clamp_mtu(mtu);
    }

    /// RFC 9146 §6: true when the last datagram given to `handle_datagram` held a record that
    /// authenticated and was newer than every record received before in the current epoch.
    /// Only then may a server move the peer's address to that datagram's source (the
    /// [`super::Endpoint`] does so); a replayed, delayed or forged record never qualifies.
    pub fn last_datagram_was_newest(&self) -> bool {
        self.newest_in_datagram
    }

    /// Our Connection ID, the one the peer puts in its records (empty: none negotiated or
    /// zero-length).
    pub fn connection_id(&self) -> &[u8] {
        self.rl.read_cid()
    }

    /// The peer's Connection ID, the one we put in our records (empty: plain records).
    pub fn peer_connection_id(&self) -> &[u8] {
        self.rl.write_cid()
    }

    /// True when the Connection ID extension was negotiated (either CID may be empty).
    pub fn cid_negotiated(&self) -> bool {
        self.cid_negotiated
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(crate) fn client_random(&self) -> &[u8; 32] {
        &self.client_random
    }

    /// The session of an established connection, to resume later: a client saves it (see
    /// [`Session::to_bytes`]) and puts it in [`ClientConfig::resume`]; it carries the newest
    /// ticket if the server sent one. Holds the master secret: treat it as a key.
    pub fn session(&self) -> Option<&Session> {
        if self.is_established() {
            self.session.as_ref()
        } else {
            None
        }
    }

    /// Server: the session and until when it may be resumed (for a session-ID cache). Never
    /// a session without extended master secret (RFC 7627 §5.3).
    pub fn resumable_session(&self) -> Option<(&Session, Instant)> {
        if !self.extended_master_secret() {
            return None;
        }
        Some((self.session()?, self.session_expiry?))
    }

    /// False when the session runs without RFC 7627 extended master secret (only under
    /// [`crate::EmsPolicy::Preferred`]); such a session is never resumable. An
    /// application logs it (WARN once per peer); endpoints count it.
    pub fn extended_master_secret(&self) -> bool {
        !self.stats.without_extended_master_secret
    }

    /// The session ID of this connection's session, once known (kept after close so an
    /// endpoint can forget a session that ended with a fatal alert).
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session.as_ref().map(|s| s.session_id.as_slice())
    }

    /// True when the handshake was abbreviated (a resumed session).
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// The PSK answer moved the handshake on: handle what arrived meanwhile.
    fn resume_after_psk(&mut self, now: Instant) {
        self.drain_messages(now);
        if let Some(h) = self.handshake_mut() {
            let parked = std::mem::take(&mut h.flow.parked);
            self.replay_raw(now, parked);
        }
    }
}

/// The PMTU kept per connection: at least `MIN_MTU`, at most what a UDP payload can be.
fn clamp_mtu(mtu: usize) -> u16 {
    u16::try_from(mtu.max(super::config::MIN_MTU)).unwrap_or(u16::MAX)
}
