//! The server loop's key handling: GBA key lookups through the pool and their answers to the
//! engine, Ks_NAF expiry of established sessions (closed with close_notify when their key
//! expires; continued and resumed sessions have their key looked up to learn it), and the
//! WARN lines of refused handshakes (rate-limited per kind).

use super::ServerLoop;
use crate::bridge::key_lookup::{Outcome, Requested};
use crate::bridge::log_limit::{LogLimit, left_out};
use crate::dtls::config::PskRefusal;
use crate::dtls::{CloseReason, Error as DtlsError, FailureKind};
use crate::error_chain::chain;
use crate::gba::ids::escape_for_log;
use log::{debug, info, warn};
use std::cmp::Reverse;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

/// What the log needs about a handshake waiting for (or refused) a GBA key.
pub(super) struct KeyWait {
    /// The identity, escaped and cut.
    pub(super) identity: String,
    /// NAF_Id as `fqdn` and Ua id hex.
    pub(super) naf: String,
    /// Why the key was refused, once known.
    pub(super) cause: Option<String>,
}

impl ServerLoop {
    /// Remembers when the session's GBA key expires (closed then). A resumed session whose key
    /// has expired is closed at once (close_notify) and its data dropped: Ks_NAF must not
    /// outlive its bootstrapping. Returns false when the session was refused.
    pub(super) fn track_key_expiry(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        suite: crate::dtls::CipherSuite,
        resumed: bool,
    ) -> bool {
        let sni = self.endpoint.peer_info(&peer).and_then(|c| c.sni);
        // a DTLS 1.3 session resumed from our ticket: the ticket carried its key's expiry
        let from_ticket = || {
            let at = self.endpoint.dtls13_key_expiry(&peer)?;
            let left = at.saturating_duration_since(Instant::now());
            SystemTime::now().checked_add(left)
        };
        let Some(exp) = self
            .keys
            .key_expiry(identity, sni.as_deref(), suite)
            .or_else(from_ticket)
        else {
            return true;
        };
        if exp <= SystemTime::now() {
            warn!(
                "{peer}: {} refused: the key of identity \"{}\" expired at {}; close_notify sent",
                if resumed { "resumption" } else { "session" },
                escape_for_log(identity),
                crate::gba::time::format_utc(exp)
            );
            self.refused.insert(peer);
            self.endpoint.close(peer);
            return false;
        }
        self.key_expiry.insert(peer, exp);
        self.expiry_heap.push(Reverse((exp, peer)));
        true
    }

    /// A session the server did not see established (continued from before a restart, the
    /// export holds no identity-to-key state) is tracked from its first record: lifecycle and,
    /// when its key is not cached, a lookup that learns the key's expiry. Returns false when
    /// the session was refused (its key has expired).
    pub(super) fn adopt(&mut self, peer: SocketAddr) -> bool {
        let Some((identity, suite, sni)) = self
            .endpoint
            .peer_info(&peer)
            .and_then(|c| Some((c.identity, c.suite?, c.sni)))
        else {
            return true;
        };
        let now = Instant::now();
        for (p, why) in self.lifecycle.established(peer, &identity, now) {
            self.evict(p, why);
        }
        if !self.track_key_expiry(peer, &identity, suite, false) {
            return false;
        }
        self.session_up(peer);
        self.probe_expiry(peer, &identity, sni.as_deref(), suite);
        !self.refused.contains(&peer)
    }

    /// When the GBA key of an established session is not cached (a session continued over a
    /// restart, or resumed after one), asks the key API for it to learn its expiry.
    pub(super) fn probe_expiry(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        sni: Option<&str>,
        suite: crate::dtls::CipherSuite,
    ) {
        if self.key_expiry.contains_key(&peer) || self.refused.contains(&peer) {
            return;
        }
        let Ok(plan) = self.keys.plan(identity, sni, suite) else {
            return; // a static key, or no key API
        };
        match self.lookups.request(peer, plan, Instant::now()) {
            Requested::Queued => {
                self.probing.insert(peer);
            }
            Requested::Now(o) => self.probed(peer, o),
        }
    }

    /// The answer of a lookup made only to learn a continued session's key expiry.
    pub(super) fn probed(&mut self, peer: SocketAddr, outcome: Outcome) {
        let info = self
            .endpoint
            .peer_info(&peer)
            .and_then(|c| Some((c.identity, c.suite?)));
        match (outcome, info) {
            (Outcome::Key(_), Some((identity, suite))) => {
                // The key is cached now, with its expiry.
                self.track_key_expiry(peer, &identity, suite, false);
            }
            (Outcome::Key(_), None) => {}
            (Outcome::Unknown(cause), _) => {
                // Expired, or superseded and gone: a session needs a key the BSF still knows.
                warn!(
                    "{peer}: session closed: its key is no longer known to the BSF ({cause}); close_notify sent"
                );
                self.refused.insert(peer);
                self.endpoint.close(peer);
            }
            (Outcome::Unavailable(cause), _) => {
                debug!(
                    "{peer}: the expiry of a continued session's key is unknown: {}",
                    chain(&*cause)
                )
            }
        }
    }

    /// Closes (close_notify) the sessions whose GBA key has expired.
    pub(super) fn close_expired(&mut self, now: SystemTime) {
        while let Some(Reverse((exp, peer))) = self.expiry_heap.peek().copied() {
            if exp > now {
                return;
            }
            self.expiry_heap.pop();
            if self.key_expiry.get(&peer) != Some(&exp) {
                continue; // moved, closed, or a newer entry
            }
            self.key_expiry.remove(&peer);
            info!("{peer}: the session's key (Ks_NAF) expired: closing with close_notify");
            self.endpoint.close(peer);
        }
    }

    pub(super) fn request_key(
        &mut self,
        peer: SocketAddr,
        identity: &[u8],
        sni: Option<&str>,
        suite: crate::dtls::CipherSuite,
    ) {
        let now = Instant::now();
        let plan = match self.keys.plan(identity, sni, suite) {
            Ok(p) => p,
            Err(e) => {
                // NafKeys::lookup refuses these before a PskRequested; kept for safety.
                warn!(
                    "{peer}: PSK identity \"{}\" refused: {}",
                    escape_for_log(identity),
                    chain(&e)
                );
                let _ = self
                    .endpoint
                    .refuse_psk(now, peer, PskRefusal::UnknownIdentity);
                return;
            }
        };
        self.handshakes.insert(
            peer,
            KeyWait {
                identity: escape_for_log(identity),
                naf: crate::bridge::naf_keys::describe_naf(&plan.naf),
                cause: None,
            },
        );
        let requested = self.lookups.request(peer, plan, now);
        self.counters
            .key_lookups
            .store(self.lookups.requests(), Ordering::Relaxed);
        if let Requested::Now(outcome) = requested {
            self.answer(now, peer, outcome);
        }
    }

    /// Hands a lookup's outcome to the handshake of `peer`.
    pub(super) fn answer(&mut self, now: Instant, peer: SocketAddr, outcome: Outcome) {
        let r = match outcome {
            Outcome::Key(k) => self.endpoint.provide_psk(now, peer, Some(k)),
            Outcome::Unknown(cause) => {
                if let Some(w) = self.handshakes.get_mut(&peer) {
                    w.cause = Some(cause);
                }
                self.endpoint
                    .refuse_psk(now, peer, PskRefusal::UnknownIdentity)
            }
            Outcome::Unavailable(cause) => {
                if let Some(w) = self.handshakes.get_mut(&peer) {
                    w.cause = Some(chain(&*cause).to_string());
                }
                self.endpoint.refuse_psk(now, peer, PskRefusal::Unavailable)
            }
        };
        if let Err(e) = r {
            debug!("{peer}: the key lookup ended after the handshake: {e}");
            self.handshakes.remove(&peer);
        }
    }

    /// Logs the end of a connection; refusals at WARN with their cause (never a key).
    pub(super) fn log_close(&mut self, peer: SocketAddr, reason: &CloseReason) {
        let wait = self.handshakes.remove(&peer);
        let who = |w: &Option<KeyWait>| match w {
            Some(w) => format!("identity \"{}\" ({})", w.identity, w.naf),
            None => "an identity not recorded".into(),
        };
        let cause = |w: &Option<KeyWait>| {
            w.as_ref()
                .and_then(|w| w.cause.clone())
                .unwrap_or_else(|| "no cause recorded".into())
        };
        // (kind, line) of a refusal worth a WARN; kinds are rate-limited apart.
        let refusal: Option<(usize, String)> = match reason {
            CloseReason::Error(DtlsError::UnknownPskIdentity) if wait.is_some() => Some((
                0,
                format!(
                    "{peer}: handshake refused: unknown PSK identity, {}: {}; the client saw decrypt_error (RFC 4279 random-key path)",
                    who(&wait),
                    cause(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::UnknownPskIdentity) => {
                debug!(
                    "{peer}: handshake refused: PSK identity refused before any lookup (logged above); the client saw decrypt_error"
                );
                None
            }
            CloseReason::Error(DtlsError::PskUnavailable) => Some((
                1,
                format!(
                    "{peer}: handshake refused: key source unavailable for {}: {}; internal_error sent",
                    who(&wait),
                    cause(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::BadFinished) => Some((
                2,
                format!(
                    "{peer}: handshake failed: wrong key for {} (the client's Finished did not verify); decrypt_error sent",
                    who(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::BadBinder) => Some((
                2,
                format!(
                    "{peer}: handshake failed: wrong key for {} (the client's DTLS 1.3 PSK binder did not verify); decrypt_error sent",
                    who(&wait)
                ),
            )),
            CloseReason::Error(DtlsError::UnrecognizedName(n)) => Some((
                3,
                format!(
                    "{peer}: handshake refused: SNI \"{n}\" is not one of this server's NAF FQDNs {:?}; unrecognized_name sent",
                    self.keys.served_names()
                ),
            )),
            r if r.failure_kind() == Some(FailureKind::ConfigMismatch) => Some((
                4,
                format!(
                    "{peer}: handshake failed: {r} (cipher suite or extended master secret mismatch)"
                ),
            )),
            // A flood makes one of these per hostile hello: counted in the endpoint's stats
            // (status, metrics), logged only at DEBUG.
            CloseReason::Error(DtlsError::HandshakeEvicted | DtlsError::HandshakeExpired) => {
                debug!("{peer}: half-open handshake dropped: {reason}");
                None
            }
            r => {
                info!("{peer}: session closed: {r}");
                None
            }
        };
        if let Some((kind, line)) = refusal {
            if let Some(n) = REFUSAL_LOG[kind].allow(Instant::now()) {
                warn!("{line}{}", left_out(n));
            }
        }
    }
}

/// At most 20 WARN lines per kind of refusal every 10 s (a flood of bogus handshakes must not
/// flood the log); the next line says how many were left out.
static REFUSAL_LOG: [LogLimit; 5] = [
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
    LogLimit::new(20, Duration::from_secs(10)),
];
