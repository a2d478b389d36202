//! The events of the session's connections: a handshake that completed (make-before-break:
//! the old session drains), asked for its key or failed; data and losses of the active one;
//! the queue flushed into a new session; a connection retired with its counters kept.

use super::{Action, Now, Slot, UpstreamSession};
use crate::dtls::Event;
use crate::dtls::event::CloseReason;
use log::{info, warn};

impl UpstreamSession {
    /// Handles the events of both connections.
    pub(super) fn process(&mut self, now: Now) {
        while let Some(ev) = self.pending.as_mut().and_then(|s| s.conn.poll_event()) {
            self.pending_event(now, ev);
        }
        while let Some(ev) = self.active.as_mut().and_then(|s| s.conn.poll_event()) {
            self.active_event(now, ev);
        }
        if let Some(s) = self.active.as_mut() {
            let now_epochs = s.conn.epochs().map(|e| (s.started, e));
            if let (Some((was, old)), Some((is, (send, recv)))) = (self.epochs, now_epochs) {
                if was == is && old != (send, recv) {
                    info!(
                        "upstream DTLS 1.3 keys updated (KeyUpdate): sending in epoch {send}, receiving in epoch {recv}"
                    );
                }
            }
            self.epochs = now_epochs;
        }
        // a ticket's age counts from its arrival, so it is taken as it comes
        if let Some(mut a) = self.active.take() {
            self.keep_ticket(&mut a, now.mono);
            self.active = Some(a);
        }
        while let Some(ev) = self
            .draining
            .as_mut()
            .and_then(|(s, _)| s.conn.poll_event())
        {
            match ev {
                Event::Data(d) => self.received.push_back(d),
                Event::Closed { .. } => {
                    if let Some((old, _)) = self.draining.take() {
                        self.retire(old, false);
                    }
                }
                Event::Connected { .. }
                | Event::PskRequested { .. }
                | Event::EarlyDataStatus { .. }
                | Event::EarlyData(_) => {}
            }
        }
    }

    pub(super) fn pending_event(&mut self, now: Now, ev: Event) {
        match ev {
            Event::Connected { suite, resumed, .. } => {
                let Some(mut slot) = self.pending.take() else {
                    return;
                };
                slot.established = true;
                slot.quiet_noted = false;
                self.ticket_spent();
                if resumed {
                    self.metrics.handshakes_abbreviated += 1;
                } else {
                    self.metrics.handshakes_full += 1;
                }
                self.metrics.note_handshake_time(
                    now.mono.saturating_duration_since(slot.started),
                    slot.conn.stats().round_trips,
                );
                self.failures = 0;
                info!(
                    "upstream session up: {} ({})",
                    suite.name(),
                    if resumed {
                        "abbreviated"
                    } else {
                        "full handshake"
                    }
                );
                if let Some(old) = self.active.take() {
                    self.metrics.rekeys += u64::from(old.btid != slot.btid);
                    // Make-before-break: the old session still receives replies in flight for a
                    // moment; new data goes to the new one.
                    if let Some((older, _)) = self.draining.take() {
                        self.retire(older, true);
                    }
                    self.draining = Some((old, now.mono + self.cfg.drain));
                }
                if let Some(sess) = slot.conn.session() {
                    self.resume = Some((sess.clone(), slot.btid.clone()));
                    self.resume_version += 1;
                }
                self.active_btid.clone_from(&slot.btid);
                self.active = Some(slot);
                self.unanswered_since = None;
                self.unanswered_safe.clear();
                self.suspected = false;
                self.flush_queue(now);
                // Events that arrived with the last flight belong to the now-active connection.
                while let Some(ev) = self.active.as_mut().and_then(|s| s.conn.poll_event()) {
                    self.active_event(now, ev);
                }
            }
            Event::PskRequested { suite, .. } => match self.source.naf_id(suite) {
                Some(naf_id) => self.actions.push_back(Action::DeriveNafKey { naf_id }),
                None => {
                    if let Some(s) = self.pending.as_mut() {
                        let _ = s.conn.provide_client_psk(now.mono, None);
                    }
                }
            },
            // a server's event
            Event::EarlyData(_) => {}
            Event::Data(d) => self.received.push_back(d),
            // a 0-RTT resumption after a loss of session state (upstream/early.rs)
            Event::EarlyDataStatus { accepted } => self.early_status(accepted),
            Event::Closed { reason } => {
                self.metrics.handshake_failures += 1;
                let slot = self.pending.take();
                self.handshake_failed(now, &reason, slot.as_ref());
                if let Some(slot) = slot {
                    self.retire(slot, false);
                }
                if self.suspected && self.is_established() {
                    // The replacement failed: the old session may still work after all.
                    self.suspected = false;
                    self.flush_queue(now);
                }
            }
        }
    }

    pub(super) fn active_event(&mut self, now: Now, ev: Event) {
        match ev {
            Event::Data(d) => {
                self.unanswered_since = None;
                self.unanswered_safe.clear();
                if let Some(s) = self.active.as_mut() {
                    s.quiet_noted = false;
                }
                self.received.push_back(d);
            }
            // after Connected: by then the connection is the active one
            Event::EarlyDataStatus { accepted } => self.early_status(accepted),
            Event::Closed { reason } => {
                warn!("upstream session lost: {reason}; reconnecting");
                if let Some(slot) = self.active.take() {
                    self.retire(slot, false);
                }
                self.unanswered_since = None;
                if !matches!(reason, CloseReason::Local) {
                    self.ensure(now);
                }
            }
            Event::Connected { .. } | Event::PskRequested { .. } | Event::EarlyData(_) => {}
        }
    }

    pub(super) fn flush_queue(&mut self, now: Now) {
        while let Some(d) = self.queue.pop_front() {
            let Some(slot) = self.active.as_mut() else {
                self.queue.push_front(d);
                return;
            };
            if let Err(e) = slot.conn.send(&d) {
                self.metrics.dropped_no_session += 1;
                warn!("dropped a queued {}-byte datagram: {e}", d.len());
            } else {
                self.unanswered_since.get_or_insert(now.mono);
                self.sent_on_active(&d);
            }
        }
    }

    /// Removes a connection, keeping its counters (and sending close_notify when `notify`).
    pub(super) fn retire(&mut self, mut slot: Slot, notify: bool) {
        let at = self.last.map_or_else(std::time::Instant::now, |n| n.mono);
        self.keep_ticket(&mut slot, at);
        if notify && !slot.conn.is_closed() {
            slot.conn.close();
        }
        while let Some(d) = slot.conn.poll_transmit() {
            self.outbox.push_back((slot.path, d));
        }
        self.metrics
            .add_connection(&slot.conn.stats(), slot.base.as_ref());
    }
}
