//! Key schedule glue shared by both roles: transcript, premaster, extended master secret,
//! traffic keys, Finished.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Connection, FinishedVerified, Role};
use crate::crypto::aead::RecordCipher;
use crate::crypto::prf::{
    extended_master_secret, key_block, legacy_master_secret, premaster_psk, premaster_with_other,
    verify_data,
};
use crate::error::Error;
use crate::secret::{Secret, SecretVec};
use crate::wire::handshake::{encode_full, HandshakeType};

impl Connection {
    pub(super) fn transcript_add(&mut self, t: HandshakeType, seq: u16, body: &[u8]) {
        self.hs()
            .transcript
            .extend_from_slice(&encode_full(t, seq, body));
    }

    pub(super) fn transcript_hash(&self) -> [u8; 32] {
        let t = self
            .hs
            .as_ref()
            .map_or(&[][..], |h| h.transcript.as_slice());
        Sha256::digest(t).into()
    }

    /// The master secret while the handshake runs.
    fn handshake_master(&self) -> Result<&Secret<48>, Error> {
        self.hs
            .as_ref()
            .and_then(|h| h.master.as_ref())
            .ok_or(Error::UnexpectedMessage("Finished before key exchange"))
    }

    fn is_client(&self) -> bool {
        matches!(self.role, Role::Client(_))
    }

    /// Derives the master secret and traffic keys; the transcript must end with
    /// ClientKeyExchange (RFC 7627 session_hash).
    pub(super) fn derive_keys(&mut self, psk: &SecretVec) -> Result<(), Error> {
        let suite = self
            .suite
            .ok_or(Error::UnexpectedMessage("key exchange before ServerHello"))?;
        let pms = if suite.is_ecdhe() {
            let h = self.hs();
            let key = h.ecdhe.as_ref().ok_or(Error::BadKeyShare)?;
            let point = h.peer_point.as_deref().ok_or(Error::BadKeyShare)?;
            let z = key.agree(point).map_err(|_| Error::BadKeyShare)?;
            premaster_with_other(z.expose(), psk.expose())
        } else {
            premaster_psk(psk.expose())
        };
        let master = if self.stats.without_extended_master_secret {
            legacy_master_secret(&pms, &self.client_random, &self.server_random)
        } else {
            extended_master_secret(&pms, &self.transcript_hash())
        };
        self.install_keys(master)
    }

    /// Derives the traffic keys from `master` and this handshake's randoms (full handshake,
    /// or an abbreviated one with the resumed session's master secret); installs our write
    /// keys and holds the read keys until the peer's ChangeCipherSpec.
    pub(super) fn install_keys(&mut self, master: Secret<48>) -> Result<(), Error> {
        let suite = self
            .suite
            .ok_or(Error::UnexpectedMessage("keys before ServerHello"))?;
        let kb = key_block(&master, &self.client_random, &self.server_random);
        let alg = suite.aead();
        let client = RecordCipher::new(alg, &kb.client_key, &kb.client_iv);
        let server = RecordCipher::new(alg, &kb.server_key, &kb.server_iv);
        let (write, read) = if self.is_client() {
            (client, server)
        } else {
            (server, client)
        };
        self.rl.install_write(write);
        self.rl.prepare_read(read);
        self.hs().master = Some(master);
        Ok(())
    }

    /// Our Finished.verify_data over the transcript so far.
    pub(super) fn our_verify_data(&self) -> Result<[u8; 12], Error> {
        let ms = self.handshake_master()?;
        Ok(verify_data(ms, self.is_client(), &self.transcript_hash()))
    }

    /// Checks the peer's Finished (constant time); the only way to get a [`FinishedVerified`].
    pub(super) fn verify_finished(&self, got: &[u8; 12]) -> Result<FinishedVerified, Error> {
        let ms = self.handshake_master()?;
        let want = verify_data(ms, !self.is_client(), &self.transcript_hash());
        if bool::from(want.ct_eq(got)) {
            Ok(FinishedVerified(()))
        } else {
            Err(self.finished_failed())
        }
    }

    /// The error for a peer Finished that did not verify (its record did not authenticate,
    /// or its verify_data did not match): a server that carried on with a random key for an
    /// unknown identity (RFC 4279 §2) says so; otherwise the key was wrong.
    pub(super) fn finished_failed(&self) -> Error {
        if self.hs.as_ref().is_some_and(|h| h.psk_unknown) {
            Error::UnknownPskIdentity
        } else {
            Error::BadFinished
        }
    }
}
