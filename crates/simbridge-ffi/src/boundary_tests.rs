//! Every exported function refuses NULL handles, NULL pointers and bad lengths with an error
//! code (and a message) instead of crashing; a host key callback that refuses or overflows is
//! refused too. Calls the `extern "C"` functions directly, as C would.
//! Unit tests rather than tests/: the crate builds no rlib (see its Cargo.toml).

use crate::simbridge_status::*;
use crate::*;
use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr::{null, null_mut};

fn code(s: simbridge_status) -> c_int {
    s as c_int
}

fn message(h: *const SimbridgeSession) -> String {
    // SAFETY: NULL or a live handle; the message is a valid C string until the next call.
    unsafe { CStr::from_ptr(simbridge_last_error(h)) }
        .to_string_lossy()
        .into_owned()
}

/// Gives identity "dev" and a 16-byte key; `user` non-NULL makes it refuse, as a host can.
unsafe extern "C" fn key_cb(
    user: *mut c_void,
    identity: *mut u8,
    identity_cap: usize,
    identity_len: *mut usize,
    key: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
) -> c_int {
    if !user.is_null() {
        return 7;
    }
    assert!(identity_cap >= 3 && key_cap >= 16);
    // SAFETY: the library passes buffers of the capacities given and writable lengths.
    unsafe {
        std::ptr::copy_nonoverlapping(b"dev".as_ptr(), identity, 3);
        *identity_len = 3;
        std::ptr::write_bytes(key, 0x42, 16);
        *key_len = 16;
    }
    0
}

/// Claims a key longer than the buffer it was given.
unsafe extern "C" fn overflowing_cb(
    _user: *mut c_void,
    _identity: *mut u8,
    _identity_cap: usize,
    identity_len: *mut usize,
    _key: *mut u8,
    key_cap: usize,
    key_len: *mut usize,
) -> c_int {
    // SAFETY: writable lengths from the library.
    unsafe {
        *identity_len = 3;
        *key_len = key_cap + 1;
    }
    0
}

fn config(dir: &std::path::Path) -> CString {
    CString::new(format!(
        "state_dir = \"{}\"\n[[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:9\"\npsk = \"host\"\n",
        dir.display()
    ))
    .expect("no NUL")
}

fn session(dir: &std::path::Path) -> *mut SimbridgeSession {
    let cfg = config(dir);
    let mut h = null_mut();
    // SAFETY: valid strings and out pointer.
    let rc =
        unsafe { simbridge_session_new(cfg.as_ptr(), null(), Some(key_cb), null_mut(), &mut h) };
    assert_eq!(rc, code(SIMBRIDGE_OK), "{}", message(null()));
    assert!(!h.is_null());
    h
}

#[test]
fn null_handles_are_refused_by_every_function() {
    let mut buf = [0u8; 64];
    let (mut len, mut path, mut t) = (0usize, 0u8, 0u64);
    let mut counters = SimbridgeCounters::default();
    let null_err = code(SIMBRIDGE_ERR_NULL);
    let h: *mut SimbridgeSession = null_mut();
    // SAFETY: every call gets a NULL handle, which each must refuse before touching anything.
    unsafe {
        let results = [
            simbridge_session_free(h),
            simbridge_session_connect(h, 0),
            simbridge_session_send(h, buf.as_ptr(), 1, 0),
            simbridge_session_handle_datagram(h, 0, buf.as_ptr(), 1, 0),
            simbridge_session_handle_timeout(h, 0),
            simbridge_session_next_timeout(h, &mut t),
            simbridge_session_poll_transmit(h, buf.as_mut_ptr(), buf.len(), &mut len, &mut path),
            simbridge_session_receive(h, buf.as_mut_ptr(), buf.len(), &mut len),
            simbridge_session_counters(h, &mut counters),
            simbridge_session_address(h, 0, buf.as_mut_ptr().cast(), buf.len(), &mut len),
            simbridge_session_export(h, buf.as_mut_ptr(), buf.len(), &mut len),
            simbridge_session_import(h, buf.as_ptr(), 1, 0),
            simbridge_session_close(h),
        ];
        for (i, rc) in results.iter().enumerate() {
            assert_eq!(*rc, null_err, "function #{i} took a NULL handle");
        }
    }
    assert!(message(null()).contains("NULL"), "{}", message(null()));
    // SAFETY: a static string.
    let v = unsafe { CStr::from_ptr(simbridge_version()) };
    assert_eq!(v.to_str().ok(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(SIMBRIDGE_ABI_VERSION, 1);
    // The shared library's soname carries the ABI version (build.rs sets it).
    assert_eq!(
        env!("SIMBRIDGE_SONAME"),
        format!("libsimbridge.so.{SIMBRIDGE_ABI_VERSION}")
    );
}

#[test]
fn new_refuses_null_and_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let mut h = null_mut();
    // SAFETY: the pointers are valid or NULL, as each case says.
    unsafe {
        assert_eq!(
            simbridge_session_new(cfg.as_ptr(), null(), Some(key_cb), null_mut(), null_mut()),
            code(SIMBRIDGE_ERR_NULL)
        );
        assert_eq!(
            simbridge_session_new(null(), null(), Some(key_cb), null_mut(), &mut h),
            code(SIMBRIDGE_ERR_NULL)
        );
        assert!(h.is_null());
        let bad = CString::new("state_dir = 3").expect("no NUL");
        assert_eq!(
            simbridge_session_new(bad.as_ptr(), null(), None, null_mut(), &mut h),
            code(SIMBRIDGE_ERR_CONFIG)
        );
        assert!(message(null()).contains("state_dir"), "{}", message(null()));
        let not_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(
            simbridge_session_new(not_utf8.as_ptr().cast(), null(), None, null_mut(), &mut h),
            code(SIMBRIDGE_ERR_ARGUMENT)
        );
        // psk = "host" without a callback, a callback that refuses, one that overflows.
        assert_eq!(
            simbridge_session_new(cfg.as_ptr(), null(), None, null_mut(), &mut h),
            code(SIMBRIDGE_ERR_CONFIG)
        );
        let mut flag = 1u8;
        let refuse = (&raw mut flag).cast::<c_void>();
        assert_eq!(
            simbridge_session_new(cfg.as_ptr(), null(), Some(key_cb), refuse, &mut h),
            code(SIMBRIDGE_ERR_KEY)
        );
        assert!(
            message(null()).contains("returned 7"),
            "{}",
            message(null())
        );
        assert_eq!(
            simbridge_session_new(
                cfg.as_ptr(),
                null(),
                Some(overflowing_cb),
                null_mut(),
                &mut h
            ),
            code(SIMBRIDGE_ERR_KEY)
        );
        let route = CString::new("nowhere:1").expect("no NUL");
        assert_eq!(
            simbridge_session_new(
                cfg.as_ptr(),
                route.as_ptr(),
                Some(key_cb),
                null_mut(),
                &mut h
            ),
            code(SIMBRIDGE_ERR_CONFIG)
        );
        assert!(h.is_null());
    }
}

#[test]
fn null_pointers_and_bad_lengths_are_refused_on_a_live_handle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = session(dir.path());
    let mut buf = [0u8; 4];
    let (mut len, mut path) = (0usize, 0u8);
    let (null_err, arg_err) = (code(SIMBRIDGE_ERR_NULL), code(SIMBRIDGE_ERR_ARGUMENT));
    // SAFETY: a live handle; every other pointer is valid or NULL as each case says, and the
    // oversized lengths are refused before any read.
    unsafe {
        assert_eq!(simbridge_session_send(h, null(), 5, 0), null_err);
        assert!(message(h).contains("data is NULL"), "{}", message(h));
        assert_eq!(simbridge_session_send(h, buf.as_ptr(), 0, 0), arg_err);
        assert_eq!(
            simbridge_session_send(h, buf.as_ptr(), usize::MAX, 0),
            arg_err
        );
        assert_eq!(simbridge_session_send(h, buf.as_ptr(), 65_536, 0), arg_err);
        assert_eq!(
            simbridge_session_handle_datagram(h, 0, null(), 5, 0),
            null_err
        );
        assert_eq!(
            simbridge_session_handle_datagram(h, 0, buf.as_ptr(), usize::MAX, 0),
            arg_err
        );
        assert_eq!(
            simbridge_session_handle_datagram(h, 2, buf.as_ptr(), 1, 0),
            arg_err
        );
        assert_eq!(simbridge_session_import(h, null(), 5, 0), null_err);
        assert_eq!(simbridge_session_import(h, buf.as_ptr(), 0, 0), arg_err);
        assert_eq!(
            simbridge_session_import(h, buf.as_ptr(), 4, 0),
            code(SIMBRIDGE_ERR_STATE)
        );
        assert_eq!(simbridge_session_next_timeout(h, null_mut()), null_err);
        assert_eq!(simbridge_session_counters(h, null_mut()), null_err);
        for (b, cap, l) in [
            (null_mut(), 4usize, &mut len as *mut usize),
            (buf.as_mut_ptr(), 4, null_mut()),
        ] {
            assert_eq!(
                simbridge_session_poll_transmit(h, b, cap, l, &mut path),
                null_err
            );
            assert_eq!(simbridge_session_receive(h, b, cap, l), null_err);
            assert_eq!(simbridge_session_export(h, b, cap, l), null_err);
            assert_eq!(simbridge_session_address(h, 0, b.cast(), cap, l), null_err);
        }
        assert_eq!(
            simbridge_session_poll_transmit(h, buf.as_mut_ptr(), 4, &mut len, null_mut()),
            null_err
        );
        assert_eq!(
            simbridge_session_address(h, 9, buf.as_mut_ptr().cast(), 4, &mut len),
            arg_err
        );
        // Nothing established: no export; nothing sent or received yet.
        assert_eq!(
            simbridge_session_export(h, buf.as_mut_ptr(), 4, &mut len),
            code(SIMBRIDGE_ERR_STATE)
        );
        assert_eq!(
            simbridge_session_receive(h, buf.as_mut_ptr(), 4, &mut len),
            code(SIMBRIDGE_EMPTY)
        );
        // A ClientHello does not fit in 4 bytes: too small, with the size needed; it is kept.
        assert_eq!(simbridge_session_connect(h, 1_000), code(SIMBRIDGE_OK));
        assert_eq!(
            simbridge_session_poll_transmit(h, buf.as_mut_ptr(), 4, &mut len, &mut path),
            code(SIMBRIDGE_ERR_BUFFER_TOO_SMALL)
        );
        assert!(len > 4, "needed size {len}");
        let mut big = vec![0u8; len];
        let need = len;
        assert_eq!(
            simbridge_session_poll_transmit(h, big.as_mut_ptr(), big.len(), &mut len, &mut path),
            code(SIMBRIDGE_OK)
        );
        assert_eq!(
            (len, path, big[0]),
            (need, 0, 22),
            "a handshake record on path 0"
        );
        let mut t = 0u64;
        assert_eq!(
            simbridge_session_next_timeout(h, &mut t),
            code(SIMBRIDGE_OK)
        );
        assert!(t > 1_000, "the retransmission deadline is ahead: {t}");
        let mut addr = [0u8; 64];
        assert_eq!(
            simbridge_session_address(h, 1, addr.as_mut_ptr().cast(), addr.len(), &mut len),
            code(SIMBRIDGE_OK)
        );
        assert_eq!(&addr[..len], b"127.0.0.1:9");
        assert_eq!(simbridge_session_free(h), code(SIMBRIDGE_OK));
    }
}
