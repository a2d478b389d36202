//! The connection's caller-owned-buffer API (quinn-proto's shape): datagrams written into the
//! caller's buffer, records opened where they lie in the received buffer, application data
//! handed to the caller as a borrowed slice. In steady state none of it allocates.

use std::time::Instant;

use super::{Connection, State};
use crate::error::Error;
use crate::stats::DropReason;
use crate::wire::codec::Reader;
use crate::wire::record::{ContentType, RECORD_HEADER_LEN, Record, RecordHeader, parse_record_cid};

impl Connection {
    /// Seals one application record straight into `buf` (no queue, no allocation) and
    /// returns the datagram's length: send `buf[..len]`. A buffer too short is
    /// [`Error::BufferTooSmall`] and uses no sequence number; [`Connection::send`] is this
    /// with a buffer of its own, queued for [`Connection::poll_transmit`].
    pub fn send_into(&mut self, data: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        if matches!(self.state, State::Closed) || self.closing {
            return Err(Error::Closed);
        }
        if !self.is_established() {
            return Err(Error::NotConnected);
        }
        if data.len() > super::MAX_APP_RECORD {
            return Err(Error::RecordTooLarge);
        }
        let n = self
            .rl
            .seal_into(self.send_epoch, ContentType::ApplicationData, data, buf)?;
        self.stats.sent(n, false);
        self.stats.app_records_sent += 1;
        self.stats.app_bytes_sent += data.len() as u64;
        Ok(n)
    }

    /// [`Connection::poll_transmit`] into `buf`: the next datagram is copied to the front of
    /// `buf` and its length returned. A buffer too short for it is [`Error::BufferTooSmall`]
    /// and the datagram stays queued.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let Some(d) = self.out.front() else {
            // gives the drained queue's buffer back, as poll_transmit does
            return Ok(self.poll_transmit().map(|d| d.len()));
        };
        let len = d.len();
        let Some(dst) = buf.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        };
        dst.copy_from_slice(d);
        self.out.pop_front();
        Ok(Some(len))
    }

    /// [`Connection::handle_datagram`] that decrypts the records in `data` itself (its content
    /// is overwritten) and hands each application record to `on_data` as soon as it
    /// authenticates, instead of queueing an [`crate::Event::Data`]. Order is kept: while an
    /// event waits in [`Connection::poll_event`] (a `Connected` from the same datagram, or
    /// anything not yet polled), later data is queued behind it as `Event::Data` instead; so
    /// a caller that drains `poll_event` after each call sees everything in the order it
    /// happened, and in steady state nothing is queued or allocated.
    pub fn handle_datagram_in_place<F: FnMut(&[u8])>(
        &mut self,
        now: Instant,
        data: &mut [u8],
        mut on_data: F,
    ) {
        let cid_len = self.rl.read_cid().len();
        // the counters handle_datagram keeps, from a first pass over the headers
        let (mut hs, mut malformed) = (false, false);
        let mut r = Reader::new(data);
        while !r.is_empty() {
            match parse_record_cid(&mut r, cid_len) {
                Ok(rec) => {
                    hs |= matches!(
                        rec.header.content_type,
                        ContentType::Handshake | ContentType::ChangeCipherSpec
                    );
                }
                Err(_) => {
                    malformed = true;
                    break;
                }
            }
        }
        self.stats.received(data.len(), hs);
        if malformed {
            self.stats.drop(DropReason::Malformed);
        }
        self.replied_this_datagram = false;
        self.newest_in_datagram = false;
        let mut rest = data;
        while !rest.is_empty() {
            let Ok(rec) = parse_record_cid(&mut Reader::new(rest), cid_len) else {
                break;
            };
            let header = rec.header;
            // the CID sits before the 2-byte length; the parse checked every length
            let cid_at = RECORD_HEADER_LEN - 2..RECORD_HEADER_LEN - 2 + rec.cid.len();
            let head_len = RECORD_HEADER_LEN + rec.cid.len();
            let len = head_len + rec.fragment.len();
            let (record, tail) = std::mem::take(&mut rest).split_at_mut(len);
            rest = tail;
            let (head, fragment) = record.split_at_mut(head_len);
            let cid = head.get(cid_at).unwrap_or(&[]);
            self.record_in_place(now, header, cid, fragment, &mut on_data);
        }
        self.maybe_drop_handshake(now, false);
    }

    /// One record of [`Self::handle_datagram_in_place`]: application data of the current
    /// epoch is opened in place; anything else (handshake, alerts, other epochs) takes the
    /// path of [`Self::handle_datagram`].
    fn record_in_place(
        &mut self,
        now: Instant,
        header: RecordHeader,
        cid: &[u8],
        fragment: &mut [u8],
        on_data: &mut impl FnMut(&[u8]),
    ) {
        let data_record = matches!(
            header.content_type,
            ContentType::ApplicationData | ContentType::Tls12Cid
        );
        // an event waiting to be polled goes first: the data then queues behind it
        if !(data_record
            && self.events.is_empty()
            && self.is_established()
            && header.epoch == 1
            && self.rl.read_epoch() == 1)
        {
            let rec = Record {
                header,
                cid,
                fragment,
            };
            self.process_record(now, &rec);
            return;
        }
        let opened = match self.rl.open_in_place(&header, cid, fragment) {
            Ok(o) => o,
            Err(why) => {
                self.stats.drop(why);
                return;
            }
        };
        if opened.newest {
            self.newest_in_datagram = true;
        }
        let plain = fragment.get(opened.plain).unwrap_or(&[]);
        if opened.content_type == ContentType::ApplicationData {
            self.data_received(now, plain.len());
            on_data(plain);
        } else if let Err(e) =
            self.on_plaintext(now, header.epoch, opened.content_type, plain.to_vec())
        {
            // an alert or handshake message inside a tls12_cid record: the usual path
            self.fail(e);
        }
    }
}
