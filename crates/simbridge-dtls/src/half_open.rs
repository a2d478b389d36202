//! An endpoint's account of handshakes in progress ("half-open": a valid cookie, no Finished
//! yet): how many each source IP address has, and how many bytes they hold in buffers
//! together, so that one address cannot take every handshake slot and all of them together
//! cannot take more than the global buffer budget.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Default)]
pub(crate) struct HalfOpen {
    per_ip: HashMap<IpAddr, usize>,
    /// Bytes buffered by all half-open handshakes (as last reported by each).
    buffered: usize,
}

impl HalfOpen {
    /// Handshakes in progress from `ip`.
    pub(crate) fn count(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }

    /// A handshake from `ip` started.
    pub(crate) fn enter(&mut self, ip: IpAddr) {
        *self.per_ip.entry(ip).or_insert(0) += 1;
    }

    /// A handshake from `ip` that held `buffered` bytes completed or went.
    pub(crate) fn leave(&mut self, ip: IpAddr, buffered: usize) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        self.buffered = self.buffered.saturating_sub(buffered);
    }

    /// A handshake's buffers went from `old` to `new` bytes.
    pub(crate) fn rebuffer(&mut self, old: usize, new: usize) {
        self.buffered = self.buffered.saturating_sub(old) + new;
    }

    /// The buffer limit for a handshake holding `own` bytes: its own budget, cut to what the
    /// global budget has left.
    pub(crate) fn limit_for(&self, own: usize, per_connection: usize, total: usize) -> usize {
        per_connection.min(own + total.saturating_sub(self.buffered))
    }

    /// Bytes buffered by all half-open handshakes.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Handshakes in progress.
    pub(crate) fn total(&self) -> usize {
        self.per_ip.values().sum()
    }

    /// Source addresses with a handshake in progress.
    pub(crate) fn addresses(&self) -> usize {
        self.per_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_address_and_bytes_in_all() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut h = HalfOpen::default();
        h.enter(a);
        h.enter(a);
        h.enter(b);
        assert_eq!((h.count(a), h.count(b), h.addresses()), (2, 1, 2));
        h.rebuffer(0, 1000);
        h.rebuffer(0, 500);
        assert_eq!(h.buffered(), 1500);
        // 2000 in all: a handshake holding 500 may grow to 1000 (per connection 2048)
        assert_eq!(h.limit_for(500, 2048, 2000), 1000);
        assert_eq!(h.limit_for(0, 100, 1 << 20), 100);
        h.leave(a, 1000);
        h.leave(a, 0);
        assert_eq!((h.count(a), h.addresses(), h.buffered()), (0, 1, 500));
    }
}
