//! Sans-IO DTLS engine (RFC 6347 + RFC 4279 PSK). No sockets, threads or clocks: time is an input.
//!
//! Lands with the DTLS 1.2 PSK engine issue.
