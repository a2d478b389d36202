//! The endpoint's DTLS 1.3 connections over a graceful restart: exported for `save_all`,
//! imported by `load_all` (endpoint/restart.rs writes and reads the blob around them).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Endpoint, Entry13, Saved13, State13};
use crate::cid_buf::CidBuf;
use crate::export::{ExportError, MemoryLedger};
use crate::suite::CipherSuite;
use crate::v13::connection::Connection13;

impl Endpoint {
    /// Exports the established DTLS 1.3 connections for `save_all`: (address, identity, SNI,
    /// sealed state) each.
    pub(in crate::endpoint) fn export13(&mut self, key: &[u8], reserve: u64) -> Vec<Saved13> {
        let mut out = Vec::new();
        for e in self.v13.conns.values_mut() {
            let State13::Conn(c) = &mut e.state else {
                continue;
            };
            if !c.is_established() {
                continue;
            }
            if let Ok(state) = c.export_state(key, reserve) {
                out.push((e.addr, e.identity.clone(), e.sni.clone(), state));
            }
        }
        out
    }

    /// Imports one DTLS 1.3 connection saved by `export13` (already checked by the caller's
    /// ledger as part of the whole blob).
    pub(in crate::endpoint) fn import13(
        &mut self,
        addr: SocketAddr,
        identity: Vec<u8>,
        sni: Option<String>,
        state: &[u8],
        key: &[u8],
        now: Instant,
    ) -> Result<(), ExportError> {
        let mut ledger = MemoryLedger::default();
        let mut conn = Connection13::import_state(
            state,
            key,
            false,
            &mut ledger,
            self.config.common.retransmit,
            self.config.common.rng.clone(),
            now,
        )?;
        let Some(session) = conn.session() else {
            return Err(ExportError::NotEstablished);
        };
        let cid = session.cids.recv.clone();
        let suite = CipherSuite::from_iana(session.suite)
            .ok_or(crate::export::out_of_range(crate::wire::Field::Suite))?;
        if let Some(old) = self.by_addr.get(&addr).copied() {
            self.remove(old);
        }
        if let Some(old) = self
            .by_cid
            .get(cid.as_slice())
            .copied()
            .filter(|_| !cid.is_empty())
        {
            self.remove(old);
        }
        let id = self.next_id;
        self.next_id += 1;
        if !cid.is_empty() {
            self.by_cid.insert(CidBuf::from(cid.as_slice()), id);
        }
        self.by_addr.insert(addr, id);
        self.v13.conns.insert(
            id,
            Entry13 {
                addr,
                state: State13::Conn(Box::new(conn)),
                identity,
                sni,
                suite,
                client_random: [0; 32],
                cid,
                resumed: false,
                key_expires: None,
                scheduled: None,
                half_open: None,
                expires: now,
            },
        );
        Ok(())
    }
}
