//! HTTP Digest AKA (RFC 3310, AKAv1-MD5) as used on Ub (TS 24.109 §4): header parsing and the
//! digest arithmetic (RFC 2617 §3.2.2 with qop=auth-int), shared by the client and our BSF.
//!
//! The password is RES as raw octets (RFC 3310 §3.4), or empty when the request carries AUTS.

use super::GbaError;
use md5::{Digest, Md5};

/// The algorithm token of Digest AKA version 1.
pub const ALGORITHM: &str = "AKAv1-MD5";
/// The quality of protection used on Ub (integrity of the message body).
pub const QOP_AUTH_INT: &str = "auth-int";
/// qop "auth" (RFC 2617): the response digest does not cover a body.
pub const QOP_AUTH: &str = "auth";

/// Most parameters accepted in one header (a defence against absurd input).
const MAX_PARAMS: usize = 32;
/// Longest header accepted.
pub const MAX_HEADER: usize = 8 * 1024;

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Parses `Digest k=v, k="v", …` into (lower-case name, value) pairs. Quoted values may contain
/// commas and backslash escapes. Errors on anything else.
pub fn parse_digest_header(header: &str) -> Result<Vec<(String, String)>, GbaError> {
    let bad = |why: &str| GbaError::BadHeader(why.to_string());
    if header.len() > MAX_HEADER {
        return Err(bad("header too long"));
    }
    let h = header.trim_start();
    let scheme = h.get(..6).ok_or_else(|| bad("not a Digest header"))?;
    if !scheme.eq_ignore_ascii_case("digest") || !h.get(6..7).is_some_and(|c| c == " " || c == "\t")
    {
        return Err(bad("not a Digest header"));
    }
    let mut chars = h.get(7..).unwrap_or_default().chars().peekable();
    let mut out: Vec<(String, String)> = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                name.push(c.to_ascii_lowercase());
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if name.is_empty() || chars.next() != Some('=') {
            return Err(bad("expected name=value"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(
                        chars
                            .next()
                            .ok_or_else(|| bad("unterminated quoted string"))?,
                    ),
                    Some(c) => value.push(c),
                    None => return Err(bad("unterminated quoted string")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                if c == '"' {
                    return Err(bad("stray quote"));
                }
                value.push(c);
                chars.next();
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if !matches!(chars.peek(), None | Some(',')) {
            return Err(bad("expected a comma between parameters"));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(bad(&format!("parameter {name} given twice")));
        }
        if out.len() >= MAX_PARAMS {
            return Err(bad("too many parameters"));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A `WWW-Authenticate: Digest` challenge from the BSF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Realm (the BSF host name).
    pub realm: String,
    /// base64(RAND ‖ AUTN ‖ server data).
    pub nonce: String,
    /// Opaque value to echo, if any.
    pub opaque: Option<String>,
    /// The qop options offered (must include auth-int).
    pub qop: Vec<String>,
    /// Algorithm (AKAv1-MD5).
    pub algorithm: String,
    /// Whether the server flagged the previous nonce as stale.
    pub stale: bool,
}

impl Challenge {
    /// Parses a challenge header.
    pub fn parse(header: &str) -> Result<Self, GbaError> {
        let p = parse_digest_header(header)?;
        let need = |n: &str| {
            get(&p, n)
                .map(str::to_string)
                .ok_or_else(|| GbaError::BadHeader(format!("challenge has no {n}")))
        };
        Ok(Self {
            realm: need("realm")?,
            nonce: need("nonce")?,
            opaque: get(&p, "opaque").map(str::to_string),
            qop: get(&p, "qop")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            algorithm: get(&p, "algorithm").unwrap_or("MD5").to_string(),
            stale: get(&p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// Renders the header value.
    pub fn to_header(&self) -> String {
        let mut s = format!(
            "Digest realm={}, nonce={}, algorithm={}, qop={}",
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm,
            quote(&self.qop.join(","))
        );
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        if self.stale {
            s.push_str(", stale=TRUE");
        }
        s
    }
}

/// The `Authorization: Digest` credentials of a Ub request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// IMPI (or TMPI).
    pub username: String,
    /// Realm.
    pub realm: String,
    /// Nonce being answered (empty on the first request).
    pub nonce: String,
    /// Request URI.
    pub uri: String,
    /// Response digest (32 hex digits; empty on the first request).
    pub response: String,
    /// Quality of protection (auth-int), absent on the first request.
    pub qop: Option<String>,
    /// Nonce count (8 hex digits).
    pub nc: Option<String>,
    /// Client nonce.
    pub cnonce: Option<String>,
    /// Opaque echo.
    pub opaque: Option<String>,
    /// Algorithm.
    pub algorithm: Option<String>,
    /// base64(AUTS) on a synchronisation failure.
    pub auts: Option<String>,
}

impl Credentials {
    /// Parses an Authorization header; username, realm, nonce, uri and response are required
    /// (nonce and response may be empty on the first request).
    pub fn parse(header: &str) -> Result<Self, GbaError> {
        let p = parse_digest_header(header)?;
        let need = |n: &str| {
            get(&p, n)
                .map(str::to_string)
                .ok_or_else(|| GbaError::BadHeader(format!("credentials have no {n}")))
        };
        let opt = |n: &str| get(&p, n).map(str::to_string);
        Ok(Self {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            qop: opt("qop"),
            nc: opt("nc"),
            cnonce: opt("cnonce"),
            opaque: opt("opaque"),
            algorithm: opt("algorithm"),
            auts: opt("auts"),
        })
    }

    /// Renders the header value (quoting per RFC 2617: qop, nc and algorithm are tokens).
    pub fn to_header(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, nonce={}, uri={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri)
        );
        if let Some(q) = &self.qop {
            s.push_str(&format!(", qop={q}"));
        }
        if let Some(nc) = &self.nc {
            s.push_str(&format!(", nc={nc}"));
        }
        if let Some(c) = &self.cnonce {
            s.push_str(&format!(", cnonce={}", quote(c)));
        }
        s.push_str(&format!(", response={}", quote(&self.response)));
        if let Some(o) = &self.opaque {
            s.push_str(&format!(", opaque={}", quote(o)));
        }
        if let Some(a) = &self.algorithm {
            s.push_str(&format!(", algorithm={a}"));
        }
        if let Some(a) = &self.auts {
            s.push_str(&format!(", auts={}", quote(a)));
        }
        s
    }
}

/// Inputs of one digest computation.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// username.
    pub username: &'a str,
    /// realm.
    pub realm: &'a str,
    /// nonce.
    pub nonce: &'a str,
    /// nc.
    pub nc: &'a str,
    /// cnonce.
    pub cnonce: &'a str,
    /// digest-uri.
    pub uri: &'a str,
}

impl<'a> From<&'a Credentials> for DigestInput<'a> {
    /// The digest input an Authorization header's credentials were computed over (absent
    /// `nc` and `cnonce` are empty).
    fn from(creds: &'a Credentials) -> Self {
        Self {
            username: &creds.username,
            realm: &creds.realm,
            nonce: &creds.nonce,
            nc: creds.nc.as_deref().unwrap_or_default(),
            cnonce: creds.cnonce.as_deref().unwrap_or_default(),
            uri: &creds.uri,
        }
    }
}

/// HA1 = MD5(username ":" realm ":" password), hex.
fn ha1(i: &DigestInput<'_>, password: &[u8]) -> String {
    md5_hex(&[
        i.username.as_bytes(),
        b":",
        i.realm.as_bytes(),
        b":",
        password,
    ])
}

fn with_ha2(i: &DigestInput<'_>, password: &[u8], method: &str, body: &[u8]) -> String {
    let body_hash = md5_hex(&[body]);
    let ha2 = md5_hex(&[
        method.as_bytes(),
        b":",
        i.uri.as_bytes(),
        b":",
        body_hash.as_bytes(),
    ]);
    kd(i, password, QOP_AUTH_INT, &ha2)
}

/// MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2), hex.
fn kd(i: &DigestInput<'_>, password: &[u8], qop: &str, ha2: &str) -> String {
    let h1 = ha1(i, password);
    md5_hex(&[
        h1.as_bytes(),
        b":",
        i.nonce.as_bytes(),
        b":",
        i.nc.as_bytes(),
        b":",
        i.cnonce.as_bytes(),
        b":",
        qop.as_bytes(),
        b":",
        ha2.as_bytes(),
    ])
}

/// The request digest (qop=auth-int): MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) with
/// HA2 = MD5(method ":" uri ":" MD5(request body)).
pub fn request_digest(
    i: &DigestInput<'_>,
    password: &[u8],
    method: &str,
    request_body: &[u8],
) -> String {
    with_ha2(i, password, method, request_body)
}

/// The server's `rspauth` (RFC 2617 §3.2.3): as the request digest with an empty method and the
/// response body, so it also protects the bootstrapping XML.
pub fn rspauth(i: &DigestInput<'_>, password: &[u8], response_body: &[u8]) -> String {
    with_ha2(i, password, "", response_body)
}

/// `rspauth` in the qop=auth form (RFC 2617 §3.2.3 with qop "auth": HA2 = MD5(":" uri), the body
/// not covered). Some BSFs compute this one even after an auth-int exchange; it still proves the
/// BSF knew RES.
pub fn rspauth_auth(i: &DigestInput<'_>, password: &[u8]) -> String {
    let ha2 = md5_hex(&[b":", i.uri.as_bytes()]);
    kd(i, password, QOP_AUTH, &ha2)
}

/// Constant-time comparison of two digests (hex, case-insensitive).
pub fn digests_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

/// Parses `Authentication-Info: qop=auth-int, rspauth="…", cnonce="…", nc=…` (no scheme word).
pub fn parse_authentication_info(header: &str) -> Result<Vec<(String, String)>, GbaError> {
    parse_digest_header(&format!("Digest {header}"))
}

/// Looks up a parameter of a parsed header.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    get(params, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_digest() {
        // RFC 2617 §3.5 uses qop=auth; check our MD5 plumbing with its HA1 and the auth-int HA2
        // of an empty body, computed by hand below.
        let i = DigestInput {
            username: "Mufasa",
            realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            nc: "00000001",
            cnonce: "0a4f113b",
            uri: "/dir/index.html",
        };
        assert_eq!(
            ha1(&i, b"Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
        let ha2 = md5_hex(&[b"GET:/dir/index.html:d41d8cd98f00b204e9800998ecf8427e"]);
        let expect = md5_hex(&[format!(
            "939e7578ed9e3c518a452acee763bce9:{}:00000001:0a4f113b:auth-int:{ha2}",
            i.nonce
        )
        .as_bytes()]);
        assert_eq!(request_digest(&i, b"Circle Of Life", "GET", b""), expect);
    }

    #[test]
    fn header_round_trip_and_errors() {
        let c = Credentials {
            username: "a\"b".into(),
            realm: "r".into(),
            nonce: "n,=".into(),
            uri: "/".into(),
            response: "".into(),
            qop: Some("auth-int".into()),
            nc: Some("00000001".into()),
            cnonce: Some("c".into()),
            auts: Some("QUJD".into()),
            ..Credentials::default()
        };
        assert_eq!(Credentials::parse(&c.to_header()).expect("own output"), c);
        for bad in [
            "Basic abc",
            "Digest",
            "Digest username",
            "Digest username=\"x",
            "Digest a=1 b=2",
            "Digest a=1, a=2",
            "Digest =1",
            "Digest a=x\"y",
        ] {
            assert!(
                parse_digest_header(bad).is_err() || Credentials::parse(bad).is_err(),
                "{bad}"
            );
        }
        assert!(Credentials::parse("Digest username=\"x\"").is_err());
        let ch = Challenge {
            realm: "bsf".into(),
            nonce: "abc=".into(),
            opaque: None,
            qop: vec!["auth-int".into()],
            algorithm: ALGORITHM.into(),
            stale: true,
        };
        assert_eq!(Challenge::parse(&ch.to_header()).expect("own output"), ch);
    }
}
