//! Bootstrapping contexts held by the BSF: B-TID → (IMPI, RAND, Ks, lifetime), persisted in the
//! state directory (`bsf-contexts.json`, mode 0600) so a restarted BSF still answers NAFs.

use super::BsfError;
use serde::{Deserialize, Serialize};
use simbridge::fsutil::write_atomic_private;
use simbridge::gba::time;
use simbridge::secret::Secret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One stored context.
#[derive(Debug, Clone)]
pub struct StoredBootstrap {
    /// B-TID.
    pub btid: String,
    /// IMPI.
    pub impi: String,
    /// RAND of the AKA run.
    pub rand: [u8; 16],
    /// Ks = CK ‖ IK.
    pub ks: Secret<32>,
    /// When it was created.
    pub created: SystemTime,
    /// When it expires.
    pub expires: SystemTime,
    /// Whether the UE bootstrapped in GBA_U (it said `3gpp-gba-uicc`).
    pub gba_u: bool,
}

/// Result of a lookup.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// Valid context.
    Found(&'a StoredBootstrap),
    /// Known but past its lifetime.
    Expired,
    /// Never seen (or purged).
    Unknown,
}

#[derive(Serialize, Deserialize)]
struct Row {
    btid: String,
    impi: String,
    rand: String,
    ks: String,
    created: u64,
    expires: u64,
    gba_u: bool,
}

impl Drop for Row {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.ks);
    }
}

/// The context table.
#[derive(Debug)]
pub struct ContextStore {
    map: HashMap<String, StoredBootstrap>,
    path: Option<PathBuf>,
    max: usize,
}

impl ContextStore {
    /// An in-memory store (no persistence) holding at most `max` contexts.
    pub fn in_memory(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            path: None,
            max: max.max(1),
        }
    }

    /// A store persisted in `<state_dir>/bsf-contexts.json`, loaded now (expired rows dropped).
    pub fn open(state_dir: &Path, max: usize, now: SystemTime) -> Result<Self, BsfError> {
        let path = state_dir.join("bsf-contexts.json");
        let mut s = Self {
            map: HashMap::new(),
            path: Some(path.clone()),
            max: max.max(1),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(s),
            Err(e) => {
                return Err(BsfError::State {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let mut text = text;
        let parsed = serde_json::from_str::<Vec<Row>>(&text);
        zeroize::Zeroize::zeroize(&mut text);
        let rows: Vec<Row> = parsed.map_err(|e| BsfError::State {
            path: path.clone(),
            message: format!("corrupt: {e}"),
        })?;
        for r in &rows {
            let (mut rand, mut ks) = ([0u8; 16], [0u8; 32]);
            if hex::decode_to_slice(&r.rand, &mut rand).is_err()
                || hex::decode_to_slice(&r.ks, &mut ks).is_err()
            {
                return Err(BsfError::State {
                    path,
                    message: "corrupt row".into(),
                });
            }
            let c = StoredBootstrap {
                btid: r.btid.clone(),
                impi: r.impi.clone(),
                rand,
                ks: Secret::new(ks),
                created: time::from_unix_secs(r.created),
                expires: time::from_unix_secs(r.expires),
                gba_u: r.gba_u,
            };
            zeroize::Zeroize::zeroize(&mut ks);
            if c.expires > now {
                s.map.insert(c.btid.clone(), c);
            }
        }
        Ok(s)
    }

    /// Number of contexts held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn persist(&self) -> Result<(), BsfError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let rows: Vec<Row> = self
            .map
            .values()
            .map(|c| Row {
                btid: c.btid.clone(),
                impi: c.impi.clone(),
                rand: hex::encode(c.rand),
                ks: hex::encode(c.ks.expose()),
                created: time::unix_secs(c.created),
                expires: time::unix_secs(c.expires),
                gba_u: c.gba_u,
            })
            .collect();
        let mut json = serde_json::to_vec(&rows).map_err(|e| BsfError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let r = write_atomic_private(path, &json).map_err(|e| BsfError::State {
            path: path.clone(),
            message: e.to_string(),
        });
        zeroize::Zeroize::zeroize(&mut json);
        r
    }

    /// Adds a context (dropping expired ones, the IMPI's older contexts, and the oldest when
    /// full) and persists the table. A new bootstrap supersedes the older ones (TS 33.220:
    /// the new Ks replaces the old one), so their B-TIDs are unknown from now on.
    pub fn insert(&mut self, ctx: StoredBootstrap, now: SystemTime) -> Result<(), BsfError> {
        self.map
            .retain(|_, c| c.expires > now && (c.impi != ctx.impi || c.btid == ctx.btid));
        while self.map.len() >= self.max {
            let oldest = self
                .map
                .values()
                .min_by_key(|c| c.created)
                .map(|c| c.btid.clone());
            match oldest {
                Some(b) => self.map.remove(&b),
                None => break,
            };
        }
        self.map.insert(ctx.btid.clone(), ctx);
        self.persist()
    }

    /// Looks a B-TID up at `now`.
    pub fn lookup(&self, btid: &str, now: SystemTime) -> Lookup<'_> {
        match self.map.get(btid) {
            Some(c) if c.expires > now => Lookup::Found(c),
            Some(_) => Lookup::Expired,
            None => Lookup::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ctx(btid: &str, now: SystemTime, life: u64) -> StoredBootstrap {
        StoredBootstrap {
            btid: btid.into(),
            impi: format!("{btid}@x"),
            rand: [1; 16],
            ks: Secret::new([2; 32]),
            created: now,
            expires: now + Duration::from_secs(life),
            gba_u: false,
        }
    }

    #[test]
    fn a_new_bootstrap_supersedes_the_impis_older_contexts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::from_unix_secs(1_800_000_000);
        let mut s = ContextStore::open(dir.path(), 10, now).expect("open");
        s.insert(ctx("old", now, 100), now).expect("insert");
        s.insert(ctx("other", now, 100), now).expect("insert");
        let mut new = ctx("new", now, 100);
        new.impi = "old@x".into();
        s.insert(new, now).expect("insert");
        assert!(matches!(s.lookup("old", now), Lookup::Unknown));
        assert!(matches!(s.lookup("new", now), Lookup::Found(_)));
        assert!(
            matches!(s.lookup("other", now), Lookup::Found(_)),
            "other IMPIs stay"
        );
        // Also after a restart: the superseded row was not persisted.
        let s2 = ContextStore::open(dir.path(), 10, now).expect("reopen");
        assert!(matches!(s2.lookup("old", now), Lookup::Unknown));
        assert_eq!(s2.len(), 2);
    }

    #[test]
    fn lookup_expiry_eviction_and_persistence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = time::from_unix_secs(1_800_000_000);
        let mut s = ContextStore::open(dir.path(), 2, now).expect("open");
        s.insert(ctx("a", now, 10), now).expect("insert");
        s.insert(ctx("b", now + Duration::from_secs(1), 100), now)
            .expect("insert");
        assert!(matches!(s.lookup("a", now), Lookup::Found(_)));
        assert!(matches!(
            s.lookup("a", now + Duration::from_secs(10)),
            Lookup::Expired
        ));
        assert!(matches!(s.lookup("zz", now), Lookup::Unknown));
        // Full: the oldest goes.
        s.insert(ctx("c", now + Duration::from_secs(2), 100), now)
            .expect("insert");
        assert!(matches!(s.lookup("a", now), Lookup::Unknown));
        assert_eq!(s.len(), 2);
        // Reopened later: expired rows are dropped, live ones kept with their keys.
        let later = now + Duration::from_secs(50);
        let s2 = ContextStore::open(dir.path(), 10, later).expect("reopen");
        match s2.lookup("b", later) {
            Lookup::Found(c) => assert_eq!(c.ks.expose(), &[2; 32]),
            other => panic!("{other:?}"),
        }
        std::fs::write(dir.path().join("bsf-contexts.json"), "[{]").expect("write");
        assert!(ContextStore::open(dir.path(), 10, later).is_err());
    }
}
