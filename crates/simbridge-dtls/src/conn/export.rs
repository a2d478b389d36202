//! Export and import of an established connection (see [`crate::export`] for the format
//! and the rules). The state is re-derived from the master secret and the two randoms, so no
//! traffic key is stored; what is stored is the association: suite, sequence numbers, replay
//! window, Connection IDs, identity, session and counters.

use super::keys::traffic_ciphers;
use super::{Connection, FinishedVerified, Role, State};
use crate::export::{
    self, ExportError, ExportField, ImportLedger, ImportRole, ROLE13_CLIENT, ROLE13_SERVER,
    malformed, out_of_range, put_u64, u64_at,
};
use crate::record_layer::RecordLayer;
use crate::replay::ReplayWindow;
use crate::secret::{Secret, SecretVec};
use crate::session::Session;
use crate::stats::{HandshakeKind, Stats};
use crate::suite::CipherSuite;
use crate::wire::Field;
use crate::wire::codec::{Reader, put_u16, put_vec8, put_vec16};

const ROLE_CLIENT: u8 = 0;
const ROLE_SERVER: u8 = 1;

impl Connection {
    /// Exports this established connection, encrypted under `key` (any length; keep it like a
    /// PSK). Reserves `reserve` write sequence numbers for this live connection, which may keep
    /// sending inside them; the export (once imported) continues after them. Export again to
    /// move the boundary; import each export at most once ([`Connection::import_state`]).
    pub fn export_state(&mut self, key: &[u8], reserve: u64) -> Result<Vec<u8>, ExportError> {
        let plain = self.export_plain(reserve)?;
        export::seal(key, &plain, self.common().rng.as_ref())
    }

    /// The state plaintext (zeroized on drop) with the write-ahead reservation made.
    pub(crate) fn export_plain(&mut self, reserve: u64) -> Result<SecretVec, ExportError> {
        if !self.is_established() || self.closing {
            return Err(ExportError::NotEstablished);
        }
        let suite = self.suite.ok_or(ExportError::NotEstablished)?;
        let next_recv_seq = self.next_recv_seq();
        let session = self.session.as_ref().ok_or(ExportError::NotEstablished)?;
        let write_seq = self
            .rl
            .reserve_for_export(reserve)
            .ok_or(ExportError::NotEstablished)?;
        let (top, bits) = self
            .rl
            .read_window()
            .map(ReplayWindow::to_parts)
            .unwrap_or((None, 0));
        let mut o = Vec::with_capacity(400);
        o.push(match self.role {
            Role::Client(_) => ROLE_CLIENT,
            Role::Server(_) => ROLE_SERVER,
        });
        put_u16(&mut o, suite.iana());
        o.extend_from_slice(session.master.expose());
        o.extend_from_slice(&self.client_random);
        o.extend_from_slice(&self.server_random);
        put_u64(&mut o, write_seq);
        o.push(u8::from(top.is_some()));
        put_u64(&mut o, top.unwrap_or(0));
        put_u64(&mut o, bits);
        put_vec8(&mut o, self.rl.read_cid());
        put_vec8(&mut o, self.rl.write_cid());
        o.push(u8::from(self.cid_negotiated));
        put_vec16(&mut o, &session.identity);
        put_vec16(
            &mut o,
            session.server_name.as_deref().unwrap_or("").as_bytes(),
        );
        put_vec8(&mut o, &session.session_id);
        put_vec16(&mut o, &session.ticket);
        o.extend_from_slice(&session.ticket_lifetime.to_be_bytes());
        put_u16(&mut o, self.next_send_seq);
        put_u16(&mut o, next_recv_seq);
        let stats = serde_json::to_vec(&self.stats).unwrap_or_default();
        put_vec16(&mut o, &stats);
        Ok(SecretVec::new(o))
    }

    /// Imports a connection exported by [`Connection::export_state`]: checks the key and the
    /// version, claims the export's id in `ledger` (an export seen before is refused), and
    /// returns an established connection that needs no handshake.
    pub fn import_state(
        blob: &[u8],
        key: &[u8],
        role: ImportRole,
        ledger: &mut dyn ImportLedger,
    ) -> Result<Self, ExportError> {
        let (id, plain) = export::open(key, blob)?;
        if !ledger.claim(&id) {
            return Err(ExportError::AlreadyImported);
        }
        Self::import_plain(plain.expose(), role)
    }

    /// Rebuilds a connection from a state plaintext.
    pub(crate) fn import_plain(p: &[u8], role: ImportRole) -> Result<Self, ExportError> {
        let mut r = Reader::new(p);
        let role_byte = r.u8(Field::Role).map_err(malformed)?;
        if (ROLE13_CLIENT..=ROLE13_SERVER).contains(&role_byte) {
            return Err(ExportError::OtherProtocol("1.3"));
        }
        let role = match (role, role_byte) {
            (ImportRole::Client(c), ROLE_CLIENT) => Role::Client(c.clone()),
            (ImportRole::Server(s), ROLE_SERVER) => Role::Server(s.clone()),
            _ => return Err(ExportError::WrongRole),
        };
        let suite = CipherSuite::from_iana(r.u16(Field::Suite).map_err(malformed)?)
            .filter(|s| !s.is_tls13())
            .ok_or(out_of_range(Field::Suite))?;
        let master: Secret<48> = Secret::from_slice(r.take(48, Field::Master).map_err(malformed)?)
            .ok_or(out_of_range(Field::Master))?;
        let mut client_random = [0u8; 32];
        client_random.copy_from_slice(r.take(32, Field::ClientRandom).map_err(malformed)?);
        let mut server_random = [0u8; 32];
        server_random.copy_from_slice(r.take(32, Field::ServerRandom).map_err(malformed)?);
        let write_seq = u64_at(&mut r, Field::WriteSeq)?;
        let has_top = r.u8(Field::Window).map_err(malformed)? != 0;
        let top = u64_at(&mut r, Field::WindowTop)?;
        let bits = u64_at(&mut r, Field::WindowBits)?;
        let read_cid = r.vec8(Field::ReadCid).map_err(malformed)?.to_vec();
        let write_cid = r.vec8(Field::WriteCid).map_err(malformed)?.to_vec();
        let cid_negotiated = r.u8(Field::Cid).map_err(malformed)? != 0;
        let session = read_session(&mut r, suite, master)?;
        let next_send_seq = r.u16(Field::NextMessageSeq).map_err(malformed)?;
        let next_recv_seq = r.u16(Field::NextMessageSeq).map_err(malformed)?;
        let stats: Stats = serde_json::from_slice(r.vec16(Field::Stats).map_err(malformed)?)
            .map_err(|_| out_of_range(Field::Stats))?;
        r.finish(Field::Export)
            .map_err(|_| ExportError::Format(ExportField::TrailingBytes))?;

        let is_client = matches!(role, Role::Client(_));
        let randoms = (&client_random, &server_random);
        let (write, read) = traffic_ciphers(suite, &session.master, randoms, is_client);
        let window = ReplayWindow::from_parts(has_top.then_some(top), bits);
        let mut rl = RecordLayer::restored(write, read, write_seq, window);
        rl.set_cids(read_cid, write_cid);

        let mut c = Connection::new(role);
        // established with no handshake to answer for: only the compact state is kept
        c.rl = rl;
        c.send_epoch = 1;
        c.cid_negotiated = cid_negotiated;
        c.next_send_seq = next_send_seq;
        c.next_recv_seq = next_recv_seq;
        c.suite = Some(suite);
        c.client_random = client_random;
        c.server_random = server_random;
        c.session = Some(session);
        c.stats = stats;
        c.stats.handshake_kind = Some(HandshakeKind::NoneNeeded);
        // The export was taken from an established connection (only those export) and it
        // authenticated under the caller's key: the Finished exchange happened back then.
        c.state = State::Established {
            _proof: FinishedVerified(()),
            kept: None,
        };
        Ok(c)
    }
}

/// The session part of a state plaintext: identity, SNI, session ID and ticket.
fn read_session(
    r: &mut Reader<'_>,
    suite: CipherSuite,
    master: Secret<48>,
) -> Result<Session, ExportError> {
    let identity = r.vec16(Field::Identity).map_err(malformed)?.to_vec();
    let sni = r.vec16(Field::Sni).map_err(malformed)?;
    let server_name = if sni.is_empty() {
        None
    } else {
        Some(
            std::str::from_utf8(sni)
                .map_err(|_| out_of_range(Field::Sni))?
                .to_owned(),
        )
    };
    let session_id = r.vec8(Field::SessionId).map_err(malformed)?.to_vec();
    let ticket = r.vec16(Field::Ticket).map_err(malformed)?.to_vec();
    let lt = r.take(4, Field::TicketLifetime).map_err(malformed)?;
    Ok(Session {
        suite,
        master,
        identity,
        session_id,
        ticket,
        ticket_lifetime: u32::from_be_bytes([lt[0], lt[1], lt[2], lt[3]]),
        server_name,
    })
}
