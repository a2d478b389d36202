//! Several local clients share one upstream session: their CoAP message IDs and tokens are
//! rewritten on the way up so they stay distinct, and mapped back on the way down so each reply
//! reaches the client that asked. Datagrams that are not CoAP go to the last local sender.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a message ID mapping lives (CoAP EXCHANGE_LIFETIME, RFC 7252 §4.8.2).
const MID_LIFETIME: Duration = Duration::from_secs(247);
/// How long a token mapping lives without traffic (covers separate responses and Observe).
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Bound on each map: the oldest entries go first.
const MAX_ENTRIES: usize = 4096;

/// The fixed CoAP header fields we need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: u8,
    tkl: usize,
    mid: u16,
}

fn parse(d: &[u8]) -> Option<Header> {
    let (b0, mid) = match d {
        [b0, _code, m1, m2, ..] => (*b0, u16::from_be_bytes([*m1, *m2])),
        _ => return None,
    };
    let tkl = usize::from(b0 & 0x0F);
    (b0 >> 6 == 1 && tkl <= 8 && d.len() >= 4 + tkl).then_some(Header {
        kind: (b0 >> 4) & 0x03,
        tkl,
        mid,
    })
}

const CON: u8 = 0;
const NON: u8 = 1;

/// The mapping between local peers and the shared upstream session.
#[derive(Debug, Default)]
pub struct PeerMap {
    mids: HashMap<u16, (SocketAddr, u16, Instant)>,
    /// The message IDs in the order they were given out (so by age): expiry pops from the
    /// front instead of scanning the map for every datagram.
    mid_order: VecDeque<(u16, Instant)>,
    tokens: HashMap<Vec<u8>, (SocketAddr, Vec<u8>, Instant)>,
    next_mid: u16,
    next_token: u64,
    last_peer: Option<SocketAddr>,
}

impl PeerMap {
    /// A new, empty map; `seed` starts the message-ID counter (randomise it, RFC 7252 §4.4).
    pub fn new(seed: u16) -> Self {
        Self {
            next_mid: seed,
            ..Self::default()
        }
    }

    /// Rewrites a datagram from `from` for the upstream session.
    pub fn outgoing(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) -> Vec<u8> {
        let mut out = datagram.to_vec();
        self.outgoing_in_place(now, from, &mut out);
        out
    }

    /// [`PeerMap::outgoing`] in the caller's buffer: the message ID and token are rewritten
    /// where they lie (a known (peer, token) pair allocates nothing).
    pub fn outgoing_in_place(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        self.last_peer = Some(from);
        let Some(h) = parse(datagram) else { return };
        if h.kind == CON || h.kind == NON {
            self.expire(now);
            let mid = self.next_mid;
            self.next_mid = self.next_mid.wrapping_add(1);
            self.mids.insert(mid, (from, h.mid, now));
            self.mid_order.push_back((mid, now));
            datagram[2..4].copy_from_slice(&mid.to_be_bytes());
            if h.tkl > 0 {
                let at = 4..4 + h.tkl;
                // Reuse the upstream token of a known (peer, token) pair, so Observe
                // re-registrations and cancellations keep matching.
                let known = self
                    .tokens
                    .iter_mut()
                    .find(|(_, (p, t, _))| *p == from && t[..] == datagram[at.clone()]);
                match known {
                    Some((token, (_, _, seen))) => {
                        *seen = now;
                        datagram[at].copy_from_slice(token);
                    }
                    None => {
                        let orig = datagram[at.clone()].to_vec();
                        let token = self.fresh_token(h.tkl);
                        datagram[at].copy_from_slice(&token);
                        self.tokens.insert(token, (from, orig, now));
                    }
                }
            }
        }
        // ACK and RST answer a message the server sent: its MID passes unchanged.
    }

    fn fresh_token(&mut self, len: usize) -> Vec<u8> {
        loop {
            self.next_token = self.next_token.wrapping_add(1);
            let t = self.next_token.to_be_bytes()[8 - len..].to_vec();
            if !self.tokens.contains_key(&t) || self.tokens.len() >= MAX_ENTRIES {
                return t;
            }
        }
    }

    /// Maps a datagram from upstream back to the local peer it belongs to.
    pub fn incoming(&mut self, now: Instant, datagram: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        let mut out = datagram.to_vec();
        self.incoming_in_place(now, &mut out).map(|p| (p, out))
    }

    /// [`PeerMap::incoming`] in the caller's buffer: restores the local peer's message ID and
    /// token where they lie and returns the peer to send it to.
    pub fn incoming_in_place(&mut self, now: Instant, datagram: &mut [u8]) -> Option<SocketAddr> {
        let Some(h) = parse(datagram) else {
            return self.last_peer;
        };
        let mut peer = None;
        if h.kind != CON && h.kind != NON {
            // ACK/RST: they carry our rewritten MID.
            if let Some((p, orig, _)) = self.mids.get(&h.mid) {
                datagram[2..4].copy_from_slice(&orig.to_be_bytes());
                peer = Some(*p);
            }
        }
        if h.tkl > 0 {
            let at = 4..4 + h.tkl;
            if let Some((p, orig, seen)) = self.tokens.get_mut(&datagram[at.clone()]) {
                datagram[at].copy_from_slice(orig);
                *seen = now;
                peer = peer.or(Some(*p));
            }
        }
        peer.or(self.last_peer)
    }

    fn expire(&mut self, now: Instant) {
        // Oldest first: drop what outlived MID_LIFETIME, and make room for one more.
        while let Some(&(mid, t)) = self.mid_order.front() {
            let old = now.saturating_duration_since(t) >= MID_LIFETIME;
            if !old && self.mid_order.len() < MAX_ENTRIES {
                break;
            }
            self.mid_order.pop_front();
            // the 16-bit counter may have given this ID out again since: keep the newer one
            if self.mids.get(&mid).is_some_and(|e| e.2 == t) {
                self.mids.remove(&mid);
            }
        }
        if self.tokens.len() >= MAX_ENTRIES {
            self.tokens
                .retain(|_, (_, _, t)| now.saturating_duration_since(*t) < TOKEN_LIFETIME);
        }
        if self.tokens.len() >= MAX_ENTRIES {
            if let Some(oldest) = self
                .tokens
                .iter()
                .min_by_key(|(_, (_, _, t))| *t)
                .map(|(k, _)| k.clone())
            {
                self.tokens.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coap(kind: u8, mid: u16, token: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0x40 | (kind << 4) | token.len() as u8, 0x01];
        d.extend_from_slice(&mid.to_be_bytes());
        d.extend_from_slice(token);
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn two_clients_same_mid_and_token_get_their_own_replies() {
        let now = Instant::now();
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
        let b: SocketAddr = "127.0.0.1:2000".parse().expect("addr");
        let mut m = PeerMap::new(100);
        let up_a = m.outgoing(now, a, &coap(CON, 7, &[0xAA], b"a"));
        let up_b = m.outgoing(now, b, &coap(CON, 7, &[0xAA], b"b"));
        let (ha, hb) = (parse(&up_a).expect("coap"), parse(&up_b).expect("coap"));
        assert_ne!(ha.mid, hb.mid, "MIDs made distinct upstream");
        assert_ne!(up_a[4], up_b[4], "tokens made distinct upstream");
        assert_eq!(up_a.len(), 6, "no bytes added on the air");
        // Piggybacked ACK for b's request.
        let mut ack_b = up_b.clone();
        ack_b[0] = (ack_b[0] & 0xCF) | (2 << 4);
        let (peer, down) = m.incoming(now, &ack_b).expect("routed");
        assert_eq!(peer, b);
        assert_eq!(parse(&down).map(|h| h.mid), Some(7));
        assert_eq!(down[4], 0xAA);
        // A separate CON response for a (server's own MID), matched by token.
        let mut sep = coap(CON, 999, &up_a[4..5], b"late");
        sep[1] = 0x45;
        let (peer, down) = m.incoming(now, &sep).expect("routed");
        assert_eq!(peer, a);
        assert_eq!(
            &down[2..5],
            &[0x03, 0xE7, 0xAA],
            "server MID kept, token restored"
        );
        // a's ACK to that CON passes upstream unchanged.
        let ack = coap(2, 999, &[], b"");
        assert_eq!(m.outgoing(now, a, &ack), ack);
    }

    #[test]
    fn non_coap_goes_to_last_sender_and_garbage_is_safe() {
        let now = Instant::now();
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
        let mut m = PeerMap::new(0);
        assert_eq!(m.incoming(now, b"x"), None, "nobody to route to yet");
        assert_eq!(m.outgoing(now, a, b"\xff\x00"), b"\xff\x00".to_vec());
        assert_eq!(m.incoming(now, b"plain"), Some((a, b"plain".to_vec())));
        for len in 0..12 {
            let d = vec![0x48; len];
            let _ = m.outgoing(now, a, &d);
            let _ = m.incoming(now, &d);
        }
    }

    #[test]
    fn message_ids_expire_oldest_first_and_stay_bounded() {
        let mut m = PeerMap::new(0);
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
        let start = Instant::now();
        for i in 0..(MAX_ENTRIES as u16 + 100) {
            let _ = m.outgoing(start, a, &coap(CON, i, &[], b""));
        }
        assert_eq!(m.mids.len(), MAX_ENTRIES, "bounded, the oldest gone");
        assert!(!m.mids.contains_key(&0) && m.mids.contains_key(&(MAX_ENTRIES as u16 + 99)));
        // after MID_LIFETIME every old mapping goes at the next datagram
        let later = start + MID_LIFETIME;
        let _ = m.outgoing(later, a, &coap(CON, 1, &[], b""));
        assert_eq!(m.mids.len(), 1);
        assert_eq!(m.mid_order.len(), 1);
    }

    #[test]
    fn observe_reregistration_keeps_its_token() {
        let now = Instant::now();
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("addr");
        let mut m = PeerMap::new(0);
        let first = m.outgoing(now, a, &coap(CON, 1, &[1, 2], b""));
        let again = m.outgoing(now, a, &coap(CON, 2, &[1, 2], b""));
        assert_eq!(first[4..6], again[4..6]);
    }
}
