//! Following a peer whose address changed under a Connection ID (RFC 9146 §6, RFC 9147 §9):
//! the move happens only after an authenticated record newer than any before it, and never
//! onto an address another live connection owns.

use std::net::SocketAddr;

use super::Endpoint;

impl Endpoint {
    /// After a tls12_cid datagram from `from`: move the peer only on an authenticated, newest
    /// record.
    pub(super) fn follow_peer(&mut self, id: u64, from: SocketAddr) {
        let Some(e) = self.conns.get(&id) else {
            return;
        };
        let newest = e.conn.last_datagram_was_newest();
        let old = e.addr;
        if old != from && self.may_move(id, old, from, newest) {
            if let Some(e) = self.conns.get_mut(&id) {
                e.addr = from;
            }
            self.moved(id, old, from);
        }
    }

    /// Whether the CID peer `id` at `old`, whose datagram came from `from`, moves there:
    /// only on an authenticated, newest record, and never onto an address another live
    /// connection owns (that would cut it off: its peer is reached by address; the record
    /// is still delivered). Refusals are counted.
    pub(super) fn may_move(
        &mut self,
        id: u64,
        old: SocketAddr,
        from: SocketAddr,
        newest: bool,
    ) -> bool {
        let owner = self.by_addr.get(&from).copied().filter(|o| {
            *o != id
                && (self.conns.get(o).is_some_and(|c| !c.conn.is_closed())
                    || self.v13.conns.contains_key(o))
        });
        if !newest {
            self.stats.address_change_refused += 1;
            false
        } else if let Some(owner) = owner {
            self.stats.address_in_use += 1;
            log::debug!(
                "CID peer at {old} sent from {from}, which connection {owner} owns: not moved"
            );
            false
        } else {
            true
        }
    }

    /// The routing side of a move of peer `id` from `old` to `from` (its entry already moved).
    pub(super) fn moved(&mut self, id: u64, old: SocketAddr, from: SocketAddr) {
        if self.by_addr.get(&old) == Some(&id) {
            self.by_addr.remove(&old);
        }
        self.by_addr.insert(from, id);
        self.stats.address_changes += 1;
        self.migrations.push_back((old, from));
    }
}
