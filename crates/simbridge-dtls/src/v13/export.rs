//! Export and import of an established DTLS 1.3 session, so that a gateway or server restarts
//! without a handshake (as [`crate::Connection::export_state`] does for DTLS 1.2): the same
//! sealed envelope ([`crate::export`]: AES-GCM under the caller's key, an id an
//! [`ImportLedger`] lets through once), with the session's traffic secrets, epochs, sequence
//! numbers, replay window, Connection IDs and message_seq inside.
//!
//! Sequence numbers are reserved ahead as for DTLS 1.2, with one difference: a DTLS 1.3 record
//! carries only the low 8 or 16 bits of its number and the receiver takes the full number
//! closest to the one it expects (RFC 9147 §4.2.2). An imported session therefore jumps at
//! most [`MAX_RESERVE`] (2^14) ahead, and sends its first 256 records with the 16-bit form,
//! which places a jump of up to 2^15 correctly; after that, the 1-byte form again.
//!
//! Not carried: the previous receive epoch (records reordered across a KeyUpdate and a restart
//! are lost) and a KeyUpdate in flight (the export waits for its ACK).

use super::handshake::{Cids, Established13, P, SUITES};
use super::key_schedule::{HASH_LEN, TrafficKeys};
use super::protect::Protection13;
use crate::export::{
    self, ExportError, ExportField, ImportLedger, ROLE13_CLIENT, ROLE13_SERVER, malformed,
    out_of_range, put_u64, u64_at,
};
use crate::replay::ReplayWindow;
use crate::rng::DtlsRng;
use crate::secret::{Secret, SecretVec};
use crate::wire::Field;
use crate::wire::codec::{Reader, put_u16, put_vec8};

/// The most sequence numbers an export reserves for the live session.
pub const MAX_RESERVE: u64 = 1 << 14;
/// What an export reserves by default.
pub const DEFAULT_RESERVE: u64 = 4096;
/// Records sent with the 16-bit sequence number after an import.
const LONG_SEQ_RECORDS: u64 = 256;

fn secret_at(r: &mut Reader<'_>) -> Result<Secret<HASH_LEN>, ExportError> {
    Secret::from_slice(r.take(HASH_LEN, Field::Master).map_err(malformed)?)
        .ok_or(out_of_range(Field::Master))
}

impl Established13 {
    /// Exports this session, sealed under `key`. Reserves `reserve` (at most
    /// [`MAX_RESERVE`]) sending sequence numbers for this live session, which may go on
    /// sending inside them ([`super::handshake::Handshake13Error::ReserveUsed`] after); the
    /// imported session starts after them. Import each export at most once.
    pub fn export_state(
        &mut self,
        key: &[u8],
        reserve: u64,
        rng: &dyn DtlsRng,
    ) -> Result<Vec<u8>, ExportError> {
        if self.pending_update.is_some() {
            return Err(ExportError::KeyUpdatePending);
        }
        let write_seq = self.next_send + reserve.min(MAX_RESERVE);
        let (top, bits) = self.replay.to_parts();
        let mut o = Vec::with_capacity(160);
        o.push(if self.is_client {
            ROLE13_CLIENT
        } else {
            ROLE13_SERVER
        });
        put_u16(&mut o, self.suite);
        put_u16(&mut o, self.group.unwrap_or(0));
        put_u64(&mut o, self.send_epoch);
        put_u64(&mut o, self.recv_epoch);
        o.extend_from_slice(self.send_secret.expose());
        o.extend_from_slice(self.recv_secret.expose());
        put_u64(&mut o, write_seq);
        put_u64(&mut o, self.next_recv);
        o.push(u8::from(top.is_some()));
        put_u64(&mut o, top.unwrap_or(0));
        put_u64(&mut o, bits);
        put_vec8(&mut o, &self.cids.send);
        put_vec8(&mut o, &self.cids.recv);
        put_u16(&mut o, self.next_msg_seq);
        put_u16(&mut o, self.peer_msg_seq);
        let sealed = export::seal(key, &SecretVec::new(o), rng)?;
        self.reserved_until = Some(write_seq);
        Ok(sealed)
    }

    /// Imports a session exported by [`Self::export_state`] in the role `client` says: checks
    /// the key, claims the export's id in `ledger` (an export seen before is refused) and
    /// returns the session, ready to send and receive with no handshake.
    pub fn import_state(
        blob: &[u8],
        key: &[u8],
        client: bool,
        ledger: &mut dyn ImportLedger,
    ) -> Result<Self, ExportError> {
        let (id, plain) = export::open(key, blob)?;
        let mut r = Reader::new(plain.expose());
        let role = r.u8(Field::Role).map_err(malformed)?;
        match role {
            ROLE13_CLIENT | ROLE13_SERVER => {}
            0 | 1 => return Err(ExportError::OtherProtocol("1.2")),
            _ => return Err(out_of_range(Field::Role)),
        }
        if (role == ROLE13_CLIENT) != client {
            return Err(ExportError::WrongRole);
        }
        let suite = r.u16(Field::Suite).map_err(malformed)?;
        let alg = SUITES
            .iter()
            .find(|(s, _)| *s == suite)
            .map(|(_, a)| *a)
            .ok_or(out_of_range(Field::Suite))?;
        let group = r.u16(Field::NamedCurve).map_err(malformed)?;
        let send_epoch = u64_at(&mut r, Field::RecordEpoch)?;
        let recv_epoch = u64_at(&mut r, Field::RecordEpoch)?;
        if send_epoch < 3 || recv_epoch < 3 {
            return Err(out_of_range(Field::RecordEpoch));
        }
        let send_secret = secret_at(&mut r)?;
        let recv_secret = secret_at(&mut r)?;
        let write_seq = u64_at(&mut r, Field::WriteSeq)?;
        let next_recv = u64_at(&mut r, Field::RecordSeq)?;
        let has_top = r.u8(Field::Window).map_err(malformed)? != 0;
        let top = u64_at(&mut r, Field::WindowTop)?;
        let bits = u64_at(&mut r, Field::WindowBits)?;
        let cids = Cids {
            send: r.vec8(Field::WriteCid).map_err(malformed)?.to_vec(),
            recv: r.vec8(Field::ReadCid).map_err(malformed)?.to_vec(),
        };
        let next_msg_seq = r.u16(Field::NextMessageSeq).map_err(malformed)?;
        let peer_msg_seq = r.u16(Field::NextMessageSeq).map_err(malformed)?;
        r.finish(Field::Export)
            .map_err(|_| ExportError::Format(ExportField::TrailingBytes))?;
        // claimed only once the state is known to be whole, so that a damaged export does
        // not use up its id
        if !ledger.claim(&id) {
            return Err(ExportError::AlreadyImported);
        }
        let mut up = Self::new(
            (client, cids),
            alg,
            (suite, (group != 0).then_some(group)),
            (send_secret, recv_secret),
            next_msg_seq,
            peer_msg_seq,
        );
        up.send = Protection13::new(
            alg,
            &TrafficKeys::from_secret(P, &up.send_secret),
            send_epoch,
        );
        up.recv = Protection13::new(
            alg,
            &TrafficKeys::from_secret(P, &up.recv_secret),
            recv_epoch,
        );
        up.send_epoch = send_epoch;
        up.recv_epoch = recv_epoch;
        up.next_send = write_seq;
        up.next_recv = next_recv;
        up.replay = ReplayWindow::from_parts(has_top.then_some(top), bits);
        up.long_seq_until = write_seq + LONG_SEQ_RECORDS;
        Ok(up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::MemoryLedger;
    use crate::rng::SeededRng;
    use crate::v13::handshake::Handshake13Error;
    use crate::v13::handshake::tests::{KEY, client, pair, server};
    use crate::v13::key_share::X25519;
    use crate::v13::key_update::Received13;

    const EXPORT_KEY: &[u8] = b"the gateway's state key";

    fn data(to: &mut Established13, d: &[u8]) -> Vec<u8> {
        match to.receive(d).expect("opens") {
            Received13::Data(v) => v,
            other => panic!("expected data, got {other:?}"),
        }
    }

    fn established() -> (Established13, Established13) {
        let mut cfg = client(&KEY, &[0x1305], &[X25519], false);
        cfg.cid = Some(vec![0xc1]);
        let (c, s, _, _) = pair(&cfg, &server(&[X25519], false, false)).expect("handshake");
        (c, s)
    }

    #[test]
    fn a_restarted_client_goes_on_with_no_handshake_and_an_export_imports_once() {
        let (mut c, mut s) = established();
        for i in 0..10u8 {
            assert_eq!(data(&mut s, &c.seal(&[i]).expect("seal")), [i]);
            assert_eq!(data(&mut c, &s.seal(&[i]).expect("seal")), [i]);
        }
        let rng = SeededRng::new(4);
        let blob = c
            .export_state(EXPORT_KEY, DEFAULT_RESERVE, &rng)
            .expect("export");
        // the live client goes on inside its reservation
        assert_eq!(data(&mut s, &c.seal(b"live").expect("seal")), b"live");
        let mut ledger = MemoryLedger::default();
        let mut c2 =
            Established13::import_state(&blob, EXPORT_KEY, true, &mut ledger).expect("import");
        assert_eq!(c2.cids, c.cids);
        assert_eq!(c2.group, Some(X25519));
        // the first record jumps 4096 ahead and carries the 16-bit number: one byte more
        let r = c2.seal(b"after restart").expect("seal");
        assert_eq!(r.len(), c.seal(b"after restart").expect("seal").len() + 1);
        assert_eq!(data(&mut s, &r), b"after restart");
        assert_eq!(
            data(&mut c2, &s.seal(b"welcome back").expect("seal")),
            b"welcome back"
        );
        // both ways for a while, past the 16-bit records
        for i in 0..300u16 {
            let b = i.to_be_bytes();
            assert_eq!(data(&mut s, &c2.seal(&b).expect("seal")), b);
        }
        assert_eq!(
            Established13::import_state(&blob, EXPORT_KEY, true, &mut ledger).map(|_| ()),
            Err(ExportError::AlreadyImported)
        );
    }

    #[test]
    fn the_live_session_stops_at_its_reservation_and_a_keyupdate_frees_it() {
        let (mut c, _) = established();
        let rng = SeededRng::new(5);
        c.export_state(EXPORT_KEY, 3, &rng).expect("export");
        for _ in 0..3 {
            c.seal(b"x").expect("inside the reservation");
        }
        assert_eq!(c.seal(b"x").map(|_| ()), Err(Handshake13Error::ReserveUsed));
        // a KeyUpdate in flight holds exports back; its new epoch is not held by the export
        let (mut c, mut s) = established();
        c.export_state(EXPORT_KEY, 1, &rng).expect("export");
        let u = c.update_keys(false).expect("update").expect("KeyUpdate");
        assert_eq!(
            c.export_state(EXPORT_KEY, 1, &rng).map(|_| ()),
            Err(ExportError::KeyUpdatePending)
        );
        let Received13::KeyUpdate { ack, .. } = s.receive(&u).expect("s") else {
            panic!("KeyUpdate expected");
        };
        assert_eq!(
            c.receive(&ack).expect("ack"),
            Received13::Ack { switched: true }
        );
        for _ in 0..5 {
            let r = c.seal(b"epoch 4").expect("a new epoch sends");
            assert_eq!(data(&mut s, &r), b"epoch 4");
        }
    }

    #[test]
    fn the_wrong_key_role_or_version_is_refused_by_name() {
        let (mut c, mut s) = established();
        let rng = SeededRng::new(6);
        let blob = c.export_state(EXPORT_KEY, 16, &rng).expect("export");
        let mut ledger = MemoryLedger::default();
        assert_eq!(
            Established13::import_state(&blob, b"another key", true, &mut ledger).map(|_| ()),
            Err(ExportError::Authentication)
        );
        assert_eq!(
            Established13::import_state(&blob, EXPORT_KEY, false, &mut ledger).map(|_| ()),
            Err(ExportError::WrongRole)
        );
        // a server's export as a server: fine; its CIDs are the other way round
        let sblob = s.export_state(EXPORT_KEY, 16, &rng).expect("export");
        let s2 = Established13::import_state(&sblob, EXPORT_KEY, false, &mut ledger)
            .expect("server import");
        assert_eq!(
            (s2.cids.send.as_slice(), s2.is_client),
            (&[0xc1][..], false)
        );
        // the refusals above did not use up the client export's id
        assert!(Established13::import_state(&blob, EXPORT_KEY, true, &mut ledger).is_ok());
    }
}
