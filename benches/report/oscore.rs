//! OSCORE keyed from GBA, measured with our code on the energy model's exchange.
//!
//! Per key: the establishment exchange of `simbridge::gba::oscore` as CoAP messages — a
//! confirmable POST to the establishment path with a 4-byte token and the request payload (a
//! B-TID of the real form: base64 of a 16-byte RAND, `@`, the BSF's FQDN), answered by a
//! piggybacked 2.01 Created carrying the response payload. Both sides derive their keying, and
//! the OSCORE contexts made from it must protect and verify each other's messages.
//!
//! Per message: a confirmable CoAP POST with a 4-byte token, a 1-byte Uri-Path and a 50-byte
//! payload (11 B of CoAP around it, the model's `coap_request_bytes`), answered by a
//! piggybacked 2.04 Changed with the same token and no payload (8 B, the model's
//! `response_bytes`), protected under those contexts: the overhead is the protected message's
//! length minus the plain one's. The UE's sender ID is 1 byte, the NAF's empty (as in RFC 8613
//! Appendix C.1.1), no ID Context; sequence numbers below 256 (a 1-byte Partial IV); the
//! response reuses the request's nonce (§8.3).

use crate::support::oscore::{context, establish};
use simbridge::gba::oscore::Choices;
use simbridge_energy::perf::OscoreWire;
use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::context::SecurityContext;
use simbridge_oscore::protect::{self, ResponsePiv};

/// The model's application payload per uplink message, B.
pub const PAYLOAD: usize = 50;
const TOKEN: [u8; 4] = [0xc0, 0xff, 0xee, 0x01];

fn coap(mtype: MessageType, code: u8, payload: Vec<u8>) -> Result<Message, String> {
    let mut m = Message::new(mtype, code, 0x1234);
    m.set_token(&TOKEN).map_err(|e| format!("token: {e}"))?;
    m.payload = payload;
    Ok(m)
}

/// The establishment's UDP payload bytes (request, response) and the two contexts it keys.
fn exchange() -> Result<((usize, usize), SecurityContext, SecurityContext), String> {
    let choices = Choices::default();
    let (request, response, ue, naf) = establish(&[0x5c; 32]);
    let mut post = coap(MessageType::Confirmable, code::POST, request.clone())?;
    post.add_option(number::URI_PATH, choices.path.as_bytes());
    let created = coap(MessageType::Acknowledgement, CREATED, response.clone())?;
    let (up, down) = (post.encode(), created.encode());
    // what each side received is what the other sent
    let got_req = Message::parse(&up)
        .map_err(|e| format!("request: {e}"))?
        .payload;
    let got_resp = Message::parse(&down)
        .map_err(|e| format!("response: {e}"))?
        .payload;
    if got_req != request || got_resp != response {
        return Err("a payload changed on its way through CoAP".into());
    }
    Ok(((up.len(), down.len()), context(&ue), context(&naf)))
}

/// CoAP 2.01 Created.
const CREATED: u8 = 0x41;

/// OSCORE's figures: establishment bytes and per-message overhead, each side checking the
/// other's messages, so a figure only comes from an exchange that verifies.
pub fn measure() -> Result<OscoreWire, String> {
    let (establishment, mut client, mut server) = exchange()?;

    let mut request = coap(MessageType::Confirmable, code::POST, vec![0x42; PAYLOAD])?;
    request.add_option(number::URI_PATH, b"d");
    let plain_request = request.encode().len();
    let (wire, binding) =
        protect::protect_request(&mut client, &request).map_err(|e| format!("protect: {e}"))?;
    let wire = wire.encode();
    let parsed = Message::parse(&wire).map_err(|e| format!("parse: {e}"))?;
    let got = protect::unprotect_request(&mut server, &parsed)
        .map_err(|e| format!("unprotect request: {e}"))?;
    if got.message != request {
        return Err("the server's view of the request differs from what was sent".into());
    }

    let response = coap(MessageType::Acknowledgement, code::CHANGED, Vec::new())?;
    let plain_response = response.encode().len();
    let protected = protect::protect_response(
        &mut server,
        &response,
        &got.binding,
        ResponsePiv::FromRequest,
    )
    .map_err(|e| format!("protect response: {e}"))?;
    let back = protect::unprotect_response(&client, &protected, &binding)
        .map_err(|e| format!("unprotect response: {e}"))?;
    if back != response {
        return Err("the client's view of the response differs from what was sent".into());
    }
    if plain_request != 4 + 4 + 2 + 1 + PAYLOAD || plain_response != 8 {
        return Err(format!(
            "the plain exchange is {plain_request} / {plain_response} B, not the model's 61 / 8 B"
        ));
    }
    Ok(OscoreWire {
        establishment,
        overhead: (
            wire.len() - plain_request,
            protected.encode().len() - plain_response,
        ),
    })
}
