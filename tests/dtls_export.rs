//! State export/import and graceful restart (in memory, virtual clock): connections continue
//! with no handshake after a server restart from its export, across 1,000 sessions; the same
//! export is never imported twice; wrong keys and tampering are refused; write-ahead
//! sequence-number reservation keeps the old and the new instance apart; a client connection
//! can be exported and imported too.

mod dtls_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use dtls_support::*;
use simbridge::dtls::export::{ExportError, ImportRole, MemoryLedger};
use simbridge::dtls::{CipherSuite, Connection, Endpoint, Error, Event};

const CCM8: CipherSuite = CipherSuite::PskAes128Ccm8;
const KEY: &[u8] = b"state export key from the caller";

fn cid_pair() -> Pair {
    let mut c = client_config(&[CCM8], 1);
    c.connection_id = Some(0);
    let mut p = Pair::new(c, server_config(&[CCM8], 2));
    p.drive();
    assert!(p.client_connected().is_some());
    p
}

#[test]
fn server_restart_from_its_export_needs_no_handshake_and_refuses_a_second_import() {
    let mut p = cid_pair();
    p.client.send(b"before").unwrap();
    p.drive();
    let blob = p.server.save_all(KEY, 1000).unwrap();
    assert!(!blob.windows(6).any(|w| w == b"client"), "encrypted");
    // restart: a new endpoint (new cookie and ticket keys) loads the export
    let mut server = Endpoint::new(Arc::new(server_config(&[CCM8], 9))).unwrap();
    assert_eq!(server.load_all(&blob, KEY).unwrap(), 1);
    assert_eq!(
        server.load_all(&blob, KEY),
        Err(ExportError::AlreadyImported)
    );
    assert_eq!(server.stats().imported, 1);
    p.server = server;
    p.server_events.clear();
    let hs = p.client.stats().handshake_datagrams_sent;
    p.client.send(b"after restart").unwrap();
    p.drive();
    assert_eq!(p.server_data(), vec![b"after restart".to_vec()]);
    let a = p.client_addr;
    p.server.send(a, b"hello again").unwrap();
    p.drive();
    assert!(p.client_data().contains(&b"hello again".to_vec()));
    assert_eq!(
        p.client.stats().handshake_datagrams_sent,
        hs,
        "no handshake"
    );
    assert_eq!(p.server.stats().accepted, 0);
    // the CID routing came back too: a rebinding after the restart still works
    p.client_addr = "127.0.0.1:55555".parse().unwrap();
    p.client.send(b"moved").unwrap();
    p.drive();
    assert!(p.server_data().contains(&b"moved".to_vec()));
    assert_eq!(p.server.stats().address_changes, 1);
}

#[test]
fn wrong_key_tampering_and_other_versions_are_refused() {
    let mut p = cid_pair();
    let blob = p.server.save_all(KEY, 10).unwrap();
    let mut e = Endpoint::new(Arc::new(server_config(&[CCM8], 3))).unwrap();
    assert_eq!(
        e.load_all(&blob, b"wrong"),
        Err(ExportError::Authentication)
    );
    let mut t = blob.clone();
    let n = t.len();
    t[n - 20] ^= 1;
    assert_eq!(e.load_all(&t, KEY), Err(ExportError::Authentication));
    let mut v = blob.clone();
    v[4] = 9;
    assert_eq!(e.load_all(&v, KEY), Err(ExportError::Version(9)));
    assert_eq!(e.connection_count(), 0);
    // a failed attempt does not use up the export
    assert_eq!(e.load_all(&blob, KEY), Ok(1));
}

#[test]
fn write_ahead_reservation_keeps_old_and_new_instances_apart() {
    let mut p = cid_pair();
    let blob = p.client.export_state(KEY, 3).unwrap();
    // the live connection may send 3 more records, then refuses
    for i in 0..3 {
        p.client.send(format!("old {i}").as_bytes()).unwrap();
    }
    assert_eq!(
        p.client.send(b"one too many"),
        Err(Error::ExportReserveUsed)
    );
    p.drive();
    assert_eq!(p.server_data().len(), 3);
    // the imported client continues after the reserved range: the server accepts it
    let cfg = Arc::new(client_config(&[CCM8], 1));
    let mut ledger = MemoryLedger::default();
    let mut c =
        Connection::import_state(&blob, KEY, ImportRole::Client(cfg.clone()), &mut ledger).unwrap();
    assert!(c.is_established());
    assert_eq!(
        c.stats().handshake_kind,
        Some(simbridge::dtls::stats::HandshakeKind::NoneNeeded)
    );
    assert!(matches!(
        Connection::import_state(&blob, KEY, ImportRole::Client(cfg.clone()), &mut ledger),
        Err(ExportError::AlreadyImported)
    ));
    let srv_cfg = Arc::new(server_config(&[CCM8], 2));
    assert!(matches!(
        Connection::import_state(
            &blob,
            KEY,
            ImportRole::Server(srv_cfg),
            &mut MemoryLedger::default()
        ),
        Err(ExportError::WrongRole)
    ));
    c.send(b"new instance").unwrap();
    p.client = c;
    p.drive();
    assert_eq!(p.server_data().last().unwrap(), b"new instance");
    assert_eq!(
        p.server
            .connection(&p.client_addr)
            .unwrap()
            .stats()
            .dropped_replay,
        0
    );
}

#[test]
fn graceful_restart_with_1000_sessions() {
    let mut server_cfg = server_config(&[CCM8], 2);
    // 1000 handshakes at once from one IP address (the default allows 32)
    server_cfg.max_half_open_per_address = 1000;
    let server_cfg = Arc::new(server_cfg);
    let mut server = Endpoint::new(server_cfg.clone()).unwrap();
    let mut now = Instant::now();
    let mut clients: Vec<(SocketAddr, Connection)> = (0..1000u16)
        .map(|i| {
            let mut c = client_config(&[CCM8], 100 + u64::from(i));
            c.connection_id = Some(0);
            let addr: SocketAddr = format!("127.0.0.1:{}", 10_000 + i).parse().unwrap();
            (addr, Connection::client(Arc::new(c), now).unwrap())
        })
        .collect();
    let pump =
        |server: &mut Endpoint, clients: &mut Vec<(SocketAddr, Connection)>, now: Instant| {
            for _ in 0..10 {
                let mut moved = false;
                for (a, c) in clients.iter_mut() {
                    while let Some(d) = c.poll_transmit() {
                        server.handle_datagram(now, *a, &d);
                        moved = true;
                    }
                }
                while let Some(t) = server.poll_transmit() {
                    let port = t.destination.port() - 10_000;
                    clients[usize::from(port)]
                        .1
                        .handle_datagram(now, &t.payload);
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        };
    pump(&mut server, &mut clients, now);
    assert!(clients.iter().all(|(_, c)| c.is_established()));
    assert_eq!(server.connection_count(), 1000);
    let blob = server.save_all(KEY, 1 << 16).unwrap();
    println!("export of 1000 sessions: {} bytes", blob.len());
    drop(server);
    let mut restarted = Endpoint::new(server_cfg).unwrap();
    assert_eq!(restarted.load_all(&blob, KEY), Ok(1000));
    assert_eq!(
        restarted.load_all(&blob, KEY),
        Err(ExportError::AlreadyImported)
    );
    while restarted.poll_event().is_some() {}
    now += std::time::Duration::from_secs(60);
    for (i, (_, c)) in clients.iter_mut().enumerate() {
        c.send(format!("{i}").as_bytes()).unwrap();
    }
    pump(&mut restarted, &mut clients, now);
    let mut got = 0;
    let mut handshakes = 0;
    while let Some((_, e)) = restarted.poll_event() {
        match e {
            Event::Data(_) => got += 1,
            Event::Connected { .. } => handshakes += 1,
            _ => {}
        }
    }
    assert_eq!(got, 1000, "every client continues");
    assert_eq!(handshakes, 0, "without a handshake");
    assert_eq!(restarted.stats().accepted, 0);
    assert_eq!(restarted.stats().hello_verify_sent, 0);
}
