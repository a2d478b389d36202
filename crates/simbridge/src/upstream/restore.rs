//! Continuing a connection across a gateway restart: export it (AEAD-sealed) at the stop,
//! import it at the start, with no handshake at all.

use super::keys::SessionPsk;
use super::{KeySource, Now, PathId, Slot, UpstreamSession};
use crate::dtls::client_link::ClientLink;
use crate::dtls::export::{ExportError, ImportLedger};
use log::{info, warn};
use std::sync::Arc;

impl UpstreamSession {
    /// Exports the established connection (AEAD under `key`), reserving `reserve` sequence
    /// numbers for this live connection; `None` when nothing is established.
    pub fn export(&mut self, key: &[u8], reserve: u64) -> Option<Vec<u8>> {
        let slot = self.active.as_mut().filter(|s| s.established)?;
        match slot.conn.export_state(key, reserve) {
            Ok(b) => Some(b),
            Err(e) => {
                warn!("cannot export the session: {e}");
                None
            }
        }
    }

    /// Continues a connection exported before a restart: no handshake at all. The ledger
    /// refuses an export that was imported before. `btid` is the B-TID of the key the exported
    /// connection used (saved beside the export).
    pub fn import(
        &mut self,
        now: Now,
        blob: &[u8],
        key: &[u8],
        btid: Option<String>,
        ledger: &mut dyn ImportLedger,
    ) -> Result<(), ExportError> {
        self.last = Some(now);
        let mut cfg = self.cfg.dtls.clone();
        cfg.psk = Arc::new(SessionPsk {
            source: self.source.clone(),
            context: self.ctx.clone(),
        });
        // an export of the other DTLS version (the route's `dtls` changed) is refused by name
        let mut conn = ClientLink::import_state(
            blob,
            key,
            (Arc::new(cfg), self.cfg.versions),
            ledger,
            now.mono,
        )?;
        conn.set_key_update_after(self.cfg.key_update_after);
        let btid = btid.or_else(|| self.ctx.as_ref().map(|c| c.btid.clone()));
        if self.ctx.is_none() && matches!(self.source, KeySource::Gba { .. }) {
            // Learn the key's lifetime from the cached bootstrapping context (no AKA).
            self.request_bootstrap(false);
        }
        self.metrics.handshakes_none_needed += 1;
        info!("upstream session continued from its export: no handshake");
        let base = Some(conn.stats());
        self.active_btid.clone_from(&btid);
        self.active = Some(Slot {
            conn,
            base,
            path: PathId(0),
            started: now.mono,
            btid,
            established: true,
            last_heard: None,
            quiet_noted: false,
        });
        self.flush_queue(now);
        Ok(())
    }
}
