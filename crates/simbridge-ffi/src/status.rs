//! Status codes every entry point returns, the typed errors behind them, and where the message of
//! the last error lives (per handle; per thread for calls without a usable handle).

use std::cell::RefCell;
use std::ffi::{CString, c_char};

/// What a call did. Negative values are errors; `simbridge_last_error` tells more.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum simbridge_status {
    /// Done.
    SIMBRIDGE_OK = 0,
    /// Nothing to return now (no datagram to send, no payload received, no timer).
    SIMBRIDGE_EMPTY = 1,
    /// A NULL handle or pointer where one is required.
    SIMBRIDGE_ERR_NULL = -1,
    /// A bad argument: a length out of range, text that is not UTF-8, an unknown selector.
    SIMBRIDGE_ERR_ARGUMENT = -2,
    /// The configuration was refused (the message names the key).
    SIMBRIDGE_ERR_CONFIG = -3,
    /// The card or the key callback could not give a key.
    SIMBRIDGE_ERR_KEY = -4,
    /// The output buffer is too small; the needed size is in `*out_len`, the item is kept.
    SIMBRIDGE_ERR_BUFFER_TOO_SMALL = -5,
    /// Export or import failed (nothing established, a refused or replayed export, the state dir).
    SIMBRIDGE_ERR_STATE = -6,
    /// An internal failure was caught at the boundary; the handle is unusable (free it).
    SIMBRIDGE_ERR_PANIC = -7,
    /// The handle failed before with `SIMBRIDGE_ERR_PANIC`; only `simbridge_session_free` works.
    SIMBRIDGE_ERR_POISONED = -8,
}

pub use simbridge_status::*;

/// A failed call, typed; its code crosses the boundary, its message stays behind the handle.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    /// A required pointer was NULL.
    #[error("{0} is NULL")]
    Null(&'static str),
    /// A bad argument.
    #[error("{0}")]
    Argument(String),
    /// A refused configuration.
    #[error("{0}")]
    Config(String),
    /// No key from the card or the callback.
    #[error("{0}")]
    Key(String),
    /// The output buffer is too small.
    #[error("the buffer holds {have} bytes, {need} are needed")]
    BufferTooSmall {
        /// Its capacity.
        have: usize,
        /// What the item needs.
        need: usize,
    },
    /// Export or import.
    #[error("{0}")]
    State(String),
    /// The handle is poisoned.
    #[error("this handle failed earlier with an internal error; free it")]
    Poisoned,
}

impl FfiError {
    /// The status code of this error.
    pub fn code(&self) -> simbridge_status {
        match self {
            FfiError::Null(_) => SIMBRIDGE_ERR_NULL,
            FfiError::Argument(_) => SIMBRIDGE_ERR_ARGUMENT,
            FfiError::Config(_) => SIMBRIDGE_ERR_CONFIG,
            FfiError::Key(_) => SIMBRIDGE_ERR_KEY,
            FfiError::BufferTooSmall { .. } => SIMBRIDGE_ERR_BUFFER_TOO_SMALL,
            FfiError::State(_) => SIMBRIDGE_ERR_STATE,
            FfiError::Poisoned => SIMBRIDGE_ERR_POISONED,
        }
    }
}

/// A message as a C string (an interior NUL, which no message of ours has, becomes '?').
pub fn c_message(text: &str) -> CString {
    CString::new(text.replace('\0', "?")).unwrap_or_default()
}

thread_local! {
    /// The last error of a call on this thread that had no usable handle (NULL, or `new` failing).
    static THREAD_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records the message of a call without a usable handle.
pub fn set_thread_error(text: &str) {
    THREAD_ERROR.with(|e| *e.borrow_mut() = c_message(text));
}

/// This thread's last handle-less message; valid until the next failing call on this thread.
pub fn thread_error_ptr() -> *const c_char {
    THREAD_ERROR.with(|e| e.borrow().as_ptr())
}
