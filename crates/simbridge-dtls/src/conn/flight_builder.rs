//! The one way a handshake flight is put together: each message gets the next message_seq
//! and goes into the transcript as it is added, ChangeCipherSpec moves the rest of the flight
//! to epoch 1, and Finished is computed over the transcript so far.

use std::time::Instant;

use super::Connection;
use super::machine::{Flow, Retransmit};
use crate::crypto::prf::verify_data;
use crate::error::Error;
use crate::flight::{Flight, FlightItem};
use crate::secret::Secret;
use crate::wire::handshake::HandshakeType;

/// A flight being built; [`FlightBuilder::send`] sends it and keeps it for retransmission.
pub(super) struct FlightBuilder<'f> {
    flow: &'f mut Flow,
    /// message_seq of the next message.
    seq: u16,
    epoch: u16,
    items: Vec<FlightItem>,
}

impl<'f> FlightBuilder<'f> {
    /// A flight whose first message gets `seq` (the connection's next message_seq).
    pub(super) fn new(flow: &'f mut Flow, seq: u16) -> Self {
        Self {
            flow,
            seq,
            epoch: 0,
            items: Vec::with_capacity(4),
        }
    }

    /// Adds a handshake message (and its header and body to the transcript).
    pub(super) fn message(&mut self, msg_type: HandshakeType, body: Vec<u8>) -> &mut Self {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        self.flow.transcript.add(msg_type, seq, &body);
        self.items.push(FlightItem::Handshake {
            msg_type,
            seq,
            body,
            epoch: self.epoch,
        });
        self
    }

    /// Adds ChangeCipherSpec; what follows is protected (epoch 1).
    pub(super) fn change_cipher_spec(&mut self) -> &mut Self {
        self.items.push(FlightItem::Ccs { epoch: self.epoch });
        self.epoch = 1;
        self
    }

    /// Adds our Finished over the transcript so far.
    pub(super) fn finished(&mut self, master: &Secret<48>, client: bool) -> &mut Self {
        let vd = verify_data(master, client, &self.transcript_hash());
        self.message(HandshakeType::Finished, vd.to_vec())
    }

    /// The transcript hash so far (RFC 7627 session_hash once ClientKeyExchange is in).
    pub(super) fn transcript_hash(&self) -> [u8; 32] {
        self.flow.transcript.hash()
    }

    /// Sends the flight through `c` and keeps it for retransmission; `expect_answer` starts
    /// the retransmission timer (the handshake's last flight has none: it is sent again
    /// when the peer's last flight repeats). After a ChangeCipherSpec, `c` sends in epoch 1.
    pub(super) fn send(
        self,
        c: &mut Connection,
        now: Instant,
        expect_answer: bool,
    ) -> Result<(), Error> {
        c.next_send_seq = self.seq;
        if self.epoch > 0 {
            c.send_epoch = self.epoch;
        }
        let flight = Flight { items: self.items };
        c.transmit_flight(&flight)?;
        c.stats.flights_sent += 1;
        let initial = c.common().retransmit.initial;
        self.flow.flight = flight;
        self.flow.retx = expect_answer.then(|| Retransmit {
            deadline: now + initial,
            timeout: initial,
            count: 0,
        });
        Ok(())
    }
}
