//! The CoAP codec and OSCORE verification (`simbridge_oscore::coap`, `::protect`) on an
//! arbitrary datagram, with fixed client and server contexts derived for each input (so a
//! crash reproduces from its input alone). Asserts: no panic; a parsed message encodes back to
//! the input (CoAP's option encoding is unique); verification as a request and as a response
//! only fails with an error; and a parsed message protected by the client (as a request) or
//! the server (as a response) verifies on the other side to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simbridge_oscore::coap::{number, Message};
use simbridge_oscore::context::{ContextParams, SecurityContext};
use simbridge_oscore::protect::{self, RequestBinding, ResponsePiv};
use simbridge_oscore::replay::ReplayWindow;
use simbridge_oscore::persist::SenderSeq;
use simbridge_oscore::Error;

const SECRET: [u8; 16] = [0x0f; 16];

fn ctx(sender: &[u8], recipient: &[u8], window: ReplayWindow) -> SecurityContext {
    SecurityContext::with_state(
        &ContextParams {
            master_secret: &SECRET,
            master_salt: Some(&[0x9e, 0x7c]),
            sender_id: sender,
            recipient_id: recipient,
            id_context: Some(&[0x37, 0xcb]),
        },
        SenderSeq::volatile(20),
        window,
    )
    .expect("fixed parameters derive")
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    assert_eq!(msg.encode(), data);

    // Verification of arbitrary input: errors only.
    let mut server = ctx(&[0x01], &[], ReplayWindow::default());
    let _ = protect::unprotect_request(&mut server, &msg);
    let mut restarted = ctx(&[0x01], &[], ReplayWindow::unknown());
    let _ = protect::unprotect_request(&mut restarted, &msg);
    let client = ctx(&[], &[0x01], ReplayWindow::default());
    let binding = RequestBinding {
        kid: vec![],
        partial_iv: vec![0x14],
    };
    let _ = protect::unprotect_response(&client, &msg, &binding);

    // Protect → verify round trips.
    let mut client = ctx(&[], &[0x01], ReplayWindow::default());
    let mut server = ctx(&[0x01], &[], ReplayWindow::default());
    match protect::protect_request(&mut client, &msg) {
        Ok((outer, binding)) => {
            let wire = Message::parse(&outer.encode()).expect("protected request parses");
            let got = protect::unprotect_request(&mut server, &wire).expect("request verifies");
            assert_eq!(got.message, msg);
            assert_eq!(got.binding, binding);
            let piv = if msg.option(number::OBSERVE).is_some() {
                ResponsePiv::New
            } else {
                ResponsePiv::FromRequest
            };
            let resp = protect::protect_response(&mut server, &msg, &got.binding, piv)
                .expect("response protects");
            let wire = Message::parse(&resp.encode()).expect("protected response parses");
            let back = protect::unprotect_response(&client, &wire, &binding)
                .expect("response verifies");
            assert_eq!(back, msg);
        }
        Err(Error::AlreadyProtected) => assert!(msg.option(number::OSCORE).is_some()),
        Err(e) => panic!("protect_request failed: {e}"),
    }
});
