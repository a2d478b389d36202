//! What a connection keeps once established: the session (the one copy of the master secret,
//! identity, session ID, ticket and SNI), and, when it sent the handshake's last flight, a
//! small [`KeptFlight`] to answer a repeat of the peer's last flight (RFC 6347 §4.2.4) until
//! the peer shows it got ours. The handshake state itself is freed when established.

use std::time::{Duration, Instant};

use super::machine::{ClientTicket, Finish, Flow, Keyed};
use super::{Connection, FinishedVerified, State};
use crate::event::Event;
use crate::flight::Flight;
use crate::session::Session;
use crate::stats::HandshakeKind;

/// How long the sender of the last flight keeps it to answer a retransmission of the peer's
/// last flight when nothing shows the peer got it (RFC 6347 §4.2.4: twice the TCP MSL). An
/// authenticated application record from the peer ends it sooner. This is no retransmission
/// timer and `poll_timeout` does not report it (nothing is sent when it ends): the state goes
/// at the first `handle_datagram` or `handle_timeout` after it (an
/// [`Endpoint`](crate::Endpoint) sweeps its connections on every datagram and timeout).
pub const FINAL_FLIGHT_LINGER: Duration = Duration::from_secs(240);

/// What an established connection that sent the last flight of the handshake keeps to answer
/// a repeat of the peer's last flight (RFC 6347 §4.2.4), until the peer shows it got ours.
pub(super) struct KeptFlight {
    pub(super) flight: Flight,
    /// message_seq and digest of the peer's last message.
    pub(super) peer_last: Option<(u16, [u8; 32])>,
    /// Kept until then at most ([`FINAL_FLIGHT_LINGER`] after the handshake).
    until: Instant,
}

impl Connection {
    /// Drops the kept last flight when `confirmed` (the peer showed it got it) or once its
    /// time is over (RFC 6347 §4.2.4).
    pub(super) fn maybe_drop_handshake(&mut self, now: Instant, confirmed: bool) {
        if let State::Established { kept, .. } = &mut self.state {
            if kept.as_ref().is_some_and(|k| confirmed || now >= k.until) {
                *kept = None;
            }
        }
    }

    /// Our last flight, kept while the peer may still ask for it again (established only).
    pub(super) fn kept(&self) -> Option<&KeptFlight> {
        match &self.state {
            State::Established { kept, .. } => kept.as_deref(),
            _ => None,
        }
    }

    /// True while handshake state is held: during the handshake, and once established while
    /// our last flight is kept for the peer (tests and diagnostics).
    pub fn holds_handshake_state(&self) -> bool {
        self.handshake().is_some() || self.kept().is_some()
    }

    /// Until when an established connection keeps its last flight for a peer that has not
    /// shown it got it ([`FINAL_FLIGHT_LINGER`]); `None` when nothing is kept.
    pub fn kept_flight_until(&self) -> Option<Instant> {
        self.kept().map(|k| k.until)
    }

    /// Moves what outlives the handshake into the session and frees the handshake state. When
    /// we sent the last flight (`keep_flight`), it is kept with the digest of the peer's last
    /// message (to answer a repeat of it) until the peer's first data record or `now +
    /// FINAL_FLIGHT_LINGER`.
    pub(super) fn established(
        &mut self,
        now: Instant,
        flow: Flow,
        keyed: Keyed,
        token: FinishedVerified,
        keep_flight: bool,
    ) {
        let Keyed {
            suite,
            master,
            identity,
            session_id,
            finish,
        } = keyed;
        let ticket = match finish {
            Finish::ClientFull(end) | Finish::ClientResumed(end) => end.ticket,
            Finish::ServerFull { .. } | Finish::ServerResumed => ClientTicket::default(),
        };
        // RFC 7627 §5.3: a session without EMS is never resumed, so it keeps no session ID
        // or ticket that could be offered
        let (session_id, ticket_bytes) = if self.stats.without_extended_master_secret {
            (Vec::new(), Vec::new())
        } else {
            (session_id, ticket.ticket)
        };
        self.session = Some(Session {
            suite,
            master,
            identity: identity.clone(),
            session_id,
            ticket: ticket_bytes,
            ticket_lifetime: ticket.lifetime,
            server_name: flow.sni,
        });
        self.next_recv_seq = flow.reasm.next_seq();
        let kept = keep_flight.then(|| {
            Box::new(KeptFlight {
                flight: flow.flight,
                peer_last: flow.peer_last,
                until: now + FINAL_FLIGHT_LINGER,
            })
        });
        // the rest (transcript, reassembly, buffers) was freed with the handshake
        self.stats.handshake_kind = Some(if self.resumed {
            HandshakeKind::Abbreviated
        } else {
            HandshakeKind::Full
        });
        self.events.push_back(Event::Connected {
            suite,
            identity,
            resumed: self.resumed,
        });
        self.state = State::Established {
            _proof: token,
            kept,
        };
    }
}
