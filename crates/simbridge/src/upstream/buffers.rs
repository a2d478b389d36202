//! The session's data path on caller-owned buffers (the DTLS engine's `send_into`,
//! `poll_transmit_into` and `handle_datagram_in_place`): an established session seals a local
//! datagram straight into the caller's buffer and opens upstream records where they were
//! received, so a steady data flow allocates nothing. Handshakes, queued datagrams and events
//! take the same ways as [`UpstreamSession::send`] and friends.

use super::{Now, PathId, UpstreamSession, Which};
use crate::dtls::Error;
use log::warn;

impl UpstreamSession {
    /// [`UpstreamSession::send`] into `buf`: with an established session the datagram is sealed
    /// into `buf` and the path and length to send now are returned. `None`: it was queued (no
    /// session yet, or being replaced) and comes out of [`UpstreamSession::poll_transmit_into`]
    /// once the session is up.
    pub fn send_into(&mut self, now: Now, data: &[u8], buf: &mut [u8]) -> Option<(PathId, usize)> {
        self.last = Some(now);
        if let Some(slot) = self.sendable() {
            match slot.conn.send_into(data, buf) {
                Ok(n) => {
                    let path = slot.path;
                    self.unanswered_since.get_or_insert(now.mono);
                    self.sent_on_active(data);
                    return Some((path, n));
                }
                Err(e @ Error::BufferTooSmall { .. }) => {
                    warn!("upstream send: {e}; dropped a {}-byte datagram", data.len());
                    return None;
                }
                Err(e) => warn!("upstream send failed ({e}); queueing and reconnecting"),
            }
        }
        self.enqueue(data);
        self.ensure(now);
        None
    }

    /// [`UpstreamSession::poll_transmit`] into `buf`: the path and length of the next datagram
    /// to send. A datagram longer than `buf` is dropped with a warning (the caller's buffer is
    /// meant to hold any datagram: at least the path MTU).
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Option<(PathId, usize)> {
        loop {
            if let Some((path, d)) = self.outbox.pop_front() {
                match buf.get_mut(..d.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(&d);
                        return Some((path, d.len()));
                    }
                    None => {
                        warn!(
                            "dropped a {}-byte datagram: buffer of {}",
                            d.len(),
                            buf.len()
                        );
                        continue;
                    }
                }
            }
            let slots = [
                self.active.as_mut(),
                self.pending.as_mut(),
                self.draining.as_mut().map(|(s, _)| s),
            ];
            let mut dropped = false;
            for slot in slots.into_iter().flatten() {
                match slot.conn.poll_transmit_into(buf) {
                    Ok(Some(n)) => return Some((slot.path, n)),
                    Ok(None) => {}
                    Err(e) => {
                        // too long for the buffer: take it out of the queue so it cannot block it
                        let lost = slot.conn.poll_transmit().map_or(0, |d| d.len());
                        warn!("dropped a {lost}-byte datagram: {e}");
                        dropped = true;
                        break;
                    }
                }
            }
            if !dropped {
                return None;
            }
        }
    }

    /// [`UpstreamSession::handle_datagram`] in place: records are opened where they lie in
    /// `data` and application data goes to `on_data`. Data that must wait behind an event, or
    /// behind replies not yet taken with [`UpstreamSession::poll_received`], still comes out of
    /// `poll_received`, so the order of replies is kept.
    pub fn handle_datagram_in_place<F: FnMut(&[u8])>(
        &mut self,
        now: Now,
        path: PathId,
        data: &mut [u8],
        mut on_data: F,
    ) {
        if !self.received.is_empty() {
            self.handle_datagram(now, path, data);
            return;
        }
        self.last = Some(now);
        let Some((s, which)) = self.slot_on(path, data) else {
            return;
        };
        let mut answered = false;
        s.conn.handle_datagram_in_place(now.mono, data, |d| {
            answered = true;
            on_data(d);
        });
        if answered && which == Which::Active {
            s.quiet_noted = false;
            self.unanswered_since = None;
            self.unanswered_safe.clear();
        }
        self.process(now);
    }
}
