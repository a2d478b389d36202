//! The endpoint's DTLS 1.3 0-RTT (`ServerConfig::early_data13` with `tickets13`, off by
//! default; the protocol in v13/early.rs): tickets announce early data; a ClientHello that
//! offers early data on one of our tickets (offered first, opening now, allowing it) skips the
//! cookie round trip (the ticket needs no key lookup, and after a HelloRetryRequest early data
//! is always lost), and its early data is taken when the strike register (v13/strike.rs) finds
//! it fresh and unseen: [`crate::Event::EarlyData`] before `Connected`. Here: which ClientHello
//! skips the cookie, the counters and DEBUG logs of what became of early data (never the data),
//! and the strike register across a graceful restart (`save_all` saves it; without it, a start
//! refuses early data for one window).

use std::net::SocketAddr;
use std::time::Instant;

use super::{Endpoint, Transmit};
use crate::config::{EarlyData13, ServerConfig};
use crate::endpoint_stats::EndpointStats;
use crate::v13::early::{EarlyOutcome, EarlyRefusal};
use crate::v13::handshake::{EXT_EARLY_DATA, parse_plaintext};
use crate::v13::hello::ClientHello13;
use crate::v13::issuer::{TicketError, TicketIssuer};
use crate::v13::server::{HelloContext, Server13};
use crate::v13::strike::{EarlyVerdict, StrikeImportError, StrikeRegister};

/// The strike register of a new endpoint when 0-RTT is on: started now (`start_ms` on the
/// clock that starts with the first time given: 0, or the wall clock's with a ticket master
/// secret), so early data waits one window unless `load_all` restores a saved register.
pub(super) fn register(
    config: &ServerConfig,
    serves_13: bool,
    start_ms: u64,
) -> Option<StrikeRegister> {
    config
        .early_data13
        .filter(|_| config.tickets13 && serves_13)
        .map(|e| StrikeRegister::new(window_ms(&e), e.capacity, start_ms))
}

/// The register's window in milliseconds.
pub(super) fn window_ms(e: &EarlyData13) -> u64 {
    u64::try_from(e.window.as_millis()).unwrap_or(u64::MAX)
}

/// Whether the ClientHello datagram offers early data on a ticket of ours that allows it
/// (offered first, opening now, of the handshake's suite): it goes on without the cookie.
pub(super) fn skips_cookie(server: &Server13, data: &[u8], cx: &HelloContext<'_>) -> bool {
    parse_plaintext(data)
        .ok()
        .and_then(|p| ClientHello13::parse(p.body).ok())
        .is_some_and(|ch| server.early_ticket(&ch, cx))
}

/// Counts (and logs at DEBUG) what became of a handshake's early data.
pub(super) fn count(stats: &mut EndpointStats, peer: SocketAddr, outcome: EarlyOutcome) {
    let why = match outcome {
        EarlyOutcome::NotOffered => return,
        EarlyOutcome::Accepted(max) => {
            stats.early_data_accepted += 1;
            log::debug!("{peer}: DTLS 1.3 early data accepted (up to {max} B)");
            return;
        }
        EarlyOutcome::Refused(EarlyRefusal::Register(v)) => match v {
            EarlyVerdict::Replay => {
                stats.early_data_refused_replay += 1;
                "replay (its ticket was used, or its binder is in the strike register)"
            }
            EarlyVerdict::Stale => {
                stats.early_data_refused_stale += 1;
                "stale (ticket age outside the window)"
            }
            EarlyVerdict::Starting => {
                stats.early_data_refused_starting += 1;
                "starting (no restored strike register, within one window of the start)"
            }
            EarlyVerdict::NoAge => {
                stats.early_data_refused_no_age += 1;
                "no ticket age (an external PSK)"
            }
            EarlyVerdict::Full => {
                stats.early_data_refused_full += 1;
                "strike register full"
            }
            EarlyVerdict::Accept => return,
        },
        EarlyOutcome::Refused(r) => {
            stats.early_data_refused_other += 1;
            match r {
                EarlyRefusal::Off => "0-RTT off",
                EarlyRefusal::AfterRetry => "HelloRetryRequest (cookie or key share)",
                _ => "not on a first-offered ticket that allows it",
            }
        }
    };
    log::debug!("{peer}: DTLS 1.3 early data refused: {why}");
}

/// The strike register part of a `save_all` blob: the save time (milliseconds on this
/// endpoint's clock) and the register's export.
const SAVED_AT_LEN: usize = 8;

impl Endpoint {
    /// A first ClientHello about to get the cookie: if it offers early data (0-RTT on), that
    /// is lost (never taken after a HelloRetryRequest) and counted here, once per offer, by
    /// why it got the cookie: its ticket resumed a session already (a replay: the single-use
    /// ticket catches it before the register), it offers an external PSK first (no age), or
    /// anything else (a ticket without early data, expired, or a missing key share).
    pub(super) fn early_at_retry(&mut self, from: SocketAddr, data: &[u8], secs: u64) {
        let (Some(_), Some(server)) = (&self.v13.strike, &self.v13.server) else {
            return;
        };
        let Ok(ch) = parse_plaintext(data).and_then(|p| ClientHello13::parse(p.body)) else {
            return;
        };
        if ch.extension(EXT_EARLY_DATA).is_none() {
            return;
        }
        let used = ch.psks.iter().any(|(id, _)| {
            server
                .tickets
                .as_ref()
                .is_some_and(|t| matches!(t.open(&id.identity, secs), Err(TicketError::Used)))
        });
        let external = ch
            .psks
            .first()
            .is_some_and(|(id, _)| !TicketIssuer::looks_like_ticket(&id.identity));
        let outcome = EarlyOutcome::Refused(if used {
            EarlyRefusal::Register(EarlyVerdict::Replay)
        } else if external {
            EarlyRefusal::Register(EarlyVerdict::NoAge)
        } else {
            EarlyRefusal::AfterRetry
        });
        count(&mut self.stats, from, outcome);
    }

    /// A ticket's ClientHello that skipped the cookie for its early data but got a
    /// HelloRetryRequest after all (no key share the server takes): sent now, nothing kept,
    /// the ticket not spent; the second ClientHello comes the usual way.
    pub(super) fn early_retry(&mut self, id: u64, retry: Vec<u8>) {
        let Some(addr) = self.v13.conns.get(&id).map(|e| e.addr) else {
            return;
        };
        self.stats.hello_verify_sent += 1;
        count(
            &mut self.stats,
            addr,
            EarlyOutcome::Refused(EarlyRefusal::AfterRetry),
        );
        self.out.push_back(Transmit {
            destination: addr,
            payload: retry,
        });
        self.remove(id);
    }

    /// The strike register for `save_all`, if 0-RTT is on.
    pub(in crate::endpoint) fn export_strike(&mut self, now: Instant) -> Option<Vec<u8>> {
        let now_ms = self.v13.ms(now);
        let r = self.v13.strike.as_mut()?;
        let mut out = now_ms.to_be_bytes().to_vec();
        out.extend_from_slice(&r.export(now_ms));
        Some(out)
    }

    /// Restores the strike register from `save_all`: early data is taken at once, and what
    /// the previous process took is still refused. Ignored when 0-RTT is off here.
    pub(in crate::endpoint) fn import_strike(
        &mut self,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), StrikeImportError> {
        let Some(cfg) = self.config.early_data13 else {
            return Ok(());
        };
        if self.v13.strike.is_none() {
            return Ok(());
        }
        let (at, export) = bytes
            .split_at_checked(SAVED_AT_LEN)
            .ok_or(StrikeImportError::Length)?;
        let mut b = [0u8; SAVED_AT_LEN];
        b.copy_from_slice(at);
        let saved_ms = u64::from_be_bytes(b);
        let mut r = StrikeRegister::import(export, window_ms(&cfg), cfg.capacity, saved_ms)?;
        // the restart counted as no time: entries are kept at least as long as they should
        r.shift(saved_ms, self.v13.ms(now));
        self.v13.strike = Some(r);
        Ok(())
    }
}
