//! The benchmark report (run by `scripts/bench`, which first runs the other benches): measures
//! every wire row for ours and each real peer in this one run through counting UDP relays, merges
//! the other benches' JSON (dtls_wire.json: seal/open throughput vs `openssl speed`;
//! server_scale.json with openssl_scale.json from the C harness on libssl; gateway_latency.json)
//! and writes target/bench/report.json (which `simbridge energy --from` reads) and report.md.
//!
//! `cargo bench --bench report [-- --quick]`. A peer that cannot do a row gets "–" with the
//! reason; with SIMBRIDGE_REQUIRE_PEERS non-empty a missing peer or a failed run exits non-zero.

#[path = "../../tests/support/mod.rs"]
mod support;

mod dtls13;
mod machine;
mod oscore;
mod stacks;

use serde_json::Value;
use simbridge_energy::perf::merge::{self, Measured};
use simbridge_energy::perf::trace::{ConnTrace, connections, without_cookie_exchange};
use simbridge_energy::perf::{
    Better, Cell, Dtls13Wire, HandshakeFigures, OscoreWire, OursWire, Report, Row, Section,
    energy_input, markdown,
};
use stacks::{Kind, NoFigure, PEERS, Stack, Suite};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One run, cut into connections.
type Outcome = Result<(Vec<ConnTrace>, usize), NoFigure>;

struct Runs {
    all: HashMap<(Stack, Kind, Suite), Outcome>,
}

impl Runs {
    fn get(&self, s: Stack, k: Kind, su: Suite) -> &Outcome {
        static NONE: Outcome = Ok((Vec::new(), 0));
        self.all.get(&(s, k, su)).unwrap_or(&NONE)
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_string()
    }
}

fn reason(e: &NoFigure) -> String {
    match e {
        NoFigure::Cannot(w) => w.clone(),
        NoFigure::Failed(w) => format!("run failed: {}", short(w)),
    }
}

/// The handshake figures of `kind` from a run: the first connection's, the second's for the
/// resumption kinds (checked to be abbreviated), the exchange after the rebinding for CidRebind.
fn measured(o: &Outcome, kind: Kind) -> Result<HandshakeFigures, String> {
    let (conns, _) = o.as_ref().map_err(reason)?;
    let first = conns.first().ok_or("run failed: the relay saw nothing")?;
    match kind {
        Kind::ResumeSessionId | Kind::ResumeTicket => {
            let second = conns
                .get(1)
                .ok_or("run failed: no second connection seen")?
                .figures();
            if second.flights >= first.figures().flights {
                return Err(format!(
                    "run failed: the second connection was not abbreviated ({} flights)",
                    second.flights
                ));
            }
            Ok(second)
        }
        Kind::CidRebind => {
            if conns.len() != 1 {
                return Err("run failed: a new handshake followed the rebinding".into());
            }
            match (first.after_nth(true, 1), first.after_nth(false, 1)) {
                (Some(c), Some(s)) => Ok(HandshakeFigures::of(&[c, s])),
                _ => Err("run failed: no exchange after the rebinding".into()),
            }
        }
        _ => Ok(first.figures()),
    }
}

/// Mbed TLS pads the inner plaintext of CID records (DTLS 1.2, RFC 9146) to a multiple of 16.
const MBED_CID_PADDING: &str = "Mbed TLS pads the inner plaintext of every CID record to a multiple of 16 bytes (MBEDTLS_SSL_CID_PADDING_GRANULARITY, default 16)";

/// The note for a peer's cell: the suite it used, or Mbed TLS's CID padding.
fn peer_note(p: Stack, kind: Kind, suite: Suite) -> Option<&'static str> {
    if p == Stack::Mbed36 && matches!(kind, Kind::FullCid | Kind::CidRebind) {
        return Some(MBED_CID_PADDING);
    }
    p.suite(suite).1
}

fn with_note(r: Result<HandshakeFigures, String>, note: Option<&str>) -> Measured {
    r.map(|h| (h, note.map(String::from)))
}

fn overhead(o: &Outcome, c2s: bool) -> Result<f64, String> {
    let (conns, plain) = o.as_ref().map_err(reason)?;
    conns
        .first()
        .and_then(|c| c.record_overhead(c2s, *plain))
        .map(|v| v as f64)
        .ok_or_else(|| "run failed: no application record seen".into())
}

fn read_json(dir: &Path, name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench")
}

fn run_all(failures: &mut Vec<String>) -> Runs {
    let plan: [(Kind, Suite); 9] = [
        (Kind::Full, Suite::Ccm8),
        (Kind::FullNoCookie, Suite::Ccm8),
        (Kind::FullCid, Suite::Ccm8),
        (Kind::Full, Suite::Ecdhe),
        (Kind::ResumeSessionId, Suite::Ccm8),
        (Kind::ResumeTicket, Suite::Ccm8),
        (Kind::CidRebind, Suite::Ccm8),
        (Kind::Full, Suite::Ccm),
        (Kind::Full, Suite::Gcm),
    ];
    let mut all = HashMap::new();
    for (kind, suite) in plan {
        for stack in std::iter::once(Stack::Ours).chain(PEERS) {
            let t = std::time::Instant::now();
            let out = stack.run(kind, suite).map(|r| {
                let conns = connections(&r.log);
                (conns, r.plaintext)
            });
            let status = match &out {
                Ok(_) => "ok".to_string(),
                Err(NoFigure::Cannot(_)) => "cannot (by design)".to_string(),
                Err(NoFigure::Failed(w)) => {
                    failures.push(format!(
                        "{} {kind:?} {suite:?}: {}",
                        stack.column(),
                        short(w)
                    ));
                    format!("FAILED: {}", short(w))
                }
            };
            eprintln!(
                "report: {:<14} {kind:?} {suite:?}: {status} ({:.1} s)",
                stack.column(),
                t.elapsed().as_secs_f64()
            );
            all.insert((stack, kind, suite), out);
        }
    }
    Runs { all }
}

/// Ours without a cookie exchange: the measured cookie run minus HelloVerifyRequest and the
/// second ClientHello (the first ClientHello is the cookie-less one; nothing after it depends on
/// the cookie).
fn ours_no_cookie(runs: &Runs) -> Measured {
    let (conns, _) = runs
        .get(Stack::Ours, Kind::Full, Suite::Ccm8)
        .as_ref()
        .map_err(reason)?;
    let hs = &conns
        .first()
        .ok_or("no cookie run to derive from")?
        .handshake;
    let v = without_cookie_exchange(hs)
        .ok_or("the cookie run has no HelloVerifyRequest to take out")?;
    Ok((
        HandshakeFigures::of(&v),
        Some("derived from our measured cookie run without HelloVerifyRequest and the second ClientHello: our server always asks a new client for a cookie".into()),
    ))
}

fn openssl_no_cookie(ossl: Option<&Value>) -> Measured {
    let wire = ossl.and_then(|v| v.get("wire"));
    let w = wire.and_then(|w| w.get("no_cookie")).ok_or(
        "s_server always runs the cookie exchange on DTLS and the libssl C harness gave no figure",
    )?;
    let fig = |w: &Value| {
        let n = |k: &str| w.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
        HandshakeFigures {
            c2s_bytes: n("c2s_bytes"),
            s2c_bytes: n("s2c_bytes"),
            c2s_datagrams: n("c2s_datagrams"),
            s2c_datagrams: n("s2c_datagrams"),
            flights: n("flights"),
        }
    };
    let with_cookie = wire
        .and_then(|w| w.get("cookie"))
        .map(|c| format!("; its own cookie run is {} B, s_client/s_server's in the row above differ by their extra hello extensions and cookie size", fig(c).udp_bytes()))
        .unwrap_or_default();
    Ok((
        fig(w),
        Some(format!(
            "libssl in the C harness (benches/c/openssl_scale.c, same 16-byte identity, counted at its memory BIOs), since s_server always runs the cookie exchange{with_cookie}"
        )),
    ))
}

fn wire_section(runs: &Runs, ossl: Option<&Value>) -> Section {
    let cols: Vec<&str> = PEERS.iter().map(|p| p.column()).collect();
    let mut s = Section::new(
        "wire",
        "Bytes on the wire, datagrams, flights and round trips (handshake only, 16-byte PSK identity)",
        &cols,
    );
    let cases: [(&str, Kind, Suite); 7] = [
        ("full PSK CCM_8, cookie exchange", Kind::Full, Suite::Ccm8),
        (
            "full PSK CCM_8, no cookie exchange",
            Kind::FullNoCookie,
            Suite::Ccm8,
        ),
        (
            "full PSK CCM_8 + CID (4 B server's, none the client's), cookie",
            Kind::FullCid,
            Suite::Ccm8,
        ),
        (
            "full ECDHE-PSK, P-256, cookie (ours: TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256)",
            Kind::Full,
            Suite::Ecdhe,
        ),
        (
            "abbreviated via session ID, cookie",
            Kind::ResumeSessionId,
            Suite::Ccm8,
        ),
        (
            "abbreviated via ticket, cookie",
            Kind::ResumeTicket,
            Suite::Ccm8,
        ),
        (
            "CID continuation after a NAT rebinding: one 5-byte record each way, no handshake",
            Kind::CidRebind,
            Suite::Ccm8,
        ),
    ];
    for (case, kind, suite) in cases {
        let ours = if kind == Kind::FullNoCookie {
            ours_no_cookie(runs)
        } else {
            with_note(measured(runs.get(Stack::Ours, kind, suite), kind), None)
        };
        let peers: Vec<Measured> = PEERS
            .iter()
            .map(|p| {
                if kind == Kind::FullNoCookie && *p == Stack::Openssl {
                    return openssl_no_cookie(ossl);
                }
                with_note(
                    measured(runs.get(*p, kind, suite), kind),
                    peer_note(*p, kind, suite),
                )
            })
            .collect();
        let mut rows = merge::handshake_rows(case, &ours, &peers);
        if kind == Kind::CidRebind {
            rows.truncate(3); // bytes, IP bytes, datagrams: there are no handshake flights
        }
        s.rows.extend(rows);
    }
    s.notes.push("Method: each implementation at both ends on loopback, a counting UDP relay in front of the server; the handshake is every datagram up to the client's first application record (close_notify not counted). Round trips = flight pairs the client waits before its first application record (its last flight carries that record). IP bytes add 28 per IPv4/UDP datagram. No tickets unless the row says so; OpenSSL, GnuTLS and Mbed TLS peers forced to P-256 for ECDHE-PSK.".into());
    s.notes.push("An abbreviated handshake behind a cookie exchange carries the session ID or the ticket in both ClientHellos, so with a ticket it costs more bytes than a full PSK handshake, for every implementation here; it saves the PSK lookup and key exchange, not bytes. Our server can skip the cookie for a resumable hello (`--resume-without-cookie`, ServerConfig::resume_without_cookie), which saves the HelloVerifyRequest round trip.".into());
    s
}

fn overhead_section(runs: &Runs) -> Section {
    let cols: Vec<&str> = PEERS.iter().map(|p| p.column()).collect();
    let mut s = Section::new(
        "record_overhead",
        "Per-record overhead (application record minus its plaintext)",
        &cols,
    );
    let cases: [(&str, Kind, Suite); 5] = [
        ("PSK AES-128-CCM_8", Kind::Full, Suite::Ccm8),
        ("PSK AES-128-CCM", Kind::Full, Suite::Ccm),
        ("PSK AES-128-GCM", Kind::Full, Suite::Gcm),
        (
            "ECDHE-PSK (ours and wolfSSL AES-128-GCM, others ChaCha20-Poly1305)",
            Kind::Full,
            Suite::Ecdhe,
        ),
        (
            "PSK AES-128-CCM_8 + CID (4 B to the server, none back)",
            Kind::FullCid,
            Suite::Ccm8,
        ),
    ];
    for (case, kind, suite) in cases {
        for (c2s, metric) in [
            (true, "client→server record"),
            (false, "server→client record"),
        ] {
            let cell = |st: Stack| match overhead(runs.get(st, kind, suite), c2s) {
                // the padding note belongs to the CID records, which only go to the server here
                Ok(v) => {
                    match peer_note(st, kind, suite).filter(|_| c2s || kind != Kind::FullCid) {
                        Some(n) if st != Stack::Ours => Cell::noted(v, n),
                        _ => Cell::of(v),
                    }
                }
                Err(w) => Cell::missing(w),
            };
            s.rows.push(Row::new(
                case,
                metric,
                "B",
                Better::Lower,
                cell(Stack::Ours),
                PEERS.iter().map(|p| cell(*p)).collect(),
            ));
        }
    }
    s
}

/// OSCORE keyed from GBA beside our DTLS 1.2 on the same exchange: bytes per key (the
/// establishment exchange against the full handshake) and per message (record overhead).
fn oscore_section(runs: &Runs, oscore: &Result<OscoreWire, String>) -> Section {
    let mut s = Section::new(
        "oscore",
        "OSCORE keyed from GBA (ours, RFC 8613 AES-CCM-16-64-128) beside our DTLS 1.2 CCM_8",
        &["DTLS 1.2 PSK CCM_8 (ours)", "DTLS 1.2 CCM_8 + CID (ours)"],
    );
    let ours = |f: &dyn Fn(&OscoreWire) -> usize| match oscore {
        Ok(o) => Cell::of(f(o) as f64),
        Err(why) => Cell::missing(why.clone()),
    };
    for (c2s, metric) in [
        (true, "bytes per key, client→server"),
        (false, "bytes per key, server→client"),
    ] {
        let dtls = |kind: Kind| match measured(runs.get(Stack::Ours, kind, Suite::Ccm8), kind) {
            Ok(h) => Cell::of(if c2s { h.c2s_bytes } else { h.s2c_bytes } as f64),
            Err(w) => Cell::missing(w),
        };
        s.rows.push(Row::new(
            "establishment (OSCORE) / full handshake with cookie (DTLS)",
            metric,
            "B",
            Better::Lower,
            ours(&|o| {
                if c2s {
                    o.establishment.0
                } else {
                    o.establishment.1
                }
            }),
            vec![dtls(Kind::Full), dtls(Kind::FullCid)],
        ));
    }
    for (c2s, metric) in [
        (true, "request overhead (client→server)"),
        (false, "response overhead (server→client)"),
    ] {
        let dtls = |kind: Kind| match overhead(runs.get(Stack::Ours, kind, Suite::Ccm8), c2s) {
            Ok(v) => Cell::of(v),
            Err(w) => Cell::missing(w),
        };
        s.rows.push(Row::new(
            "CoAP POST, 50 B payload / 2.04 Changed",
            metric,
            "B",
            Better::Lower,
            ours(&|o| if c2s { o.overhead.0 } else { o.overhead.1 }),
            vec![dtls(Kind::Full), dtls(Kind::FullCid)],
        ));
    }
    s.notes.push(format!(
        "OSCORE (benches/report/oscore.rs): per key, the GBA establishment exchange of simbridge::gba::oscore as one CoAP POST (4-byte token, Uri-Path, a 62-character B-TID) and its piggybacked 2.01 Created, one round trip; both sides derive their contexts from it and verify each other's messages. Per message: a 1-byte client Sender ID, an empty server Sender ID, no ID Context, a 1-byte Partial IV; the response reuses the request's nonce (RFC 8613 §8.3); the exchange is the energy model's, a confirmable POST with a 4-byte token, a 1-byte Uri-Path and {} B of payload, and a piggybacked 2.04 with the same token. DTLS: our full-handshake runs of this report (handshake bytes, and the application record's overhead).",
        oscore::PAYLOAD
    ));
    s
}

/// Which figure of a DTLS 1.3 run a row shows.
type Pick13 = dyn Fn(&dtls13::Figures) -> Option<usize>;

/// DTLS 1.3: our handshake beside wolfSSL's, case by case; the runs that failed; our figures
/// for the energy model (psk_ke without and with CIDs).
fn dtls13_section(root: &Path) -> (Section, Vec<String>, Option<Dtls13Wire>) {
    let mut s = Section::new(
        "dtls13",
        "DTLS 1.3 with an external PSK, TLS_AES_128_CCM_8_SHA256 (ours beside wolfSSL, both ends each)",
        &["wolfSSL 5.9.4"],
    );
    let mut failures = Vec::new();
    let (mut psk, mut cid) = (None, None);
    for case in dtls13::CASES {
        let ours = dtls13::ours(case);
        if let Ok(f) = &ours {
            if !case.dhe && !case.cookie && !case.resume {
                let slot = if case.cid { &mut cid } else { &mut psk };
                *slot = f.overhead16.map(|o| (f.handshake, o));
            }
        }
        let theirs = dtls13::wolfssl(case, root);
        for (what, r) in [("ours", &ours), ("wolfSSL", &theirs)] {
            if let Err(e) = r {
                failures.push(format!("DTLS 1.3 {} ({what}): {e}", case.name));
            }
        }
        let cell = |r: &Result<dtls13::Figures, String>,
                    f: &dyn Fn(&dtls13::Figures) -> Option<usize>| match r {
            Ok(v) => Cell::or_missing(f(v).map(|x| x as f64), "no data record seen"),
            Err(e) => Cell::missing(e.clone()),
        };
        let rows: [(&str, &Pick13, &str); 4] = [
            ("handshake, client→server", &|f| Some(f.c2s), "B"),
            ("handshake, server→client", &|f| Some(f.s2c), "B"),
            ("handshake datagrams", &|f| Some(f.datagrams), "datagrams"),
            (
                "round trips before the server has the first request",
                &|f| f.request_round_trips,
                "RTT",
            ),
        ];
        for (metric, f, unit) in rows {
            s.rows.push(Row::new(
                case.name,
                metric,
                unit,
                Better::Lower,
                cell(&ours, f),
                vec![cell(&theirs, f)],
            ));
        }
        if !case.dhe && !case.cookie && !case.resume {
            s.rows.push(Row::new(
                case.name,
                "record overhead, 5 B of data, client→server",
                "B",
                Better::Lower,
                cell(&ours, &|f| f.overhead),
                vec![cell(&theirs, &|f| f.overhead)],
            ));
            let theirs16 = || Cell::missing("wolf13_peer sends 5-byte messages only");
            for (dir, pick) in [
                (
                    "client→server",
                    &(|o: (usize, usize)| o.0) as &dyn Fn((usize, usize)) -> usize,
                ),
                ("server→client", &|o: (usize, usize)| o.1),
            ] {
                s.rows.push(Row::new(
                    case.name,
                    format!("record overhead, 16 B of data, {dir}"),
                    "B",
                    Better::Lower,
                    cell(&ours, &|f| f.overhead16.map(pick)),
                    vec![theirs16()],
                ));
            }
        }
    }
    let wire = psk
        .zip(cid)
        .map(|((psk, overhead), (cid, overhead_cid))| Dtls13Wire {
            psk,
            cid,
            overhead,
            overhead_cid,
        });
    s.notes.push("DTLS 1.3 (benches/report/dtls13.rs): ours is simbridge_dtls::v13 (Connection13 and Server13) with both ends in this process, every datagram counted; wolfSSL is .peers/wolf13_peer at both ends through the counting relay. A 16-byte identity, one suite, 5 messages of 5 B echoed, close_notify. Handshake = datagrams whose first record is of epoch 0, 1 (0-RTT early data) or 2 (the ACKs, tickets and data of epoch 3 are not counted). wolfSSL sends each handshake message in its own datagram with a 16-bit sequence number and a length in every record; its server sends a NewSessionTicket (epoch 3, not counted). Ours packs EncryptedExtensions and Finished into one record. A 5-byte message is padded so that the record holds the 16 bytes its record-number mask samples (RFC 9147 §4.2.3), in both stacks: from 7 B of data on, our overhead is 11 B (CCM_8, 1-byte sequence number, no length), 15 B with a 4-byte CID. Resumption: a first connection gets the server's ticket (ours: a 16-byte identity gives a 92-byte ticket; wolfSSL's server sends its own) and only the second connection, offering it, is counted; our client offers the external PSK as a second identity, so a server that refuses the ticket can still complete the handshake without a new round trip. Resumption + 0-RTT: as resumption, the server's tickets allowing 1024 B of early data (wolfSSL: server -E 1024 and no cookie, -C 1, without which it takes no 0-RTT), and the second connection sends 16 B as early data with its ClientHello, which the server takes and does not echo (checked: our server's EarlyData event, wolfSSL's server printing it); its epoch-1 datagrams count as handshake (ours puts the 0-RTT record in the ClientHello's datagram when both fit in 1200 B, wolfSSL sends it in a datagram of its own). Round trips before the server has the first request: from the datagram order, the server→client flights before the client's first datagram with a record of epoch 1 (early data) or 3 (application data). wolfSSL's client sent its first message only after the server's ACK of its Finished in every run (its connect returns then), hence one round trip more than ours, which sends right behind its Finished; with 0-RTT both have the request in the first flight.".into());
    (s, failures, wire)
}

fn targets(
    wire: &Section,
    over: &Section,
    tp: &Section,
    server: Option<&Value>,
    quick: bool,
) -> Section {
    let mut s = Section::new("targets", "The issue's targets", &["target"]);
    let ours = |sec: &Section, case: &str, metric: &str| {
        sec.rows
            .iter()
            .find(|r| r.case.starts_with(case) && r.metric.starts_with(metric))
            .and_then(|r| r.ours.value)
    };
    let miss = "not measured in this run";
    s.rows.push(Row::new(
        "full PSK CCM_8 with cookie, 16-byte identity (OpenSSL 625 B, tinydtls 521 B published)",
        "UDP payload",
        "B",
        Better::Lower,
        Cell::or_missing(ours(wire, "full PSK CCM_8, cookie", "UDP payload"), miss),
        vec![Cell::of(520.0)],
    ));
    s.rows.push(Row::new(
        "CCM_8 record overhead without CID",
        "bytes per record",
        "B",
        Better::Lower,
        Cell::or_missing(ours(over, "PSK AES-128-CCM_8", "client→server"), miss),
        vec![Cell::of(29.0)],
    ));
    for r in tp.rows.iter().filter(|r| r.case.contains("1024")) {
        s.rows.push(Row::new(
            format!("record seal+open, {}", r.case),
            "ours ÷ OpenSSL",
            "×",
            Better::Higher,
            Cell::or_missing(r.ratios().first().copied().flatten(), miss),
            vec![Cell::of(0.8)],
        ));
    }
    let last = server.and_then(Value::as_array).and_then(|a| {
        a.iter().max_by(|x, y| {
            let n = |v: &Value| v.get("sessions").and_then(Value::as_f64).unwrap_or(0.0);
            n(x).total_cmp(&n(y))
        })
    });
    let at = last
        .and_then(|l| l.get("sessions"))
        .and_then(Value::as_f64)
        .unwrap_or(if quick { 10_000.0 } else { 100_000.0 });
    s.rows.push(Row::new(
        format!("memory per established session at {at:.0} sessions (Californium ≈ 3 KB, OpenSSL ≈ 70 KB published)"),
        "RSS delta / sessions",
        "KB",
        Better::Lower,
        Cell::or_missing(
            last.and_then(|l| l.get("bytes_per_session")).and_then(Value::as_f64).map(|b| b / 1024.0),
            miss,
        ),
        vec![Cell::of(2.0)],
    ));
    s.rows.push(Row::new(
        "established sessions held on this machine",
        "sessions",
        "",
        Better::Higher,
        Cell::or_missing(
            last.and_then(|l| l.get("held")).and_then(Value::as_f64),
            miss,
        ),
        vec![if quick {
            Cell::noted(100_000.0, "the quick run stops at 10,000")
        } else {
            Cell::of(100_000.0)
        }],
    ));
    s
}

/// Why a figure is worse than a peer's, by section, case and metric (shown under the table).
fn why_worse(section: &str, case: &str, metric: &str, quick: bool) -> &'static str {
    if quick && matches!(section, "throughput" | "server" | "gateway" | "targets") {
        return "Quick run: a debug build, so speed figures are not comparable (the full run uses the bench profile).";
    }
    if case.contains("ECDHE") {
        return "ECDHE-PSK: ours (and wolfSSL) run AES-128-GCM, whose DTLS 1.2 records carry an 8-byte explicit nonce and a 16-byte tag (37 B); the ChaCha20-Poly1305 peers have no explicit nonce (29 B). Ours with TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256 is 29 B too; the peers have no ECDHE-PSK CCM suite.";
    }
    match (section, metric.starts_with("memory")) {
        ("throughput", _) => {
            "Record throughput below OpenSSL: a session keeps only its raw 16-byte keys (21 B per direction, for server memory), so every record expands the AES key and rebuilds GCM's hash key (about 3 % at 1 KiB), and GHASH runs in the polyval crate, while OpenSSL's EVP streams one prepared context through stitched AES-NI/PCLMULQDQ assembly with no per-record nonce, AD or tag in `openssl speed`."
        }
        ("server", true) => {
            "Memory per session: see docs/performance.md (what a server connection keeps after its handshake)."
        }
        ("server", false) => "Handshakes per second: see docs/performance.md.",
        ("gateway", _) => {
            "The gateway path is relay + two DTLS ends + two more loopback hops; the plain relay is the floor, not a competing implementation."
        }
        ("targets", _) => "A target missed: see the section the figure comes from.",
        _ => "See docs/performance.md for the reason.",
    }
}

fn add_worse_notes(s: &mut Section, quick: bool) {
    let mut notes: Vec<(String, Vec<String>)> = Vec::new();
    for r in s.rows.iter().filter(|r| r.worse_than_a_peer()) {
        let why = why_worse(&s.id, &r.case, &r.metric, quick).to_string();
        let what = format!("{} ({})", r.case, r.metric);
        match notes.iter_mut().find(|(w, _)| *w == why) {
            Some((_, v)) => v.push(what),
            None => notes.push((why, vec![what])),
        }
    }
    for (why, rows) in notes {
        s.notes
            .push(format!("Worse than a peer: {}. {why}", rows.join("; ")));
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let required = std::env::var_os("SIMBRIDGE_REQUIRE_PEERS").is_some_and(|v| !v.is_empty());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = bench_dir();
    let mut failures = Vec::new();
    for p in PEERS {
        if let Some(why) = p.missing() {
            eprintln!("report: peer {} missing: {why}", p.column());
            failures.push(format!("{} missing: {why}", p.column()));
        }
    }
    if required && !failures.is_empty() {
        eprintln!(
            "report: SIMBRIDGE_REQUIRE_PEERS is set and peers are missing:\n  {}",
            failures.join("\n  ")
        );
        std::process::exit(1);
    }
    let runs = run_all(&mut failures);
    let dtls_wire = read_json(&dir, "dtls_wire.json");
    let scale = read_json(&dir, "server_scale.json");
    let ossl = read_json(&dir, "openssl_scale.json");
    let gw = read_json(&dir, "gateway_latency.json");
    let wire = wire_section(&runs, ossl.as_ref());
    let over = overhead_section(&runs);
    let tp = merge::throughput(
        dtls_wire.as_ref(),
        "target/bench/dtls_wire.json missing: `cargo bench --bench dtls_wire` did not run",
    );
    let peer_missing = if ossl.is_none() {
        "target/bench/openssl_scale.json missing: the libssl C harness did not run (needs libssl-dev and cc)"
    } else if quick {
        "not run: the quick run stops at 10,000 sessions"
    } else {
        "the libssl C harness did not reach this count"
    };
    let server = merge::server(scale.as_ref(), ossl.as_ref(), peer_missing);
    let gateway = merge::gateway(
        gw.as_ref(),
        "target/bench/gateway_latency.json missing: `cargo bench --bench gateway_latency` did not run",
    );
    let tgt = targets(&wire, &over, &tp, scale.as_ref(), quick);
    let oscore_wire = oscore::measure();
    if let Err(e) = &oscore_wire {
        failures.push(format!("OSCORE: {e}"));
    }
    let osc = oscore_section(&runs, &oscore_wire);
    let (d13, d13_failures, d13_wire) = dtls13_section(root);
    failures.extend(d13_failures);
    let mut sections = vec![tgt, wire, over, osc, d13, tp, server, gateway];
    for s in &mut sections {
        add_worse_notes(s, quick);
    }
    if let Some(s) = sections.iter_mut().find(|s| s.id == "server") {
        s.notes.insert(0, "Both: client and server in one process, every server session kept; memory is the RSS delta over the established sessions. Ours: benches/server_scale.rs through the Endpoint (cookie exchange always on); for memory every client runs in its own thread (its own malloc arena, so the RSS is the server's) and sends one record after its handshake, so the server drops its last flight (RFC 6347 §4.2.4); handshakes/s is measured afterwards over 20,000 handshakes on a fresh endpoint, both sides in one thread, and shown on each count's row. OpenSSL: benches/c/openssl_scale.c, DTLS 1.2 PSK-AES128-CCM8 over memory BIOs, MTU 1400 with SSL_OP_NO_QUERY_MTU, no tickets, session cache off, default buffers (no SSL_MODE_RELEASE_BUFFERS).".into());
    }
    let overhead_of = |k: Kind| {
        let o = runs.get(Stack::Ours, k, Suite::Ccm8);
        match (overhead(o, true), overhead(o, false)) {
            (Ok(u), Ok(d)) => Some((u as usize, d as usize)),
            _ => None,
        }
    };
    let ours_wire = OursWire {
        full: measured(runs.get(Stack::Ours, Kind::Full, Suite::Ccm8), Kind::Full).ok(),
        resume: measured(
            runs.get(Stack::Ours, Kind::ResumeSessionId, Suite::Ccm8),
            Kind::ResumeSessionId,
        )
        .ok(),
        full_cid: measured(
            runs.get(Stack::Ours, Kind::FullCid, Suite::Ccm8),
            Kind::FullCid,
        )
        .ok(),
        overhead: overhead_of(Kind::Full),
        overhead_cid: overhead_of(Kind::FullCid),
        oscore: oscore_wire.as_ref().ok().copied(),
        dtls13: d13_wire,
    };
    let machine = machine::describe(root);
    let source = format!(
        "scripts/bench{} on {} ({}), {}, commit {}",
        if quick { " --quick" } else { "" },
        machine.cpu,
        machine.os,
        machine.date,
        machine.commit
    );
    let report = Report {
        energy: energy_input(&ours_wire, &source),
        machine,
        mode: if quick { "quick" } else { "full" }.into(),
        sections,
    };
    let md = markdown(&report);
    let json = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join("report.json"), json))
        .and_then(|_| std::fs::write(dir.join("report.md"), &md))
    {
        eprintln!("report: cannot write {}: {e}", dir.display());
        std::process::exit(2);
    }
    println!("{md}");
    println!(
        "JSON: {}\nMarkdown: {}",
        dir.join("report.json").display(),
        dir.join("report.md").display()
    );
    if !failures.is_empty() {
        eprintln!(
            "report: {} run(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
        if required {
            std::process::exit(1);
        }
    }
}
