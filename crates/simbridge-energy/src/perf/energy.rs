//! The energy model's input from our measured figures: handshake bytes, datagrams and round
//! trips per scheme and the record overhead, as a results file (`simbridge energy --from`).

use super::trace::HandshakeFigures;
use crate::{Figures, ResultsEntry, ResultsFile, StrategyId};

/// Our wire figures from one run (handshakes without close_notify, seen from the client).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OursWire {
    /// Full PSK CCM_8 handshake with cookie exchange.
    pub full: Option<HandshakeFigures>,
    /// Session-ID resumption with cookie exchange.
    pub resume: Option<HandshakeFigures>,
    /// Full PSK CCM_8 handshake with a Connection ID (zero-length ours, 4 bytes the server's).
    pub full_cid: Option<HandshakeFigures>,
    /// CCM_8 record overhead (up, down), no CID.
    pub overhead: Option<(usize, usize)>,
    /// CCM_8 record overhead (up, down) with the CIDs of `full_cid`.
    pub overhead_cid: Option<(usize, usize)>,
    /// OSCORE keyed from GBA, measured with our OSCORE crate.
    pub oscore: Option<OscoreWire>,
    /// DTLS 1.3, measured with our `v13` client and server.
    pub dtls13: Option<Dtls13Wire>,
}

/// DTLS 1.3's figures from one run (TLS_AES_128_CCM_8_SHA256, psk_ke, no cookie).
#[derive(Debug, Clone, PartialEq)]
pub struct Dtls13Wire {
    /// The full handshake without Connection IDs.
    pub psk: HandshakeFigures,
    /// The full handshake with Connection IDs.
    pub cid: HandshakeFigures,
    /// What a record adds to application data (up, down), without CIDs.
    pub overhead: (usize, usize),
    /// The same with the CIDs of `cid`.
    pub overhead_cid: (usize, usize),
}

/// OSCORE's figures from one run: what a key costs and what a message costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OscoreWire {
    /// The context establishment exchange (CoAP POST and its 2.01 Created), UDP payload bytes
    /// up and down, one datagram and one round trip each way.
    pub establishment: (usize, usize),
    /// What protection adds to the model's CoAP request and to its response (up, down).
    pub overhead: (usize, usize),
}

fn hs(f: &HandshakeFigures) -> Figures {
    Figures::new(
        f.c2s_bytes as f64,
        f.s2c_bytes as f64,
        f.c2s_datagrams as f64,
        f.s2c_datagrams as f64,
        f.round_trips() as f64,
    )
}

fn rec((up, down): (usize, usize)) -> Figures {
    Figures::new(up as f64, down as f64, 0.0, 0.0, 0.0)
}

/// A results file for `simbridge energy --from`: each strategy whose figures this run measured
/// (full per message, resumption per message, long-lived with resumption after a rebinding,
/// long-lived + CID, OSCORE, DTLS 1.3 per message and long-lived + CID); the others keep the model's published figures.
pub fn energy_input(w: &OursWire, source: &str) -> ResultsFile {
    let mut file = ResultsFile::measured(source);
    if let Some(o) = w.oscore {
        let (up, down) = o.establishment;
        file.insert(
            StrategyId::Oscore,
            ResultsEntry {
                per_connection: Figures::new(up as f64, down as f64, 1.0, 1.0, 1.0),
                per_message: rec(o.overhead),
                per_key_change: None,
                source: Some(
                    "ours: OSCORE context establishment once per key, AES-CCM-16-64-128 overhead"
                        .into(),
                ),
            },
        );
    }
    if let Some(d) = &w.dtls13 {
        for (id, handshake, overhead, what) in [
            (
                StrategyId::Dtls13Psk,
                &d.psk,
                d.overhead,
                "a psk_ke handshake per message",
            ),
            (
                StrategyId::Dtls13LongLivedCid,
                &d.cid,
                d.overhead_cid,
                "a psk_ke handshake with CIDs per key",
            ),
        ] {
            file.insert(
                id,
                ResultsEntry {
                    per_connection: hs(handshake),
                    per_message: rec(overhead),
                    per_key_change: None,
                    source: Some(format!("ours: DTLS 1.3 CCM_8, {what}, record overhead")),
                },
            );
        }
    }
    let (Some(full), Some(overhead)) = (w.full, w.overhead) else {
        return file;
    };
    file.insert(
        StrategyId::FullPerMessage,
        ResultsEntry {
            per_connection: hs(&full),
            per_message: rec(overhead),
            per_key_change: None,
            source: Some("ours: full PSK CCM_8 with cookie, record overhead".into()),
        },
    );
    if let Some(resume) = w.resume {
        for (id, what) in [
            (StrategyId::ResumePerMessage, "resumption per message"),
            (StrategyId::LongLived, "resumption after each NAT rebinding"),
        ] {
            file.insert(
                id,
                ResultsEntry {
                    per_connection: hs(&resume),
                    per_message: rec(overhead),
                    per_key_change: Some(hs(&full)),
                    source: Some(format!(
                        "ours: session-ID resumption with cookie ({what}); full handshake per key"
                    )),
                },
            );
        }
    }
    if let (Some(cid), Some(oc)) = (w.full_cid, w.overhead_cid) {
        file.insert(
            StrategyId::LongLivedCid,
            ResultsEntry {
                per_connection: hs(&cid),
                per_message: rec(oc),
                per_key_change: None,
                source: Some("ours: full PSK CCM_8 + CID with cookie once per key".into()),
            },
        );
    }
    file
}
