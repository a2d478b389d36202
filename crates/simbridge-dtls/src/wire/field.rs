//! The names of the fields a parser can fail on, as a type: callers match on a [`Field`]
//! instead of comparing strings, and the text each one prints stays in one table.

/// Generates [`Field`], [`Field::ALL`] and [`Field::as_str`] from one table, so a variant
/// and its text cannot drift apart.
macro_rules! fields {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)+) => {
        /// A field of a record, handshake message or stored state that failed to parse: the
        /// payload of [`WireError`](super::WireError) and of a state export's
        /// [`ExportField::Field`](crate::export::ExportField::Field). It prints as the name
        /// the error messages have always used (`truncated cookie`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Field {
            $($(#[$doc])* $variant,)+
        }

        impl Field {
            /// Every field, in table order.
            pub const ALL: &'static [Field] = &[$(Field::$variant,)+];

            /// The field's name as error messages print it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Field::$variant => $text,)+
                }
            }
        }
    };
}

fields! {
    // record layer
    /// DTLSPlaintext.type.
    RecordType => "record type",
    /// A content type byte we do not know.
    ContentType => "content type",
    /// DTLSPlaintext.version.
    RecordVersion => "record version",
    /// DTLSPlaintext.epoch.
    RecordEpoch => "record epoch",
    /// DTLSPlaintext.sequence_number.
    RecordSeq => "record seq",
    /// A tls12_cid record where no Connection ID was negotiated.
    Tls12CidRecord => "tls12_cid record",
    /// The Connection ID of a tls12_cid record.
    RecordCid => "record cid",
    /// DTLSPlaintext.length.
    RecordLength => "record length",
    /// DTLSPlaintext.fragment.
    RecordFragment => "record fragment",
    /// The first byte of a DTLS 1.3 unified header (RFC 9147 §4).
    UnifiedHeader => "unified header",
    /// The Connection ID of a DTLS 1.3 record.
    UnifiedCid => "unified header cid",
    /// The (truncated) sequence number of a DTLS 1.3 record.
    UnifiedSeq => "unified header seq",
    /// The length of a DTLS 1.3 record.
    UnifiedLength => "unified header length",
    /// A DTLS 1.3 record's encrypted body (shorter than the 16 bytes its record number mask
    /// samples, or than its tag).
    UnifiedBody => "unified record body",
    /// DTLSInnerPlaintext with no content type (nothing but zero padding).
    InnerContentType => "inner content type",
    /// The record_numbers list of a DTLS 1.3 ACK.
    AckRecordNumbers => "ack record numbers",
    /// The identities of a pre_shared_key extension (RFC 8446 §4.2.11).
    PskIdentities => "psk identities",
    /// The binders of a pre_shared_key extension, or one binder.
    PskBinders => "psk binders",
    /// A pre_shared_key extension that is not the ClientHello's last.
    PreSharedKeyNotLast => "pre_shared_key not last",
    /// A key_share extension (RFC 8446 §4.2.8) or one of its entries.
    KeyShare => "key_share",
    /// A psk_key_exchange_modes extension (RFC 8446 §4.2.9).
    PskKeyExchangeModes => "psk_key_exchange_modes",
    /// The cookie extension of a HelloRetryRequest or a second ClientHello (RFC 8446 §4.2.2).
    RetryCookie => "cookie extension",
    /// A HelloRetryRequest (RFC 8446 §4.1.4).
    HelloRetryRequest => "hello_retry_request",
    /// ImportedIdentity.external_identity (RFC 9258 §5.1).
    ImportedExternalIdentity => "imported external_identity",
    /// ImportedIdentity.context (RFC 9258 §5.1).
    ImportedContext => "imported context",
    /// ImportedIdentity.target_protocol (RFC 9258 §5.1).
    ImportedTargetProtocol => "imported target_protocol",
    /// ImportedIdentity.target_kdf (RFC 9258 §5.1).
    ImportedTargetKdf => "imported target_kdf",
    /// A whole ImportedIdentity (trailing bytes, or over 2^16-1 bytes).
    ImportedIdentity => "imported identity",
    /// EncryptedExtensions (RFC 8446 §4.3.1).
    EncryptedExtensions => "encrypted_extensions",

    // handshake fragments
    /// Handshake.msg_type.
    HandshakeType => "handshake type",
    /// Handshake.length.
    HandshakeLength => "handshake length",
    /// Handshake.message_seq.
    MessageSeq => "message_seq",
    /// Handshake.fragment_offset.
    FragmentOffset => "fragment_offset",
    /// Handshake.fragment_length.
    FragmentLength => "fragment_length",
    /// A fragment reaching past its message's length.
    FragmentBounds => "fragment bounds",
    /// The bytes of a handshake fragment.
    FragmentBody => "fragment body",

    // hellos
    /// ClientHello.client_version.
    ClientVersion => "client_version",
    /// ServerHello / HelloVerifyRequest server_version.
    ServerVersion => "server_version",
    /// A hello's 32-byte random.
    Random => "random",
    /// A session ID (a hello's, or a stored session's).
    SessionId => "session_id",
    /// A hello's cookie.
    Cookie => "cookie",
    /// A HelloVerifyRequest with an empty cookie.
    EmptyCookie => "empty cookie",
    /// ClientHello.cipher_suites.
    CipherSuites => "cipher_suites",
    /// ServerHello.cipher_suite.
    CipherSuite => "cipher_suite",
    /// ClientHello.compression_methods.
    CompressionMethods => "compression_methods",
    /// ServerHello.compression_method.
    CompressionMethod => "compression_method",
    /// A whole ClientHello.
    ClientHello => "client_hello",
    /// A whole HelloVerifyRequest.
    HelloVerifyRequest => "hello_verify_request",
    /// A whole ServerHello.
    ServerHello => "server_hello",

    // extensions
    /// A hello's extensions block.
    Extensions => "extensions",
    /// Extension.extension_type.
    ExtensionType => "extension type",
    /// Extension.extension_data.
    ExtensionData => "extension data",
    /// The same extension twice in one hello.
    DuplicateExtension => "duplicate extension",
    /// extended_master_secret (RFC 7627), which must be empty.
    ExtendedMasterSecret => "extended_master_secret",
    /// renegotiation_info (RFC 5746).
    RenegotiationInfo => "renegotiation_info",
    /// server_name (RFC 6066), or a stored session's server name.
    ServerName => "server_name",
    /// ServerNameList.
    ServerNameList => "server_name_list",
    /// ServerName.name_type.
    NameType => "name_type",
    /// ServerName.host_name.
    HostName => "host_name",
    /// connection_id (RFC 9146).
    ConnectionId => "connection_id",
    /// supported_groups (RFC 8422).
    SupportedGroups => "supported_groups",

    // key exchange, Finished, alerts
    /// ServerKeyExchange.psk_identity_hint.
    PskIdentityHint => "psk_identity_hint",
    /// ECParameters.curve_type.
    CurveType => "curve_type",
    /// ECParameters.namedcurve.
    NamedCurve => "named_curve",
    /// An ECDHE public point.
    EcPoint => "ec point",
    /// A whole ServerKeyExchange.
    ServerKeyExchange => "server_key_exchange",
    /// ClientKeyExchange.psk_identity.
    PskIdentity => "psk_identity",
    /// A whole ClientKeyExchange.
    ClientKeyExchange => "client_key_exchange",
    /// ServerHelloDone, which must be empty.
    ServerHelloDone => "server_hello_done",
    /// Finished.verify_data of the wrong length.
    FinishedLength => "finished length",
    /// An alert of the wrong length.
    AlertLength => "alert length",
    /// Alert.level.
    AlertLevel => "alert level",
    /// A ChangeCipherSpec other than the single byte 1.
    ChangeCipherSpec => "change_cipher_spec",

    // tickets (RFC 5077)
    /// NewSessionTicket.ticket_lifetime_hint.
    TicketLifetimeHint => "ticket_lifetime_hint",
    /// A ticket (NewSessionTicket.ticket, or a stored session's).
    Ticket => "ticket",
    /// A whole NewSessionTicket.
    NewSessionTicket => "new_session_ticket",
    /// A ticket's issue time, after its key was made.
    Offset => "offset",
    /// A ticket's lifetime.
    Lifetime => "lifetime",

    // stored sessions
    /// A stored session's format byte.
    SessionFormat => "session format",
    /// A stored session of another format version.
    SessionFormatVersion => "session format version",
    /// A cipher suite (a stored session's or a state export's).
    Suite => "suite",
    /// A stored session's cipher suite that this build does not know.
    SessionSuite => "session suite",
    /// A stored session's master secret bytes.
    MasterSecret => "master secret",
    /// A master secret.
    Master => "master",
    /// A PSK identity.
    Identity => "identity",
    /// A ticket's lifetime as stored with its session.
    TicketLifetime => "ticket lifetime",
    /// A whole stored session.
    Session => "session",

    // state exports
    /// An export's role byte.
    Role => "role",
    /// An export's client random.
    ClientRandom => "client_random",
    /// An export's server random.
    ServerRandom => "server_random",
    /// An export's next write sequence number.
    WriteSeq => "write_seq",
    /// Whether an export's replay window has a top.
    Window => "window",
    /// An export's replay window top.
    WindowTop => "window top",
    /// An export's replay window bits.
    WindowBits => "window bits",
    /// An export's Connection ID for reading.
    ReadCid => "read cid",
    /// An export's Connection ID for writing.
    WriteCid => "write cid",
    /// Whether an export negotiated a Connection ID.
    Cid => "cid",
    /// An export's next handshake message sequence numbers.
    NextMessageSeq => "message seq",
    /// An export's counters.
    Stats => "stats",
    /// An export's server name (RFC 6066).
    Sni => "sni",
    /// A whole connection's export.
    Export => "export",
    /// An endpoint export's connection count.
    Count => "count",
    /// An endpoint export's peer address.
    Addr => "addr",
    /// The length of a connection's state in an endpoint export.
    Len => "len",
    /// A connection's state in an endpoint export.
    State => "state",
    /// A whole endpoint export.
    SaveAll => "save_all",
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_field_has_its_own_non_empty_text() {
        let mut seen = HashSet::new();
        for f in Field::ALL {
            assert!(!f.as_str().is_empty(), "{f:?}");
            assert!(seen.insert(f.as_str()), "{f:?} repeats {:?}", f.as_str());
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(Field::NextMessageSeq.as_str(), "message seq");
        assert_eq!(Field::MessageSeq.as_str(), "message_seq");
    }
}
