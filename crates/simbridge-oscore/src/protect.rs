//! Protecting and verifying CoAP messages with OSCORE (RFC 8613 §8).
//!
//! A message to protect is split by option class ([`crate::coap::class_of`]): the code, the
//! Class E options and the payload become the plaintext (§5.3), sealed with the nonce of §5.2
//! and the AAD of §5.4; the outer message keeps the header, token and Class U options, adds the
//! OSCORE option and carries the ciphertext as payload, under the outer code POST / 2.04
//! Changed (FETCH / 2.05 Content when Observe is present, §4.2).
//!
//! A request binds its response: [`RequestBinding`] (the request's kid and partial IV) feeds
//! the response's AAD and, when the response carries no partial IV of its own, its nonce.

use crate::coap::{CoapOption, Message, OptionClass, class_of, code, number};
use crate::context::SecurityContext;
use crate::cose;
use crate::error::{Error, Field, WireError};
use crate::option::{OscoreOption, partial_iv_of, seq_of};
use crate::reader::Reader;

/// What a response needs from its request (§5.4 `request_kid`, `request_piv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBinding {
    /// The request's kid (the client's Sender ID).
    pub kid: Vec<u8>,
    /// The request's partial IV.
    pub partial_iv: Vec<u8>,
}

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnprotectedRequest {
    /// The request as the client wrote it.
    pub message: Message,
    /// The kid and partial IV the response must be bound to.
    pub binding: RequestBinding,
    /// False when the replay window is unknown (after a restart): the request verified, but
    /// may be a replay. Answer it with an Echo challenge ([`crate::echo`]), not with its effect.
    pub fresh: bool,
}

/// Whether a response carries its own partial IV (§5.2, §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePiv {
    /// Reuse the request's nonce: the response carries no partial IV (the common case).
    FromRequest,
    /// Take a new sender sequence number: required for Observe notifications and for a
    /// server that cannot be sure the request's nonce was never used before (after a restart).
    New,
}

/// Splits options: inner (Class E) and outer (Class U); Class E and U go to both.
fn split(options: &[CoapOption]) -> Result<(Vec<CoapOption>, Vec<CoapOption>), Error> {
    let mut inner = Vec::new();
    let mut outer = Vec::new();
    for o in options {
        if o.number == number::OSCORE {
            return Err(Error::AlreadyProtected);
        }
        match class_of(o.number) {
            OptionClass::E => inner.push(o.clone()),
            OptionClass::U => outer.push(o.clone()),
            OptionClass::EAndU => {
                inner.push(o.clone());
                outer.push(o.clone());
            }
        }
    }
    Ok((inner, outer))
}

/// The plaintext of §5.3: code, Class E options, payload marker and payload.
fn plaintext(code: u8, inner: &[CoapOption], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![code];
    crate::coap::encode_options(&mut out, inner);
    if !payload.is_empty() {
        out.push(0xff);
        out.extend_from_slice(payload);
    }
    out
}

fn seal_message(
    ctx: &SecurityContext,
    msg: &Message,
    outer_code: u8,
    oscore: &OscoreOption,
    nonce: &[u8; crate::context::NONCE_LEN],
    binding: &RequestBinding,
) -> Result<Message, Error> {
    let (inner, mut outer) = split(msg.options())?;
    let pt = plaintext(msg.code, &inner, &msg.payload);
    let aad = cose::aad(&binding.kid, &binding.partial_iv);
    let ct = cose::seal(ctx.sender_key(), nonce, &aad, &pt)?;
    outer.push(CoapOption {
        number: number::OSCORE,
        value: oscore.encode()?,
    });
    Ok(Message::from_parts(
        msg.mtype,
        outer_code,
        msg.message_id,
        msg.token().to_vec(),
        outer,
        ct,
    ))
}

/// The single OSCORE option of a received message.
fn oscore_option(msg: &Message) -> Result<OscoreOption, Error> {
    let mut found = msg.options().iter().filter(|o| o.number == number::OSCORE);
    let first = found.next().ok_or(Error::NotProtected)?;
    if found.next().is_some() {
        return Err(WireError::Invalid(Field::DuplicateOscoreOption).into());
    }
    Ok(OscoreOption::parse(&first.value)?)
}

/// Decrypts the payload and rebuilds the inner message: outer Class U options, inner Class E
/// options (Class E and U from inside only), outer Class E options dropped (§8.2, §8.4).
fn open_message(
    key: &[u8; crate::context::KEY_LEN],
    msg: &Message,
    nonce: &[u8; crate::context::NONCE_LEN],
    binding: &RequestBinding,
) -> Result<Message, Error> {
    if msg.payload.len() < crate::context::TAG_LEN {
        return Err(WireError::Truncated(Field::Ciphertext).into());
    }
    let aad = cose::aad(&binding.kid, &binding.partial_iv);
    let pt = cose::open(key, nonce, &aad, &msg.payload)?;
    let mut r = Reader::new(&pt);
    let inner_code = r.u8(Field::InnerCode)?;
    let (inner, payload) = crate::coap::parse_options(&mut r)?;
    if inner.iter().any(|o| o.number == number::OSCORE) {
        return Err(WireError::Invalid(Field::InnerOption).into());
    }
    let mut options: Vec<CoapOption> = msg
        .options()
        .iter()
        .filter(|o| o.number != number::OSCORE && class_of(o.number) == OptionClass::U)
        .cloned()
        .collect();
    options.extend(inner);
    Ok(Message::from_parts(
        msg.mtype,
        inner_code,
        msg.message_id,
        msg.token().to_vec(),
        options,
        payload,
    ))
}

fn outer_code(msg: &Message, request: bool) -> u8 {
    let observe = msg.option(number::OBSERVE).is_some();
    match (request, observe) {
        (true, false) => code::POST,
        (true, true) => code::FETCH,
        (false, false) => code::CHANGED,
        (false, true) => code::CONTENT,
    }
}

/// Protects a request (§8.1) with the next sender sequence number. Returns the OSCORE message
/// and the binding to verify its response with. [`Error::NeedsStore`] when the sequence number
/// must be persisted first (nothing consumed: store, confirm, call again).
pub fn protect_request(
    ctx: &mut SecurityContext,
    request: &Message,
) -> Result<(Message, RequestBinding), Error> {
    if request.option(number::OSCORE).is_some() {
        return Err(Error::AlreadyProtected);
    }
    let seq = ctx.sender_seq_mut().take()?;
    let piv = partial_iv_of(seq);
    let nonce = ctx
        .nonce(ctx.sender_id(), &piv)
        .ok_or(Error::Parameter(Field::SenderId))?;
    let binding = RequestBinding {
        kid: ctx.sender_id().to_vec(),
        partial_iv: piv.clone(),
    };
    let oscore = OscoreOption {
        partial_iv: Some(piv),
        kid_context: ctx.id_context().map(<[u8]>::to_vec),
        kid: Some(ctx.sender_id().to_vec()),
    };
    let outer = seal_message(
        ctx,
        request,
        outer_code(request, true),
        &oscore,
        &nonce,
        &binding,
    )?;
    Ok((outer, binding))
}

/// Verifies a request (§8.2): the kid (and kid context) must name this context, the partial
/// IV must pass the replay window, the tag must verify. The window records the partial IV only
/// after the tag verified. With an unknown window (after a restart) the request is returned
/// with `fresh: false` and the window is left alone.
pub fn unprotect_request(
    ctx: &mut SecurityContext,
    protected: &Message,
) -> Result<UnprotectedRequest, Error> {
    let oscore = oscore_option(protected)?;
    let piv = oscore.partial_iv.ok_or(Error::MissingPartialIv)?;
    let kid = oscore.kid.ok_or(Error::MissingKid)?;
    if kid != ctx.recipient_id() {
        return Err(Error::UnknownKid);
    }
    if let Some(kc) = &oscore.kid_context {
        if Some(kc.as_slice()) != ctx.id_context() {
            return Err(Error::UnknownKidContext);
        }
    }
    let seq = seq_of(&piv);
    let unknown = ctx.replay_window().is_unknown();
    if !unknown {
        ctx.replay_window().check(seq)?;
    }
    let nonce = ctx
        .nonce(&kid, &piv)
        .ok_or(WireError::Invalid(Field::Kid))?;
    let binding = RequestBinding {
        kid,
        partial_iv: piv,
    };
    let message = open_message(ctx.recipient_key(), protected, &nonce, &binding)?;
    if !unknown {
        ctx.replay_window_mut().accept(seq)?;
    }
    Ok(UnprotectedRequest {
        message,
        binding,
        fresh: !unknown,
    })
}

/// Protects a response (§8.3) to the request `binding` names. With [`ResponsePiv::New`] the
/// response takes a new sender sequence number (and may return [`Error::NeedsStore`]); a
/// response with Observe must.
pub fn protect_response(
    ctx: &mut SecurityContext,
    response: &Message,
    binding: &RequestBinding,
    piv: ResponsePiv,
) -> Result<Message, Error> {
    if response.option(number::OSCORE).is_some() {
        return Err(Error::AlreadyProtected);
    }
    let (nonce, oscore) = match piv {
        ResponsePiv::FromRequest => {
            if response.option(number::OBSERVE).is_some() {
                return Err(Error::PartialIvRequired);
            }
            let nonce = ctx
                .nonce(&binding.kid, &binding.partial_iv)
                .ok_or(WireError::Invalid(Field::Kid))?;
            (nonce, OscoreOption::default())
        }
        ResponsePiv::New => {
            let seq = ctx.sender_seq_mut().take()?;
            let own = partial_iv_of(seq);
            let nonce = ctx
                .nonce(ctx.sender_id(), &own)
                .ok_or(Error::Parameter(Field::SenderId))?;
            (
                nonce,
                OscoreOption {
                    partial_iv: Some(own),
                    ..OscoreOption::default()
                },
            )
        }
    };
    seal_message(
        ctx,
        response,
        outer_code(response, false),
        &oscore,
        &nonce,
        binding,
    )
}

/// Verifies a response (§8.4) to the request `binding` names (the binding
/// [`protect_request`] returned). A response with its own partial IV uses the nonce of the
/// server's Sender ID; one without reuses the request's. Notifications are not checked for
/// order here (the caller keeps the Notification Number of §4.1.3.5.2 if it observes).
pub fn unprotect_response(
    ctx: &SecurityContext,
    protected: &Message,
    binding: &RequestBinding,
) -> Result<Message, Error> {
    let oscore = oscore_option(protected)?;
    if oscore
        .kid
        .as_deref()
        .is_some_and(|k| k != ctx.recipient_id())
    {
        return Err(Error::UnknownKid);
    }
    let nonce = match &oscore.partial_iv {
        Some(piv) => ctx.nonce(ctx.recipient_id(), piv),
        None => ctx.nonce(&binding.kid, &binding.partial_iv),
    }
    .ok_or(WireError::Invalid(Field::PartialIv))?;
    open_message(ctx.recipient_key(), protected, &nonce, binding)
}
