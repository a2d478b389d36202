//! Graceful restart of a server [`Endpoint`]: every established connection exported in one
//! encrypted blob, and imported by the next process without a handshake.
//!
//! The blob's plaintext: a count and the DTLS 1.2 connections (address, state), then, if
//! any DTLS 1.3 connection is held, a second count and the DTLS 1.3 ones (address, PSK
//! identity, server_name, their own sealed v13 export under the same key), then, with DTLS 1.3
//! 0-RTT on, the 0-RTT strike register (a length and endpoint/v13_early.rs's export; the DTLS
//! 1.3 count is written, 0 or not, before it). A blob of an older version (no second or
//! third part) still loads; without the third part 0-RTT waits one window.

use std::net::SocketAddr;

use super::Endpoint;
use crate::conn::Connection;
use crate::export::{
    self, ExportError, ExportField, ImportLedger, ImportRole, malformed, out_of_range,
};
use crate::secret::SecretVec;
use crate::wire::Field;
use crate::wire::codec::{Reader, put_vec8, put_vec16};
use zeroize::Zeroize;

impl Endpoint {
    /// Graceful restart, part 1: exports every established connection with its peer address
    /// in one blob encrypted under `key` (see [`crate::export`]). Each live connection
    /// keeps `reserve` write sequence numbers for itself; the importer continues after them.
    /// Connections still handshaking are not saved (their clients will retransmit and meet
    /// the restarted server's cookie exchange).
    pub fn save_all(&mut self, key: &[u8], reserve: u64) -> Result<Vec<u8>, ExportError> {
        let mut plain = Vec::new();
        let mut n: u32 = 0;
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(e) = self.conns.get_mut(&id) else {
                continue;
            };
            if !e.conn.is_established() {
                continue;
            }
            let Ok(state) = e.conn.export_plain(reserve) else {
                continue;
            };
            put_vec8(&mut plain, e.addr.to_string().as_bytes());
            plain.extend_from_slice(&(state.len() as u32).to_be_bytes());
            plain.extend_from_slice(state.expose());
            n += 1;
        }
        let v13 = self.export13(key, reserve);
        let strike = self.export_strike(std::time::Instant::now());
        if !v13.is_empty() || strike.is_some() {
            plain.extend_from_slice(&(v13.len() as u32).to_be_bytes());
            for (addr, identity, sni, state) in &v13 {
                put_vec8(&mut plain, addr.to_string().as_bytes());
                put_vec16(&mut plain, identity);
                put_vec8(&mut plain, sni.as_deref().unwrap_or("").as_bytes());
                plain.extend_from_slice(&(state.len() as u32).to_be_bytes());
                plain.extend_from_slice(state);
            }
        }
        if let Some(strike) = &strike {
            plain.extend_from_slice(&(strike.len() as u32).to_be_bytes());
            plain.extend_from_slice(strike);
        }
        let mut all = Vec::with_capacity(4 + plain.len());
        all.extend_from_slice(&n.to_be_bytes());
        all.extend_from_slice(&plain);
        plain.zeroize();
        let all = SecretVec::new(all);
        export::seal(key, &all, self.config.common.rng.as_ref())
    }

    /// Graceful restart, part 2: imports a [`Endpoint::save_all`] blob; the connections are
    /// established at once (routing by address and CID restored) and need no handshake. The
    /// export's id is claimed in this endpoint's ledger: loading the same blob twice is
    /// refused. Returns the number of connections loaded.
    pub fn load_all(&mut self, blob: &[u8], key: &[u8]) -> Result<usize, ExportError> {
        let mut ledger = std::mem::take(&mut self.ledger);
        let r = self.load_all_with(blob, key, &mut ledger);
        self.ledger = ledger;
        r
    }

    /// [`Endpoint::load_all`] with a caller's ledger (one that survives restarts).
    pub fn load_all_with(
        &mut self,
        blob: &[u8],
        key: &[u8],
        ledger: &mut dyn ImportLedger,
    ) -> Result<usize, ExportError> {
        let (id, plain) = export::open(key, blob)?;
        if !ledger.claim(&id) {
            return Err(ExportError::AlreadyImported);
        }
        let mut r = Reader::new(plain.expose());
        let count = r.take(4, Field::Count).map_err(malformed)?;
        let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
        let mut loaded = Vec::new();
        for _ in 0..count {
            let addr = addr_at(&mut r)?;
            let len = r.take(4, Field::Len).map_err(malformed)?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let state = r.take(len, Field::State).map_err(malformed)?;
            let conn = Connection::import_plain(state, ImportRole::Server(self.config.clone()))?;
            loaded.push((addr, conn));
        }
        let mut loaded13 = Vec::new();
        if !r.is_empty() {
            let count = r.u32(Field::Count).map_err(malformed)?;
            for _ in 0..count {
                let addr = addr_at(&mut r)?;
                let identity = r.vec16(Field::Identity).map_err(malformed)?.to_vec();
                let sni = r.vec8(Field::ServerName).map_err(malformed)?;
                let sni = (!sni.is_empty())
                    .then(|| String::from_utf8(sni.to_vec()).ok())
                    .flatten();
                let len = r.u32(Field::Len).map_err(malformed)? as usize;
                let state = r.take(len, Field::State).map_err(malformed)?;
                loaded13.push((addr, identity, sni, state));
            }
        }
        let mut strike = None;
        if !r.is_empty() {
            let len = r.u32(Field::Len).map_err(malformed)? as usize;
            strike = Some(r.take(len, Field::State).map_err(malformed)?);
        }
        r.finish(Field::SaveAll)
            .map_err(|_| ExportError::Format(ExportField::TrailingBytes))?;
        let n = loaded.len() + loaded13.len();
        let now = std::time::Instant::now();
        if let Some(strike) = strike {
            self.import_strike(strike, now)
                .map_err(|_| out_of_range(Field::State))?;
        }
        for (addr, identity, sni, state) in loaded13 {
            self.import13(addr, identity, sni, state, key, now)?;
        }
        for (addr, conn) in loaded {
            if let Some(old) = self.by_addr.get(&addr).copied() {
                self.remove(old);
            }
            let cid = conn.connection_id().to_vec();
            if let Some(old) = self
                .by_cid
                .get(cid.as_slice())
                .copied()
                .filter(|_| !cid.is_empty())
            {
                self.remove(old);
            }
            self.insert(addr, conn);
        }
        self.stats.imported += n as u64;
        Ok(n)
    }
}

/// A peer address as `save_all` writes it.
fn addr_at(r: &mut Reader<'_>) -> Result<SocketAddr, ExportError> {
    let addr = r.vec8(Field::Addr).map_err(malformed)?;
    std::str::from_utf8(addr)
        .ok()
        .and_then(|a| a.parse().ok())
        .ok_or(out_of_range(Field::Addr))
}
