//! Admission of new handshakes: the limits a cookie-valid ClientHello must pass, the
//! handshake rate, and the stateless answers (HelloVerifyRequest, protocol_version).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Admitted, Endpoint, Hello, Transmit};
use crate::wire::alert::AlertDescription;
use crate::wire::handshake::{HandshakeType, encode_full};
use crate::wire::hello::HelloVerifyRequest;
use crate::wire::record::{ContentType, DTLS10, RecordHeader};

impl Endpoint {
    pub(super) fn take_token(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.config.handshakes_per_second);
        if let Some(last) = self.bucket.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.bucket.tokens = (self.bucket.tokens + dt * rate).min(rate);
        }
        self.bucket.last = Some(now);
        if self.bucket.tokens >= 1.0 {
            self.bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The limits a cookie-valid hello from `from` must pass (connections, handshakes in
    /// progress, per address, rate); each refusal is counted. `None`: refused.
    pub(super) fn admit(&mut self, now: Instant, from: SocketAddr) -> Option<Admitted> {
        // a restart from the same address replaces its own handshake, which then no longer counts
        let replaced = self.by_addr.get(&from).is_some_and(|id| {
            self.conns
                .get(id)
                .and_then(|e| e.half_open.as_ref())
                .or_else(|| self.v13.conns.get(id).and_then(|e| e.half_open.as_ref()))
                .is_some_and(|p| p.ip == from.ip())
        });
        // the handshake budget is full: the newcomer takes the stalest handshake's place
        let evict = (self.stalest.len() - usize::from(replaced) >= self.config.max_handshaking)
            .then(|| self.stalest.stalest())
            .flatten()
            .filter(|_| self.config.max_handshaking > 0);
        let full = self.connection_count() >= self.config.max_connections;
        let no_room = !self.by_addr.contains_key(&from) && full && evict.is_none();
        if no_room || self.config.max_handshaking == 0 {
            self.stats.connection_limited += 1;
            return None;
        }
        if self.half_open.count(from.ip()) - usize::from(replaced)
            >= self.config.max_half_open_per_address
        {
            self.stats.half_open_limited += 1;
            return None;
        }
        if !self.take_token(now) {
            self.stats.rate_limited += 1;
            return None;
        }
        Some(Admitted { evict })
    }

    /// A DTLS 1.3-only endpoint and a ClientHello that does not offer DTLS 1.3: a fatal
    /// protocol_version alert (RFC 8446 §4.2.1 and appendix D: no version in common), in a
    /// plaintext record of the hello's number; 15 bytes, less than the hello, so no
    /// amplification, and no state.
    pub(super) fn refuse_version(&mut self, to: SocketAddr, h: &Hello) {
        let mut d = Vec::with_capacity(15);
        RecordHeader {
            content_type: ContentType::Alert,
            version: DTLS10,
            epoch: 0,
            seq: h.record_seq,
            length: 2,
        }
        .encode(&mut d);
        d.extend_from_slice(&[2, AlertDescription::ProtocolVersion.to_u8()]);
        self.stats.version_refused += 1;
        self.out.push_back(Transmit {
            destination: to,
            payload: d,
        });
    }

    pub(super) fn send_hello_verify(&mut self, to: SocketAddr, h: &Hello) {
        let cookie = self.cookies.make(&to, &h.hello);
        let body = HelloVerifyRequest {
            version: DTLS10,
            cookie,
        }
        .encode();
        let msg = encode_full(HandshakeType::HelloVerifyRequest, h.message_seq, &body);
        let mut d = Vec::with_capacity(13 + msg.len());
        RecordHeader {
            content_type: ContentType::Handshake,
            version: DTLS10,
            epoch: 0,
            seq: h.record_seq,
            length: msg.len() as u16,
        }
        .encode(&mut d);
        d.extend_from_slice(&msg);
        self.stats.hello_verify_sent += 1;
        self.out.push_back(Transmit {
            destination: to,
            payload: d,
        });
    }
}
