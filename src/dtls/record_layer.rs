//! Epochs, 48-bit sequence numbers, record protection and the replay windows.

use super::crypto::aead::RecordCipher;
use super::error::Error;
use super::replay::ReplayWindow;
use super::stats::DropReason;
use super::wire::record::{
    epoch_seq, ContentType, Record, RecordHeader, DTLS12, MAX_SEQ, RECORD_HEADER_LEN,
};

struct WriteEpoch {
    seq: u64,
    cipher: Option<RecordCipher>,
}

struct ReadEpoch {
    cipher: Option<RecordCipher>,
    window: ReplayWindow,
}

/// The record layer of one connection. Epoch 0 is plaintext; epoch 1 uses the negotiated AEAD.
/// (Renegotiation is refused, so no connection goes beyond epoch 1 in this engine.)
pub struct RecordLayer {
    write: Vec<WriteEpoch>,
    read: Vec<ReadEpoch>,
    read_epoch: u16,
    next_read: Option<RecordCipher>,
}

impl Default for RecordLayer {
    fn default() -> Self {
        Self {
            write: vec![WriteEpoch {
                seq: 0,
                cipher: None,
            }],
            read: vec![ReadEpoch {
                cipher: None,
                window: ReplayWindow::default(),
            }],
            read_epoch: 0,
            next_read: None,
        }
    }
}

impl RecordLayer {
    /// Starts the write side at `seq` in epoch 0 (the server echoes the ClientHello's record
    /// sequence number in its first records, RFC 6347 §4.2.1).
    pub fn set_initial_write_seq(&mut self, seq: u64) {
        if let Some(w) = self.write.first_mut() {
            w.seq = seq;
        }
    }

    /// Installs the next epoch's write cipher; later records in that epoch use it.
    pub fn install_write(&mut self, cipher: RecordCipher) {
        self.write.push(WriteEpoch {
            seq: 0,
            cipher: Some(cipher),
        });
    }

    /// Stores the next epoch's read cipher until the peer's ChangeCipherSpec.
    pub fn prepare_read(&mut self, cipher: RecordCipher) {
        self.next_read = Some(cipher);
    }

    /// True when a read cipher waits for the peer's ChangeCipherSpec.
    pub fn has_pending_read(&self) -> bool {
        self.next_read.is_some()
    }

    /// Switches reading to the next epoch (on ChangeCipherSpec).
    pub fn activate_read(&mut self) -> bool {
        match self.next_read.take() {
            Some(c) => {
                self.read.push(ReadEpoch {
                    cipher: Some(c),
                    window: ReplayWindow::default(),
                });
                self.read_epoch += 1;
                true
            }
            None => false,
        }
    }

    /// Current read epoch.
    pub fn read_epoch(&self) -> u16 {
        self.read_epoch
    }

    /// Current (newest) write epoch.
    pub fn write_epoch(&self) -> u16 {
        (self.write.len() - 1) as u16
    }

    /// Expansion of a record in `epoch` (header + explicit nonce + tag).
    pub fn overhead(&self, epoch: u16) -> usize {
        RECORD_HEADER_LEN
            + self
                .write
                .get(usize::from(epoch))
                .and_then(|w| w.cipher.as_ref())
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
        let w = self
            .write
            .get_mut(usize::from(epoch))
            .ok_or(Error::Closed)?;
        if w.seq > MAX_SEQ {
            return Err(Error::SequenceExhausted);
        }
        let seq = w.seq;
        w.seq += 1;
        let es = epoch_seq(epoch, seq);
        let fragment = match &w.cipher {
            Some(c) => c.seal(es, ct.to_u8(), DTLS12, payload),
            None => payload.to_vec(),
        };
        let header = RecordHeader {
            content_type: ct,
            version: DTLS12,
            epoch,
            seq,
            length: fragment.len() as u16,
        };
        header.encode(out);
        out.extend_from_slice(&fragment);
        Ok(())
    }

    /// Classifies a record's epoch: `Ok(true)` readable now, `Ok(false)` next epoch (buffer it).
    pub fn epoch_status(&self, epoch: u16) -> Result<bool, DropReason> {
        if usize::from(epoch) < self.read.len() {
            Ok(true)
        } else if epoch == self.read_epoch + 1 {
            Ok(false)
        } else {
            Err(DropReason::BadEpoch)
        }
    }

    /// Authenticates and decrypts a record in a readable epoch and updates its replay window.
    pub fn open(&mut self, rec: &Record<'_>) -> Result<Vec<u8>, DropReason> {
        let h = &rec.header;
        let r = self
            .read
            .get_mut(usize::from(h.epoch))
            .ok_or(DropReason::BadEpoch)?;
        if !r.window.check(h.seq) {
            return Err(DropReason::Replay);
        }
        let plain = match &r.cipher {
            Some(c) => c
                .open(
                    h.epoch_seq(),
                    h.content_type.to_u8(),
                    h.version,
                    rec.fragment,
                )
                .map_err(|_| DropReason::BadMac)?,
            None => rec.fragment.to_vec(),
        };
        r.window.mark(h.seq);
        Ok(plain)
    }
}
