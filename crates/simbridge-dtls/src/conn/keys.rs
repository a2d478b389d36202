//! Key schedule glue shared by both roles: premaster, extended master secret, traffic keys,
//! Finished.

use subtle::ConstantTimeEq;

use super::machine::{Finish, Flow, Keyed};
use super::{Connection, FinishedVerified, Role};
use crate::crypto::aead::RecordCipher;
use crate::crypto::ecdhe::EphemeralKey;
use crate::crypto::prf::{
    extended_master_secret, key_block, legacy_master_secret, premaster_psk, premaster_with_other,
    verify_data,
};
use crate::error::Error;
use crate::secret::{Secret, SecretVec};
use crate::suite::CipherSuite;

impl Connection {
    pub(super) fn is_client(&self) -> bool {
        matches!(self.role, Role::Client(_))
    }

    /// The master secret of a full handshake from the PSK and, for ECDHE_PSK, our ephemeral
    /// key and the peer's point; `session_hash` is the transcript hash through
    /// ClientKeyExchange (RFC 7627).
    pub(super) fn master_secret(
        &self,
        psk: &SecretVec,
        ecdhe: Option<(&EphemeralKey, &[u8])>,
        session_hash: &[u8; 32],
    ) -> Result<Secret<48>, Error> {
        let pms = match ecdhe {
            Some((key, point)) => {
                let z = key.agree(point).map_err(|_| Error::BadKeyShare)?;
                premaster_with_other(z.expose(), psk.expose())
            }
            None => premaster_psk(psk.expose()),
        };
        Ok(if self.stats.without_extended_master_secret {
            legacy_master_secret(&pms, &self.client_random, &self.server_random)
        } else {
            extended_master_secret(&pms, session_hash)
        })
    }

    /// Derives the traffic keys from `master` and this handshake's randoms (full handshake,
    /// or an abbreviated one with the resumed session's master secret); installs our write
    /// keys and holds the read keys until the peer's ChangeCipherSpec.
    pub(super) fn install_keys(&mut self, suite: CipherSuite, master: &Secret<48>) {
        let randoms = (&self.client_random, &self.server_random);
        let (write, read) = traffic_ciphers(suite, master, randoms, self.is_client());
        self.rl.install_write(write);
        self.rl.prepare_read(read);
    }

    /// Checks the peer's Finished (constant time); the only way to get a [`FinishedVerified`].
    pub(super) fn verify_finished(
        &self,
        keyed: &Keyed,
        flow: &Flow,
        got: &[u8; 12],
    ) -> Result<FinishedVerified, Error> {
        let want = verify_data(&keyed.master, !self.is_client(), &flow.transcript.hash());
        if bool::from(want.ct_eq(got)) {
            Ok(FinishedVerified(()))
        } else {
            Err(keyed.finished_failed())
        }
    }
}

/// The (write, read) record ciphers of our role from the master secret and the (client,
/// server) randoms (RFC 5246 §6.3 key block).
pub(super) fn traffic_ciphers(
    suite: CipherSuite,
    master: &Secret<48>,
    (client_random, server_random): (&[u8; 32], &[u8; 32]),
    is_client: bool,
) -> (RecordCipher, RecordCipher) {
    let kb = key_block(master, client_random, server_random);
    let alg = suite.aead();
    let client = RecordCipher::new(alg, &kb.client_key, &kb.client_iv);
    let server = RecordCipher::new(alg, &kb.server_key, &kb.server_iv);
    if is_client {
        (client, server)
    } else {
        (server, client)
    }
}

impl Keyed {
    /// The error for a peer Finished that did not verify (its record did not authenticate,
    /// or its verify_data did not match): a server that carried on with a random key for an
    /// unknown identity (RFC 4279 §2) says so; otherwise the key was wrong.
    pub(super) fn finished_failed(&self) -> Error {
        match self.finish {
            Finish::ServerFull {
                psk_unknown: true, ..
            } => Error::UnknownPskIdentity,
            _ => Error::BadFinished,
        }
    }
}
