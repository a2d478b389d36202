//! The gateway's side of the OSCORE establishment exchange as CoAP messages, sans-IO: a
//! confirmable POST to the NAF's establishment resource carrying the request payload of
//! [`crate::gba::oscore`], retransmitted as RFC 7252 §4.2 says (ACK_TIMEOUT 2 s, random factor
//! 1.5, MAX_RETRANSMIT 4), and the 2.01 Created that ends it, piggybacked or separate.

use crate::gba::oscore::{Choices, EstablishRequest, OscoreKeying, ue_keying};
use crate::secret::SecretVec;
use simbridge_oscore::coap::{Message, MessageType, code, number};
use std::time::{Duration, Instant};

/// RFC 7252 §4.8 ACK_TIMEOUT.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// RFC 7252 §4.8 MAX_RETRANSMIT.
const MAX_RETRANSMIT: u32 = 4;
/// How long a separate response is waited for after an empty ACK.
const SEPARATE_WAIT: Duration = Duration::from_secs(60);
/// 2.01 Created.
const CREATED: u8 = 0x41;
/// CoAP Content-Format application/cbor (RFC 7049 / RFC 8949 registry value 60).
const CBOR: u8 = 60;

/// Why an establishment ended without a context.
#[derive(Debug, thiserror::Error)]
pub enum EstablishFailure {
    /// No answer after every retransmission.
    #[error("no answer from the server after {0} transmissions")]
    Timeout(u32),
    /// The server refused (its code and diagnostic).
    #[error("the server answered {code}{}", if .diagnostic.is_empty() { String::new() } else { format!(": \"{}\"", .diagnostic) })]
    Refused {
        /// CoAP code c.dd.
        code: String,
        /// The diagnostic payload, escaped.
        diagnostic: String,
    },
    /// The 2.01 payload is not a response of the exchange.
    #[error(transparent)]
    Payload(#[from] crate::gba::oscore::EstablishError),
}

/// The gateway's context material once the server answered.
pub struct Established {
    /// The keying for our context.
    pub keying: OscoreKeying,
    /// An empty ACK to send for a confirmable separate response.
    pub ack: Option<Vec<u8>>,
}

/// Inputs of one establishment.
pub struct EstablishParams<'a> {
    /// The B-TID of the GBA key.
    pub btid: &'a str,
    /// Ks_(ext_)NAF under the OSCORE Ua security protocol identifier.
    pub ks_naf: &'a [u8],
    /// Our nonce N1 (random, `choices.nonce_len` bytes).
    pub n1: &'a [u8],
    /// The message ID and token of the POST.
    pub mid: u16,
    /// Token of the POST.
    pub token: &'a [u8],
    /// The Sender ID we propose for the server (our Recipient ID).
    pub naf_sender_id: &'a [u8],
}

/// One establishment in flight.
pub struct Establishment {
    request_payload: Vec<u8>,
    wire: Vec<u8>,
    mid: u16,
    token: Vec<u8>,
    ks_naf: SecretVec,
    choices: Choices,
    sent: u32,
    timeout: Duration,
    next_at: Instant,
    acked: bool,
}

/// What the timer says.
#[derive(Debug, PartialEq, Eq)]
pub enum Timer {
    /// Nothing to do before this instant.
    Wait(Instant),
    /// Send the POST again now.
    Resend(Vec<u8>),
}

impl Establishment {
    /// Starts an establishment; the POST to send first is [`Self::datagram`]. `jitter` in
    /// [0, 1) picks the initial timeout in [ACK_TIMEOUT, 1.5 × ACK_TIMEOUT).
    pub fn start(p: &EstablishParams<'_>, choices: &Choices, jitter: f64, now: Instant) -> Self {
        let request_payload = EstablishRequest {
            ua_id: choices.ua_id,
            btid: p.btid.to_string(),
            n1: p.n1.to_vec(),
            naf_sender_id: p.naf_sender_id.to_vec(),
            input: None,
        }
        .encode();
        let mut m = Message::new(MessageType::Confirmable, code::POST, p.mid);
        // Tokens of ours are at most 8 bytes.
        let _ = m.set_token(p.token);
        for seg in choices.path.split('/').filter(|s| !s.is_empty()) {
            m.add_option(number::URI_PATH, seg.as_bytes());
        }
        m.add_option(number::CONTENT_FORMAT, &[CBOR]);
        m.payload = request_payload.clone();
        let timeout = ACK_TIMEOUT.mul_f64(1.0 + 0.5 * jitter.clamp(0.0, 0.999));
        Self {
            request_payload,
            wire: m.encode(),
            mid: p.mid,
            token: p.token.to_vec(),
            ks_naf: SecretVec::from(p.ks_naf),
            choices: choices.clone(),
            sent: 1,
            timeout,
            next_at: now + timeout,
            acked: false,
        }
    }

    /// The POST.
    pub fn datagram(&self) -> &[u8] {
        &self.wire
    }

    /// Retransmission: `Err` when every try is spent.
    pub fn on_timer(&mut self, now: Instant) -> Result<Timer, EstablishFailure> {
        if now < self.next_at {
            return Ok(Timer::Wait(self.next_at));
        }
        if self.acked || self.sent > MAX_RETRANSMIT {
            return Err(EstablishFailure::Timeout(self.sent));
        }
        self.sent += 1;
        self.timeout *= 2;
        self.next_at = now + self.timeout;
        Ok(Timer::Resend(self.wire.clone()))
    }

    /// When [`Self::on_timer`] wants to run next.
    pub fn deadline(&self) -> Instant {
        self.next_at
    }

    /// A datagram from the server: `Ok(None)` when it is not (yet) the answer.
    pub fn on_datagram(
        &mut self,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Option<Established>, EstablishFailure> {
        let Ok(m) = Message::parse(bytes) else {
            return Ok(None);
        };
        let ours = match m.mtype {
            MessageType::Acknowledgement | MessageType::Reset => m.message_id == self.mid,
            _ => m.token() == self.token.as_slice() && !m.is_request(),
        };
        if !ours {
            return Ok(None);
        }
        if m.mtype == MessageType::Reset {
            return Err(EstablishFailure::Refused {
                code: "RST".into(),
                diagnostic: String::new(),
            });
        }
        if m.code == 0 {
            // An empty ACK: the answer comes as a separate response.
            self.acked = true;
            self.next_at = now + SEPARATE_WAIT;
            return Ok(None);
        }
        if m.mtype != MessageType::Acknowledgement && m.token() != self.token.as_slice() {
            return Ok(None);
        }
        let ack = (m.mtype == MessageType::Confirmable)
            .then(|| Message::new(MessageType::Acknowledgement, 0, m.message_id).encode());
        if m.code != CREATED {
            return Err(EstablishFailure::Refused {
                code: super::relay::code_str(m.code),
                diagnostic: super::relay::escape(&m.payload),
            });
        }
        let keying = ue_keying(
            self.ks_naf.expose(),
            &self.request_payload,
            &m.payload,
            &self.choices,
        )?;
        Ok(Some(Established { keying, ack }))
    }

    /// Bytes of the POST (for the bytes-on-air counters).
    pub fn request_len(&self) -> usize {
        self.wire.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gba::oscore::{EstablishResponse, naf_keying};

    fn start(now: Instant) -> Establishment {
        Establishment::start(
            &EstablishParams {
                btid: "AAAA@bsf",
                ks_naf: &[3; 32],
                n1: &[1; 8],
                mid: 0x1234,
                token: &[9, 9],
                naf_sender_id: &[],
            },
            &Choices::default(),
            0.0,
            now,
        )
    }

    fn created(req: &[u8], mtype: MessageType, mid: u16) -> (Vec<u8>, Vec<u8>) {
        let post = Message::parse(req).unwrap();
        let payload = EstablishResponse {
            n2: vec![2; 8],
            ue_sender_id: vec![0x07],
        }
        .encode();
        let mut m = Message::new(mtype, CREATED, mid);
        m.set_token(post.token()).unwrap();
        m.payload = payload.clone();
        (m.encode(), payload)
    }

    #[test]
    fn a_piggybacked_created_gives_the_same_context_as_the_naf_derives() {
        let now = Instant::now();
        let mut e = start(now);
        let post = Message::parse(e.datagram()).unwrap();
        assert_eq!(post.option(number::URI_PATH), Some(&b"gba-oscore"[..]));
        assert_eq!(post.option(number::CONTENT_FORMAT), Some(&[CBOR][..]));
        let (answer, resp_payload) = created(e.datagram(), MessageType::Acknowledgement, 0x1234);
        let got = e.on_datagram(&answer, now).unwrap().unwrap();
        assert!(got.ack.is_none());
        let naf = naf_keying(&[3; 32], &post.payload, &resp_payload, &Choices::default()).unwrap();
        assert_eq!(
            got.keying.master_secret.expose(),
            naf.master_secret.expose()
        );
        assert_eq!(
            (got.keying.sender_id, got.keying.recipient_id),
            (naf.recipient_id, naf.sender_id)
        );
    }

    #[test]
    fn a_separate_response_is_acknowledged_and_accepted() {
        let now = Instant::now();
        let mut e = start(now);
        let empty = Message::new(MessageType::Acknowledgement, 0, 0x1234).encode();
        assert!(e.on_datagram(&empty, now).unwrap().is_none());
        assert!(
            matches!(
                e.on_timer(now + Duration::from_secs(10)).unwrap(),
                Timer::Wait(_)
            ),
            "no retransmission after the empty ACK"
        );
        let (answer, _) = created(e.datagram(), MessageType::Confirmable, 77);
        let got = e.on_datagram(&answer, now).unwrap().unwrap();
        assert_eq!(
            got.ack,
            Some(Message::new(MessageType::Acknowledgement, 0, 77).encode())
        );
    }

    #[test]
    fn retransmissions_double_and_end_after_max_retransmit() {
        let now = Instant::now();
        let mut e = start(now);
        let mut t = now;
        let mut gaps = Vec::new();
        loop {
            let at = e.deadline();
            gaps.push(at - t);
            t = at;
            match e.on_timer(at) {
                Ok(Timer::Resend(w)) => assert_eq!(w, e.datagram()),
                Ok(Timer::Wait(_)) => panic!("the deadline has come"),
                Err(EstablishFailure::Timeout(n)) => {
                    assert_eq!(n, 5);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let secs: Vec<u64> = gaps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32]);
    }

    #[test]
    fn a_refusal_names_the_code_and_the_diagnostic() {
        let now = Instant::now();
        let mut e = start(now);
        let post = Message::parse(e.datagram()).unwrap();
        let mut m = Message::new(MessageType::Acknowledgement, 0x83, 0x1234);
        m.set_token(post.token()).unwrap();
        m.payload = b"B-TID unknown".to_vec();
        let err = e.on_datagram(&m.encode(), now).err().unwrap().to_string();
        assert_eq!(err, "the server answered 4.03: \"B-TID unknown\"");
        // Another exchange's answer is not ours.
        let other = Message::new(MessageType::Acknowledgement, CREATED, 1).encode();
        assert!(start(now).on_datagram(&other, now).unwrap().is_none());
    }
}
