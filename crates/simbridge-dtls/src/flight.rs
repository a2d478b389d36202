//! Outgoing flights: handshake messages and ChangeCipherSpec packed into records and datagrams
//! that fit the PMTU, fragmenting messages when needed (RFC 6347 §4.2.3). A flight is kept so
//! that it can be sent again (new record sequence numbers, same message_seq).

use crate::error::Error;
use crate::record_layer::RecordLayer;
use crate::wire::handshake::{HANDSHAKE_HEADER_LEN, HandshakeType, encode_header};
use crate::wire::record::ContentType;

/// Smallest fragment body worth starting in a partly filled datagram.
const MIN_FRAGMENT: usize = 16;

/// One element of a flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlightItem {
    /// A handshake message sent in `epoch`.
    Handshake {
        /// Type.
        msg_type: HandshakeType,
        /// message_seq.
        seq: u16,
        /// Body.
        body: Vec<u8>,
        /// Epoch.
        epoch: u16,
    },
    /// ChangeCipherSpec, sent in `epoch` (the one before the switch).
    Ccs {
        /// Epoch.
        epoch: u16,
    },
}

/// A flight to (re)transmit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flight {
    /// Items in order.
    pub items: Vec<FlightItem>,
}

struct Packer<'a> {
    rl: &'a mut RecordLayer,
    mtu: usize,
    /// Several handshake messages may share a record.
    pack: bool,
    out: Vec<Vec<u8>>,
    dgram: Vec<u8>,
    open: Option<(u16, Vec<u8>)>,
}

impl Packer<'_> {
    fn close_record(&mut self) -> Result<(), Error> {
        if let Some((epoch, plain)) = self.open.take() {
            self.rl
                .seal(epoch, ContentType::Handshake, &plain, &mut self.dgram)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.close_record()?;
        if !self.dgram.is_empty() {
            self.out.push(std::mem::take(&mut self.dgram));
        }
        Ok(())
    }

    /// Bytes of fragment body that still fit in the current datagram for `epoch`.
    fn room(&self, epoch: u16) -> usize {
        let mut used = self.dgram.len();
        match &self.open {
            Some((e, p)) if *e == epoch => used += self.rl.overhead(*e) + p.len(),
            Some((e, p)) => used += self.rl.overhead(*e) + p.len() + self.rl.overhead(epoch),
            None => used += self.rl.overhead(epoch),
        }
        self.mtu.saturating_sub(used + HANDSHAKE_HEADER_LEN)
    }

    fn handshake(
        &mut self,
        t: HandshakeType,
        seq: u16,
        body: &[u8],
        epoch: u16,
    ) -> Result<(), Error> {
        if t == HandshakeType::ClientHello {
            // A stateless cookie server cannot reassemble a fragmented ClientHello, so it goes
            // whole even above the PMTU (IP fragmentation; our hellos are ~100 bytes anyway).
            self.flush()?;
            let mut plain = Vec::with_capacity(HANDSHAKE_HEADER_LEN + body.len());
            encode_header(&mut plain, t, body.len() as u32, seq, 0, body.len() as u32);
            plain.extend_from_slice(body);
            self.open = Some((epoch, plain));
            return self.flush();
        }
        if !self.pack {
            // one message per record: some constrained stacks accept nothing else
            self.close_record()?;
        }
        let mut offset = 0usize;
        loop {
            let left = body.len() - offset;
            let room = self.room(epoch);
            let busy = !self.dgram.is_empty() || self.open.is_some();
            if busy && (room == 0 || room < left.min(MIN_FRAGMENT)) {
                self.flush()?;
                continue;
            }
            if matches!(&self.open, Some((e, _)) if *e != epoch) {
                self.close_record()?;
            }
            // an empty datagram always takes at least one byte (MIN_MTU guarantees room)
            let take = left.min(room.max(1));
            let plain = &mut self.open.get_or_insert_with(|| (epoch, Vec::new())).1;
            encode_header(plain, t, body.len() as u32, seq, offset as u32, take as u32);
            plain.extend_from_slice(body.get(offset..offset + take).unwrap_or(&[]));
            offset += take;
            if offset >= body.len() {
                return Ok(());
            }
            self.flush()?;
        }
    }

    fn ccs(&mut self, epoch: u16) -> Result<(), Error> {
        self.close_record()?;
        if self.dgram.len() + self.rl.overhead(epoch) + 1 > self.mtu {
            self.flush()?;
        }
        self.rl
            .seal(epoch, ContentType::ChangeCipherSpec, &[1], &mut self.dgram)
    }
}

impl Flight {
    /// Encodes the flight into datagrams of at most `mtu` bytes, each handshake message in
    /// records of its own, or with `pack` several messages in one record (RFC 6347 §4.2.3
    /// allows both). Records of the flight share datagrams either way.
    pub fn encode(
        &self,
        rl: &mut RecordLayer,
        mtu: usize,
        pack: bool,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let mut p = Packer {
            rl,
            mtu,
            pack,
            out: Vec::new(),
            dgram: Vec::new(),
            open: None,
        };
        for item in &self.items {
            match item {
                FlightItem::Handshake {
                    msg_type,
                    seq,
                    body,
                    epoch,
                } => p.handshake(*msg_type, *seq, body, *epoch)?,
                FlightItem::Ccs { epoch } => p.ccs(*epoch)?,
            }
        }
        p.flush()?;
        Ok(p.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reassembly::Reassembler;
    use crate::wire::handshake::parse_fragments;
    use crate::wire::record::split_datagram;

    #[test]
    fn small_flight_shares_one_record_and_large_message_fragments() {
        let mut rl = RecordLayer::default();
        let f = Flight {
            items: vec![
                FlightItem::Handshake {
                    msg_type: HandshakeType::ServerHello,
                    seq: 1,
                    body: vec![1; 40],
                    epoch: 0,
                },
                FlightItem::Handshake {
                    msg_type: HandshakeType::ServerHelloDone,
                    seq: 2,
                    body: vec![],
                    epoch: 0,
                },
            ],
        };
        let d = f.encode(&mut rl, 1200, true).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].len(), 13 + 12 + 40 + 12);
        // unpacked: the same datagram, one record per message
        let d = f.encode(&mut rl, 1200, false).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].len(), 13 + 12 + 40 + 13 + 12);
        let (recs, err) = split_datagram(&d[0]);
        assert!(err.is_none());
        assert_eq!(recs.len(), 2);
        for rec in &recs {
            assert_eq!(parse_fragments(rec.fragment).unwrap().len(), 1);
        }

        let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let f = Flight {
            items: vec![FlightItem::Handshake {
                msg_type: HandshakeType::ClientKeyExchange,
                seq: 0,
                body: big.clone(),
                epoch: 0,
            }],
        };
        let d = f.encode(&mut rl, 200, false).unwrap();
        assert!(d.len() >= 5);
        let mut r = Reassembler::default();
        for dg in d.iter().rev() {
            assert!(dg.len() <= 200);
            let (recs, err) = split_datagram(dg);
            assert!(err.is_none());
            for rec in recs {
                for frag in parse_fragments(rec.fragment).unwrap() {
                    r.insert(&frag, 0, 1024, 1 << 20);
                }
            }
        }
        assert_eq!(r.pop().unwrap().body, big);
    }
}
