//! The implementations the report runs, both ends each (ours, OpenSSL, GnuTLS, Mbed TLS 2.28 on
//! python-mbedtls, Mbed TLS 3.6 and wolfSSL 5.9 built by scripts/setup.d/30-cid-peers.sh), how
//! each starts a server and runs a client for one case, and the counting relay log it leaves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::launch::openssl_server_command;
use crate::support::peers::missing_reason;
use crate::support::{Peer, Proc, Relay, RelayConfig, Stream, free_udp_port, free_udp_port_dual};
use simbridge_energy::perf::Datagram;

/// A 16-byte PSK identity, as in the issue's handshake target.
pub const ID: &str = "simbridge-dev-16";
/// The PSK, hex.
pub const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const T: Duration = Duration::from_secs(15);

/// One implementation, run at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stack {
    Ours,
    Openssl,
    Gnutls,
    Mbed228,
    Mbed36,
    Wolf59,
}

/// The peers, in column order.
pub const PEERS: [Stack; 5] = [
    Stack::Openssl,
    Stack::Gnutls,
    Stack::Mbed228,
    Stack::Mbed36,
    Stack::Wolf59,
];

/// A cipher suite choice; each stack maps it to its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    Ccm8,
    Ccm,
    Gcm,
    /// ECDHE-PSK over P-256: ours and wolfSSL TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 (0xD001);
    /// OpenSSL, GnuTLS and Mbed TLS have ECDHE-PSK only with CBC or ChaCha20-Poly1305, so they
    /// run TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 (0xCCAC), the same key exchange.
    Ecdhe,
}

/// What one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Full handshake with cookie exchange, no tickets, no CID; one record each way.
    Full,
    /// Full handshake without cookie exchange.
    FullNoCookie,
    /// Full handshake with a Connection ID (server 4 B, client zero-length).
    FullCid,
    /// A full connection, then one that resumes it by session ID.
    ResumeSessionId,
    /// A full connection with a ticket, then one that resumes with it.
    ResumeTicket,
    /// CID connection; one record each way, a NAT rebinding, one more record each way.
    CidRebind,
}

/// Why a run has no figure.
#[derive(Debug, Clone)]
pub enum NoFigure {
    /// The implementation (or its peer program) cannot do this: not an error.
    Cannot(String),
    /// It should have worked and did not.
    Failed(String),
}

/// The relay log of a run and the plaintext bytes of each application record the client sent.
pub struct Run {
    pub log: Vec<Datagram>,
    pub plaintext: usize,
}

impl Stack {
    /// Column name.
    pub fn column(self) -> &'static str {
        match self {
            Stack::Ours => "ours",
            Stack::Openssl => "OpenSSL 3.0",
            Stack::Gnutls => "GnuTLS 3.7",
            Stack::Mbed228 => "Mbed TLS 2.28",
            Stack::Mbed36 => "Mbed TLS 3.6",
            Stack::Wolf59 => "wolfSSL 5.9",
        }
    }

    /// Why it cannot run on this machine, if it cannot.
    pub fn missing(self) -> Option<String> {
        match self {
            Stack::Ours => None,
            Stack::Openssl => missing_reason(Peer::Openssl),
            Stack::Gnutls => missing_reason(Peer::Gnutls),
            Stack::Mbed228 => missing_reason(Peer::Mbedtls),
            Stack::Mbed36 | Stack::Wolf59 => {
                let p = peer_bin(self);
                (!p.is_file()).then(|| {
                    format!(
                        "{} not built (scripts/setup.d/30-cid-peers.sh)",
                        p.display()
                    )
                })
            }
        }
    }

    /// The suite name this stack takes, with a note when it differs from ours.
    pub fn suite(self, s: Suite) -> (&'static str, Option<&'static str>) {
        use Stack::*;
        use Suite::*;
        let chacha = Some(
            "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 (0xCCAC), P-256: its only ECDHE-PSK AEAD suite",
        );
        match (self, s) {
            (Ours, Ccm8) => ("TLS_PSK_WITH_AES_128_CCM_8", None),
            (Ours, Ccm) => ("TLS_PSK_WITH_AES_128_CCM", None),
            (Ours, Gcm) => ("TLS_PSK_WITH_AES_128_GCM_SHA256", None),
            (Ours, Ecdhe) => ("TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", None),
            (Openssl, Ccm8) => ("PSK-AES128-CCM8", None),
            (Openssl, Ccm) => ("PSK-AES128-CCM", None),
            (Openssl, Gcm) => ("PSK-AES128-GCM-SHA256", None),
            (Openssl, Ecdhe) => ("ECDHE-PSK-CHACHA20-POLY1305", chacha),
            (Gnutls, Ccm8) => ("AES-128-CCM-8", None),
            (Gnutls, Ccm) => ("AES-128-CCM", None),
            (Gnutls, Gcm) => ("AES-128-GCM", None),
            (Gnutls, Ecdhe) => ("CHACHA20-POLY1305", chacha),
            (Mbed228, Ccm8) => ("TLS_PSK_WITH_AES_128_CCM_8", None),
            (Mbed228, Ccm) => ("TLS_PSK_WITH_AES_128_CCM", None),
            (Mbed228, Gcm) => ("TLS_PSK_WITH_AES_128_GCM_SHA256", None),
            (Mbed228, Ecdhe) => ("TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", chacha),
            (Mbed36, Ccm8) => ("c0a8", None),
            (Mbed36, Ccm) => ("c0a4", None),
            (Mbed36, Gcm) => ("00a8", None),
            (Mbed36, Ecdhe) => ("ccac", chacha),
            (Wolf59, Ccm8) => ("PSK-AES128-CCM-8", None),
            (Wolf59, Ccm) => ("PSK-AES128-CCM", None),
            (Wolf59, Gcm) => ("PSK-AES128-GCM-SHA256", None),
            (Wolf59, Ecdhe) => (
                "ECDHE-PSK-AES128-GCM-SHA256",
                Some("TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256 (0xD001), as ours"),
            ),
        }
    }

    /// Runs `kind` with suite `s` at both ends through a counting relay.
    pub fn run(self, kind: Kind, s: Suite) -> Result<Run, NoFigure> {
        if let Some(why) = self.missing() {
            return Err(NoFigure::Failed(format!("peer missing: {why}")));
        }
        self.cannot(kind, s)?;
        let dir = tempfile::tempdir().map_err(|e| NoFigure::Failed(format!("tempdir: {e}")))?;
        let (mut server, addr) = self.server(kind, s, dir.path())?;
        let relay = Relay::start(
            addr,
            RelayConfig {
                follow_client: true,
                ..RelayConfig::default()
            },
        );
        // s_server has no echo for DTLS: what it reads on stdin goes to the client instead.
        let echo = (self == Stack::Openssl).then_some(&mut server);
        let plaintext = self.clients(kind, s, &relay, dir.path(), echo)?;
        // Let the last datagrams (close_notify, strays) cross before the log is read.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Run {
            log: relay.stats().log,
            plaintext,
        })
    }

    /// The rows this stack or its peer program cannot do, and why.
    fn cannot(self, kind: Kind, suite: Suite) -> Result<(), NoFigure> {
        use Kind::*;
        use Stack::*;
        let no_cid = "no RFC 9146 Connection ID in this version: after a NAT rebinding the server \
                      cannot place the client's records, the session is lost and a new handshake follows";
        let why = match (self, kind) {
            (Ours, FullNoCookie) => Some(
                "our server always asks a new client for a cookie (only resumption can skip it); \
                 the figure is derived from the measured cookie run"
                    .to_string(),
            ),
            (Openssl, FullNoCookie) => Some(
                "s_server always runs the cookie exchange on DTLS; figure from libssl in the C harness"
                    .to_string(),
            ),
            (Gnutls, FullNoCookie) => {
                Some("gnutls-serv always runs the cookie exchange on UDP".to_string())
            }
            (Mbed228, FullNoCookie) => Some(
                "the python-mbedtls peer script always runs the cookie exchange".to_string(),
            ),
            (Wolf59, FullNoCookie) => Some(
                "the wolfSSL peer program has no switch to turn the cookie exchange off".to_string(),
            ),
            (Openssl | Gnutls | Mbed228, FullCid | CidRebind) => Some(no_cid.to_string()),
            (Gnutls, Full) if suite == Suite::Ecdhe => Some(
                "gnutls-cli 3.7.9 crashes (SIGSEGV) in every ECDHE-PSK DTLS handshake here \
                 (ChaCha20-Poly1305 and AES-128-CBC tried)"
                    .to_string(),
            ),
            (Mbed228, ResumeSessionId | ResumeTicket) => Some(
                "the python-mbedtls peer script does not resume sessions (Mbed TLS 3.6 covers it)"
                    .to_string(),
            ),
            _ => None,
        };
        match why {
            Some(w) => Err(NoFigure::Cannot(w)),
            None => Ok(()),
        }
    }

    fn server(self, kind: Kind, s: Suite, dir: &Path) -> Result<(Proc, SocketAddr), NoFigure> {
        let (suite, _) = self.suite(s);
        let tickets = kind == Kind::ResumeTicket;
        let cid = matches!(kind, Kind::FullCid | Kind::CidRebind);
        let conns = if matches!(kind, Kind::ResumeSessionId | Kind::ResumeTicket) {
            "2"
        } else {
            "1"
        };
        let local = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        match self {
            Stack::Ours => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
                cmd.args(["dtls", "server", "--listen", "127.0.0.1:0", "--echo"])
                    .args(["--json-events", "--psk-identity", ID, "--psk", KEY])
                    .args(["--suite", suite]);
                if !cid {
                    cmd.arg("--no-cid");
                }
                if !tickets {
                    cmd.arg("--no-tickets");
                }
                let p = Proc::spawn("ours-server", cmd);
                let line = p
                    .wait_line(Stream::Stderr, T, |l| l.contains("\"listening\""))
                    .ok_or_else(|| fail("ours server did not listen", &p))?;
                let v: serde_json::Value = serde_json::from_str(&line)
                    .map_err(|e| NoFigure::Failed(format!("listening event: {e}")))?;
                let addr = v["addr"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| NoFigure::Failed(format!("listening event: {line}")))?;
                Ok((p, addr))
            }
            Stack::Openssl => {
                let port = free_udp_port();
                let mut cmd = openssl_server_command(port, ID, KEY, suite);
                if s == Suite::Ecdhe {
                    cmd.args(["-groups", "P-256"]);
                }
                if !tickets {
                    cmd.arg("-no_ticket");
                }
                let mut p = Proc::spawn("openssl-s_server", cmd);
                ready(&mut p, |l| l == "out: ACCEPT")?;
                Ok((p, local(port)))
            }
            Stack::Gnutls => {
                let file = dir.join("psk.passwd");
                std::fs::write(&file, format!("{ID}:{KEY}\n"))
                    .map_err(|e| NoFigure::Failed(format!("psk file: {e}")))?;
                let port = free_udp_port_dual();
                let mut cmd = Command::new("stdbuf");
                cmd.args(["-oL", "gnutls-serv", "--udp", "-p", &port.to_string()])
                    .args(["--echo", "--pskpasswd"])
                    .arg(&file)
                    .args(["--priority", &gnutls_priority(s, suite)]);
                if !tickets {
                    cmd.arg("--noticket");
                }
                let mut p = Proc::spawn("gnutls-serv", cmd);
                ready(&mut p, |l| l.contains("listening on IPv4"))?;
                Ok((p, local(port)))
            }
            Stack::Mbed228 => {
                let mut cmd = Command::new(crate::support::venv_python());
                cmd.arg(
                    crate::support::peers::repo_root().join("scripts/peers/mbedtls_dtls_psk.py"),
                )
                .args(["server", "--port", "0", "--echo", "--suite", suite])
                .args(["--psk", KEY, "--identity", ID]);
                let p = Proc::spawn("mbedtls-server", cmd);
                let line = p
                    .wait_line(Stream::Stdout, T, |l| {
                        l.starts_with("LISTENING ") || l.starts_with("ERROR")
                    })
                    .ok_or_else(|| fail("mbedtls server did not listen", &p))?;
                let port = line
                    .strip_prefix("LISTENING ")
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| NoFigure::Failed(format!("mbedtls server: {line}")))?;
                Ok((p, local(port)))
            }
            Stack::Mbed36 | Stack::Wolf59 => {
                let port = free_udp_port();
                let mut cmd = Command::new(peer_bin(self));
                cmd.args(["server", &port.to_string(), "-N", conns, "-w", "3000"])
                    .args(["-i", ID, "-l", suite]);
                if !tickets {
                    cmd.arg("-T");
                }
                if kind == Kind::FullNoCookie {
                    cmd.arg("-C");
                }
                if cid {
                    cmd.args(["-c", "c1d5e7f0"]);
                }
                if self == Stack::Mbed36 && s == Suite::Ecdhe {
                    cmd.arg("-G");
                }
                let mut p = Proc::spawn(self.column(), cmd);
                ready(&mut p, |l| l.starts_with("out: LISTENING"))?;
                Ok((p, local(port)))
            }
        }
    }

    /// Runs the client side of `kind`; returns the plaintext length of its records.
    fn clients(
        self,
        kind: Kind,
        s: Suite,
        relay: &Relay,
        dir: &Path,
        mut echo: Option<&mut Proc>,
    ) -> Result<usize, NoFigure> {
        let (suite, _) = self.suite(s);
        let resume = matches!(kind, Kind::ResumeSessionId | Kind::ResumeTicket);
        let tickets = kind == Kind::ResumeTicket;
        let cid = matches!(kind, Kind::FullCid | Kind::CidRebind);
        let to = relay.addr();
        let sess = dir.join("session");
        match self {
            Stack::Mbed36 | Stack::Wolf59 => {
                let mut args: Vec<String> = vec!["client".into(), to.port().to_string()];
                args.extend(["-i", ID, "-l", suite].map(String::from));
                let msgs = if kind == Kind::CidRebind { "2" } else { "1" };
                args.extend(["-n".to_string(), msgs.to_string()]);
                if !tickets {
                    args.push("-T".into());
                }
                if cid {
                    args.extend(["-c".to_string(), String::new()]);
                }
                if kind == Kind::CidRebind {
                    args.push("-r".into());
                }
                if self == Stack::Mbed36 && s == Suite::Ecdhe {
                    args.push("-G".into());
                }
                let runs = if resume && self == Stack::Mbed36 {
                    2
                } else {
                    1
                };
                if resume && self == Stack::Mbed36 {
                    args.extend(["-s".to_string(), sess.display().to_string()]);
                }
                if resume && self == Stack::Wolf59 {
                    args.push("-R".into()); // two connections in one process, the second resumes
                }
                for _ in 0..runs {
                    let mut cmd = Command::new(peer_bin(self));
                    cmd.args(&args);
                    let mut p = Proc::spawn(self.column(), cmd);
                    match p.wait_exit(T) {
                        Some(st) if st.success() => {}
                        _ => return Err(fail("client failed", &p)),
                    }
                }
                Ok("msg 1".len())
            }
            _ => {
                let runs = if resume && self != Stack::Gnutls {
                    2
                } else {
                    1
                };
                for _ in 0..runs {
                    let (cmd, stream, done) = self.line_client(to, suite, s, kind, &sess);
                    let mut p = Proc::spawn(self.column(), cmd);
                    if p.wait_line(stream, T, done).is_none() {
                        return Err(fail("no handshake", &p));
                    }
                    exchange(&mut p, echo.as_deref_mut(), relay, "msg1")?;
                    if kind == Kind::CidRebind {
                        relay.rebind();
                        exchange(&mut p, echo.as_deref_mut(), relay, "msg2")?;
                    }
                    p.close_stdin();
                    let _ = p.wait_exit(Duration::from_secs(3));
                }
                Ok("msg1\n".len())
            }
        }
    }

    /// A line-driven client: its command, the stream and predicate that mean "handshake done".
    fn line_client(
        self,
        to: SocketAddr,
        suite: &str,
        s: Suite,
        kind: Kind,
        sess: &Path,
    ) -> (Command, Stream, fn(&str) -> bool) {
        let resume = matches!(kind, Kind::ResumeSessionId | Kind::ResumeTicket);
        let tickets = kind == Kind::ResumeTicket;
        match self {
            Stack::Ours => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_simbridge"));
                cmd.args(["dtls", "client", "--connect", &to.to_string()])
                    .args(["--psk-identity", ID, "--psk", KEY, "--json-events"])
                    .args(["--suite", suite, "--timeout-ms", "10000"]);
                if matches!(kind, Kind::FullCid | Kind::CidRebind) {
                    cmd.args(["--cid", "0"]);
                }
                if resume {
                    cmd.arg("--session-file").arg(sess);
                }
                (cmd, Stream::Stderr, |l| l.contains("\"connected\""))
            }
            Stack::Openssl => {
                let mut cmd = Command::new("openssl");
                cmd.args(["s_client", "-dtls1_2", "-connect", &to.to_string()])
                    .args(["-psk", KEY, "-psk_identity", ID, "-cipher", suite]);
                if s == Suite::Ecdhe {
                    cmd.args(["-groups", "P-256"]);
                }
                if !tickets {
                    cmd.arg("-no_ticket");
                }
                if resume {
                    cmd.arg("-sess_out").arg(sess);
                    if sess.exists() {
                        cmd.arg("-sess_in").arg(sess);
                    }
                }
                (cmd, Stream::Stdout, |l| l.contains("Cipher is"))
            }
            Stack::Gnutls => {
                let mut cmd = Command::new("gnutls-cli");
                cmd.args(["--udp", "-p", &to.port().to_string(), "127.0.0.1"])
                    .args(["--pskusername", ID, "--pskkey", KEY])
                    .args(["--priority", &gnutls_priority(s, suite)]);
                if resume {
                    cmd.arg("--resume");
                    (cmd, Stream::Stdout, |l| {
                        l.contains("This is a resumed session")
                    })
                } else {
                    (cmd, Stream::Stdout, |l| {
                        l.contains("Handshake was completed")
                    })
                }
            }
            _ => {
                let mut cmd = Command::new(crate::support::venv_python());
                cmd.arg(
                    crate::support::peers::repo_root().join("scripts/peers/mbedtls_dtls_psk.py"),
                )
                .args(["client", "--port", &to.port().to_string(), "--stdin"])
                .args(["--suite", suite, "--psk", KEY, "--identity", ID]);
                (cmd, Stream::Stdout, |l| l.starts_with("CONNECTED"))
            }
        }
    }
}

/// Sends one line and waits until the relay has carried its echo back; `echo` is a server that
/// does not echo by itself but sends its stdin lines (s_server).
fn exchange(
    p: &mut Proc,
    echo: Option<&mut Proc>,
    relay: &Relay,
    line: &str,
) -> Result<(), NoFigure> {
    let before = relay.stats();
    p.write_line(line);
    if let Some(server) = echo {
        let mid = relay.wait_for(T, |s| s.c2s.datagrams > before.c2s.datagrams);
        if mid.c2s.datagrams == before.c2s.datagrams {
            return Err(fail(&format!("{line:?} never left the client"), p));
        }
        server.write_line(line);
    }
    let after = relay.wait_for(T, |s| {
        s.c2s.datagrams > before.c2s.datagrams && s.s2c.datagrams > before.s2c.datagrams
    });
    if after.s2c.datagrams > before.s2c.datagrams {
        Ok(())
    } else {
        Err(fail(&format!("no echo of {line:?}"), p))
    }
}

fn gnutls_priority(s: Suite, cipher: &str) -> String {
    if s == Suite::Ecdhe {
        format!(
            "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+ECDHE-PSK:-CIPHER-ALL:+{cipher}:-MAC-ALL:+AEAD:-GROUP-ALL:+GROUP-SECP256R1"
        )
    } else {
        crate::support::suites::gnutls_priority(cipher)
    }
}

/// The Mbed TLS 3.6 or wolfSSL peer program.
pub fn peer_bin(s: Stack) -> PathBuf {
    let name = if s == Stack::Mbed36 {
        "mbed_peer"
    } else {
        "wolf_peer"
    };
    crate::support::peers::repo_root().join(".peers").join(name)
}

fn ready(p: &mut Proc, pred: impl Fn(&str) -> bool) -> Result<(), NoFigure> {
    if p.wait_ready(T, pred) {
        Ok(())
    } else {
        Err(fail("server did not come up", p))
    }
}

fn fail(what: &str, p: &Proc) -> NoFigure {
    let t = p.transcript();
    let tail: Vec<&str> = t.lines().rev().take(6).collect();
    NoFigure::Failed(format!(
        "{}: {what} ({})",
        p.name(),
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}
