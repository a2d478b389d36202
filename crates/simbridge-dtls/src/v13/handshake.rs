//! What the DTLS 1.3 handshake states of both sides share (RFC 8446 §2.2 with RFC 9147's
//! records): the suites, the errors, the framing of handshake messages in the transcript and on
//! the wire, the plaintext records of epoch 0, and the established session.
//!
//! ```text
//! client: Client13::start ──ClientHello──▶ Server13::accept
//!            (client.rs)   ◀─HelloRetryRequest(cookie)─   (stateless: Accepted13::Retry)
//!         ClientWaitServer ──ClientHello(cookie)──▶ Server13::accept ──▶ ServerWaitFinished
//!         ClientWaitServer ◀──ServerHello, {EncryptedExtensions}, {Finished}──  (server.rs)
//!      ClientWaitFinished  ──{Finished}──▶ ServerWaitFinished::finish
//!            Established13 ◀──{ACK}── Established13
//! ```
//!
//! Key exchange: an external PSK in `psk_ke` or `psk_dhe_ke` (X25519, P-256; key_share.rs).
//! Records: the ClientHello, HelloRetryRequest and ServerHello go in DTLS 1.2-style plaintext
//! records of epoch 0; everything after in unified-header records, epoch 2 (handshake) and 3
//! (application data). Fragmented messages from the peer are reassembled in fragment.rs.

use super::ack::{self, RecordNumber};
use super::header::SeqLen;
use super::hello::LEGACY_VERSION;
use super::key_schedule::{HASH_LEN, LabelPrefix, TrafficKeys};
use super::key_share::KeyShareError;
use super::protect::{HeaderForm, Protection13, RecordError13};
use crate::reassembly::Reassembler;
use crate::replay::ReplayWindow;
use crate::rng::RngError;
use crate::secret::Secret;
use crate::suite::AeadAlg;
use crate::wire::codec::{Reader, put_u16, put_u24, put_vec16};
use crate::wire::{Field, WireError};

pub(super) const P: LabelPrefix = LabelPrefix::Dtls13;
pub(super) const HANDSHAKE: u8 = 22;
pub(super) const APPLICATION_DATA: u8 = 23;
pub(super) const ALERT: u8 = 21;
/// AlertDescription close_notify.
pub const CLOSE_NOTIFY: u8 = 0;
pub(super) const CLIENT_HELLO: u8 = 1;
pub(super) const SERVER_HELLO: u8 = 2;
pub(super) const ENCRYPTED_EXTENSIONS: u8 = 8;
pub(super) const FINISHED: u8 = 20;
pub(super) const NEW_SESSION_TICKET: u8 = 4;
/// The synthetic message that stands for the first ClientHello after a HelloRetryRequest.
const MESSAGE_HASH: u8 = 254;
/// The last record of a datagram leaves its length out.
pub(super) const LAST: HeaderForm = HeaderForm {
    seq_len: SeqLen::One,
    with_length: false,
};
/// The same with the 16-bit sequence number.
const LAST_LONG: HeaderForm = HeaderForm {
    seq_len: SeqLen::Two,
    with_length: false,
};

/// The connection_id extension (RFC 9146; in DTLS 1.3 in the ClientHello and ServerHello,
/// RFC 9147 §9).
pub const EXT_CONNECTION_ID: u16 = 54;

/// The early_data extension (RFC 8446 §4.2.10): empty in a ClientHello (0-RTT data follows) and
/// in EncryptedExtensions (the server took it); max_early_data_size in a NewSessionTicket.
pub const EXT_EARLY_DATA: u16 = 42;

/// The Connection IDs of a session (RFC 9147 §9): what goes in the records we send (the
/// peer's) and what comes in the records we receive (ours). Empty: none, the record header
/// has no CID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cids {
    /// The peer's CID, put in every encrypted record we send.
    pub send: Vec<u8>,
    /// Our CID, in every encrypted record the peer sends.
    pub recv: Vec<u8>,
}

impl Cids {
    /// The CID for a record we send, if any.
    pub fn send_cid(&self) -> Option<&[u8]> {
        (!self.send.is_empty()).then_some(self.send.as_slice())
    }

    /// The length of the CID in the records we receive.
    pub fn recv_len(&self) -> usize {
        self.recv.len()
    }
}

/// What [`Handshake13Error::BadMac`] names when the client's PSK binder fails (the server's
/// check; [`crate::Error::BadBinder`] in the 1.2 vocabulary).
pub const PSK_BINDER: &str = "PSK binder";

/// TLS 1.3 suites this handshake offers, in the order of preference of a constrained device.
pub const SUITES: [(u16, AeadAlg); 3] = [
    (0x1305, AeadAlg::Aes128Ccm8),
    (0x1304, AeadAlg::Aes128Ccm),
    (0x1301, AeadAlg::Aes128Gcm),
];

/// psk_key_exchange_modes: PSK only (no forward secrecy, the fewest bytes).
pub const PSK_KE: u8 = 0;
/// psk_key_exchange_modes: PSK with (EC)DHE.
pub const PSK_DHE_KE: u8 = 1;

/// Why a handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Handshake13Error {
    /// A message or record is malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A protected record did not open.
    #[error("handshake record: {0}")]
    Record(#[from] RecordError13),
    /// The peer offered nothing we can take (no DTLS 1.3, no common suite, mode or group).
    #[error("handshake failure: {0}")]
    Incompatible(&'static str),
    /// The PSK identity is not known.
    #[error("unknown PSK identity")]
    UnknownIdentity,
    /// A binder or Finished did not verify: the peers do not hold the same key.
    #[error("{0} did not verify")]
    BadMac(&'static str),
    /// The peer's key share is not valid in its group.
    #[error("key exchange: {0}")]
    KeyShare(#[from] KeyShareError),
    /// The second ClientHello's cookie is not one this server made for this address, or too
    /// old.
    #[error("HelloRetryRequest cookie: {0}")]
    Cookie(#[from] super::cookie::CookieError),
    /// Our configuration cannot make a handshake (no mode, an unknown group or suite).
    #[error("configuration: {0}")]
    Config(&'static str),
    /// A message the protocol does not allow here (alert unexpected_message), e.g. early
    /// data beyond the max_early_data_size the server allowed.
    #[error("unexpected message: {0}")]
    UnexpectedMessage(&'static str),
    /// The sequence numbers a state export reserved for this live session are used up
    /// (export again, or update the keys).
    #[error("the sequence numbers reserved by a state export are used up")]
    ReserveUsed,
}

impl From<RngError> for Handshake13Error {
    fn from(e: RngError) -> Self {
        Self::KeyShare(KeyShareError::Rng(e))
    }
}

/// A finished handshake: application data in epoch 3 both ways, later epochs after KeyUpdates
/// (key_update.rs).
pub struct Established13 {
    pub(super) alg: AeadAlg,
    pub(super) send: Protection13,
    pub(super) recv: Protection13,
    pub(super) next_send: u64,
    pub(super) next_recv: u64,
    /// The traffic secrets of the current epochs, for the next KeyUpdate.
    pub(super) send_secret: Secret<HASH_LEN>,
    pub(super) recv_secret: Secret<HASH_LEN>,
    pub(super) send_epoch: u64,
    pub(super) recv_epoch: u64,
    /// The previous receive epoch, kept for records reordered across a KeyUpdate.
    pub(super) prev_recv: Option<(Protection13, u64, ReplayWindow)>,
    /// Records of the current receive epoch seen (RFC 9147 §4.5.1).
    pub(super) replay: ReplayWindow,
    /// After a state export: the first sequence number the export took (this live session
    /// may not send from there on in this epoch, export.rs).
    pub(super) reserved_until: Option<u64>,
    /// After an import: records below this number carry the 16-bit sequence number, so that
    /// the peer can place them after the jump over the reservation (RFC 9147 §4.2.2).
    pub(super) long_seq_until: u64,
    /// message_seq of our next and the peer's next post-handshake message.
    pub(super) next_msg_seq: u16,
    pub(super) peer_msg_seq: u16,
    /// Our KeyUpdate waiting for its ACK (new keys are used only after it).
    pub(super) pending_update: Option<RecordNumber>,
    /// The peer's post-handshake messages, whole or in fragments (key_update.rs), and the
    /// records that carried pieces of the next one (its ACK names them all).
    pub(super) post: Reassembler<u8>,
    pub(super) post_records: Vec<RecordNumber>,
    /// The negotiated suite.
    pub suite: u16,
    /// The negotiated (EC)DHE group; `None` in psk_ke.
    pub group: Option<u16>,
    /// Whether this is the client's side (only a client takes a NewSessionTicket).
    pub is_client: bool,
    /// The Connection IDs, if negotiated.
    pub cids: Cids,
    /// The client's resumption_master_secret, for the server's tickets.
    pub(super) resumption: Option<Secret<HASH_LEN>>,
    /// Whether the handshake resumed from a ticket.
    pub resumed: bool,
    /// The client's: whether the server took the 0-RTT data of our ClientHello; `None` when
    /// the ClientHello carried none.
    pub early_data_accepted: Option<bool>,
    /// Tickets this server sent on the session (each gets its own nonce).
    pub(super) tickets_sent: u8,
}

impl Established13 {
    /// Epoch 3 with the application traffic secrets; message_seq continues after the
    /// handshake's messages of each side.
    pub(super) fn new(
        (is_client, cids): (bool, Cids),
        alg: AeadAlg,
        (suite, group): (u16, Option<u16>),
        (send_secret, recv_secret): (Secret<HASH_LEN>, Secret<HASH_LEN>),
        next_msg_seq: u16,
        peer_msg_seq: u16,
    ) -> Self {
        Self {
            alg,
            send: Protection13::new(alg, &TrafficKeys::from_secret(P, &send_secret), 3),
            recv: Protection13::new(alg, &TrafficKeys::from_secret(P, &recv_secret), 3),
            next_send: 0,
            next_recv: 0,
            send_secret,
            recv_secret,
            send_epoch: 3,
            recv_epoch: 3,
            prev_recv: None,
            replay: ReplayWindow::default(),
            reserved_until: None,
            long_seq_until: 0,
            next_msg_seq,
            peer_msg_seq,
            pending_update: None,
            post: Reassembler::starting_at(peer_msg_seq),
            post_records: Vec::new(),
            suite,
            group,
            is_client,
            cids,
            resumption: None,
            resumed: false,
            early_data_accepted: None,
            tickets_sent: 0,
        }
    }
}

pub(super) fn alg_of(suite: u16) -> Option<AeadAlg> {
    SUITES.iter().find(|(s, _)| *s == suite).map(|(_, a)| *a)
}

/// `body` as a transcript message (4-byte header).
pub(super) fn tls_message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 4);
    m.push(msg_type);
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    m
}

/// What stands for the first ClientHello in the transcript after a HelloRetryRequest
/// (RFC 8446 §4.4.1): `message_hash`, its length, Hash(ClientHello1).
pub(super) fn message_hash(hello_hash: &[u8; HASH_LEN]) -> Vec<u8> {
    tls_message(MESSAGE_HASH, hello_hash)
}

/// `body` as a DTLS handshake message (12-byte header, unfragmented).
pub(super) fn dtls_message(msg_type: u8, message_seq: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 12);
    m.push(msg_type);
    put_u24(&mut m, body.len() as u32);
    put_u16(&mut m, message_seq);
    put_u24(&mut m, 0);
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    m
}

/// A plaintext record of epoch 0 (DTLSPlaintext, RFC 9147 §4).
pub(super) fn plaintext_record(seq: u64, fragment: &[u8], out: &mut Vec<u8>) {
    out.push(HANDSHAKE);
    put_u16(out, LEGACY_VERSION);
    put_u16(out, 0);
    out.extend_from_slice(&seq.to_be_bytes()[2..]);
    put_vec16(out, fragment);
}

/// One handshake message in an epoch-0 record at the start of a datagram.
pub(crate) struct Plaintext<'a> {
    /// The record's sequence number (a stateless server answers with the same one).
    pub record_seq: u64,
    pub msg_type: u8,
    pub message_seq: u16,
    pub body: &'a [u8],
    /// The datagram's records after this one.
    pub rest: &'a [u8],
}

/// An epoch-0 handshake record at the start of a datagram: (its sequence number, its content,
/// the datagram's records after it).
pub(crate) fn parse_plaintext_record(datagram: &[u8]) -> Result<(u64, &[u8], &[u8]), WireError> {
    let mut r = Reader::new(datagram);
    if r.u8(Field::RecordType)? != HANDSHAKE {
        return Err(WireError::Invalid(Field::RecordType));
    }
    r.u16(Field::RecordVersion)?;
    if r.u16(Field::RecordEpoch)? != 0 {
        return Err(WireError::Invalid(Field::RecordEpoch));
    }
    let record_seq = r.u48(Field::RecordSeq)?;
    let content = r.vec16(Field::RecordLength)?;
    Ok((record_seq, content, r.rest()))
}

/// The handshake message of the epoch-0 record that starts `datagram`.
pub(crate) fn parse_plaintext(datagram: &[u8]) -> Result<Plaintext<'_>, WireError> {
    let (record_seq, fragment, rest) = parse_plaintext_record(datagram)?;
    let (msg_type, message_seq, body, after) = parse_dtls_message_any(fragment)?;
    if !after.is_empty() {
        return Err(WireError::Invalid(Field::HandshakeLength));
    }
    Ok(Plaintext {
        record_seq,
        msg_type,
        message_seq,
        body,
        rest,
    })
}

/// A handshake message read from a record: (type, message_seq, body, what follows it).
pub(super) type DtlsMessage<'a> = (u8, u16, &'a [u8], &'a [u8]);

/// The first unfragmented DTLS handshake message in `m`.
pub(super) fn parse_dtls_message_any(m: &[u8]) -> Result<DtlsMessage<'_>, WireError> {
    let mut r = Reader::new(m);
    let t = r.u8(Field::HandshakeType)?;
    let len = r.u24(Field::HandshakeLength)? as usize;
    let seq = r.u16(Field::MessageSeq)?;
    if r.u24(Field::FragmentOffset)? != 0 || r.u24(Field::FragmentLength)? as usize != len {
        return Err(WireError::Invalid(Field::FragmentLength));
    }
    let body = r.take(len, Field::HandshakeLength)?;
    Ok((t, seq, body, r.rest()))
}

/// One unfragmented DTLS handshake message with message_seq `seq`: (type, body). The
/// message_seq is not in the transcript (RFC 9147 §5.2), so it is checked here.
pub(super) fn parse_dtls_message(m: &[u8], seq: u16) -> Result<(u8, &[u8]), WireError> {
    let (t, got, body, rest) = parse_dtls_message_any(m)?;
    if got != seq {
        return Err(WireError::Invalid(Field::MessageSeq));
    }
    if !rest.is_empty() {
        return Err(WireError::Invalid(Field::HandshakeLength));
    }
    Ok((t, body))
}

impl Established13 {
    /// Seals one record of `content_type` as a datagram of its own with the next sequence
    /// number: (that number, the datagram).
    pub(super) fn seal_record(
        &mut self,
        content_type: u8,
        body: &[u8],
    ) -> Result<(u64, Vec<u8>), Handshake13Error> {
        let seq = self.next_send;
        if self.reserved_until.is_some_and(|r| seq >= r) {
            return Err(Handshake13Error::ReserveUsed);
        }
        let form = if seq < self.long_seq_until {
            LAST_LONG
        } else {
            LAST
        };
        let mut out = Vec::with_capacity(body.len() + 24);
        self.send.seal(
            seq,
            content_type,
            body,
            self.cids.send_cid(),
            form,
            &mut out,
        )?;
        self.next_send += 1;
        Ok((seq, out))
    }

    /// An ACK record of `numbers` (a retransmitted last flight is ACKed again).
    pub fn ack(&mut self, numbers: &[RecordNumber]) -> Result<Vec<u8>, Handshake13Error> {
        let mut body = Vec::with_capacity(2 + 16 * numbers.len());
        ack::encode(numbers, &mut body);
        Ok(self.seal_record(ack::CONTENT_TYPE_ACK, &body)?.1)
    }

    /// A NewSessionTicket from the server (RFC 8446 §4.6.1): a ticket of `issuer` the client
    /// can resume with instead of the external PSK, until the ticket's lifetime.
    pub fn new_session_ticket(
        &mut self,
        issuer: &super::issuer::TicketIssuer,
        now_secs: u64,
        rng: &dyn crate::rng::DtlsRng,
    ) -> Result<Vec<u8>, Handshake13Error> {
        let origin = super::issuer::TicketOrigin::default();
        self.new_session_ticket_for(issuer, &origin, now_secs, rng)?
            .ok_or(Handshake13Error::Config("no ticket for this session"))
    }

    /// [`Self::new_session_ticket`] for a session descending from `origin` (its external PSK
    /// identity and that key's expiry, carried in the ticket); `None`: no ticket for it (see
    /// [`super::issuer::TicketIssuer::issue`]).
    pub fn new_session_ticket_for(
        &mut self,
        issuer: &super::issuer::TicketIssuer,
        origin: &super::issuer::TicketOrigin,
        now_secs: u64,
        rng: &dyn crate::rng::DtlsRng,
    ) -> Result<Option<Vec<u8>>, Handshake13Error> {
        let resumption = match (&self.resumption, self.is_client) {
            (Some(r), false) => r.clone(),
            _ => return Err(Handshake13Error::Config("only a server sends tickets")),
        };
        let Some(body) = issuer.issue(
            &resumption,
            self.suite,
            self.tickets_sent,
            origin,
            now_secs,
            rng,
        )?
        else {
            return Ok(None);
        };
        let msg = dtls_message(NEW_SESSION_TICKET, self.next_msg_seq, &body);
        let (_, out) = self.seal_record(HANDSHAKE, &msg)?;
        self.next_msg_seq = self.next_msg_seq.wrapping_add(1);
        self.tickets_sent = self.tickets_sent.wrapping_add(1);
        Ok(Some(out))
    }

    /// Seals application data as one datagram (the shortest header: no length).
    pub fn seal(&mut self, data: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        Ok(self.seal_record(APPLICATION_DATA, data)?.1)
    }

    /// A close_notify alert (RFC 8446 §6.1): the last record we send on this session. Level
    /// warning, as RFC 8446 has close_notify sent (the level is ignored in TLS 1.3).
    pub fn close_notify(&mut self) -> Result<Vec<u8>, Handshake13Error> {
        Ok(self.seal_record(ALERT, &[1, CLOSE_NOTIFY])?.1)
    }

    /// (receive epoch, next expected record number): grows with each authenticated record newer
    /// than all before it, so a caller can tell such a record (RFC 9146 §6: only it may move
    /// the peer's address).
    pub fn receive_mark(&self) -> (u64, u64) {
        (self.recv_epoch, self.next_recv)
    }

    /// Opens one datagram of application data.
    pub fn open(&mut self, datagram: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        let (o, _) = self
            .recv
            .open(datagram, self.cids.recv_len(), self.next_recv)?;
        if !self.replay.check(o.seq) {
            return Err(RecordError13::Replay.into());
        }
        self.replay.mark(o.seq);
        if o.content_type != APPLICATION_DATA {
            return Err(WireError::Invalid(Field::ContentType).into());
        }
        self.next_recv = self.next_recv.max(o.seq + 1);
        Ok(o.content)
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
pub(super) mod tests;
