//! OSCORE's bytes per message, measured with our OSCORE crate on the energy model's exchange: a
//! confirmable CoAP POST with a 4-byte token, a 1-byte Uri-Path and a 50-byte payload (11 B of
//! CoAP around it, the model's `coap_request_bytes`), answered by a piggybacked 2.04 Changed with
//! the same token and no payload (8 B, the model's `response_bytes`). The overhead is the
//! protected message's length minus the plain one's.
//!
//! The security context is the smallest RFC 8613 allows for a gateway: a 1-byte client Sender ID
//! and an empty server Sender ID (as in RFC 8613 Appendix C.1.1), no ID Context. Sequence
//! numbers below 256 (a 1-byte Partial IV); the response reuses the request's nonce (§8.3).

use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::context::{ContextParams, SecurityContext};
use simbridge_oscore::protect::{self, ResponsePiv};

/// The model's application payload per uplink message, B.
pub const PAYLOAD: usize = 50;

/// (request overhead, response overhead) in bytes, with both sides checking each other's
/// message, so a figure only comes from an exchange that verifies.
pub fn overhead() -> Result<(usize, usize), String> {
    let secret = [0x5a; 16];
    let salt = [0x9e; 8];
    let ctx = |sender: &[u8], recipient: &[u8]| {
        SecurityContext::derive(&ContextParams {
            master_secret: &secret,
            master_salt: Some(&salt),
            sender_id: sender,
            recipient_id: recipient,
            id_context: None,
        })
        .map_err(|e| format!("context: {e}"))
    };
    let mut client = ctx(&[0x01], &[])?;
    let mut server = ctx(&[], &[0x01])?;
    let token = [0xc0, 0xff, 0xee, 0x01];

    let mut request = Message::new(MessageType::Confirmable, code::POST, 0x1234);
    request
        .set_token(&token)
        .map_err(|e| format!("token: {e}"))?;
    request.add_option(number::URI_PATH, b"d");
    request.payload = vec![0x42; PAYLOAD];
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

    let mut response = Message::new(MessageType::Acknowledgement, code::CHANGED, 0x1234);
    response
        .set_token(&token)
        .map_err(|e| format!("token: {e}"))?;
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
    let protected_len = protected.encode().len();
    if plain_request != 4 + 4 + 2 + 1 + PAYLOAD || plain_response != 8 {
        return Err(format!(
            "the plain exchange is {plain_request} / {plain_response} B, not the model's 61 / 8 B"
        ));
    }
    Ok((wire.len() - plain_request, protected_len - plain_response))
}
