//! The gateway's OSCORE relay, sans-IO: protects what local CoAP clients send and unprotects
//! what the server answers, with the request/response bindings of RFC 8613 §8 in between.
//!
//! Tokens and message IDs are the local client's unless two local clients use the same token at
//! once; then the upstream request gets a token of its own, and the answer is mapped back.
//! Empty ACKs and RSTs are not protected (RFC 8613 §4.2: they carry nothing to protect) and pass
//! with their IDs mapped. A local retransmission (same sender, token and message ID) is protected
//! anew with a new partial IV: the server forwards it with the same message ID, so the backend's
//! own CoAP deduplication answers it once. Observe notifications carry their own partial IV and
//! must arrive in order (§4.1.3.5.2); an older one is dropped.
//!
//! Freshness after the server restarted: its 4.01 with an Echo option (RFC 9175) is answered by
//! repeating the request once with the Echo value, as RFC 8613 Appendix B.1.2 expects of a
//! client, and the local client never sees the challenge.

use simbridge_oscore::Error as OscoreError;
use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::context::SecurityContext;
use simbridge_oscore::option::seq_of;
use simbridge_oscore::protect::{self, RequestBinding};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most requests waiting for an answer at once; the oldest goes first beyond.
const MAX_PENDING: usize = 1024;
/// Bindings kept per request (the original and retransmissions).
const MAX_BINDINGS: usize = 4;
/// How long an answer is waited for (RFC 7252 EXCHANGE_LIFETIME); observations stay while
/// notifications come.
const PENDING_LIFETIME: Duration = Duration::from_secs(247);

/// A request waiting for its answer.
struct Pending {
    local: SocketAddr,
    local_token: Vec<u8>,
    local_mid: u16,
    upstream_mid: u16,
    /// The request as the local client sent it (to repeat it with an Echo value).
    plain: Message,
    bindings: Vec<RequestBinding>,
    echo_retried: bool,
    /// The partial IV of the last notification delivered (Observe).
    last_notification: Option<u64>,
    last: Instant,
}

/// What the relay wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// To the server.
    Upstream(Vec<u8>),
    /// To a local client.
    Local(SocketAddr, Vec<u8>),
}

/// Why a datagram was not relayed (for the log and counters; the datagram is dropped).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Not a CoAP message.
    #[error("not CoAP: {0}")]
    NotCoap(simbridge_oscore::WireError),
    /// Protecting or verifying failed (a NeedsStore among them: the caller stores and retries).
    #[error(transparent)]
    Oscore(#[from] OscoreError),
    /// An answer from the server for no request of ours.
    #[error("answer for no pending request")]
    Unmatched,
    /// A notification older than one already delivered.
    #[error("notification out of order")]
    StaleNotification,
    /// Something a local client should not send through an OSCORE route (a response).
    #[error("a local client sent a response or an unknown code 0x{0:02x}")]
    NotARequest(u8),
    /// The server answered without protection: its 4.01 means it has no context for us.
    #[error("unprotected answer {code} from the server{}", diag(.diagnostic))]
    Unprotected {
        /// The CoAP code, as c.dd.
        code: String,
        /// The diagnostic payload, escaped.
        diagnostic: String,
    },
}

fn diag(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(": \"{d}\"")
    }
}

/// Renders a CoAP code as c.dd.
pub fn code_str(c: u8) -> String {
    format!("{}.{:02}", c >> 5, c & 0x1f)
}

/// The relay's bookkeeping.
#[derive(Default)]
pub struct Relay {
    pending: HashMap<Vec<u8>, Pending>,
    next_mid: u16,
    token_counter: u64,
}

impl Relay {
    /// An empty relay; `mid_seed` starts the message IDs the relay picks itself.
    pub fn new(mid_seed: u16) -> Self {
        Self {
            pending: HashMap::new(),
            next_mid: mid_seed,
            token_counter: u64::from(mid_seed),
        }
    }

    /// Requests waiting for answers.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// A datagram from a local client at `from`.
    pub fn from_local(
        &mut self,
        ctx: &mut SecurityContext,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Out, RelayError> {
        let msg = Message::parse(bytes).map_err(RelayError::NotCoap)?;
        if msg.code == 0 {
            // An empty ACK or RST of a notification the server sent: passes as is.
            return Ok(Out::Upstream(bytes.to_vec()));
        }
        if !msg.is_request() {
            return Err(RelayError::NotARequest(msg.code));
        }
        self.expire(now);
        let key = self.upstream_token(from, &msg);
        let retransmission = self
            .pending
            .get(&key)
            .is_some_and(|p| p.local == from && p.local_mid == msg.message_id);
        let upstream_mid = match self.pending.get(&key) {
            Some(p) if retransmission => p.upstream_mid,
            _ => msg.message_id,
        };
        let mut outer = msg.clone();
        outer.message_id = upstream_mid;
        set_token(&mut outer, &key);
        let (wire, binding) = protect::protect_request(ctx, &outer)?;
        if !retransmission {
            if self.pending.len() >= MAX_PENDING {
                self.evict_oldest();
            }
            self.pending.insert(
                key.clone(),
                Pending {
                    local: from,
                    local_token: msg.token().to_vec(),
                    local_mid: msg.message_id,
                    upstream_mid,
                    plain: msg,
                    bindings: Vec::new(),
                    echo_retried: false,
                    last_notification: None,
                    last: now,
                },
            );
        }
        if let Some(p) = self.pending.get_mut(&key) {
            if p.bindings.len() >= MAX_BINDINGS {
                p.bindings.remove(0);
            }
            p.bindings.push(binding);
            p.last = now;
        }
        Ok(Out::Upstream(wire.encode()))
    }

    /// A datagram from the server. `Ok(None)`: consumed (an Echo challenge answered by the
    /// caller through the returned upstream message is `Some(Out::Upstream)`).
    pub fn from_upstream(
        &mut self,
        ctx: &mut SecurityContext,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Out, RelayError> {
        let msg = Message::parse(bytes).map_err(RelayError::NotCoap)?;
        if msg.code == 0 {
            return self.empty_from_upstream(msg);
        }
        if msg.is_request() {
            return Err(RelayError::Unmatched);
        }
        let key = msg.token().to_vec();
        let Some(p) = self.pending.get_mut(&key) else {
            return Err(RelayError::Unmatched);
        };
        if msg.option(number::OSCORE).is_none() {
            return Err(RelayError::Unprotected {
                code: code_str(msg.code),
                diagnostic: escape(&msg.payload),
            });
        }
        let mut plain = None;
        let mut last_err = OscoreError::Decrypt;
        for b in p.bindings.iter().rev() {
            match protect::unprotect_response(ctx, &msg, b) {
                Ok(m) => {
                    plain = Some(m);
                    break;
                }
                Err(e) => last_err = e,
            }
        }
        let mut plain = plain.ok_or(last_err)?;
        p.last = now;
        if plain.code == code::UNAUTHORIZED && !p.echo_retried {
            if let Some(echo) = plain.option(number::ECHO).map(<[u8]>::to_vec) {
                // The server lost its replay window: repeat the request once with its Echo.
                let mut again = p.plain.clone();
                again.remove_option(number::ECHO);
                again.add_option(number::ECHO, &echo);
                self.next_mid = self.next_mid.wrapping_add(1);
                again.message_id = self.next_mid;
                set_token(&mut again, &key);
                let (wire, binding) = protect::protect_request(ctx, &again)?;
                p.echo_retried = true;
                p.upstream_mid = again.message_id;
                if p.bindings.len() >= MAX_BINDINGS {
                    p.bindings.remove(0);
                }
                p.bindings.push(binding);
                return Ok(Out::Upstream(wire.encode()));
            }
        }
        let observing = plain.option(number::OBSERVE).is_some();
        if observing {
            // §4.1.3.5.2: the partial IV of a notification orders it.
            let piv = simbridge_oscore::option::OscoreOption::parse(
                msg.option(number::OSCORE).unwrap_or_default(),
            )
            .ok()
            .and_then(|o| o.partial_iv)
            .map(|v| seq_of(&v));
            if let (Some(n), Some(last)) = (piv, p.last_notification) {
                if n <= last {
                    return Err(RelayError::StaleNotification);
                }
            }
            if piv.is_some() {
                p.last_notification = piv;
            }
        }
        if plain.mtype == MessageType::Acknowledgement {
            plain.message_id = p.local_mid;
        }
        set_token(&mut plain, &p.local_token);
        let to = p.local;
        if !observing {
            self.pending.remove(&key);
        }
        Ok(Out::Local(to, plain.encode()))
    }

    /// An empty ACK or RST from the server: for a pending request (its message ID mapped back)
    /// or for a notification the local client has to confirm.
    fn empty_from_upstream(&mut self, mut msg: Message) -> Result<Out, RelayError> {
        let key = self
            .pending
            .iter()
            .find(|(_, p)| p.upstream_mid == msg.message_id)
            .map(|(k, _)| k.clone())
            .ok_or(RelayError::Unmatched)?;
        let p = self.pending.get(&key).ok_or(RelayError::Unmatched)?;
        let to = p.local;
        msg.message_id = p.local_mid;
        if msg.mtype == MessageType::Reset {
            self.pending.remove(&key);
        }
        Ok(Out::Local(to, msg.encode()))
    }

    /// The upstream token for a local request: the local one unless another local client has a
    /// request pending with it.
    fn upstream_token(&mut self, from: SocketAddr, msg: &Message) -> Vec<u8> {
        let token = msg.token().to_vec();
        match self.pending.get(&token) {
            Some(p) if p.local != from => {}
            _ => return token,
        }
        if let Some((k, _)) = self
            .pending
            .iter()
            .find(|(_, p)| p.local == from && p.local_token == token)
        {
            return k.clone();
        }
        loop {
            self.token_counter = self.token_counter.wrapping_add(1);
            let t = self.token_counter.to_be_bytes().to_vec();
            if !self.pending.contains_key(&t) {
                return t;
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        self.pending
            .retain(|_, p| now.saturating_duration_since(p.last) < PENDING_LIFETIME);
    }

    fn evict_oldest(&mut self) {
        if let Some(k) = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.last)
            .map(|(k, _)| k.clone())
        {
            self.pending.remove(&k);
        }
    }
}

fn set_token(m: &mut Message, token: &[u8]) {
    // Tokens come from parsed messages or our 8-byte counter: never longer than 8 bytes.
    let _ = m.set_token(token);
}

/// A diagnostic payload made safe for the log.
pub fn escape(b: &[u8]) -> String {
    let cut = &b[..b.len().min(80)];
    cut.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use simbridge_oscore::context::ContextParams;
    use simbridge_oscore::echo::{EchoGate, EchoVerdict};
    use simbridge_oscore::persist::SenderSeq;
    use simbridge_oscore::protect::ResponsePiv;
    use simbridge_oscore::replay::ReplayWindow;

    fn pair() -> (SecurityContext, SecurityContext) {
        let p = |s: &'static [u8], r: &'static [u8]| ContextParams {
            master_secret: &[9; 16],
            master_salt: Some(&[1, 2]),
            sender_id: s,
            recipient_id: r,
            id_context: None,
        };
        (
            SecurityContext::derive(&p(&[1], &[])).unwrap(),
            SecurityContext::derive(&p(&[], &[1])).unwrap(),
        )
    }

    fn get(mid: u16, token: &[u8]) -> Message {
        let mut m = Message::new(MessageType::Confirmable, code::GET, mid);
        m.set_token(token).unwrap();
        m.add_option(number::URI_PATH, b"t");
        m
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The server side of one exchange: unprotect, answer `payload` piggybacked.
    fn answer(server: &mut SecurityContext, wire: &[u8], payload: &[u8]) -> Vec<u8> {
        let req = protect::unprotect_request(server, &Message::parse(wire).unwrap()).unwrap();
        let mut resp = Message::new(
            MessageType::Acknowledgement,
            code::CONTENT,
            req.message.message_id,
        );
        resp.set_token(req.message.token()).unwrap();
        resp.payload = payload.to_vec();
        protect::protect_response(server, &resp, &req.binding, ResponsePiv::FromRequest)
            .unwrap()
            .encode()
    }

    #[test]
    fn a_request_and_its_answer_cross_the_relay_with_ids_mapped_back() {
        let (mut gw, mut srv) = pair();
        let mut relay = Relay::new(100);
        let now = Instant::now();
        let Out::Upstream(wire) = relay
            .from_local(&mut gw, addr(1), &get(7, b"ab").encode(), now)
            .unwrap()
        else {
            panic!("a request goes upstream")
        };
        assert!(
            Message::parse(&wire)
                .unwrap()
                .option(number::OSCORE)
                .is_some()
        );
        let back = answer(&mut srv, &wire, b"21.5");
        let out = relay.from_upstream(&mut gw, &back, now).unwrap();
        let Out::Local(to, plain) = out else {
            panic!("the answer goes to the local client")
        };
        assert_eq!(to, addr(1));
        let m = Message::parse(&plain).unwrap();
        assert_eq!(
            (m.message_id, m.token(), m.payload.as_slice()),
            (7, &b"ab"[..], &b"21.5"[..])
        );
        assert_eq!(relay.pending(), 0);
        // A second copy of the answer matches nothing any more.
        assert!(matches!(
            relay.from_upstream(&mut gw, &back, now),
            Err(RelayError::Unmatched)
        ));
    }

    #[test]
    fn two_local_clients_with_one_token_get_their_own_answers() {
        let (mut gw, mut srv) = pair();
        let mut relay = Relay::new(0);
        let now = Instant::now();
        let Out::Upstream(w1) = relay
            .from_local(&mut gw, addr(1), &get(1, b"t").encode(), now)
            .unwrap()
        else {
            panic!()
        };
        let Out::Upstream(w2) = relay
            .from_local(&mut gw, addr(2), &get(2, b"t").encode(), now)
            .unwrap()
        else {
            panic!()
        };
        assert_ne!(
            Message::parse(&w1).unwrap().token(),
            Message::parse(&w2).unwrap().token()
        );
        let a2 = answer(&mut srv, &w2, b"two");
        let a1 = answer(&mut srv, &w1, b"one");
        for (a, port, want) in [(a2, 2, &b"two"[..]), (a1, 1, &b"one"[..])] {
            let Out::Local(to, plain) = relay.from_upstream(&mut gw, &a, now).unwrap() else {
                panic!()
            };
            let m = Message::parse(&plain).unwrap();
            assert_eq!(
                (to, m.token(), m.payload.as_slice()),
                (addr(port), &b"t"[..], want)
            );
        }
    }

    #[test]
    fn an_echo_challenge_is_answered_by_the_relay_and_never_reaches_the_client() {
        let (mut gw, srv0) = pair();
        // The server restarted: same keys, unknown replay window.
        let mut srv = SecurityContext::with_state(
            &ContextParams {
                master_secret: &[9; 16],
                master_salt: Some(&[1, 2]),
                sender_id: &[],
                recipient_id: &[1],
                id_context: None,
            },
            SenderSeq::volatile(50),
            ReplayWindow::unknown(),
        )
        .unwrap();
        drop(srv0);
        let gate = EchoGate::new([5; 8]);
        let mut relay = Relay::new(0);
        let now = Instant::now();
        let Out::Upstream(w) = relay
            .from_local(&mut gw, addr(1), &get(3, b"e").encode(), now)
            .unwrap()
        else {
            panic!()
        };
        let req = protect::unprotect_request(&mut srv, &Message::parse(&w).unwrap()).unwrap();
        let EchoVerdict::Challenge(c) = gate.check(&mut srv, &req) else {
            panic!("not fresh yet")
        };
        let c = protect::protect_response(&mut srv, &c, &req.binding, ResponsePiv::New).unwrap();
        let Out::Upstream(again) = relay.from_upstream(&mut gw, &c.encode(), now).unwrap() else {
            panic!("the relay repeats the request with the Echo value")
        };
        let req2 = protect::unprotect_request(&mut srv, &Message::parse(&again).unwrap()).unwrap();
        assert_eq!(gate.check(&mut srv, &req2), EchoVerdict::Fresh);
        let mut resp = Message::new(
            MessageType::Acknowledgement,
            code::CONTENT,
            req2.message.message_id,
        );
        resp.set_token(req2.message.token()).unwrap();
        let a = protect::protect_response(&mut srv, &resp, &req2.binding, ResponsePiv::FromRequest)
            .unwrap();
        let Out::Local(_, plain) = relay.from_upstream(&mut gw, &a.encode(), now).unwrap() else {
            panic!()
        };
        let m = Message::parse(&plain).unwrap();
        assert_eq!(
            (m.code, m.message_id),
            (code::CONTENT, 3),
            "the client sees the answer under its own message ID"
        );
    }

    #[test]
    fn an_unprotected_answer_and_a_forged_one_are_refused() {
        let (mut gw, _) = pair();
        let mut relay = Relay::new(0);
        let now = Instant::now();
        let Out::Upstream(_) = relay
            .from_local(&mut gw, addr(1), &get(3, b"x").encode(), now)
            .unwrap()
        else {
            panic!()
        };
        let mut plain = Message::new(MessageType::Acknowledgement, code::UNAUTHORIZED, 3);
        plain.set_token(b"x").unwrap();
        plain.payload = b"Security context not found".to_vec();
        assert!(matches!(
            relay.from_upstream(&mut gw, &plain.encode(), now),
            Err(RelayError::Unprotected { .. })
        ));
        plain.code = code::CONTENT;
        plain.add_option(number::OSCORE, &[]);
        plain.payload = vec![0; 12];
        assert!(matches!(
            relay.from_upstream(&mut gw, &plain.encode(), now),
            Err(RelayError::Oscore(OscoreError::Decrypt))
        ));
        assert!(matches!(
            relay.from_local(&mut gw, addr(1), b"\x00", now),
            Err(RelayError::NotCoap(_))
        ));
    }

    #[test]
    fn notifications_reach_the_client_in_order_and_an_older_one_is_dropped() {
        let (mut gw, mut srv) = pair();
        let mut relay = Relay::new(0);
        let now = Instant::now();
        let mut obs = get(9, b"o");
        obs.add_option(number::OBSERVE, &[]);
        let Out::Upstream(w) = relay
            .from_local(&mut gw, addr(1), &obs.encode(), now)
            .unwrap()
        else {
            panic!("the registration goes upstream")
        };
        let req = protect::unprotect_request(&mut srv, &Message::parse(&w).unwrap()).unwrap();
        let note = |srv: &mut SecurityContext, n: u8| {
            let mut m = Message::new(
                MessageType::NonConfirmable,
                code::CONTENT,
                100 + u16::from(n),
            );
            m.set_token(req.message.token()).unwrap();
            m.add_option(number::OBSERVE, &[n]);
            m.payload = vec![n];
            protect::protect_response(srv, &m, &req.binding, ResponsePiv::New)
                .unwrap()
                .encode()
        };
        let (first, second) = (note(&mut srv, 1), note(&mut srv, 2));
        for (wire, want) in [(&first, 1u8), (&second, 2)] {
            let Out::Local(_, plain) = relay.from_upstream(&mut gw, wire, now).unwrap() else {
                panic!("a notification goes to the client")
            };
            assert_eq!(Message::parse(&plain).unwrap().payload, vec![want]);
        }
        assert!(matches!(
            relay.from_upstream(&mut gw, &first, now),
            Err(RelayError::StaleNotification)
        ));
        assert_eq!(relay.pending(), 1, "the observation stays registered");
    }
}
