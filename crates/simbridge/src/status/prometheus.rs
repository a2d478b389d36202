//! `[metrics] listen = "127.0.0.1:9464"`: the status counters in the Prometheus text exposition
//! format (version 0.0.4) on `GET /metrics`.
//!
//! The format is written here rather than with `prometheus-client`: that crate brings a registry
//! of typed metric objects (plus `dtoa`, `itoa`, `parking_lot` and a derive macro crate) that
//! would hold a second copy of counters the session layer and the DTLS engine already keep. What
//! is needed is the text of one snapshot: `# HELP` / `# TYPE` lines and `name{labels} value`
//! samples with escaped label values — a few dozen lines, unit-tested below. HTTP is served by
//! `tiny_http`, which the BSF already uses.
//!
//! Label cardinality stays bounded: the gateway labels by route (a handful per gateway); the
//! server exports process-wide counters only, not one series per peer (10,000 gateways would
//! make 10,000 series per metric); `simbridge status` lists the peers.

use super::{Role, SessionState, SessionStatus, Snapshot, StatusSource};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters of a snapshot that are levels, not running totals.
const GAUGES: [&str; 4] = [
    "routes",
    "routes_established",
    "connections",
    "sessions_established",
];

/// Escapes a label value (backslash, double quote, line feed).
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A metric name from a counter name: lower-case letters, digits and underscores only.
fn metric_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Collects samples per family so each family's HELP/TYPE lines come once, before its samples.
#[derive(Default)]
struct Families {
    order: Vec<String>,
    help: std::collections::HashMap<String, (String, &'static str, Vec<String>)>,
}

impl Families {
    fn sample(
        &mut self,
        name: &str,
        kind: &'static str,
        help: &str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let entry = self.help.entry(name.to_string()).or_insert_with(|| {
            self.order.push(name.to_string());
            (help.to_string(), kind, Vec::new())
        });
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        entry.2.push(format!("{name}{labels} {value}"));
    }

    fn text(self) -> String {
        let mut out = String::new();
        for name in &self.order {
            if let Some((help, kind, samples)) = self.help.get(name) {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} {kind}");
                for s in samples {
                    let _ = writeln!(out, "{s}");
                }
            }
        }
        out
    }
}

/// The text exposition of one snapshot.
pub fn encode(s: &Snapshot) -> String {
    let mut f = Families::default();
    process_info(&mut f, s);
    process_counters(&mut f, s);
    if s.role == Role::Gateway {
        for r in &s.sessions {
            route_samples(&mut f, r);
        }
    }
    f.text()
}

/// `simbridge_info` (role and version) and the start time.
fn process_info(f: &mut Families, s: &Snapshot) {
    f.sample(
        "simbridge_info",
        "gauge",
        "Always 1; the labels say which process and version.",
        &[("role", s.role.name()), ("version", &s.version)],
        1.0,
    );
    f.sample(
        "simbridge_start_time_seconds",
        "gauge",
        "When the process started serving, seconds since the Unix epoch.",
        &[],
        s.started as f64,
    );
}

/// The process's counters under its role's prefix: gauges for [`GAUGES`], `_total` counters
/// for the rest.
fn process_counters(f: &mut Families, s: &Snapshot) {
    let prefix = match s.role {
        Role::Gateway => "simbridge_gateway",
        Role::Server => "simbridge_server",
    };
    for (k, v) in &s.counters {
        let k = metric_name(k);
        if GAUGES.contains(&k.as_str()) {
            f.sample(
                &format!("{prefix}_{k}"),
                "gauge",
                &format!("Current number of {}.", k.replace('_', " ")),
                &[],
                *v as f64,
            );
        } else {
            f.sample(
                &format!("{prefix}_{k}_total"),
                "counter",
                &format!("Counter {k} since the process started."),
                &[],
                *v as f64,
            );
        }
    }
}

/// A gateway route's samples: up, key expiry, traffic by direction, drops and session counters.
fn route_samples(f: &mut Families, r: &SessionStatus) {
    let route = [("route", r.name.as_str())];
    f.sample(
        "simbridge_route_up",
        "gauge",
        "1 while the route's upstream DTLS session is established.",
        &route,
        if r.state == SessionState::Established {
            1.0
        } else {
            0.0
        },
    );
    if let Some(t) = r.key_expires {
        f.sample(
            "simbridge_route_key_expiry_timestamp_seconds",
            "gauge",
            "When the route's GBA key expires, seconds since the Unix epoch.",
            &route,
            t as f64,
        );
    }
    route_traffic(f, r);
    for (reason, n) in &r.drops {
        f.sample(
            "simbridge_route_drops_total",
            "counter",
            "Datagrams or records dropped, by reason.",
            &[("route", r.name.as_str()), ("reason", reason)],
            *n as f64,
        );
    }
    // The `dropped_*` counters are the drops above, by reason: not twice.
    for (k, v) in r
        .counters
        .iter()
        .filter(|(k, _)| !k.starts_with("dropped_"))
    {
        let k = metric_name(k);
        f.sample(
            &format!("simbridge_route_{k}_total"),
            "counter",
            &format!("Session counter {k} of the route."),
            &route,
            *v as f64,
        );
    }
}

/// A route's bytes and datagrams on the upstream, by direction.
fn route_traffic(f: &mut Families, r: &SessionStatus) {
    for (dir, bytes, datagrams) in [
        ("sent", r.bytes_sent, r.datagrams_sent),
        ("received", r.bytes_received, r.datagrams_received),
    ] {
        let l = [("route", r.name.as_str()), ("direction", dir)];
        f.sample(
            "simbridge_route_bytes_total",
            "counter",
            "UDP payload bytes on the upstream (handshakes, data, record overhead).",
            &l,
            bytes as f64,
        );
        f.sample(
            "simbridge_route_datagrams_total",
            "counter",
            "Datagrams on the upstream.",
            &l,
            datagrams as f64,
        );
    }
}

/// A running metrics endpoint; dropping it stops the thread and frees the port.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Listens on `listen` and serves `source`'s snapshots on `GET /metrics`.
    pub fn start(listen: SocketAddr, source: Arc<dyn StatusSource>) -> std::io::Result<Self> {
        let server = tiny_http::Server::http(listen).map_err(|e| {
            std::io::Error::other(format!("metrics: cannot listen on {listen}: {e}"))
        })?;
        let addr = server.server_addr().to_ip().unwrap_or(listen);
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (server.clone(), stop.clone());
            std::thread::Builder::new()
                .name("simbridge-metrics".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match server.recv_timeout(Duration::from_millis(250)) {
                            Ok(Some(req)) => respond(req, &*source),
                            Ok(None) => {}
                            Err(e) => {
                                log::debug!("metrics: accept failed: {e}");
                                std::thread::sleep(Duration::from_millis(50));
                            }
                        }
                    }
                })?
        };
        if !addr.ip().is_loopback() {
            log::warn!(
                "metrics: listening on {addr}, which is not a loopback address: anyone who reaches it sees the counters"
            );
        }
        log::info!("metrics: http://{addr}/metrics");
        Ok(Self {
            server,
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(req: tiny_http::Request, source: &dyn StatusSource) {
    use tiny_http::{Header, Method, Response};
    let text = |status: u16, body: String, ctype: &str| {
        let mut r = Response::from_string(body).with_status_code(status);
        if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes()) {
            r.add_header(h);
        }
        r
    };
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let resp = match (req.method(), path.as_str()) {
        (Method::Get | Method::Head, "/metrics") => match source.snapshot() {
            Ok(s) => text(200, encode(&s), CONTENT_TYPE),
            Err(e) => text(503, format!("status not available: {e}\n"), "text/plain"),
        },
        (Method::Get | Method::Head, _) => text(404, "try /metrics\n".into(), "text/plain"),
        _ => text(405, "GET /metrics only\n".into(), "text/plain"),
    };
    if let Err(e) = req.respond(resp) {
        log::debug!("metrics: answer not delivered: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::SessionStatus;
    use std::collections::BTreeMap;

    #[test]
    fn escapes_label_values_and_groups_each_family_once() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(metric_name("data-bytes.Sent"), "data_bytes_sent");
        let mut s = Snapshot::new(Role::Gateway, std::time::SystemTime::UNIX_EPOCH);
        s.counters.insert("routes".into(), 2);
        for name in ["up:1", "up\"2"] {
            s.sessions.push(SessionStatus {
                name: name.into(),
                peer: "127.0.0.1:1".into(),
                state: SessionState::Established,
                naf: None,
                ua_id: None,
                identity: None,
                suite: None,
                cid: None,
                peer_cid: None,
                established_since: None,
                key_expires: Some(100),
                bytes_sent: 10,
                bytes_received: 20,
                datagrams_sent: 1,
                datagrams_received: 2,
                drops: BTreeMap::from([("queue_full".to_string(), 3)]),
                counters: BTreeMap::from([("bootstraps".to_string(), 1)]),
            });
        }
        let t = encode(&s);
        assert_eq!(
            t.matches("# TYPE simbridge_route_bytes_total counter")
                .count(),
            1
        );
        assert!(t.contains("# TYPE simbridge_gateway_routes gauge\nsimbridge_gateway_routes 2\n"));
        assert!(
            t.contains("simbridge_route_bytes_total{route=\"up:1\",direction=\"received\"} 20\n")
        );
        assert!(
            t.contains("simbridge_route_drops_total{route=\"up\\\"2\",reason=\"queue_full\"} 3\n")
        );
        assert!(t.contains("simbridge_route_bootstraps_total{route=\"up:1\"} 1\n"));
        assert!(t.contains("simbridge_route_key_expiry_timestamp_seconds{route=\"up:1\"} 100\n"));
        // Every sample line belongs to the family declared above it.
        let mut family = String::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap_or("").to_string();
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or("");
                assert_eq!(name, family, "{line}");
            }
        }
    }
}
