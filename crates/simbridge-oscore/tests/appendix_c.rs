//! RFC 8613 Appendix C test vectors, byte-exact. Every hex string below is copied from RFC 8613
//! Appendix C (the section named beside it): key derivation (C.1–C.3, with the HKDF `info`
//! values, keys, Common IV and the nonces for partial IV 0), and the protected messages
//! (C.4–C.8: requests from the client, responses from the server).

use simbridge_oscore::coap::Message;
use simbridge_oscore::context::{ContextParams, SecurityContext, hkdf_info};
use simbridge_oscore::cose;
use simbridge_oscore::persist::SenderSeq;
use simbridge_oscore::protect::{self, RequestBinding, ResponsePiv};
use simbridge_oscore::replay::ReplayWindow;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// RFC 8613 Appendix C.1–C.3: the common inputs.
const MASTER_SECRET: &str = "0102030405060708090a0b0c0d0e0f10";
const MASTER_SALT: &str = "9e7ca92223786340";
const ID_CONTEXT: &str = "37cbf3210017a2d3";

struct Derivation {
    name: &'static str,
    salt: bool,
    id_context: bool,
    sender_id: &'static str,
    recipient_id: &'static str,
    info_sender: &'static str,
    info_recipient: &'static str,
    info_iv: &'static str,
    sender_key: &'static str,
    recipient_key: &'static str,
    common_iv: &'static str,
    sender_nonce: &'static str,
    recipient_nonce: &'static str,
}

const DERIVATIONS: &[Derivation] = &[
    // RFC 8613 Appendix C.1.1 (client, with Master Salt)
    Derivation {
        name: "C.1.1",
        salt: true,
        id_context: false,
        sender_id: "",
        recipient_id: "01",
        info_sender: "8540f60a634b657910",
        info_recipient: "854101f60a634b657910",
        info_iv: "8540f60a6249560d",
        sender_key: "f0910ed7295e6ad4b54fc793154302ff",
        recipient_key: "ffb14e093c94c9cac9471648b4f98710",
        common_iv: "4622d4dd6d944168eefb54987c",
        sender_nonce: "4622d4dd6d944168eefb54987c",
        recipient_nonce: "4722d4dd6d944169eefb54987c",
    },
    // RFC 8613 Appendix C.1.2 (server, with Master Salt)
    Derivation {
        name: "C.1.2",
        salt: true,
        id_context: false,
        sender_id: "01",
        recipient_id: "",
        info_sender: "854101f60a634b657910",
        info_recipient: "8540f60a634b657910",
        info_iv: "8540f60a6249560d",
        sender_key: "ffb14e093c94c9cac9471648b4f98710",
        recipient_key: "f0910ed7295e6ad4b54fc793154302ff",
        common_iv: "4622d4dd6d944168eefb54987c",
        sender_nonce: "4722d4dd6d944169eefb54987c",
        recipient_nonce: "4622d4dd6d944168eefb54987c",
    },
    // RFC 8613 Appendix C.2.1 (client, without Master Salt)
    Derivation {
        name: "C.2.1",
        salt: false,
        id_context: false,
        sender_id: "00",
        recipient_id: "01",
        info_sender: "854100f60a634b657910",
        info_recipient: "854101f60a634b657910",
        info_iv: "8540f60a6249560d",
        sender_key: "321b26943253c7ffb6003b0b64d74041",
        recipient_key: "e57b5635815177cd679ab4bcec9d7dda",
        common_iv: "be35ae297d2dace910c52e99f9",
        sender_nonce: "bf35ae297d2dace910c52e99f9",
        recipient_nonce: "bf35ae297d2dace810c52e99f9",
    },
    // RFC 8613 Appendix C.2.2 (server, without Master Salt)
    Derivation {
        name: "C.2.2",
        salt: false,
        id_context: false,
        sender_id: "01",
        recipient_id: "00",
        info_sender: "854101f60a634b657910",
        info_recipient: "854100f60a634b657910",
        info_iv: "8540f60a6249560d",
        sender_key: "e57b5635815177cd679ab4bcec9d7dda",
        recipient_key: "321b26943253c7ffb6003b0b64d74041",
        common_iv: "be35ae297d2dace910c52e99f9",
        sender_nonce: "bf35ae297d2dace810c52e99f9",
        recipient_nonce: "bf35ae297d2dace910c52e99f9",
    },
    // RFC 8613 Appendix C.3.1 (client, with ID Context)
    Derivation {
        name: "C.3.1",
        salt: true,
        id_context: true,
        sender_id: "",
        recipient_id: "01",
        info_sender: "85404837cbf3210017a2d30a634b657910",
        info_recipient: "8541014837cbf3210017a2d30a634b657910",
        info_iv: "85404837cbf3210017a2d30a6249560d",
        sender_key: "af2a1300a5e95788b356336eeecd2b92",
        recipient_key: "e39a0c7c77b43f03b4b39ab9a268699f",
        common_iv: "2ca58fb85ff1b81c0b7181b85e",
        sender_nonce: "2ca58fb85ff1b81c0b7181b85e",
        recipient_nonce: "2da58fb85ff1b81d0b7181b85e",
    },
    // RFC 8613 Appendix C.3.2 (server, with ID Context)
    Derivation {
        name: "C.3.2",
        salt: true,
        id_context: true,
        sender_id: "01",
        recipient_id: "",
        info_sender: "8541014837cbf3210017a2d30a634b657910",
        info_recipient: "85404837cbf3210017a2d30a634b657910",
        info_iv: "85404837cbf3210017a2d30a6249560d",
        sender_key: "e39a0c7c77b43f03b4b39ab9a268699f",
        recipient_key: "af2a1300a5e95788b356336eeecd2b92",
        common_iv: "2ca58fb85ff1b81c0b7181b85e",
        sender_nonce: "2da58fb85ff1b81d0b7181b85e",
        recipient_nonce: "2ca58fb85ff1b81c0b7181b85e",
    },
];

fn context(d: &Derivation, seq: u64) -> SecurityContext {
    let secret = h(MASTER_SECRET);
    let salt = h(MASTER_SALT);
    let idc = h(ID_CONTEXT);
    let sender = h(d.sender_id);
    let recipient = h(d.recipient_id);
    SecurityContext::with_state(
        &ContextParams {
            master_secret: &secret,
            master_salt: d.salt.then_some(salt.as_slice()),
            sender_id: &sender,
            recipient_id: &recipient,
            id_context: d.id_context.then_some(idc.as_slice()),
        },
        SenderSeq::volatile(seq),
        ReplayWindow::default(),
    )
    .unwrap()
}

fn by_name(name: &str) -> &'static Derivation {
    DERIVATIONS.iter().find(|d| d.name == name).unwrap()
}

#[test]
fn key_derivation_c1_c2_c3() {
    for d in DERIVATIONS {
        let ctx = context(d, 0);
        let idc = h(ID_CONTEXT);
        let idc = d.id_context.then_some(idc.as_slice());
        assert_eq!(
            hkdf_info(&h(d.sender_id), idc, "Key", 16),
            h(d.info_sender),
            "{}",
            d.name
        );
        assert_eq!(
            hkdf_info(&h(d.recipient_id), idc, "Key", 16),
            h(d.info_recipient),
            "{}",
            d.name
        );
        assert_eq!(hkdf_info(&[], idc, "IV", 13), h(d.info_iv), "{}", d.name);
        assert_eq!(ctx.sender_key().as_slice(), h(d.sender_key), "{}", d.name);
        assert_eq!(
            ctx.recipient_key().as_slice(),
            h(d.recipient_key),
            "{}",
            d.name
        );
        assert_eq!(ctx.common_iv().as_slice(), h(d.common_iv), "{}", d.name);
        // The nonces of Appendix C.1–C.3 are for partial IV 0.
        assert_eq!(
            ctx.nonce(ctx.sender_id(), &[0]).unwrap().as_slice(),
            h(d.sender_nonce),
            "{}",
            d.name
        );
        assert_eq!(
            ctx.nonce(ctx.recipient_id(), &[0]).unwrap().as_slice(),
            h(d.recipient_nonce),
            "{}",
            d.name
        );
    }
}

struct RequestVector {
    name: &'static str,
    client: &'static str,
    server: &'static str,
    unprotected: &'static str,
    aad: &'static str,
    nonce: &'static str,
    protected: &'static str,
}

const REQUESTS: &[RequestVector] = &[
    // RFC 8613 Appendix C.4 (request, client; context C.1.1, sequence number 20)
    RequestVector {
        name: "C.4",
        client: "C.1.1",
        server: "C.1.2",
        unprotected: "44015d1f00003974396c6f63616c686f737483747631",
        aad: "8368456e63727970743040488501810a40411440",
        nonce: "4622d4dd6d944168eefb549868",
        protected: "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e",
    },
    // RFC 8613 Appendix C.5 (request, client, without Master Salt; context C.2.1, seq 20)
    RequestVector {
        name: "C.5",
        client: "C.2.1",
        server: "C.2.2",
        unprotected: "440171c30000b932396c6f63616c686f737483747631",
        aad: "8368456e63727970743040498501810a4100411440",
        nonce: "bf35ae297d2dace910c52e99ed",
        protected: "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0",
    },
    // RFC 8613 Appendix C.6 (request, client, with ID Context; context C.3.1, seq 20). The
    // protected message is the header, Uri-Host, the OSCORE option "19140837cbf3210017a2d3"
    // and the ciphertext "72cd7273fd331ac45cffbe55c3" that C.6 lists; independent
    // implementations (aiocoap among them) produce exactly these bytes.
    RequestVector {
        name: "C.6",
        client: "C.3.1",
        server: "C.3.2",
        unprotected: "44012f8eef9bbf7a396c6f63616c686f737483747631",
        aad: "8368456e63727970743040488501810a40411440",
        nonce: "2ca58fb85ff1b81c0b7181b84a",
        protected: "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3",
    },
];

#[test]
fn protected_requests_c4_c5_c6() {
    for v in REQUESTS {
        let mut client = context(by_name(v.client), 20);
        let plain = Message::parse(&h(v.unprotected)).unwrap();
        let (outer, binding) = protect::protect_request(&mut client, &plain).unwrap();
        assert_eq!(hex::encode(outer.encode()), v.protected, "{}", v.name);
        assert_eq!(
            cose::aad(&binding.kid, &binding.partial_iv),
            h(v.aad),
            "{}",
            v.name
        );
        assert_eq!(
            client
                .nonce(&binding.kid, &binding.partial_iv)
                .unwrap()
                .as_slice(),
            h(v.nonce),
            "{}",
            v.name
        );

        // The server side verifies the RFC's bytes and gets the original request back.
        let mut server = context(by_name(v.server), 0);
        let got =
            protect::unprotect_request(&mut server, &Message::parse(&h(v.protected)).unwrap())
                .unwrap();
        assert_eq!(got.message, plain, "{}", v.name);
        assert_eq!(got.binding, binding, "{}", v.name);
        assert!(got.fresh);
    }
}

// RFC 8613 Appendix C.7 and C.8: the unprotected response to the C.4 request.
const RESPONSE: &str = "64455d1f00003974ff48656c6c6f20576f726c6421";
// RFC 8613 Appendix C.7: response without partial IV (request nonce reused).
const C7_PROTECTED: &str = "64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106";
// RFC 8613 Appendix C.8: response with partial IV (server sequence number 0).
const C8_PROTECTED: &str = "64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e";
const C8_NONCE: &str = "4722d4dd6d944169eefb54987c";

fn c4_binding() -> RequestBinding {
    // RFC 8613 Appendix C.4: request_kid h'', request_piv h'14'.
    RequestBinding {
        kid: vec![],
        partial_iv: vec![0x14],
    }
}

#[test]
fn protected_responses_c7_c8() {
    let plain = Message::parse(&h(RESPONSE)).unwrap();
    for (name, piv, want) in [
        ("C.7", ResponsePiv::FromRequest, C7_PROTECTED),
        ("C.8", ResponsePiv::New, C8_PROTECTED),
    ] {
        let mut server = context(by_name("C.1.2"), 0);
        let outer = protect::protect_response(&mut server, &plain, &c4_binding(), piv).unwrap();
        assert_eq!(hex::encode(outer.encode()), want, "{name}");

        let client = context(by_name("C.1.1"), 21);
        let got =
            protect::unprotect_response(&client, &Message::parse(&h(want)).unwrap(), &c4_binding())
                .unwrap();
        assert_eq!(got, plain, "{name}");
    }
    let server = context(by_name("C.1.2"), 0);
    assert_eq!(
        server.nonce(server.sender_id(), &[0]).unwrap().as_slice(),
        h(C8_NONCE)
    );
}

#[test]
fn c4_request_and_c7_response_as_one_exchange() {
    let mut client = context(by_name("C.1.1"), 20);
    let mut server = context(by_name("C.1.2"), 0);
    let (outer, binding) = protect::protect_request(
        &mut client,
        &Message::parse(&h(REQUESTS[0].unprotected)).unwrap(),
    )
    .unwrap();
    let req =
        protect::unprotect_request(&mut server, &Message::parse(&outer.encode()).unwrap()).unwrap();
    let resp = protect::protect_response(
        &mut server,
        &Message::parse(&h(RESPONSE)).unwrap(),
        &req.binding,
        ResponsePiv::FromRequest,
    )
    .unwrap();
    assert_eq!(hex::encode(resp.encode()), C7_PROTECTED);
    assert_eq!(
        protect::unprotect_response(&client, &resp, &binding).unwrap(),
        Message::parse(&h(RESPONSE)).unwrap()
    );
}
