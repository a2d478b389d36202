//! HTTPS for the emulated BSF (`simbridge bsf --tls-cert PEM --tls-key PEM`): a TLS front on
//! the public address that terminates TLS with rustls and passes each HTTP/1.1 request to the
//! BSF's `tiny_http` listener on a loopback port, one backend connection per request.
//!
//! Why not tiny_http's own `ssl-rustls` feature: it pins rustls 0.20 and ring 0.16, both
//! unmaintained, and rustls below 0.21.11 can spin forever on crafted input
//! (RUSTSEC-2024-0336); this front uses the rustls 0.23 that ureq already brings. The front only
//! frames requests (headers up to 16 KiB, a `Content-Length` body up to 1 MiB, no chunked
//! bodies) and adds `Connection: close` towards the backend; HTTP parsing and every answer stay
//! tiny_http's and [`super::server`]'s. A client may keep its TLS connection for several
//! requests (a Ub bootstrap is two).

use super::BsfError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Most TLS connections served at once (beyond, new ones are closed).
const MAX_CONNECTIONS: usize = 256;
/// Largest request head.
const MAX_HEAD: usize = 16 * 1024;
/// Largest request body passed on.
const MAX_BODY: usize = 1024 * 1024;
/// Largest response passed back.
const MAX_RESPONSE: u64 = 1024 * 1024;
/// Idle and I/O timeout of a connection.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads the certificate chain and private key (PEM) of the BSF's HTTPS listener.
pub fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, BsfError> {
    let tls_err = |path: &Path, m: String| BsfError::Tls {
        path: path.to_path_buf(),
        message: m,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_err(cert, "no PEM certificate in it".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_err(key, format!("no PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| tls_err(key, format!("does not match the certificate: {e}")))?;
    Ok(Arc::new(cfg))
}

/// A running TLS front. Dropping it stops accepting.
pub struct TlsFront {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TlsFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFront")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TlsFront {
    /// Listens on `listen` and passes requests to `backend`.
    pub fn start(
        listen: &str,
        tls: Arc<rustls::ServerConfig>,
        backend: SocketAddr,
    ) -> Result<Self, BsfError> {
        let listener = TcpListener::bind(listen).map_err(|e| BsfError::Listen {
            addr: listen.to_string(),
            message: e.to_string(),
        })?;
        let addr = listener.local_addr().map_err(|e| BsfError::Listen {
            addr: listen.to_string(),
            message: e.to_string(),
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let accept = std::thread::Builder::new()
            .name("bsf-tls-accept".into())
            .spawn(move || accept_loop(&listener, &tls, backend, &stop2))
            .map_err(|e| BsfError::Listen {
                addr: listen.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    tls: &Arc<rustls::ServerConfig>,
    backend: SocketAddr,
    stop: &AtomicBool,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(tcp) = conn else { continue };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            log::warn!("BSF HTTPS: {MAX_CONNECTIONS} connections open; one refused");
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (tls, active2) = (tls.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("bsf-tls".into())
            .spawn(move || {
                if let Err(e) = serve(tcp, tls, backend) {
                    log::debug!("BSF HTTPS connection: {e}");
                }
                active2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn bad(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.to_string())
}

/// One request read from the TLS side: the bytes to pass on (with `Connection: close`) and
/// whether the client wants the connection closed after it.
fn read_request(s: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Option<(Vec<u8>, bool)>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = match s.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(bad("connection closed inside a request"))
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("request head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut close = request_line.ends_with("HTTP/1.0");
    let mut length = 0usize;
    let mut out = format!("{request_line}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("malformed header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("chunked request bodies are not supported"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| bad("bad Content-Length"))?;
            if length > MAX_BODY {
                return Err(bad("request body too large"));
            }
        }
        if name.eq_ignore_ascii_case("connection") {
            close |= value.eq_ignore_ascii_case("close");
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    buf.drain(..head_end);
    while buf.len() < length {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed inside a request body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    bytes.extend(buf.drain(..length));
    Ok(Some((bytes, close)))
}

fn serve(tcp: TcpStream, tls: Arc<rustls::ServerConfig>, backend: SocketAddr) -> io::Result<()> {
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let conn = rustls::ServerConnection::new(tls).map_err(io::Error::other)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    loop {
        let Some((request, close)) = read_request(&mut s, &mut buf)? else {
            return Ok(());
        };
        let mut b = TcpStream::connect_timeout(&backend, IO_TIMEOUT)?;
        b.set_read_timeout(Some(IO_TIMEOUT))?;
        b.set_write_timeout(Some(IO_TIMEOUT))?;
        b.write_all(&request)?;
        let _ = b.shutdown(Shutdown::Write);
        let mut response = Vec::new();
        b.take(MAX_RESPONSE).read_to_end(&mut response)?;
        if !close {
            // The backend closed after its answer; the client keeps its TLS connection.
            response = keep_alive(response);
        }
        s.write_all(&response)?;
        s.flush()?;
        if close {
            s.conn.send_close_notify();
            let _ = s.flush();
            return Ok(());
        }
    }
}

/// Drops the backend's `Connection: close` from a response head (its body is framed by
/// Content-Length, which tiny_http always sends for our fixed bodies).
fn keep_alive(response: Vec<u8>) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response;
    };
    let Ok(head) = std::str::from_utf8(&response[..end]) else {
        return response;
    };
    let mut out: Vec<u8> = head
        .split("\r\n")
        .filter(|l| {
            !l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("connection"))
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    out.extend_from_slice(&response[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_framed_and_closed_towards_the_backend() {
        let raw = b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n";
        let mut r = &raw[..];
        let mut buf = Vec::new();
        let (first, close) = read_request(&mut r, &mut buf).expect("ok").expect("one");
        assert!(!close);
        assert_eq!(
            first,
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        );
        let (second, _) = read_request(&mut r, &mut buf).expect("ok").expect("two");
        assert_eq!(second, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(read_request(&mut r, &mut buf).expect("eof").is_none());
        for bad in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
        ] {
            let mut r = bad;
            assert!(read_request(&mut r, &mut Vec::new()).is_err());
        }
        let big = vec![b'a'; MAX_HEAD + 10];
        assert!(read_request(&mut &big[..], &mut Vec::new()).is_err());
        assert_eq!(
            keep_alive(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx".to_vec()
            ),
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
        );
    }
}
