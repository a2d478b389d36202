//! Batched datagram reception for the gateway and server loops: one `recvmmsg(2)` takes every
//! datagram a socket has queued (up to [`BATCH`]), where a `recv` per datagram, and one more
//! that finds the queue empty, cost a system call each. Under load (many datagrams in flight)
//! that is most of what a forwarding loop pays per datagram beside the one `send`.
//!
//! Why `nix`: it wraps `recvmmsg` safely (the workspace forbids `unsafe` of our own), with its
//! `socket`, `uio` and `net` features only; Linux only (elsewhere one `recv_from` per call).
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

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
