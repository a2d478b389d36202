//! DTLS 1.3 0-RTT after a loss of session state (route `early_data = true`): the server's last
//! ticket is kept beside the session, and only when a new handshake must start because the
//! server forgot the session (the liveness suspicion fired, or the session was lost) while the
//! key it descends from is still the current one, the handshake resumes with that ticket and
//! sends the first queued datagram as early data (if it fits the ticket's max_early_data; the
//! rest, and a refused early datagram, go after the handshake). A ticket is dropped when a
//! handshake completes (a resumed one spent it; the new session brings a new ticket), so it is
//! offered again only by retries of attempts that did not complete; a new key (bootstrap) drops
//! it; with a live session 0-RTT is never used.

use std::sync::Arc;
use std::time::Instant;

use super::{Now, Slot, UpstreamSession};
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

    /// Keeps the newest ticket `slot` got from the server (replacing an older one).
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
    /// lost), a ticket of the current key within its lifetime. Takes the ticket (used once)
    /// and the first queued datagram when it fits the ticket's early data limit.
    pub(super) fn early_link(&mut self, cfg: &ClientConfig, now: Now) -> Option<ClientLink> {
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
        let early = match self.queue.front() {
            Some(d) if limit > 0 && d.len() <= limit => self.queue.pop_front(),
            _ => None,
        };
        let had_early = early.is_some();
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
                if had_early {
                    self.metrics.early_data_attempts += 1;
                }
                Some(l)
            }
            Err(e) => {
                log::warn!("cannot start a 0-RTT resumption: {e}; full handshake");
                None
            }
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
