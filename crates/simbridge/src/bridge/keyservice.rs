//! The gateway's key service: one thread owns the card and runs GBA bootstraps (Ub over HTTP) and
//! GBA_U key derivations for every route, so a slow BSF or card never stalls the data path.
//! Routes send requests with a reply channel and a waker; the answer wakes their event loop.

use crate::card::CardChannel;
use crate::error_chain::chain;
use crate::gba::transport::{HttpResponse, UbTransport};
use crate::gba::{BootstrapContext, GbaError, NafId, ReusePolicy, UbConfig, UreqTransport};
use crate::secret::Secret;
use crate::uicc::Uicc;
use crate::uicc::pin::{GuardedOpenError, PinGuard, PinProblem};
use crate::upstream::{CardKeys, KeyError};
use log::{error, info, warn};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// Opens the card (called in the key-service thread, again after a card error). The error says
/// why (no reader, modem gone, a bad profile); it reaches the session as [`KeyError::CardOpen`].
pub type CardOpener = Box<dyn Fn() -> Result<Box<dyn CardChannel>, OpenError> + Send>;

/// Why a [`CardOpener`] could not open the card.
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// Key-service settings.
pub struct KeyServiceConfig {
    /// How to reach the card.
    pub card: CardOpener,
    /// PIN1, when the card asks. Sent through a [`PinGuard`]: never again after a refusal, never
    /// when one try is left.
    pub pin: Option<String>,
    /// The Ub client settings (BSF URL, GBA mode).
    pub ub: UbConfig,
    /// State directory holding the bootstrapping-context cache.
    pub state_dir: PathBuf,
    /// Cache reuse policy (margin before expiry).
    pub policy: ReusePolicy,
    /// Timeout of one HTTP request to the BSF.
    pub http_timeout: Duration,
    /// TLS settings for an `https://` BSF (the CA to trust: [`crate::gba::transport::tls_config`]).
    pub tls: ureq::tls::TlsConfig,
}

/// What a route asks for.
#[derive(Debug, Clone)]
pub enum KeyRequest {
    /// A bootstrapping context (cached unless `force`).
    Bootstrap {
        /// Bootstrap again even when the cache holds a usable context.
        force: bool,
    },
    /// GBA_U: Ks_ext_NAF from the card for this NAF_Id.
    DeriveNafKey {
        /// The NAF_Id.
        naf_id: NafId,
    },
}

/// The answer.
#[derive(Debug)]
pub enum KeyReply {
    /// Context and whether a bootstrap ran (false: from the cache).
    Bootstrap(Result<(BootstrapContext, bool), KeyError>),
    /// Ks_ext_NAF.
    NafKey(Result<Secret<32>, KeyError>),
}

/// Where to send an answer.
pub struct ReplyTo {
    /// The route's reply channel.
    pub tx: Sender<KeyReply>,
    /// Wakes the route's event loop.
    pub waker: Arc<mio::Waker>,
}

/// Handle to the key-service thread.
pub struct KeyService {
    tx: Option<Sender<(KeyRequest, ReplyTo)>>,
    thread: Option<JoinHandle<()>>,
    stopped: Arc<Mutex<Option<PinProblem>>>,
}

impl KeyService {
    /// Starts the thread.
    pub fn start(cfg: KeyServiceConfig) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let stopped = Arc::new(Mutex::new(None));
        let flag = stopped.clone();
        let thread = std::thread::Builder::new()
            .name("simbridge-keys".into())
            .spawn(move || run(cfg, rx, flag))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            stopped,
        })
    }

    /// The PIN problem that stopped the key service: it needs a person (the configured PIN was
    /// refused, one try is left, the PIN is blocked or not configured), so the gateway stops too.
    pub fn stopped_by(&self) -> Option<PinProblem> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }

    /// A sender routes use to make requests.
    pub fn sender(&self) -> Option<Sender<(KeyRequest, ReplyTo)>> {
        self.tx.clone()
    }
}

/// The Ub transport with errors in words: a BSF that does not answer in time is "no answer from
/// URL within N s", not the HTTP client's "timeout: global".
pub struct BsfTransport {
    inner: UreqTransport,
    timeout: Duration,
}

impl BsfTransport {
    /// A transport whose requests time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            inner: UreqTransport::new(timeout),
            timeout,
        }
    }

    /// The same with these TLS settings (a private CA: [`crate::gba::transport::tls_config`]).
    pub fn with_tls(timeout: Duration, tls: ureq::tls::TlsConfig) -> Self {
        Self {
            inner: UreqTransport::with_tls(timeout, tls),
            timeout,
        }
    }
}

impl UbTransport for BsfTransport {
    fn get(&mut self, url: &str, headers: &[(String, String)]) -> Result<HttpResponse, GbaError> {
        self.inner.get(url, headers).map_err(|e| match e {
            GbaError::Http(h) if crate::gba::transport::timed_out(&h) => GbaError::NoAnswer {
                url: url.to_string(),
                secs: self.timeout.as_secs(),
            },
            e => e,
        })
    }
}

/// How long dropping the service waits for a bootstrap in progress. A BSF that does not answer
/// would hold the thread for the whole HTTP timeout; the process must stop within 2 s of SIGTERM.
const STOP_WAIT: Duration = Duration::from_millis(500);

impl Drop for KeyService {
    fn drop(&mut self) {
        self.tx.take();
        let Some(t) = self.thread.take() else { return };
        let start = std::time::Instant::now();
        while !t.is_finished() && start.elapsed() < STOP_WAIT {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            let _ = t.join();
        } else {
            // Cancelled by leaving it: the thread holds nothing that a stop must save (the
            // context cache and the software SIM's state are written atomically, before use),
            // and it ends with the process.
            warn!("stopping while a GBA bootstrap is in progress: it is cancelled");
        }
    }
}

fn run(
    cfg: KeyServiceConfig,
    rx: Receiver<(KeyRequest, ReplyTo)>,
    stopped: Arc<Mutex<Option<PinProblem>>>,
) {
    let transport = BsfTransport::with_tls(cfg.http_timeout, cfg.tls.clone());
    let mut keys = CardKeys::new(cfg.ub.clone(), &cfg.state_dir, transport).with_policy(cfg.policy);
    let mut card: Option<Uicc<Box<dyn CardChannel>>> = None;
    let mut guard = PinGuard::new(cfg.pin.clone());
    while let Ok((req, reply)) = rx.recv() {
        if card.is_none() {
            match guard.open(&cfg.card) {
                Ok(u) => card = Some(u),
                Err(e) => {
                    let e = match e {
                        GuardedOpenError::Pin(p) => {
                            let first = stopped.lock().map(|mut s| s.replace(p.clone()).is_none());
                            if first.unwrap_or(false) {
                                error!("key service stopped: {p}");
                            }
                            KeyError::Pin(p)
                        }
                        GuardedOpenError::Open(e) => {
                            warn!("cannot open the card: {}", chain(&*e));
                            KeyError::CardOpen(e)
                        }
                        GuardedOpenError::Card(e) => {
                            warn!("cannot open the card: {}", chain(&e));
                            KeyError::Card(e)
                        }
                    };
                    let _ = reply.tx.send(match req {
                        KeyRequest::Bootstrap { .. } => KeyReply::Bootstrap(Err(e)),
                        KeyRequest::DeriveNafKey { .. } => KeyReply::NafKey(Err(e)),
                    });
                    let _ = reply.waker.wake();
                    continue;
                }
            }
        }
        let Some(u) = card.as_mut() else { continue };
        let answer = match req {
            KeyRequest::Bootstrap { force } => {
                if force || !keys.cached(u, SystemTime::now()) {
                    // A bootstrap can take a while (a slow BSF, a card behind a modem): say so.
                    info!(
                        "GBA bootstrap started with {} ({})",
                        keys.ub().bsf_url,
                        if force {
                            "a new context was asked for"
                        } else {
                            "no usable cached context"
                        }
                    );
                }
                match keys.bootstrap(u, force, SystemTime::now()) {
                    Ok(o) => {
                        if o.bootstrapped {
                            info!(
                                "GBA bootstrap done: {} ({} HTTP round trips)",
                                o.context.btid, o.round_trips
                            );
                        }
                        KeyReply::Bootstrap(Ok((o.context, o.bootstrapped)))
                    }
                    Err(e) => KeyReply::Bootstrap(Err(e)),
                }
            }
            KeyRequest::DeriveNafKey { naf_id } => KeyReply::NafKey(keys.naf_key(u, &naf_id)),
        };
        let failed = matches!(&answer, KeyReply::Bootstrap(Err(e)) | KeyReply::NafKey(Err(e)) if e.card_failed());
        if failed {
            // Reopen the card next time (removed, reset, modem re-enumerated).
            card = None;
        }
        let _ = reply.tx.send(answer);
        let _ = reply.waker.wake();
    }
}
