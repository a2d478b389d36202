//! DTLS 1.3 0-RTT after a loss of session state (route `early_data = true`): the server's last
//! ticket is kept beside the session, and only when a new handshake must start because the
//! server forgot the session (the liveness suspicion fired, or the session was lost) while the
//! key it descends from is still the current one, the handshake resumes with that ticket and
//! sends the first queued datagram as early data (if it fits the ticket's max_early_data; the
//! rest, and a refused early datagram, go after the handshake). A ticket is dropped when a
//! handshake completes (a resumed one spent it; the new session brings a new ticket), so it is
//! offered again only by retries of attempts that did not complete; a new key (bootstrap) drops
//! it; with a live session 0-RTT is never used.
//!
//! A silent server crash is noticed only through a request left unanswered, sent on the dead
//! session: with nothing queued, the resumption sends that request again as early data when it
//! is a CoAP GET or FETCH (safe to repeat), never anything else. The ticket is stamped when it
//! arrives, so its age (which the server's strike register judges) is right.

use std::sync::Arc;
use std::time::Instant;

use super::{Now, Slot, UpstreamSession};
use crate::bridge::early::EarlyPolicy;
use crate::dtls::ClientConfig;
use crate::dtls::client_link::ClientLink;
use crate::dtls::v13::ticket::{Resume13, Ticket13};
use crate::dtls::version::Versions;

/// The server's last ticket: when it came and the B-TID of the key its session descends from.
#[derive(Clone)]
pub(super) struct KeptTicket {
    pub(super) ticket: Ticket13,
    pub(super) received: Instant,
    pub(super) btid: Option<String>,
}

impl UpstreamSession {
    fn early_on(&self) -> bool {
        self.cfg.early_data && self.cfg.versions == Versions::Dtls13
    }

    /// Keeps the newest ticket `slot` got from the server (replacing an older one), stamped
    /// with `now`: called as datagrams are processed, so the age it is offered with counts
    /// from its arrival (a server judges 0-RTT freshness by it).
    pub(super) fn keep_ticket(&mut self, slot: &mut Slot, now: Instant) {
        if !self.early_on() {
            return;
        }
        if let Some(ticket) = slot.conn.take_ticket() {
            self.ticket = Some(KeptTicket {
                ticket,
                received: now,
                btid: slot.btid.clone(),
            });
        }
    }

    /// A 0-RTT resumption link, when allowed: route on, no live session (none, or suspected
    /// lost), a ticket of the current key within its lifetime; with the number of early data
    /// bytes it carries. The early data is the first queued datagram when it fits the ticket's
    /// early data limit or, with nothing queued on a suspected session, the replay-safe request
    /// that session left unanswered ([`UpstreamSession::sent_on_active`]).
    pub(super) fn early_link(
        &mut self,
        cfg: &ClientConfig,
        now: Now,
    ) -> Option<(ClientLink, usize)> {
        if !self.early_on() || self.force_bootstrap {
            return None;
        }
        let live = self.active.as_ref().is_some_and(|a| a.established) && !self.suspected;
        if live {
            return None;
        }
        let current = self.ctx.as_ref().map(|c| c.btid.clone());
        // kept until a handshake completes: an attempt the server never answered (it is still
        // down) did not spend it, and the retry offers it again with what was queued meanwhile
        let kept = self.ticket.clone()?;
        if kept.btid != current || current.is_none() {
            return None; // a ticket never outlives its key
        }
        let age = now.mono.saturating_duration_since(kept.received);
        if age.as_secs() >= u64::from(kept.ticket.lifetime_secs) {
            return None;
        }
        let limit = kept.ticket.max_early_data.unwrap_or(0) as usize;
        let fits = |d: &[u8]| !d.is_empty() && d.len() <= limit;
        let (early, from_queue) = match self.queue.front() {
            Some(d) if fits(d) => (Some(d.clone()), true),
            Some(_) => (None, false),
            // The request that revealed the loss went on the dead session; the local client
            // is waiting for its answer, and a GET or FETCH may be repeated (RFC 7252 §5.1).
            None if self.suspected && fits(&self.unanswered_safe) => {
                (Some(self.unanswered_safe.clone()), false)
            }
            None => (None, false),
        };
        let len = early.as_ref().map_or(0, Vec::len);
        let resume = Resume13 {
            ticket: kept.ticket,
            age_ms: u32::try_from(age.as_millis()).unwrap_or(u32::MAX),
        };
        match ClientLink::connect_with_early_data(
            Arc::new(cfg.clone()),
            Some(resume),
            early,
            now.mono,
        ) {
            Ok(l) => {
                if from_queue {
                    self.queue.pop_front();
                }
                if len > 0 {
                    self.metrics.early_data_attempts += 1;
                }
                Some((l, len))
            }
            Err(e) => {
                log::warn!("cannot start a 0-RTT resumption: {e}; full handshake");
                None
            }
        }
    }

    /// A datagram went out on the active session: with 0-RTT on, a replay-safe request (a CoAP
    /// GET or FETCH, the server's default for forwarding early data at once) is remembered
    /// until an answer comes, so that a suspicion of a lost session can send it again as
    /// early data (the buffer is reused: a steady flow allocates nothing).
    pub(super) fn sent_on_active(&mut self, data: &[u8]) {
        if self.early_on() && EarlyPolicy::default().forward_at_once(data) {
            self.unanswered_safe.clear();
            self.unanswered_safe.extend_from_slice(data);
        }
    }

    /// A handshake completed: the ticket it may have resumed with is spent.
    pub(super) fn ticket_spent(&mut self) {
        self.ticket = None;
    }

    /// The server's answer to our early data.
    pub(super) fn early_status(&mut self, accepted: bool) {
        if accepted {
            self.metrics.early_data_accepted += 1;
        }
        log::info!(
            "upstream 0-RTT {}",
            if accepted {
                "accepted"
            } else {
                "refused (sent again after the handshake)"
            }
        );
    }
}
