//! Datagram logs from the counting relay, cut into connections and handshakes. A relay in front
//! of every server logs each datagram's direction, length and first record header; the figures of
//! a handshake (bytes, datagrams, flights, round trips) and the per-record overhead follow from
//! that log alone, the same way for every implementation.

use serde::{Deserialize, Serialize};

/// IPv4 (20 B) + UDP (8 B) header bytes added to every datagram on the wire.
pub const IP_UDP_OVERHEAD: usize = 28;

/// DTLS content types (RFC 6347, RFC 9146).
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;

/// One datagram as the relay saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// Client to server.
    pub c2s: bool,
    /// UDP payload bytes.
    pub len: usize,
    /// Content type of its first record (0 when too short to have one).
    pub content_type: u8,
    /// Epoch of its first record.
    pub epoch: u16,
}

impl Datagram {
    /// Reads the first record header of `data` (type, version, epoch, ...).
    pub fn parse(c2s: bool, data: &[u8]) -> Self {
        let content_type = data.first().copied().unwrap_or(0);
        let epoch = match (data.get(3), data.get(4)) {
            (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
        Self {
            c2s,
            len: data.len(),
            content_type,
            epoch,
        }
    }

    /// A handshake datagram: its first record is a handshake message or ChangeCipherSpec.
    fn is_handshake(&self) -> bool {
        matches!(self.content_type, CHANGE_CIPHER_SPEC | HANDSHAKE)
    }

    /// A ClientHello-like datagram: what opens a new connection.
    fn opens_connection(&self) -> bool {
        self.c2s && self.content_type == HANDSHAKE && self.epoch == 0
    }
}

/// One connection of a log: its handshake and what came after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnTrace {
    /// Datagrams up to the client's first non-handshake datagram (both directions).
    pub handshake: Vec<Datagram>,
    /// Everything from the client's first non-handshake datagram on (application data, alerts).
    pub after: Vec<Datagram>,
}

/// Cuts a relay log into connections. The handshake of a connection ends at the client's first
/// datagram whose first record is neither a handshake message nor ChangeCipherSpec (application
/// data, an alert, or a CID record); a new connection starts with a client epoch-0 handshake
/// datagram after that point.
pub fn connections(log: &[Datagram]) -> Vec<ConnTrace> {
    let mut out: Vec<ConnTrace> = Vec::new();
    let mut cur = ConnTrace::default();
    let mut done = false;
    for d in log {
        if done && d.opens_connection() {
            out.push(std::mem::take(&mut cur));
            done = false;
        }
        if !done && d.c2s && !d.is_handshake() {
            done = true;
        }
        if done {
            cur.after.push(*d);
        } else {
            cur.handshake.push(*d);
        }
    }
    if !cur.handshake.is_empty() || !cur.after.is_empty() {
        out.push(cur);
    }
    out
}

/// Bytes, datagrams, flights and round trips of one handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeFigures {
    /// Client to server UDP payload bytes.
    pub c2s_bytes: usize,
    /// Server to client UDP payload bytes.
    pub s2c_bytes: usize,
    /// Client to server datagrams.
    pub c2s_datagrams: usize,
    /// Server to client datagrams.
    pub s2c_datagrams: usize,
    /// Runs of datagrams in one direction.
    pub flights: usize,
}

impl HandshakeFigures {
    /// Figures of a datagram sequence.
    pub fn of(datagrams: &[Datagram]) -> Self {
        let mut f = Self::default();
        let mut last = None;
        for d in datagrams {
            if d.c2s {
                f.c2s_bytes += d.len;
                f.c2s_datagrams += 1;
            } else {
                f.s2c_bytes += d.len;
                f.s2c_datagrams += 1;
            }
            if last != Some(d.c2s) {
                f.flights += 1;
                last = Some(d.c2s);
            }
        }
        f
    }

    /// UDP payload bytes both ways.
    pub fn udp_bytes(&self) -> usize {
        self.c2s_bytes + self.s2c_bytes
    }

    /// Datagrams both ways.
    pub fn datagrams(&self) -> usize {
        self.c2s_datagrams + self.s2c_datagrams
    }

    /// IP bytes both ways: payload + 28 per IPv4/UDP datagram.
    pub fn ip_bytes(&self) -> usize {
        self.udp_bytes() + IP_UDP_OVERHEAD * self.datagrams()
    }

    /// Round trips the client waits before it can send application data: a flight pair each;
    /// the client's last flight (if it has one) carries the first application record with it.
    pub fn round_trips(&self) -> usize {
        self.flights / 2
    }
}

impl ConnTrace {
    /// The handshake's figures.
    pub fn figures(&self) -> HandshakeFigures {
        HandshakeFigures::of(&self.handshake)
    }

    /// The `i`-th datagram after the handshake in one direction.
    pub fn after_nth(&self, c2s: bool, i: usize) -> Option<Datagram> {
        self.after.iter().filter(|d| d.c2s == c2s).nth(i).copied()
    }

    /// Record overhead of the first application record in one direction, given the plaintext
    /// length: datagram length minus plaintext (one record per datagram).
    pub fn record_overhead(&self, c2s: bool, plaintext: usize) -> Option<usize> {
        self.after_nth(c2s, 0)
            .and_then(|d| d.len.checked_sub(plaintext))
    }
}

/// A cookie handshake without its cookie exchange: the first ClientHello (which carries no
/// cookie), then everything after the HelloVerifyRequest and the second ClientHello. Nothing
/// after them depends on the cookie, so this is the handshake a server that skips the exchange
/// would see. `None` when the handshake does not start with ClientHello, HelloVerifyRequest,
/// ClientHello.
pub fn without_cookie_exchange(handshake: &[Datagram]) -> Option<Vec<Datagram>> {
    match handshake {
        [ch, hvr, ch2, rest @ ..] if ch.c2s && !hvr.c2s && ch2.c2s && !rest.is_empty() => {
            let mut v = vec![*ch];
            v.extend_from_slice(rest);
            Some(v)
        }
        _ => None,
    }
}
