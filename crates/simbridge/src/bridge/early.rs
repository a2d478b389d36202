//! What of a client's 0-RTT early data may reach the backend before its DTLS 1.3 handshake
//! completes, and what waits for it.
//!
//! Early data comes before the handshake proves the client holds the key, so it may be a
//! replay: an attacker who recorded a ClientHello and its 0-RTT records can send them again.
//! The DTLS endpoint refuses the replays it can recognise (single-use tickets, a strike register
//! with a time window); this is the second line, for the ones it cannot (a register lost in a
//! restart, a server farm with one register per node):
//! - a request the listener declares replay-safe (by default CoAP GET and FETCH: safe methods,
//!   RFC 7252 §5.8.1 and RFC 8132 §2, which change nothing when repeated) is forwarded at once —
//!   that is what 0-RTT saves, the backend sees it one round trip earlier;
//! - anything else (other methods, datagrams that are not a CoAP request) is held until the
//!   handshake completes. A replay never completes it (the client Finished needs the key), so
//!   what a replay carries is dropped with its connection and never reaches the backend.
//!
//! Held data is bounded per connection (the endpoint also bounds early data per connection to
//! the ticket's max_early_data_size); over the bound a datagram is dropped, as a lost datagram,
//! and counted.

use std::collections::HashMap;
use std::net::SocketAddr;

/// A CoAP request method (RFC 7252 §12.1.1, RFC 8132 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoapMethod {
    /// 0.01
    Get,
    /// 0.02
    Post,
    /// 0.03
    Put,
    /// 0.04
    Delete,
    /// 0.05
    Fetch,
    /// 0.06
    Patch,
    /// 0.07
    IPatch,
}

/// A method name that is none of [`CoapMethod`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown CoAP method \"{0}\" (expected GET, POST, PUT, DELETE, FETCH, PATCH or iPATCH)")]
pub struct UnknownMethod(pub String);

impl CoapMethod {
    /// Every method, in code order.
    pub const ALL: [CoapMethod; 7] = [
        Self::Get,
        Self::Post,
        Self::Put,
        Self::Delete,
        Self::Fetch,
        Self::Patch,
        Self::IPatch,
    ];

    /// The request code (class 0, this detail).
    pub fn code(self) -> u8 {
        match self {
            Self::Get => 1,
            Self::Post => 2,
            Self::Put => 3,
            Self::Delete => 4,
            Self::Fetch => 5,
            Self::Patch => 6,
            Self::IPatch => 7,
        }
    }

    /// The method's name as RFC 7252 and RFC 8132 write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Fetch => "FETCH",
            Self::Patch => "PATCH",
            Self::IPatch => "iPATCH",
        }
    }

    /// The method of `name` (case-insensitive).
    pub fn parse(name: &str) -> Result<Self, UnknownMethod> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownMethod(name.to_string()))
    }
}

/// Which early-data datagrams go to the backend at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyPolicy {
    forward: Vec<CoapMethod>,
}

impl Default for EarlyPolicy {
    /// GET and FETCH.
    fn default() -> Self {
        Self::new(&[CoapMethod::Get, CoapMethod::Fetch])
    }
}

impl EarlyPolicy {
    /// Requests of these methods are forwarded at once; an empty list holds everything.
    pub fn new(forward: &[CoapMethod]) -> Self {
        Self {
            forward: forward.to_vec(),
        }
    }

    /// The methods forwarded at once.
    pub fn methods(&self) -> &[CoapMethod] {
        &self.forward
    }

    /// Whether `datagram` is a CoAP request (RFC 7252 §3: version 1, a token of at most 8
    /// bytes that fits) of a method forwarded at once.
    pub fn forward_at_once(&self, datagram: &[u8]) -> bool {
        let (Some(&first), Some(&code)) = (datagram.first(), datagram.get(1)) else {
            return false;
        };
        let token_len = usize::from(first & 0x0f);
        first >> 6 == 1
            && token_len <= 8
            && datagram.len() >= 4 + token_len
            && self.forward.iter().any(|m| m.code() == code)
    }
}

/// Early data held per connection until its handshake completes.
#[derive(Debug)]
pub struct EarlyHold {
    cap: usize,
    held: HashMap<SocketAddr, (usize, Vec<Vec<u8>>)>,
}

impl EarlyHold {
    /// At most `cap` bytes held per connection.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            held: HashMap::new(),
        }
    }

    /// Holds `d` for `peer`; false (not held) when it would pass the bound.
    pub fn hold(&mut self, peer: SocketAddr, d: &[u8]) -> bool {
        let (bytes, items) = self.held.entry(peer).or_default();
        if bytes.saturating_add(d.len()) > self.cap {
            return false;
        }
        *bytes += d.len();
        items.push(d.to_vec());
        true
    }

    /// What `peer` has held, in order (its handshake completed), and forgets it.
    pub fn release(&mut self, peer: &SocketAddr) -> Vec<Vec<u8>> {
        self.held.remove(peer).map(|(_, v)| v).unwrap_or_default()
    }

    /// Drops what `peer` held (its connection closed before completing); the datagrams dropped.
    pub fn discard(&mut self, peer: &SocketAddr) -> usize {
        self.held.remove(peer).map_or(0, |(_, v)| v.len())
    }

    /// Follows a connection to its new address (a Connection ID move).
    pub fn moved(&mut self, old: &SocketAddr, new: SocketAddr) {
        if let Some(h) = self.held.remove(old) {
            self.held.insert(new, h);
        }
    }

    /// Connections with data held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// No connection has data held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confirmable CoAP request with a 2-byte token and message id 0x1234.
    fn request(code: u8) -> Vec<u8> {
        vec![
            0x42, code, 0x12, 0x34, 0xaa, 0xbb, 0xb4, b't', b'e', b'm', b'p',
        ]
    }

    #[test]
    fn by_default_get_and_fetch_go_at_once_and_the_rest_waits() {
        let p = EarlyPolicy::default();
        assert!(p.forward_at_once(&request(1)), "GET");
        assert!(p.forward_at_once(&request(5)), "FETCH");
        for code in [2, 3, 4, 6, 7] {
            assert!(!p.forward_at_once(&request(code)), "code {code}");
        }
    }

    #[test]
    fn what_is_not_a_coap_request_waits() {
        let p = EarlyPolicy::default();
        // a response (2.05 Content), a version 2 header, a token longer than 8, a token cut
        // short, plain bytes, nothing
        for d in [
            vec![0x62, 0x45, 0x12, 0x34, 0xaa, 0xbb],
            vec![0x82, 0x01, 0x12, 0x34, 0xaa, 0xbb],
            vec![0x49, 0x01, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![0x44, 0x01, 0x12, 0x34, 0xaa],
            b"\x01 plain".to_vec(),
            Vec::new(),
        ] {
            assert!(!p.forward_at_once(&d), "{d:02x?}");
        }
    }

    #[test]
    fn an_empty_list_holds_everything_and_a_list_is_taken_as_given() {
        assert!(!EarlyPolicy::new(&[]).forward_at_once(&request(1)));
        let post = EarlyPolicy::new(&[CoapMethod::Post]);
        assert!(post.forward_at_once(&request(2)));
        assert!(!post.forward_at_once(&request(1)));
    }

    #[test]
    fn method_names_parse_case_insensitively_and_unknown_ones_are_named() {
        for m in CoapMethod::ALL {
            assert_eq!(CoapMethod::parse(m.name()), Ok(m));
            assert_eq!(CoapMethod::parse(&m.name().to_lowercase()), Ok(m));
        }
        let e = CoapMethod::parse("OBSERVE").expect_err("not a method");
        assert!(e.to_string().contains("\"OBSERVE\""), "{e}");
    }

    #[test]
    fn held_data_is_bounded_released_in_order_and_follows_a_move() {
        let (a, b): (SocketAddr, SocketAddr) =
            (([10, 0, 0, 1], 1000).into(), ([10, 0, 0, 2], 2000).into());
        let mut h = EarlyHold::new(10);
        assert!(h.hold(a, b"12345"));
        assert!(h.hold(a, b"6789"));
        assert!(!h.hold(a, b"ab"), "11 bytes pass the bound of 10");
        assert!(h.hold(a, b"0"));
        h.moved(&a, b);
        assert!(h.release(&a).is_empty());
        assert_eq!(
            h.release(&b),
            vec![b"12345".to_vec(), b"6789".to_vec(), b"0".to_vec()]
        );
        assert!(h.is_empty());
        assert!(h.hold(a, b"x"));
        assert_eq!(h.discard(&a), 1);
        assert_eq!(h.len(), 0);
    }
}
