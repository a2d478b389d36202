//! DTLS 1.3 (RFC 9147) beside DTLS 1.2 on one [`Endpoint`]: a ClientHello whose
//! supported_versions offers DTLS 1.3 goes to [`Server13`] when the configuration allows it.
//!
//! - Return routability: the first ClientHello is answered with a stateless HelloRetryRequest
//!   cookie (v13/cookie.rs; keys rotated on the 1.2 cookie period); nothing is kept for it.
//! - The PSK is asked for as for DTLS 1.2 ([`Event::PskRequested`], answered by
//!   `provide_psk` / `refuse_psk`, possibly later): the cookie-valid ClientHello is parked
//!   (its bytes only, counted in the half-open budgets: per address, `max_handshaking`,
//!   buffer bytes, `half_open_timeout`) and [`Server13::accept`] runs when the key arrives.
//! - The connection ([`Connection13`]) then lives in the endpoint's table, routed by address
//!   or by its Connection ID, and reports the same events as a DTLS 1.2 connection.
//! - Tickets (`ServerConfig::tickets13`, off by default): a NewSessionTicket follows every completed
//!   handshake (v13/issuer.rs: the ticket carries the external PSK identity the session
//!   descends from and that key's expiry, so it never outlives the Ks_NAF). A ClientHello
//!   offering one of our tickets that opens resumes without any key lookup (no
//!   [`Event::PskRequested`]) and its connection gets the original identity; a used, expired
//!   or unknown ticket is passed over for the external PSK the client offers beside it (else
//!   `handshake_failure`). Ticket keys rotate on `ticket_rotation` (the previous key still
//!   opens) and are never saved: a ticket issued before a restart does not open after it, so
//!   the used register (in memory) never needs to outlive the process.
//! - 0-RTT (`ServerConfig::early_data13`, off by default): see endpoint/v13_early.rs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Endpoint, Pending, Routed, Transmit};
use crate::cid_buf::CidBuf;
use crate::config::{PskAnswer, PskRefusal, PskRequest, ServerConfig};
use crate::error::Error;
use crate::event::{CloseReason, Event};
use crate::rng::DtlsRng;
use crate::secret::{Secret, SecretVec};
use crate::suite::CipherSuite;
use crate::v13::connection::{Connection13, Event13};
use crate::v13::cookie::CookieKey13;
use crate::v13::early::EarlyGate;
use crate::v13::handshake::{EXT_CONNECTION_ID, Handshake13Error, parse_plaintext};
use crate::v13::header::is_unified;
use crate::v13::hello::ClientHello13;
use crate::v13::issuer::{DEFAULT_USED_CAPACITY, TicketIssuer};
use crate::v13::key_share::GROUPS;
use crate::v13::server::{Accepted13, HelloContext, Server13};
use crate::v13::strike::StrikeRegister;
use crate::v13::ticket_master::TicketMaster;
use crate::wire::alert::AlertDescription;

/// The supported_versions extension (RFC 8446 §4.2.1).
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// The server_name extension (RFC 6066).
const EXT_SERVER_NAME: u16 = 0;
/// DTLS 1.3 on the wire.
const DTLS13: [u8; 2] = [0xfe, 0xfc];
/// The C bit of a unified header's first byte (RFC 9147 §4).
const UNIFIED_CID: u8 = 0x10;

/// The endpoint's DTLS 1.3 side.
pub(super) struct Tls13 {
    /// `None`: the endpoint does not speak DTLS 1.3 (versions, or no 1.3 suite).
    server: Option<Server13>,
    /// Origin of the seconds the cookies and tickets carry (a cookie lives 60 s, a ticket at
    /// most 7 days; across a restart only with a ticket master secret, which anchors them to
    /// the wall clock: `base_ms`).
    origin: Option<Instant>,
    /// The seconds of the last `secs` call (the time of the datagram being handled).
    last_secs: u64,
    /// Milliseconds at `origin`: 0, or the wall clock's with a ticket master secret (then
    /// tickets, cookies and the strike register's times mean the same after a restart).
    pub(super) base_ms: u64,
    /// The ticket master secret's keys and the period they are for (`None`: random keys).
    master: Option<(TicketMaster, u64)>,
    /// When the cookie key was last rotated.
    rotated: Option<Instant>,
    /// When the ticket key was last rotated.
    tickets_rotated: Option<Instant>,
    pub(super) conns: HashMap<u64, Entry13>,
    /// 0-RTT: the strike register (times: milliseconds since `origin`); `None`: no 0-RTT.
    pub(super) strike: Option<StrikeRegister>,
}

/// A DTLS 1.3 peer: its ClientHello waiting for a key, or its connection.
pub(super) struct Entry13 {
    pub(super) addr: SocketAddr,
    state: State13,
    identity: Vec<u8>,
    sni: Option<String>,
    suite: CipherSuite,
    client_random: [u8; 32],
    /// Our Connection ID (empty: none), routed in `Endpoint::by_cid`.
    cid: Vec<u8>,
    /// Whether it resumed from one of our tickets.
    resumed: bool,
    /// When the PSK it descends from expires (seconds on the endpoint's clock), once known:
    /// from its ticket, or asked of the key store when the handshake completes.
    key_expires: Option<u64>,
    pub(super) scheduled: Option<Instant>,
    pub(super) half_open: Option<Box<Pending>>,
    /// End of the half-open lifetime (`half_open_timeout`).
    expires: Instant,
}

enum State13 {
    /// The cookie-valid ClientHello, waiting for `provide_psk`.
    Parked(Vec<u8>),
    Conn(Box<Connection13>),
}

/// A DTLS 1.3 connection saved by `save_all`: address, PSK identity, SNI, sealed state.
pub(super) type Saved13 = (SocketAddr, Vec<u8>, Option<String>, Vec<u8>);

fn random_secret<const N: usize>(rng: &dyn DtlsRng) -> Result<Secret<N>, Error> {
    let mut k = [0u8; N];
    rng.fill(&mut k).map_err(|_| Error::Rng)?;
    Ok(Secret::new(k))
}

impl Tls13 {
    pub(super) fn new(config: &ServerConfig) -> Result<Self, Error> {
        let suites: Vec<u16> = config
            .common
            .suites
            .iter()
            .filter(|s| s.is_tls13())
            .map(|s| s.iana())
            .collect();
        let server = if config.serves_dtls13() {
            Some(Server13 {
                suites,
                groups: GROUPS.to_vec(),
                psk_ke: true,
                // return routability before any key lookup, as the 1.2 path always does
                require_cookie: true,
                cookie_key: CookieKey13::new(random_secret(config.common.rng.as_ref())?),
                tickets: if config.tickets13 {
                    let lifetime =
                        u32::try_from(config.session_lifetime.as_secs()).unwrap_or(u32::MAX);
                    let mut issuer = TicketIssuer::with_capacity(
                        random_secret(config.common.rng.as_ref())?,
                        lifetime,
                        DEFAULT_USED_CAPACITY,
                    );
                    issuer.early_data = config.early_data13.map(|e| e.max_size);
                    if let Some(m) = &config.ticket_master {
                        let p = TicketMaster::period(
                            m.wall_ms / 1000,
                            config.ticket_rotation.as_secs(),
                        );
                        issuer.set_keys(m.key(p), p.checked_sub(1).map(|q| m.key(q)));
                    }
                    Some(issuer)
                } else {
                    None
                },
                importers: config.psk_importers,
                fragment: None,
            })
        } else {
            None
        };
        let base_ms = config.ticket_master.as_ref().map_or(0, |m| m.wall_ms);
        let master = config
            .ticket_master
            .clone()
            .filter(|_| config.tickets13)
            .map(|m| {
                let p = TicketMaster::period(m.wall_ms / 1000, config.ticket_rotation.as_secs());
                (m, p)
            });
        Ok(Self {
            strike: early::register(config, server.is_some(), base_ms),
            server,
            origin: None,
            last_secs: base_ms / 1000,
            base_ms,
            master,
            rotated: None,
            tickets_rotated: None,
            conns: HashMap::new(),
        })
    }

    /// Whether DTLS 1.3 is served.
    pub(super) fn enabled(&self) -> bool {
        self.server.is_some()
    }

    /// Milliseconds on the clock of `secs` (the strike register's time).
    pub(super) fn ms(&mut self, now: Instant) -> u64 {
        let o = *self.origin.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(o).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(self.base_ms)
    }

    fn secs(&mut self, now: Instant) -> u64 {
        self.last_secs = self.ms(now) / 1000;
        self.last_secs
    }

    /// Rotates the cookie key every `periods.0` and the ticket key every `periods.1`.
    pub(super) fn maybe_rotate(
        &mut self,
        now: Instant,
        periods: (Duration, Duration),
        rng: &dyn DtlsRng,
    ) {
        let now_secs = self.ms(now) / 1000;
        let Some(s) = &mut self.server else { return };
        let last = *self.rotated.get_or_insert(now);
        if now.saturating_duration_since(last) >= periods.0 {
            if let Ok(k) = random_secret(rng) {
                s.cookie_key.rotate(k);
                self.rotated = Some(now);
            }
        }
        let Some(t) = &mut s.tickets else { return };
        if let Some((m, period)) = &mut self.master {
            // derived keys follow the wall clock's period, the same in every process
            let p = TicketMaster::period(now_secs, periods.1.as_secs());
            if p != *period {
                t.set_keys(m.key(p), p.checked_sub(1).map(|q| m.key(q)));
                *period = p;
            }
            return;
        }
        let last = *self.tickets_rotated.get_or_insert(now);
        if now.saturating_duration_since(last) >= periods.1 {
            if let Ok(k) = random_secret(rng) {
                t.rotate(k);
                self.tickets_rotated = Some(now);
            }
        }
    }

    /// The used register's size (ids of tickets that resumed a session, until they expire).
    pub(super) fn tickets_used(&self) -> usize {
        self.server
            .as_ref()
            .and_then(|s| s.tickets.as_ref())
            .map_or(0, TicketIssuer::used_count)
    }
}

/// The ClientHello of a datagram offers DTLS 1.3 (supported_versions holds 0xFEFC).
pub(super) fn offers_13(hello: &crate::wire::hello::ClientHello) -> bool {
    hello
        .extensions
        .get(EXT_SUPPORTED_VERSIONS)
        .and_then(|d| d.split_first())
        .is_some_and(|(&n, v)| usize::from(n) == v.len() && v.chunks_exact(2).any(|c| c == DTLS13))
}

/// The CID of a DTLS 1.3 record with a unified header that carries one.
pub(super) fn peek_cid13(data: &[u8], cid_len: usize) -> Option<&[u8]> {
    let first = *data.first()?;
    if cid_len == 0 || !is_unified(first) || first & UNIFIED_CID == 0 {
        return None;
    }
    data.get(1..1 + cid_len)
}

/// A plaintext alert record of epoch 0 answering a ClientHello (same record number).
fn plaintext_alert(record_seq: u64, description: AlertDescription) -> Vec<u8> {
    let mut d = Vec::with_capacity(15);
    d.extend_from_slice(&[21, 0xfe, 0xfd, 0, 0]);
    d.extend_from_slice(&record_seq.to_be_bytes()[2..]);
    d.extend_from_slice(&[0, 2, 2, description.to_u8()]);
    d
}

/// host_name of a server_name extension.
fn sni_of(ch: &ClientHello13) -> Option<String> {
    let d = ch.extension(EXT_SERVER_NAME)?;
    let mut exts = crate::wire::extensions::Extensions::default();
    exts.push(EXT_SERVER_NAME, d.to_vec());
    exts.server_name().ok().flatten()
}

impl Endpoint {
    /// A ClientHello offering DTLS 1.3 from `from` (not a retransmission of a known one).
    pub(super) fn on_new_hello13(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        record_seq: u64,
    ) {
        let secs = self.v13.secs(now);
        let Some(server) = &self.v13.server else {
            return;
        };
        let rng = self.config.common.rng.clone();
        let cx = HelloContext {
            peer: from,
            now_secs: secs,
            rng: rng.as_ref(),
            cid: None,
        };
        // 0-RTT on a ticket of ours: no cookie round trip (it would lose the early data)
        let early_ticket = self.v13.strike.is_some() && early::skips_cookie(server, data, &cx);
        // a first pass without keys or tickets: a HelloRetryRequest (cookie), or the
        // external identity to ask for (tickets are looked at below, once admitted)
        let asked = RefCell::new(None::<Vec<u8>>);
        let probe = if early_ticket {
            Err(Handshake13Error::UnknownIdentity)
        } else {
            server.accept_with(
                data,
                &cx,
                |id| {
                    asked.borrow_mut().get_or_insert_with(|| id.to_vec());
                    None
                },
                false,
            )
        };
        match probe {
            Ok(Accepted13::Retry(d)) => {
                self.early_at_retry(from, data, secs);
                self.stats.hello_verify_sent += 1;
                self.out.push_back(Transmit {
                    destination: from,
                    payload: d,
                });
                return;
            }
            Err(Handshake13Error::UnknownIdentity) => {}
            Err(Handshake13Error::Cookie(_)) => {
                self.stats.bad_cookies += 1;
                return;
            }
            Err(Handshake13Error::Incompatible(why)) => {
                log::debug!("{from}: DTLS 1.3 ClientHello refused: {why}");
                self.out.push_back(Transmit {
                    destination: from,
                    payload: plaintext_alert(record_seq, AlertDescription::HandshakeFailure),
                });
                return;
            }
            // no key and no ticket is taken in this pass; anything else is malformed
            Ok(Accepted13::Flight(..)) | Err(_) => return,
        }
        let Ok(ch) = parse_plaintext(data).and_then(|p| ClientHello13::parse(p.body)) else {
            return;
        };
        // the suite accept chose (the cookie holds the same: chosen the same way)
        let Some(suite) = server
            .suites
            .iter()
            .copied()
            .find(|s| ch.cipher_suites.contains(s))
            .and_then(CipherSuite::from_iana)
        else {
            return;
        };
        // one of our tickets that opens, in the suite of this handshake: a resumption
        let (ticket, refused) = tickets::offered(server, &ch, suite, secs);
        if ticket.is_some() || refused {
            self.stats.resumptions_offered += 1;
        }
        if refused && ticket.is_none() {
            self.stats.tickets_refused += 1;
        }
        let identity = match (&ticket, asked.into_inner()) {
            (Some(o), _) => o.identity.clone(),
            (None, Some(id)) => id,
            (None, None) => {
                // only tickets we cannot take (used, expired, from before a restart) and no
                // external PSK to fall back to: a full handshake needs the client's key
                self.out.push_back(Transmit {
                    destination: from,
                    payload: plaintext_alert(record_seq, AlertDescription::HandshakeFailure),
                });
                return;
            }
        };
        let sni = sni_of(&ch);
        if let Some(name) = &sni {
            if !self.config.serves_name(name) {
                self.stats.unrecognized_name += 1;
                self.out.push_back(Transmit {
                    destination: from,
                    payload: plaintext_alert(record_seq, AlertDescription::UnrecognizedName),
                });
                return;
            }
        }
        let Some(super::Admitted { evict }) = self.admit(now, from) else {
            return;
        };
        let wants_cid = ch.extension(EXT_CONNECTION_ID).is_some();
        let cid = if wants_cid && self.config.connection_id.is_some() {
            match self.new_cid() {
                Some(c) => c,
                None => {
                    self.stats.connection_limited += 1;
                    return;
                }
            }
        } else {
            Vec::new()
        };
        self.stats.accepted += 1;
        if let Some(victim) = evict {
            self.evict(victim);
        }
        if let Some(old) = self.by_addr.get(&from).copied() {
            self.remove(old);
        }
        let id = self.next_id;
        self.next_id += 1;
        if !cid.is_empty() {
            self.by_cid.insert(CidBuf::from(cid.as_slice()), id);
        }
        self.by_addr.insert(from, id);
        self.half_open.enter(from.ip());
        self.half_open.rebuffer(0, data.len());
        let pending = Box::new(Pending {
            ip: from.ip(),
            buffered: data.len(),
            stamp: self.stalest.touch(id, None),
            trips: 0,
        });
        self.v13.conns.insert(
            id,
            Entry13 {
                addr: from,
                state: State13::Parked(data.to_vec()),
                identity: identity.clone(),
                sni: sni.clone(),
                suite,
                client_random: ch.random,
                cid,
                resumed: false,
                key_expires: None,
                scheduled: None,
                half_open: Some(pending),
                expires: now + self.config.half_open_timeout,
            },
        );
        if ticket.is_some() {
            // the ticket is the key: no lookup, no PskRequested
            self.run13(now, id, None);
            return;
        }
        let req = PskRequest {
            identity: identity.clone(),
            sni: sni.clone(),
            suite,
        };
        match self.config.psk.lookup(&req) {
            PskAnswer::Ready(key) => self.keyed13(now, id, Ok(key)),
            PskAnswer::Pending => {
                self.events.push_back((
                    from,
                    Event::PskRequested {
                        identity,
                        hint: None,
                        sni,
                        suite,
                    },
                ));
                self.schedule(id);
            }
            PskAnswer::Unknown => self.keyed13(now, id, Err(PskRefusal::UnknownIdentity)),
            PskAnswer::Unavailable => self.keyed13(now, id, Err(PskRefusal::Unavailable)),
        }
    }

    /// The key of a parked ClientHello came (or was refused): the handshake goes on or fails.
    pub(super) fn keyed13(&mut self, now: Instant, id: u64, answer: Result<SecretVec, PskRefusal>) {
        match answer {
            Ok(key) => self.run13(now, id, Some(key)),
            // RFC 4279 §2 in spirit: an unknown identity ends as a wrong key does (decrypt_error)
            Err(PskRefusal::UnknownIdentity) => {
                self.refuse13(id, Handshake13Error::UnknownIdentity)
            }
            Err(PskRefusal::Unavailable) => {
                let Some(e) = self.v13.conns.get(&id) else {
                    return;
                };
                let State13::Parked(hello) = &e.state else {
                    return;
                };
                let record_seq = parse_plaintext(hello).map_or(0, |p| p.record_seq);
                let addr = e.addr;
                self.out.push_back(Transmit {
                    destination: addr,
                    payload: plaintext_alert(record_seq, AlertDescription::InternalError),
                });
                self.fail13(id, Error::PskUnavailable);
            }
        }
    }

    /// Runs the parked ClientHello of `id` with the external PSK `key`, or (`None`) with the
    /// ticket it offers.
    fn run13(&mut self, now: Instant, id: u64, key: Option<SecretVec>) {
        let secs = self.v13.secs(now);
        let now_ms = self.v13.ms(now);
        let rng = self.config.common.rng.clone();
        let Tls13 {
            server,
            conns,
            strike,
            ..
        } = &mut self.v13;
        let (Some(server), Some(e)) = (&*server, conns.get_mut(&id)) else {
            return;
        };
        let State13::Parked(hello) = &e.state else {
            return;
        };
        let hello = hello.clone();
        let cx = HelloContext {
            peer: e.addr,
            now_secs: secs,
            rng: rng.as_ref(),
            cid: (!e.cid.is_empty() || self.config.connection_id.is_some())
                .then_some(e.cid.as_slice()),
        };
        let identity = e.identity.clone();
        // for every handshake: an external PSK's early data is refused (no age) and counted
        let mut gate = strike
            .as_mut()
            .map(|register| EarlyGate { register, now_ms });
        let result = server.accept_early(
            &hello,
            &cx,
            |i| key.clone().filter(|_| i == identity.as_slice()),
            key.is_none(),
            gate.as_mut(),
        );
        match result {
            Ok(Accepted13::Flight(wait, flight)) => {
                if strike.is_some() {
                    early::count(&mut self.stats, e.addr, wait.early_outcome());
                }
                if let Some(o) = wait.resumed_from() {
                    e.resumed = true;
                    e.key_expires = o.key_expires;
                }
                let conn = Connection13::server(
                    wait,
                    flight,
                    &hello,
                    self.config.common.retransmit,
                    rng,
                    now,
                );
                let buffered = e.half_open.as_ref().map_or(0, |p| p.buffered);
                self.half_open.rebuffer(buffered, 0);
                if let Some(p) = &mut e.half_open {
                    p.buffered = 0;
                }
                e.state = State13::Conn(Box::new(conn));
                self.drain13(id);
            }
            Ok(Accepted13::Retry(d)) if key.is_none() => self.early_retry(id, d),
            Ok(Accepted13::Retry(_)) => self.fail13(id, Error::NoCommonSuite),
            Err(err) => self.refuse13(id, err),
        }
    }

    /// Ends a parked handshake for `err`, with the alert that fits it.
    fn refuse13(&mut self, id: u64, err: Handshake13Error) {
        let Some(e) = self.v13.conns.get(&id) else {
            return;
        };
        let State13::Parked(hello) = &e.state else {
            return;
        };
        let record_seq = parse_plaintext(hello).map_or(0, |p| p.record_seq);
        let alert = match err {
            Handshake13Error::BadMac(_) | Handshake13Error::UnknownIdentity => {
                AlertDescription::DecryptError
            }
            _ => AlertDescription::HandshakeFailure,
        };
        let addr = e.addr;
        self.out.push_back(Transmit {
            destination: addr,
            payload: plaintext_alert(record_seq, alert),
        });
        self.fail13(id, err.into());
    }

    /// Ends a DTLS 1.3 handshake with `why` (the alert, if any, is already queued).
    fn fail13(&mut self, id: u64, why: Error) {
        let Some(addr) = self.v13.conns.get(&id).map(|e| e.addr) else {
            return;
        };
        let reason = CloseReason::Error(why);
        self.stats.count_close(&reason);
        self.remove(id);
        self.events.push_back((addr, Event::Closed { reason }));
    }

    /// A datagram for a DTLS 1.3 peer.
    pub(super) fn handle13(&mut self, now: Instant, r: Routed, from: SocketAddr, data: &[u8]) {
        self.v13.secs(now);
        let Some(e) = self.v13.conns.get_mut(&r.id) else {
            return;
        };
        let State13::Conn(c) = &mut e.state else {
            // still waiting for its key: the client's retransmission changes nothing
            return;
        };
        let before = c.session().map(|s| s.receive_mark());
        c.handle_datagram(now, data);
        let after = c.session().map(|s| s.receive_mark());
        // an authenticated record newer than any before it (RFC 9146 §6, RFC 9147 §9)
        let newest = matches!((before, after), (Some(b), Some(a)) if a > b);
        let old = e.addr;
        if r.by_cid && old != from && self.may_move(r.id, old, from, newest) {
            if let Some(e) = self.v13.conns.get_mut(&r.id) {
                e.addr = from;
            }
            self.moved(r.id, old, from);
        }
        self.drain13(r.id);
    }

    /// Takes what a DTLS 1.3 connection produced: datagrams, events, and its end.
    pub(super) fn drain13(&mut self, id: u64) {
        let Some(e) = self.v13.conns.get_mut(&id) else {
            return;
        };
        let State13::Conn(c) = &mut e.state else {
            return;
        };
        // just established: its ticket follows the ACK of the client's Finished
        let ticket_now = c.is_established() && e.half_open.is_some();
        let addr = e.addr;
        while let Some(d) = c.poll_transmit() {
            self.out.push_back(Transmit {
                destination: addr,
                payload: d,
            });
        }
        let mut closed = false;
        while let Some(ev) = c.poll_event() {
            let ev = match ev {
                Event13::Connected { .. } => {
                    if e.resumed {
                        self.stats.abbreviated_handshakes += 1;
                    } else {
                        self.stats.full_handshakes += 1;
                    }
                    Event::Connected {
                        suite: e.suite,
                        identity: e.identity.clone(),
                        resumed: e.resumed,
                    }
                }
                Event13::Data(d) => Event::Data(d),
                Event13::EarlyData(d) => {
                    self.stats.early_data_bytes += d.len() as u64;
                    Event::EarlyData(d)
                }
                // client-only events
                Event13::Ticket(_) | Event13::EarlyDataStatus { .. } => continue,
                Event13::Closed(why) => {
                    closed = true;
                    let reason = CloseReason::from_close13(
                        why,
                        self.config.common.retransmit.max_retransmits,
                    );
                    self.stats.count_close(&reason);
                    Event::Closed { reason }
                }
            };
            self.events.push_back((addr, ev));
        }
        if c.is_established() {
            if let Some(p) = e.half_open.take() {
                self.half_open.leave(p.ip, p.buffered);
                self.stalest.leave(id, p.stamp);
            }
        }
        if closed {
            self.remove(id);
        } else {
            if ticket_now {
                self.ticket13(id);
            }
            self.schedule(id);
        }
    }

    /// The deadline of a DTLS 1.3 peer: its retransmission, or the end of its half-open
    /// lifetime.
    pub(super) fn timeout13(&self, id: u64) -> Option<Instant> {
        let e = self.v13.conns.get(&id)?;
        let own = match &e.state {
            State13::Parked(_) => None,
            State13::Conn(c) => c.poll_timeout(),
        };
        let expiry = e.half_open.as_ref().map(|_| e.expires);
        match (own, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A DTLS 1.3 peer's timer is due.
    pub(super) fn handle_timeout13(&mut self, now: Instant, id: u64) {
        self.v13.secs(now);
        let Some(e) = self.v13.conns.get_mut(&id) else {
            return;
        };
        if e.half_open.is_some() && now >= e.expires {
            self.fail13(id, Error::HandshakeExpired);
            return;
        }
        if let State13::Conn(c) = &mut e.state {
            c.handle_timeout(now);
        }
        self.drain13(id);
    }

    /// Removes a DTLS 1.3 peer from the tables (no event).
    pub(super) fn remove13(&mut self, id: u64) -> bool {
        let Some(e) = self.v13.conns.remove(&id) else {
            return false;
        };
        if let Some(p) = e.half_open {
            self.half_open.leave(p.ip, p.buffered);
            self.stalest.leave(id, p.stamp);
        }
        if self.by_addr.get(&e.addr) == Some(&id) {
            self.by_addr.remove(&e.addr);
        }
        if !e.cid.is_empty() && self.by_cid.get(e.cid.as_slice()) == Some(&id) {
            self.by_cid.remove(e.cid.as_slice());
        }
        true
    }

    /// Whether a DTLS 1.3 peer is still handshaking (parked or waiting for Finished).
    pub(super) fn handshaking13(&self, id: u64) -> bool {
        self.v13
            .conns
            .get(&id)
            .is_some_and(|e| e.half_open.is_some())
    }

    /// The ClientHello random of the DTLS 1.3 peer at `addr`.
    pub(super) fn client_random13(&self, id: u64) -> Option<&[u8; 32]> {
        self.v13.conns.get(&id).map(|e| &e.client_random)
    }

    pub(super) fn send13(&mut self, id: u64, data: &[u8]) -> Result<(), Error> {
        let e = self.v13.conns.get_mut(&id).ok_or(Error::Closed)?;
        match &mut e.state {
            State13::Conn(c) if c.is_established() => c.send(data).map_err(Error::from)?,
            _ => return Err(Error::NotConnected),
        }
        self.drain13(id);
        Ok(())
    }

    /// [`Self::send13`] into `buf`. The record is sealed first (DTLS 1.3 has no in-place
    /// path here): when `buf` is too short it is queued for `poll_transmit` instead, and
    /// the error says so.
    pub(super) fn send13_into(
        &mut self,
        id: u64,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let e = self.v13.conns.get_mut(&id).ok_or(Error::Closed)?;
        let addr = e.addr;
        let d = match &mut e.state {
            State13::Conn(c) if c.is_established() => {
                c.send(data).map_err(Error::from)?;
                c.poll_transmit().ok_or(Error::Closed)?
            }
            _ => return Err(Error::NotConnected),
        };
        self.drain13(id);
        match buf.get_mut(..d.len()) {
            Some(dst) => {
                dst.copy_from_slice(&d);
                Ok(d.len())
            }
            None => {
                let needed = d.len();
                self.out.push_back(Transmit {
                    destination: addr,
                    payload: d,
                });
                Err(Error::BufferTooSmall {
                    needed,
                    available: buf.len(),
                })
            }
        }
    }

    pub(super) fn close13(&mut self, id: u64) {
        let Some(e) = self.v13.conns.get_mut(&id) else {
            return;
        };
        match &mut e.state {
            State13::Conn(c) => {
                c.close();
                self.drain13(id);
            }
            State13::Parked(_) => {
                let addr = e.addr;
                self.remove(id);
                self.events.push_back((
                    addr,
                    Event::Closed {
                        reason: CloseReason::Local,
                    },
                ));
            }
        }
    }

    pub(super) fn answer13(
        &mut self,
        now: Instant,
        id: u64,
        answer: Result<SecretVec, PskRefusal>,
    ) -> Result<(), Error> {
        match self.v13.conns.get(&id).map(|e| &e.state) {
            Some(State13::Parked(_)) => {
                self.keyed13(now, id, answer);
                Ok(())
            }
            Some(State13::Conn(_)) => Err(Error::NoPskRequest),
            None => Err(Error::Closed),
        }
    }
}

#[path = "v13_peers.rs"]
mod peers;

#[path = "v13_tickets.rs"]
mod tickets;

#[path = "v13_restart.rs"]
mod restart13;

#[path = "v13_early.rs"]
mod early;
pub use peers::{Peer13, PeerInfo};

#[cfg(test)]
#[path = "v13_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "v13_ticket_tests.rs"]
mod ticket_tests;

#[cfg(test)]
#[path = "v13_master_tests.rs"]
mod master_tests;

#[cfg(test)]
#[path = "v13_importer_tests.rs"]
mod importer_tests;

#[cfg(test)]
#[path = "v13_early_tests.rs"]
mod early_tests;
