//! TLS for Ub and the key API, with real processes and certificates made by the openssl CLI: a
//! BSF serving HTTPS, the device bootstrapping through it with `--ca-file`, `simbridge server`
//! fetching keys through it with `[keys] ca_file`, a gateway (`simbridge bridge`) bootstrapping
//! through it with `[gba] ca_file`; a wrong CA fails with an error that says the
//! certificate was not trusted; `http://` to a key API that is not loopback is refused at start.

mod gba_support;
mod support;

use gba_support::K;
use gba_support::cli::{self, device_psk_at, write_private};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::launch::{client_handshake, gba_server_config, ours_bridge_server, ours_client_as};
use support::run;
use support::{Proc, Stream, ours};

const TOKEN: &str = "https-token-0123456789";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI (a test dependency)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` (`<name>.pem`, `<name>.key`).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A server certificate for 127.0.0.1 and localhost signed by `ca`: (cert, key).
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "bsf.key",
            "-out",
            "bsf.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "bsf.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "bsf.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    (dir.join("bsf.pem"), dir.join("bsf.key"))
}

fn server_config(dir: &Path, name: &str, bsf_url: &str, extra: &str) -> PathBuf {
    let keys = format!("naf = \"naf.example.com\"\n{extra}");
    gba_server_config(dir, name, bsf_url, &dir.join("token"), &keys)
}

#[test]
fn ub_and_the_key_api_over_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ca = make_ca(d, "test-ca");
    let wrong_ca = make_ca(d, "other-ca");
    let (cert, key) = make_server_cert(d, "test-ca");
    write_private(&d.join("token"), TOKEN);
    let (_bsf, addr, _) = cli::start_bsf(
        d,
        K,
        &[
            "--token-file",
            d.join("token").to_str().expect("utf8"),
            "--naf",
            "naf.example.com",
            "--tls-cert",
            cert.to_str().expect("utf8"),
            "--tls-key",
            key.to_str().expect("utf8"),
        ],
    );
    let url = format!("https://{addr}/");
    let ca_s = ca.to_str().expect("utf8");

    // The device bootstraps over HTTPS and derives its PSK, trusting the test CA.
    let (identity, psk) = device_psk_at(d, &url, "naf.example.com", &["--ca-file", ca_s]);

    // A wrong CA, or none (the bundled public roots): refused, saying the certificate was not
    // trusted.
    let card = d.join("device-card.toml");
    for extra in [&["--ca-file", wrong_ca.to_str().expect("utf8")][..], &[]] {
        let mut args = vec![
            "bootstrap",
            "--force",
            "--softsim",
            card.to_str().expect("utf8"),
            "--bsf",
            &url,
            "--state",
        ];
        let state = d.join("other-state");
        args.push(state.to_str().expect("utf8"));
        args.extend_from_slice(extra);
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("certificate was not trusted"), "{err}");
    }
    // Plain http:// to the HTTPS port fails too (no silent downgrade).
    let (code, _, _) = run(&[
        "bootstrap",
        "--force",
        "--softsim",
        card.to_str().expect("utf8"),
        "--bsf",
        &format!("http://{addr}/"),
        "--state",
        d.join("s3").to_str().expect("utf8"),
    ]);
    assert_ne!(code, 0);

    // The server fetches the key over HTTPS with [keys] ca_file: the device gets a session.
    let cfg = server_config(d, "good.toml", &url, &format!("ca_file = \"{ca_s}\""));
    let (server, srv) = ours_bridge_server(&cfg);
    let (ok, out) = client_handshake(ours_client_as(srv, &identity, &psk, &[]));
    assert!(ok, "{out}\n{}", server.transcript());
    drop(server);

    // A gateway bootstraps over HTTPS with [gba] ca_file and brings its session up through a
    // server that fetched the key over HTTPS too; with the wrong CA it says the certificate was
    // not trusted and brings nothing up.
    let (server, srv) = ours_bridge_server(&cfg);
    let gw = gateway(d, "gw-good", &card, &url, &ca, srv);
    gw.expect_line(Stream::Stderr, Duration::from_secs(20), "session up", |l| {
        l.contains("upstream session up")
    });
    drop(gw);
    let gw = gateway(d, "gw-wrong", &card, &url, &wrong_ca, srv);
    gw.expect_line(
        Stream::Stderr,
        Duration::from_secs(20),
        "not trusted",
        |l| l.contains("certificate was not trusted"),
    );
    assert!(!gw.transcript().contains("upstream session up"));
    drop(gw);
    drop(server);

    // With the wrong CA the key source is unavailable: internal_error, and the server says why.
    let cfg = server_config(
        d,
        "wrong.toml",
        &url,
        &format!("ca_file = \"{}\"", wrong_ca.display()),
    );
    let (server, srv) = ours_bridge_server(&cfg);
    let (ok, out) = client_handshake(ours_client_as(srv, &identity, &psk, &[]));
    assert!(!ok && out.contains("internal_error"), "{out}");
    server.expect_line(Stream::Stderr, Duration::from_secs(5), "not trusted", |l| {
        l.contains("WARN") && l.contains("certificate was not trusted")
    });
}

/// `simbridge bridge` on the software USIM `card` with one GBA route to `server`, its BSF at
/// `bsf_url` trusted through `ca`; one datagram is sent to the route so that it comes up.
fn gateway(
    d: &Path,
    name: &str,
    card: &Path,
    bsf_url: &str,
    ca: &Path,
    server: std::net::SocketAddr,
) -> Proc {
    let cfg = d.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"{}\"\n[card]\nsoftsim = \"{}\"\n[gba]\nbsf = \"{bsf_url}\"\nca_file = \"{}\"\n\
             [[route]]\nlisten = \"127.0.0.1:0\"\nupstream = \"{server}\"\nnaf = \"naf.example.com\"\npsk = \"gba\"\n\
             suites = [\"TLS_PSK_WITH_AES_128_CCM_8\"]\n",
            d.join(format!("{name}-state")).display(),
            card.display(),
            ca.display(),
        ),
    )
    .expect("gateway config");
    let mut cmd = Command::new(ours());
    cmd.args(["bridge", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "info");
    let gw = Proc::spawn(name, cmd);
    let line = gw.expect_line(Stream::Stdout, Duration::from_secs(20), "listening", |l| {
        l.contains("listening on")
    });
    let local = line.rsplit(' ').next().expect("address");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.send_to(b"hello", local).expect("send");
    gw
}

#[test]
fn plain_http_to_a_remote_key_api_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_private(&d.join("token"), TOKEN);
    let cfg = server_config(d, "remote.toml", "http://bsf.example.net:8080", "");
    let out = Command::new(ours())
        .args(["server", "--config"])
        .arg(&cfg)
        .output()
        .expect("server");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("remote.toml") && err.contains("keys.bsf") && err.contains("insecure_http"),
        "{err}"
    );
    // Allowed explicitly: it starts, and says so at WARN.
    let cfg = server_config(
        d,
        "allowed.toml",
        "http://bsf.example.net:8080",
        "insecure_http = true",
    );
    let (server, _) = ours_bridge_server(&cfg);
    server.expect_line(
        Stream::Stderr,
        Duration::from_secs(5),
        "insecure WARN",
        |l| l.contains("WARN") && l.contains("in clear"),
    );
}
