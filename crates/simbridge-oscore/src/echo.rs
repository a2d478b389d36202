//! Freshness after a server restart with the Echo option (RFC 9175, RFC 8613 Appendix B.1.2).
//!
//! A server that lost its replay window cannot tell a new request from a recorded one. Its
//! first verified request is therefore answered with 4.01 Unauthorized carrying an Echo value
//! (protected, with a partial IV of its own, since the request's nonce may be a replay's); the
//! client repeats the request with that Echo inside, and a request that verifies *and* echoes
//! the value is fresh: its partial IV initializes the window (everything up to it refused).
//!
//! Sans-IO: the caller supplies the random Echo value (8 bytes is RFC 9175's suggestion for
//! unpredictable values) and protects the challenge with
//! [`protect_response`](crate::protect::protect_response) and
//! [`ResponsePiv::New`](crate::protect::ResponsePiv::New).

use subtle::ConstantTimeEq;

use crate::coap::{Message, MessageType, code, number};
use crate::context::SecurityContext;
use crate::option::seq_of;
use crate::protect::UnprotectedRequest;

/// Length of the Echo values we send.
pub const ECHO_LEN: usize = 8;

/// What to do with a verified request while the replay window is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoVerdict {
    /// Fresh: the window is initialized now; process the request.
    Fresh,
    /// Not proven fresh: send this 4.01 (protect it with a new partial IV) and do nothing else.
    Challenge(Message),
}

/// The server's Echo state after a restart.
#[derive(Clone)]
pub struct EchoGate {
    value: [u8; ECHO_LEN],
}

impl std::fmt::Debug for EchoGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoGate").finish_non_exhaustive()
    }
}

impl EchoGate {
    /// A gate with a fresh random value from the caller's randomness.
    pub fn new(value: [u8; ECHO_LEN]) -> Self {
        Self { value }
    }

    /// The 4.01 Unauthorized answer to `request` carrying our Echo value.
    pub fn challenge(&self, request: &Message) -> Message {
        let mtype = match request.mtype {
            MessageType::Confirmable => MessageType::Acknowledgement,
            _ => MessageType::NonConfirmable,
        };
        let mut m = Message::from_parts(
            mtype,
            code::UNAUTHORIZED,
            request.message_id,
            request.token().to_vec(),
            Vec::new(),
            Vec::new(),
        );
        m.add_option(number::ECHO, &self.value);
        m
    }

    /// Decides on a verified request: a request echoing our value (inside the protected part)
    /// is fresh and initializes `ctx`'s replay window at its partial IV; any other gets a
    /// challenge. Requests verified while the window was known pass as fresh untouched.
    pub fn check(&self, ctx: &mut SecurityContext, request: &UnprotectedRequest) -> EchoVerdict {
        if request.fresh {
            return EchoVerdict::Fresh;
        }
        let echoed = request
            .message
            .option(number::ECHO)
            .is_some_and(|v| bool::from(v.ct_eq(&self.value)));
        if echoed {
            ctx.replay_window_mut()
                .init_at(seq_of(&request.binding.partial_iv));
            EchoVerdict::Fresh
        } else {
            EchoVerdict::Challenge(self.challenge(&request.message))
        }
    }
}
