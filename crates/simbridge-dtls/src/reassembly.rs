//! Handshake message reassembly: fragments may arrive out of order, overlapping or duplicated
//! (RFC 6347 §4.2.3). Messages are released strictly in `message_seq` order.
//!
//! Memory is bounded before the peer proves anything (a cookie only proves its address): a
//! fragment whose message claims more than its type can be ([`max_message_len`]) is refused,
//! at most one message beyond the next expected one is buffered, a message's buffer grows
//! only as far as the bytes received (no buffer sized by the claimed length, no per-byte
//! flags: received ranges are kept as a short interval list), and the caller gives the room
//! left in its budget with every fragment.
//!
//! The message type is a parameter: DTLS 1.2 uses [`HandshakeType`], DTLS 1.3 (whose messages
//! the 1.2 enum does not name) the wire byte (`v13/fragment.rs`).

use crate::wire::handshake::{Fragment, HandshakeType};

/// How many messages beyond the next expected one are buffered (a flight's next message may
/// overtake a lost one; the peer retransmits the rest).
const MAX_AHEAD: u16 = 1;

/// Disjoint received ranges kept per message; more means a peer slicing a message into
/// scattered tiny pieces, which is refused.
const MAX_RANGES: usize = 16;

/// Longest psk_identity (and psk_identity_hint) we reassemble. RFC 4279 §5.3 asks for 128
/// octets; GBA identities are about 100.
pub const MAX_PSK_IDENTITY_LEN: usize = 512;

/// Longest RFC 5077 ticket we take from a server (OpenSSL, GnuTLS, Mbed TLS and ours stay
/// below 500 bytes).
pub const MAX_TICKET_LEN: usize = 2048;

/// Largest uncompressed EC point we could be sent (P-521: 133 bytes; we use P-256).
const MAX_POINT_LEN: usize = 133;

/// Largest body a handshake message of type `t` may claim, received by a server (`server`)
/// or a client. Types a PSK handshake never sends to that role get a small bound: the state
/// machine still sees them (and fails the handshake with unexpected_message) without
/// letting them hold memory.
pub fn max_message_len(t: HandshakeType, server: bool) -> usize {
    use HandshakeType as T;
    match (t, server) {
        // a hello restarting the handshake (refused by the state machine)
        (T::ClientHello, true) => 2048,
        // psk_identity<0..2^16-1> [+ ECPoint<1..255>]
        (T::ClientKeyExchange, true) => 2 + MAX_PSK_IDENTITY_LEN + 1 + MAX_POINT_LEN,
        (T::Finished, _) => 12,
        // version, cookie<0..255>
        (T::HelloVerifyRequest, false) => 3 + 255,
        // fixed fields (38) + session_id (32) + extensions (a CID of up to 255 bytes)
        (T::ServerHello, false) => 1024,
        // hint<0..2^16-1> [+ curve params (3) + ECPoint<1..255>]
        (T::ServerKeyExchange, false) => 2 + MAX_PSK_IDENTITY_LEN + 3 + 1 + MAX_POINT_LEN,
        (T::ServerHelloDone | T::HelloRequest, false) => 0,
        // lifetime hint (4) + ticket<0..2^16-1>
        (T::NewSessionTicket, false) => 4 + 2 + MAX_TICKET_LEN,
        _ => 64,
    }
}

/// One fragment of a handshake message of type `T`, as [`Reassembler::insert_piece`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a, T> {
    /// Message type.
    pub msg_type: T,
    /// Length of the whole message body.
    pub length: u32,
    /// message_seq.
    pub message_seq: u16,
    /// Offset of these bytes in the body.
    pub offset: u32,
    /// The bytes.
    pub body: &'a [u8],
}

/// A complete handshake message, released in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<T = HandshakeType> {
    /// Type.
    pub msg_type: T,
    /// message_seq.
    pub seq: u16,
    /// Body.
    pub body: Vec<u8>,
    /// Epoch of the record that completed the message (Finished must be protected).
    pub epoch: u16,
}

#[derive(Debug)]
struct Partial<T> {
    seq: u16,
    msg_type: T,
    length: u32,
    epoch: u16,
    /// Received bytes, as far as the highest received offset (gaps zero until filled).
    body: Vec<u8>,
    /// Received ranges `[start, end)`, sorted and disjoint.
    have: Vec<(u32, u32)>,
}

impl<T> Partial<T> {
    fn complete(&self) -> bool {
        self.length == 0 || self.have.first() == Some(&(0, self.length))
    }

    /// Adds `[start, end)` to the received ranges; false when that would need too many.
    fn mark(&mut self, start: u32, end: u32) -> bool {
        if start == end {
            return true;
        }
        let mut merged = Vec::with_capacity(self.have.len() + 1);
        let (mut s, mut e) = (start, end);
        for &(a, b) in &self.have {
            if b < s || a > e {
                merged.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        merged.push((s, e));
        merged.sort_unstable();
        if merged.len() > MAX_RANGES {
            return false;
        }
        self.have = merged;
        true
    }
}

/// What a fragment was, relative to the expected sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentStatus {
    /// Buffered (or completed a buffered message).
    Accepted,
    /// A message older than the next expected one: a retransmission by the peer.
    Old,
    /// Too far ahead, or inconsistent with earlier fragments: dropped.
    Rejected,
    /// Claims a length beyond what its type can be, or would exceed the buffer budget:
    /// dropped.
    TooLarge,
}

/// Reassembles fragments into in-order messages.
#[derive(Debug)]
pub struct Reassembler<T = HandshakeType> {
    next_seq: u16,
    /// The next message and at most [`MAX_AHEAD`] after it.
    partial: Vec<Partial<T>>,
}

impl<T> Default for Reassembler<T> {
    fn default() -> Self {
        Self {
            next_seq: 0,
            partial: Vec::new(),
        }
    }
}

impl Reassembler<HandshakeType> {
    /// Feeds one DTLS 1.2 fragment; see [`Self::insert_piece`].
    pub fn insert(
        &mut self,
        f: &Fragment<'_>,
        epoch: u16,
        max_len: usize,
        room: usize,
    ) -> FragmentStatus {
        let piece = Piece {
            msg_type: f.msg_type,
            length: f.length,
            message_seq: f.message_seq,
            offset: f.offset,
            body: f.body,
        };
        self.insert_piece(&piece, epoch, max_len, room)
    }
}

impl<T: Copy + PartialEq> Reassembler<T> {
    /// Starts at `next_seq` (the first message_seq it will release).
    pub fn starting_at(next_seq: u16) -> Self {
        Self {
            next_seq,
            partial: Vec::new(),
        }
    }

    /// The next message_seq we will release.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Moves the expected sequence forward (client: the first server message after a hello may
    /// carry any sequence number). Older partial messages are dropped.
    pub fn skip_to(&mut self, seq: u16) {
        if seq > self.next_seq {
            self.next_seq = seq;
            self.partial.retain(|p| p.seq >= seq);
        }
    }

    /// Bytes held in partial messages (what counts against a budget).
    pub fn buffered(&self) -> usize {
        self.partial.iter().map(|p| p.body.capacity()).sum()
    }

    /// Feeds one fragment received in `epoch`. `max_len` bounds the length its message may
    /// claim (see [`max_message_len`]); `room` is how many more bytes may be buffered.
    pub fn insert_piece(
        &mut self,
        f: &Piece<'_, T>,
        epoch: u16,
        max_len: usize,
        room: usize,
    ) -> FragmentStatus {
        if f.message_seq < self.next_seq {
            return FragmentStatus::Old;
        }
        if f.message_seq - self.next_seq > MAX_AHEAD {
            return FragmentStatus::Rejected;
        }
        if f.length as usize > max_len {
            return FragmentStatus::TooLarge;
        }
        let idx = match self.partial.iter().position(|p| p.seq == f.message_seq) {
            Some(i) => i,
            None => {
                self.partial.push(Partial {
                    seq: f.message_seq,
                    msg_type: f.msg_type,
                    length: f.length,
                    epoch,
                    body: Vec::new(),
                    have: Vec::new(),
                });
                self.partial.len() - 1
            }
        };
        let Some(p) = self.partial.get_mut(idx) else {
            return FragmentStatus::Rejected;
        };
        if p.msg_type != f.msg_type || p.length != f.length || p.epoch != epoch {
            return FragmentStatus::Rejected;
        }
        let start = f.offset as usize;
        let end = start + f.body.len();
        // bounds were checked by the parser (offset + len <= length); checked here anyway
        if end > p.length as usize {
            return FragmentStatus::Rejected;
        }
        let grow = end.saturating_sub(p.body.len());
        if grow > 0 {
            if grow > room {
                self.drop_empty();
                return FragmentStatus::TooLarge;
            }
            p.body.reserve_exact(grow);
            p.body.resize(end, 0);
        }
        if !p.mark(f.offset, end as u32) {
            return FragmentStatus::Rejected;
        }
        if let Some(dst) = p.body.get_mut(start..end) {
            dst.copy_from_slice(f.body);
        }
        FragmentStatus::Accepted
    }

    /// Forgets partial messages that hold nothing (made by a fragment then refused).
    fn drop_empty(&mut self) {
        self.partial.retain(|p| !p.have.is_empty() || p.length == 0);
    }

    /// Releases the next message if it is complete.
    pub fn pop(&mut self) -> Option<Message<T>> {
        let i = self
            .partial
            .iter()
            .position(|p| p.seq == self.next_seq && p.complete())?;
        let p = self.partial.swap_remove(i);
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(Message {
            msg_type: p.msg_type,
            seq: p.seq,
            body: p.body,
            epoch: p.epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    fn frag(seq: u16, off: u32, body: &[u8], len: u32) -> Fragment<'_> {
        Fragment {
            msg_type: HandshakeType::ClientHello,
            length: len,
            message_seq: seq,
            offset: off,
            body,
        }
    }

    #[test]
    fn out_of_order_overlapping_duplicate() {
        let msg: Vec<u8> = (0..20).collect();
        let mut r = Reassembler::default();
        assert_eq!(
            r.insert(&frag(0, 15, &msg[15..], 20), 0, 64, BIG),
            FragmentStatus::Accepted
        );
        assert!(r.pop().is_none());
        assert_eq!(
            r.insert(&frag(0, 5, &msg[5..16], 20), 0, 64, BIG),
            FragmentStatus::Accepted
        );
        assert_eq!(
            r.insert(&frag(0, 5, &msg[5..16], 20), 0, 64, BIG),
            FragmentStatus::Accepted
        );
        assert!(r.pop().is_none());
        r.insert(&frag(0, 0, &msg[..6], 20), 0, 64, BIG);
        let m = r.pop().unwrap();
        assert_eq!(m.body, msg);
        assert_eq!(r.next_seq(), 1);
        assert_eq!(
            r.insert(&frag(0, 0, &msg, 20), 0, 64, BIG),
            FragmentStatus::Old
        );
    }

    #[test]
    fn later_message_waits_for_earlier_and_only_one_ahead_is_kept() {
        let mut r = Reassembler::default();
        r.insert(&frag(1, 0, &[1], 1), 0, 64, BIG);
        assert_eq!(
            r.insert(&frag(2, 0, &[2], 1), 0, 64, BIG),
            FragmentStatus::Rejected,
            "two ahead"
        );
        assert!(r.pop().is_none());
        r.insert(&frag(0, 0, &[0], 1), 0, 64, BIG);
        assert_eq!(r.pop().unwrap().seq, 0);
        assert_eq!(r.pop().unwrap().seq, 1);
        assert_eq!(
            r.insert(&frag(40, 0, &[0], 1), 0, 64, BIG),
            FragmentStatus::Rejected
        );
    }

    #[test]
    fn inconsistent_fragments_rejected() {
        let mut r = Reassembler::default();
        r.insert(&frag(0, 0, &[1], 4), 0, 64, BIG);
        assert_eq!(
            r.insert(&frag(0, 1, &[1], 5), 0, 64, BIG),
            FragmentStatus::Rejected
        );
        assert_eq!(
            r.insert(&frag(0, 1, &[1], 4), 1, 64, BIG),
            FragmentStatus::Rejected
        );
    }

    #[test]
    fn claimed_length_beyond_the_type_is_refused_without_allocating() {
        let mut r = Reassembler::default();
        let cke = Fragment {
            msg_type: HandshakeType::ClientKeyExchange,
            length: 16384,
            message_seq: 1,
            offset: 16000,
            body: &[0; 300],
        };
        let max = max_message_len(HandshakeType::ClientKeyExchange, true);
        assert!(max < 1024);
        assert_eq!(r.insert(&cke, 0, max, BIG), FragmentStatus::TooLarge);
        assert_eq!(r.buffered(), 0);
        assert_eq!(max_message_len(HandshakeType::Finished, true), 12);
        assert_eq!(max_message_len(HandshakeType::ServerHelloDone, false), 0);
    }

    #[test]
    fn buffer_grows_with_the_bytes_received_not_the_claimed_length() {
        let mut r = Reassembler::default();
        r.insert(&frag(1, 0, &[7; 10], 600), 0, 648, BIG);
        assert!(r.buffered() <= 16, "{}", r.buffered());
        // a fragment at the far end needs room up to its end: refused when there is none
        assert_eq!(
            r.insert(&frag(1, 590, &[7; 10], 600), 0, 648, 100),
            FragmentStatus::TooLarge
        );
        assert!(r.buffered() <= 16);
        // scattered tiny pieces are refused once they need too many ranges
        let mut s = Reassembler::default();
        let mut refused = false;
        for i in 0..40u32 {
            if s.insert(&frag(0, i * 4, &[1], 600), 0, 648, BIG) == FragmentStatus::Rejected {
                refused = true;
            }
        }
        assert!(refused);
        assert!(s.partial[0].have.len() <= MAX_RANGES);
    }

    #[test]
    fn zero_length_message_completes() {
        let mut r = Reassembler::default();
        let shd = Fragment {
            msg_type: HandshakeType::ServerHelloDone,
            length: 0,
            message_seq: 0,
            offset: 0,
            body: &[],
        };
        assert_eq!(r.insert(&shd, 0, 0, 0), FragmentStatus::Accepted);
        assert_eq!(r.pop().unwrap().msg_type, HandshakeType::ServerHelloDone);
    }
}
