//! HTTP for Ub: a one-method trait (so the client logic is tested without sockets) and its
//! implementation on `ureq`.
//!
//! Why `ureq` (3.x, default features off but `rustls`): Ub and the key API are a handful of
//! blocking requests, so a small blocking client without an async runtime fits. TLS comes from
//! its `rustls` feature: rustls is well kept and audited, pure Rust (its `ring` provider builds
//! its own code, no system OpenSSL or other system C library in the default build), and ureq
//! verifies certificates by default. Trust: the Mozilla roots bundled by `webpki-roots`, or only
//! the CAs of a PEM bundle ([`tls_config`]: `ca_file` / `--ca-file`). Ub over plain HTTP stays
//! allowed (Digest AKA protects it, TS 33.220).

use super::GbaError;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A CA file that cannot be used; the message names the file, the source says why.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    /// The file could not be read.
    #[error("CA file {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not PEM.
    #[error("CA file {}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM parser's error.
        #[source]
        source: ureq::Error,
    },
    /// The file holds no certificate.
    #[error("CA file {}: no PEM certificate in it", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The TLS settings of a client: certificates checked against the roots of the PEM bundle
/// `ca_file` only, or against the bundled Mozilla roots without it. The error names the file.
pub fn tls_config(ca_file: Option<&Path>) -> Result<ureq::tls::TlsConfig, CaFileError> {
    let Some(path) = ca_file else {
        return Ok(ureq::tls::TlsConfig::builder().build());
    };
    let pem = std::fs::read(path).map_err(|source| CaFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(source) => {
                return Err(CaFileError::Pem {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(CaFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build())
}

/// What to add to "cannot reach ..." so an operator can act: an untrusted certificate says so
/// (empty otherwise; the error itself follows as the source).
pub fn untrusted_hint(e: &ureq::Error) -> &'static str {
    let cert = match e {
        ureq::Error::Rustls(rustls::Error::InvalidCertificate(c)) => Some(c),
        // ureq reports handshake failures as I/O errors wrapping the rustls error.
        ureq::Error::Io(io) => match io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(c)) => Some(c),
            _ => None,
        },
        _ => None,
    };
    match cert {
        Some(_) => {
            " (the server's TLS certificate was not trusted; give its CA with ca_file / --ca-file)"
        }
        None => "",
    }
}

/// Whether a request failed because it ran out of time (the global timeout, also while reading
/// the body).
pub fn timed_out(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

/// A failed body read as the HTTP client's error: ureq wraps its own errors (a timeout) in the
/// `io::Error` of its body reader.
pub fn body_error(e: std::io::Error) -> ureq::Error {
    if !e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
        return ureq::Error::Io(e);
    }
    let kind = e.kind();
    match e.into_inner().map(|i| i.downcast::<ureq::Error>()) {
        Some(Ok(inner)) => *inner,
        Some(Err(other)) => ureq::Error::Io(std::io::Error::new(kind, other)),
        None => ureq::Error::Io(kind.into()),
    }
}

/// An HTTP response as the Ub client needs it.
#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// Body (bounded by the transport).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one GET to the BSF.
pub trait UbTransport {
    /// GET `url` with the given extra headers.
    fn get(&mut self, url: &str, headers: &[(String, String)]) -> Result<HttpResponse, GbaError>;
}

/// Largest response body read from a BSF.
pub const MAX_RESPONSE_BODY: u64 = 64 * 1024;

/// [`UbTransport`] on a `ureq` agent: no redirects followed, every status returned as a response,
/// a global timeout per request, bodies capped at [`MAX_RESPONSE_BODY`].
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport whose requests time out after `timeout` (bundled Mozilla roots for HTTPS).
    pub fn new(timeout: Duration) -> Self {
        Self::with_tls(timeout, ureq::tls::TlsConfig::builder().build())
    }

    /// A transport with these TLS settings ([`tls_config`]).
    pub fn with_tls(timeout: Duration, tls: ureq::tls::TlsConfig) -> Self {
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(ureq::config::AutoHeaderValue::None)
            .accept(ureq::config::AutoHeaderValue::None)
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(20))
    }
}

impl UbTransport for UreqTransport {
    fn get(&mut self, url: &str, headers: &[(String, String)]) -> Result<HttpResponse, GbaError> {
        let mut req = self.agent.get(url);
        for (n, v) in headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let mut resp = req.call().map_err(GbaError::Http)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_RESPONSE_BODY + 1)
            .read_to_end(&mut body)
            .map_err(|e| GbaError::Http(body_error(e)))?;
        if body.len() as u64 > MAX_RESPONSE_BODY {
            return Err(GbaError::BodyTooLarge(MAX_RESPONSE_BODY));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
