//! Turning measurements into rows: handshake figures (ours and each peer's) into the five wire
//! rows, and the JSON files of the other benches (dtls_wire.json, server_scale.json,
//! gateway_latency.json, openssl_scale.json) into their sections. A figure that a file lacks
//! becomes a missing cell with the reason, never a panic.

use super::report::{Better, Cell, Row, Section};
use super::trace::HandshakeFigures;
use serde_json::Value;

/// A measured handshake with an optional note (the suite a peer used), or why there is none.
pub type Measured = Result<(HandshakeFigures, Option<String>), String>;

fn wire_cell(m: &Measured, f: fn(&HandshakeFigures) -> usize) -> Cell {
    match m {
        Ok((h, None)) => Cell::of(f(h) as f64),
        Ok((h, Some(n))) => Cell::noted(f(h) as f64, n.clone()),
        Err(why) => Cell::missing(why.clone()),
    }
}

/// One wire metric: name, unit and how to read it from the figures.
type Metric = (&'static str, &'static str, fn(&HandshakeFigures) -> usize);

/// The wire rows of one handshake case: UDP payload bytes, IP bytes, datagrams, flights and
/// round trips, ours then each peer in order.
pub fn handshake_rows(case: &str, ours: &Measured, peers: &[Measured]) -> Vec<Row> {
    let metrics: [Metric; 5] = [
        ("UDP payload", "B", |h| h.udp_bytes()),
        ("IP (+28/datagram)", "B", |h| h.ip_bytes()),
        ("datagrams", "", |h| h.datagrams()),
        ("flights", "", |h| h.flights),
        ("round trips", "", |h| h.round_trips()),
    ];
    metrics
        .iter()
        .map(|(metric, unit, f)| {
            Row::new(
                case,
                *metric,
                *unit,
                Better::Lower,
                wire_cell(ours, *f),
                peers.iter().map(|p| wire_cell(p, *f)).collect(),
            )
        })
        .collect()
}

fn f64_at(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// Record seal+open throughput rows from dtls_wire.json's `throughput` array (ours and
/// `openssl speed -evp`, measured in the same run). One peer column: OpenSSL.
pub fn throughput(dtls_wire: Option<&Value>, missing: &str) -> Section {
    let mut s = Section::new(
        "throughput",
        "Record seal+open throughput, one core",
        &["OpenSSL (`openssl speed -evp`)"],
    );
    let Some(rows) = dtls_wire
        .and_then(|v| v.get("throughput"))
        .and_then(Value::as_array)
    else {
        s.rows.push(Row::new(
            "all suites",
            "seal+open",
            "MB/s",
            Better::Higher,
            Cell::missing(missing),
            s.all_missing(missing),
        ));
        return s;
    };
    for r in rows {
        let alg = r.get("algorithm").and_then(Value::as_str).unwrap_or("?");
        let size = f64_at(r, "record_bytes").unwrap_or(0.0);
        let evp = r.get("openssl_evp").and_then(Value::as_str).unwrap_or("");
        let theirs = match f64_at(r, "openssl_mbps") {
            Some(v) => Cell::noted(
                v,
                format!("`openssl speed -evp {evp}`, enc and -decrypt combined"),
            ),
            None => Cell::missing("openssl speed gave no figure (openssl missing or failed)"),
        };
        s.rows.push(Row::new(
            format!("{alg}, {size:.0} B records"),
            "seal+open",
            "MB/s",
            Better::Higher,
            Cell::or_missing(f64_at(r, "ours_mbps"), "not measured"),
            vec![theirs],
        ));
    }
    s
}

/// One checkpoint of a server-scale run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Checkpoint {
    sessions: f64,
    handshakes_per_s: Option<f64>,
    bytes_per_session: Option<f64>,
}

/// The checkpoints of a JSON array `[{sessions, handshakes_per_s, bytes_per_session}, ...]`
/// (server_scale.json's format; openssl_scale.json's `rows`).
fn checkpoints(v: Option<&Value>) -> Vec<Checkpoint> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    Some(Checkpoint {
                        sessions: f64_at(r, "sessions")?,
                        handshakes_per_s: f64_at(r, "handshakes_per_s"),
                        bytes_per_session: f64_at(r, "bytes_per_session"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Server rows: handshakes per second on one core and memory per established session at each
/// session count, ours (server_scale.json) beside OpenSSL's libssl in the C harness
/// (openssl_scale.json: `{version, cookie, rows: [...]}`). `peer_missing` says why the peer
/// has no figures when `openssl` is None or lacks a count.
pub fn server(ours: Option<&Value>, openssl: Option<&Value>, peer_missing: &str) -> Section {
    let cookie = openssl
        .and_then(|v| v.get("cookie"))
        .and_then(Value::as_bool);
    let peer = match cookie {
        Some(true) => "OpenSSL libssl (C harness, with cookie)",
        Some(false) => "OpenSSL libssl (C harness, no cookie)",
        None => "OpenSSL libssl (C harness)",
    };
    let mut s = Section::new(
        "server",
        "Server: full PSK CCM_8 handshakes per second and memory per established session",
        &[peer],
    );
    let ours_cp = checkpoints(ours);
    let theirs_cp = checkpoints(openssl.and_then(|v| v.get("rows")));
    let mut counts: Vec<f64> = ours_cp.iter().map(|c| c.sessions).collect();
    for c in &theirs_cp {
        if !counts.contains(&c.sessions) {
            counts.push(c.sessions);
        }
    }
    counts.sort_by(f64::total_cmp);
    counts.dedup();
    if counts.is_empty() {
        counts.push(10_000.0);
    }
    let find = |cps: &[Checkpoint], n: f64| cps.iter().find(|c| c.sessions == n).copied();
    let ours_why = "server_scale.json has no figure for this count (bench not run or failed)";
    for n in &counts {
        let (o, t) = (find(&ours_cp, *n), find(&theirs_cp, *n));
        let peer_cell = |f: fn(&Checkpoint) -> Option<f64>, scale: f64| match t.and_then(|c| f(&c))
        {
            Some(v) => Cell::of(v * scale),
            None => Cell::missing(peer_missing),
        };
        s.rows.push(Row::new(
            format!("{n:.0} sessions, client and server in one process"),
            "full handshakes/s, one core (OpenSSL: average up to this count)",
            "1/s",
            Better::Higher,
            Cell::or_missing(o.and_then(|c| c.handshakes_per_s), ours_why),
            vec![peer_cell(|c| c.handshakes_per_s, 1.0)],
        ));
        s.rows.push(Row::new(
            format!("{n:.0} established sessions"),
            "memory per session (RSS delta / sessions)",
            "KB",
            Better::Lower,
            Cell::or_missing(
                o.and_then(|c| c.bytes_per_session).map(|b| b / 1024.0),
                ours_why,
            ),
            vec![peer_cell(|c| c.bytes_per_session, 1.0 / 1024.0)],
        ));
    }
    s
}

/// Gateway rows from gateway_latency.json: datagrams/s and RTT p50/p99 of local UDP → gateway →
/// DTLS → server → echo, beside the same echo through a plain UDP relay.
pub fn gateway(v: Option<&Value>, missing: &str) -> Section {
    let mut s = Section::new(
        "gateway",
        "Gateway: datagrams per second and round-trip latency, 64-byte datagrams on loopback",
        &["plain UDP relay"],
    );
    let get = |side: &str, k: &str| v.and_then(|v| v.get(side)).and_then(|x| f64_at(x, k));
    for (metric, key, unit, better) in [
        (
            "datagrams/s, 32 in flight",
            "datagrams_per_s",
            "1/s",
            Better::Higher,
        ),
        ("RTT p50", "p50_us", "µs", Better::Lower),
        ("RTT p99", "p99_us", "µs", Better::Lower),
    ] {
        s.rows.push(Row::new(
            "gateway + DTLS (PSK CCM_8, CID) + server",
            metric,
            unit,
            better,
            Cell::or_missing(get("gateway", key), missing),
            vec![Cell::or_missing(get("relay", key), missing)],
        ));
    }
    s
}
