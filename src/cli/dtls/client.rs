//! The steps of `simbridge dtls client`: the connected socket, the configuration (with the
//! session to resume), DTLS 1.3's ticket and early data (`--session-file`, `--early-data`) and
//! the loop's turns (events, deadlines, stdin lines, receive, finish).

use super::super::{CliError, CliResult};
use super::{
    ClientArgs, Input, WarnedOnce, add_cids, apply_common, emit, event_json, log_refusal, send_all,
    write_private,
};
use serde_json::json;
use simbridge::dtls::client_link::ClientLink;
use simbridge::dtls::config::{ClientConfig, StaticPsk};
use simbridge::dtls::v13::ticket::{Resume13, Ticket13};
use simbridge::dtls::{CipherSuite, CloseReason, Event, Session};
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Resolves `--connect` and opens a UDP socket connected to it (bound to the wildcard address
/// of the peer's family).
pub(super) fn connect_udp(connect: &str) -> Result<(UdpSocket, SocketAddr), CliError> {
    let peer = connect
        .to_socket_addrs()
        .map_err(|e| CliError::new(format!("cannot resolve {connect}: {e}")))?
        .next()
        .ok_or_else(|| CliError::new(format!("no address for {connect}")))?;
    let bind: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|_| CliError::new("bind"))?;
    let sock = UdpSocket::bind(bind).map_err(|e| CliError::new(format!("bind: {e}")))?;
    sock.connect(peer)
        .map_err(|e| CliError::new(format!("connect {peer}: {e}")))?;
    Ok((sock, peer))
}

/// The client's DTLS configuration from the arguments, with the DTLS 1.2 session of
/// `--session-file` to resume when `dtls12_session` and the file holds one (absent: full
/// handshake; unreadable: an error).
pub(super) fn client_config(
    a: &ClientArgs,
    psk: Arc<StaticPsk>,
    suites: Vec<CipherSuite>,
    dtls12_session: bool,
) -> Result<ClientConfig, CliError> {
    let mut cfg = ClientConfig::new(psk);
    apply_common(&mut cfg.common, &a.common, suites);
    cfg.pack_handshake_records = a.common.pack_handshake_records;
    cfg.extended_master_secret = a.common.ems.into();
    cfg.server_name = a.sni.clone();
    cfg.connection_id = a.cid;
    if let Some(f) = a.session_file.as_ref().filter(|_| dtls12_session) {
        cfg.session_tickets = true;
        match std::fs::read(f) {
            Ok(b) => match Session::from_bytes(&b) {
                Ok(s) => cfg.resume = Some(s),
                Err(e) => log::warn!("{}: not a session file ({e}); full handshake", f.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::new(format!("{}: {e}", f.display()))),
        }
    }
    Ok(cfg)
}

/// The content of `--early-data FILE|-` (stdin to its end for `-`).
pub(super) fn read_early_data(arg: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    let Some(arg) = arg else { return Ok(None) };
    let data = if arg == "-" {
        let mut d = Vec::new();
        std::io::stdin()
            .read_to_end(&mut d)
            .map_err(|e| CliError::new(format!("--early-data -: {e}")))?;
        d
    } else {
        std::fs::read(arg).map_err(|e| CliError::new(format!("--early-data {arg}: {e}")))?
    };
    if data.is_empty() {
        return Err(CliError::new(format!("--early-data {arg}: empty")));
    }
    Ok(Some(data))
}

/// Milliseconds since the Unix epoch (a saved ticket's age is counted in them).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// DTLS 1.3: the ticket `--session-file` holds, if it is one and still alive (a DTLS 1.2
/// session, an expired or damaged ticket: a full handshake, with a warning).
pub(super) fn saved_ticket(a: &ClientArgs) -> Result<Option<Resume13>, CliError> {
    let Some(f) = &a.session_file else {
        return Ok(None);
    };
    let bytes = match std::fs::read(f) {
        Ok(b) => zeroize::Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::new(format!("{}: {e}", f.display()))),
    };
    if bytes.is_empty() {
        return Ok(None);
    }
    if !Ticket13::is_saved(&bytes) {
        log::warn!("{}: not a DTLS 1.3 ticket; full handshake", f.display());
        return Ok(None);
    }
    match Resume13::from_saved(&bytes, unix_ms()) {
        Ok(Some(r)) => Ok(Some(r)),
        Ok(None) => {
            log::warn!("{}: the ticket has expired; full handshake", f.display());
            Ok(None)
        }
        Err(e) => {
            log::warn!("{}: damaged ticket ({e}); full handshake", f.display());
            Ok(None)
        }
    }
}

/// Says up front when early data cannot go as 0-RTT (the handshake tells the rest).
pub(super) fn announce_early(early: Option<&[u8]>, resume: Option<&Resume13>) {
    let Some(data) = early else { return };
    let why = match resume {
        None => "no ticket (run once with --session-file to get one)",
        Some(r) if !r.ticket.allows_early_data() => "the ticket allows no early data",
        Some(r)
            if r.ticket.max_early_data.unwrap_or(0)
                < u32::try_from(data.len()).unwrap_or(u32::MAX) =>
        {
            "the data is over the ticket's max_early_data_size"
        }
        Some(_) => return,
    };
    eprintln!(
        "early data: not sent as 0-RTT: {why}; its {} bytes go after the handshake",
        data.len()
    );
}

/// Whether the client loop goes on.
#[derive(PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    Stop,
}

/// The client's state between turns of its loop.
pub(super) struct ClientLoop<'a> {
    pub(super) a: &'a ClientArgs,
    pub(super) sock: UdpSocket,
    pub(super) peer: SocketAddr,
    pub(super) conn: ClientLink,
    pub(super) connected: bool,
    /// When stdin ended (close_notify sent); the loop waits 500 ms for the peer's.
    pub(super) eof_at: Option<Instant>,
    pub(super) failure: Option<String>,
    /// The failure is the handshake's (exit code 2).
    pub(super) handshake_failed: bool,
}

impl ClientLoop<'_> {
    /// Handles the connection's events: JSON lines, the session file, data to stdout. Stops on
    /// close.
    pub(super) fn events(&mut self, out: &mut std::io::Stdout) -> Result<Flow, CliError> {
        while let Some(e) = self.conn.poll_event() {
            if let Some(mut v) = event_json(&e, None) {
                if matches!(e, Event::Connected { .. }) {
                    let cids = (self.conn.cid_negotiated())
                        .then(|| (self.conn.connection_id(), self.conn.peer_connection_id()));
                    add_cids(&mut v, self.conn.extended_master_secret(), cids);
                    if let (Some(f), Some(s)) = (&self.a.session_file, self.conn.session()) {
                        write_private(f, s.to_bytes().expose())?;
                    }
                    if let (Some(f), Some(_)) = (&self.a.session_file, self.conn.epochs()) {
                        // DTLS 1.3: the ticket is used; the session's own ticket, if the
                        // server sends one, takes its place
                        write_private(f, &[])?;
                    }
                }
                emit(self.a.common.json_events, v);
            }
            match e {
                Event::Connected { .. } => {
                    self.connected = true;
                    if self.conn.extended_master_secret() == Some(false) {
                        WarnedOnce::default().no_ems(self.peer);
                    }
                }
                Event::Data(d) => {
                    let _ = out.write_all(&d);
                    let _ = out.flush();
                }
                Event::Closed { reason } => {
                    if !self.connected {
                        log_refusal(&self.peer.to_string(), &reason);
                        self.failure = Some(format!("handshake failed: {reason}"));
                        self.handshake_failed = true;
                    } else if let CloseReason::Error(e) = &reason {
                        self.failure = Some(format!("connection failed: {e}"));
                    }
                    return Ok(Flow::Stop);
                }
                Event::EarlyDataStatus { accepted } => {
                    if accepted {
                        eprintln!("early data: accepted by the server (0-RTT)");
                    } else {
                        eprintln!(
                            "early data: not taken as 0-RTT; sent after the handshake instead"
                        );
                    }
                }
                Event::PskRequested { .. } | Event::EarlyData(_) => {}
            }
        }
        if let (Some(f), Some(t)) = (&self.a.session_file, self.conn.take_ticket()) {
            write_private(f, t.to_bytes(unix_ms()).expose())?;
        }
        Ok(Flow::Go)
    }

    /// Stops at the handshake deadline, or 500 ms after stdin ended.
    pub(super) fn deadlines(&mut self, now: Instant, handshake_deadline: Instant) -> Flow {
        if !self.connected && now >= handshake_deadline {
            self.failure = Some(format!(
                "handshake timed out after {} ms",
                self.a.timeout_ms
            ));
            self.handshake_failed = true;
            return Flow::Stop;
        }
        if let Some(t) = self.eof_at {
            if now >= t + Duration::from_millis(500) {
                emit(
                    self.a.common.json_events,
                    json!({"event": "closed", "reason": "closed locally (no close_notify from peer)"}),
                );
                return Flow::Stop;
            }
        }
        Flow::Go
    }

    /// Sends the stdin lines read so far as records; at stdin's end, closes the connection.
    pub(super) fn stdin_lines(&mut self, stdin: &mpsc::Receiver<Input>) -> Flow {
        while let Ok(input) = stdin.try_recv() {
            match input {
                Input::Line(l) => {
                    if let Err(e) = self.conn.send(&l) {
                        self.failure = Some(format!("send: {e}"));
                        return Flow::Stop;
                    }
                }
                Input::Eof => {
                    self.conn.close();
                    self.eof_at = Some(Instant::now());
                    break;
                }
            }
        }
        Flow::Go
    }

    /// Waits up to 20 ms (or the connection's next timeout) for a datagram and feeds it in.
    pub(super) fn receive(&mut self, now: Instant, buf: &mut [u8]) -> Result<Flow, CliError> {
        let mut wait = Duration::from_millis(20);
        if let Some(t) = self.conn.poll_timeout() {
            wait = wait
                .min(t.saturating_duration_since(now))
                .max(Duration::from_millis(1));
        }
        self.sock
            .set_read_timeout(Some(wait))
            .map_err(|e| CliError::new(format!("socket: {e}")))?;
        match self.sock.recv(buf) {
            Ok(n) => self
                .conn
                .handle_datagram(Instant::now(), buf.get(..n).unwrap_or(&[])),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // ICMP port unreachable: keep retransmitting until the handshake deadline
            }
            Err(e) => {
                self.failure = Some(format!("recv: {e}"));
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Go)
    }

    /// Sends what is left, emits the stats event and gives the exit status.
    pub(super) fn finish(mut self) -> CliResult {
        let _ = send_all(&self.sock, &mut self.conn);
        let mut stats = serde_json::to_value(self.conn.stats()).unwrap_or_else(|_| json!({}));
        if let Some(o) = stats.as_object_mut() {
            o.insert("event".into(), json!("stats"));
        }
        emit(self.a.common.json_events, stats);
        match self.failure {
            Some(msg) if self.handshake_failed => Err(CliError::with_code(2, msg)),
            Some(msg) => Err(CliError::new(msg)),
            None => Ok(ExitCode::SUCCESS),
        }
    }
}
