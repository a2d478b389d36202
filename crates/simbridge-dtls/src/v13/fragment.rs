//! Handshake messages that come in fragments (RFC 9147 §5.5: a receiver MUST buffer the
//! fragments of the next expected message until it has all of it). Ours never fragment —
//! every message of a PSK handshake fits a datagram — but a peer behind a small MTU may.
//!
//! Taken in pieces: the server's ServerHello (or HelloRetryRequest), EncryptedExtensions and
//! Finished on the client, and post-handshake messages (NewSessionTicket, KeyUpdate) on both
//! sides. The reassembly is the DTLS 1.2 one (`crate::reassembly`, with its memory bounds),
//! keyed by the wire type byte. Not taken in pieces: a ClientHello (the server answers it
//! without keeping state, as OpenSSL's DTLSv1_listen does; a fragmented one gets no answer)
//! and the client's Finished (32 bytes: a fragment of it is refused as malformed).

use super::handshake::{ENCRYPTED_EXTENSIONS, FINISHED, NEW_SESSION_TICKET, SERVER_HELLO};
use super::header::SeqLen;
use super::key_schedule::HASH_LEN;
use super::key_update::KEY_UPDATE;
use super::protect::HeaderForm;
use crate::reassembly::{FragmentStatus, MAX_TICKET_LEN, Piece, Reassembler};
use crate::wire::codec::{Reader, put_u16, put_u24};
use crate::wire::handshake::parse_fragment_rest;
use crate::wire::{Field, WireError};

/// A record followed by others in its datagram carries its length.
pub const WITH_LENGTH: HeaderForm = HeaderForm {
    seq_len: SeqLen::One,
    with_length: true,
};

/// Bytes one reassembler may hold in partial messages (the largest message we take, a
/// NewSessionTicket with a ticket of [`MAX_TICKET_LEN`], fits).
pub const ROOM: usize = 4096;

/// Largest body a DTLS 1.3 handshake message of type `t` may claim when the client (`client`)
/// or the server receives it. Types that side never takes get a small bound: the handshake
/// still sees them (and refuses them) without their holding memory.
pub fn max_len(t: u8, client: bool) -> usize {
    match (t, client) {
        // fixed fields (40), a key share (P-256: 69), a cookie, a CID, the other extensions
        (SERVER_HELLO, true) => 2048,
        (ENCRYPTED_EXTENSIONS, true) => 1024,
        (FINISHED, _) => HASH_LEN,
        // lifetime, age_add, nonce<0..255>, ticket<1..2^16-1>, extensions (early_data)
        (NEW_SESSION_TICKET, true) => 4 + 4 + 1 + 255 + 2 + MAX_TICKET_LEN + 2 + 64,
        (KEY_UPDATE, _) => 1,
        _ => 64,
    }
}

/// One handshake fragment from the front of `m` (a record's content): the fragment and what
/// follows it. `fragment_offset + fragment_length` must not pass the message's length.
pub fn parse(m: &[u8]) -> Result<(Piece<'_, u8>, &[u8]), WireError> {
    let mut r = Reader::new(m);
    let msg_type = r.u8(Field::HandshakeType)?;
    let (length, message_seq, offset, body) = parse_fragment_rest(&mut r)?;
    let piece = Piece {
        msg_type,
        length,
        message_seq,
        offset,
        body,
    };
    Ok((piece, r.rest()))
}

/// A handshake message of type `t` and sequence `seq` as fragments of at most `max` body
/// bytes each (at least one byte; one empty fragment for an empty body), headers included.
pub fn split(t: u8, seq: u16, body: &[u8], max: usize) -> Vec<Vec<u8>> {
    let max = max.max(1);
    let mut out = Vec::with_capacity(body.len() / max + 1);
    let mut offset = 0;
    loop {
        let end = (offset + max).min(body.len());
        let mut m = Vec::with_capacity(12 + end - offset);
        m.push(t);
        put_u24(&mut m, body.len() as u32);
        put_u16(&mut m, seq);
        put_u24(&mut m, offset as u32);
        put_u24(&mut m, (end - offset) as u32);
        m.extend_from_slice(body.get(offset..end).unwrap_or_default());
        out.push(m);
        offset = end;
        if offset >= body.len() {
            return out;
        }
    }
}

/// hello_retry_request, a TLS 1.3 draft's message type, reserved since RFC 8446 (§4).
const HELLO_RETRY_REQUEST_RESERVED: u8 = 6;

/// The type of a fragment of the server's answer to a ClientHello: wolfSSL 5.9 labels the
/// fragments of its HelloRetryRequest `hello_retry_request` (6), its internal name, while its
/// unfragmented HelloRetryRequest and its transcript use server_hello (RFC 8446 §4.1.4), so
/// those fragments are taken as server_hello: the transcript, and so the Finished, check the
/// message as any other ServerHello.
pub fn answer_type(t: u8) -> u8 {
    if t == HELLO_RETRY_REQUEST_RESERVED {
        SERVER_HELLO
    } else {
        t
    }
}

/// Feeds every fragment of a handshake record's content to `into` (`client`: the side
/// receiving). Fragments the reassembler drops (old, too far ahead, too large, inconsistent)
/// are dropped here too; a malformed fragment header fails. Returns whether any fragment was
/// taken.
pub fn absorb(
    into: &mut Reassembler<u8>,
    content: &[u8],
    epoch: u16,
    client: bool,
) -> Result<bool, WireError> {
    absorb_as(into, content, epoch, client, |t| t)
}

/// [`absorb`], taking each fragment's type as `retype` says.
pub fn absorb_as(
    into: &mut Reassembler<u8>,
    mut content: &[u8],
    epoch: u16,
    client: bool,
    retype: impl Fn(u8) -> u8,
) -> Result<bool, WireError> {
    let mut took = false;
    while !content.is_empty() {
        let (mut piece, rest) = parse(content)?;
        piece.msg_type = retype(piece.msg_type);
        let room = ROOM.saturating_sub(into.buffered());
        let status = into.insert_piece(&piece, epoch, max_len(piece.msg_type, client), room);
        took |= status == FragmentStatus::Accepted;
        content = rest;
    }
    Ok(took)
}

#[cfg(test)]
#[path = "fragment_tests.rs"]
mod tests;
