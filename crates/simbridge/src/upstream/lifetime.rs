//! The key-lifetime margins for the lifetime the BSF actually issues.
//!
//! `rekey_before` (default 1 h) and `min_key_life` (60 s) are fixed durations, but the Ks
//! lifetime is the operator's BSF setting (TS 33.220 §4.5.2: the BSF sets it in the
//! bootstrapping answer). With a lifetime at or below either margin, every fresh context looks
//! already due: the gateway would bootstrap again at once, over and over (an AKA run on the card
//! and a context at the BSF each time) and never bring a session up. So a margin that the
//! lifetime of the context at hand cannot honour at all is capped: a `rekey_before` at or above
//! the lifetime becomes half of it, a `min_key_life` at or above it a quarter. A margin below the
//! lifetime is kept as configured, however close (a lab may rekey every few seconds on purpose).

use crate::gba::context::BootstrapContext;
use std::time::Duration;

/// The margins for one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Margins {
    /// Start make-before-break when this little key life is left.
    pub rekey_before: Duration,
    /// Start no handshake with less key life than this.
    pub min_key_life: Duration,
}

impl Margins {
    /// The configured margins, capped by the lifetime `ctx` was issued with.
    pub fn for_context(
        rekey_before: Duration,
        min_key_life: Duration,
        ctx: &BootstrapContext,
    ) -> Self {
        let life = ctx.expires.duration_since(ctx.created).unwrap_or_default();
        let cap = |margin: Duration, share: u32| {
            if margin >= life { life / share } else { margin }
        };
        Self {
            rekey_before: cap(rekey_before, 2),
            min_key_life: cap(min_key_life, 4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gba::context::GbaMode;
    use std::time::SystemTime;

    fn ctx(life: u64) -> BootstrapContext {
        let now = SystemTime::now();
        BootstrapContext {
            btid: "b@bsf.example".into(),
            rand: [0; 16],
            impi: "i@ims.example".into(),
            expires: now + Duration::from_secs(life),
            created: now,
            mode: GbaMode::Me,
            bsf_url: "http://bsf.example".into(),
            ks: None,
        }
    }

    #[test]
    fn long_lifetimes_keep_the_configured_margins() {
        let m = Margins::for_context(
            Duration::from_secs(3600),
            Duration::from_secs(60),
            &ctx(86_400),
        );
        assert_eq!(m.rekey_before, Duration::from_secs(3600));
        assert_eq!(m.min_key_life, Duration::from_secs(60));
    }

    #[test]
    fn short_lifetimes_cap_the_margins() {
        let m = Margins::for_context(Duration::from_secs(3600), Duration::from_secs(60), &ctx(60));
        assert_eq!(m.rekey_before, Duration::from_secs(30));
        assert_eq!(m.min_key_life, Duration::from_secs(15));
        let m = Margins::for_context(Duration::from_secs(20), Duration::from_secs(60), &ctx(60));
        assert_eq!(m.rekey_before, Duration::from_secs(20));
    }

    #[test]
    fn margins_below_the_lifetime_are_kept_however_close() {
        let m = Margins::for_context(Duration::from_secs(697), Duration::from_secs(60), &ctx(700));
        assert_eq!(m.rekey_before, Duration::from_secs(697));
        assert_eq!(m.min_key_life, Duration::from_secs(60));
    }
}
