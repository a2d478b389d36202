//! Resumable session state (RFC 5246 §7.3 session, RFC 5077 ticket) and the server's bounded
//! session-ID cache. A [`Session`] is what a client keeps to resume (master secret, suite,
//! identity, session ID and/or ticket) and what a server puts in a ticket or its cache.
//! Every session here has the RFC 7627 extended master secret (this engine requires it).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::suite::CipherSuite;
use super::wire::codec::{Reader, put_u16, put_vec8, put_vec16};
use super::wire::{Field, WireError};
use crate::secret::{Secret, SecretVec};

/// Format version of [`Session::to_bytes`].
const SESSION_FORMAT: u8 = 1;

/// State needed to resume a session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Suite of the original handshake (a resumption must use it again).
    pub suite: CipherSuite,
    /// The 48-byte master secret.
    pub master: Secret<48>,
    /// PSK identity of the original handshake.
    pub identity: Vec<u8>,
    /// Session ID the server gave (empty: the server keeps no cache, only tickets work).
    pub session_id: Vec<u8>,
    /// RFC 5077 ticket from NewSessionTicket (client side; empty: none).
    pub ticket: Vec<u8>,
    /// ticket_lifetime_hint in seconds (0: unspecified).
    pub ticket_lifetime: u32,
    /// SNI of the original handshake (a resumption must not change it).
    pub server_name: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("suite", &self.suite)
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("session_id", &hex::encode(&self.session_id))
            .field("ticket_len", &self.ticket.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Serializes (versioned). The output holds the master secret: store it like a key
    /// (the CLI writes it with mode 0600); it zeroizes on drop.
    pub fn to_bytes(&self) -> SecretVec {
        let mut out = vec![SESSION_FORMAT];
        put_u16(&mut out, self.suite.iana());
        out.extend_from_slice(self.master.expose());
        put_vec16(&mut out, &self.identity);
        put_vec8(&mut out, &self.session_id);
        put_vec16(&mut out, &self.ticket);
        out.extend_from_slice(&self.ticket_lifetime.to_be_bytes());
        put_vec16(
            &mut out,
            self.server_name.as_deref().unwrap_or("").as_bytes(),
        );
        SecretVec::new(out)
    }

    /// Parses [`Session::to_bytes`] output.
    pub fn from_bytes(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(b);
        if r.u8(Field::SessionFormat)? != SESSION_FORMAT {
            return Err(WireError::Invalid(Field::SessionFormatVersion));
        }
        let suite = CipherSuite::from_iana(r.u16(Field::Suite)?)
            .filter(|s| !s.is_tls13())
            .ok_or(WireError::Invalid(Field::SessionSuite))?;
        let master = Secret::from_slice(r.take(48, Field::MasterSecret)?)
            .ok_or(WireError::Invalid(Field::Master))?;
        let identity = r.vec16(Field::Identity)?.to_vec();
        let session_id = r.vec8(Field::SessionId)?.to_vec();
        if session_id.len() > 32 {
            return Err(WireError::Invalid(Field::SessionId));
        }
        let ticket = r.vec16(Field::Ticket)?.to_vec();
        let lt = r.take(4, Field::TicketLifetime)?;
        let ticket_lifetime = u32::from_be_bytes([lt[0], lt[1], lt[2], lt[3]]);
        let sni = r.vec16(Field::ServerName)?;
        r.finish(Field::Session)?;
        let server_name = if sni.is_empty() {
            None
        } else {
            Some(
                std::str::from_utf8(sni)
                    .map_err(|_| WireError::Invalid(Field::ServerName))?
                    .to_owned(),
            )
        };
        Ok(Self {
            suite,
            master,
            identity,
            session_id,
            ticket,
            ticket_lifetime,
            server_name,
        })
    }
}

/// The server's session-ID cache: bounded, oldest evicted first, entries expire.
#[derive(Debug)]
pub struct SessionCache {
    map: HashMap<Vec<u8>, (Session, Instant)>,
    order: VecDeque<Vec<u8>>,
    capacity: usize,
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Stores `s` under its session ID until `expires`.
    pub fn insert(&mut self, s: Session, expires: Instant) {
        if self.capacity == 0 || s.session_id.is_empty() {
            return;
        }
        let id = s.session_id.clone();
        if self.map.insert(id.clone(), (s, expires)).is_none() {
            self.order.push_back(id);
        }
        while self.map.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// The live session with this ID (an expired one is removed).
    pub fn get(&mut self, id: &[u8], now: Instant) -> Option<(Session, Instant)> {
        let (s, exp) = self.map.get(id)?;
        if now >= *exp {
            self.remove(id);
            return None;
        }
        Some((s.clone(), *exp))
    }

    /// Forgets a session (a fatal alert must invalidate it, RFC 5246 §7.2.2).
    pub fn remove(&mut self, id: &[u8]) {
        if self.map.remove(id).is_some() {
            self.order.retain(|k| k.as_slice() != id);
        }
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// How long a new session may be resumed: the configured lifetime, cut to what is left of the
/// PSK's lifetime (a session never outlives its key).
pub fn session_lifetime(configured: Duration, psk_left: Option<Duration>) -> Duration {
    psk_left.map_or(configured, |k| k.min(configured))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: u8) -> Session {
        Session {
            suite: CipherSuite::PskAes128Ccm8,
            master: Secret::new([0xA5 ^ id; 48]),
            identity: b"dev".to_vec(),
            session_id: vec![id; 32],
            ticket: vec![1, 2, 3],
            ticket_lifetime: 3600,
            server_name: Some("naf.example".into()),
        }
    }

    #[test]
    fn session_bytes_round_trip_and_reject_garbage() {
        let s = session(7);
        let b = s.to_bytes();
        assert_eq!(Session::from_bytes(b.expose()).unwrap(), s);
        for n in 0..b.len() {
            assert!(Session::from_bytes(&b.expose()[..n]).is_err(), "len {n}");
        }
        let mut v = b.expose().to_vec();
        v[0] = 9;
        assert!(Session::from_bytes(&v).is_err());
        assert!(!format!("{s:?}").contains("a2a2a2a2"), "no secret in Debug");
    }

    #[test]
    fn cache_is_bounded_and_entries_expire() {
        let now = Instant::now();
        let mut c = SessionCache::new(2);
        c.insert(session(1), now + Duration::from_secs(10));
        c.insert(session(2), now + Duration::from_secs(1));
        c.insert(session(3), now + Duration::from_secs(10));
        assert_eq!(c.len(), 2);
        assert!(c.get(&[1; 32], now).is_none(), "oldest evicted");
        assert!(c.get(&[3; 32], now).is_some());
        assert!(
            c.get(&[2; 32], now + Duration::from_secs(2)).is_none(),
            "expired"
        );
        assert_eq!(c.len(), 1);
        assert_eq!(
            session_lifetime(Duration::from_secs(86400), Some(Duration::from_secs(60))),
            Duration::from_secs(60)
        );
    }
}
