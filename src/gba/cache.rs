//! The bootstrapping-context cache: one JSON file per IMPI in `<state>/gba/`, written atomically
//! with mode 0600 (it holds Ks for GBA_ME). A context is reused until its expiry minus a margin.

use super::context::{BootstrapContext, StoredContext};
use super::GbaError;
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

    fn err(path: &Path, message: impl Into<String>) -> GbaError {
        GbaError::Cache {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// The stored context of `impi`, if any. An unreadable or corrupt file is an error (it is
    /// not silently replaced: the user should see it).
    pub fn load(&self, impi: &str) -> Result<Option<BootstrapContext>, GbaError> {
        let path = self.path_for(impi);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::err(&path, e.to_string())),
        };
        let stored: StoredContext =
            serde_json::from_str(&text).map_err(|e| Self::err(&path, format!("corrupt: {e}")))?;
        let ctx = BootstrapContext::from_stored(stored)
            .map_err(|e| Self::err(&path, format!("corrupt: {e}")))?;
        if ctx.impi != impi {
            return Err(Self::err(&path, "belongs to another IMPI"));
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
        create_private_dir(&self.dir).map_err(|e| Self::err(&self.dir, e.to_string()))?;
        let path = self.path_for(&ctx.impi);
        let mut json = serde_json::to_vec_pretty(&ctx.to_stored())
            .map_err(|e| Self::err(&path, e.to_string()))?;
        let r = write_atomic_private(&path, &json).map_err(|e| Self::err(&path, e.to_string()));
        zeroize::Zeroize::zeroize(&mut json);
        r
    }

    /// Removes the context of `impi` (no error when there is none).
    pub fn remove(&self, impi: &str) -> Result<(), GbaError> {
        let path = self.path_for(impi);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Self::err(&path, e.to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// Creates a directory (and parents) with mode 0700 for the last component.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}
