//! Epochs, 48-bit sequence numbers, record protection and the replay windows, and the RFC 9146
//! Connection ID record format (tls12_cid, DTLSInnerPlaintext) once a CID is negotiated.

use crate::cid_buf::CidBuf;
use crate::crypto::aead::{EXPLICIT_NONCE_LEN, RecordCipher};
use crate::error::Error;
use crate::replay::ReplayWindow;
use crate::stats::DropReason;
use crate::wire::record::{
    ContentType, DTLS12, MAX_SEQ, RECORD_HEADER_LEN, Record, RecordHeader, epoch_seq,
};

/// Epochs a connection uses: 0 (plaintext) and 1 (the negotiated AEAD).
const EPOCHS: usize = 2;

/// `write_limit` when no state export reserved sequence numbers.
const NO_LIMIT: u64 = u64::MAX;

/// The record layer of one connection. Epoch 0 is plaintext; epoch 1 uses the negotiated AEAD.
/// (Renegotiation is refused, so no connection goes beyond epoch 1 in this engine: both epochs
/// are held inline, and only epoch 1 has ciphers.)
pub struct RecordLayer {
    /// Next write sequence number of each epoch.
    write_seq: [u64; EPOCHS],
    /// Epoch 1's write cipher.
    write_cipher: Option<RecordCipher>,
    /// First epoch-1 sequence number a state export reserved for its importer (never used
    /// here); `NO_LIMIT` when none.
    write_limit: u64,
    /// Replay window of each read epoch.
    windows: [ReplayWindow; EPOCHS],
    /// Epoch 1's read cipher; held before the peer's ChangeCipherSpec too (pending while
    /// `read_epoch` is 0).
    read_cipher: Option<RecordCipher>,
    /// Newest write epoch installed.
    write_epoch: u16,
    read_epoch: u16,
    /// CID the peer asked for: non-empty means our protected records are tls12_cid.
    write_cid: CidBuf,
    /// CID we asked for: non-empty means the peer's protected records must be tls12_cid.
    read_cid: CidBuf,
}

/// A record that authenticated.
#[derive(Debug)]
pub struct Opened {
    /// The real content type (from DTLSInnerPlaintext for tls12_cid records).
    pub content_type: ContentType,
    /// Plaintext content.
    pub plain: Vec<u8>,
    /// True when its sequence number is above every one seen in its epoch (RFC 9146 §6: only
    /// such a record may move the peer's address).
    pub newest: bool,
}

/// A record that authenticated, opened in the caller's buffer.
#[derive(Debug)]
pub struct OpenedInPlace {
    /// The real content type (from DTLSInnerPlaintext for tls12_cid records).
    pub content_type: ContentType,
    /// Where the plaintext lies in the fragment.
    pub plain: std::ops::Range<usize>,
    /// As [`Opened::newest`].
    pub newest: bool,
}

impl Default for RecordLayer {
    fn default() -> Self {
        Self {
            write_seq: [0; EPOCHS],
            write_cipher: None,
            write_limit: NO_LIMIT,
            windows: Default::default(),
            read_cipher: None,
            write_epoch: 0,
            read_epoch: 0,
            write_cid: CidBuf::empty(),
            read_cid: CidBuf::empty(),
        }
    }
}

impl RecordLayer {
    /// Starts the write side at `seq` in epoch 0 (the server echoes the ClientHello's record
    /// sequence number in its first records, RFC 6347 §4.2.1).
    pub fn set_initial_write_seq(&mut self, seq: u64) {
        self.write_seq[0] = seq;
    }

    /// Installs epoch 1's write cipher; later records in that epoch use it.
    pub fn install_write(&mut self, cipher: RecordCipher) {
        self.write_cipher = Some(cipher);
        self.write_seq[1] = 0;
        self.write_limit = NO_LIMIT;
        self.write_epoch = 1;
    }

    /// Stores epoch 1's read cipher until the peer's ChangeCipherSpec.
    pub fn prepare_read(&mut self, cipher: RecordCipher) {
        if self.read_epoch == 0 {
            self.read_cipher = Some(cipher);
        }
    }

    /// True when a read cipher waits for the peer's ChangeCipherSpec.
    pub fn has_pending_read(&self) -> bool {
        self.read_epoch == 0 && self.read_cipher.is_some()
    }

    /// The write cipher of `epoch` (none in epoch 0 or before it is installed).
    fn write_cipher_of(&self, epoch: u16) -> Option<&RecordCipher> {
        (epoch == 1 && self.write_epoch >= 1)
            .then_some(self.write_cipher.as_ref())
            .flatten()
    }

    /// Sets the negotiated Connection IDs (RFC 9146): `ours` is what the peer puts in records
    /// to us, `peer` what we put in records to it. Empty means plain records that way.
    pub fn set_cids(&mut self, ours: Vec<u8>, peer: Vec<u8>) {
        self.read_cid = CidBuf::from(ours.as_slice());
        self.write_cid = CidBuf::from(peer.as_slice());
    }

    /// Our Connection ID (empty: none).
    pub fn read_cid(&self) -> &[u8] {
        self.read_cid.as_slice()
    }

    /// The peer's Connection ID (empty: none).
    pub fn write_cid(&self) -> &[u8] {
        self.write_cid.as_slice()
    }

    /// Reserves write sequence numbers for a state export: this layer may still use
    /// `[next, next + reserve)` of the current epoch; the export continues at the returned
    /// number. `None` before keys are in use.
    pub fn reserve_for_export(&mut self, reserve: u64) -> Option<u64> {
        self.write_cipher_of(self.write_epoch)?;
        let seq = self.write_seq[1];
        let start = if self.write_limit == NO_LIMIT {
            seq
        } else {
            self.write_limit.max(seq)
        };
        // at most MAX_SEQ + 1, so never NO_LIMIT
        let next = start.saturating_add(reserve).min(MAX_SEQ + 1);
        self.write_limit = next;
        Some(next)
    }

    /// The current read epoch's replay window.
    pub fn read_window(&self) -> Option<&ReplayWindow> {
        self.windows.get(usize::from(self.read_epoch))
    }

    /// A layer in epoch 1 both ways, restored from a state export.
    pub fn restored(
        write: RecordCipher,
        read: RecordCipher,
        write_seq: u64,
        window: ReplayWindow,
    ) -> Self {
        let mut rl = Self::default();
        rl.install_write(write);
        rl.write_seq[1] = write_seq;
        rl.read_cipher = Some(read);
        rl.windows[1] = window;
        rl.read_epoch = 1;
        rl
    }

    /// Sequence number the next record of `epoch` gets.
    pub fn next_write_seq(&self, epoch: u16) -> Option<u64> {
        if epoch > self.write_epoch {
            return None;
        }
        self.write_seq.get(usize::from(epoch)).copied()
    }

    /// Switches reading to epoch 1 (on ChangeCipherSpec).
    pub fn activate_read(&mut self) -> bool {
        if !self.has_pending_read() {
            return false;
        }
        self.windows[1] = ReplayWindow::default();
        self.read_epoch = 1;
        true
    }

    /// Current read epoch.
    pub fn read_epoch(&self) -> u16 {
        self.read_epoch
    }

    /// Current (newest) write epoch.
    pub fn write_epoch(&self) -> u16 {
        self.write_epoch
    }

    /// Expansion of a record in `epoch` (header + explicit nonce + tag, and for tls12_cid the
    /// CID and the inner content type byte).
    pub fn overhead(&self, epoch: u16) -> usize {
        let cid = if epoch > 0 && !self.write_cid.is_empty() {
            self.write_cid.len() + 1
        } else {
            0
        };
        RECORD_HEADER_LEN
            + cid
            + self
                .write_cipher_of(epoch)
                .map_or(0, RecordCipher::overhead)
    }

    /// Builds a whole record in `epoch` and appends it to `out`.
    pub fn seal(
        &mut self,
        epoch: u16,
        ct: ContentType,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let start = out.len();
        out.resize(start + self.record_len(epoch, payload.len()), 0);
        let res = match out.get_mut(start..) {
            Some(tail) => self.seal_into(epoch, ct, payload, tail),
            None => Err(Error::RecordTooLarge),
        };
        match res {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Bytes of a record in `epoch` carrying `payload_len` bytes.
    pub fn record_len(&self, epoch: u16, payload_len: usize) -> usize {
        self.overhead(epoch) + payload_len
    }

    /// Builds a whole record in `epoch` at the front of `out` (a buffer the caller owns;
    /// nothing is allocated) and returns its length. A buffer shorter than the record is
    /// [`Error::BufferTooSmall`], and then no sequence number is used.
    pub fn seal_into(
        &mut self,
        epoch: u16,
        ct: ContentType,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if epoch > self.write_epoch {
            return Err(Error::Closed);
        }
        let seq = *self
            .write_seq
            .get(usize::from(epoch))
            .ok_or(Error::Closed)?;
        if seq > MAX_SEQ {
            return Err(Error::SequenceExhausted);
        }
        if epoch == 1 && self.write_limit != NO_LIMIT && seq >= self.write_limit {
            return Err(Error::ExportReserveUsed);
        }
        let cipher = self.write_cipher_of(epoch);
        let (outer, cid) = match cipher {
            Some(_) if !self.write_cid.is_empty() => {
                (ContentType::Tls12Cid, self.write_cid.as_slice())
            }
            _ => (ct, &[][..]),
        };
        // DTLSInnerPlaintext adds the real type byte (no padding)
        let inner = payload.len() + usize::from(!cid.is_empty());
        let frag_len = inner + cipher.map_or(0, RecordCipher::overhead);
        let length = u16::try_from(frag_len).map_err(|_| Error::RecordTooLarge)?;
        let needed = RECORD_HEADER_LEN + cid.len() + frag_len;
        if out.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                available: out.len(),
            });
        }
        let header = RecordHeader {
            content_type: outer,
            version: DTLS12,
            epoch,
            seq,
            length,
        };
        let hlen = header.encode_into(out, cid).ok_or(Error::RecordTooLarge)?;
        let frag = out.get_mut(hlen..needed).ok_or(Error::RecordTooLarge)?;
        let es = epoch_seq(epoch, seq);
        let sealed = match cipher {
            Some(c) => {
                // the plaintext goes after the explicit nonce, then is sealed where it lies
                let body = &mut frag[EXPLICIT_NONCE_LEN..EXPLICIT_NONCE_LEN + inner];
                body[..payload.len()].copy_from_slice(payload);
                if cid.is_empty() {
                    c.seal_in_place(es, ct.to_u8(), DTLS12, frag)
                } else {
                    body[payload.len()] = ct.to_u8();
                    c.seal_cid_in_place(es, DTLS12, cid, frag)
                }
            }
            None => {
                frag.copy_from_slice(payload);
                Ok(())
            }
        };
        sealed.map_err(|_| Error::RecordTooLarge)?;
        if let Some(slot) = self.write_seq.get_mut(usize::from(epoch)) {
            *slot = seq + 1;
        }
        Ok(needed)
    }

    /// Classifies a record's epoch: `Ok(true)` readable now, `Ok(false)` next epoch (buffer it).
    pub fn epoch_status(&self, epoch: u16) -> Result<bool, DropReason> {
        if epoch <= self.read_epoch {
            Ok(true)
        } else if epoch == self.read_epoch + 1 {
            Ok(false)
        } else {
            Err(DropReason::BadEpoch)
        }
    }

    /// Authenticates and decrypts a record in a readable epoch and updates its replay window.
    /// Once we asked for a non-empty CID, protected records must be tls12_cid with our CID.
    pub fn open(&mut self, rec: &Record<'_>) -> Result<Opened, DropReason> {
        let mut plain = rec.fragment.to_vec();
        let o = self.open_in_place(&rec.header, rec.cid, &mut plain)?;
        plain.truncate(o.plain.end);
        plain.drain(..o.plain.start);
        Ok(Opened {
            content_type: o.content_type,
            plain,
            newest: o.newest,
        })
    }

    /// [`Self::open`] in place: decrypts `fragment` (the record's, in the caller's buffer)
    /// where it lies; the plaintext is `fragment[opened.plain]`. Nothing is allocated.
    pub fn open_in_place(
        &mut self,
        h: &RecordHeader,
        cid: &[u8],
        fragment: &mut [u8],
    ) -> Result<OpenedInPlace, DropReason> {
        if h.epoch > self.read_epoch {
            return Err(DropReason::BadEpoch);
        }
        let window = self
            .windows
            .get(usize::from(h.epoch))
            .ok_or(DropReason::BadEpoch)?;
        if !window.check(h.seq) {
            return Err(DropReason::Replay);
        }
        let newest = window.is_newest(h.seq);
        let cipher = if h.epoch == 1 {
            self.read_cipher.as_ref()
        } else {
            None
        };
        let is_cid = h.content_type == ContentType::Tls12Cid;
        let (content_type, plain) = match cipher {
            Some(c) if !self.read_cid.is_empty() => {
                if !is_cid || cid != self.read_cid.as_slice() {
                    return Err(DropReason::Unexpected);
                }
                let inner = c
                    .open_cid_in_place(h.epoch_seq(), h.version, cid, fragment)
                    .map_err(|_| DropReason::BadMac)?;
                let (ct, len) = split_inner(inner)?;
                (ct, EXPLICIT_NONCE_LEN..EXPLICIT_NONCE_LEN + len)
            }
            Some(c) => {
                if is_cid {
                    return Err(DropReason::Unexpected);
                }
                let p = c
                    .open_in_place(h.epoch_seq(), h.content_type.to_u8(), h.version, fragment)
                    .map_err(|_| DropReason::BadMac)?;
                (
                    h.content_type,
                    EXPLICIT_NONCE_LEN..EXPLICIT_NONCE_LEN + p.len(),
                )
            }
            None if is_cid => return Err(DropReason::Unexpected),
            None => (h.content_type, 0..fragment.len()),
        };
        if let Some(w) = self.windows.get_mut(usize::from(h.epoch)) {
            w.mark(h.seq);
        }
        Ok(OpenedInPlace {
            content_type,
            plain,
            newest,
        })
    }
}

/// Splits a DTLSInnerPlaintext: strips the zero padding, takes the real type off the end;
/// the real type and the content's length.
fn split_inner(inner: &[u8]) -> Result<(ContentType, usize), DropReason> {
    let end = inner
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DropReason::Malformed)?;
    let ct = ContentType::from_u8(inner[end]).map_err(|_| DropReason::Malformed)?;
    if ct == ContentType::Tls12Cid {
        return Err(DropReason::Malformed);
    }
    Ok((ct, end))
}
