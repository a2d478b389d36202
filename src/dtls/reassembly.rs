//! Handshake message reassembly: fragments may arrive out of order, overlapping or duplicated
//! (RFC 6347 §4.2.3). Messages are released strictly in `message_seq` order.

use std::collections::BTreeMap;

use super::wire::handshake::{Fragment, HandshakeType};

/// How far ahead of the next expected message we buffer.
const MAX_AHEAD: u16 = 8;

/// A complete handshake message, released in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Type.
    pub msg_type: HandshakeType,
    /// message_seq.
    pub seq: u16,
    /// Body.
    pub body: Vec<u8>,
    /// Epoch of the record that completed the message (Finished must be protected).
    pub epoch: u16,
}

#[derive(Debug)]
struct Partial {
    msg_type: HandshakeType,
    body: Vec<u8>,
    have: Vec<bool>,
    missing: usize,
    epoch: u16,
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
}

/// Reassembles fragments into in-order messages.
#[derive(Debug, Default)]
pub struct Reassembler {
    next_seq: u16,
    partial: BTreeMap<u16, Partial>,
}

impl Reassembler {
    /// The next message_seq we will release.
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Moves the expected sequence forward (client: the first server message after a hello may
    /// carry any sequence number). Older partial messages are dropped.
    pub fn skip_to(&mut self, seq: u16) {
        if seq > self.next_seq {
            self.next_seq = seq;
            self.partial = self.partial.split_off(&seq);
        }
    }

    /// Feeds one fragment received in `epoch`.
    pub fn insert(&mut self, f: &Fragment<'_>, epoch: u16) -> FragmentStatus {
        if f.message_seq < self.next_seq {
            return FragmentStatus::Old;
        }
        if f.message_seq - self.next_seq >= MAX_AHEAD {
            return FragmentStatus::Rejected;
        }
        let len = f.length as usize;
        let p = self
            .partial
            .entry(f.message_seq)
            .or_insert_with(|| Partial {
                msg_type: f.msg_type,
                body: vec![0; len],
                have: vec![false; len],
                missing: len,
                epoch,
            });
        if p.msg_type != f.msg_type || p.body.len() != len || p.epoch != epoch {
            return FragmentStatus::Rejected;
        }
        let start = f.offset as usize;
        // bounds were checked by the parser (offset + len <= length); `get_mut` keeps it safe anyway
        let (Some(dst), Some(have)) = (
            p.body.get_mut(start..start + f.body.len()),
            p.have.get_mut(start..start + f.body.len()),
        ) else {
            return FragmentStatus::Rejected;
        };
        dst.copy_from_slice(f.body);
        for h in have.iter_mut().filter(|h| !**h) {
            *h = true;
            p.missing -= 1;
        }
        FragmentStatus::Accepted
    }

    /// Releases the next message if it is complete.
    pub fn pop(&mut self) -> Option<Message> {
        let done = self
            .partial
            .get(&self.next_seq)
            .is_some_and(|p| p.missing == 0);
        if !done {
            return None;
        }
        let p = self.partial.remove(&self.next_seq)?;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        Some(Message {
            msg_type: p.msg_type,
            seq,
            body: p.body,
            epoch: p.epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            r.insert(&frag(0, 15, &msg[15..], 20), 0),
            FragmentStatus::Accepted
        );
        assert!(r.pop().is_none());
        assert_eq!(
            r.insert(&frag(0, 5, &msg[5..16], 20), 0),
            FragmentStatus::Accepted
        );
        assert_eq!(
            r.insert(&frag(0, 5, &msg[5..16], 20), 0),
            FragmentStatus::Accepted
        );
        assert!(r.pop().is_none());
        r.insert(&frag(0, 0, &msg[..6], 20), 0);
        let m = r.pop().unwrap();
        assert_eq!(m.body, msg);
        assert_eq!(r.next_seq(), 1);
        assert_eq!(r.insert(&frag(0, 0, &msg, 20), 0), FragmentStatus::Old);
    }

    #[test]
    fn later_message_waits_for_earlier() {
        let mut r = Reassembler::default();
        r.insert(&frag(1, 0, &[1], 1), 0);
        assert!(r.pop().is_none());
        r.insert(&frag(0, 0, &[0], 1), 0);
        assert_eq!(r.pop().unwrap().seq, 0);
        assert_eq!(r.pop().unwrap().seq, 1);
        assert_eq!(r.insert(&frag(40, 0, &[0], 1), 0), FragmentStatus::Rejected);
    }

    #[test]
    fn inconsistent_fragments_rejected() {
        let mut r = Reassembler::default();
        r.insert(&frag(0, 0, &[1], 4), 0);
        assert_eq!(r.insert(&frag(0, 1, &[1], 5), 0), FragmentStatus::Rejected);
        assert_eq!(r.insert(&frag(0, 1, &[1], 4), 1), FragmentStatus::Rejected);
    }
}
