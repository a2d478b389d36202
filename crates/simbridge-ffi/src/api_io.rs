//! The exported functions that drive a session: time, datagrams, payloads, counters, export and
//! import. Thread-safety of each: as for every handle function (see [`crate::api`]): calls on
//! one handle must not overlap; different handles may be used from different threads at once.
//!
//! Times are the host's monotonic milliseconds (e.g. `CLOCK_MONOTONIC`), any origin, never
//! going back. Calls that may raise a key action (connect, send, datagram, timeout, import)
//! answer it inline with the configured card and BSF, so they can block for as long as a GBA
//! bootstrap takes (bounded by the 20 s HTTP timeout); host keys and cached contexts never block.

use crate::api::{
    SimbridgeCounters, SimbridgeSession, check_out, input, output, too_small, with_session,
};
use crate::status::*;
use std::ffi::{c_char, c_int};

/// Starts connecting now (a session also connects on its first payload).
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_connect(
    session: *mut SimbridgeSession,
    now_ms: u64,
) -> c_int {
    with_session(session, |s| {
        s.connect(now_ms);
        Ok(SIMBRIDGE_OK)
    })
}

/// Sends one application payload (1 .. SIMBRIDGE_MAX_DATAGRAM bytes) upstream, or queues it
/// while no session is ready (the queue is bounded: see the counters).
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `data` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_send(
    session: *mut SimbridgeSession,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> c_int {
    with_session(session, |s| {
        // SAFETY: `data`/`len` per the contract above.
        let d = unsafe { input(data, len, "data") }?;
        if d.is_empty() {
            return Err(FfiError::Argument("an empty payload".into()));
        }
        s.send(now_ms, d);
        Ok(SIMBRIDGE_OK)
    })
}

/// Hands over a datagram received from the server on the socket of `path` (0 or 1, as
/// `simbridge_session_poll_transmit` named it).
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `data` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_handle_datagram(
    session: *mut SimbridgeSession,
    path: u8,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> c_int {
    with_session(session, |s| {
        // SAFETY: `data`/`len` per the contract above.
        let d = unsafe { input(data, len, "data") }?;
        if path > 1 {
            return Err(FfiError::Argument(format!("path {path}: 0 or 1 expected")));
        }
        s.handle_datagram(now_ms, path, d);
        Ok(SIMBRIDGE_OK)
    })
}

/// Drives timers; call it when the deadline of `simbridge_session_next_timeout` has passed
/// (an early call does no harm).
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_handle_timeout(
    session: *mut SimbridgeSession,
    now_ms: u64,
) -> c_int {
    with_session(session, |s| {
        s.handle_timeout(now_ms);
        Ok(SIMBRIDGE_OK)
    })
}

/// The next deadline (host milliseconds) for `simbridge_session_handle_timeout` in
/// `*deadline_ms`; `SIMBRIDGE_EMPTY` when no timer runs.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `deadline_ms` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_next_timeout(
    session: *mut SimbridgeSession,
    deadline_ms: *mut u64,
) -> c_int {
    with_session(session, |s| {
        if deadline_ms.is_null() {
            return Err(FfiError::Null("deadline_ms"));
        }
        Ok(match s.next_timeout() {
            Some(t) => {
                // SAFETY: checked non-NULL; writable by contract.
                unsafe { *deadline_ms = t };
                SIMBRIDGE_OK
            }
            None => SIMBRIDGE_EMPTY,
        })
    })
}

/// Takes the next datagram to send to the server: copied to `buf` (capacity `cap`), its length
/// in `*out_len`, the path (socket: 0 or 1; 1 is a make-before-break handshake beside the live
/// session, from another source port) in `*out_path`. `SIMBRIDGE_EMPTY`: nothing to send.
/// `SIMBRIDGE_ERR_BUFFER_TOO_SMALL`: `*out_len` is the size needed, the datagram is kept.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `buf` has `cap` writable bytes; `out_len`, `out_path`
/// are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_poll_transmit(
    session: *mut SimbridgeSession,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_path: *mut u8,
) -> c_int {
    with_session(session, |s| {
        check_out(buf, cap, out_len)?;
        if out_path.is_null() {
            return Err(FfiError::Null("out_path"));
        }
        match s.transmit(cap).map_err(|e| too_small(e, out_len))? {
            Some((path, d)) => {
                // SAFETY: `transmit` checked `d.len() <= cap`; pointers checked above.
                unsafe {
                    output(&d, buf, out_len);
                    *out_path = path;
                }
                Ok(SIMBRIDGE_OK)
            }
            None => Ok(SIMBRIDGE_EMPTY),
        }
    })
}

/// Takes the next application payload the server sent: copied to `buf`, its length in
/// `*out_len`. `SIMBRIDGE_EMPTY`: none. `SIMBRIDGE_ERR_BUFFER_TOO_SMALL`: `*out_len` is the
/// size needed, the payload is kept.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `buf` has `cap` writable bytes; `out_len` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_receive(
    session: *mut SimbridgeSession,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> c_int {
    with_session(session, |s| {
        check_out(buf, cap, out_len)?;
        match s.receive(cap).map_err(|e| too_small(e, out_len))? {
            Some(d) => {
                // SAFETY: `receive` checked `d.len() <= cap`; pointers checked above.
                unsafe { output(&d, buf, out_len) };
                Ok(SIMBRIDGE_OK)
            }
            None => Ok(SIMBRIDGE_EMPTY),
        }
    })
}

/// A snapshot of the session's state and counters in `*out`.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_counters(
    session: *mut SimbridgeSession,
    out: *mut SimbridgeCounters,
) -> c_int {
    with_session(session, |s| {
        if out.is_null() {
            return Err(FfiError::Null("out"));
        }
        let (m, established, bootstrap_pending, queued) = s.metrics();
        let c = SimbridgeCounters {
            established: u32::from(established),
            bootstrap_pending: u32::from(bootstrap_pending),
            queued: queued as u64,
            bootstraps: m.bootstraps,
            bootstrap_failures: m.bootstrap_failures,
            handshakes_full: m.handshakes_full,
            handshakes_abbreviated: m.handshakes_abbreviated,
            handshakes_none_needed: m.handshakes_none_needed,
            handshake_failures: m.handshake_failures,
            rekeys: m.rekeys,
            data_bytes_sent: m.data_bytes_sent,
            data_bytes_received: m.data_bytes_received,
            bytes_on_air: m.bytes_on_air(),
            dropped_queue_full: m.dropped_queue_full,
            dropped_no_session: m.dropped_no_session,
            dropped_records: m.dropped_records,
        };
        // SAFETY: checked non-NULL; writable by contract.
        unsafe { *out = c };
        Ok(SIMBRIDGE_OK)
    })
}

/// One of the route's configured addresses as a NUL-terminated string in `buf`: `which` 0 the
/// local `listen` address, 1 the resolved `upstream` address, 2 the route's name. Its length
/// without the NUL in `*out_len`; too small: `SIMBRIDGE_ERR_BUFFER_TOO_SMALL` with the size
/// needed including the NUL.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `buf` has `cap` writable bytes; `out_len` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_address(
    session: *mut SimbridgeSession,
    which: u32,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> c_int {
    let buf = buf.cast::<u8>();
    with_session(session, |s| {
        check_out(buf, cap, out_len)?;
        let text = s.address(which)?;
        let need = text.len() + 1;
        if need > cap {
            return Err(too_small(
                FfiError::BufferTooSmall { have: cap, need },
                out_len,
            ));
        }
        let mut z = text.into_bytes();
        z.push(0);
        // SAFETY: `need <= cap` checked; pointers checked above.
        unsafe {
            output(&z, buf, out_len);
            *out_len = need - 1;
        }
        Ok(SIMBRIDGE_OK)
    })
}

/// Exports the established connection for a restart (AEAD-sealed under the state dir's export
/// key, with the B-TID of its key) into `buf`; `*out_len` its length. The live connection goes
/// on (sequence numbers are reserved). Too small: `SIMBRIDGE_ERR_BUFFER_TOO_SMALL`, `*out_len`
/// the size needed, and the same export is kept for the next call. `SIMBRIDGE_ERR_STATE`:
/// nothing established.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `buf` has `cap` writable bytes; `out_len` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_export(
    session: *mut SimbridgeSession,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> c_int {
    with_session(session, |s| {
        check_out(buf, cap, out_len)?;
        let blob = s.export(cap).map_err(|e| too_small(e, out_len))?;
        // SAFETY: `export` checked `blob.len() <= cap`; pointers checked above.
        unsafe { output(&blob, buf, out_len) };
        Ok(SIMBRIDGE_OK)
    })
}

/// Continues a connection exported by `simbridge_session_export` before a restart (same
/// configuration and state dir): no handshake. An export imported once is refused
/// (`SIMBRIDGE_ERR_STATE`): reusing it would repeat sequence numbers.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle; `data` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_import(
    session: *mut SimbridgeSession,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> c_int {
    with_session(session, |s| {
        // SAFETY: `data`/`len` per the contract above.
        let d = unsafe { input(data, len, "data") }?;
        if d.is_empty() {
            return Err(FfiError::Argument("an empty export".into()));
        }
        s.import(now_ms, d)?;
        Ok(SIMBRIDGE_OK)
    })
}

/// Closes the session: a close_notify is left to `simbridge_session_poll_transmit`, and it does
/// not reconnect until the next payload or `simbridge_session_connect`.
/// Thread-safety: never at the same time as another call on this handle (any thread, one at a
/// time); other handles may be used on other threads meanwhile.
///
/// # Safety
/// `session` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_close(session: *mut SimbridgeSession) -> c_int {
    with_session(session, |s| {
        s.close();
        Ok(SIMBRIDGE_OK)
    })
}
