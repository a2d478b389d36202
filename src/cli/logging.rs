//! Logger set-up for every subcommand: `RUST_LOG` as usual (default `warn`), with the
//! third-party targets that dump raw bytes capped below trace whatever `RUST_LOG` says.
//!
//! Why: at trace level the HTTP and TLS stacks print request and response bytes (ureq-proto's
//! hexdump showed `Authorization: Bearer <token>` and the key API's `meKeyMaterial`); nothing
//! secret may reach a log at any level. At debug they log only redacted summaries (ureq hides
//! every header but a few harmless ones), so debug stays available for them.

use log::{LevelFilter, Log, Metadata, Record};

/// Target prefixes (crate names) never logged above debug.
pub const CAPPED_TARGETS: &[&str] = &[
    "ureq",
    "ureq_proto",
    "rustls",
    "tiny_http",
    "webpki",
    "mio",
    "serialport",
    "pcsc",
];

/// Whether `target` is one of [`CAPPED_TARGETS`] or inside one (`ureq_proto::client`).
pub fn is_capped(target: &str) -> bool {
    CAPPED_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

struct Capped(env_logger::Logger);

impl Log for Capped {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        (m.level() <= log::Level::Debug || !is_capped(m.target())) && self.0.enabled(m)
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            self.0.log(r);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Installs the logger (once, at start).
pub fn init() {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build();
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(Capped(inner))).is_ok() {
        log::set_max_level(max.max(LevelFilter::Error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_dumping_targets_are_capped() {
        assert!(is_capped("ureq") && is_capped("ureq_proto::client::flow"));
        assert!(is_capped("rustls::conn") && is_capped("tiny_http"));
        assert!(!is_capped("ureqx") && !is_capped("simbridge_lab::bsf::server"));
    }
}
