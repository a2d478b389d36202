//! A sans-IO OSCORE engine (RFC 8613, Object Security for Constrained RESTful Environments)
//! for simbridge: CoAP messages protected end to end under a security context whose Master
//! Secret will come from GBA.
//!
//! What is here, one concept per module:
//! - [`context`]: the security context and its derivation (§3.2), AES-CCM-16-64-128 with
//!   HKDF-SHA-256 only.
//! - [`option`]: the OSCORE option value (§6.1).
//! - [`cose`]: nonce (§5.2), AAD (§5.3, §5.4), seal and open.
//! - [`coap`]: a minimal CoAP codec and the option classes (§4.1).
//! - [`protect`]: protecting and verifying requests and responses (§8).
//! - [`replay`]: the recipient replay window (§7.4).
//! - [`persist`]: the sender sequence number written ahead to storage (Appendix B.1.1).
//! - [`echo`]: freshness after a server restart with Echo (RFC 9175, Appendix B.1.2).
//!
//! No sockets, files, clocks or randomness: the caller moves bytes, stores the sequence number
//! when asked ([`Error::NeedsStore`]) and supplies the Echo value. The small CBOR encoders
//! OSCORE needs are ours (`cbor`, see its docs for why). The crate depends on no other crate of
//! simbridge.
//!
//! ```
//! use simbridge_oscore::coap::{code, number, Message, MessageType};
//! use simbridge_oscore::context::{ContextParams, SecurityContext};
//! use simbridge_oscore::protect::{self, ResponsePiv};
//!
//! let secret = [0x42; 16];
//! let mut client = SecurityContext::derive(&ContextParams {
//!     master_secret: &secret, master_salt: None,
//!     sender_id: &[0x01], recipient_id: &[], id_context: None,
//! })?;
//! let mut server = SecurityContext::derive(&ContextParams {
//!     master_secret: &secret, master_salt: None,
//!     sender_id: &[], recipient_id: &[0x01], id_context: None,
//! })?;
//! let mut get = Message::new(MessageType::Confirmable, code::GET, 1);
//! get.add_option(number::URI_PATH, b"temp");
//! let (wire, binding) = protect::protect_request(&mut client, &get)?;
//! let req = protect::unprotect_request(&mut server, &Message::parse(&wire.encode())?)?;
//! assert_eq!(req.message, get);
//! let mut resp = Message::new(MessageType::Acknowledgement, code::CONTENT, 1);
//! resp.payload = b"21.5".to_vec();
//! let wire = protect::protect_response(&mut server, &resp, &req.binding, ResponsePiv::FromRequest)?;
//! assert_eq!(protect::unprotect_response(&client, &wire, &binding)?, resp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod cbor;
pub mod coap;
pub mod context;
pub mod cose;
pub mod echo;
mod error;
pub mod option;
pub mod persist;
pub mod protect;
mod reader;
pub mod replay;

pub use error::{Error, Field, WireError};
