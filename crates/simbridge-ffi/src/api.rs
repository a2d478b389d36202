//! The exported functions. Each checks its pointers and lengths, runs the safe logic of
//! [`crate::session`] inside `catch_unwind`, and turns the outcome into a status code.
//!
//! Thread-safety, for every function taking a handle: a handle is not synchronised; calls on
//! one handle must not overlap (one thread at a time, any thread). Different handles are
//! independent and may be used from different threads at once.

use crate::session::{HostKey, Inner};
use crate::status::*;
use crate::{SIMBRIDGE_MAX_DATAGRAM, SIMBRIDGE_MAX_IDENTITY, SIMBRIDGE_MAX_KEY};
use gateway::secret::SecretVec;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use zeroize::Zeroizing;

/// An upstream session (opaque).
pub struct SimbridgeSession {
    /// `None` once a panic was caught: the handle is poisoned.
    inner: Option<Inner>,
    error: std::ffi::CString,
}

/// Counters and state of a session (a snapshot).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SimbridgeCounters {
    /// 1 when a DTLS session is established, else 0.
    pub established: u32,
    /// 1 while a GBA bootstrap was asked for and not answered.
    pub bootstrap_pending: u32,
    /// Payloads waiting for a session.
    pub queued: u64,
    /// GBA bootstraps completed.
    pub bootstraps: u64,
    /// GBA bootstraps failed.
    pub bootstrap_failures: u64,
    /// Full handshakes completed.
    pub handshakes_full: u64,
    /// Abbreviated (resumed) handshakes completed.
    pub handshakes_abbreviated: u64,
    /// Sessions continued from an import: no handshake.
    pub handshakes_none_needed: u64,
    /// Handshakes failed.
    pub handshake_failures: u64,
    /// Key changes before expiry (make-before-break).
    pub rekeys: u64,
    /// Application bytes sent upstream.
    pub data_bytes_sent: u64,
    /// Application bytes received from upstream.
    pub data_bytes_received: u64,
    /// All bytes on air (UDP payload, both directions, handshakes included).
    pub bytes_on_air: u64,
    /// Payloads dropped: queue full.
    pub dropped_queue_full: u64,
    /// Queued payloads dropped: no session could be made.
    pub dropped_no_session: u64,
    /// Received records dropped by DTLS (bad MAC, replay, malformed ...).
    pub dropped_records: u64,
}

/// The host's key for a `psk = "host"` route: write the identity (at most `identity_cap`
/// bytes) and the key (at most `key_cap`), set both lengths, return 0; anything else refuses.
/// Called once, inside `simbridge_session_new`, on the thread that called it.
pub type SimbridgeKeyCallback = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        identity: *mut u8,
        identity_cap: usize,
        identity_len: *mut usize,
        key: *mut u8,
        key_cap: usize,
        key_len: *mut usize,
    ) -> c_int,
>;

fn code(s: simbridge_status) -> c_int {
    s as c_int
}

/// Runs `f` on the handle's session with panics caught; records the error message.
pub(crate) fn with_session(
    h: *mut SimbridgeSession,
    f: impl FnOnce(&mut Inner) -> Result<simbridge_status, FfiError>,
) -> c_int {
    if h.is_null() {
        set_thread_error("the session handle is NULL");
        return code(SIMBRIDGE_ERR_NULL);
    }
    // SAFETY: a non-NULL handle comes from `simbridge_session_new` and is not freed yet (the
    // documented contract); calls on one handle do not overlap, so this is the only reference.
    let s = unsafe { &mut *h };
    let run = catch_unwind(AssertUnwindSafe(|| match s.inner.as_mut() {
        Some(inner) => f(inner),
        None => Err(FfiError::Poisoned),
    }));
    match run {
        Ok(Ok(status)) => code(status),
        Ok(Err(e)) => {
            s.error = c_message(&e.to_string());
            code(e.code())
        }
        Err(_) => {
            // The session may be half-updated: never use it again. Its drop could panic too.
            let inner = s.inner.take();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(inner)));
            s.error = c_message("internal error (a panic was caught); free this handle");
            code(SIMBRIDGE_ERR_PANIC)
        }
    }
}

/// `len` bytes at `p`, checked: NULL only with length 0, at most `SIMBRIDGE_MAX_DATAGRAM`.
///
/// # Safety
/// A non-NULL `p` must point to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn input<'a>(
    p: *const u8,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], FfiError> {
    if len > SIMBRIDGE_MAX_DATAGRAM {
        return Err(FfiError::Argument(format!(
            "{what}: {len} bytes, at most {SIMBRIDGE_MAX_DATAGRAM}"
        )));
    }
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::Null(what));
    }
    // SAFETY: non-NULL and, by the caller's contract, `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Copies `data` to the caller's `buf` (capacity `cap`, checked before) and sets `*out_len`.
///
/// # Safety
/// `buf` must point to `cap >= data.len()` writable bytes; `out_len` must be writable.
pub(crate) unsafe fn output(data: &[u8], buf: *mut u8, out_len: *mut usize) {
    // SAFETY: the caller checked the capacity and the pointers; the regions cannot overlap
    // (`data` is ours).
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
        *out_len = data.len();
    }
}

/// Checks an output buffer: `buf` may be NULL only with `cap` 0; `out_len` is required.
pub(crate) fn check_out(buf: *mut u8, cap: usize, out_len: *mut usize) -> Result<(), FfiError> {
    if out_len.is_null() {
        return Err(FfiError::Null("out_len"));
    }
    if buf.is_null() && cap > 0 {
        return Err(FfiError::Null("buf"));
    }
    if cap > isize::MAX as usize {
        return Err(FfiError::Argument(format!(
            "capacity {cap} is out of range"
        )));
    }
    Ok(())
}

/// Sets `*out_len` to the needed size of an item a buffer was too small for.
pub(crate) fn too_small(e: FfiError, out_len: *mut usize) -> FfiError {
    if let FfiError::BufferTooSmall { need, .. } = e {
        // SAFETY: `check_out` made sure `out_len` is not NULL; it is the caller's writable size_t.
        unsafe { *out_len = need };
    }
    e
}

/// The library's version ("0.1.0"), a static NUL-terminated string.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn simbridge_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// The message of the last failed call on `session`, or with `session` NULL, of the last failed
/// call on this thread that had no usable handle (a NULL handle, `simbridge_session_new`). Never
/// NULL; valid until the next call on that handle (or thread). No secret is ever in it.
/// Thread-safety: as the handle's other functions; with NULL, per thread.
///
/// # Safety
/// `session` is NULL or a live handle from `simbridge_session_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_last_error(session: *const SimbridgeSession) -> *const c_char {
    if session.is_null() {
        return thread_error_ptr();
    }
    // SAFETY: a live handle (contract above); only read.
    unsafe { (*session).error.as_ptr() }
}

fn host_key(cb: SimbridgeKeyCallback, user: *mut c_void) -> Result<Option<HostKey>, FfiError> {
    let Some(cb) = cb else { return Ok(None) };
    let mut identity = Zeroizing::new([0u8; SIMBRIDGE_MAX_IDENTITY]);
    let mut key = Zeroizing::new([0u8; SIMBRIDGE_MAX_KEY]);
    let (mut id_len, mut key_len) = (0usize, 0usize);
    // SAFETY: the callback is the host's function of the documented type; the buffers and
    // lengths are ours, valid and as large as the capacities passed.
    let rc = unsafe {
        cb(
            user,
            identity.as_mut_ptr(),
            identity.len(),
            &mut id_len,
            key.as_mut_ptr(),
            key.len(),
            &mut key_len,
        )
    };
    if rc != 0 {
        return Err(FfiError::Key(format!(
            "the key callback refused (returned {rc})"
        )));
    }
    if id_len == 0 || id_len > SIMBRIDGE_MAX_IDENTITY || key_len == 0 || key_len > SIMBRIDGE_MAX_KEY
    {
        return Err(FfiError::Key(format!(
            "the key callback gave an identity of {id_len} bytes and a key of {key_len}: \
             1 to {SIMBRIDGE_MAX_IDENTITY} and 1 to {SIMBRIDGE_MAX_KEY} expected"
        )));
    }
    Ok(Some(HostKey {
        identity: identity[..id_len].to_vec(),
        key: SecretVec::from(&key[..key_len]),
    }))
}

/// Creates the session of one route. `config` is the gateway TOML (NUL-terminated UTF-8);
/// `route` names the route by its `upstream` value, or NULL for the first. `key_callback`
/// (with `user` passed back to it) gives the key of a `psk = "host"` route; NULL for a route
/// keyed by the card (GBA) or a key file. On success `*out` is the new handle. On failure
/// `*out` is NULL and `simbridge_last_error(NULL)` says why. Nothing is sent yet.
/// Thread-safe (no shared state; the callback runs on the calling thread).
///
/// # Safety
/// `config` (and `route` unless NULL) are NUL-terminated strings; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_new(
    config: *const c_char,
    route: *const c_char,
    key_callback: SimbridgeKeyCallback,
    user: *mut c_void,
    out: *mut *mut SimbridgeSession,
) -> c_int {
    let made = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() {
            return Err(FfiError::Null("out"));
        }
        // SAFETY: `out` is writable (contract); cleared first so a failure leaves NULL.
        unsafe { *out = std::ptr::null_mut() };
        if config.is_null() {
            return Err(FfiError::Null("config"));
        }
        // SAFETY: NUL-terminated strings by contract.
        let text = unsafe { CStr::from_ptr(config) }
            .to_str()
            .map_err(|_| FfiError::Argument("config is not UTF-8".into()))?;
        let route = if route.is_null() {
            None
        } else {
            // SAFETY: as above.
            Some(
                unsafe { CStr::from_ptr(route) }
                    .to_str()
                    .map_err(|_| FfiError::Argument("route is not UTF-8".into()))?,
            )
        };
        let key = host_key(key_callback, user)?;
        let inner = Inner::new(text, route, key)?;
        let h = Box::into_raw(Box::new(SimbridgeSession {
            inner: Some(inner),
            error: Default::default(),
        }));
        // SAFETY: checked writable above.
        unsafe { *out = h };
        Ok(())
    }));
    match made {
        Ok(Ok(())) => code(SIMBRIDGE_OK),
        Ok(Err(e)) => {
            set_thread_error(&e.to_string());
            code(e.code())
        }
        Err(_) => {
            set_thread_error("internal error (a panic was caught) while creating the session");
            code(SIMBRIDGE_ERR_PANIC)
        }
    }
}

/// Frees a session (without sending anything: call `simbridge_session_close` and send what it
/// leaves first for a close_notify). Key material is zeroized. NULL: `SIMBRIDGE_ERR_NULL`.
/// Thread-safety: no other call on this handle may run or follow.
///
/// # Safety
/// `session` is NULL or a live handle, never used again after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn simbridge_session_free(session: *mut SimbridgeSession) -> c_int {
    if session.is_null() {
        set_thread_error("the session handle is NULL");
        return code(SIMBRIDGE_ERR_NULL);
    }
    // SAFETY: a live handle from `Box::into_raw` in `simbridge_session_new`, freed once.
    let b = unsafe { Box::from_raw(session) };
    match catch_unwind(AssertUnwindSafe(move || drop(b))) {
        Ok(()) => code(SIMBRIDGE_OK),
        Err(_) => {
            set_thread_error("internal error (a panic was caught) while freeing the session");
            code(SIMBRIDGE_ERR_PANIC)
        }
    }
}
