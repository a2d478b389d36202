//! The DTLS 1.3 ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4; RFC 9147 §5.3):
//! one structure, told apart by the HelloRetryRequest's fixed random.
//!
//! A ServerHello for an external PSK carries supported_versions, pre_shared_key (the selected
//! identity) and, in `psk_dhe_ke`, key_share (the server's share). A HelloRetryRequest carries
//! supported_versions, the cookie, and key_share with only the group it asks for.

use super::handshake::EXT_CONNECTION_ID;
use super::hello::{DTLS13, EXT_PRE_SHARED_KEY, EXT_SUPPORTED_VERSIONS, LEGACY_VERSION};
use super::key_share::EXT_KEY_SHARE;
use crate::wire::codec::{Reader, put_u16, put_vec8, put_vec16};
use crate::wire::{Field, WireError};

/// The cookie extension.
pub const EXT_COOKIE: u16 = 44;

/// SHA-256("HelloRetryRequest"): the random of every HelloRetryRequest (RFC 8446 §4.1.3).
pub const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// What the server's key_share says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKeyShare {
    /// ServerHello: the server's share in the chosen group.
    Share(u16, Vec<u8>),
    /// HelloRetryRequest: the group the client is to send a share in.
    Group(u16),
}

/// A ServerHello or HelloRetryRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello13 {
    /// ServerHello.random ([`HRR_RANDOM`] in a HelloRetryRequest).
    pub random: [u8; 32],
    /// legacy_session_id_echo.
    pub session_id: Vec<u8>,
    /// The chosen cipher suite.
    pub suite: u16,
    /// The selected PSK identity (ServerHello only).
    pub selected_psk: Option<u16>,
    /// The key_share extension.
    pub key_share: Option<ServerKeyShare>,
    /// The cookie (HelloRetryRequest only).
    pub cookie: Option<Vec<u8>>,
    /// The server's Connection ID (ServerHello only, when the client offered connection_id).
    pub cid: Option<Vec<u8>>,
}

impl ServerHello13 {
    /// Whether this is a HelloRetryRequest.
    pub fn is_retry(&self) -> bool {
        self.random == HRR_RANDOM
    }

    /// The body (what follows the handshake header).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        put_u16(&mut b, LEGACY_VERSION);
        b.extend_from_slice(&self.random);
        put_vec8(&mut b, &self.session_id);
        put_u16(&mut b, self.suite);
        b.push(0);
        let mut ext = Vec::new();
        put_u16(&mut ext, EXT_SUPPORTED_VERSIONS);
        put_vec16(&mut ext, &DTLS13.to_be_bytes());
        match &self.key_share {
            Some(ServerKeyShare::Share(group, key)) => {
                let mut d = Vec::with_capacity(key.len() + 4);
                put_u16(&mut d, *group);
                put_vec16(&mut d, key);
                put_u16(&mut ext, EXT_KEY_SHARE);
                put_vec16(&mut ext, &d);
            }
            Some(ServerKeyShare::Group(group)) => {
                put_u16(&mut ext, EXT_KEY_SHARE);
                put_vec16(&mut ext, &group.to_be_bytes());
            }
            None => {}
        }
        if let Some(i) = self.selected_psk {
            put_u16(&mut ext, EXT_PRE_SHARED_KEY);
            put_vec16(&mut ext, &i.to_be_bytes());
        }
        if let Some(c) = &self.cid {
            put_u16(&mut ext, EXT_CONNECTION_ID);
            let mut d = Vec::with_capacity(c.len() + 1);
            put_vec8(&mut d, c);
            put_vec16(&mut ext, &d);
        }
        if let Some(c) = &self.cookie {
            put_u16(&mut ext, EXT_COOKIE);
            let mut d = Vec::with_capacity(c.len() + 2);
            put_vec16(&mut d, c);
            put_vec16(&mut ext, &d);
        }
        put_vec16(&mut b, &ext);
        b
    }

    /// Parses a ServerHello or HelloRetryRequest body. Extensions that do not belong in the
    /// one it is, unknown ones and repeated ones are refused (RFC 8446 §4.1.3, §4.1.4: the
    /// client offered nothing else).
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        if r.u16(Field::ServerVersion)? != LEGACY_VERSION {
            return Err(WireError::Invalid(Field::ServerVersion));
        }
        let random: [u8; 32] = r
            .take(32, Field::Random)?
            .try_into()
            .map_err(|_| WireError::Truncated(Field::Random))?;
        let session_id = r.vec8(Field::SessionId)?.to_vec();
        let suite = r.u16(Field::CipherSuite)?;
        if r.u8(Field::CompressionMethod)? != 0 {
            return Err(WireError::Invalid(Field::CompressionMethod));
        }
        let mut ext = Reader::new(r.vec16(Field::Extensions)?);
        r.finish(Field::ServerHello)?;
        let retry = random == HRR_RANDOM;
        let mut seen = Vec::new();
        let (mut version, mut selected_psk, mut key_share, mut cookie) = (None, None, None, None);
        let mut cid = None;
        while !ext.is_empty() {
            let t = ext.u16(Field::ExtensionType)?;
            let mut d = Reader::new(ext.vec16(Field::ExtensionData)?);
            if seen.contains(&t) {
                return Err(WireError::Invalid(Field::DuplicateExtension));
            }
            seen.push(t);
            match t {
                EXT_SUPPORTED_VERSIONS => version = Some(d.u16(Field::ExtensionData)?),
                EXT_PRE_SHARED_KEY if !retry => selected_psk = Some(d.u16(Field::PskIdentities)?),
                EXT_KEY_SHARE if retry => {
                    key_share = Some(ServerKeyShare::Group(d.u16(Field::KeyShare)?))
                }
                EXT_KEY_SHARE => {
                    let group = d.u16(Field::KeyShare)?;
                    let key = d.vec16(Field::KeyShare)?;
                    if key.is_empty() {
                        return Err(WireError::Invalid(Field::KeyShare));
                    }
                    key_share = Some(ServerKeyShare::Share(group, key.to_vec()));
                }
                EXT_CONNECTION_ID if !retry => cid = Some(d.vec8(Field::ConnectionId)?.to_vec()),
                EXT_COOKIE if retry => {
                    let c = d.vec16(Field::RetryCookie)?;
                    if c.is_empty() {
                        return Err(WireError::Invalid(Field::RetryCookie));
                    }
                    cookie = Some(c.to_vec());
                }
                _ => return Err(WireError::Invalid(Field::ExtensionType)),
            }
            d.finish(Field::ExtensionData)?;
        }
        if version != Some(DTLS13) {
            return Err(WireError::Invalid(Field::ServerVersion));
        }
        Ok(Self {
            random,
            session_id,
            suite,
            selected_psk,
            key_share,
            cookie,
            cid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> ServerHello13 {
        ServerHello13 {
            random: [3; 32],
            session_id: Vec::new(),
            suite: 0x1305,
            selected_psk: Some(0),
            key_share: Some(ServerKeyShare::Share(0x001d, vec![9; 32])),
            cookie: None,
            cid: Some(vec![0xc1, 0xd5]),
        }
    }

    fn retry() -> ServerHello13 {
        ServerHello13 {
            random: HRR_RANDOM,
            session_id: vec![1, 2],
            suite: 0x1301,
            selected_psk: None,
            key_share: Some(ServerKeyShare::Group(0x0017)),
            cookie: Some(vec![5; 57]),
            cid: None,
        }
    }

    #[test]
    fn hello_and_retry_round_trip_and_every_cut_is_refused() {
        for m in [hello(), retry()] {
            let b = m.encode();
            let p = ServerHello13::parse(&b).expect("parse");
            assert_eq!(p, m);
            assert_eq!(p.is_retry(), m.random == HRR_RANDOM);
            for cut in 0..b.len() {
                assert!(ServerHello13::parse(&b[..cut]).is_err(), "cut {cut}");
            }
        }
        // psk_ke: no key share; 52 bytes with an empty session id
        let plain = ServerHello13 {
            key_share: None,
            cid: None,
            ..hello()
        };
        assert_eq!(plain.encode().len(), 52);
        // X25519 adds 4 + 4 + 32, a 2-byte CID 4 + 1 + 2
        assert_eq!(hello().encode().len(), 92 + 7);
    }

    #[test]
    fn extensions_out_of_place_are_refused() {
        // a cookie in a ServerHello, a PSK selection or a CID in a HelloRetryRequest
        let mut h = hello();
        h.cookie = Some(vec![1]);
        assert_eq!(
            ServerHello13::parse(&h.encode()),
            Err(WireError::Invalid(Field::ExtensionType))
        );
        let mut r = retry();
        r.selected_psk = Some(0);
        assert_eq!(
            ServerHello13::parse(&r.encode()),
            Err(WireError::Invalid(Field::ExtensionType))
        );
        let mut r = retry();
        r.cid = Some(vec![1]);
        assert_eq!(
            ServerHello13::parse(&r.encode()),
            Err(WireError::Invalid(Field::ExtensionType))
        );
        let mut r = retry();
        r.cookie = Some(Vec::new());
        assert_eq!(
            ServerHello13::parse(&r.encode()),
            Err(WireError::Invalid(Field::RetryCookie))
        );
    }
}
