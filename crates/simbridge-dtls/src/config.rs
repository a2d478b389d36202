//! Configuration of clients and servers, and the PSK interfaces. The PSK is asked for after the
//! suite is chosen (the GBA key depends on it) and may be answered later: the handshake parks.

use std::sync::Arc;
use std::time::Duration;

use super::cid::{CidGenerator, RandomCid};
use super::rng::{DtlsRng, OsRng};
use super::session::Session;
use super::suite::CipherSuite;
use super::version::Versions;
use crate::secret::SecretVec;

/// Retransmission timer policy (RFC 6347 §4.2.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    /// First timeout (RFC 6347: 1 s; RFC 7925 profile: 9 s).
    pub initial: Duration,
    /// Upper bound of the doubling timer (60 s).
    pub max: Duration,
    /// Retransmissions of one flight before the handshake fails.
    pub max_retransmits: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_retransmits: 7,
        }
    }
}

/// A client PSK: identity and key.
#[derive(Debug, Clone)]
pub struct ClientPsk {
    /// psk_identity sent in ClientKeyExchange.
    pub identity: Vec<u8>,
    /// The key.
    pub key: SecretVec,
}

/// Answer of a PSK source.
#[derive(Debug, Clone)]
pub enum PskAnswer<T> {
    /// Here it is.
    Ready(T),
    /// Will come through `provide_psk` (the handshake parks and emits `PskRequested`).
    Pending,
    /// No key for this identity. Server: RFC 4279 §2, the handshake carries on with a random
    /// key and fails at the client's Finished with `decrypt_error`, so the client cannot tell
    /// an unknown identity from a wrong key; the server's close reason says which it was
    /// ([`crate::Error::UnknownPskIdentity`]). Client: the handshake fails.
    Unknown,
    /// The key source cannot answer now (a key API down): fatal `internal_error` at once, so
    /// the peer retries later instead of treating its key as rejected.
    Unavailable,
}

/// Why a server refuses a PSK request it parked (`PskRequested`); see
/// [`crate::Endpoint::refuse_psk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PskRefusal {
    /// The identity is not known: the same as [`PskAnswer::Unknown`] (random key, the
    /// handshake fails at the client's Finished with `decrypt_error`).
    UnknownIdentity,
    /// The key source is unavailable: the same as [`PskAnswer::Unavailable`] (fatal
    /// `internal_error` at once).
    Unavailable,
}

/// RFC 7627 extended master secret policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EmsPolicy {
    /// A peer without the extension is refused with `handshake_failure` (the default;
    /// RFC 9325, BCP 195, asks TLS 1.2 implementations to use EMS).
    #[default]
    Required,
    /// A peer without the extension gets a session with the RFC 5246 master secret (open to
    /// the triple handshake attack, RFC 7627 §1). Such a session is counted, reported by
    /// [`crate::Connection::extended_master_secret`] and never resumable (RFC 7627
    /// §5.3: no session ID cached, no ticket). A client still offers the extension.
    Preferred,
}

/// The client's PSK source: called after ServerHello(+ServerKeyExchange) with the server's hint.
pub trait ClientPskSource: Send + Sync {
    /// PSK for this server's hint and the negotiated suite.
    fn psk(&self, hint: Option<&[u8]>, suite: CipherSuite) -> PskAnswer<ClientPsk>;
}

/// What the server knows when it looks a PSK up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PskRequest {
    /// psk_identity from ClientKeyExchange.
    pub identity: Vec<u8>,
    /// host_name from the client's server_name extension.
    pub sni: Option<String>,
    /// Negotiated suite.
    pub suite: CipherSuite,
}

/// The server's PSK store (may be backed by a BSF: answer `Pending`, then `provide_psk`).
pub trait ServerPskStore: Send + Sync {
    /// PSK for this identity, SNI and suite.
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec>;

    /// What is left of this key's lifetime (a GBA Ks_NAF expires with its bootstrapping);
    /// sessions and tickets made with it never live longer. `None`: no limit known.
    fn key_lifetime(&self, _req: &PskRequest) -> Option<Duration> {
        None
    }
}

/// One static identity and key, usable on both sides.
#[derive(Debug, Clone)]
pub struct StaticPsk {
    /// Identity.
    pub identity: Vec<u8>,
    /// Key.
    pub key: SecretVec,
}

impl ClientPskSource for StaticPsk {
    fn psk(&self, _hint: Option<&[u8]>, _suite: CipherSuite) -> PskAnswer<ClientPsk> {
        PskAnswer::Ready(ClientPsk {
            identity: self.identity.clone(),
            key: self.key.clone(),
        })
    }
}

impl ServerPskStore for StaticPsk {
    fn lookup(&self, req: &PskRequest) -> PskAnswer<SecretVec> {
        if req.identity == self.identity {
            PskAnswer::Ready(self.key.clone())
        } else {
            PskAnswer::Unknown
        }
    }
}

/// Settings shared by both roles.
#[derive(Clone)]
pub struct CommonConfig {
    /// Suites in preference order.
    pub suites: Vec<CipherSuite>,
    /// Retransmission policy.
    pub retransmit: RetransmitConfig,
    /// Largest UDP payload we send (PMTU); handshake flights are fragmented to fit.
    pub mtu: usize,
    /// Randomness.
    pub rng: Arc<dyn DtlsRng>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            suites: vec![CipherSuite::PskAes128Ccm8],
            retransmit: RetransmitConfig::default(),
            mtu: DEFAULT_MTU,
            rng: Arc::new(OsRng),
        }
    }
}

/// Default PMTU for UDP payloads (IPv6 minimum MTU minus headers, with room for tunnels).
pub const DEFAULT_MTU: usize = 1200;
/// Smallest PMTU we accept: enough for a fragment with its headers.
pub const MIN_MTU: usize = 128;

/// Client settings.
#[derive(Clone)]
pub struct ClientConfig {
    /// Shared settings.
    pub common: CommonConfig,
    /// PSK source.
    pub psk: Arc<dyn ClientPskSource>,
    /// server_name to send (SNI).
    pub server_name: Option<String>,
    /// RFC 9146 Connection ID: `None` does not offer the extension; `Some(n)` offers it with a
    /// random CID of `n` bytes for the server to put in its records (`Some(0)`: "I need none",
    /// the server then sends plain records but we still send it tls12_cid records when it
    /// gives us a CID, which is what survives our NAT rebinding).
    pub connection_id: Option<usize>,
    /// A session to resume (from [`crate::Connection::session`] of an earlier
    /// connection, possibly saved with [`Session::to_bytes`]). Offered by session ID and, if
    /// it holds one, by ticket; the server may refuse and run a full handshake.
    pub resume: Option<Session>,
    /// Ask for an RFC 5077 ticket (empty SessionTicket extension). Off by default: a ticket
    /// costs a NewSessionTicket in the full handshake; session-ID resumption needs nothing.
    pub session_tickets: bool,
    /// Whether a server without RFC 7627 extended master secret is accepted (the client
    /// always offers it). Default [`EmsPolicy::Required`].
    pub extended_master_secret: EmsPolicy,
    /// Pack several handshake messages of a flight into one record. Off by default: every
    /// handshake message gets its own record (records of a flight still share datagrams),
    /// which every stack accepts; some constrained stacks refuse packed records.
    pub pack_handshake_records: bool,
    /// The client also speaks DTLS 1.3 (it fell back from it, `Versions::Auto`): a ServerHello
    /// whose random ends in the RFC 8446 §4.1.3 downgrade sentinel means a DTLS 1.3 server was
    /// made to answer in 1.2, and is refused with illegal_parameter. Default false.
    pub downgrade_check: bool,
    /// DTLS 1.3: offer the PSK imported per RFC 9258 (an ImportedIdentity for DTLS 1.3 /
    /// HKDF-SHA256 with an empty context, bound with "imp binder") instead of the external
    /// PSK as it is; the server must import too. Default false. DTLS 1.2 ignores it.
    pub psk_importers: bool,
}

impl ClientConfig {
    /// A client with one static PSK and the defaults (CCM_8, 1 s..60 s, MTU 1200).
    pub fn new(psk: Arc<dyn ClientPskSource>) -> Self {
        Self {
            common: CommonConfig::default(),
            psk,
            server_name: None,
            connection_id: None,
            resume: None,
            session_tickets: false,
            extended_master_secret: EmsPolicy::Required,
            pack_handshake_records: false,
            downgrade_check: false,
            psk_importers: false,
        }
    }
}

/// Default [`ServerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default [`ServerConfig::max_handshaking`]: a quarter of the default table.
pub const DEFAULT_MAX_HANDSHAKING: usize = 2_500;

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Shared settings.
    pub common: CommonConfig,
    /// PSK store.
    pub psk: Arc<dyn ServerPskStore>,
    /// psk_identity_hint; `None` omits ServerKeyExchange for plain PSK suites.
    pub identity_hint: Option<Vec<u8>>,
    /// Cookie secret lifetime; the previous secret stays valid for one more period.
    pub cookie_rotation: Duration,
    /// Most connections (established or handshaking) an endpoint holds.
    pub max_connections: usize,
    /// Most connections still handshaking (after a valid cookie, not yet completed) an
    /// endpoint holds, so that a flood of cookie-valid handshakes that never finish cannot
    /// take the whole table. When it is full, a new cookie-valid ClientHello takes the place
    /// of the handshake that made no progress (no answer to our flight) for the longest time,
    /// never of an established connection (counted in `EndpointStats::handshakes_evicted`).
    /// Default 2,500, a quarter of the default `max_connections`: new handshakes are accepted
    /// at most at `handshakes_per_second` (1,000/s by default), so even a flood that takes
    /// every token cycles the budget no faster than once every 2.5 s, while a genuine
    /// handshake completes in two round trips and its client's answer (a ClientKeyExchange
    /// flight) counts as progress; the other 7,500 slots stay for established sessions. Keep
    /// it well above `handshakes_per_second` times the slowest client's round trip, and below
    /// `max_connections` (lowering that one alone does not lower this: at or above it the
    /// budget never acts and a flood can again fill the table). 0 refuses every new handshake.
    pub max_handshaking: usize,
    /// New handshakes (valid cookies) accepted per second, with a burst of the same size.
    pub handshakes_per_second: u32,
    /// RFC 9146 Connection ID: answered only when the client offers the extension. `Some(g)`
    /// hands out CIDs made by `g` (default: 4 random bytes; length 0: "I need none"); `None`
    /// ignores the extension (plain records, routing by address).
    pub connection_id: Option<Arc<dyn CidGenerator>>,
    /// Capacity of the session-ID cache (0: no session IDs, only tickets resume).
    pub session_cache: usize,
    /// Length of the session IDs we hand out (16..=32). 16 random bytes by default: a session
    /// ID is a public cache key, not a secret (resuming needs the master secret), and every
    /// byte rides three times in a resumption with cookie (both ClientHellos, ServerHello);
    /// 32 (what OpenSSL and Mbed TLS hand out) costs 48 more bytes per resumption. Not below
    /// 16: the Mbed TLS 3.6 client does not offer shorter session IDs (measured).
    pub session_id_len: usize,
    /// How long a session may be resumed (cut to the PSK's remaining lifetime, see
    /// [`ServerPskStore::key_lifetime`]).
    pub session_lifetime: Duration,
    /// Issue RFC 5077 tickets to DTLS 1.2 clients that ask (stateless resumption).
    pub session_tickets: bool,
    /// DTLS 1.3: send a NewSessionTicket after every completed handshake and take our tickets
    /// back, once each, to resume (v13/issuer.rs). Off by default: a DTLS 1.3 client asks for
    /// nothing, so every session would pay for a ticket (measured with an 81-byte GBA
    /// identity, CCM_8: a 194-byte NewSessionTicket down and a 29-byte ACK up), and since a
    /// ticket never outlives the Ks_NAF it descends from, a resumption never spares a
    /// bootstrap, only the server's key lookup, while its ClientHellos carry the 157-byte ticket
    /// beside the identity (1,239 B for the handshake against 847 B with the external PSK).
    /// The ticket lifetime is `session_lifetime` (at most 7 days), cut to the key's
    /// ([`ServerPskStore::key_lifetime`]); the key rotates on `ticket_rotation`.
    pub tickets13: bool,
    /// RFC 9258 PSK importers for DTLS 1.3 (off by default: few peers import): a ClientHello
    /// identity that is an ImportedIdentity for DTLS 1.3 / HKDF-SHA256 with an empty context
    /// is asked for by its external_identity ([`crate::Event::PskRequested`] carries that, so
    /// the key lookup is unchanged), and the key given is imported before the "imp binder"
    /// check. Identities that are not imported keep working beside them.
    pub psk_importers: bool,
    /// DTLS 1.3 0-RTT (early data) on our tickets; `None` (the default): refused. Needs
    /// `tickets13`. See [`EarlyData13`].
    pub early_data13: Option<EarlyData13>,
    /// Ticket key rotation period; the previous key still opens tickets for one more period.
    pub ticket_rotation: Duration,
    /// DTLS 1.3: derive the ticket keys from this persistent master secret and the wall clock
    /// (period = wall seconds / `ticket_rotation`) instead of random keys, so tickets issued
    /// before a restart (or a crash) still open; the endpoint's seconds then count from
    /// `wall_ms`. `None` (the default): random keys, lost with the process.
    pub ticket_master: Option<crate::v13::ticket_master::TicketMaster>,
    /// Skip the HelloVerifyRequest round trip when the ClientHello offers a session we can
    /// resume. Saves a round trip, but an abbreviated handshake flight is then sent to an
    /// unverified address (amplification: ~150 bytes for a ~100+ byte hello, and anyone who
    /// replays a captured hello triggers it). Off by default.
    pub resume_without_cookie: bool,
    /// The host names this server serves (RFC 6066 server_name; compared without regard to
    /// ASCII case). A ClientHello naming another host is refused after the cookie exchange,
    /// before any PSK lookup, with a fatal `unrecognized_name` alert
    /// ([`crate::Error::UnrecognizedName`]). A ClientHello without SNI is accepted.
    /// Empty (the default): any name.
    pub server_names: Vec<String>,
    /// Whether a client without RFC 7627 extended master secret is accepted. Default
    /// [`EmsPolicy::Required`].
    pub extended_master_secret: EmsPolicy,
    /// Pack several handshake messages of a flight into one record (see
    /// [`ClientConfig::pack_handshake_records`]). Off by default.
    pub pack_handshake_records: bool,
    /// Bytes one handshake may hold in buffers before it completes: partial messages being
    /// reassembled, records of the next epoch that came before the ChangeCipherSpec, records
    /// held while a PSK lookup is parked. Default 2 KiB (a PSK or ECDHE-PSK handshake needs a
    /// few hundred). Beyond it, fragments and records are dropped (the peer retransmits).
    pub handshake_buffer_per_connection: usize,
    /// Bytes all handshakes of an [`crate::Endpoint`] may hold in those buffers
    /// together. Default 8 MiB.
    pub handshake_buffer_total: usize,
    /// Handshakes in progress (after a valid cookie, not yet completed) per source IP
    /// address; a hello beyond it is refused (counted, no answer). Default 32.
    pub max_half_open_per_address: usize,
    /// How long a handshake may take from its valid cookie to its end; then it is dropped
    /// ([`crate::Error::HandshakeExpired`]). Default 30 s: four retransmissions of a
    /// client with the RFC 6347 1 s timer, two of one with the RFC 7925 9 s timer, and a PSK
    /// lookup.
    pub half_open_timeout: Duration,
    /// The DTLS versions served. Default [`Versions::Auto`]: a ClientHello that offers DTLS
    /// 1.3 (supported_versions, RFC 9147 §5.3) gets DTLS 1.3 when a 1.3 suite is among
    /// `common.suites`, any other DTLS 1.2; a DTLS 1.2 ServerHello then carries the RFC 8446
    /// §4.1.3 downgrade sentinel. `Dtls12`: DTLS 1.2 only (random ServerHello.random).
    /// `Dtls13`: a ClientHello without DTLS 1.3 gets a protocol_version alert.
    pub versions: Versions,
}

impl ServerConfig {
    /// A server with the defaults (CCM_8, no hint, 10 000 connections of which at most 2 500
    /// handshaking, 1 000 handshakes/s,
    /// 4-byte Connection IDs for clients that ask, a 1024-session cache, DTLS 1.2 tickets for
    /// clients that ask and no DTLS 1.3 tickets, sessions resumable for 24 h or the PSK's lifetime, cookies always, any server
    /// name, extended master secret required, one handshake message per record, 2 KiB of
    /// handshake buffers per connection and 8 MiB in all, 32 handshakes in progress per
    /// source address, each at most 30 s).
    pub fn new(psk: Arc<dyn ServerPskStore>) -> Self {
        Self {
            common: CommonConfig::default(),
            psk,
            identity_hint: None,
            cookie_rotation: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_handshaking: DEFAULT_MAX_HANDSHAKING,
            handshakes_per_second: 1_000,
            connection_id: Some(Arc::new(RandomCid::default())),
            session_cache: 1024,
            session_id_len: 16,
            session_lifetime: Duration::from_secs(24 * 3600),
            session_tickets: true,
            tickets13: false,
            psk_importers: false,
            early_data13: None,
            ticket_rotation: Duration::from_secs(12 * 3600),
            ticket_master: None,
            resume_without_cookie: false,
            server_names: Vec::new(),
            extended_master_secret: EmsPolicy::Required,
            pack_handshake_records: false,
            handshake_buffer_per_connection: 2048,
            handshake_buffer_total: 8 << 20,
            max_half_open_per_address: 32,
            half_open_timeout: Duration::from_secs(30),
            versions: Versions::Auto,
        }
    }
}

/// DTLS 1.3 0-RTT on the server (v13/early.rs, v13/strike.rs; docs/dtls13.md "0-RTT
/// (server)"): tickets announce `max_size`, and a resuming client's early data is taken when
/// the ClientHello is fresh (by its ticket age, within `window`) and its binder is not in the
/// strike register. Early data is delivered as [`crate::Event::EarlyData`] before `Connected`:
/// until then it may be an attacker's replay of a recorded ClientHello, which the single-use
/// tickets and the register refuse within the process and, through `save_all` / `load_all`,
/// across a graceful restart; a start without a restored register refuses early data for one
/// `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyData13 {
    /// max_early_data_size announced in the tickets: bytes of early data taken per
    /// handshake (more ends it with unexpected_message).
    pub max_size: u32,
    /// Freshness window and how long a ClientHello is kept in the register.
    pub window: Duration,
    /// ClientHellos with early data taken within one window; at this many, early data is
    /// refused (the handshakes go on).
    pub capacity: usize,
}

impl Default for EarlyData13 {
    /// 1 KiB of early data, the register's default window (10 s) and capacity (100 000).
    fn default() -> Self {
        Self {
            max_size: 1024,
            window: Duration::from_millis(crate::v13::strike::DEFAULT_WINDOW_MS),
            capacity: crate::v13::strike::DEFAULT_CAPACITY,
        }
    }
}

impl ServerConfig {
    /// True when this server negotiates DTLS 1.3 with a client that offers it: the versions
    /// allow it and a DTLS 1.3 suite is configured.
    pub fn serves_dtls13(&self) -> bool {
        self.versions.allows_13() && self.common.suites.iter().any(|s| s.is_tls13())
    }

    /// True when this server serves `name` (always when `server_names` is empty).
    pub fn serves_name(&self, name: &str) -> bool {
        self.server_names.is_empty()
            || self
                .server_names
                .iter()
                .any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name))
    }
}
