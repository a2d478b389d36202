//! The BSF's HTTP front: Ub and the key API on one `tiny_http` listener.
//!
//! Why `tiny_http` 0.12: a small, synchronous HTTP/1.1 server with no async runtime and no C
//! dependency; the BSF handles a few requests per bootstrap, so two worker threads pulling from
//! its queue are plenty, and the protocol logic stays in the sans-IO [`super::ub`] and
//! [`super::keyapi`]. This layer reads the clock (or a test clock) and moves bytes.

use super::BsfError;
use super::hss::Hss;
use super::keyapi::{KEY_API_PATH, KeyApi, MAX_KEY_REQUEST};
use super::nafs::NafCredential;
use super::store::ContextStore;
use super::ub::{Reply, UbService, UbSettings};
use simbridge::secret::SecretVec;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// A source of the current time (tests pass a virtual clock).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// BSF settings.
#[derive(Clone)]
pub struct BsfConfig {
    /// Directory of sim-profiles (`*.toml`).
    pub profiles: PathBuf,
    /// State directory (HSS SEQ files, stored contexts).
    pub state: PathBuf,
    /// Listen address, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// The NAF credentials of the key API.
    pub credentials: Vec<NafCredential>,
    /// Context lifetime (default 24 h).
    pub lifetime: Duration,
    /// Realm and B-TID domain; default: the BSF host of the first profile's MCC/MNC.
    pub realm: Option<String>,
    /// The AuC's IND slot.
    pub ind: u8,
    /// How long a challenge may be answered.
    pub nonce_ttl: Duration,
    /// Most contexts kept.
    pub max_contexts: usize,
    /// Time source; `None` = the system clock.
    pub clock: Option<Clock>,
    /// Expect hex(RES) as the Digest password (see [`UbSettings::hex_res_password`]).
    pub hex_res_password: bool,
    /// Serve HTTPS with this certificate chain and key (PEM files); `None`: plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for BsfConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BsfConfig")
            .field("profiles", &self.profiles)
            .field("state", &self.state)
            .field("listen", &self.listen)
            .field("lifetime", &self.lifetime)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl BsfConfig {
    /// Defaults: 24 h lifetime, IND slot 0, 60 s nonces, 100,000 contexts, system clock; the key
    /// API accepts `token` for every NAF ([`NafCredential::any_naf`], for embedded use: replace
    /// [`BsfConfig::credentials`] to restrict it, as `simbridge bsf` does).
    pub fn new(profiles: &Path, state: &Path, listen: &str, token: SecretVec) -> Self {
        Self {
            profiles: profiles.to_path_buf(),
            state: state.to_path_buf(),
            listen: listen.to_string(),
            credentials: vec![NafCredential::any_naf(token)],
            lifetime: Duration::from_secs(86_400),
            realm: None,
            ind: 0,
            nonce_ttl: Duration::from_secs(60),
            max_contexts: 100_000,
            clock: None,
            hex_res_password: false,
            tls: None,
        }
    }

    /// Reads a bearer token file (see [`super::nafs::read_token_file`]: mode 0600 required).
    pub fn read_token_file(path: &Path) -> Result<SecretVec, BsfError> {
        super::nafs::read_token_file(path)
    }
}

struct Shared {
    ub: Mutex<UbService>,
    keys: KeyApi,
    clock: Clock,
}

/// A running BSF. Dropping it stops the workers.
pub struct BsfServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    front: Option<super::tls_front::TlsFront>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BsfServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BsfServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl BsfServer {
    /// Loads the profiles and state, binds the listener and starts two workers.
    pub fn start(cfg: BsfConfig) -> Result<Self, BsfError> {
        let clock: Clock = cfg
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemTime::now));
        simbridge::fsutil::create_private_dir(&cfg.state).map_err(|e| BsfError::State {
            path: cfg.state.clone(),
            message: e.to_string(),
        })?;
        let hss = Hss::load(&cfg.profiles, &cfg.state, cfg.ind)?;
        let realm = match &cfg.realm {
            Some(r) => r.clone(),
            None => {
                let p = hss
                    .profiles()
                    .next()
                    .ok_or_else(|| BsfError::Profiles("no profile".into()))?;
                simbridge::gba::bsf_host(p.mcc(), p.mnc())?
            }
        };
        let store = ContextStore::open(&cfg.state, cfg.max_contexts, clock())?;
        let mut settings = UbSettings::new(&realm);
        settings.lifetime = cfg.lifetime;
        settings.nonce_ttl = cfg.nonce_ttl;
        settings.hex_res_password = cfg.hex_res_password;
        let tls = match &cfg.tls {
            Some((cert, key)) => Some(super::tls_front::load_server_config(cert, key)?),
            None => None,
        };
        // With TLS, tiny_http listens on loopback behind the TLS front.
        let http_listen = if tls.is_some() {
            "127.0.0.1:0"
        } else {
            cfg.listen.as_str()
        };
        let server = tiny_http::Server::http(http_listen).map_err(|e| BsfError::Listen {
            addr: http_listen.to_string(),
            message: e.to_string(),
        })?;
        let http_addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| BsfError::Listen {
                addr: cfg.listen.clone(),
                message: "not an IP listener".into(),
            })?;
        let front = match tls {
            Some(t) => Some(super::tls_front::TlsFront::start(
                &cfg.listen,
                t,
                http_addr,
            )?),
            None => None,
        };
        let addr = front.as_ref().map_or(http_addr, |f| f.addr());
        let server = Arc::new(server);
        let shared = Arc::new(Shared {
            ub: Mutex::new(UbService::new(hss, store, settings)),
            keys: KeyApi::with_credentials(cfg.credentials.clone()),
            clock,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..2)
            .map(|_| {
                let (server, shared, stop) = (server.clone(), shared.clone(), stop.clone());
                std::thread::spawn(move || worker(&server, &shared, &stop))
            })
            .collect();
        let scheme = if front.is_some() { "https" } else { "http" };
        log::info!("BSF listening on {scheme}://{addr}/, realm {realm}");
        Ok(Self {
            server,
            addr,
            front,
            stop,
            workers,
            shared,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>/`, or `https://` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.front.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/", self.addr)
    }

    /// Runs `f` on the Ub service (tests inspect the store and pending challenges).
    pub fn with_service<R>(&self, f: impl FnOnce(&UbService) -> R) -> R {
        let guard = self.shared.ub.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Blocks until the workers end (they run until [`BsfServer::shutdown`] or process exit).
    pub fn wait(mut self) {
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }

    /// Stops the workers and waits for them.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for BsfServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn worker(server: &tiny_http::Server, shared: &Shared, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(250)) {
            Ok(Some(req)) => {
                // Belt and braces: a bug must cost one request, not a worker.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(req, shared)))
                    .is_err()
                {
                    log::error!("BSF: a request handler panicked; the request was dropped");
                }
            }
            Ok(None) => {}
            Err(e) => {
                log::warn!("BSF: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn header<'a>(req: &'a tiny_http::Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn serve(mut req: tiny_http::Request, shared: &Shared) {
    let method = req.method().as_str().to_string();
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or_default().to_string();
    let reply = if path == KEY_API_PATH {
        let mut body = Vec::new();
        let too_big = req.body_length().is_some_and(|n| n > MAX_KEY_REQUEST)
            || req
                .as_reader()
                .take(MAX_KEY_REQUEST as u64 + 1)
                .read_to_end(&mut body)
                .is_err()
            || body.len() > MAX_KEY_REQUEST;
        if too_big {
            Reply::text(413, "request body too large or unreadable")
        } else {
            let auth = header(&req, "authorization").map(str::to_string);
            let now = (shared.clock)();
            let ub = shared.ub.lock().unwrap_or_else(|p| p.into_inner());
            shared
                .keys
                .handle(ub.store(), &method, auth.as_deref(), &body, now)
        }
    } else {
        let auth = header(&req, "authorization").map(str::to_string);
        let ua = header(&req, "user-agent").map(str::to_string);
        let now = (shared.clock)();
        let mut ub = shared.ub.lock().unwrap_or_else(|p| p.into_inner());
        ub.handle(&method, &url, auth.as_deref(), ua.as_deref(), now)
    };
    // One line per request an operator can follow (the path is the client's text: escaped and
    // cut; headers and bodies, which carry the token and keys, are never logged).
    log::info!(
        "BSF: {} {method} {} -> {}",
        req.remote_addr()
            .map_or_else(|| "?".to_string(), |a| a.to_string()),
        simbridge::gba::ids::escape_for_log(path.as_bytes()),
        reply.status
    );
    let mut resp = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (n, v) in &reply.headers {
        match tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()) {
            Ok(h) => resp.add_header(h),
            Err(()) => log::warn!("BSF: dropped an unencodable {n} header"),
        }
    }
    if let Err(e) = req.respond(resp) {
        log::debug!("BSF: cannot send the response: {e}");
    }
}
