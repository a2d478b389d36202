//! The safe side of a handle: one route's [`UpstreamSession`], its key source, the host's clock
//! and the items a caller's buffer was too small for. Nothing here touches a raw pointer.

use crate::card::CardSource;
use crate::status::FfiError;
use gateway::bridge::state::{FileLedger, load_or_create_key};
use gateway::secret::{Secret, SecretVec};
use gateway::upstream::{KeySource, Now, PathId, SessionMetrics, UpstreamSession};
use simbridge_cli::config::{GatewayConfig, ValidRoute};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Sequence numbers an export reserves for the connection that goes on after it (as the gateway).
const RESERVE: u64 = 1 << 16;
/// The export blob's magic and format version.
const EXPORT_MAGIC: &[u8; 4] = b"SBX1";

/// A static identity and key the host's callback gave.
pub struct HostKey {
    /// psk_identity.
    pub identity: Vec<u8>,
    /// The key (zeroized on drop).
    pub key: SecretVec,
}

/// Everything behind one `simbridge_session *`.
pub struct Inner {
    session: UpstreamSession,
    card: Option<CardSource>,
    /// The host's milliseconds and our monotonic clock at the first call that gave a time.
    origin: Option<(u64, Instant)>,
    /// A datagram or payload the caller's buffer was too small for, kept for the next call.
    held_transmit: Option<(PathId, Vec<u8>)>,
    held_received: Option<Vec<u8>>,
    held_export: Option<Vec<u8>>,
    state_dir: PathBuf,
    route: ValidRoute,
}

impl Inner {
    /// The session of the route named `route` (its `upstream`, or `None`: the first) in the
    /// configuration `text`; `host_key` is what the key callback gave, for a `psk = "host"` route.
    pub fn new(
        text: &str,
        route: Option<&str>,
        host_key: Option<HostKey>,
    ) -> Result<Self, FfiError> {
        let cfg = GatewayConfig::from_toml_for_host(Path::new("configuration"), text)
            .map_err(|e| FfiError::Config(e.to_string()))?;
        let r = match route {
            None => cfg.routes.first(),
            Some(name) => cfg.routes.iter().find(|r| r.name == name),
        }
        .ok_or_else(|| {
            FfiError::Config(format!(
                "configuration: no [[route]] with upstream = {:?}",
                route.unwrap_or_default()
            ))
        })?
        .clone();
        if r.oscore {
            return Err(FfiError::Config(format!(
                "configuration: route {} has protection = \"oscore\", which the C library does not carry (run it with `simbridge bridge`)",
                r.name
            )));
        }
        let source = match (r.host_psk, host_key) {
            (true, Some(k)) => KeySource::Static {
                identity: k.identity,
                key: k.key,
            },
            (true, None) => {
                return Err(FfiError::Config(format!(
                    "configuration: route {} has psk = \"host\" but no key callback was given",
                    r.name
                )));
            }
            (false, Some(_)) => {
                return Err(FfiError::Config(format!(
                    "configuration: a key callback was given but route {} has no psk = \"host\"",
                    r.name
                )));
            }
            (false, None) => r.key_source(),
        };
        let card = match source {
            KeySource::Gba { .. } => Some(CardSource::new(&cfg).map_err(FfiError::Config)?),
            KeySource::Static { .. } => None,
        };
        Ok(Self {
            session: UpstreamSession::new(cfg.session_config(&r), source),
            card,
            origin: None,
            held_transmit: None,
            held_received: None,
            held_export: None,
            state_dir: cfg.state_dir.clone(),
            route: r,
        })
    }

    /// Both clocks for a host time in milliseconds (monotonic, any origin); wall time is read here
    /// because key lifetimes are wall-clock dates.
    fn now(&mut self, ms: u64) -> Now {
        let (o_ms, o_mono) = *self.origin.get_or_insert((ms, Instant::now()));
        Now {
            mono: o_mono + Duration::from_millis(ms.saturating_sub(o_ms)),
            wall: SystemTime::now(),
        }
    }

    /// Answers the key actions the last call raised (blocking on the card and the BSF).
    fn answer_actions(&mut self, now: Now) {
        while let Some(action) = self.session.poll_action() {
            match self.card.as_mut() {
                Some(card) => card.answer(&mut self.session, now, action),
                None => log::warn!("a key action with no card configured: ignored"),
            }
        }
    }

    /// Starts connecting.
    pub fn connect(&mut self, ms: u64) {
        let now = self.now(ms);
        self.session.connect(now);
        self.answer_actions(now);
    }

    /// One application payload upstream (queued while no session is ready).
    pub fn send(&mut self, ms: u64, data: &[u8]) {
        let now = self.now(ms);
        self.session.send(now, data);
        self.answer_actions(now);
    }

    /// A datagram from the server, received on `path`.
    pub fn handle_datagram(&mut self, ms: u64, path: u8, data: &[u8]) {
        let now = self.now(ms);
        self.session.handle_datagram(now, PathId(path), data);
        self.answer_actions(now);
    }

    /// Timers.
    pub fn handle_timeout(&mut self, ms: u64) {
        let now = self.now(ms);
        self.session.handle_timeout(now);
        self.answer_actions(now);
    }

    /// The next datagram to send (kept if `cap` is too small): its bytes copied by `put`.
    pub fn transmit(&mut self, cap: usize) -> Result<Option<(u8, Vec<u8>)>, FfiError> {
        let Some((path, d)) = self
            .held_transmit
            .take()
            .or_else(|| self.session.poll_transmit())
        else {
            return Ok(None);
        };
        if d.len() > cap {
            let need = d.len();
            self.held_transmit = Some((path, d));
            return Err(FfiError::BufferTooSmall { have: cap, need });
        }
        Ok(Some((path.0, d)))
    }

    /// The next payload from the server (kept if `cap` is too small).
    pub fn receive(&mut self, cap: usize) -> Result<Option<Vec<u8>>, FfiError> {
        let Some(d) = self
            .held_received
            .take()
            .or_else(|| self.session.poll_received())
        else {
            return Ok(None);
        };
        if d.len() > cap {
            let need = d.len();
            self.held_received = Some(d);
            return Err(FfiError::BufferTooSmall { have: cap, need });
        }
        Ok(Some(d))
    }

    /// When `handle_timeout` is due, in the host's milliseconds (rounded up).
    pub fn next_timeout(&self) -> Option<u64> {
        let t = self.session.poll_timeout()?;
        // No timer runs before a call that gave the time, so the origin is known.
        let (o_ms, o_mono) = self.origin?;
        let after = t.saturating_duration_since(o_mono);
        let ms = after.as_millis() + u128::from(after.subsec_nanos() % 1_000_000 != 0);
        Some(o_ms.saturating_add(u64::try_from(ms).unwrap_or(u64::MAX)))
    }

    /// Counters, whether a session is up, and what waits.
    pub fn metrics(&self) -> (SessionMetrics, bool, bool, usize) {
        (
            self.session.metrics(),
            self.session.is_established(),
            self.session.bootstrap_pending(),
            self.session.queued(),
        )
    }

    /// The route's configured addresses.
    pub fn address(&self, which: u32) -> Result<String, FfiError> {
        match which {
            0 => Ok(self.route.listen.to_string()),
            1 => Ok(self.route.upstream.to_string()),
            2 => Ok(self.route.name.clone()),
            _ => Err(FfiError::Argument(format!(
                "address selector {which}: expected 0 (listen), 1 (upstream) or 2 (route name)"
            ))),
        }
    }

    fn export_key(&self) -> Result<Secret<32>, FfiError> {
        let file = self.state_dir.join("export.key");
        std::fs::create_dir_all(&self.state_dir)
            .and_then(|()| load_or_create_key(&file))
            .map_err(|e| FfiError::State(format!("{}: {e}", file.display())))
    }

    fn ledger_path(&self) -> PathBuf {
        let safe = gateway::fsutil::safe_file_stem(&self.route.name);
        self.state_dir.join(format!("ffi-route-{safe}.ledger"))
    }

    /// The established connection sealed under the state dir's export key, with the B-TID of
    /// its key: `SBX1 | btid length (2 bytes, big endian) | btid | sealed export`. Kept until
    /// taken, so a retry with a larger buffer gets the same export (a second one would reserve
    /// sequence numbers again for nothing).
    pub fn export(&mut self, cap: usize) -> Result<Vec<u8>, FfiError> {
        let blob = match self.held_export.take() {
            Some(b) => b,
            None => {
                let key = self.export_key()?;
                let sealed = self
                    .session
                    .export(key.expose(), RESERVE)
                    .ok_or_else(|| FfiError::State("no established session to export".into()))?;
                let btid = self.session.session_btid().unwrap_or_default().as_bytes();
                let len = u16::try_from(btid.len())
                    .map_err(|_| FfiError::State("B-TID too long to export".into()))?;
                let mut b = Vec::with_capacity(6 + btid.len() + sealed.len());
                b.extend_from_slice(EXPORT_MAGIC);
                b.extend_from_slice(&len.to_be_bytes());
                b.extend_from_slice(btid);
                b.extend_from_slice(&sealed);
                b
            }
        };
        if blob.len() > cap {
            let need = blob.len();
            self.held_export = Some(blob);
            return Err(FfiError::BufferTooSmall { have: cap, need });
        }
        Ok(blob)
    }

    /// Continues a connection from [`Inner::export`] of an earlier run: no handshake. An export
    /// is refused a second time (the ledger in the state dir).
    pub fn import(&mut self, ms: u64, blob: &[u8]) -> Result<(), FfiError> {
        let bad = || FfiError::State("not an export of this library".into());
        let rest = blob.strip_prefix(EXPORT_MAGIC.as_slice()).ok_or_else(bad)?;
        let (len, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
        let (btid, sealed) = rest
            .split_at_checked(usize::from(u16::from_be_bytes(*len)))
            .ok_or_else(bad)?;
        let btid = std::str::from_utf8(btid).map_err(|_| bad())?;
        let btid = (!btid.is_empty()).then(|| btid.to_string());
        let key = self.export_key()?;
        let mut ledger = FileLedger::open(&self.ledger_path())
            .map_err(|e| FfiError::State(format!("import ledger: {e}")))?;
        let now = self.now(ms);
        self.session
            .import(now, sealed, key.expose(), btid, &mut ledger)
            .map_err(|e| FfiError::State(format!("cannot continue the exported session: {e}")))?;
        self.answer_actions(now);
        Ok(())
    }

    /// Closes the session (close_notify goes out through `transmit`).
    pub fn close(&mut self) {
        self.session.close();
    }
}
