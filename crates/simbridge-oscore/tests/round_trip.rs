//! Protect → unprotect round trips through the wire encoding, and what verification refuses.

use simbridge_oscore::coap::{Message, MessageType, code, number};
use simbridge_oscore::context::{ContextParams, SecurityContext};
use simbridge_oscore::echo::{EchoGate, EchoVerdict};
use simbridge_oscore::persist::SenderSeq;
use simbridge_oscore::protect::{self, ResponsePiv};
use simbridge_oscore::replay::{ReplayError, ReplayWindow};
use simbridge_oscore::{Error, Field, WireError};

const SECRET: [u8; 16] = [0x5a; 16];
const SALT: [u8; 4] = [1, 2, 3, 4];

fn params<'a>(sender: &'a [u8], recipient: &'a [u8]) -> ContextParams<'a> {
    ContextParams {
        master_secret: &SECRET,
        master_salt: Some(&SALT),
        sender_id: sender,
        recipient_id: recipient,
        id_context: Some(b"gba-ctx"),
    }
}

fn pair() -> (SecurityContext, SecurityContext) {
    let client = SecurityContext::derive(&params(b"C", b"S")).unwrap();
    let server = SecurityContext::derive(&params(b"S", b"C")).unwrap();
    (client, server)
}

/// Through bytes, as on a link.
fn wire(m: &Message) -> Message {
    Message::parse(&m.encode()).unwrap()
}

fn get(path: &str, mid: u16) -> Message {
    let mut m = Message::new(MessageType::Confirmable, code::GET, mid);
    m.set_token(&mid.to_be_bytes()).unwrap();
    m.add_option(number::URI_HOST, b"naf.example");
    for seg in path.split('/') {
        m.add_option(number::URI_PATH, seg.as_bytes());
    }
    m
}

fn content(req: &Message, body: &[u8]) -> Message {
    let mut m = Message::new(MessageType::Acknowledgement, code::CONTENT, req.message_id);
    m.set_token(req.token()).unwrap();
    m.add_option(number::CONTENT_FORMAT, &[0]);
    m.payload = body.to_vec();
    m
}

#[test]
fn request_and_response_with_and_without_partial_iv() {
    let (mut client, mut server) = pair();
    for (i, piv) in [ResponsePiv::FromRequest, ResponsePiv::New]
        .into_iter()
        .enumerate()
    {
        let req = get("sensors/temp", i as u16);
        let (outer, binding) = protect::protect_request(&mut client, &req).unwrap();
        assert_eq!(outer.code, code::POST);
        // Uri-Host stays outside, Uri-Path goes inside.
        assert_eq!(outer.option(number::URI_HOST), Some(&b"naf.example"[..]));
        assert_eq!(outer.option(number::URI_PATH), None);
        let got = protect::unprotect_request(&mut server, &wire(&outer)).unwrap();
        assert_eq!(got.message, req);
        assert!(got.fresh);

        let resp = content(&req, b"21.5");
        let outer = protect::protect_response(&mut server, &resp, &got.binding, piv).unwrap();
        assert_eq!(outer.code, code::CHANGED);
        assert_eq!(outer.option(number::CONTENT_FORMAT), None);
        let back = protect::unprotect_response(&client, &wire(&outer), &binding).unwrap();
        assert_eq!(back, resp);
    }
}

#[test]
fn observe_uses_fetch_and_content_and_keeps_the_option_both_sides() {
    let (mut client, mut server) = pair();
    let mut req = get("obs", 9);
    req.add_option(number::OBSERVE, &[]);
    let (outer, binding) = protect::protect_request(&mut client, &req).unwrap();
    assert_eq!(outer.code, code::FETCH);
    assert_eq!(outer.option(number::OBSERVE), Some(&[][..]));
    let got = protect::unprotect_request(&mut server, &wire(&outer)).unwrap();
    assert_eq!(got.message, req);

    for n in 1u8..4 {
        let mut note = content(&req, &[n]);
        note.add_option(number::OBSERVE, &[n]);
        // A notification without its own partial IV is refused (§4.1.3.5.2).
        assert_eq!(
            protect::protect_response(&mut server, &note, &got.binding, ResponsePiv::FromRequest),
            Err(Error::PartialIvRequired)
        );
        let outer =
            protect::protect_response(&mut server, &note, &got.binding, ResponsePiv::New).unwrap();
        assert_eq!(outer.code, code::CONTENT);
        assert_eq!(outer.option(number::OBSERVE), Some(&[n][..]));
        let back = protect::unprotect_response(&client, &wire(&outer), &binding).unwrap();
        assert_eq!(back, note);
    }
}

#[test]
fn block2_is_protected_end_to_end() {
    let (mut client, mut server) = pair();
    let mut req = get("fw", 3);
    req.add_option(number::BLOCK2, &[0x16]); // block 1, szx 6
    let (outer, binding) = protect::protect_request(&mut client, &req).unwrap();
    assert_eq!(outer.option(number::BLOCK2), None);
    let got = protect::unprotect_request(&mut server, &wire(&outer)).unwrap();
    assert_eq!(got.message.option(number::BLOCK2), Some(&[0x16][..]));

    let mut resp = content(&req, &[0xab; 1024]);
    resp.add_option(number::BLOCK2, &[0x1e]); // block 1, more, szx 6
    resp.add_option(number::SIZE2, &[0x08, 0x00]);
    let outer =
        protect::protect_response(&mut server, &resp, &got.binding, ResponsePiv::FromRequest)
            .unwrap();
    assert_eq!(outer.option(number::BLOCK2), None);
    assert_eq!(
        protect::unprotect_response(&client, &wire(&outer), &binding).unwrap(),
        resp
    );
}

#[test]
fn outer_class_e_options_are_dropped() {
    let (mut client, mut server) = pair();
    let req = get("a", 1);
    let (mut outer, _) = protect::protect_request(&mut client, &req).unwrap();
    outer.add_option(number::URI_PATH, b"injected");
    let got = protect::unprotect_request(&mut server, &wire(&outer)).unwrap();
    assert_eq!(got.message, req);
}

#[test]
fn replays_and_old_requests_are_refused() {
    let (mut client, mut server) = pair();
    let mut sent = Vec::new();
    for i in 0..40 {
        sent.push(
            protect::protect_request(&mut client, &get("x", i))
                .unwrap()
                .0,
        );
    }
    // 0 and 39 arrive; 0 again is a replay.
    protect::unprotect_request(&mut server, &sent[0]).unwrap();
    assert_eq!(
        protect::unprotect_request(&mut server, &sent[0]),
        Err(Error::Replay(ReplayError::Replayed(0)))
    );
    protect::unprotect_request(&mut server, &sent[39]).unwrap();
    // The window slid: 7 is 32 behind 39, too old; 8 is still inside.
    assert_eq!(
        protect::unprotect_request(&mut server, &sent[7]),
        Err(Error::Replay(ReplayError::TooOld(7)))
    );
    protect::unprotect_request(&mut server, &sent[8]).unwrap();
    assert_eq!(
        protect::unprotect_request(&mut server, &sent[8]),
        Err(Error::Replay(ReplayError::Replayed(8)))
    );
}

#[test]
fn a_forgery_does_not_move_the_window() {
    let (mut client, mut server) = pair();
    let (mut outer, _) = protect::protect_request(&mut client, &get("x", 1)).unwrap();
    let good = outer.clone();
    if let Some(b) = outer.payload.last_mut() {
        *b ^= 1;
    }
    assert_eq!(
        protect::unprotect_request(&mut server, &outer),
        Err(Error::Decrypt)
    );
    assert_eq!(server.replay_window().top(), None);
    protect::unprotect_request(&mut server, &good).unwrap();
}

#[test]
fn verification_refuses_what_is_not_ours() {
    let (mut client, mut server) = pair();
    let req = get("x", 1);
    assert_eq!(
        protect::unprotect_request(&mut server, &req),
        Err(Error::NotProtected)
    );

    let (outer, binding) = protect::protect_request(&mut client, &req).unwrap();
    // The response binding must be the request's.
    let mut wrong = binding.clone();
    wrong.partial_iv = vec![0x63];
    let got = protect::unprotect_request(&mut server, &outer).unwrap();
    let resp = protect::protect_response(
        &mut server,
        &content(&req, b"v"),
        &got.binding,
        ResponsePiv::FromRequest,
    )
    .unwrap();
    assert_eq!(
        protect::unprotect_response(&client, &resp, &wrong),
        Err(Error::Decrypt)
    );

    // Another client's kid, another kid context.
    let mut other = SecurityContext::derive(&params(b"D", b"S")).unwrap();
    let (o, _) = protect::protect_request(&mut other, &req).unwrap();
    assert_eq!(
        protect::unprotect_request(&mut server, &o),
        Err(Error::UnknownKid)
    );
    let mut p = params(b"C", b"S");
    p.id_context = Some(b"old-ctx");
    let mut stale = SecurityContext::derive(&p).unwrap();
    let (o, _) = protect::protect_request(&mut stale, &req).unwrap();
    assert_eq!(
        protect::unprotect_request(&mut server, &o),
        Err(Error::UnknownKidContext)
    );

    // A server that has not seen `outer` yet, so the replay window does not answer first.
    let mut server = SecurityContext::derive(&params(b"S", b"C")).unwrap();
    // Two OSCORE options; a ciphertext shorter than a tag; an already protected message.
    let mut dup = outer.clone();
    dup.add_option(number::OSCORE, &[]);
    assert_eq!(
        protect::unprotect_request(&mut server, &dup),
        Err(Error::Wire(WireError::Invalid(
            Field::DuplicateOscoreOption
        )))
    );
    let mut short = outer.clone();
    short.payload.truncate(7);
    assert_eq!(
        protect::unprotect_request(&mut server, &short),
        Err(Error::Wire(WireError::Truncated(Field::Ciphertext)))
    );
    assert_eq!(
        protect::protect_request(&mut client, &outer),
        Err(Error::AlreadyProtected)
    );
    // A request option without partial IV or kid.
    let mut no_piv = outer.clone();
    no_piv.remove_option(number::OSCORE);
    no_piv.add_option(number::OSCORE, &[0x08, b'C']);
    assert_eq!(
        protect::unprotect_request(&mut server, &no_piv),
        Err(Error::MissingPartialIv)
    );
    let mut no_kid = outer;
    no_kid.remove_option(number::OSCORE);
    no_kid.add_option(number::OSCORE, &[0x01, 0x05]);
    assert_eq!(
        protect::unprotect_request(&mut server, &no_kid),
        Err(Error::MissingKid)
    );
}

#[test]
fn persisted_sequence_numbers_gate_sending_and_survive_a_crash() {
    let mut disk: Option<u64> = None;
    let mut client = SecurityContext::with_state(
        &params(b"C", b"S"),
        SenderSeq::persisted(4).unwrap(),
        ReplayWindow::default(),
    )
    .unwrap();
    let mut server = SecurityContext::derive(&params(b"S", b"C")).unwrap();
    let mut used = Vec::new();
    let mut i = 0u16;
    while used.len() < 10 {
        match protect::protect_request(&mut client, &get("x", i)) {
            Ok((outer, binding)) => {
                used.push(binding.partial_iv.clone());
                protect::unprotect_request(&mut server, &outer).unwrap();
                i += 1;
            }
            Err(Error::NeedsStore(v)) => {
                disk = Some(v); // the caller's write + fsync
                client.sender_seq_mut().stored(v);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(disk, Some(8));
    // Crash: the client restarts from disk and continues beyond anything used; the server's
    // window (still running) accepts it.
    let mut client = SecurityContext::with_state(
        &params(b"C", b"S"),
        SenderSeq::resume(disk.unwrap(), 4).unwrap(),
        ReplayWindow::default(),
    )
    .unwrap();
    let req = get("x", 99);
    let v = match protect::protect_request(&mut client, &req) {
        Err(Error::NeedsStore(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(v, 12);
    client.sender_seq_mut().stored(v);
    let (outer, binding) = protect::protect_request(&mut client, &req).unwrap();
    assert_eq!(binding.partial_iv, [12]);
    assert!(
        protect::unprotect_request(&mut server, &outer)
            .unwrap()
            .fresh
    );
}

#[test]
fn server_restart_needs_an_echo_round_trip() {
    let (mut client, mut server) = pair();
    let recorded = protect::protect_request(&mut client, &get("door/open", 1))
        .unwrap()
        .0;
    protect::unprotect_request(&mut server, &recorded).unwrap();

    // The server restarts without its window.
    let mut server = SecurityContext::with_state(
        &params(b"S", b"C"),
        SenderSeq::volatile(1000),
        ReplayWindow::unknown(),
    )
    .unwrap();
    let gate = EchoGate::new([7; 8]);

    // A replay of the recorded request verifies, but is not fresh: it gets a challenge.
    let got = protect::unprotect_request(&mut server, &recorded).unwrap();
    assert!(!got.fresh);
    let challenge = match gate.check(&mut server, &got) {
        EchoVerdict::Challenge(m) => m,
        EchoVerdict::Fresh => panic!("replay accepted"),
    };
    assert_eq!(challenge.code, code::UNAUTHORIZED);
    let sealed =
        protect::protect_response(&mut server, &challenge, &got.binding, ResponsePiv::New).unwrap();

    // The client reads the challenge and repeats its request with the Echo value inside.
    let client_view = protect::unprotect_response(&client, &sealed, &got.binding).unwrap();
    let echo = client_view.option(number::ECHO).unwrap().to_vec();
    let mut retry = get("door/open", 2);
    retry.add_option(number::ECHO, &echo);
    let (outer, _) = protect::protect_request(&mut client, &retry).unwrap();
    let got = protect::unprotect_request(&mut server, &outer).unwrap();
    assert_eq!(gate.check(&mut server, &got), EchoVerdict::Fresh);
    assert!(!server.replay_window().is_unknown());

    // From now on the window works: the old recording is too old or a replay.
    assert!(matches!(
        protect::unprotect_request(&mut server, &recorded),
        Err(Error::Replay(_))
    ));
    let (next, _) = protect::protect_request(&mut client, &get("x", 3)).unwrap();
    assert!(
        protect::unprotect_request(&mut server, &next)
            .unwrap()
            .fresh
    );
}
