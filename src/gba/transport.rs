//! HTTP for Ub: a one-method trait (so the client logic is tested without sockets) and its
//! implementation on `ureq`.
//!
//! Why `ureq` (3.x, default features off): Ub is a handful of blocking GETs, so a small blocking
//! client without an async runtime fits; with default features off it has no TLS stack and no
//! C library (the BSF of 24.109 speaks plain HTTP; a TLS feature can be turned on later).

use super::GbaError;
use std::io::Read;
use std::time::Duration;

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
    /// A transport whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
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
        let mut resp = req.call().map_err(|e| GbaError::Transport(e.to_string()))?;
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
            .map_err(|e| GbaError::Transport(format!("reading the body: {e}")))?;
        if body.len() as u64 > MAX_RESPONSE_BODY {
            return Err(GbaError::Transport(format!(
                "response body larger than {MAX_RESPONSE_BODY} bytes"
            )));
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
