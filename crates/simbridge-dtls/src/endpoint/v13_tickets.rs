//! The endpoint's DTLS 1.3 tickets (see the module docs of `endpoint/v13.rs`): which ticket a
//! ClientHello offers that we take, and the NewSessionTicket after a completed handshake.

use super::{Endpoint, State13, Tls13, Transmit};
use crate::config::PskRequest;
use crate::suite::CipherSuite;
use crate::v13::hello::ClientHello13;
use crate::v13::issuer::{TicketIssuer, TicketOrigin};
use crate::v13::server::Server13;

/// The origin of the first ticket of ours in `ch` that opens now in `suite`, and whether any
/// ticket-shaped identity was passed over (used, expired, of a key rotated out or from before
/// a restart, of another suite, or tickets off).
pub(super) fn offered(
    server: &Server13,
    ch: &ClientHello13,
    suite: CipherSuite,
    secs: u64,
) -> (Option<TicketOrigin>, bool) {
    let mut refused = false;
    let ticket = ch.psks.iter().find_map(|(id, _)| {
        if !TicketIssuer::looks_like_ticket(&id.identity) {
            return None;
        }
        let opened = server
            .tickets
            .as_ref()
            .and_then(|t| t.open(&id.identity, secs).ok())
            .filter(|r| r.suite == suite.iana());
        refused |= opened.is_none();
        opened.map(|r| r.origin)
    });
    (ticket, refused)
}

impl Endpoint {
    /// A NewSessionTicket for a connection that just completed its handshake (before its
    /// Connected event), when tickets are on: it carries the connection's identity and its key's
    /// expiry, asked of the key store after a full handshake
    /// ([`crate::ServerPskStore::key_lifetime`]). Sent once, not retransmitted: a client that
    /// loses it does a full handshake next time.
    pub(super) fn ticket13(&mut self, id: u64) {
        let rng = self.config.common.rng.clone();
        let Some(e) = self.v13.conns.get(&id) else {
            return;
        };
        if !e.resumed && e.key_expires.is_none() {
            let req = PskRequest {
                identity: e.identity.clone(),
                sni: e.sni.clone(),
                suite: e.suite,
            };
            let left = self.config.psk.key_lifetime(&req);
            let secs = self.v13.last_secs;
            if let Some(e) = self.v13.conns.get_mut(&id) {
                e.key_expires = left.map(|l| secs.saturating_add(l.as_secs()));
            }
        }
        let secs = self.v13.last_secs;
        let Tls13 { server, conns, .. } = &mut self.v13;
        let (Some(issuer), Some(e)) = (
            server.as_ref().and_then(|s| s.tickets.as_ref()),
            conns.get_mut(&id),
        ) else {
            return;
        };
        let State13::Conn(c) = &mut e.state else {
            return;
        };
        let origin = TicketOrigin {
            identity: e.identity.clone(),
            key_expires: e.key_expires,
        };
        let Some(session) = c.session() else {
            return;
        };
        match session.new_session_ticket_for(issuer, &origin, secs, rng.as_ref()) {
            Ok(Some(d)) => {
                self.stats.tickets_issued += 1;
                let addr = e.addr;
                self.out.push_back(Transmit {
                    destination: addr,
                    payload: d,
                });
            }
            Ok(None) => {}
            Err(err) => log::debug!("{}: no DTLS 1.3 ticket: {err}", e.addr),
        }
    }
}
