//! ClientHello, HelloVerifyRequest and ServerHello (RFC 6347 §4.2.1, RFC 5246 §7.4.1).

use super::codec::{Reader, put_u16, put_vec8, put_vec16};
use super::extensions::Extensions;
use super::record::{DTLS10, DTLS12};
use super::{Field, WireError};

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746): cheaper than an empty renegotiation_info.
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;
/// Largest cookie (RFC 6347: opaque cookie<0..2^8-1>).
pub const MAX_COOKIE: usize = 255;

/// A parsed ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// client_version.
    pub version: u16,
    /// Client random.
    pub random: [u8; 32],
    /// Session id (resumption issue).
    pub session_id: Vec<u8>,
    /// Cookie from a HelloVerifyRequest (empty on the first hello).
    pub cookie: Vec<u8>,
    /// Offered cipher suites, in preference order.
    pub cipher_suites: Vec<u16>,
    /// Compression methods (must include null).
    pub compression_methods: Vec<u8>,
    /// Extensions.
    pub extensions: Extensions,
}

impl ClientHello {
    /// Parses a ClientHello body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let version = r.u16(Field::ClientVersion)?;
        if version != DTLS12 && version != DTLS10 {
            return Err(WireError::Invalid(Field::ClientVersion));
        }
        let random = read_random(&mut r)?;
        let session_id = r.vec8(Field::SessionId)?;
        if session_id.len() > 32 {
            return Err(WireError::Invalid(Field::SessionId));
        }
        let cookie = r.vec8(Field::Cookie)?.to_vec();
        let suites = r.vec16(Field::CipherSuites)?;
        if suites.is_empty() || suites.len() % 2 != 0 {
            return Err(WireError::Invalid(Field::CipherSuites));
        }
        let cipher_suites = suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let compression_methods = r.vec8(Field::CompressionMethods)?.to_vec();
        if !compression_methods.contains(&0) {
            return Err(WireError::Invalid(Field::CompressionMethods));
        }
        let extensions = Extensions::parse(&mut r)?;
        r.finish(Field::ClientHello)?;
        Ok(Self {
            version,
            random,
            session_id: session_id.to_vec(),
            cookie,
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        put_u16(&mut out, self.version);
        out.extend_from_slice(&self.random);
        put_vec8(&mut out, &self.session_id);
        put_vec8(&mut out, &self.cookie);
        let suites: Vec<u8> = self
            .cipher_suites
            .iter()
            .flat_map(|s| s.to_be_bytes())
            .collect();
        put_vec16(&mut out, &suites);
        put_vec8(&mut out, &self.compression_methods);
        self.extensions.encode(&mut out);
        out
    }

    /// The bytes a cookie binds: everything but the cookie itself (RFC 6347 §4.2.1 says the
    /// second hello repeats the first, so both give the same input). Extensions are taken in
    /// type order: wolfSSL 5.9 reorders them in its second hello when it offers a ticket.
    pub fn cookie_input(&self) -> Vec<u8> {
        let mut c = self.clone();
        c.cookie.clear();
        c.extensions.0.sort_by_key(|e| e.typ);
        c.encode()
    }

    /// True when the client signalled secure renegotiation (SCSV or empty renegotiation_info).
    pub fn secure_renegotiation(&self) -> Result<bool, WireError> {
        if self.cipher_suites.contains(&EMPTY_RENEGOTIATION_INFO_SCSV) {
            return Ok(true);
        }
        match self.extensions.renegotiation_info()? {
            None => Ok(false),
            Some([]) => Ok(true),
            Some(_) => Err(WireError::Invalid(Field::RenegotiationInfo)),
        }
    }
}

/// A HelloVerifyRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloVerifyRequest {
    /// server_version (RFC 6347 recommends DTLS 1.0 here).
    pub version: u16,
    /// Cookie.
    pub cookie: Vec<u8>,
}

impl HelloVerifyRequest {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let version = r.u16(Field::ServerVersion)?;
        let cookie = r.vec8(Field::Cookie)?.to_vec();
        r.finish(Field::HelloVerifyRequest)?;
        if cookie.is_empty() {
            return Err(WireError::Invalid(Field::EmptyCookie));
        }
        Ok(Self { version, cookie })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.cookie.len());
        put_u16(&mut out, self.version);
        put_vec8(&mut out, &self.cookie);
        out
    }
}

/// A parsed ServerHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// server_version.
    pub version: u16,
    /// Server random.
    pub random: [u8; 32],
    /// Session id (resumption issue).
    pub session_id: Vec<u8>,
    /// Chosen suite.
    pub cipher_suite: u16,
    /// Chosen compression (must be null).
    pub compression_method: u8,
    /// Extensions.
    pub extensions: Extensions,
}

impl ServerHello {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let version = r.u16(Field::ServerVersion)?;
        let random = read_random(&mut r)?;
        let session_id = r.vec8(Field::SessionId)?;
        if session_id.len() > 32 {
            return Err(WireError::Invalid(Field::SessionId));
        }
        let cipher_suite = r.u16(Field::CipherSuite)?;
        let compression_method = r.u8(Field::CompressionMethod)?;
        let extensions = Extensions::parse(&mut r)?;
        r.finish(Field::ServerHello)?;
        Ok(Self {
            version,
            random,
            session_id: session_id.to_vec(),
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        put_u16(&mut out, self.version);
        out.extend_from_slice(&self.random);
        put_vec8(&mut out, &self.session_id);
        put_u16(&mut out, self.cipher_suite);
        out.push(self.compression_method);
        self.extensions.encode(&mut out);
        out
    }
}

fn read_random(r: &mut Reader<'_>) -> Result<[u8; 32], WireError> {
    let b = r.take(32, Field::Random)?;
    let mut random = [0u8; 32];
    random.copy_from_slice(b);
    Ok(random)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::extensions::EXT_EXTENDED_MASTER_SECRET;

    fn hello() -> ClientHello {
        let mut extensions = Extensions::default();
        extensions.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        ClientHello {
            version: DTLS12,
            random: [3; 32],
            session_id: vec![],
            cookie: vec![1, 2, 3],
            cipher_suites: vec![0xC0A8, EMPTY_RENEGOTIATION_INFO_SCSV],
            compression_methods: vec![0],
            extensions,
        }
    }

    #[test]
    fn client_hello_round_trip_and_truncations() {
        let ch = hello();
        let body = ch.encode();
        assert_eq!(ClientHello::parse(&body).unwrap(), ch);
        assert!(ch.secure_renegotiation().unwrap());
        for n in 0..body.len() {
            // every truncation fails cleanly (the one that drops the whole extension
            // block is itself a valid hello without extensions)
            if n != body.len() - 6 {
                assert!(ClientHello::parse(&body[..n]).is_err(), "len {n}");
            }
        }
    }

    #[test]
    fn a_truncated_client_hello_names_the_field_it_ended_in() {
        let body = hello().encode();
        // version (2) + random (32) + session_id (1 + 0) + cookie length (1) + 2 of its 3 bytes
        let cut = &body[..2 + 32 + 1 + 1 + 2];
        let e = ClientHello::parse(cut).unwrap_err();
        assert_eq!(e, WireError::Truncated(Field::Cookie));
        assert_eq!(e.field(), Field::Cookie);
        assert_eq!(e.to_string(), "truncated cookie");
        assert_eq!(
            crate::Error::from(e).to_string(),
            "malformed handshake message: truncated cookie"
        );
        let e = ClientHello::parse(&body[..1]).unwrap_err();
        assert_eq!(e, WireError::Truncated(Field::ClientVersion));
        let mut long = body.clone();
        long.push(0);
        let e = ClientHello::parse(&long).unwrap_err();
        assert_eq!(e, WireError::Trailing(Field::ClientHello));
        assert_eq!(e.to_string(), "trailing bytes after client_hello");
    }

    #[test]
    fn cookie_input_ignores_cookie() {
        let a = hello();
        let mut b = hello();
        b.cookie = vec![9; 16];
        assert_eq!(a.cookie_input(), b.cookie_input());
    }

    #[test]
    fn cookie_input_ignores_extension_order_but_not_content() {
        let mut a = hello();
        a.extensions.push(35, vec![1, 2]);
        let mut b = a.clone();
        b.extensions.0.reverse();
        assert_eq!(a.cookie_input(), b.cookie_input());
        b.extensions.0[0].data = vec![1, 3];
        assert_ne!(a.cookie_input(), b.cookie_input());
    }

    #[test]
    fn server_hello_round_trip() {
        let sh = ServerHello {
            version: DTLS12,
            random: [4; 32],
            session_id: vec![],
            cipher_suite: 0xC0A8,
            compression_method: 0,
            extensions: Extensions::default(),
        };
        assert_eq!(ServerHello::parse(&sh.encode()).unwrap(), sh);
        let hvr = HelloVerifyRequest {
            version: DTLS10,
            cookie: vec![5; 16],
        };
        assert_eq!(HelloVerifyRequest::parse(&hvr.encode()).unwrap(), hvr);
    }
}
