//! HSS/AuC: authentication vectors from a directory of sim-profiles with Milenage, SEQ per
//! subscriber persisted in the state directory, our own IND slot, and resynchronisation from AUTS
//! (TS 33.102 §6.3.5).
//!
//! SEQ is reserved in batches of [`SEQ_BATCH`]: the state file holds the highest SEQ that may have
//! left, written before the first vector of a batch leaves; the others cost no disk write. A
//! restart continues after the reserved batch, so a SEQ is never issued twice (the unused rest of
//! a batch is skipped, far inside the card's Δ).
//!
//! Ub vectors carry the AMF separation bit (bit 0) cleared: TS 33.102 Annex H reserves it for
//! E-UTRAN vectors, and GBA is not E-UTRAN.

use super::BsfError;
use crate::softsim::Profile;
use serde::{Deserialize, Serialize};
use simbridge::aka::AuthVector;
use simbridge::fsutil::write_atomic_private;
use simbridge::gba::ids::impi_from_imsi;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The USIM's Δ (TS 33.102 Annex C, recommended 2^28 SEQ steps): a SEQ further ahead of the card's
/// highest accepted one is rejected, so resync must bring SEQ_HE back.
const DELTA: u64 = 1 << 28;
/// SQN is 48 bits.
const SQN_MASK: u64 = 0xFFFF_FFFF_FFFF;
/// SEQ values reserved per state-file write.
pub const SEQ_BATCH: u64 = 64;

struct Subscriber {
    profile: Profile,
    /// SEQ of the last vector issued (SQN = SEQ ‖ IND).
    seq_he: u64,
    /// Highest SEQ reserved on disk: vectors up to it need no write.
    seq_reserved: u64,
    state_path: PathBuf,
}

/// On disk: the highest SEQ that may have been issued (the end of the reserved batch).
#[derive(Serialize, Deserialize)]
struct SeqState {
    seq_he: u64,
}

/// The subscriber database and vector generator.
pub struct Hss {
    subs: Vec<Subscriber>,
    by_impi: HashMap<String, usize>,
    ind: u64,
}

impl std::fmt::Debug for Hss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hss")
            .field("subscribers", &self.subs.len())
            .field("ind", &self.ind)
            .finish()
    }
}

fn state_err(path: &Path, e: impl ToString) -> BsfError {
    BsfError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl Hss {
    /// Loads every `*.toml` profile of `profiles_dir`. SEQ state lives in `<state_dir>/hss/`.
    /// `ind` is this AuC's IND slot (taken modulo each card's 2^ind_bits).
    pub fn load(profiles_dir: &Path, state_dir: &Path, ind: u8) -> Result<Self, BsfError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(profiles_dir)
            .map_err(|e| state_err(profiles_dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let hss_dir = state_dir.join("hss");
        simbridge::fsutil::create_private_dir(&hss_dir).map_err(|e| state_err(&hss_dir, e))?;
        let mut hss = Self {
            subs: Vec::new(),
            by_impi: HashMap::new(),
            ind: u64::from(ind),
        };
        for f in files {
            let profile = Profile::load(&f)?;
            let mut impis = vec![impi_from_imsi(
                &profile.imsi,
                usize::from(profile.mnc_length),
            )?];
            impis.extend(profile.impi.clone());
            let state_path = hss_dir.join(format!("{}.json", profile.imsi));
            let seq_he = match std::fs::read_to_string(&state_path) {
                Ok(t) => {
                    serde_json::from_str::<SeqState>(&t)
                        .map_err(|e| state_err(&state_path, e))?
                        .seq_he
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    profile.sqn >> profile.ind_bits
                }
                Err(e) => return Err(state_err(&state_path, e)),
            };
            let idx = hss.subs.len();
            for impi in impis {
                if hss.by_impi.insert(impi.clone(), idx).is_some() {
                    return Err(BsfError::Profiles(format!(
                        "two profiles claim IMPI {impi}"
                    )));
                }
            }
            hss.subs.push(Subscriber {
                profile,
                seq_he,
                seq_reserved: seq_he,
                state_path,
            });
        }
        if hss.subs.is_empty() {
            return Err(BsfError::Profiles(format!(
                "no *.toml profile in {}",
                profiles_dir.display()
            )));
        }
        Ok(hss)
    }

    /// Whether `impi` is a subscriber.
    pub fn knows(&self, impi: &str) -> bool {
        self.by_impi.contains_key(impi)
    }

    /// The subscriber's GBA security setting: whether the BSF runs GBA_U for `impi` (TS 33.220
    /// §5: decided from the subscription, i.e. the UICC capabilities in the HSS); `false` for an
    /// unknown IMPI.
    pub fn gba_u(&self, impi: &str) -> bool {
        self.profile(impi).is_some_and(|p| p.subscription_gba_u)
    }

    /// Subscribers whose GBA security setting is GBA_U, out of how many.
    pub fn gba_u_share(&self) -> (usize, usize) {
        let u = self
            .subs
            .iter()
            .filter(|s| s.profile.subscription_gba_u)
            .count();
        (u, self.subs.len())
    }

    /// Number of subscribers (profiles).
    pub fn subscriber_count(&self) -> usize {
        self.subs.len()
    }

    /// The AMF of Ub vectors: the first profile's with the separation bit cleared (decoy vectors
    /// use it too, so they look like real ones).
    pub fn ub_amf(&self) -> [u8; 2] {
        self.subs.first().map_or([0, 0], |s| ub_amf(&s.profile.amf))
    }

    /// The profile of a subscriber (for the MCC/MNC of the realm, say).
    pub fn profile(&self, impi: &str) -> Option<&Profile> {
        self.by_impi
            .get(impi)
            .and_then(|&i| self.subs.get(i))
            .map(|s| &s.profile)
    }

    /// All profiles, in file-name order.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.subs.iter().map(|s| &s.profile)
    }

    fn sub_mut(&mut self, impi: &str) -> Result<&mut Subscriber, BsfError> {
        let i = *self.by_impi.get(impi).ok_or(BsfError::UnknownImpi)?;
        self.subs.get_mut(i).ok_or(BsfError::UnknownImpi)
    }

    fn persist(sub: &Subscriber, seq: u64) -> Result<(), BsfError> {
        let json = serde_json::to_vec(&SeqState { seq_he: seq })
            .map_err(|e| state_err(&sub.state_path, e))?;
        write_atomic_private(&sub.state_path, &json).map_err(|e| state_err(&sub.state_path, e))
    }

    /// The next vector for `impi` with this RAND: SEQ_HE + 1 in our IND slot. When it leaves the
    /// reserved batch, the next batch is written first (so a crash never reissues a SQN).
    pub fn vector(&mut self, impi: &str, rand: &[u8; 16]) -> Result<AuthVector, BsfError> {
        let ind = self.ind;
        let sub = self.sub_mut(impi)?;
        let bits = sub.profile.ind_bits;
        // SEQ has 48 - IND bits; wrap there rather than overflow on a corrupt state file.
        let seq_mask = SQN_MASK >> bits;
        let next = sub.seq_he.wrapping_add(1) & seq_mask;
        if next > sub.seq_reserved || next <= sub.seq_he {
            let reserve = next.saturating_add(SEQ_BATCH - 1).min(seq_mask);
            Self::persist(sub, reserve)?;
            sub.seq_reserved = reserve;
        }
        sub.seq_he = next;
        let sqn = (sub.seq_he << bits) | (ind & ((1u64 << bits) - 1));
        Ok(sub
            .profile
            .keys
            .generate_vector(rand, sqn, &ub_amf(&sub.profile.amf)))
    }

    /// Resynchronisation (TS 33.102 §6.3.5): recover SQN_MS from AUTS with the RAND it answers,
    /// check MAC-S, and when our next SEQ would not be accepted by the card, continue from SEQ_MS.
    pub fn resync(&mut self, impi: &str, rand: &[u8; 16], auts: &[u8; 14]) -> Result<(), BsfError> {
        let sub = self.sub_mut(impi)?;
        let sqn_ms = sub
            .profile
            .keys
            .verify_auts(rand, auts)
            .ok_or(BsfError::BadAuts)?;
        let seq_ms = sqn_ms >> sub.profile.ind_bits;
        let next = sub.seq_he.wrapping_add(1);
        let acceptable = next > seq_ms && next - seq_ms <= DELTA;
        log::info!(
            "resync for a subscriber: SEQ_MS {seq_ms}, SEQ_HE {}, acceptable {acceptable}",
            sub.seq_he
        );
        if !acceptable {
            Self::persist(sub, seq_ms)?;
            sub.seq_he = seq_ms;
            sub.seq_reserved = seq_ms;
        }
        Ok(())
    }
}

/// AMF with the separation bit (bit 0, the most significant) cleared: not an E-UTRAN vector.
fn ub_amf(amf: &[u8; 2]) -> [u8; 2] {
    [amf[0] & 0x7F, amf[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMPI: &str = "001010123456789@ims.mnc001.mcc001.3gppnetwork.org";

    fn profile(imsi: &str, impi: Option<&str>) -> String {
        let mut t = format!(
            "iccid = \"8988211000000000017\"\nimsi = \"{imsi}\"\nmnc_length = 2\nk = \"000102030405060708090a0b0c0d0e0f\"\nopc = \"62e75b8d6fa5bf46ec87a9276f9df54d\"\namf = \"8000\"\nsqn = \"000000000040\"\n"
        );
        if let Some(i) = impi {
            t.push_str(&format!("impi = \"{i}\"\n"));
        }
        t
    }

    fn setup(
        files: &[(&str, String)],
    ) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (p, s) = (dir.path().join("p"), dir.path().join("s"));
        std::fs::create_dir_all(&p).expect("mkdir");
        for (name, text) in files {
            std::fs::write(p.join(name), text).expect("write");
        }
        (dir, p, s)
    }

    #[test]
    fn vectors_advance_persist_and_resync() {
        let (_d, p, s) = setup(&[(
            "a.toml",
            profile("001010123456789", Some("isim@ims.example")),
        )]);
        let mut hss = Hss::load(&p, &s, 3).expect("load");
        assert!(hss.knows(IMPI) && hss.knows("isim@ims.example") && !hss.knows("x@y"));
        let rand = [5u8; 16];
        let keys = hss.profile(IMPI).expect("profile").keys.clone();
        // Profile SQN 0x40 = SEQ 2; the first vector is SEQ 3 in IND slot 3, with the profile's
        // AMF 8000 minus the separation bit (TS 33.102 Annex H: not an E-UTRAN vector).
        let v = hss.vector(IMPI, &rand).expect("vector");
        assert_eq!(
            v.autn,
            keys.generate_vector(&rand, (3 << 5) | 3, &[0x00, 0]).autn
        );
        assert_eq!(v.autn[6] & 0x80, 0, "AMF separation bit 0");
        // The next vectors of the batch write nothing; the state file holds the batch's end.
        let state_file = s.join("hss").join("001010123456789.json");
        let before = std::fs::metadata(&state_file)
            .expect("state")
            .modified()
            .expect("mtime");
        let text = std::fs::read_to_string(&state_file).expect("state");
        for seq in 4..=10u64 {
            let v = hss.vector(IMPI, &rand).expect("vector");
            assert_eq!(
                v.autn,
                keys.generate_vector(&rand, (seq << 5) | 3, &[0x00, 0]).autn
            );
        }
        assert_eq!(std::fs::read_to_string(&state_file).expect("state"), text);
        assert_eq!(
            std::fs::metadata(&state_file)
                .expect("state")
                .modified()
                .expect("mtime"),
            before
        );
        assert!(text.contains(&format!("{}", 3 + SEQ_BATCH - 1)), "{text}");
        // Persisted: a reloaded HSS continues after the reserved batch, never reissuing a SEQ.
        let mut hss = Hss::load(&p, &s, 3).expect("reload");
        let v = hss.vector(IMPI, &rand).expect("vector");
        assert_eq!(
            v.autn,
            keys.generate_vector(&rand, ((3 + SEQ_BATCH) << 5) | 3, &[0x00, 0])
                .autn
        );
        // The card is at SEQ 1000: AUTS moves SEQ_HE there, the next vector is SEQ 1001.
        let auts = keys.build_auts(&rand, 1000 << 5);
        hss.resync(IMPI, &rand, &auts).expect("resync");
        let v = hss.vector(IMPI, &rand).expect("vector");
        assert_eq!(
            v.autn,
            keys.generate_vector(&rand, (1001 << 5) | 3, &[0x00, 0])
                .autn
        );
        // A card behind us (SEQ 10 < 1001) needs no change.
        hss.resync(IMPI, &rand, &keys.build_auts(&rand, 10 << 5))
            .expect("resync");
        let v = hss.vector(IMPI, &rand).expect("vector");
        assert_eq!(
            v.autn,
            keys.generate_vector(&rand, (1002 << 5) | 3, &[0x00, 0])
                .autn
        );
        assert!(matches!(
            hss.resync(IMPI, &rand, &[0; 14]),
            Err(BsfError::BadAuts)
        ));
        assert!(matches!(
            hss.vector("x@y", &rand),
            Err(BsfError::UnknownImpi)
        ));
    }

    #[test]
    fn bad_profile_sets_are_refused() {
        let (_d, p, s) = setup(&[]);
        assert!(matches!(Hss::load(&p, &s, 0), Err(BsfError::Profiles(_))));
        let (_d, p, s) = setup(&[
            ("a.toml", profile("001010123456789", None)),
            ("b.toml", profile("001010123456789", None)),
        ]);
        assert!(
            matches!(Hss::load(&p, &s, 0), Err(BsfError::Profiles(_))),
            "two profiles, one IMPI"
        );
        let (_d, p, s) = setup(&[("a.toml", "k = 1".into())]);
        assert!(matches!(Hss::load(&p, &s, 0), Err(BsfError::Profile(_))));
    }
}
