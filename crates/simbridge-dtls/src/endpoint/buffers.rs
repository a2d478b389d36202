//! The endpoint's caller-owned-buffer API: datagrams written into the caller's buffer, records
//! opened in the received buffer and application data handed out as a borrowed slice. In
//! steady state (established connections exchanging data) none of it allocates.

use std::net::SocketAddr;
use std::time::Instant;

use super::Endpoint;
use crate::error::Error;

/// A datagram [`Endpoint::poll_transmit_into`] wrote into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransmitTo {
    /// Where to send it.
    pub destination: SocketAddr,
    /// Its length: the datagram is the buffer's first `len` bytes.
    pub len: usize,
}

impl Endpoint {
    /// [`Endpoint::handle_datagram`] that decrypts the datagram's records in `data` itself
    /// (its content is overwritten) and hands each application record to
    /// `on_data(peer, plaintext)` as soon as it authenticates, instead of queueing an
    /// [`crate::Event::Data`]. Order is kept: while an event waits in
    /// [`Endpoint::poll_event`] (from this datagram or not yet polled), data is queued
    /// behind it as `Event::Data` instead; a caller that drains `poll_event` after each call
    /// sees everything in the order it happened. `peer` is the connection's address: a
    /// tls12_cid datagram from another address (which may move the peer, RFC 9146 §6) takes
    /// the queued way too, so its data carries the address after the move, as with
    /// [`Endpoint::handle_datagram`].
    pub fn handle_datagram_in_place<F>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &mut [u8],
        mut on_data: F,
    ) where
        F: FnMut(SocketAddr, &[u8]),
    {
        if let Some(r) = self.route(now, from, data) {
            if r.v13 {
                // DTLS 1.3 records are opened into a new buffer: data queues as events
                self.handle13(now, r, from, data);
                return;
            }
            let waiting = !self.events.is_empty();
            if let Some(e) = self.conns.get_mut(&r.id) {
                let addr = e.addr;
                if waiting || addr != from {
                    // events not yet polled go first: data queues behind them; a peer that
                    // may move gets its data once the move is decided
                    e.conn.handle_datagram(now, data);
                } else {
                    e.conn
                        .handle_datagram_in_place(now, data, |d| on_data(addr, d));
                }
            }
            self.routed(r, from);
        }
    }

    /// [`Endpoint::poll_transmit`] into `buf`: the next datagram is copied to the front of
    /// `buf`. A buffer too short for it is [`Error::BufferTooSmall`] and the datagram stays
    /// queued.
    pub fn poll_transmit_into(&mut self, buf: &mut [u8]) -> Result<Option<TransmitTo>, Error> {
        let Some(t) = self.out.front() else {
            return Ok(None);
        };
        let len = t.payload.len();
        let Some(dst) = buf.get_mut(..len) else {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        };
        dst.copy_from_slice(&t.payload);
        let destination = t.destination;
        self.out.pop_front();
        Ok(Some(TransmitTo { destination, len }))
    }

    /// Seals one application record to `to` straight into `buf` (no queue, no allocation)
    /// and returns the datagram's length: send `buf[..len]` to `to`. A buffer too short is
    /// [`Error::BufferTooSmall`] and uses no sequence number.
    pub fn send_into(
        &mut self,
        to: SocketAddr,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        let id = self.id_of(&to)?;
        if self.v13.conns.contains_key(&id) {
            return self.send13_into(id, data, buf);
        }
        let e = self.conns.get_mut(&id).ok_or(Error::Closed)?;
        let n = e.conn.send_into(data, buf)?;
        self.drain(id);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{ClientConfig, ServerConfig, StaticPsk};
    use crate::conn::{Connection, MAX_APP_RECORD};
    use crate::event::Event;
    use crate::rng::SeededRng;
    use crate::secret::SecretVec;

    const PEER: &str = "192.0.2.1:40000";

    /// A client connection and a server endpoint, established in memory (the client asks for
    /// a 2-byte CID when `cid`, so both sides' records are tls12_cid).
    fn link(cid: bool) -> (Connection, Endpoint, Instant) {
        let (mut client, mut server, now) = pair(cid);
        let from = PEER.parse().unwrap();
        for _ in 0..10 {
            while let Some(d) = client.poll_transmit() {
                server.handle_datagram(now, from, &d);
            }
            while let Some(t) = server.poll_transmit() {
                client.handle_datagram(now, &t.payload);
            }
        }
        assert!(client.is_established());
        assert_eq!(client.cid_negotiated(), cid);
        while client.poll_event().is_some() {}
        while server.poll_event().is_some() {}
        (client, server, now)
    }

    /// A client connection and a server endpoint before the handshake.
    fn pair(cid: bool) -> (Connection, Endpoint, Instant) {
        let psk = Arc::new(StaticPsk {
            identity: b"client1".to_vec(),
            key: SecretVec::new(vec![7; 16]),
        });
        let mut c = ClientConfig::new(psk.clone());
        c.common.rng = Arc::new(SeededRng::new(1));
        c.connection_id = cid.then_some(2);
        let mut s = ServerConfig::new(psk);
        s.common.rng = Arc::new(SeededRng::new(2));
        let now = Instant::now();
        let client = Connection::client(Arc::new(c), now).unwrap();
        let server = Endpoint::new(Arc::new(s)).unwrap();
        (client, server, now)
    }

    /// The record sequence number in a datagram's first record header.
    fn seq(d: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&d[5..11]);
        u64::from_be_bytes(b)
    }

    #[test]
    fn data_delivered_into_slices_equals_what_was_sent_both_ways() {
        for cid in [false, true] {
            let (mut client, mut server, now) = link(cid);
            let from: SocketAddr = PEER.parse().unwrap();
            let mut up = vec![0u8; MAX_APP_RECORD + 100];
            let mut down = vec![0u8; MAX_APP_RECORD + 100];
            for len in [0, 1, 64, 1200, MAX_APP_RECORD] {
                let msg: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                let n = client.send_into(&msg, &mut up).unwrap();
                let mut got = Vec::new();
                server.handle_datagram_in_place(now, from, &mut up[..n], |peer, d| {
                    assert_eq!(peer, from);
                    got.push(d.to_vec());
                });
                assert_eq!(got, vec![msg.clone()], "cid {cid}, {len} bytes up");
                assert!(
                    server.poll_event().is_none(),
                    "data went to the callback only"
                );
                let m = server.send_into(from, &msg, &mut down).unwrap();
                let mut back = Vec::new();
                client.handle_datagram_in_place(now, &mut down[..m], |d| back.push(d.to_vec()));
                assert_eq!(back, vec![msg], "cid {cid}, {len} bytes down");
                assert!(client.poll_event().is_none());
            }
            assert_eq!(client.stats().app_records_received, 5);
            assert_eq!(client.stats().app_records_sent, 5);
            let s = server.connection(&from).unwrap().stats();
            assert_eq!((s.app_records_received, s.app_records_sent), (5, 5));
        }
    }

    #[test]
    fn buffer_api_writes_the_same_bytes_as_the_vec_api() {
        for cid in [false, true] {
            // two links from the same seeds run the same handshake: same keys, same numbers
            let (mut a, mut sa, _) = link(cid);
            let (mut b, mut sb, _) = link(cid);
            let from: SocketAddr = PEER.parse().unwrap();
            a.send(b"same bytes").unwrap();
            let by_vec = a.poll_transmit().unwrap();
            let mut buf = [0u8; 200];
            let n = b.send_into(b"same bytes", &mut buf).unwrap();
            assert_eq!(&buf[..n], &by_vec[..], "client, cid {cid}");
            sa.send(from, b"back").unwrap();
            let by_vec = sa.poll_transmit().unwrap().payload;
            let n = sb.send_into(from, b"back", &mut buf).unwrap();
            assert_eq!(&buf[..n], &by_vec[..], "server, cid {cid}");
        }
    }

    #[test]
    fn too_small_buffer_is_a_typed_error_and_loses_nothing() {
        let (mut client, mut server, now) = link(true);
        let from: SocketAddr = PEER.parse().unwrap();
        let mut small = [0u8; 20];
        let mut big = [0u8; 200];
        let n = client.send_into(b"first", &mut big).unwrap();
        let first_seq = seq(&big[..n]);
        // 64 bytes + header (13) + the server's CID (4) + type byte + nonce and CCM_8 tag (16)
        assert_eq!(
            client.send_into(&[1; 64], &mut small),
            Err(Error::BufferTooSmall {
                needed: 98,
                available: 20
            })
        );
        let n = client.send_into(&[1; 64], &mut big).unwrap();
        assert_eq!(n, 98);
        assert_eq!(
            seq(&big[..n]),
            first_seq + 1,
            "the failed call used no sequence number"
        );
        let mut got = Vec::new();
        server.handle_datagram_in_place(now, from, &mut big[..n], |_, d| got.push(d.to_vec()));
        assert_eq!(got, vec![vec![1; 64]]);

        // queued datagrams stay queued until a buffer fits them
        client.send(b"queued").unwrap();
        let too_small = client.poll_transmit_into(&mut small[..10]);
        assert!(matches!(
            too_small,
            Err(Error::BufferTooSmall { available: 10, .. })
        ));
        let n = client.poll_transmit_into(&mut big).unwrap().unwrap();
        assert_eq!(client.poll_transmit_into(&mut big), Ok(None));
        let mut got = Vec::new();
        server.handle_datagram_in_place(now, from, &mut big[..n], |_, d| got.push(d.to_vec()));
        assert_eq!(got, vec![b"queued".to_vec()]);

        server.send(from, b"queued too").unwrap();
        assert!(matches!(
            server.poll_transmit_into(&mut small[..10]),
            Err(Error::BufferTooSmall { available: 10, .. })
        ));
        assert!(server.poll_transmit_pending());
        let t = server.poll_transmit_into(&mut big).unwrap().unwrap();
        assert_eq!(t.destination, from);
        assert_eq!(server.poll_transmit_into(&mut big), Ok(None));
        let mut back = Vec::new();
        client.handle_datagram_in_place(now, &mut big[..t.len], |d| back.push(d.to_vec()));
        assert_eq!(back, vec![b"queued too".to_vec()]);
    }

    #[test]
    fn data_behind_a_pending_event_keeps_its_order() {
        // Connection: the server's Finished flight and its first record in one datagram
        let (mut client, mut server, now) = pair(false);
        let from: SocketAddr = PEER.parse().unwrap();
        let mut last = Vec::new();
        for _ in 0..10 {
            while let Some(d) = client.poll_transmit() {
                server.handle_datagram(now, from, &d);
            }
            if server.connection(&from).is_some_and(|c| c.is_established()) {
                server.send(from, b"first").unwrap();
                while let Some(t) = server.poll_transmit() {
                    last.extend_from_slice(&t.payload);
                }
                break;
            }
            while let Some(t) = server.poll_transmit() {
                client.handle_datagram(now, &t.payload);
            }
        }
        assert!(!client.is_established() && !last.is_empty());
        let mut called = 0;
        client.handle_datagram_in_place(now, &mut last, |_| called += 1);
        assert_eq!(called, 0, "data must not overtake Connected");
        assert!(matches!(client.poll_event(), Some(Event::Connected { .. })));
        assert_eq!(client.poll_event(), Some(Event::Data(b"first".to_vec())));
        assert_eq!(client.poll_event(), None);

        // Endpoint: an event of another connection not yet polled
        let mut buf = [0u8; 200];
        let n = client.send_into(b"after", &mut buf).unwrap();
        server.handle_datagram_in_place(now, from, &mut buf[..n], |_, _| called += 1);
        assert_eq!(called, 0, "data must not overtake the unpolled Connected");
        assert!(matches!(server.poll_event(), Some((p, Event::Connected { .. })) if p == from));
        assert_eq!(
            server.poll_event(),
            Some((from, Event::Data(b"after".to_vec())))
        );
        let n = client.send_into(b"now direct", &mut buf).unwrap();
        server.handle_datagram_in_place(now, from, &mut buf[..n], |_, d| {
            assert_eq!(d, b"now direct");
            called += 1;
        });
        assert_eq!(called, 1);
    }

    #[test]
    fn data_from_a_moving_cid_peer_carries_the_new_address() {
        let (mut client, mut server, now) = link(true);
        let (old, new): (SocketAddr, SocketAddr) =
            (PEER.parse().unwrap(), "192.0.2.9:5000".parse().unwrap());
        let mut buf = [0u8; 200];
        let n = client.send_into(b"moved", &mut buf).unwrap();
        let mut called = 0;
        server.handle_datagram_in_place(now, new, &mut buf[..n], |_, _| called += 1);
        assert_eq!(called, 0);
        assert_eq!(server.poll_address_change(), Some((old, new)));
        assert_eq!(
            server.poll_event(),
            Some((new, Event::Data(b"moved".to_vec())))
        );
        let n = client.send_into(b"settled", &mut buf).unwrap();
        server.handle_datagram_in_place(now, new, &mut buf[..n], |p, d| {
            assert_eq!((p, d), (new, &b"settled"[..]));
            called += 1;
        });
        assert_eq!(called, 1);
    }

    #[test]
    fn forged_and_replayed_records_are_dropped_in_place() {
        let (mut client, mut server, now) = link(false);
        let from: SocketAddr = PEER.parse().unwrap();
        let mut buf = [0u8; 200];
        let n = client.send_into(b"once", &mut buf).unwrap();
        let copy = buf;
        let mut forged = buf;
        forged[n - 1] ^= 1;
        let mut got = 0;
        server.handle_datagram_in_place(now, from, &mut forged[..n], |_, _| got += 1);
        assert_eq!(got, 0);
        server.handle_datagram_in_place(now, from, &mut buf[..n], |_, _| got += 1);
        assert_eq!(got, 1);
        let mut again = copy;
        server.handle_datagram_in_place(now, from, &mut again[..n], |_, _| got += 1);
        assert_eq!(got, 1);
        let s = server.connection(&from).unwrap().stats();
        assert_eq!((s.dropped_bad_mac, s.dropped_replay), (1, 1));
    }
}
