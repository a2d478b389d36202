//! The one blocking wait of the gateway and server loops: until a socket is ready, the protocol
//! core's next timer, or a tick (so a stop request is seen promptly).

use std::io::{self, ErrorKind};
use std::time::{Duration, Instant};

use mio::{Events, Poll};

/// Longest a loop sleeps without looking at its stop flag and counters.
pub(crate) const TICK: Duration = Duration::from_millis(200);

/// Waits for readiness until `deadline` (the core's `poll_timeout`) or at most [`TICK`].
/// An interrupted wait (a signal) is an ordinary wake-up, not an error.
pub(crate) fn wait_for_events(
    poll: &mut Poll,
    events: &mut Events,
    deadline: Option<Instant>,
) -> io::Result<()> {
    let wait = deadline
        .map(|t| t.saturating_duration_since(Instant::now()))
        .unwrap_or(TICK)
        .min(TICK);
    match poll.poll(events, Some(wait)) {
        Err(e) if e.kind() != ErrorKind::Interrupted => Err(e),
        _ => Ok(()),
    }
}
