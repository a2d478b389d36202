//! The handshake as a state machine with one type per state (the shape of rustls's
//! `server/tls12.rs`): each [`Step`] owns only the data valid in it, and handling a message
//! consumes the step into the next one, so a field that is missing in a state cannot be asked
//! for. What every handshake state shares (reassembly, our last flight and its timer, the
//! transcript, held records) is the [`Flow`]. The handlers of each role are in `client.rs`
//! and `server.rs`; this file dispatches a message to them.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::{Connection, FinishedVerified, State};
use crate::crypto::ecdhe::EphemeralKey;
use crate::error::{Error, Unexpected};
use crate::flight::Flight;
use crate::reassembly::{Message, Reassembler};
use crate::secret::Secret;
use crate::session::Session;
use crate::suite::CipherSuite;
use crate::ticket::TicketKey;
use crate::wire::handshake::{HandshakeType, encode_full};
use crate::wire::hello::ClientHello;
use crate::wire::kx::ServerKeyExchange;

/// A running handshake: the state it is in and what all states share. Boxed in
/// [`State::Handshaking`] and freed once established.
pub(super) struct Handshake {
    pub(super) step: Step,
    pub(super) flow: Flow,
}

/// What every handshake state holds.
pub(super) struct Flow {
    pub(super) transcript: Transcript,
    /// SNI host name (client: what we send; server: what the client sent).
    pub(super) sni: Option<String>,
    pub(super) reasm: Reassembler,
    /// Our last flight, kept for retransmission.
    pub(super) flight: Flight,
    /// The retransmission timer, while we wait for the peer's answer to `flight`.
    pub(super) retx: Option<Retransmit>,
    /// message_seq and digest of the peer's last message (spots its retransmissions).
    pub(super) peer_last: Option<(u16, [u8; 32])>,
    /// Records of the next epoch, held until the ChangeCipherSpec that opens it.
    pub(super) future: Vec<Vec<u8>>,
    /// Records held while the handshake waits for a PSK.
    pub(super) parked: Vec<Vec<u8>>,
}

impl Flow {
    pub(super) fn new(sni: Option<String>) -> Self {
        Self {
            transcript: Transcript::default(),
            sni,
            reasm: Reassembler::default(),
            flight: Flight::default(),
            retx: None,
            peer_last: None,
            future: Vec::new(),
            parked: Vec::new(),
        }
    }

    /// Remembers `m` as the peer's last message, to spot a retransmission of it.
    pub(super) fn note_peer_last(&mut self, m: &Message) {
        self.peer_last = Some((m.seq, Sha256::digest(&m.body).into()));
    }
}

pub(super) struct Retransmit {
    pub(super) deadline: Instant,
    pub(super) timeout: Duration,
    pub(super) count: u32,
}

/// The running hash of the handshake messages (RFC 5246 §7.4.9: header and body of each, in
/// order, without HelloRequest and, in DTLS, without the first ClientHello and
/// HelloVerifyRequest of a cookie exchange).
#[derive(Clone, Default)]
pub(super) struct Transcript(Sha256);

impl Transcript {
    pub(super) fn add(&mut self, t: HandshakeType, seq: u16, body: &[u8]) {
        self.0.update(encode_full(t, seq, body));
    }

    pub(super) fn hash(&self) -> [u8; 32] {
        self.0.clone().finalize().into()
    }
}

/// One state of the handshake, with the data valid in it.
pub(super) enum Step {
    /// Client: ClientHello sent; HelloVerifyRequest or ServerHello expected.
    ClientHello(ClientHelloSent),
    /// Client, full handshake: ServerKeyExchange or ServerHelloDone expected.
    ClientServerKx(ClientFull),
    /// Client: ServerKeyExchange received; ServerHelloDone expected.
    ClientHelloDone(ClientFull, ServerKeyExchange),
    /// Client: waiting for `provide_client_psk`.
    ClientPsk(ClientFull, ServerKeyExchange),
    /// Server, full handshake: ClientKeyExchange expected.
    ServerKx(ServerFull),
    /// Server: waiting for `provide_server_psk`.
    ServerPsk(ServerFull, PeerKx),
    /// Keys derived: the peer's ChangeCipherSpec expected (a client may first get a ticket).
    WaitCcs(Keyed),
    /// The peer's ChangeCipherSpec received: its Finished expected.
    WaitFinished(Keyed),
}

/// Client: the session ticket we hold (kept from a resumed session or newly received).
#[derive(Default)]
pub(super) struct ClientTicket {
    pub(super) ticket: Vec<u8>,
    pub(super) lifetime: u32,
}

/// Client, before the ServerHello.
pub(super) struct ClientHelloSent {
    /// Our hello, sent again with the cookie of a HelloVerifyRequest.
    pub(super) hello: ClientHello,
    pub(super) hello_verify_count: u8,
    /// The CID we asked for (the config may ask for none).
    pub(super) offered_cid: Option<Vec<u8>>,
    /// The session offered for resumption.
    pub(super) resuming: Option<Session>,
    pub(super) ticket: ClientTicket,
}

/// Client, full handshake after the ServerHello.
pub(super) struct ClientFull {
    pub(super) suite: CipherSuite,
    pub(super) session_id: Vec<u8>,
    pub(super) end: ClientEnd,
}

/// Client: what the server's NewSessionTicket may still change.
pub(super) struct ClientEnd {
    /// The server acknowledged SessionTicket: a NewSessionTicket may come.
    pub(super) ticket_expected: bool,
    pub(super) ticket: ClientTicket,
}

/// Server: a ticket to issue, with the key to seal it and the longest it can be opened.
pub(super) struct TicketIssuer {
    pub(super) key: TicketKey,
    pub(super) cap: Duration,
}

/// Server, full handshake after its first flight.
pub(super) struct ServerFull {
    pub(super) suite: CipherSuite,
    /// Our ephemeral key (ECDHE_PSK suites only).
    pub(super) ecdhe: Option<EphemeralKey>,
    pub(super) session_id: Vec<u8>,
    /// Set when a NewSessionTicket goes with our last flight.
    pub(super) ticket: Option<TicketIssuer>,
}

/// Server: the client's key exchange, while its PSK is looked up.
pub(super) struct PeerKx {
    pub(super) identity: Vec<u8>,
    /// The client's ephemeral public key (ECDHE_PSK suites only).
    pub(super) point: Option<Vec<u8>>,
    /// Remaining PSK lifetime when it was looked up.
    pub(super) psk_left: Option<Duration>,
}

/// Keys derived, Finished messages still to check.
pub(super) struct Keyed {
    pub(super) suite: CipherSuite,
    pub(super) master: Secret<48>,
    pub(super) identity: Vec<u8>,
    pub(super) session_id: Vec<u8>,
    pub(super) finish: Finish,
}

/// What the peer's Finished leads to.
pub(super) enum Finish {
    /// Client, full handshake: the server's Finished ends it.
    ClientFull(ClientEnd),
    /// Client, abbreviated: the server finished first; we answer with CCS and Finished.
    ClientResumed(ClientEnd),
    /// Server, full handshake: we answer with [NewSessionTicket] CCS Finished.
    ServerFull {
        psk_left: Option<Duration>,
        /// The identity was unknown and a random key stands in for it (RFC 4279 §2).
        psk_unknown: bool,
        ticket: Option<TicketIssuer>,
    },
    /// Server, abbreviated: the client's Finished ends it.
    ServerResumed,
}

/// Where a handled message leaves the handshake.
pub(super) enum Next {
    Handshake(Step),
    /// Established; `keep_flight` when we sent the last flight (kept to answer a repeat of
    /// the peer's last one).
    Established {
        token: FinishedVerified,
        keyed: Keyed,
        keep_flight: bool,
    },
}

impl Step {
    /// True while the handshake waits for the application's PSK answer.
    pub(super) fn waits_for_psk(&self) -> bool {
        matches!(self, Self::ClientPsk(..) | Self::ServerPsk(..))
    }

    /// The PSK identity, once known.
    pub(super) fn identity(&self) -> &[u8] {
        match self {
            Self::WaitCcs(k) | Self::WaitFinished(k) => &k.identity,
            Self::ServerPsk(_, p) => &p.identity,
            _ => &[],
        }
    }
}

impl Connection {
    /// Takes the handshake out of the connection, runs `f` on its state and puts back what
    /// `f` leads to: the next state, an established connection, or (on error) a fatal
    /// alert and a closed connection. Does nothing unless a handshake is running.
    pub(super) fn advance(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Self, &mut Flow, Step) -> Result<Next, Error>,
    ) {
        let State::Handshaking(mut hs) = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        let step = hs.step;
        match f(self, &mut hs.flow, step) {
            Ok(Next::Handshake(step)) => {
                hs.step = step;
                self.state = State::Handshaking(hs);
            }
            Ok(Next::Established {
                token,
                keyed,
                keep_flight,
            }) => self.established(now, hs.flow, keyed, token, keep_flight),
            Err(e) => self.abort(e),
        }
    }

    /// Handles one complete handshake message in the state it finds (both roles).
    pub(super) fn on_message(&mut self, now: Instant, m: Message) {
        self.advance(now, |c, flow, step| c.step(now, flow, step, &m));
    }

    fn step(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        step: Step,
        m: &Message,
    ) -> Result<Next, Error> {
        use HandshakeType as T;
        if m.epoch > 0 && m.msg_type != T::Finished {
            return Err(Unexpected::ProtectedNotFinished.into());
        }
        if m.epoch == 0 && m.msg_type == T::Finished {
            return Err(Unexpected::FinishedBeforeCcs.into());
        }
        let next = match (step, m.msg_type) {
            (Step::ClientHello(s), T::HelloVerifyRequest) => {
                Step::ClientHello(self.on_hello_verify(now, flow, s, m)?)
            }
            (Step::ClientHello(s), T::ServerHello) => self.on_server_hello(flow, s, m)?,
            (Step::ClientServerKx(s), T::ServerKeyExchange) => {
                let ske = ServerKeyExchange::parse(&m.body, s.suite.is_ecdhe())?;
                flow.transcript.add(m.msg_type, m.seq, &m.body);
                Step::ClientHelloDone(s, ske)
            }
            (Step::ClientServerKx(s), T::ServerHelloDone) => {
                if s.suite.is_ecdhe() {
                    return Err(Unexpected::EcdheWithoutServerKeyExchange.into());
                }
                let ske = ServerKeyExchange::Psk { hint: Vec::new() };
                self.on_server_hello_done(now, flow, s, ske, m)?
            }
            (Step::ClientHelloDone(s, ske), T::ServerHelloDone) => {
                self.on_server_hello_done(now, flow, s, ske, m)?
            }
            (Step::WaitCcs(mut k), T::NewSessionTicket) if k.expects_ticket() => {
                self.on_new_session_ticket(flow, &mut k, m)?;
                Step::WaitCcs(k)
            }
            (Step::ServerKx(s), T::ClientKeyExchange) => self.on_client_key_exchange(flow, s, m)?,
            (Step::WaitFinished(k), T::Finished) => return self.on_finished(now, flow, k, m),
            (_, T::Finished) => return Err(Unexpected::FinishedBeforeCcs.into()),
            (_, T::HelloVerifyRequest) if self.is_client() => {
                return Err(Unexpected::HelloVerifyAfterServerHello.into());
            }
            (_, T::ServerHello) if self.is_client() => {
                return Err(Unexpected::SecondServerHello.into());
            }
            (_, T::ClientHello) if self.is_server() => {
                return Err(Unexpected::ClientHelloRestart.into());
            }
            (_, _) => return Err(Unexpected::OutOfOrder.into()),
        };
        Ok(Next::Handshake(next))
    }

    /// The peer's Finished: checked, then what it leads to for our role.
    fn on_finished(
        &mut self,
        now: Instant,
        flow: &mut Flow,
        keyed: Keyed,
        m: &Message,
    ) -> Result<Next, Error> {
        let got = crate::wire::kx::parse_finished(&m.body)?;
        let token = self.verify_finished(&keyed, flow, &got)?;
        flow.transcript.add(m.msg_type, m.seq, &m.body);
        let keep_flight = match &keyed.finish {
            Finish::ClientFull(_) => false,
            Finish::ClientResumed(_) => {
                flow.note_peer_last(m);
                // last flight: kept to answer a retransmitted server Finished, no timer
                self.send_last_flight(now, flow, &keyed, None)?;
                true
            }
            Finish::ServerFull { .. } => {
                flow.note_peer_last(m);
                self.server_last_flight(now, flow, &keyed)?;
                true
            }
            Finish::ServerResumed => {
                flow.note_peer_last(m);
                false
            }
        };
        Ok(Next::Established {
            token,
            keyed,
            keep_flight,
        })
    }
}

impl Keyed {
    /// Client: a NewSessionTicket may come before the server's ChangeCipherSpec.
    fn expects_ticket(&self) -> bool {
        match &self.finish {
            Finish::ClientFull(e) | Finish::ClientResumed(e) => e.ticket_expected,
            _ => false,
        }
    }
}
