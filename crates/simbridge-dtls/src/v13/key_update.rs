//! KeyUpdate on an established DTLS 1.3 session (RFC 8446 §4.6.3, RFC 9147 §8), sans-IO: a
//! long-lived session moves to fresh keys before the AEAD limits instead of a new handshake.
//!
//! RFC 9147's rules, as done here:
//! - The KeyUpdate is a handshake message in the current epoch. Its sender goes on sending with
//!   the old keys until the KeyUpdate is ACKed, then sends in epoch + 1 from sequence number 0.
//! - The receiver ACKs it and receives in epoch + 1 from then on; records of the old epoch that
//!   arrive late (reordered) still open with the old keys, kept for one epoch.
//! - `update_requested` asks the peer to update its sending keys too; it answers with its own
//!   KeyUpdate unless one of its own is already waiting for an ACK.
//! - Next secret: HKDF-Expand-Label(secret, "traffic upd", "", Hash.length) (RFC 8446 §7.2).

use super::ack::{self, RecordNumber};
use super::fragment;
use super::handshake::{
    ALERT, APPLICATION_DATA, Established13, HANDSHAKE, Handshake13Error, NEW_SESSION_TICKET, P,
    dtls_message,
};
use super::key_schedule::{TrafficKeys, next_traffic_secret};
use super::protect::{Protection13, RecordError13};
use super::ticket::{NewSessionTicket, Ticket13};
use crate::suite::AeadAlg;
use crate::wire::{Field, WireError};

/// The KeyUpdate handshake message type.
pub(super) const KEY_UPDATE: u8 = 24;
/// Records whose pieces of one post-handshake message are remembered for its ACK.
const MAX_PIECE_RECORDS: usize = 16;
const UPDATE_NOT_REQUESTED: u8 = 0;
const UPDATE_REQUESTED: u8 = 1;

/// What one received datagram was.
#[derive(Debug, PartialEq, Eq)]
pub enum Received13 {
    /// Application data.
    Data(Vec<u8>),
    /// An ACK; `switched` when it acknowledged our KeyUpdate (we send in the new epoch now).
    Ack {
        /// Whether our sending keys changed.
        switched: bool,
    },
    /// The peer's KeyUpdate: we receive in the next epoch now. Send `ack`, then `update` (our
    /// own KeyUpdate, when the peer asked for one).
    KeyUpdate {
        /// The ACK of the KeyUpdate record.
        ack: Vec<u8>,
        /// Our KeyUpdate in answer to `update_requested`.
        update: Option<Vec<u8>>,
    },
    /// An alert: `close_notify` (0) ends the session in order; any other is fatal in TLS 1.3
    /// (RFC 8446 §6). Either way nothing more is read from this session.
    Alert {
        /// AlertDescription.
        description: u8,
    },
    /// A fragment of a post-handshake message; the rest is still to come.
    Pending,
    /// The server's NewSessionTicket (RFC 8446 §4.6.1): send `ack` so that it is not sent
    /// again, and keep `ticket` to resume with.
    Ticket {
        /// The ACK of the NewSessionTicket record.
        ack: Vec<u8>,
        /// The ticket.
        ticket: Box<Ticket13>,
    },
}

/// Records one key may protect before it must be updated: RFC 9147 §4.5.3's confidentiality
/// limits, 2^23 for AES-CCM (CCM_8 included) and 2^24.5 for AES-GCM (rounded down to 2^24).
pub fn record_limit(alg: AeadAlg) -> u64 {
    match alg {
        AeadAlg::Aes128Gcm => 1 << 24,
        _ => 1 << 23,
    }
}

impl Established13 {
    /// The current (send, receive) epochs.
    pub fn epochs(&self) -> (u64, u64) {
        (self.send_epoch, self.recv_epoch)
    }

    /// Whether the sending key nears its limit: time for [`Self::update_keys`] (at 3/4 of it,
    /// so the ACK has room to come back).
    pub fn needs_key_update(&self) -> bool {
        self.next_send >= record_limit(self.alg) / 4 * 3
    }

    /// Our KeyUpdate (asking the peer to update too when `request_peer`); the new sending keys
    /// take over once it is ACKed. `None` while an earlier one still waits for its ACK (the
    /// caller resends the datagram it kept, as for any unacknowledged handshake record).
    pub fn update_keys(&mut self, request_peer: bool) -> Result<Option<Vec<u8>>, Handshake13Error> {
        if self.pending_update.is_some() {
            return Ok(None);
        }
        let body = [if request_peer {
            UPDATE_REQUESTED
        } else {
            UPDATE_NOT_REQUESTED
        }];
        let msg = dtls_message(KEY_UPDATE, self.next_msg_seq, &body);
        self.next_msg_seq = self.next_msg_seq.wrapping_add(1);
        let (seq, out) = self.seal_record(HANDSHAKE, &msg)?;
        self.pending_update = Some(RecordNumber {
            epoch: self.send_epoch,
            seq,
        });
        Ok(Some(out))
    }

    /// Opens one datagram: application data, an ACK, the peer's KeyUpdate, an alert, or (on
    /// the client) a NewSessionTicket.
    pub fn receive(&mut self, datagram: &[u8]) -> Result<Received13, Handshake13Error> {
        let cid_len = self.cids.recv_len();
        let opened = match self.recv.open(datagram, cid_len, self.next_recv) {
            Ok((o, _)) => {
                if !self.replay.check(o.seq) {
                    return Err(RecordError13::Replay.into());
                }
                self.replay.mark(o.seq);
                self.next_recv = self.next_recv.max(o.seq + 1);
                (o, self.recv_epoch)
            }
            Err(RecordError13::Epoch) => match &mut self.prev_recv {
                // A record of the previous epoch, reordered behind the KeyUpdate.
                Some((prev, next, window)) => {
                    let (o, _) = prev.open(datagram, cid_len, *next)?;
                    if !window.check(o.seq) {
                        return Err(RecordError13::Replay.into());
                    }
                    window.mark(o.seq);
                    *next = (*next).max(o.seq + 1);
                    (o, self.recv_epoch - 1)
                }
                None => return Err(RecordError13::Epoch.into()),
            },
            Err(e) => return Err(e.into()),
        };
        let (o, epoch) = opened;
        match o.content_type {
            APPLICATION_DATA => Ok(Received13::Data(o.content)),
            ack::CONTENT_TYPE_ACK => {
                let numbers = ack::parse(&o.content)?;
                let switched = match self.pending_update {
                    Some(p) if numbers.contains(&p) => {
                        self.pending_update = None;
                        self.send_secret = next_traffic_secret(P, &self.send_secret);
                        self.send_epoch += 1;
                        self.send = self.protection(&self.send_secret, self.send_epoch);
                        self.next_send = 0;
                        // a new epoch: no export holds its numbers
                        self.reserved_until = None;
                        self.long_seq_until = 0;
                        true
                    }
                    _ => false,
                };
                Ok(Received13::Ack { switched })
            }
            HANDSHAKE if epoch == self.recv_epoch => self.post_handshake(&o.content, o.seq),
            ALERT => match o.content.as_slice() {
                [_level, description] => Ok(Received13::Alert {
                    description: *description,
                }),
                _ => Err(WireError::Invalid(Field::AlertLength).into()),
            },
            _ => Err(WireError::Invalid(Field::ContentType).into()),
        }
    }

    fn protection(&self, secret: &crate::secret::Secret<32>, epoch: u64) -> Protection13 {
        Protection13::new(self.alg, &TrafficKeys::from_secret(P, secret), epoch)
    }

    /// A post-handshake message, or a fragment of one, in record `seq` of the current receive
    /// epoch: a KeyUpdate, or a NewSessionTicket. When the message is complete, the ACK names
    /// every record that carried a piece of it.
    fn post_handshake(&mut self, content: &[u8], seq: u64) -> Result<Received13, Handshake13Error> {
        // the reassembler follows peer_msg_seq, which a state import sets
        self.post.skip_to(self.peer_msg_seq);
        let epoch = u16::try_from(self.recv_epoch).unwrap_or(u16::MAX);
        let took = fragment::absorb(&mut self.post, content, epoch, self.is_client)?;
        let record = RecordNumber {
            epoch: self.recv_epoch,
            seq,
        };
        if took
            && self.post_records.len() < MAX_PIECE_RECORDS
            && !self.post_records.contains(&record)
        {
            self.post_records.push(record);
        }
        let Some(m) = self.post.pop() else {
            return if took {
                Ok(Received13::Pending)
            } else {
                // a message before the next one (a retransmission), too far ahead, or too large
                Err(WireError::Invalid(Field::MessageSeq).into())
            };
        };
        let mut records = std::mem::take(&mut self.post_records);
        if records.is_empty() {
            records.push(record);
        }
        // taken, even if it turns out malformed: the next message is the one after it
        self.peer_msg_seq = m.seq.wrapping_add(1);
        let (t, body) = (m.msg_type, m.body.as_slice());
        if t == NEW_SESSION_TICKET && self.is_client {
            let nst = NewSessionTicket::parse(body)?;
            let resumption = self
                .resumption
                .clone()
                .ok_or(WireError::Invalid(Field::NewSessionTicket))?;
            let ack = self.ack(&records)?;
            let ticket = Box::new(nst.into_ticket(&resumption, self.suite));
            return Ok(Received13::Ticket { ack, ticket });
        }
        if t != KEY_UPDATE {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let requested = match body {
            [UPDATE_NOT_REQUESTED] => false,
            [UPDATE_REQUESTED] => true,
            _ => return Err(WireError::Invalid(Field::HandshakeLength).into()),
        };
        let next_secret = next_traffic_secret(P, &self.recv_secret);
        let next = self.protection(&next_secret, self.recv_epoch + 1);
        let old = std::mem::replace(&mut self.recv, next);
        self.prev_recv = Some((old, self.next_recv, std::mem::take(&mut self.replay)));
        self.recv_secret = next_secret;
        self.recv_epoch += 1;
        self.next_recv = 0;
        let ack = self.ack(&records)?;
        let update = if requested {
            self.update_keys(false)?
        } else {
            None
        };
        Ok(Received13::KeyUpdate { ack, update })
    }
}

#[cfg(test)]
#[path = "key_update_tests.rs"]
mod tests;
