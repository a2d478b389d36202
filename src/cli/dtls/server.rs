//! The steps of `simbridge dtls server`: the configuration, the state key, the announcement,
//! and the loop's turns (flush, events, state export on stop, receive).

use super::super::CliError;
use super::{
    ServerArgs, WarnedOnce, add_cids, apply_common, emit, event_json, log_refusal, write_private,
};
use serde_json::json;
use simbridge::dtls::config::{ServerConfig, StaticPsk};
use simbridge::dtls::export::DEFAULT_RESERVE;
use simbridge::dtls::{CipherSuite, EarlyData13, Endpoint, Event, RandomCid};
use simbridge::secret::SecretVec;
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server's DTLS configuration from the arguments.
pub(super) fn server_config(
    a: &ServerArgs,
    psk: Arc<StaticPsk>,
    suites: Vec<CipherSuite>,
) -> ServerConfig {
    let mut cfg = ServerConfig::new(psk);
    apply_common(&mut cfg.common, &a.common, suites);
    cfg.pack_handshake_records = a.common.pack_handshake_records;
    cfg.extended_master_secret = a.common.ems.into();
    cfg.identity_hint = a.hint.clone().map(String::into_bytes);
    cfg.session_tickets = !a.no_tickets;
    cfg.max_connections = a.max_connections.unwrap_or(cfg.max_connections);
    cfg.max_handshaking = a.max_handshaking.unwrap_or(cfg.max_handshaking);
    cfg.resume_without_cookie = a.resume_without_cookie;
    cfg.versions = a.common.dtls_version.unwrap_or(cfg.versions);
    if a.early_data {
        cfg.tickets13 = true;
        cfg.early_data13 = Some(EarlyData13 {
            max_size: a.max_early_data,
            window: Duration::from_millis(a.early_data_window_ms),
            ..EarlyData13::default()
        });
    }
    cfg.connection_id = if a.no_cid {
        None
    } else {
        Some(Arc::new(RandomCid::new(a.cid)))
    };
    cfg
}

/// `--state-key` as bytes (hex in the argument).
pub(super) fn state_key(a: &ServerArgs) -> Result<Option<SecretVec>, CliError> {
    match &a.state_key {
        Some(k) => Ok(Some(SecretVec::new(hex::decode(k.trim()).map_err(
            |e| CliError::new(format!("--state-key is not hex: {e}")),
        )?))),
        None => Ok(None),
    }
}

/// Tells scripts and people where the server listens: a JSON event, and like s_server's ACCEPT
/// the bound address (of `--listen ...:0`) on stdout.
pub(super) fn announce(json: bool, local: SocketAddr) {
    emit(
        json,
        json!({"event": "listening", "addr": local.to_string()}),
    );
    let _ = writeln!(std::io::stdout(), "ACCEPT {local}");
    let _ = std::io::stdout().flush();
}

/// Sends every datagram the endpoint has queued.
pub(super) fn flush_endpoint(ep: &mut Endpoint, sock: &UdpSocket) {
    while let Some(t) = ep.poll_transmit() {
        if let Err(e) = sock.send_to(&t.payload, t.destination) {
            log::warn!("send to {}: {e}", t.destination);
        }
    }
}

/// Handles the endpoint's address changes and events: JSON lines, refusals logged, data
/// echoed or written to stdout, early data written to stdout after "EARLY ".
pub(super) fn server_events(
    ep: &mut Endpoint,
    a: &ServerArgs,
    out: &mut std::io::Stdout,
    warned: &mut WarnedOnce,
) {
    let json = a.common.json_events;
    while let Some((old, new)) = ep.poll_address_change() {
        emit(
            json,
            json!({"event": "address_changed", "from": old.to_string(), "peer": new.to_string()}),
        );
    }
    while let Some((peer, e)) = ep.poll_event() {
        if let Some(mut v) = event_json(&e, Some(peer)) {
            if let (Event::Connected { .. }, Some(c)) = (&e, ep.connection(&peer)) {
                let cids = c
                    .cid_negotiated()
                    .then(|| (c.connection_id(), c.peer_connection_id()));
                add_cids(&mut v, Some(c.extended_master_secret()), cids);
                if !c.extended_master_secret() {
                    warned.no_ems(peer);
                }
            }
            emit(json, v);
        }
        if let Event::Closed { reason } = &e {
            if reason.failure_kind().is_some() {
                log_refusal(&peer.to_string(), reason);
            }
        }
        if let Event::EarlyData(d) = &e {
            // printed, never echoed: it came before the handshake completed (a replay's data
            // would be answered to the address it was replayed from)
            let _ = out.write_all(b"EARLY ");
            let _ = out.write_all(d);
            if !d.ends_with(b"\n") {
                let _ = out.write_all(b"\n");
            }
            let _ = out.flush();
        }
        if let Event::Data(d) = e {
            if a.echo {
                if let Err(err) = ep.send(peer, &d) {
                    log::warn!("echo to {peer}: {err}");
                }
            } else {
                let _ = out.write_all(&d);
                let _ = out.flush();
            }
        }
    }
}

/// On a stop signal with `--state`: exports every connection to the file.
pub(super) fn save_state(
    ep: &mut Endpoint,
    a: &ServerArgs,
    state_key: Option<&SecretVec>,
) -> Result<(), CliError> {
    if let (Some(path), Some(key)) = (&a.state, state_key) {
        let n = ep.connection_count();
        let blob = ep
            .save_all(key.expose(), DEFAULT_RESERVE)
            .map_err(|e| CliError::new(format!("state export: {e}")))?;
        write_private(path, &blob)?;
        emit(
            a.common.json_events,
            json!({"event": "state_saved", "connections": n}),
        );
    }
    Ok(())
}

/// Waits up to 200 ms (or the endpoint's next timeout) for a datagram and feeds it in.
pub(super) fn receive_from(
    ep: &mut Endpoint,
    sock: &UdpSocket,
    buf: &mut [u8],
) -> Result<(), CliError> {
    let now = Instant::now();
    let mut wait = Duration::from_millis(200);
    if let Some(t) = ep.poll_timeout() {
        wait = wait
            .min(t.saturating_duration_since(now))
            .max(Duration::from_millis(1));
    }
    sock.set_read_timeout(Some(wait))
        .map_err(|e| CliError::new(format!("socket: {e}")))?;
    match sock.recv_from(buf) {
        Ok((n, from)) => ep.handle_datagram(Instant::now(), from, buf.get(..n).unwrap_or(&[])),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        Err(e) => log::debug!("recv: {e}"),
    }
    Ok(())
}
