//! `[metrics] listen`: a running gateway and server (real processes, GBA key from the BSF) are
//! scraped over HTTP with a real HTTP client (ureq), and the samples are checked against the
//! status socket's figures and the Prometheus text format's rules.

mod common;
mod status_support;
mod support;

use common::*;
use simbridge_cli::config::{DEFAULT_METRICS_LISTEN, ServerConfigFile};
use status_support::*;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// GET `url`: (status, content type, body).
fn get(url: &str) -> (u16, String, String) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build(),
    );
    let mut resp = agent.get(url).call().expect("HTTP answer");
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.body_mut().read_to_string().expect("body");
    (status, ctype, body)
}

/// The value of the sample with exactly this name and label set.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Text format 0.0.4 rules the scrape must follow: every sample's family has one `# TYPE`
/// line before its samples; names are `[a-zA-Z_:][a-zA-Z0-9_:]*`; values are numbers.
fn check_format(text: &str) {
    let mut typed = HashSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let name = it.next().expect("name").to_string();
            assert!(matches!(it.next(), Some("counter" | "gauge")), "{line}");
            assert!(typed.insert(name.clone()), "family {name} declared twice");
            current = name;
        } else if line.starts_with("# HELP ") {
        } else {
            let name = line.split(['{', ' ']).next().expect("name");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && !name.starts_with(|c: char| c.is_ascii_digit()),
                "metric name {name:?}"
            );
            assert_eq!(name, current, "sample outside its family: {line}");
            let value = line.rsplit(' ').next().expect("value");
            assert!(value.parse::<f64>().is_ok(), "value in {line}");
        }
    }
}

#[test]
fn gateway_and_server_metrics_scraped_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = network(dir.path());
    let gw_metrics: SocketAddr = format!("127.0.0.1:{}", free_tcp_port())
        .parse()
        .expect("addr");
    let cfg = gateway_config(&net, gw_metrics);
    let gw = start_with_config("bridge", &cfg, "simbridge bridge");
    let route_addr = addr_in(&gw.first_line);
    let payload = *b"\x00metrics probe";
    assert_eq!(round_trip(route_addr, &payload), payload);
    let route = format!("localhost:{}", addr_in(&net.server.first_line).port());

    // Gateway: the route's series, once its loop has published the exchange (every 200 ms).
    let url = format!("http://{gw_metrics}/metrics");
    let received = format!("simbridge_route_data_datagrams_received_total{{route=\"{route}\"}}");
    let start = Instant::now();
    let text = loop {
        let (status, ctype, body) = get(&url);
        assert_eq!(status, 200);
        assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
        if sample(&body, &received) == Some(1.0) {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exchange in\n{body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("{text}");
    check_format(&text);
    assert_eq!(
        sample(&text, "simbridge_info{role=\"gateway\",version=\"0.1.0\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("simbridge_route_up{{route=\"{route}\"}}")),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("simbridge_route_bootstraps_total{{route=\"{route}\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("simbridge_route_handshakes_full_total{{route=\"{route}\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("simbridge_route_drops_total{{route=\"{route}\",reason=\"queue_full\"}}")
        ),
        Some(0.0)
    );
    let expiry = sample(
        &text,
        &format!("simbridge_route_key_expiry_timestamp_seconds{{route=\"{route}\"}}"),
    )
    .expect("key expiry");

    // The same figures as the status socket.
    let o = run_with_timeout(
        Command::new(bin())
            .args(["status", "--json", "--state"])
            .arg(dir.path().join("gw-state")),
        Duration::from_secs(20),
    );
    let st = json_out(&o);
    let s = &st["gateway"]["sessions"][0];
    assert_eq!(s["key_expires"].as_f64(), Some(expiry));
    for (dir, field) in [("sent", "bytes_sent"), ("received", "bytes_received")] {
        assert_eq!(
            sample(
                &text,
                &format!("simbridge_route_bytes_total{{route=\"{route}\",direction=\"{dir}\"}}")
            ),
            s[field].as_f64(),
            "{field}"
        );
    }

    // Server.
    let (status, _, stext) = get(&format!("http://{}/metrics", net.server_metrics));
    assert_eq!(status, 200);
    println!("{stext}");
    check_format(&stext);
    for (series, want) in [
        ("simbridge_info{role=\"server\",version=\"0.1.0\"}", 1.0),
        ("simbridge_server_sessions_established", 1.0),
        ("simbridge_server_full_handshakes_total", 1.0),
        ("simbridge_server_hello_verify_sent_total", 1.0),
        ("simbridge_server_key_lookups_total", 1.0),
        ("simbridge_server_datagrams_to_backend_total", 1.0),
        ("simbridge_server_datagrams_from_backend_total", 1.0),
        ("simbridge_server_bad_cookies_total", 0.0),
    ] {
        assert_eq!(sample(&stext, series), Some(want), "{series}");
    }
    assert!(
        !stext.contains("127.0.0.1:"),
        "no per-peer series on the server"
    );

    // Anything but /metrics.
    let (status, _, _) = get(&format!("http://{gw_metrics}/"));
    assert_eq!(status, 404);

    // The port is closed with the process.
    assert_eq!(gw.terminate(), Some(0));
    assert!(std::net::TcpStream::connect(gw_metrics).is_err());
}

#[test]
fn metrics_listen_defaults_to_loopback_and_bad_values_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write_file(dir.path(), "k.hex", "000102030405060708090a0b0c0d0e0f\n");
    let base = format!(
        "listen = \"127.0.0.1:5684\"\nbackend = \"127.0.0.1:5683\"\n[[keys.static]]\nidentity = \"d\"\nkey_file = \"{}\"\n",
        key.display()
    );
    let none = write_file(dir.path(), "a.toml", &base);
    assert_eq!(ServerConfigFile::load(&none).expect("valid").metrics, None);
    let default = write_file(dir.path(), "b.toml", &format!("{base}[metrics]\n"));
    let m = ServerConfigFile::load(&default).expect("valid").metrics;
    assert_eq!(m, Some(DEFAULT_METRICS_LISTEN.parse().expect("addr")));
    assert!(m.is_some_and(|a| a.ip().is_loopback()));
    let bad = write_file(
        dir.path(),
        "c.toml",
        &format!("{base}[metrics]\nlisten = \"localhost\"\n"),
    );
    let err = ServerConfigFile::load(&bad)
        .expect_err("invalid")
        .to_string();
    assert!(
        err.contains("c.toml") && err.contains("metrics.listen"),
        "{err}"
    );
}
