//! AT command channel to a cellular modem and SIM access through it (`+CSIM`, `+CCHO`/`+CGLA`/`+CCHC`).
//!
//! This crate knows nothing of GBA or DTLS: it moves APDUs to the SIM behind a modem's AT port.
//!
//! * [`AtChannel`]: one command at a time over a [`Transport`] (a serial port, or anything that is
//!   `Read + Write` with read timeouts): final results, echo, URCs, timeouts, resynchronisation,
//!   reconnection when the device disappears.
//! * [`response`]: the sans-IO response parser (fuzzed).
//! * [`SimAccess`]: APDUs to the SIM by `+CSIM` or a logical channel, chosen from the
//!   [`quirks`] table or by probing; `+CIMI`, ICCID, `+CPIN?`.

#![warn(missing_docs)]

pub mod answers;
pub mod channel;
pub mod cla;
pub mod cme;
pub mod error;
pub mod line;
pub mod quirks;
pub mod response;
pub mod sim;
pub mod transport;

#[cfg(test)]
mod channel_tests;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod sim_tests;

pub use answers::PinState;
pub use channel::{AtChannel, AtConfig, ChannelEvent};
pub use error::AtError;
pub use quirks::{Quirks, Support};
pub use response::{Answer, Expect, Final, FinalError};
pub use sim::{ModemInfo, SimAccess, SimConfig, SimPath};
pub use transport::{Clock, Connector, SerialConnector, SystemClock, Transport};
