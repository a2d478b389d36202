//! Hello extensions: a validated list plus typed accessors for the ones we use.
//! Unknown extensions (connection_id, session_ticket, ...) are kept as raw bytes so later
//! issues can read them without touching the parser.

use super::codec::{Reader, put_u16, put_vec8, put_vec16};
use super::{Field, WireError};

/// server_name (RFC 6066)
pub const EXT_SERVER_NAME: u16 = 0;
/// supported_groups (RFC 8422)
pub const EXT_SUPPORTED_GROUPS: u16 = 10;
/// ec_point_formats (RFC 8422)
pub const EXT_EC_POINT_FORMATS: u16 = 11;
/// extended_master_secret (RFC 7627)
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 23;
/// session_ticket (RFC 5077)
pub const EXT_SESSION_TICKET: u16 = 35;
/// connection_id (RFC 9146)
pub const EXT_CONNECTION_ID: u16 = 54;
/// renegotiation_info (RFC 5746)
pub const EXT_RENEGOTIATION_INFO: u16 = 0xFF01;
/// secp256r1 named group
pub const GROUP_SECP256R1: u16 = 23;

/// One extension as on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension type.
    pub typ: u16,
    /// Extension data.
    pub data: Vec<u8>,
}

/// A list of extensions with no duplicate types (RFC 5246 §7.4.1.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions(pub Vec<Extension>);

impl Extensions {
    /// Parses the extensions block that ends a hello (may be absent entirely).
    pub fn parse(r: &mut Reader<'_>) -> Result<Self, WireError> {
        if r.is_empty() {
            return Ok(Self::default());
        }
        let block = r.vec16(Field::Extensions)?;
        let mut er = Reader::new(block);
        let mut out: Vec<Extension> = Vec::new();
        while !er.is_empty() {
            let typ = er.u16(Field::ExtensionType)?;
            let data = er.vec16(Field::ExtensionData)?.to_vec();
            if out.iter().any(|e| e.typ == typ) {
                return Err(WireError::Invalid(Field::DuplicateExtension));
            }
            out.push(Extension { typ, data });
        }
        Ok(Self(out))
    }

    /// Appends the extensions block; nothing at all when empty (saves two bytes).
    pub fn encode(&self, out: &mut Vec<u8>) {
        if self.0.is_empty() {
            return;
        }
        let mut block = Vec::new();
        for e in &self.0 {
            put_u16(&mut block, e.typ);
            put_vec16(&mut block, &e.data);
        }
        put_vec16(out, &block);
    }

    /// Data of the extension `typ`, if present.
    pub fn get(&self, typ: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|e| e.typ == typ)
            .map(|e| e.data.as_slice())
    }

    /// Adds an extension.
    pub fn push(&mut self, typ: u16, data: Vec<u8>) {
        self.0.push(Extension { typ, data });
    }

    /// True when extended_master_secret is present (and empty, as RFC 7627 requires).
    pub fn extended_master_secret(&self) -> Result<bool, WireError> {
        match self.get(EXT_EXTENDED_MASTER_SECRET) {
            None => Ok(false),
            Some([]) => Ok(true),
            Some(_) => Err(WireError::Invalid(Field::ExtendedMasterSecret)),
        }
    }

    /// The renegotiated_connection field of renegotiation_info, if present.
    pub fn renegotiation_info(&self) -> Result<Option<&[u8]>, WireError> {
        match self.get(EXT_RENEGOTIATION_INFO) {
            None => Ok(None),
            Some(d) => {
                let mut r = Reader::new(d);
                let v = r.vec8(Field::RenegotiationInfo)?;
                r.finish(Field::RenegotiationInfo)?;
                Ok(Some(v))
            }
        }
    }

    /// The host_name of server_name, if present.
    pub fn server_name(&self) -> Result<Option<String>, WireError> {
        let Some(d) = self.get(EXT_SERVER_NAME) else {
            return Ok(None);
        };
        if d.is_empty() {
            // a server acknowledges SNI with an empty extension
            return Ok(None);
        }
        let mut r = Reader::new(d);
        let list = r.vec16(Field::ServerNameList)?;
        r.finish(Field::ServerName)?;
        let mut lr = Reader::new(list);
        while !lr.is_empty() {
            let name_type = lr.u8(Field::NameType)?;
            let name = lr.vec16(Field::HostName)?;
            if name_type == 0 {
                let s =
                    std::str::from_utf8(name).map_err(|_| WireError::Invalid(Field::HostName))?;
                if s.is_empty() || !s.is_ascii() {
                    return Err(WireError::Invalid(Field::HostName));
                }
                return Ok(Some(s.to_owned()));
            }
        }
        Ok(None)
    }

    /// The CID of a connection_id extension (RFC 9146 §3: `opaque cid<0..2^8-1>`), if present.
    pub fn connection_id(&self) -> Result<Option<Vec<u8>>, WireError> {
        let Some(d) = self.get(EXT_CONNECTION_ID) else {
            return Ok(None);
        };
        let mut r = Reader::new(d);
        let cid = r.vec8(Field::ConnectionId)?.to_vec();
        r.finish(Field::ConnectionId)?;
        Ok(Some(cid))
    }

    /// The supported_groups list, if present.
    pub fn supported_groups(&self) -> Result<Option<Vec<u16>>, WireError> {
        let Some(d) = self.get(EXT_SUPPORTED_GROUPS) else {
            return Ok(None);
        };
        let mut r = Reader::new(d);
        let list = r.vec16(Field::SupportedGroups)?;
        r.finish(Field::SupportedGroups)?;
        if list.len() % 2 != 0 {
            return Err(WireError::Invalid(Field::SupportedGroups));
        }
        Ok(Some(
            list.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ))
    }
}

/// server_name extension data for `host`.
pub fn server_name_data(host: &str) -> Vec<u8> {
    let mut entry = vec![0u8];
    put_vec16(&mut entry, host.as_bytes());
    let mut out = Vec::new();
    put_vec16(&mut out, &entry);
    out
}

/// connection_id extension data carrying `cid` (at most 255 bytes; longer is cut).
pub fn connection_id_data(cid: &[u8]) -> Vec<u8> {
    let cid = cid.get(..cid.len().min(255)).unwrap_or(cid);
    let mut out = Vec::with_capacity(1 + cid.len());
    put_vec8(&mut out, cid);
    out
}

/// supported_groups data with secp256r1 only.
pub fn supported_groups_p256() -> Vec<u8> {
    let mut out = Vec::new();
    put_vec16(&mut out, &GROUP_SECP256R1.to_be_bytes());
    out
}

/// ec_point_formats data with "uncompressed" only.
pub fn ec_point_formats_uncompressed() -> Vec<u8> {
    let mut out = Vec::new();
    put_vec8(&mut out, &[0]);
    out
}

/// renegotiation_info data for an initial handshake (empty renegotiated_connection).
pub fn renegotiation_info_initial() -> Vec<u8> {
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_round_trip_and_duplicates_rejected() {
        let mut e = Extensions::default();
        e.push(EXT_SERVER_NAME, server_name_data("naf.example"));
        e.push(EXT_EXTENDED_MASTER_SECRET, vec![]);
        let mut out = Vec::new();
        e.encode(&mut out);
        let parsed = Extensions::parse(&mut Reader::new(&out)).unwrap();
        assert_eq!(
            parsed.server_name().unwrap().as_deref(),
            Some("naf.example")
        );
        assert!(parsed.extended_master_secret().unwrap());
        let dup = [0, 8, 0, 23, 0, 0, 0, 23, 0, 0];
        let mut c = Extensions::default();
        c.push(EXT_CONNECTION_ID, connection_id_data(&[1, 2]));
        assert_eq!(c.get(EXT_CONNECTION_ID), Some(&[2, 1, 2][..]));
        assert_eq!(c.connection_id().unwrap(), Some(vec![1, 2]));
        let mut z = Extensions::default();
        z.push(EXT_CONNECTION_ID, connection_id_data(&[]));
        assert_eq!(z.connection_id().unwrap(), Some(vec![]));
        let mut bad = Extensions::default();
        bad.push(EXT_CONNECTION_ID, vec![3, 1]);
        assert!(bad.connection_id().is_err());
        assert!(Extensions::parse(&mut Reader::new(&dup)).is_err());
    }
}
