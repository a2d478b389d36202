//! The bootstrapping-context cache: one JSON file per IMPI in `<state>/gba/`, written atomically
//! with mode 0600 (it holds Ks for GBA_ME). A context is reused until its expiry minus a margin.

use super::GbaError;
use super::context::{BootstrapContext, StoredContext};
use crate::fsutil::write_atomic_private;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// When a cached context is reused.
#[derive(Debug, Clone, Copy)]
pub struct ReusePolicy {
    /// Re-bootstrap this long before expiry (default 10 minutes).
    pub margin: Duration,
    /// Ignore the cache and bootstrap again.
    pub force: bool,
}

impl Default for ReusePolicy {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(600),
            force: false,
        }
    }
}

/// The default state directory: `$XDG_STATE_HOME/simbridge`, else `~/.local/state/simbridge`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("simbridge"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/state/simbridge"))
}

/// Bootstrapping contexts stored under a state directory.
#[derive(Debug, Clone)]
pub struct ContextCache {
    dir: PathBuf,
}

fn file_name(impi: &str) -> String {
    let safe: String = impi
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("bootstrap-{safe}.json")
}

impl ContextCache {
    /// A cache in `<state_dir>/gba`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("gba"),
        }
    }

    /// The file that holds the context of `impi`.
    pub fn path_for(&self, impi: &str) -> PathBuf {
        self.dir.join(file_name(impi))
    }

    fn err(path: &Path, source: impl Into<CacheError>) -> GbaError {
        GbaError::Cache {
            path: path.to_path_buf(),
            source: source.into(),
        }
    }

    /// The stored context of `impi`, if any. An unreadable or corrupt file is an error (it is
    /// not silently replaced: the user should see it).
    pub fn load(&self, impi: &str) -> Result<Option<BootstrapContext>, GbaError> {
        let path = self.path_for(impi);
        let mut text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::err(&path, e)),
        };
        let parsed = serde_json::from_str::<StoredContext>(&text);
        // The file holds Ks (GBA_ME): wipe our copy of it.
        zeroize::Zeroize::zeroize(&mut text);
        let stored = parsed.map_err(|e| Self::err(&path, CacheError::Json(e)))?;
        let ctx = BootstrapContext::from_stored(stored).map_err(|e| Self::err(&path, e))?;
        if ctx.impi != impi {
            return Err(Self::err(&path, CacheError::OtherImpi));
        }
        Ok(Some(ctx))
    }

    /// A stored context that may be reused at `now` under `policy` (and came from `bsf_url`
    /// when one is given).
    pub fn reusable(
        &self,
        impi: &str,
        bsf_url: Option<&str>,
        now: SystemTime,
        policy: ReusePolicy,
    ) -> Result<Option<BootstrapContext>, GbaError> {
        if policy.force {
            return Ok(None);
        }
        Ok(self
            .load(impi)?
            .filter(|c| c.usable_at(now, policy.margin) && bsf_url.is_none_or(|u| u == c.bsf_url)))
    }

    /// Stores a context (atomic write, mode 0600; the directory is created 0700).
    pub fn store(&self, ctx: &BootstrapContext) -> Result<(), GbaError> {
        create_private_dir(&self.dir).map_err(|e| Self::err(&self.dir, e))?;
        let path = self.path_for(&ctx.impi);
        let mut json = serde_json::to_vec_pretty(&ctx.to_stored())
            .map_err(|e| Self::err(&path, CacheError::Json(e)))?;
        let r = write_atomic_private(&path, &json).map_err(|e| Self::err(&path, e));
        zeroize::Zeroize::zeroize(&mut json);
        r
    }

    /// Removes the context of `impi` (no error when there is none).
    pub fn remove(&self, impi: &str) -> Result<(), GbaError> {
        let path = self.path_for(impi);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::err(&path, e)),
            _ => Ok(()),
        }
    }
}

/// Why a cache file could not be used (the source of [`GbaError::Cache`]).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not the JSON of a context.
    #[error("corrupt")]
    Json(#[source] serde_json::Error),
    /// A field of the stored context is not usable.
    #[error("corrupt: {0}")]
    Field(&'static str),
    /// A date-time of the stored context could not be read.
    #[error("corrupt: {field}")]
    Time {
        /// Which field.
        field: &'static str,
        /// The parser's error.
        #[source]
        source: Box<GbaError>,
    },
    /// A version of the file format this build does not know.
    #[error("unsupported version {0}")]
    Version(u32),
    /// The file is another subscriber's.
    #[error("belongs to another IMPI")]
    OtherImpi,
}

/// Creates a directory (and parents) with mode 0700 for the last component.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    crate::fsutil::create_private_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gba::GbaMode;
    use crate::secret::Secret;

    fn ctx(now: SystemTime) -> BootstrapContext {
        BootstrapContext {
            btid: "AAAA@bsf".into(),
            rand: [3; 16],
            impi: "001010123456789@ims.mnc001.mcc001.3gppnetwork.org".into(),
            expires: crate::gba::time::from_unix_secs(crate::gba::time::unix_secs(now) + 86_400),
            created: crate::gba::time::from_unix_secs(crate::gba::time::unix_secs(now)),
            mode: GbaMode::Me,
            bsf_url: "http://bsf/".into(),
            ks: Some(Secret::new([9; 32])),
        }
    }

    #[test]
    fn round_trip_and_reuse_rules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ContextCache::new(dir.path());
        let now = SystemTime::now();
        let c = ctx(now);
        assert!(cache.load(&c.impi).expect("empty").is_none());
        cache.store(&c).expect("store");
        let back = cache.load(&c.impi).expect("load").expect("stored");
        assert_eq!(
            (back.btid.as_str(), back.rand, back.expires),
            (c.btid.as_str(), c.rand, c.expires)
        );
        assert_eq!(back.ks.as_ref().map(|k| *k.expose()), Some([9; 32]));
        let p = ReusePolicy::default();
        assert!(
            cache
                .reusable(&c.impi, Some("http://bsf/"), now, p)
                .expect("ok")
                .is_some()
        );
        assert!(
            cache.reusable(&c.impi, None, now, p).expect("ok").is_some(),
            "any BSF"
        );
        assert!(
            cache
                .reusable(&c.impi, Some("http://other/"), now, p)
                .expect("ok")
                .is_none(),
            "other BSF"
        );
        assert!(
            cache
                .reusable(&c.impi, None, c.expires - Duration::from_secs(599), p)
                .expect("ok")
                .is_none(),
            "margin"
        );
        assert!(
            cache
                .reusable(&c.impi, None, c.expires - Duration::from_secs(601), p)
                .expect("ok")
                .is_some()
        );
        assert!(
            cache
                .reusable(&c.impi, None, now, ReusePolicy { force: true, ..p })
                .expect("ok")
                .is_none()
        );
        cache.remove(&c.impi).expect("remove");
        assert!(cache.load(&c.impi).expect("gone").is_none());
    }

    #[test]
    fn corrupt_or_foreign_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ContextCache::new(dir.path());
        let c = ctx(SystemTime::now());
        cache.store(&c).expect("store");
        let path = cache.path_for(&c.impi);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace(&c.impi, "someone@else")).expect("write");
        assert!(cache.load(&c.impi).is_err(), "another IMPI's context");
        std::fs::write(&path, "{not json").expect("write");
        let e = cache.load(&c.impi).expect_err("corrupt");
        assert!(
            matches!(
                &e,
                GbaError::Cache {
                    source: CacheError::Json(_),
                    ..
                }
            ),
            "{e:?}"
        );
        let said = crate::error_chain::chain(&e).to_string();
        assert!(
            said.contains(&path.display().to_string()) && said.contains(": corrupt: "),
            "{said}"
        );
        std::fs::write(&path, text.replace("\"GBA_ME\"", "\"GBA_X\"")).expect("write");
        assert!(cache.load(&c.impi).is_err());
    }

    #[test]
    fn file_names_are_sanitised() {
        let cache = ContextCache::new(Path::new("/s"));
        assert_eq!(
            cache.path_for("../../etc/passwd"),
            Path::new("/s/gba/bootstrap-.._.._etc_passwd.json")
        );
    }
}
