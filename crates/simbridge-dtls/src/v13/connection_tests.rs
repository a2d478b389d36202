//! Connection13 in memory with a virtual clock: a clean handshake, every handshake datagram
//! lost once (each side's timer or the peer's repeat brings it back), a peer that never
//! answers, and junk that does not end a handshake.

use super::*;
use crate::rng::SeededRng;
use crate::v13::client::ClientConfig13;
use crate::v13::handshake::tests::{KEY, client, server};
use crate::v13::key_share::X25519;
use crate::v13::server::{Accepted13, HelloContext, Server13};

fn retransmit() -> RetransmitConfig {
    RetransmitConfig {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        max_retransmits: 5,
    }
}

/// Both ends and the time; datagrams move through `pump`, which drops the ones `lose` picks
/// by (direction, number in that direction, from 1).
struct Link {
    now: Instant,
    client: Connection13,
    server: Option<Connection13>,
    srv: Server13,
    rng: Arc<SeededRng>,
    sent: [u64; 2],
}

const C2S: usize = 0;
const S2C: usize = 1;

impl Link {
    fn new(cfg: &ClientConfig13, srv: Server13) -> Self {
        let now = Instant::now();
        let rng = Arc::new(SeededRng::new(11));
        let client = Connection13::client(cfg, retransmit(), rng.clone(), now).expect("client");
        Self {
            now,
            client,
            server: None,
            srv,
            rng,
            sent: [0; 2],
        }
    }

    /// Delivers everything queued, both ways, until nothing moves.
    fn pump(&mut self, lose: &dyn Fn(usize, u64) -> bool) {
        loop {
            let mut moved = false;
            while let Some(d) = self.client.poll_transmit() {
                moved = true;
                self.sent[C2S] += 1;
                if !lose(C2S, self.sent[C2S]) {
                    self.deliver_to_server(&d);
                }
            }
            if let Some(s) = &mut self.server {
                while let Some(d) = s.poll_transmit() {
                    moved = true;
                    self.sent[S2C] += 1;
                    if !lose(S2C, self.sent[S2C]) {
                        self.client.handle_datagram(self.now, &d);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn deliver_to_server(&mut self, d: &[u8]) {
        if let Some(s) = &mut self.server {
            s.handle_datagram(self.now, d);
            return;
        }
        let cx = HelloContext {
            peer: "192.0.2.9:5684".parse().expect("addr"),
            now_secs: 1_000,
            rng: self.rng.as_ref(),
            cid: None,
        };
        let key = |_: &[u8]| Some(crate::secret::SecretVec::from(&KEY[..]));
        match self.srv.accept(d, &cx, key) {
            Ok(Accepted13::Flight(w, flight)) => {
                self.server = Some(Connection13::server(
                    w,
                    flight,
                    d,
                    retransmit(),
                    self.rng.clone(),
                    self.now,
                ));
            }
            Ok(Accepted13::Retry(_)) => panic!("no cookie asked in these tests"),
            Err(e) => panic!("accept: {e}"),
        }
    }

    /// Moves the clock to the earlier deadline of the two and fires it.
    fn tick(&mut self) {
        let deadlines = [
            self.client.poll_timeout(),
            self.server.as_ref().and_then(Connection13::poll_timeout),
        ];
        let Some(next) = deadlines.into_iter().flatten().min() else {
            return;
        };
        self.now = self.now.max(next);
        self.client.handle_timeout(self.now);
        if let Some(s) = &mut self.server {
            s.handle_timeout(self.now);
        }
    }

    fn events(c: &mut Connection13) -> Vec<Event13> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }
}

fn cfg() -> ClientConfig13 {
    client(&KEY, &[0x1305], &[X25519], false)
}

#[test]
fn a_clean_handshake_carries_data_and_ends_with_close_notify() {
    let mut l = Link::new(&cfg(), server(&[X25519], false, false));
    l.pump(&|_, _| false);
    let connected = Event13::Connected {
        suite: 0x1305,
        group: Some(X25519),
    };
    assert_eq!(Link::events(&mut l.client), [connected]);
    let s = l.server.as_mut().expect("server");
    assert!(s.is_established());
    s.send(b"down").expect("send");
    l.client.send(b"up").expect("send");
    l.pump(&|_, _| false);
    assert_eq!(
        Link::events(&mut l.client),
        [Event13::Data(b"down".to_vec())]
    );
    let s = l.server.as_mut().expect("server");
    let ev = Link::events(s);
    assert_eq!(ev[1], Event13::Data(b"up".to_vec()));
    // the client's Finished arrived (the server's ACK came back): no timer left
    assert_eq!(l.client.poll_timeout(), None);
    l.client.close();
    l.pump(&|_, _| false);
    let s = l.server.as_mut().expect("server");
    assert_eq!(Link::events(s), [Event13::Closed(Close13::PeerClosed)]);
    assert_eq!(l.client.stats().retransmitted, 0);
}

#[test]
fn every_handshake_datagram_lost_once_is_sent_again() {
    // the first ClientHello, the server's flight, the client's Finished, the server's ACK
    for (dir, n) in [(C2S, 1), (S2C, 1), (C2S, 2), (S2C, 2)] {
        let mut l = Link::new(&cfg(), server(&[X25519], false, false));
        let lose = move |d: usize, k: u64| d == dir && k == n;
        for _ in 0..6 {
            l.pump(&lose);
            if l.client.is_established()
                && l.server.as_ref().is_some_and(Connection13::is_established)
                && l.client.poll_timeout().is_none()
            {
                break;
            }
            l.tick();
        }
        let s = l.server.as_mut().expect("server");
        assert!(s.is_established(), "lost {dir}/{n}");
        assert!(l.client.is_established(), "lost {dir}/{n}");
        let retx = l.client.stats().retransmitted + s.stats().retransmitted;
        assert!(retx >= 1, "lost {dir}/{n}: nothing sent again");
        // and the session works
        s.send(b"after the loss").expect("send");
        l.pump(&|_, _| false);
        assert!(
            Link::events(&mut l.client).contains(&Event13::Data(b"after the loss".to_vec())),
            "lost {dir}/{n}"
        );
    }
}

#[test]
fn a_silent_server_times_the_client_out_after_the_retransmissions() {
    let start = Instant::now();
    let rng = Arc::new(SeededRng::new(3));
    let mut c = Connection13::client(&cfg(), retransmit(), rng, start).expect("client");
    let mut now = start;
    let mut sent = 0;
    while let Some(t) = c.poll_timeout() {
        while c.poll_transmit().is_some() {
            sent += 1;
        }
        now = t;
        c.handle_timeout(now);
    }
    // the ClientHello and 5 retransmissions after 1 + 2 + 4 + 8 + 16 s, given up at +32 s
    assert_eq!(sent, 6);
    assert_eq!(now - start, Duration::from_secs(63));
    assert_eq!(Link::events(&mut c), [Event13::Closed(Close13::TimedOut)]);
}

#[test]
fn junk_does_not_end_a_handshake() {
    let mut l = Link::new(&cfg(), server(&[X25519], false, false));
    // before the server's answer, the client gets noise and a plaintext record of no use
    l.client.handle_datagram(l.now, &[0x16, 0xfe, 0xfd, 0, 0]);
    l.client.handle_datagram(l.now, b"not a record");
    assert_eq!(l.client.stats().dropped, 2);
    // the ClientHello reaches the server; its flight is held back while it gets junk
    let ch = l.client.poll_transmit().expect("ClientHello");
    l.deliver_to_server(&ch);
    let s = l.server.as_mut().expect("server");
    let flight = s.poll_transmit().expect("flight");
    s.handle_datagram(
        l.now,
        &[
            0x2e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    assert_eq!(s.stats().dropped, 1);
    l.client.handle_datagram(l.now, &flight);
    l.pump(&|_, _| false);
    assert!(l.client.is_established());
    assert!(l.server.as_ref().is_some_and(Connection13::is_established));
}

#[test]
fn an_imported_client_connection_goes_on_where_the_export_left_off() {
    let mut l = Link::new(&cfg(), server(&[X25519], false, false));
    l.pump(&|_, _| false);
    let blob = l.client.export_state(b"state key", 64).expect("export");
    let mut ledger = crate::export::MemoryLedger::default();
    l.client = Connection13::import_state(
        &blob,
        b"state key",
        true,
        &mut ledger,
        retransmit(),
        l.rng.clone(),
        l.now,
    )
    .expect("import");
    assert!(l.client.is_established());
    l.client.send(b"after the restart").expect("send");
    l.pump(&|_, _| false);
    let s = l.server.as_mut().expect("server");
    assert!(Link::events(s).contains(&Event13::Data(b"after the restart".to_vec())));
}
