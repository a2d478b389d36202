//! A DTLS 1.3 handshake with an external PSK in `psk_ke` mode (RFC 8446 §2.2 with RFC 9147's
//! records), sans-IO, one type per state, each consumed into the next:
//!
//! ```text
//! client: Client13::start ──ClientHello──▶ Server13::accept ──▶ ServerWaitFinished
//!         ClientWaitServer ◀──ServerHello, {EncryptedExtensions}, {Finished}──
//!         ──{Finished}──▶ ServerWaitFinished::finish ──▶ Established13 (both sides)
//! ```
//!
//! What it is not yet: no HelloRetryRequest or cookie, no `psk_dhe_ke`, no retransmission, ACKs
//! or fragmentation (each flight fits one datagram and the link is assumed lossless), no
//! Connection ID, no tickets. Those come on top of these states; docs/dtls13.md keeps the list.
//!
//! Records: the ClientHello and ServerHello go in DTLS 1.2-style plaintext records of epoch 0;
//! everything after in unified-header records, epoch 2 (handshake) and 3 (application data).

use super::ack::{self, RecordNumber};
use super::header::SeqLen;
use super::hello::{
    ClientHello13, DTLS13, EXT_PRE_SHARED_KEY, EXT_PSK_KEY_EXCHANGE_MODES, EXT_SUPPORTED_VERSIONS,
    LEGACY_VERSION, PskIdentity, verify_binder,
};
use super::key_schedule::{
    BinderKind, EarlySecret, HASH_LEN, HandshakeSecret, LabelPrefix, TrafficKeys, transcript_hash,
    verify_data,
};
use super::protect::{HeaderForm, Protection13, RecordError13};
use crate::secret::{Secret, SecretVec};
use crate::suite::AeadAlg;
use crate::wire::codec::{Reader, put_u16, put_u24, put_vec8, put_vec16};
use crate::wire::{Field, WireError};
use subtle::ConstantTimeEq;

pub(super) const P: LabelPrefix = LabelPrefix::Dtls13;
pub(super) const HANDSHAKE: u8 = 22;
pub(super) const APPLICATION_DATA: u8 = 23;
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const FINISHED: u8 = 20;
const FORM: HeaderForm = HeaderForm {
    seq_len: SeqLen::One,
    with_length: true,
};
/// The last record of a datagram leaves its length out.
pub(super) const LAST: HeaderForm = HeaderForm {
    seq_len: SeqLen::One,
    with_length: false,
};

/// TLS 1.3 suites this handshake offers, in the order of preference of a constrained device.
pub const SUITES: [(u16, AeadAlg); 3] = [
    (0x1305, AeadAlg::Aes128Ccm8),
    (0x1304, AeadAlg::Aes128Ccm),
    (0x1301, AeadAlg::Aes128Gcm),
];

/// Why a handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Handshake13Error {
    /// A message or record is malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A protected record did not open.
    #[error("handshake record: {0}")]
    Record(#[from] RecordError13),
    /// The peer offered nothing we can take (no DTLS 1.3, no common suite, no psk_ke).
    #[error("handshake failure: {0}")]
    Incompatible(&'static str),
    /// The PSK identity is not known.
    #[error("unknown PSK identity")]
    UnknownIdentity,
    /// A binder or Finished did not verify: the peers do not hold the same key.
    #[error("{0} did not verify")]
    BadMac(&'static str),
}

/// The client's configuration: one external PSK and the suites to offer.
pub struct ClientConfig13 {
    /// The PSK identity (for GBA, as in DTLS 1.2: `3GPP-bootstrapping.<B-TID>` or a B-TID).
    pub identity: Vec<u8>,
    /// The key (Ks_NAF under the TLS 1.3 Ua identifier).
    pub key: SecretVec,
    /// Suites to offer (TLS 1.3 code points, from [`SUITES`]).
    pub suites: Vec<u16>,
}

/// The client before its ClientHello.
pub struct Client13;

/// The client waiting for the server's flight.
pub struct ClientWaitServer {
    early: EarlySecret,
    transcript: Vec<u8>,
    suites: Vec<u16>,
}

/// The server, ready for ClientHellos.
pub struct Server13 {
    /// Suites the server accepts, in its order of preference.
    pub suites: Vec<u16>,
}

/// The server after its flight, waiting for the client's Finished.
pub struct ServerWaitFinished {
    alg: AeadAlg,
    client_hs: TrafficKeys,
    client_hs_secret: Secret<HASH_LEN>,
    transcript_to_server_finished: [u8; HASH_LEN],
    /// Application traffic secrets: (client, server).
    app: (Secret<HASH_LEN>, Secret<HASH_LEN>),
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
    pub(super) prev_recv: Option<(Protection13, u64)>,
    /// message_seq of our next and the peer's next post-handshake message.
    pub(super) next_msg_seq: u16,
    pub(super) peer_msg_seq: u16,
    /// Our KeyUpdate waiting for its ACK (new keys are used only after it).
    pub(super) pending_update: Option<RecordNumber>,
    /// The negotiated suite.
    pub suite: u16,
}

impl Established13 {
    /// Epoch 3 with the application traffic secrets; message_seq continues after the
    /// handshake's messages of each side.
    fn new(
        alg: AeadAlg,
        suite: u16,
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
            next_msg_seq,
            peer_msg_seq,
            pending_update: None,
            suite,
        }
    }
}

fn alg_of(suite: u16) -> Option<AeadAlg> {
    SUITES.iter().find(|(s, _)| *s == suite).map(|(_, a)| *a)
}

/// `body` as a transcript message (4-byte header).
fn tls_message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 4);
    m.push(msg_type);
    put_u24(&mut m, body.len() as u32);
    m.extend_from_slice(body);
    m
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
fn plaintext_record(seq: u64, fragment: &[u8], out: &mut Vec<u8>) {
    out.push(HANDSHAKE);
    put_u16(out, LEGACY_VERSION);
    put_u16(out, 0);
    out.extend_from_slice(&seq.to_be_bytes()[2..]);
    put_vec16(out, fragment);
}

/// The handshake message (message_seq 0) of one epoch-0 record: (type, body, rest of the
/// datagram).
fn parse_plaintext(datagram: &[u8]) -> Result<(u8, &[u8], &[u8]), WireError> {
    let mut r = Reader::new(datagram);
    if r.u8(Field::RecordType)? != HANDSHAKE {
        return Err(WireError::Invalid(Field::RecordType));
    }
    r.u16(Field::RecordVersion)?;
    if r.u16(Field::RecordEpoch)? != 0 {
        return Err(WireError::Invalid(Field::RecordEpoch));
    }
    r.u48(Field::RecordSeq)?;
    let fragment = r.vec16(Field::RecordLength)?;
    let rest = r.rest();
    let (t, body) = parse_dtls_message(fragment, 0)?;
    Ok((t, body, rest))
}

/// One unfragmented DTLS handshake message with message_seq `seq`: (type, body). The
/// message_seq is not in the transcript (RFC 9147 §5.2), so it is checked here.
pub(super) fn parse_dtls_message(m: &[u8], seq: u16) -> Result<(u8, &[u8]), WireError> {
    let mut r = Reader::new(m);
    let t = r.u8(Field::HandshakeType)?;
    let len = r.u24(Field::HandshakeLength)? as usize;
    if r.u16(Field::MessageSeq)? != seq {
        return Err(WireError::Invalid(Field::MessageSeq));
    }
    if r.u24(Field::FragmentOffset)? != 0 || r.u24(Field::FragmentLength)? as usize != len {
        return Err(WireError::Invalid(Field::FragmentLength));
    }
    let body = r.take(len, Field::HandshakeLength)?;
    r.finish(Field::HandshakeLength)?;
    Ok((t, body))
}

impl Client13 {
    /// The ClientHello datagram and the state waiting for the answer.
    pub fn start(config: &ClientConfig13, random: [u8; 32]) -> (ClientWaitServer, Vec<u8>) {
        let versions = [&[2u8][..], &DTLS13.to_be_bytes()].concat();
        let mut ch = ClientHello13 {
            random,
            session_id: Vec::new(),
            cipher_suites: config.suites.clone(),
            extensions: vec![
                (EXT_SUPPORTED_VERSIONS, versions),
                // psk_ke (0) only: no (EC)DHE
                (EXT_PSK_KEY_EXCHANGE_MODES, vec![1, 0]),
            ],
            psks: vec![(
                PskIdentity {
                    identity: config.identity.clone(),
                    obfuscated_ticket_age: 0,
                },
                Vec::new(),
            )],
        };
        let early = EarlySecret::new(P, Some(config.key.expose()));
        ch.bind(&[(&early, BinderKind::External)]);
        let body = ch.encode();
        let mut datagram = Vec::new();
        plaintext_record(0, &dtls_message(1, 0, &body), &mut datagram);
        (
            ClientWaitServer {
                early,
                transcript: tls_message(1, &body),
                suites: config.suites.clone(),
            },
            datagram,
        )
    }
}

/// ServerHello: (suite, selected identity).
fn parse_server_hello(body: &[u8]) -> Result<(u16, u16), WireError> {
    let mut r = Reader::new(body);
    if r.u16(Field::ServerVersion)? != LEGACY_VERSION {
        return Err(WireError::Invalid(Field::ServerVersion));
    }
    r.take(32, Field::Random)?;
    r.vec8(Field::SessionId)?;
    let suite = r.u16(Field::CipherSuite)?;
    if r.u8(Field::CompressionMethod)? != 0 {
        return Err(WireError::Invalid(Field::CompressionMethod));
    }
    let mut ext = Reader::new(r.vec16(Field::Extensions)?);
    r.finish(Field::ServerHello)?;
    let (mut version, mut selected) = (None, None);
    while !ext.is_empty() {
        let t = ext.u16(Field::ExtensionType)?;
        let mut d = Reader::new(ext.vec16(Field::ExtensionData)?);
        match t {
            EXT_SUPPORTED_VERSIONS if version.is_none() => {
                version = Some(d.u16(Field::ExtensionData)?)
            }
            EXT_PRE_SHARED_KEY if selected.is_none() => {
                selected = Some(d.u16(Field::ExtensionData)?)
            }
            EXT_SUPPORTED_VERSIONS | EXT_PRE_SHARED_KEY => {
                return Err(WireError::Invalid(Field::DuplicateExtension));
            }
            _ => return Err(WireError::Invalid(Field::ExtensionType)),
        }
        d.finish(Field::ExtensionData)?;
    }
    if version != Some(DTLS13) {
        return Err(WireError::Invalid(Field::ServerVersion));
    }
    Ok((
        suite,
        selected.ok_or(WireError::Invalid(Field::PskIdentities))?,
    ))
}

impl ClientWaitServer {
    /// The server's flight (one datagram); returns the client's Finished datagram and the
    /// established session.
    pub fn handle(mut self, datagram: &[u8]) -> Result<(Established13, Vec<u8>), Handshake13Error> {
        let (t, sh, rest) = parse_plaintext(datagram)?;
        if t != SERVER_HELLO {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let (suite, selected) = parse_server_hello(sh)?;
        if selected != 0 {
            return Err(Handshake13Error::Incompatible(
                "server selected a PSK not offered",
            ));
        }
        let alg = alg_of(suite)
            .filter(|_| self.suites.contains(&suite))
            .ok_or(Handshake13Error::Incompatible(
                "server chose a suite not offered",
            ))?;
        self.transcript
            .extend_from_slice(&tls_message(SERVER_HELLO, sh));
        let hs = self.early.into_handshake(None);
        let hello_hash = transcript_hash(&self.transcript);
        let (c_hs, s_hs) = (
            hs.client_traffic(&hello_hash),
            hs.server_traffic(&hello_hash),
        );
        let recv_hs = Protection13::new(alg, &TrafficKeys::from_secret(P, &s_hs), 2);
        // EncryptedExtensions, then Finished, each in its own record
        let (ee, rest) = recv_hs.open(rest, 0, 0)?;
        let (fin, rest) = recv_hs.open(rest, 0, 1)?;
        if !rest.is_empty() || ee.content_type != HANDSHAKE || fin.content_type != HANDSHAKE {
            return Err(WireError::Invalid(Field::RecordType).into());
        }
        let (t, ee_body) = parse_dtls_message(&ee.content, 1)?;
        if t != ENCRYPTED_EXTENSIONS || ee_body != [0, 0] {
            return Err(WireError::Invalid(Field::Extensions).into());
        }
        self.transcript.extend_from_slice(&tls_message(t, ee_body));
        let (t, verify) = parse_dtls_message(&fin.content, 2)?;
        if t != FINISHED {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let expected = verify_data(P, &s_hs, &transcript_hash(&self.transcript));
        if !bool::from(expected.ct_eq(verify)) {
            return Err(Handshake13Error::BadMac("server Finished"));
        }
        self.transcript.extend_from_slice(&tls_message(t, verify));
        let server_finished_hash = transcript_hash(&self.transcript);
        let client_verify = verify_data(P, &c_hs, &server_finished_hash);
        let send_hs = Protection13::new(alg, &TrafficKeys::from_secret(P, &c_hs), 2);
        let mut out = Vec::new();
        send_hs.seal(
            0,
            HANDSHAKE,
            &dtls_message(FINISHED, 1, &client_verify),
            None,
            LAST,
            &mut out,
        )?;
        let master = hs.into_master();
        let (c_ap, s_ap) = (
            master.client_traffic(&server_finished_hash),
            master.server_traffic(&server_finished_hash),
        );
        Ok((
            // client: ClientHello 0, Finished 1; server: ServerHello 0, EE 1, Finished 2
            Established13::new(alg, suite, (c_ap, s_ap), 2, 3),
            out,
        ))
    }
}

impl Server13 {
    /// A ClientHello datagram: the server's flight and the state waiting for the client's
    /// Finished. `key_for` returns the PSK of an identity (a GBA Ks_NAF), `None` if unknown.
    pub fn accept(
        &self,
        datagram: &[u8],
        random: [u8; 32],
        key_for: impl Fn(&[u8]) -> Option<SecretVec>,
    ) -> Result<(ServerWaitFinished, Vec<u8>), Handshake13Error> {
        let (t, body, rest) = parse_plaintext(datagram)?;
        if t != 1 || !rest.is_empty() {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let ch = ClientHello13::parse(body)?;
        if !ch.offers_dtls13() {
            return Err(Handshake13Error::Incompatible(
                "client does not offer DTLS 1.3",
            ));
        }
        let psk_ke = ch
            .extension(EXT_PSK_KEY_EXCHANGE_MODES)
            .and_then(|d| d.split_first())
            .is_some_and(|(&n, m)| usize::from(n) == m.len() && m.contains(&0));
        if !psk_ke {
            return Err(Handshake13Error::Incompatible(
                "client does not offer psk_ke",
            ));
        }
        let (suite, alg) = self
            .suites
            .iter()
            .find(|s| ch.cipher_suites.contains(s))
            .and_then(|s| alg_of(*s).map(|a| (*s, a)))
            .ok_or(Handshake13Error::Incompatible("no common cipher suite"))?;
        let (id, _) = ch
            .psks
            .first()
            .ok_or(Handshake13Error::Incompatible("no PSK offered"))?;
        let key = key_for(&id.identity).ok_or(Handshake13Error::UnknownIdentity)?;
        let early = EarlySecret::new(P, Some(key.expose()));
        if !verify_binder(body, &ch, 0, &early, BinderKind::External) {
            return Err(Handshake13Error::BadMac("PSK binder"));
        }
        let sh = server_hello(random, &ch.session_id, suite);
        let mut transcript = [tls_message(1, body), tls_message(SERVER_HELLO, &sh)].concat();
        let hs: HandshakeSecret = early.into_handshake(None);
        let hello_hash = transcript_hash(&transcript);
        let (c_hs, s_hs) = (
            hs.client_traffic(&hello_hash),
            hs.server_traffic(&hello_hash),
        );
        let send_hs = Protection13::new(alg, &TrafficKeys::from_secret(P, &s_hs), 2);
        let ee = [0u8, 0];
        transcript.extend_from_slice(&tls_message(ENCRYPTED_EXTENSIONS, &ee));
        let server_verify = verify_data(P, &s_hs, &transcript_hash(&transcript));
        transcript.extend_from_slice(&tls_message(FINISHED, &server_verify));
        let server_finished_hash = transcript_hash(&transcript);

        let mut out = Vec::new();
        plaintext_record(0, &dtls_message(SERVER_HELLO, 0, &sh), &mut out);
        send_hs.seal(
            0,
            HANDSHAKE,
            &dtls_message(ENCRYPTED_EXTENSIONS, 1, &ee),
            None,
            FORM,
            &mut out,
        )?;
        send_hs.seal(
            1,
            HANDSHAKE,
            &dtls_message(FINISHED, 2, &server_verify),
            None,
            LAST,
            &mut out,
        )?;
        let master = hs.into_master();
        let app = (
            master.client_traffic(&server_finished_hash),
            master.server_traffic(&server_finished_hash),
        );
        Ok((
            ServerWaitFinished {
                alg,
                client_hs: TrafficKeys::from_secret(P, &c_hs),
                client_hs_secret: c_hs,
                transcript_to_server_finished: server_finished_hash,
                app,
            },
            out,
        ))
    }
}

fn server_hello(random: [u8; 32], session_id: &[u8], suite: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    put_u16(&mut b, LEGACY_VERSION);
    b.extend_from_slice(&random);
    put_vec8(&mut b, session_id);
    put_u16(&mut b, suite);
    b.push(0);
    let mut ext = Vec::new();
    put_u16(&mut ext, EXT_SUPPORTED_VERSIONS);
    put_vec16(&mut ext, &DTLS13.to_be_bytes());
    put_u16(&mut ext, EXT_PRE_SHARED_KEY);
    put_vec16(&mut ext, &0u16.to_be_bytes());
    put_vec16(&mut b, &ext);
    b
}

impl ServerWaitFinished {
    /// The client's Finished datagram: the established session and the ACK of that Finished
    /// (RFC 9147 §5.8.3, §7: the client's last flight has no other answer, so the server ACKs
    /// it, in its newest epoch), or why not.
    pub fn finish(self, datagram: &[u8]) -> Result<(Established13, Vec<u8>), Handshake13Error> {
        let recv_hs = Protection13::new(self.alg, &self.client_hs, 2);
        let (fin, rest) = recv_hs.open(datagram, 0, 0)?;
        if !rest.is_empty() || fin.content_type != HANDSHAKE {
            return Err(WireError::Invalid(Field::RecordType).into());
        }
        let (t, verify) = parse_dtls_message(&fin.content, 1)?;
        if t != FINISHED {
            return Err(WireError::Invalid(Field::HandshakeType).into());
        }
        let expected = verify_data(
            P,
            &self.client_hs_secret,
            &self.transcript_to_server_finished,
        );
        if !bool::from(expected.ct_eq(verify)) {
            return Err(Handshake13Error::BadMac("client Finished"));
        }
        let suite = SUITES
            .iter()
            .find(|(_, a)| *a == self.alg)
            .map_or(0, |(s, _)| *s);
        let (c_ap, s_ap) = self.app;
        let mut up = Established13::new(self.alg, suite, (s_ap, c_ap), 3, 2);
        let ack = up.ack(&[RecordNumber {
            epoch: 2,
            seq: fin.seq,
        }])?;
        Ok((up, ack))
    }
}

impl Established13 {
    /// An ACK record of `numbers` (a retransmitted last flight is ACKed again).
    pub fn ack(&mut self, numbers: &[RecordNumber]) -> Result<Vec<u8>, Handshake13Error> {
        let mut body = Vec::with_capacity(2 + 16 * numbers.len());
        ack::encode(numbers, &mut body);
        let mut out = Vec::with_capacity(body.len() + 16);
        self.send.seal(
            self.next_send,
            ack::CONTENT_TYPE_ACK,
            &body,
            None,
            LAST,
            &mut out,
        )?;
        self.next_send += 1;
        Ok(out)
    }

    /// Seals application data as one datagram (the shortest header: no length).
    pub fn seal(&mut self, data: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        let mut out = Vec::with_capacity(data.len() + 16);
        self.send
            .seal(self.next_send, APPLICATION_DATA, data, None, LAST, &mut out)?;
        self.next_send += 1;
        Ok(out)
    }

    /// Opens one datagram of application data.
    pub fn open(&mut self, datagram: &[u8]) -> Result<Vec<u8>, Handshake13Error> {
        let (o, _) = self.recv.open(datagram, 0, self.next_recv)?;
        if o.content_type != APPLICATION_DATA {
            return Err(WireError::Invalid(Field::ContentType).into());
        }
        self.next_recv = self.next_recv.max(o.seq + 1);
        Ok(o.content)
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
