//! A route's files in the state directory, so a restarted gateway continues without AKA and,
//! where the server kept its state, without any handshake: the resumable session (for an
//! abbreviated handshake) and, after a clean shutdown, the connection export (for none).
//! Both are bound to the B-TID of the key they were made with; files are 0600, written atomically.

use super::state::{FileLedger, take_file};
use crate::dtls::Session;
use crate::fsutil::write_atomic_private;
use crate::secret::Secret;
use crate::upstream::{Now, UpstreamSession};
use log::{info, warn};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Export reservation: sequence numbers kept for a live connection after its export.
const RESERVE: u64 = 1 << 16;

/// Where a route keeps its state, and the key its exports are sealed with.
#[derive(Clone)]
pub struct RouteState {
    /// State directory.
    pub dir: PathBuf,
    /// Export key (from [`super::state::load_or_create_key`]).
    pub key: Arc<Secret<32>>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    btid: Option<String>,
    /// Hex of the session or of the sealed export.
    data: String,
}

impl RouteState {
    fn file(&self, route: &str, ext: &str) -> PathBuf {
        let safe = crate::fsutil::safe_file_stem(route);
        self.dir.join(format!("route-{safe}.{ext}"))
    }

    /// Restores what the last run left: the export (consumed) or else the resumable session.
    pub fn restore(&self, route: &str, session: &mut UpstreamSession, now: Now) -> bool {
        if let Some(saved) = self.read(route, "export", true) {
            let ledger = FileLedger::open(&self.file(route, "ledger"));
            match (hex::decode(&saved.data), ledger) {
                (Ok(blob), Ok(mut ledger)) => {
                    match session.import(now, &blob, self.key.expose(), saved.btid, &mut ledger) {
                        Ok(()) => {
                            info!(
                                "route {route}: continuing the session from before the restart (no handshake)"
                            );
                            return true;
                        }
                        Err(e) => warn!(
                            "route {route}: cannot continue the saved session ({e}); a new handshake follows"
                        ),
                    }
                }
                (Err(_), _) => warn!("route {route}: the saved export is not hex; ignored"),
                (_, Err(e)) => warn!("route {route}: import ledger: {e}"),
            }
        }
        if let Some(saved) = self.read(route, "session", false) {
            match hex::decode(&saved.data)
                .ok()
                .and_then(|b| Session::from_bytes(&b).ok())
            {
                Some(s) => session.set_resumable(s, saved.btid),
                None => warn!("route {route}: the saved session does not parse; ignored"),
            }
        }
        false
    }

    fn read(&self, route: &str, ext: &str, consume: bool) -> Option<Saved> {
        let path = self.file(route, ext);
        let bytes = if consume {
            take_file(&path)
        } else {
            std::fs::read(&path).map(Some).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            })
        };
        match bytes {
            Ok(Some(b)) => serde_json::from_slice(&b)
                .map_err(|e| warn!("{}: {e}; ignored", path.display()))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                warn!("{}: {e}", path.display());
                None
            }
        }
    }

    fn write(&self, route: &str, ext: &str, saved: &Saved) {
        let path = self.file(route, ext);
        let result = serde_json::to_vec(saved)
            .map_err(std::io::Error::other)
            .and_then(|j| write_atomic_private(&path, &j));
        if let Err(e) = result {
            warn!("{}: cannot save: {e}", path.display());
        }
    }

    /// Saves the resumable session (after each handshake).
    pub fn save_session(&self, route: &str, session: &UpstreamSession) {
        if let (_, Some(s)) = session.resumable() {
            let saved = Saved {
                btid: session.session_btid().map(str::to_string),
                data: hex::encode(s.to_bytes().expose()),
            };
            self.write(route, "session", &saved);
        }
    }

    /// Exports the live connection at shutdown.
    pub fn save_export(&self, route: &str, session: &mut UpstreamSession) {
        if let Some(blob) = session.export(self.key.expose(), RESERVE) {
            let saved = Saved {
                btid: session.export_btid().map(str::to_string),
                data: hex::encode(blob),
            };
            self.write(route, "export", &saved);
            info!("route {route}: session exported for the next start");
        }
    }
}
