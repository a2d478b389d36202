//! The session's buffer path (`send_into`, `poll_transmit_into`, `handle_datagram_in_place`)
//! against our real server endpoint: the same data both ways, in order, as the Vec path.

use super::*;

impl Lab {
    /// [`Lab::pump`] through the session's buffer API; data delivered in place is collected
    /// into `got`, and what waits in `poll_received` after it.
    fn pump_in_place(&mut self, got: &mut Vec<Vec<u8>>) {
        let mut buf = vec![0u8; 2048];
        for _ in 0..200 {
            let mut moved = false;
            while let Some((path, n)) = self.session.poll_transmit_into(&mut buf) {
                moved = true;
                self.server
                    .handle_datagram(self.now.mono, addr(path), &buf[..n]);
            }
            while let Some((from, ev)) = self.server.poll_event() {
                if let Event::Data(d) = ev {
                    self.at_server.push(d.clone());
                    let _ = self.server.send(from, &d);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                let path = PathId((t.destination.port() - 40000) as u8);
                let mut d = t.payload;
                self.session
                    .handle_datagram_in_place(self.now, path, &mut d, |data| {
                        got.push(data.to_vec())
                    });
                got.extend(std::iter::from_fn(|| self.session.poll_received()));
            }
            if !moved {
                return;
            }
        }
    }
}

#[test]
fn the_buffer_path_carries_the_same_data_in_order() {
    let mut lab = static_lab();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 2048];
    // before the session is up: queued, nothing to send yet
    assert_eq!(lab.session.send_into(lab.now, b"one", &mut buf), None);
    lab.pump_in_place(&mut got);
    assert!(lab.session.is_established());
    // established: sealed straight into the caller's buffer
    for msg in [&b"two"[..], b"three", &[0x42; 1000]] {
        let (path, n) = lab
            .session
            .send_into(lab.now, msg, &mut buf)
            .expect("sealed now");
        lab.server
            .handle_datagram(lab.now.mono, addr(path), &buf[..n]);
        lab.pump_in_place(&mut got);
    }
    let sent = vec![
        b"one".to_vec(),
        b"two".to_vec(),
        b"three".to_vec(),
        vec![0x42; 1000],
    ];
    assert_eq!(lab.at_server, sent);
    assert_eq!(got, sent, "echoed back, in order");
    let m = lab.session.metrics();
    assert_eq!(m.data_bytes_sent, 3 + 3 + 5 + 1000);
}

#[test]
fn a_buffer_too_small_drops_the_datagram_with_a_warning_and_keeps_the_session() {
    let mut lab = static_lab();
    lab.session.connect(lab.now);
    lab.pump_in_place(&mut Vec::new());
    assert!(lab.session.is_established());
    let mut tiny = [0u8; 8];
    assert_eq!(
        lab.session
            .send_into(lab.now, b"too long for 8 bytes", &mut tiny),
        None
    );
    assert!(lab.session.is_established());
    let mut buf = vec![0u8; 2048];
    assert!(lab.session.send_into(lab.now, b"fits", &mut buf).is_some());
}
