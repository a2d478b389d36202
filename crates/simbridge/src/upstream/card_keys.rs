//! Answers an upstream session's key actions from a card: [`Action::Bootstrap`] with a GBA
//! bootstrap over Ub (a cached context when one is still good), [`Action::DeriveNafKey`] with the
//! card's GBA_U derivation. The gateway's key service and an embedding application use the same
//! code, so neither builds keys by hand.

use super::{Action, KeyError, Now, UpstreamSession};
use crate::card::CardChannel;
use crate::gba::client::{CacheUse, Obtained};
use crate::gba::transport::UbTransport;
use crate::gba::{ContextCache, NafId, ReusePolicy, UbConfig, obtain_context};
use crate::secret::Secret;
use crate::uicc::Uicc;
use std::path::Path;
use std::time::SystemTime;

/// A BSF to bootstrap with, a context cache and a transport; the card is lent per call, so
/// the owner can reopen it after a card failure.
pub struct CardKeys<T: UbTransport> {
    ub: UbConfig,
    cache: ContextCache,
    policy: ReusePolicy,
    transport: T,
}

impl<T: UbTransport> CardKeys<T> {
    /// Keys from the BSF of `ub`, contexts cached in `state_dir`, HTTP through `transport`.
    pub fn new(ub: UbConfig, state_dir: &Path, transport: T) -> Self {
        Self {
            ub,
            cache: ContextCache::new(state_dir),
            policy: ReusePolicy::default(),
            transport,
        }
    }

    /// When a cached context is reused (margin before its expiry).
    pub fn with_policy(mut self, policy: ReusePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The Ub settings.
    pub fn ub(&self) -> &UbConfig {
        &self.ub
    }

    /// Whether a bootstrap for this card would be answered from the cache (no Ub traffic).
    pub fn cached<C: CardChannel>(&self, card: &Uicc<C>, now: SystemTime) -> bool {
        self.cache
            .reusable(card.impi(), Some(&self.ub.bsf_url), now, self.policy)
            .ok()
            .flatten()
            .is_some()
    }

    /// A bootstrapping context: the cached one unless `force` or it is too close to expiry,
    /// else a new bootstrap (AKA on the card, HTTP Digest AKA with the BSF).
    pub fn bootstrap<C: CardChannel>(
        &mut self,
        card: &mut Uicc<C>,
        force: bool,
        now: SystemTime,
    ) -> Result<Obtained, KeyError> {
        let use_cache = CacheUse {
            cache: &self.cache,
            policy: ReusePolicy {
                force,
                ..self.policy
            },
            any_bsf: false,
        };
        Ok(obtain_context(
            card,
            &mut self.transport,
            &self.ub,
            &use_cache,
            now,
        )?)
    }

    /// GBA_U: Ks_ext_NAF for `naf_id`, derived on the card (which keeps Ks).
    pub fn naf_key<C: CardChannel>(
        &mut self,
        card: &mut Uicc<C>,
        naf_id: &NafId,
    ) -> Result<Secret<32>, KeyError> {
        let impi = card.impi().to_string();
        card.gba_naf_derive(&naf_id.to_bytes(), &impi)
            .map_err(KeyError::Card)
    }

    /// Answers `action` into `session` (the wall clock of `now` decides whether the cached
    /// context is still good).
    pub fn answer<C: CardChannel>(
        &mut self,
        card: &mut Uicc<C>,
        session: &mut UpstreamSession,
        now: Now,
        action: Action,
    ) {
        match action {
            Action::Bootstrap { force } => {
                let got = self
                    .bootstrap(card, force, now.wall)
                    .map(|o| (o.context, o.bootstrapped));
                session.bootstrap_done(now, got);
            }
            Action::DeriveNafKey { naf_id } => {
                let key = self.naf_key(card, &naf_id);
                session.provide_naf_key(now, key);
            }
        }
    }
}
