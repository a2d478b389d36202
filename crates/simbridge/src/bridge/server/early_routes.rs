//! The server loop's 0-RTT routing (the rule itself: bridge/early.rs): early data the listener
//! declares replay-safe goes to the backend at once, the rest waits for `Connected`; the
//! backend's replies wait for it too, and what a connection held when it closed without
//! completing its handshake is dropped and counted.

use super::{EarlyRoutes, ServerLoop, sent};
use crate::bridge::batch::SendBatch;
use log::{debug, info};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

impl EarlyRoutes {
    /// Follows a connection to its new address (a Connection ID move).
    pub(super) fn moved(&mut self, old: &SocketAddr, new: SocketAddr) {
        if self.pending.remove(old) {
            self.pending.insert(new);
        }
        self.up.moved(old, new);
        self.down.moved(old, new);
    }
}

impl ServerLoop {
    /// One 0-RTT record from `peer`, before its handshake completed.
    pub(super) fn early_data(&mut self, peer: SocketAddr, d: &[u8], sends: &mut SendBatch) {
        let c = &self.counters;
        c.early_data.fetch_add(1, Ordering::Relaxed);
        self.early.pending.insert(peer);
        if !self.early.policy.forward_at_once(d) {
            if self.early.up.hold(peer, d) {
                debug!(
                    "{peer}: {} bytes of 0-RTT held until the handshake completes",
                    d.len()
                );
            } else {
                c.early_discarded.fetch_add(1, Ordering::Relaxed);
                debug!("{peer}: 0-RTT over the bound of what is held: dropped");
            }
            return;
        }
        c.early_forwarded.fetch_add(1, Ordering::Relaxed);
        c.to_backend.fetch_add(1, Ordering::Relaxed);
        debug!("{peer}: a replay-safe 0-RTT request forwarded before the handshake completed");
        match self.backend_for(peer) {
            Ok(s) => sent(sends.push(s.as_raw_fd(), d, None)),
            Err(e) => debug!("{peer}: 0-RTT request dropped: backend: {e}"),
        }
        sent(sends.flush());
    }

    /// `peer` completed its handshake: what it held goes to the backend, in order, and the
    /// backend's replies held for it go out.
    pub(super) fn release_early(&mut self, peer: SocketAddr, sends: &mut SendBatch) {
        if !self.early.pending.remove(&peer) {
            return;
        }
        let up = self.early.up.release(&peer);
        self.counters
            .early_held
            .fetch_add(up.len() as u64, Ordering::Relaxed);
        for d in &up {
            self.forward_to_backend(peer, d, sends);
        }
        sent(sends.flush());
        let mut out = vec![0u8; super::MAX_DATAGRAM];
        for d in self.early.down.release(&peer) {
            self.counters.from_backend.fetch_add(1, Ordering::Relaxed);
            match self.endpoint.send_into(peer, &d, &mut out) {
                Ok(len) => sent(sends.push(self.sock.as_raw_fd(), &out[..len], Some(peer))),
                Err(e) => debug!("{peer}: a held backend reply dropped: {e}"),
            }
        }
        sent(sends.flush());
    }

    /// `peer` closed: what it held never reaches the backend (a replay never completes its
    /// handshake).
    pub(super) fn discard_early(&mut self, peer: &SocketAddr) {
        if !self.early.pending.remove(peer) {
            return;
        }
        let n = self.early.up.discard(peer);
        self.early.down.discard(peer);
        if n > 0 {
            self.counters
                .early_discarded
                .fetch_add(n as u64, Ordering::Relaxed);
            info!(
                "{peer}: closed before its handshake completed: {n} held 0-RTT datagram(s) dropped"
            );
        }
    }
}
