//! GBA (TS 33.220 / TS 24.109): key derivation, NAF_Id, B-TID and other identifiers, the Ub
//! bootstrapping client (HTTP Digest AKA) and the bootstrapping-context cache with its lifetime.
//!
//! The protocol logic is sans-IO where it can be: time is an input (`now`), the card is reached
//! through [`AkaCard`], HTTP through [`UbTransport`]. The only I/O here is the HTTP transport to
//! the BSF ([`UreqTransport`]) and the cache files in the state directory.
//!
//! Key material (Ks, Ks_NAF, RES) lives in [`crate::secret::Secret`] / [`crate::secret::SecretVec`]:
//! zeroized on drop, never shown by `Debug`.

pub mod cache;
pub mod card;
pub mod client;
pub mod context;
pub mod digest;
pub mod ids;
pub mod kdf;
pub mod key_api;
pub mod naf;
pub mod oscore;
pub mod time;
pub mod transport;
mod uicc_card;
pub mod xml;

pub use cache::{ContextCache, ReusePolicy, default_state_dir};
pub use card::{AkaCard, CardAka};
pub use client::{
    CacheUse, GbaModeChoice, Obtained, UbConfig, UbOutcome, bootstrap, naf_key, obtain_context,
};
pub use context::{BootstrapContext, GbaMode};
pub use ids::{
    PSK_IDENTITY_PREFIX, bsf_host, btid, btid_from_psk_identity, default_bsf_url, impi_from_imsi,
    psk_identity,
};
pub use kdf::{kdf, ks_from_ck_ik, ks_int_naf, ks_naf, tmpi};
pub use naf::{NafId, UaId, suite_code, suite_name};
pub use transport::{HttpResponse, UbTransport, UreqTransport};

/// Errors of the GBA layer.
#[derive(Debug, thiserror::Error)]
pub enum GbaError {
    /// A KDF parameter longer than 65535 bytes.
    #[error("KDF parameter of {0} bytes is longer than 65535")]
    ParamTooLong(usize),
    /// A Ua security protocol id that is not 10 hex digits.
    #[error("Ua security protocol id must be 10 hex digits, got {0:?}")]
    BadUaId(String),
    /// An unusable NAF FQDN.
    #[error("bad NAF host name {0:?}")]
    BadFqdn(String),
    /// An IMSI, MCC or MNC that is not well formed.
    #[error("bad IMSI/MCC/MNC: {0}")]
    BadImsi(String),
    /// A date-time that could not be read.
    #[error("bad date-time {0:?}")]
    BadTime(String),
    /// The bootstrapping XML body could not be read.
    #[error("bad bootstrapping XML: {0}")]
    BadXml(String),
    /// The bootstrapping body is not well-formed XML.
    #[error("bad bootstrapping XML")]
    XmlSyntax(#[source] roxmltree::Error),
    /// A Digest header that could not be read.
    #[error("bad Digest header: {0}")]
    BadHeader(String),
    /// The BSF URL is not an http(s) URL.
    #[error("bad BSF URL {0:?}")]
    BadUrl(String),
    /// HTTP to the BSF failed (connection, DNS, TLS, an answer cut short).
    #[error("cannot reach the BSF{}", transport::untrusted_hint(.0))]
    Http(#[source] ureq::Error),
    /// The BSF did not answer within the request timeout.
    #[error("no answer from the BSF at {url} within {secs} s")]
    NoAnswer {
        /// The request URL.
        url: String,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// The BSF's answer is larger than the transport reads.
    #[error("cannot reach the BSF: response body larger than {0} bytes")]
    BodyTooLarge(u64),
    /// The BSF answered something the protocol does not allow.
    #[error("BSF protocol error: {0}")]
    Protocol(String),
    /// The BSF refused us (403 and the like).
    #[error("BSF refused the bootstrap: HTTP {status}: {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The BSF's reason text (shortened).
        reason: String,
    },
    /// The card rejected AUTN's MAC: the challenge did not come from our home network.
    #[error(
        "network authentication failed (MAC failure on the card: the challenge is not from this card's home network, or the BSF does not know this IMPI); nothing was cached"
    )]
    NetworkAuthFailed,
    /// The 200 OK's rspauth was missing or wrong: the BSF did not prove it knows RES.
    #[error("BSF not authenticated: {0}")]
    BsfNotAuthenticated(String),
    /// The card kept reporting sync failures.
    #[error("still out of sync after {0} resynchronisations")]
    TooManyResyncs(u32),
    /// The card cannot do what GBA needs (no CK/IK, no GBA_U context), in words.
    #[error("card: {0}")]
    Card(String),
    /// A card command failed (reader, modem, soft USIM, or an error status word).
    #[error("card: {doing}")]
    Uicc {
        /// What the card was asked to do.
        doing: &'static str,
        /// The card layer's error.
        #[source]
        source: crate::uicc::UiccError,
    },
    /// The key lifetime the BSF gave is already over.
    #[error("the BSF gave a key lifetime that is already over ({0})")]
    AlreadyExpired(String),
    /// The operating system's random generator failed.
    #[error("random generator failed: {0}")]
    Random(getrandom::Error),
    /// Reading or writing the state directory failed.
    #[error("bootstrapping cache {path}")]
    Cache {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: cache::CacheError,
    },
}

impl GbaError {
    /// Whether the card failed (rather than the BSF, the network or the cache): worth opening the
    /// card again before the next attempt.
    pub fn card_failed(&self) -> bool {
        matches!(self, GbaError::Card(_) | GbaError::Uicc { .. })
    }
}
