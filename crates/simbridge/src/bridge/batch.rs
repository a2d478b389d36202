//! Batched datagram I/O for the gateway and server loops: one `recvmmsg(2)` takes every
//! datagram a socket has queued (up to [`BATCH`]), where a `recv` per datagram, and one more
//! that finds the queue empty, cost a system call each; and one `sendmmsg(2)` sends what one
//! such batch produced for one socket ([`SendBatch`]). Under load (many datagrams in flight)
//! the system calls are most of what a forwarding loop pays per datagram: the loops' own work
//! is a few per cent of their CPU time.
//!
//! Why `nix`: it wraps `recvmmsg` and `sendmmsg` safely (the workspace forbids `unsafe` of our
//! own), with its `socket`, `uio` and `net` features only; Linux only (elsewhere one
//! `recv_from` / `send_to` per datagram).
//!
//! Draining an edge-triggered socket: a batch shorter than asked means the queue was empty at
//! that moment, and a datagram that arrives afterwards is a new readiness edge for the poller,
//! so the caller stops there instead of making one more call to learn `WouldBlock`
//! ([`RecvBatch::drained`]).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// A socket [`RecvBatch`] reads: the loops' mio sockets (and std's, in tests).
pub(crate) trait Socket: AsRawFd {
    /// One datagram, where the system has no `recvmmsg`.
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
}

impl Socket for mio::net::UdpSocket {
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
}

impl Socket for std::net::UdpSocket {
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from(buf)
    }
}

/// Most datagrams taken per system call.
pub(crate) const BATCH: usize = 16;

/// Bytes per datagram slot: any UDP payload fits, so nothing is ever truncated. Only the pages
/// datagrams are written to become resident.
const SLOT: usize = 65_535;

/// Reused buffers for up to [`BATCH`] datagrams and what one receive put in them.
pub(crate) struct RecvBatch {
    bufs: Vec<u8>,
    got: [(usize, Option<SocketAddr>); BATCH],
    count: usize,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        Self {
            bufs: vec![0; BATCH * SLOT],
            got: [(0, None); BATCH],
            count: 0,
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Receives what `sock` (non-blocking) has queued, up to [`BATCH`] datagrams; 0 when
    /// nothing is (`WouldBlock`). Other errors (an ICMP error the socket reports) are returned
    /// as they are.
    pub(crate) fn recv(&mut self, sock: &impl Socket) -> io::Result<usize> {
        self.count = 0;
        let n = match self.recv_inner(sock) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        self.count = n;
        Ok(n)
    }

    #[cfg(target_os = "linux")]
    fn recv_inner(&mut self, sock: &impl Socket) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, SockaddrLike, SockaddrStorage, recvmmsg};
        use std::io::IoSliceMut;

        let mut slots = self.bufs.chunks_exact_mut(SLOT);
        let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(slots.next().unwrap_or_default())]);
        let results = recvmmsg(
            sock.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        let addr = |s: &SockaddrStorage| match s.family() {
            Some(nix::sys::socket::AddressFamily::Inet) => {
                s.as_sockaddr_in().map(|a| SocketAddr::from(*a))
            }
            Some(nix::sys::socket::AddressFamily::Inet6) => {
                s.as_sockaddr_in6().map(|a| SocketAddr::from(*a))
            }
            _ => None,
        };
        let mut n = 0;
        for (slot, msg) in self.got.iter_mut().zip(results) {
            *slot = (msg.bytes.min(SLOT), msg.address.as_ref().and_then(addr));
            n += 1;
        }
        Ok(n)
    }

    #[cfg(not(target_os = "linux"))]
    fn recv_inner(&mut self, sock: &impl Socket) -> io::Result<usize> {
        let slot = self.bufs.get_mut(..SLOT).unwrap_or_default();
        let (n, from) = sock.recv_one(slot)?;
        self.got[0] = (n, Some(from));
        Ok(1)
    }

    /// True when the last [`Self::recv`] emptied the socket's queue (it returned fewer than
    /// [`BATCH`] datagrams): wait for the poller's next edge instead of receiving again.
    pub(crate) fn drained(&self) -> bool {
        self.count < BATCH
    }

    /// Datagram `i` of the last receive, writable in place, and its source when the socket
    /// reported one (always on an unconnected socket).
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<(&mut [u8], Option<SocketAddr>)> {
        if i >= self.count {
            return None;
        }
        let (len, from) = *self.got.get(i)?;
        let start = i * SLOT;
        let d = self.bufs.get_mut(start..start + len)?;
        Some((d, from))
    }
}

/// Bytes per outgoing datagram slot: the largest datagram the loops send (the DTLS
/// endpoint's and the CoAP relay's maximum).
const SEND_SLOT: usize = 16_709;

/// Datagrams queued for one socket, sent with one system call by [`SendBatch::flush`].
///
/// The batch remembers the socket by its descriptor only: the caller flushes before the
/// socket can be closed (the loops flush at the end of each received batch, and close
/// sockets only between batches), so a descriptor never outlives its socket here.
pub(crate) struct SendBatch {
    bufs: Vec<u8>,
    lens: [usize; BATCH],
    #[cfg(target_os = "linux")]
    addrs: [Option<nix::sys::socket::SockaddrStorage>; BATCH],
    #[cfg(not(target_os = "linux"))]
    addrs: [Option<SocketAddr>; BATCH],
    count: usize,
    fd: Option<std::os::fd::RawFd>,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

/// What a flush could not send: how many datagrams and the last error.
#[derive(Debug)]
pub(crate) struct SendFailure {
    /// Datagrams dropped.
    pub(crate) dropped: usize,
    /// The error of the last one.
    pub(crate) error: io::Error,
}

impl SendBatch {
    pub(crate) fn new() -> Self {
        Self {
            bufs: vec![0; BATCH * SEND_SLOT],
            lens: [0; BATCH],
            addrs: std::array::from_fn(|_| None),
            count: 0,
            fd: None,
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Queues `data` for the socket `fd` (to `to`, or to its connected peer). A batch for
    /// another socket, or a full one, is sent first; its failure is returned (this datagram is
    /// queued all the same). A datagram longer than a slot is sent at once on its own.
    pub(crate) fn push(
        &mut self,
        fd: std::os::fd::RawFd,
        data: &[u8],
        to: Option<SocketAddr>,
    ) -> Result<(), SendFailure> {
        let mut result = Ok(());
        if self.count == BATCH || self.fd.is_some_and(|f| f != fd) {
            result = self.flush();
        }
        if data.len() > SEND_SLOT {
            return result
                .and(send_one(fd, data, to).map_err(|error| SendFailure { dropped: 1, error }));
        }
        let start = self.count * SEND_SLOT;
        let Some(slot) = self.bufs.get_mut(start..start + data.len()) else {
            return result;
        };
        slot.copy_from_slice(data);
        self.lens[self.count] = data.len();
        #[cfg(target_os = "linux")]
        {
            self.addrs[self.count] = to.map(nix::sys::socket::SockaddrStorage::from);
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.addrs[self.count] = to;
        }
        self.count += 1;
        self.fd = Some(fd);
        result
    }

    /// Sends every queued datagram. A datagram the system refuses (an ICMP error a
    /// connected socket reports, a full buffer) is dropped, as a `send` of it would have
    /// been; the rest still go.
    pub(crate) fn flush(&mut self) -> Result<(), SendFailure> {
        let (Some(fd), n) = (self.fd, self.count) else {
            return Ok(());
        };
        self.count = 0;
        self.fd = None;
        let mut failure: Option<SendFailure> = None;
        let mut next = 0;
        while next < n {
            match self.send_from(fd, next, n) {
                Ok(sent) if sent > 0 => next += sent,
                Ok(_) => {
                    let f = failure.get_or_insert(SendFailure {
                        dropped: 0,
                        error: io::Error::from(io::ErrorKind::WriteZero),
                    });
                    f.dropped += n - next;
                    break;
                }
                Err(error) => {
                    // the first unsent datagram is the one refused: drop it, go on
                    let dropped = failure.as_ref().map_or(0, |f| f.dropped) + 1;
                    failure = Some(SendFailure { dropped, error });
                    next += 1;
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    #[cfg(target_os = "linux")]
    fn send_from(&mut self, fd: std::os::fd::RawFd, from: usize, to: usize) -> io::Result<usize> {
        use nix::sys::socket::{MsgFlags, sendmmsg};
        use std::io::IoSlice;

        let iovs: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| {
            let start = i * SEND_SLOT;
            let len = self.lens[i];
            [IoSlice::new(
                self.bufs.get(start..start + len).unwrap_or_default(),
            )]
        });
        let (Some(iovs), Some(addrs)) = (iovs.get(from..to), self.addrs.get(from..to)) else {
            return Ok(0);
        };
        let sent = sendmmsg(
            fd,
            &mut self.headers,
            iovs.iter(),
            addrs,
            [],
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        Ok(sent.count())
    }

    #[cfg(not(target_os = "linux"))]
    fn send_from(&mut self, fd: std::os::fd::RawFd, from: usize, _to: usize) -> io::Result<usize> {
        let start = from * SEND_SLOT;
        let data = self
            .bufs
            .get(start..start + self.lens[from])
            .unwrap_or_default();
        send_one(fd, data, self.addrs[from]).map(|_| 1)
    }
}

/// One datagram on its own (what does not fit a slot, or where there is no `sendmmsg`).
fn send_one(fd: std::os::fd::RawFd, data: &[u8], to: Option<SocketAddr>) -> io::Result<()> {
    use nix::sys::socket::{MsgFlags, SockaddrStorage, send, sendto};
    let flags = MsgFlags::MSG_DONTWAIT;
    match to {
        Some(a) => sendto(fd, data, &SockaddrStorage::from(a), flags),
        None => send(fd, data, flags),
    }
    .map(|_| ())
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn takes_every_queued_datagram_with_its_source_and_reports_drained() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..3u8 {
            tx.send_to(&[i; 5][..usize::from(i) + 1], rx.local_addr().unwrap())
                .unwrap();
        }
        let mut b = RecvBatch::new();
        // loopback delivers synchronously, but allow the stack a moment
        let mut n = 0;
        for _ in 0..100 {
            n = b.recv(&rx).unwrap();
            if n > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(n, 3);
        assert!(b.drained());
        for i in 0..3u8 {
            let (d, from) = b.get_mut(usize::from(i)).unwrap();
            assert_eq!(d, &[i; 5][..usize::from(i) + 1]);
            assert_eq!(from, Some(tx.local_addr().unwrap()));
        }
        assert!(b.get_mut(3).is_none());
        assert_eq!(
            b.recv(&rx).unwrap(),
            0,
            "an empty queue is 0, not WouldBlock"
        );
    }

    fn recv_all(rx: &UdpSocket, want: usize) -> Vec<(Vec<u8>, SocketAddr)> {
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while got.len() < want {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            got.push((buf[..n].to_vec(), from));
        }
        got
    }

    #[test]
    fn queued_datagrams_go_out_in_order_to_their_addresses_on_flush() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a, b) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let mut batch = SendBatch::new();
        for i in 0..5u8 {
            let to = if i % 2 == 0 { &a } else { &b };
            batch
                .push(tx.as_raw_fd(), &[i; 3], Some(to.local_addr().unwrap()))
                .unwrap();
        }
        // nothing leaves before the flush
        a.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        assert!(a.recv_from(&mut buf).is_err());
        a.set_nonblocking(false).unwrap();
        batch.flush().unwrap();
        let from_a: Vec<Vec<u8>> = recv_all(&a, 3).into_iter().map(|(d, _)| d).collect();
        assert_eq!(from_a, vec![vec![0; 3], vec![2; 3], vec![4; 3]]);
        let from_b = recv_all(&b, 2);
        assert_eq!(from_b[0], (vec![1; 3], tx.local_addr().unwrap()));
        assert_eq!(from_b[1].0, vec![3; 3]);
        assert!(batch.flush().is_ok(), "an empty batch sends nothing");
    }

    #[test]
    fn another_socket_or_a_full_batch_sends_what_was_queued_first() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (t1, t2) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        t2.connect(rx.local_addr().unwrap()).unwrap();
        let mut batch = SendBatch::new();
        let to = Some(rx.local_addr().unwrap());
        batch.push(t1.as_raw_fd(), b"one", to).unwrap();
        // a connected socket: no address needed
        batch.push(t2.as_raw_fd(), b"two", None).unwrap();
        let got = recv_all(&rx, 1);
        assert_eq!(got[0], (b"one".to_vec(), t1.local_addr().unwrap()));
        for i in 0..BATCH + 1 {
            batch.push(t2.as_raw_fd(), &[i as u8], None).unwrap();
        }
        // "two" and the first BATCH - 1 went when the batch filled up
        let got = recv_all(&rx, BATCH);
        assert_eq!(got[0].0, b"two".to_vec());
        assert_eq!(got[BATCH - 1].0, vec![(BATCH - 2) as u8]);
        batch.flush().unwrap();
        let rest = recv_all(&rx, 2);
        assert_eq!(rest[1].0, vec![BATCH as u8]);
    }

    #[test]
    fn a_refused_datagram_is_dropped_and_the_rest_still_go() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new();
        let to = Some(rx.local_addr().unwrap());
        batch.push(tx.as_raw_fd(), b"first", to).unwrap();
        // port 0 is no destination: the system refuses this one
        batch
            .push(
                tx.as_raw_fd(),
                b"refused",
                Some("127.0.0.1:0".parse().unwrap()),
            )
            .unwrap();
        batch.push(tx.as_raw_fd(), b"last", to).unwrap();
        let failure = batch.flush().expect_err("one was refused");
        assert_eq!(failure.dropped, 1, "{failure:?}");
        let got: Vec<Vec<u8>> = recv_all(&rx, 2).into_iter().map(|(d, _)| d).collect();
        assert_eq!(got, vec![b"first".to_vec(), b"last".to_vec()]);
    }

    #[test]
    fn a_datagram_larger_than_a_slot_goes_on_its_own() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = SendBatch::new();
        let to = Some(rx.local_addr().unwrap());
        batch.push(tx.as_raw_fd(), b"queued", to).unwrap();
        let big = vec![7u8; SEND_SLOT + 1];
        batch.push(tx.as_raw_fd(), &big, to).unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut buf = vec![0u8; 65_536];
        let (n, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(n, big.len(), "sent at once, ahead of the queued one");
        batch.flush().unwrap();
        let (n, _) = rx.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"queued");
    }

    #[test]
    fn a_full_batch_is_not_drained_and_the_rest_follows() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let total = BATCH + 2;
        for i in 0..total {
            tx.send_to(&(i as u32).to_be_bytes(), rx.local_addr().unwrap())
                .unwrap();
        }
        let mut b = RecvBatch::new();
        let mut seen = Vec::new();
        for _ in 0..100 {
            let n = b.recv(&rx).unwrap();
            for i in 0..n {
                let (d, _) = b.get_mut(i).unwrap();
                seen.push(u32::from_be_bytes(d.try_into().unwrap()));
            }
            if seen.len() == total {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(seen, (0..total as u32).collect::<Vec<_>>());
    }
}
